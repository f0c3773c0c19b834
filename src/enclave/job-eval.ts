// `eval` and `infer` jobs in the trusted process: the model with the uploaded weights, in eval mode, over
// the job's data; eval returns accuracy and mean loss (train/trainer.ts evaluateDataset, as `tee-offload
// eval`), infer streams the top-k classes of every image (as `tee-offload infer`) in `prediction` messages.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataLoader } from '../data/data-loader.js';
import { defaultTransforms } from '../data/default-transforms.js';
import { TeeError } from '../errors.js';
import type { Module } from '../nn/module.js';
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
import { checkPadsMatch, decodePadPlaintext, type PadFileContents, PadLedger } from './pad-file.js';

/** The sealed ledger of consumed pad files in the checkpoint directory (a leading dot: never a checkpoint name). */
export const PAD_LEDGER_NAME = '.pads-ledger.sealed';

// Pad files consumed by this trusted process, besides the sealed ledger (a second line of defence should
// the sealed file be rolled back while the process runs).
const processLedger = new PadLedger();

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
  const limit = job.limit ?? ds.length;
  const pads =
    job.pads === undefined
      ? undefined
      : await loadJobPads(
          ctx,
          job,
          model,
          [job.batchSize, 3, inputSize, inputSize],
          Math.min(limit, ds.length),
        );
  const ops = await attachLinearOps(
    ctx,
    job,
    model,
    pads === undefined ? undefined : (l) => pads.sets.get(l),
  );
  try {
    const t0 = performance.now();
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

/**
 * Blinded inference: the uploaded pad file (decrypted by the session store: its GCM tags verified),
 * checked against the model, its weights and the job's batches, then claimed in the ledgers before any
 * pad is used — a pad file is used by one job only, and each of its pads once (PadSet.take).
 */
async function loadJobPads(
  ctx: JobContext,
  job: InferJob,
  model: Module,
  shape: number[],
  images: number,
): Promise<PadFileContents> {
  if (job.mode !== 'split' || (job.integrity ?? 'exact') !== 'exact') {
    throw new TeeError(
      'E_USAGE',
      'one-time pads blind the products sent to accelerators: --mode split --integrity exact',
    );
  }
  const bytes = new Uint8Array(readFileSync(ctx.store.resolve(job.pads!, 'pads')));
  let pads: PadFileContents;
  try {
    pads = decodePadPlaintext(bytes, job.pads);
  } finally {
    bytes.fill(0);
  }
  const want = shape.join(', ');
  if (pads.header.inputShape.join(', ') !== want) {
    throw new TeeError(
      'E_STATE',
      `the pad file was made for batches of inputs [${pads.header.inputShape.join(', ')}], this job's are [${want}]: ` +
        `give infer the pad file's --batch-size ${pads.header.inputShape[0]} and --input-size ${pads.header.inputShape[3]}, ` +
        "or precompute pads for this job's",
    );
  }
  if (images % job.batchSize !== 0) {
    throw new TeeError(
      'E_USAGE',
      `blinded inference needs whole batches: ${images} images is not a multiple of --batch-size ${job.batchSize} (use --limit)`,
    );
  }
  await checkPadsMatch(model, shape, pads.sets);
  const batches = images / job.batchSize;
  let remaining = Number.POSITIVE_INFINITY;
  for (const s of pads.sets.values()) remaining = Math.min(remaining, s.remaining);
  if (batches > remaining) {
    throw new TeeError(
      'E_STATE',
      `the pad file holds pads for ${remaining} batches, this job needs ${batches}; run tee-offload precompute with a larger --count`,
    );
  }
  const id = pads.header.fileId;
  if (processLedger.has(id)) processLedger.claim(id); // throws: already used
  if (ctx.checkpoints === undefined) {
    // A ledger in memory only would forget the file when this process ends, and the next trusted
    // process would hand out the same pads again: refused rather than reused.
    throw new TeeError(
      'E_STATE',
      'blinded inference needs a sealed pad ledger, so that a pad file is never used twice (also ' +
        'across restarts): this trusted process has no --checkpoint-dir; start it with one',
    );
  }
  new PadLedger(join(ctx.checkpoints.dir, PAD_LEDGER_NAME), ctx.checkpoints.provider).claim(id);
  processLedger.claim(id);
  return pads;
}
