// A `train` job in the trusted process: the same trainer as `tee-offload train` (train/trainer.ts), its
// progress events streamed to the client, its checkpoints SEALED (seal.ts) into the checkpoint directory
// and resumable from there, and the final model state sent back as safetensors bytes over the channel.
// The trainer writes its plaintext checkpoint into the session's private directory (in-enclave tmpfs
// under Gramine); it is sealed (atomically: temp, fsync, rename) as soon as the trainer reports it, and
// the plaintext is removed. A job that fails (E_VERIFY from a lying accelerator, a client that went away)
// leaves the last sealed checkpoint as it was. A resume whose settings differ from the checkpoint's is
// refused by the trainer before any step, with the error `tee-offload train` gives (E_USAGE).
import { closeSync, openSync, readFileSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { MAX_BODY_BYTES, type TrainJob } from '../protocol/session-messages.js';
import { parseAeadFileHeader } from '../secure/aead-file.js';
import { wipe } from '../secure/keys.js';
import { sealFile, unsealFile } from '../secure/seal.js';
import type { ProgressEvent, Reporter } from '../train/progress.js';
import { runTraining, type TrainSettings } from '../train/trainer.js';
import {
  attachLinearOps,
  buildJobModel,
  checkLimits,
  type JobContext,
  note,
  openJobData,
  openJobTestData,
  remoteTotals,
  type SealedCheckpoints,
} from './job-setup.js';

/** The default checkpoint interval, as `tee-offload train`'s --checkpoint-every. */
export const DEFAULT_CHECKPOINT_EVERY = 100;

function readAll(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function needCheckpoints(ctx: JobContext, what: string): SealedCheckpoints {
  if (ctx.checkpoints === undefined) {
    throw new TeeError(
      'E_USAGE',
      `${what} needs a checkpoint directory: start the enclave with --checkpoint-dir DIR`,
    );
  }
  return ctx.checkpoints;
}

/**
 * Refuses to seal over a file that is not a sealed file (the sealing key file, anything else a client
 * could name in the checkpoint directory): E_USAGE.
 */
export function checkSealedTarget(path: string, name: string): void {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return; // nothing there yet
  }
  try {
    const head = new Uint8Array(4096);
    const n = readSync(fd, head, 0, head.length, 0);
    if (!parseAeadFileHeader(head.subarray(0, n), name).sealed) throw new Error('not sealed');
  } catch {
    throw new TeeError(
      'E_USAGE',
      `refusing to write checkpoint ${name}: a file of that name exists and is not a sealed checkpoint`,
    );
  } finally {
    closeSync(fd);
  }
}

/** Sends `bytes` as `model` messages of at most MAX_BODY_BYTES each. */
export async function sendModel(ctx: JobContext, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.byteLength || at === 0; at += MAX_BODY_BYTES) {
    const end = Math.min(bytes.byteLength, at + MAX_BODY_BYTES);
    await ctx.send({ type: 'model', offset: at, total: bytes.byteLength, body: bytes.subarray(at, end) });
    ctx.checkAborted();
    if (end === bytes.byteLength) break;
  }
}

export async function runTrainJob(ctx: JobContext, job: TrainJob): Promise<void> {
  const s = job.settings;
  const train = openJobData(ctx, job.data, 'train', s.numClasses);
  const test = openJobTestData(ctx, job.data, train, s.numClasses);
  const inputSize = s.inputSize ?? train.height;
  let batchSize = s.batchSize ?? 32;
  if (train.asGiven && batchSize !== train.length) {
    if (s.batchSize !== undefined)
      note(ctx, `note: the batch file is used as given: batch size ${train.length}`);
    batchSize = train.length;
  }
  checkLimits(ctx.limits, { model: s.model, mode: job.mode, batchSize, inputSize, numClasses: s.numClasses });
  const settings: TrainSettings = {
    model: s.model,
    numClasses: s.numClasses,
    inputSize,
    batchSize,
    ...(s.epochs === undefined ? {} : { epochs: s.epochs }),
    ...(s.steps === undefined ? {} : { steps: s.steps }),
    lr: s.lr,
    momentum: s.momentum,
    weightDecay: s.weightDecay,
    nesterov: s.nesterov,
    schedule: s.schedule,
    seed: s.seed,
    augment: s.augment,
  };
  const sealed = job.checkpoint === undefined ? undefined : needCheckpoints(ctx, 'a checkpoint');
  const sealedPath = sealed === undefined ? undefined : join(sealed.dir, job.checkpoint!);
  if (sealedPath !== undefined) checkSealedTarget(sealedPath, job.checkpoint!);
  let resumePath: string | undefined;
  if (job.resume !== undefined) {
    const c = needCheckpoints(ctx, 'resuming');
    // Unsealed (every chunk verified) into the private directory only.
    const plain = unsealFile(join(c.dir, job.resume), c.provider);
    resumePath = ctx.store.workPath('resume.safetensors');
    try {
      writeFileAtomic(resumePath, [plain]);
    } finally {
      wipe(plain);
    }
  }
  const model = buildJobModel(ctx, {
    model: s.model,
    numClasses: s.numClasses,
    inputSize,
    seed: s.seed,
    ...(job.dropout === undefined ? {} : { dropout: job.dropout }),
    ...(job.weights === undefined ? {} : { weights: job.weights }),
    ...(job.stripPrefix === undefined ? {} : { stripPrefix: job.stripPrefix }),
  });
  const ops = await attachLinearOps(ctx, job, model);
  const plainCheckpoint = ctx.store.workPath('checkpoint.safetensors');
  const savePath = ctx.store.workPath('model.safetensors');
  try {
    const reporter: Reporter = {
      event(e: ProgressEvent) {
        let out = e;
        if (e.type === 'checkpoint' && sealed !== undefined && sealedPath !== undefined) {
          const bytes = readAll(e.path);
          try {
            checkSealedTarget(sealedPath, job.checkpoint!);
            sealFile(sealedPath, bytes, sealed.provider);
          } finally {
            wipe(bytes);
            unlinkSync(e.path);
          }
          out = { ...e, path: `sealed:${job.checkpoint}` };
        }
        ctx.checkAborted();
        void ctx.send({ type: 'progress', event: out });
      },
      close() {},
    };
    const summary = await runTraining({
      settings,
      model,
      train,
      ...(test ? { test } : {}),
      ...(resumePath === undefined ? {} : { resume: resumePath, resumeName: job.resume! }),
      ...(sealed === undefined ? {} : { checkpoint: plainCheckpoint }),
      checkpointEvery: job.checkpointEvery ?? DEFAULT_CHECKPOINT_EVERY,
      save: savePath,
      reporter,
    });
    const bytes = readAll(savePath);
    try {
      await sendModel(ctx, bytes);
    } finally {
      wipe(bytes);
      unlinkSync(savePath);
    }
    const remote = remoteTotals(ops.remote);
    await ctx.send({
      type: 'result',
      kind: 'train',
      summary: {
        steps: summary.steps,
        finalLoss: summary.finalLoss,
        elapsedSec: summary.elapsedSec,
        imagesPerSec: summary.imagesPerSec,
        ...(summary.lastEval ? { lastEval: summary.lastEval } : {}),
      },
      modelBytes: bytes.byteLength,
      ...(remote ? { remote } : {}),
    });
  } finally {
    await ops.close();
  }
}
