// `eval` and `infer` jobs in the trusted process: the model with the uploaded weights, in eval mode, over
// the job's data; eval returns accuracy and mean loss (train/trainer.ts evaluateDataset, as `tee-offload
// eval`), infer streams the top-k classes of every image (as `tee-offload infer`) in `prediction` messages.
import { DataLoader } from '../data/data-loader.js';
import { defaultTransforms } from '../data/default-transforms.js';
import { predict } from '../nn/train-step.js';
import type { EvalJob, InferJob, PredictionRow } from '../protocol/session-messages.js';
import { evaluateDataset } from '../train/trainer.js';
import {
  attachLinearOps,
  buildJobModel,
  checkLimits,
  type JobContext,
  openJobData,
  remoteTotals,
} from './job-setup.js';

/** Rows per `prediction` message: keeps each header far below MAX_HEADER_BYTES. */
const HEADER_BUDGET_CHARS = 32 * 1024;

/** Indices of the k largest values of row, best first (ties: lower index first), as `tee-offload infer`. */
export function topK(row: Float32Array, k: number): number[] {
  const idx = Array.from(row.keys());
  idx.sort((a, b) => row[b]! - row[a]! || a - b);
  return idx.slice(0, k);
}

export function softmax(row: Float32Array): Float64Array {
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

export async function runEvalJob(ctx: JobContext, job: EvalJob): Promise<void> {
  const ds = openJobData(ctx, job.data, job.split, job.numClasses);
  const inputSize = job.inputSize ?? ds.height;
  checkLimits(ctx.limits, { ...job, inputSize });
  const model = buildJobModel(ctx, { ...job, inputSize, seed: 0 });
  const ops = await attachLinearOps(ctx, job, model);
  try {
    const t0 = performance.now();
    const r = await evaluateDataset(model, ds, inputSize, job.batchSize);
    const seconds = (performance.now() - t0) / 1000;
    ctx.checkAborted();
    const remote = remoteTotals(ops.remote);
    await ctx.send({
      type: 'result',
      kind: 'eval',
      summary: { ...r, seconds },
      ...(remote ? { remote } : {}),
    });
  } finally {
    await ops.close();
  }
}

export async function runInferJob(ctx: JobContext, job: InferJob): Promise<void> {
  const ds = openJobData(ctx, job.data, 'test', job.numClasses);
  const inputSize = job.inputSize ?? ds.height;
  checkLimits(ctx.limits, { ...job, inputSize });
  const model = buildJobModel(ctx, { ...job, inputSize, seed: 0 });
  const ops = await attachLinearOps(ctx, job, model);
  try {
    const t0 = performance.now();
    const limit = job.limit ?? ds.length;
    const loader = new DataLoader(ds, {
      batchSize: job.batchSize,
      shuffle: false,
      transform: defaultTransforms(ds, { augment: false, imageSize: inputSize }),
    });
    let done = 0;
    let rows: PredictionRow[] = [];
    let chars = 0;
    const flush = async () => {
      if (rows.length === 0) return;
      const out = rows;
      rows = [];
      chars = 0;
      await ctx.send({ type: 'prediction', rows: out });
    };
    for (const b of loader.epochBatches()) {
      ctx.checkAborted();
      const logits = await predict(model, b.input);
      for (let i = 0; i < b.labels.length && done < limit; i++, done++) {
        const row = logits.data.subarray(i * job.numClasses, (i + 1) * job.numClasses);
        const p = softmax(row);
        const r: PredictionRow = {
          index: b.indices[i]!,
          label: b.labels[i]!,
          top: topK(row, job.topk).map((c) => ({ class: c, p: p[c]! })),
        };
        const size = 48 + 40 * r.top.length;
        if (chars + size > HEADER_BUDGET_CHARS) await flush();
        rows.push(r);
        chars += size;
      }
      if (done >= limit) break;
    }
    await flush();
    const seconds = (performance.now() - t0) / 1000;
    const remote = remoteTotals(ops.remote);
    await ctx.send({
      type: 'result',
      kind: 'infer',
      summary: { images: done, seconds },
      ...(remote ? { remote } : {}),
    });
  } finally {
    await ops.close();
  }
}
