// `tee-offload infer`: top-k predictions of a model for every image of a data set (eval mode).
import { DataLoader } from '../../data/data-loader.js';
import { defaultTransforms } from '../../data/default-transforms.js';
import { openDataset } from '../../data/open-dataset.js';
import { kernels } from '../../kernels/index.js';
import { predict } from '../../nn/train-step.js';
import { type Command, UsageError } from '../command.js';
import { buildModel } from '../model-setup.js';
import { intFlag, parseFlags } from '../parse.js';
import { MODE_HELP, routeMode } from '../run-modes.js';

/** Indices of the k largest values of row, best first (ties: lower index first). */
export function topK(row: Float32Array, k: number): number[] {
  const idx = Array.from(row.keys());
  idx.sort((a, b) => row[b]! - row[a]! || a - b);
  return idx.slice(0, k);
}

function softmax(row: Float32Array): Float64Array {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of row) max = Math.max(max, x);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.exp(row[i]! - max);
    sum += out[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

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
${MODE_HELP}`,
  async run(argv) {
    const routed = await routeMode('infer', argv);
    if (typeof routed === 'number') return routed;
    argv = routed;
    const { values: v } = parseFlags(argv, {
      model: { type: 'string' },
      weights: { type: 'string' },
      data: { type: 'string' },
      topk: { type: 'string' },
      limit: { type: 'string' },
      'num-classes': { type: 'string' },
      'input-size': { type: 'string' },
      'batch-size': { type: 'string' },
      'strip-prefix': { type: 'string' },
      threads: { type: 'string' },
      json: { type: 'boolean' },
    });
    const str = (k: string) => v[k] as string | undefined;
    for (const k of ['model', 'weights', 'data']) {
      if (str(k) === undefined) throw new UsageError(`--${k} is required (see tee-offload infer --help)`);
    }
    if (str('threads') !== undefined) kernels.setThreads(intFlag(str('threads'), 'threads', 1));
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    const k = intFlag(str('topk'), 'topk', Math.min(5, numClasses));
    if (k > numClasses) throw new UsageError(`--topk ${k} is more than the ${numClasses} classes`);
    const ds = openDataset(str('data')!, { split: 'test', channels: 3, numClasses });
    const inputSize = intFlag(str('input-size'), 'input-size', ds.height);
    const model = buildModel({
      model: str('model')!,
      numClasses,
      inputSize,
      seed: 0,
      weights: str('weights')!,
      ...(str('strip-prefix') === undefined ? {} : { stripPrefix: str('strip-prefix')! }),
    });
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
