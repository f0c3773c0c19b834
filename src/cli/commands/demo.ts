// `tee-offload demo`: the main job on an embedded default — trains ResNet-18 natively for a few steps
// on seeded synthetic images, printing the loss, the speed and the backend, then evaluates.
import { SyntheticDataset } from '../../data/synthetic.js';
import { kernels } from '../../kernels/index.js';
import { createModel } from '../../models/index.js';
import { lineReporter } from '../../train/progress.js';
import { runTraining } from '../../train/trainer.js';
import type { Command } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'train ResNet-18 for a few steps on generated images (native mode)',
  help: `usage: tee-offload demo [--steps S] [--batch-size B] [--input-size S] [--threads T]

Trains torchvision's ResNet-18 (10 classes) with SGD on seeded synthetic images whose class is
visible in the pixels, printing loss and images/s for each step, then the eval-mode accuracy on the
same images. Nothing is downloaded.

options:
  --steps S        SGD steps (default 30)
  --batch-size B   (default 16)
  --input-size S   square image side (default 32)
  --threads T      kernel threads (default: all cores)`,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      steps: { type: 'string' },
      'batch-size': { type: 'string' },
      'input-size': { type: 'string' },
      threads: { type: 'string' },
    });
    if (v.threads !== undefined) kernels.setThreads(intFlag(v.threads as string, 'threads', 1));
    const steps = intFlag(v.steps as string | undefined, 'steps', 30);
    const batchSize = intFlag(v['batch-size'] as string | undefined, 'batch-size', 16);
    const size = intFlag(v['input-size'] as string | undefined, 'input-size', 32);
    const info = kernels.info();
    console.log(
      `tee-offload demo: resnet18, ${steps} SGD steps, batch ${batchSize}, ${size}×${size} synthetic images`,
    );
    console.log(`backend: gemm ${info.blas}, conv ${info.conv}, ${info.threads} threads`);
    const data = new SyntheticDataset({ length: batchSize * 10, height: size, width: size, seed: 7 });
    const model = createModel('resnet18', { numClasses: 10, seed: 1 });
    const summary = await runTraining({
      settings: {
        model: 'resnet18',
        numClasses: 10,
        inputSize: size,
        batchSize,
        steps,
        lr: 0.02,
        momentum: 0.9,
        weightDecay: 5e-4,
        nesterov: false,
        schedule: 'constant',
        seed: 1,
        augment: false,
      },
      model,
      train: data,
      test: data,
      reporter: lineReporter(process.stdout, 1),
    });
    const first = summary.losses[0] ?? Number.NaN;
    console.log(
      `loss ${first.toFixed(4)} → ${summary.finalLoss.toFixed(4)} in ${summary.elapsedSec.toFixed(1)} s (${summary.imagesPerSec.toFixed(1)} img/s)`,
    );
    if (summary.lastEval)
      console.log(
        `eval-mode accuracy on the training images: ${(100 * summary.lastEval.accuracy).toFixed(1)}%`,
      );
    return 0;
  },
};
