// One training run (the trainer of `tee-offload train`: seeded synthetic images, SGD momentum 0.9, weight
// decay 5e-4) in one of the modes, as run-modes.ts runs it: native and accelerator in this process, enclave
// and split as a job of the trusted process (runRemote). Returns the trainer's own elapsed time (the
// training loop only: not the process start, the handshake, the model build or the transfer of the final
// model back), so that every mode is timed over the same span.
import { runRemote } from '../../client/remote.js';
import { openDataset } from '../../data/open-dataset.js';
import { AcceleratorPool } from '../../enclave/accelerator-pool.js';
import { useRemoteLinearOps } from '../../enclave/remote-layer-labels.js';
import { RemoteLinearOps } from '../../enclave/remote-linear-ops.js';
import { kernels } from '../../kernels/index.js';
import { createModel, isModelName, modelNames } from '../../models/index.js';
import type { Module } from '../../nn/module.js';
import type { JobTrainSettings, TrainJob } from '../../protocol/session-messages.js';
import type { Reporter } from '../../train/progress.js';
import { runTraining, type TrainSettings } from '../../train/trainer.js';
import { NUM_CLASSES } from './options.js';
import type { RunMode } from './schema.js';
import type { ExperimentServers, SplitThreads } from './servers.js';
import { isSplitMode, remoteChoice } from './split-modes.js';

export interface TrainSpec {
  readonly model: string;
  readonly size: number;
  readonly batch: number;
  /** Images in the run: steps = images / batch. */
  readonly images: number;
  readonly threads: number;
  /** Dropout of AlexNet/VGG (default: the model's own, as `train`). */
  readonly dropout?: number;
  readonly seed?: number;
}

export interface TrainOutcome {
  readonly ms: number;
  readonly losses: readonly number[];
  /** The final model: in-process modes only. */
  readonly model?: Module;
  /** The final model state (safetensors bytes): trusted-process modes only. */
  readonly state?: Uint8Array;
}

const silent: Reporter = { event() {}, close() {} };

export function jobSettings(s: TrainSpec): JobTrainSettings {
  return {
    model: s.model,
    numClasses: NUM_CLASSES,
    inputSize: s.size,
    batchSize: s.batch,
    steps: Math.max(1, Math.floor(s.images / s.batch)),
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    schedule: 'constant',
    seed: s.seed ?? 0,
    augment: false,
  };
}

export function checkModelName(model: string): void {
  if (!isModelName(model)) throw new RangeError(`unknown model '${model}' (known: ${modelNames.join(', ')})`);
}

async function inProcess(s: TrainSpec, accelerator: string | null): Promise<TrainOutcome> {
  checkModelName(s.model);
  kernels.setThreads(s.threads);
  const settings = jobSettings(s) as TrainSettings;
  const train = openDataset(`synthetic:${s.images}`, {
    split: 'train',
    channels: 3,
    numClasses: NUM_CLASSES,
  });
  const model = createModel(s.model, {
    numClasses: NUM_CLASSES,
    seed: settings.seed,
    ...(s.dropout === undefined ? {} : { dropout: s.dropout }),
  });
  const pool = accelerator === null ? null : await AcceleratorPool.connect([accelerator]);
  try {
    if (pool) useRemoteLinearOps(model, new RemoteLinearOps(pool, { integrity: 'off', warn: () => {} }));
    const r = await runTraining({ settings, model, train, reporter: silent });
    return { ms: r.elapsedSec * 1000, losses: r.losses, model };
  } finally {
    await pool?.close();
  }
}

async function inTrustedProcess(
  s: TrainSpec,
  mode: RunMode,
  servers: ExperimentServers,
  cores: SplitThreads | undefined,
): Promise<TrainOutcome> {
  checkModelName(s.model);
  const split = isSplitMode(mode);
  const threads = split && cores ? cores : { trusted: s.threads, accelerator: s.threads };
  const choice = remoteChoice(mode);
  const job: TrainJob = {
    mode: split ? 'split' : 'enclave',
    data: { kind: 'synthetic', length: s.images },
    settings: jobSettings(s),
    threads: threads.trusted,
    ...(s.dropout === undefined ? {} : { dropout: s.dropout }),
    ...(split ? { accelerators: [await servers.accelerator(threads.accelerator)], ...choice } : {}),
  };
  const out = await runRemote({
    enclave: await servers.trustedProcess(),
    attestation: { allowSimulated: true },
    uploads: [],
    job: { type: 'train', job },
  });
  if (out.result.kind !== 'train') throw new Error(`a ${out.result.kind} result for a train job`);
  return {
    ms: out.result.summary.elapsedSec * 1000,
    losses: out.losses,
    ...(out.model ? { state: out.model } : {}),
  };
}

/**
 * One run of `s` in `mode`; the servers it needs are started on first use. Split modes run their trusted
 * process and accelerator with `splitThreads` when given (else both with `s.threads`).
 */
export async function trainInMode(
  s: TrainSpec,
  mode: RunMode,
  servers: ExperimentServers,
  splitThreads?: SplitThreads,
): Promise<TrainOutcome> {
  switch (mode) {
    case 'native':
      return inProcess(s, null);
    case 'accelerator':
      return inProcess(s, await servers.accelerator());
    default:
      return inTrustedProcess(s, mode, servers, splitThreads);
  }
}
