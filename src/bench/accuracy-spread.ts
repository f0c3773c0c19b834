// Benchmark (not a test): does split mode's exact arithmetic cost accuracy, beyond the run-to-run spread
// that any non-bit-identical arithmetic causes? The demo's training (ResNet-18 on its 2,048 Fashion-MNIST
// images, 28², batch 32, one epoch, SGD lr 0.01 momentum 0.9) run many times: natively with the initial
// weights perturbed by a relative 1e-6 (a different seed each run), and in split mode (RemoteLinearOps,
// this process, against an accelerator process on loopback; fresh stochastic rounding each run). Prints
// every test accuracy and the mean, standard deviation and range of each.
// Run: node dist/src/bench/accuracy-spread.js [--native N (default 20)] [--seconds S (split runs until
//        S seconds have passed, default 1500)] [--field wide|p24] [--integrity exact|float]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDataset } from '../data/open-dataset.js';
import { writeDemoData } from '../demo/demo-data.js';
import { AcceleratorClient } from '../enclave/accelerator-client.js';
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from '../enclave/placement.js';
import { useRemoteLinearOps } from '../enclave/remote-layer-labels.js';
import { type IntegrityMode, RemoteLinearOps } from '../enclave/remote-linear-ops.js';
import { kernels } from '../kernels/index.js';
import { createModel } from '../models/index.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import type { Reporter } from '../train/progress.js';
import { runTraining, type TrainSettings } from '../train/trainer.js';
import { exactField } from '../verify/field.js';
import { startAcceleratorServer } from './experiments/servers.js';

const SETTINGS: TrainSettings = {
  model: 'resnet18',
  numClasses: 10,
  inputSize: 28,
  batchSize: 32,
  epochs: 1,
  lr: 0.01,
  momentum: 0.9,
  weightDecay: 5e-4,
  nesterov: false,
  schedule: 'constant',
  seed: 1,
  augment: false,
};

const silent = new Proxy({}, { get: () => () => {} }) as Reporter;

function stats(xs: readonly number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / Math.max(1, xs.length - 1));
  return `n ${xs.length}, mean ${m.toFixed(2)} %, sd ${sd.toFixed(2)}, range ${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)} %`;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string, dflt: string): string => {
    const i = args.indexOf(`--${name}`);
    return i < 0 ? dflt : (args[i + 1] ?? dflt);
  };
  const nativeRuns = Number(flag('native', '20'));
  const seconds = Number(flag('seconds', '1500'));
  const integrity = flag('integrity', 'exact') as IntegrityMode;
  const field = exactField(flag('field', 'wide')).name;
  kernels.setThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'tee-offload-spread-'));
  try {
    const data = writeDemoData(dir, { trainImages: 2048, testImages: 500 });
    const one = async (perturbSeed: number, remote: RemoteLinearOps | null): Promise<number> => {
      const model = createModel(SETTINGS.model, { numClasses: 10, seed: SETTINGS.seed });
      if (perturbSeed > 0) {
        const r = new SeededRng(perturbSeed);
        for (const p of model.parameters())
          for (let i = 0; i < p.data.length; i++) p.data[i]! *= 1 + 1e-6 * (2 * r.nextFloat() - 1);
      }
      if (remote) useRemoteLinearOps(model, remote);
      const train = openDataset(data.dir, { split: 'train', channels: 3, numClasses: 10 });
      const test = openDataset(data.dir, { split: 'test', channels: 3, numClasses: 10 });
      const s = await runTraining({ settings: SETTINGS, model, train, test, reporter: silent });
      return 100 * (s.lastEval?.accuracy ?? Number.NaN);
    };
    const native: number[] = [];
    for (let seed = 1; seed <= nativeRuns; seed++) {
      native.push(await one(seed, null));
      console.log(`native, weights perturbed (seed ${seed}): ${native.at(-1)!.toFixed(1)} %`);
    }
    const acc = await startAcceleratorServer(1);
    const client = await AcceleratorClient.connect(acc.address, { deadlineMs: 600_000 });
    const split: number[] = [];
    try {
      const deadline = Date.now() + seconds * 1000;
      while (Date.now() < deadline) {
        const ops = new RemoteLinearOps(client, {
          integrity,
          ...(integrity === 'exact' ? { field } : {}),
          offloadMinIntensity: DEFAULT_OFFLOAD_MIN_INTENSITY,
        });
        split.push(await one(0, ops));
        console.log(
          `split ${integrity}${integrity === 'exact' ? ` (${field})` : ''} run ${split.length}: ${split.at(-1)!.toFixed(1)} %`,
        );
      }
    } finally {
      await client.close();
      await acc.stop();
    }
    console.log(`native, perturbed: ${stats(native)}`);
    if (split.length > 0) console.log(`split:             ${stats(split)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
