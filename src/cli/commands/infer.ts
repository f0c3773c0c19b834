// `tee-offload infer`: top-k predictions of a model for every image of a data set (eval mode).
import { DataLoader } from '../../data/data-loader.js';
import { defaultTransforms } from '../../data/default-transforms.js';
import { openDataset } from '../../data/open-dataset.js';
import { softmax, topK } from '../../enclave/job-eval.js';
import { kernels } from '../../kernels/index.js';
import { predict } from '../../nn/train-step.js';
import { type Command, UsageError } from '../command.js';
import { INFER_FLAGS } from '../command-flags.js';
import { modelWithWeights } from '../model-setup.js';
import { intFlag, parseFlags, requireFlags } from '../parse.js';
import { modeHelp, routeMode } from '../run-modes.js';

export const inferCommand: Command = {
  name: 'infer',
  summary: 'top-k predictions of a model for each image of a data set',
  help: `usage: tee-offload infer --model M --weights W --data DATA [--topk 5] [options]

Prints, for every image, its index, its label (when known) and the top-k classes with
probabilities. With --json, one JSON object per image.

options:
  --model M          model name (tee-offload models)
  --weights W        .safetensors or PyTorch .pth
  --data DATA        as for train (see tee-offload train --help); the test split where there is one
  --topk K           (default 5, at most the number of classes)
  --limit N          only the first N images
  --num-classes K    (default 10)
  --input-size S     (default: the data's size)
  --batch-size B     (default 64)
  --strip-prefix P   drop P from every key of --weights
  --threads T        kernel threads
  --json             JSON lines
${modeHelp('infer')}`,
  async run(argv) {
    const routed = await routeMode('infer', argv);
    if (typeof routed === 'number') return routed;
    argv = routed;
    const { values: v } = parseFlags(argv, INFER_FLAGS);
    const str = (k: string) => v[k] as string | undefined;
    requireFlags(v, ['model', 'weights', 'data'], 'infer');
    if (str('threads') !== undefined) kernels.setThreads(intFlag(str('threads'), 'threads', 1));
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    const k = intFlag(str('topk'), 'topk', Math.min(5, numClasses));
    if (k > numClasses) throw new UsageError(`--topk ${k} is more than the ${numClasses} classes`);
    const ds = openDataset(str('data')!, { split: 'test', channels: 3, numClasses });
    const inputSize = intFlag(str('input-size'), 'input-size', ds.height);
    const model = modelWithWeights(v, numClasses, inputSize);
    const limit = intFlag(str('limit'), 'limit', ds.length);
    const loader = new DataLoader(ds, {
      batchSize: intFlag(str('batch-size'), 'batch-size', 64),
      shuffle: false,
      transform: defaultTransforms(ds, { augment: false, imageSize: inputSize }),
    });
    let done = 0;
    for (const b of loader.epochBatches()) {
      const logits = await predict(model, b.input);
      for (let i = 0; i < b.labels.length && done < limit; i++, done++) {
        const row = logits.data.subarray(i * numClasses, (i + 1) * numClasses);
        const p = softmax(row);
        const top = topK(row, k).map((c) => ({ class: c, p: p[c]! }));
        const index = b.indices[i]!;
        if (v.json) console.log(JSON.stringify({ index, label: b.labels[i], top }));
        else
          console.log(
            `${index}\tlabel ${b.labels[i]}\t${top.map((t) => `${t.class}:${t.p.toFixed(4)}`).join(' ')}`,
          );
      }
      if (done >= limit) break;
    }
    return 0;
  },
};
