// What every job of the trusted process does first: check the job against the limits this enclave was
// sized for, open its data (synthetic, or files uploaded into the session's private directory: never a
// host path named by the client), build the model and load uploaded weights, and choose where the linear
// products run: `enclave` keeps them local (LocalLinearOps, everything inside), `split` sends them to the
// accelerators through RemoteLinearOps (blinded/quantized, Freivalds-checked; docs/enclave.md).

import { X509Certificate } from 'node:crypto';
import type { Dataset } from '../data/dataset.js';
import { openDataset } from '../data/open-dataset.js';
import { TeeError } from '../errors.js';
import { replaceHead } from '../io/state-dict.js';
import { readWeightsFile } from '../io/weights-file.js';
import { kernels } from '../kernels/index.js';
import { createModel, describeModel, isModelName, modelNames } from '../models/index.js';
import { defaultLinearOps } from '../nn/backend.js';
import { setLinearOps } from '../nn/layer.js';
import type { Module } from '../nn/module.js';
import { parseAddress } from '../protocol/address.js';
import type { DataRef, EnclaveMessage, JobCommon, JobMode } from '../protocol/session-messages.js';
import type { SealingKeyProvider } from '../secure/seal.js';
import type { PadSet } from '../verify/blinding.js';
import type { AcceleratorTlsOptions } from './accelerator-client.js';
import { AcceleratorPool } from './accelerator-pool.js';
import { YieldingLinearOps } from './job-yield.js';
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from './placement.js';
import { useRemoteLinearOps } from './remote-layer-labels.js';
import { RemoteLinearOps } from './remote-linear-ops.js';
import type { SessionStore } from './session-store.js';

/** Limits of the enclave build (`tee-offload manifest` bakes them into the enclave's command line). */
export interface JobLimits {
  readonly model?: string;
  readonly mode?: JobMode;
  readonly maxBatchSize?: number;
  readonly maxInputSize?: number;
  readonly maxNumClasses?: number;
}

/** Where sealed checkpoints live and the key they are sealed with. */
export interface SealedCheckpoints {
  readonly dir: string;
  readonly provider: SealingKeyProvider;
}

export interface JobContext {
  readonly store: SessionStore;
  /** Queues a message to the client (in order); resolves once the channel took it. */
  readonly send: (m: EnclaveMessage) => Promise<void>;
  readonly checkpoints?: SealedCheckpoints;
  /** The trusted process's own --accelerator list (used when a split job names none). */
  readonly accelerators: readonly string[];
  readonly limits: JobLimits;
  /** Throws when the job must stop (client gone, shutdown): called between steps and batches. */
  readonly checkAborted: () => void;
}

export function note(ctx: JobContext, message: string): void {
  void ctx.send({ type: 'note', message: message.slice(0, 4096) });
}

/** Refuses a job the enclave was not sized for (E_USAGE). */
export function checkLimits(
  l: JobLimits,
  j: { model: string; mode: JobMode; batchSize?: number; inputSize: number; numClasses: number },
): void {
  const refuse = (what: string) => {
    throw new TeeError(
      'E_USAGE',
      `this enclave was built for ${what}; start one sized for the job (tee-offload manifest)`,
    );
  };
  if (l.model !== undefined && j.model !== l.model) refuse(`--model ${l.model}, not ${j.model}`);
  if (l.mode !== undefined && j.mode !== l.mode) refuse(`--mode ${l.mode}, not ${j.mode}`);
  if (l.maxBatchSize !== undefined && j.batchSize !== undefined && j.batchSize > l.maxBatchSize) {
    refuse(`batches of at most ${l.maxBatchSize}, not ${j.batchSize}`);
  }
  if (l.maxInputSize !== undefined && j.inputSize > l.maxInputSize) {
    refuse(`inputs of at most ${l.maxInputSize}×${l.maxInputSize}, not ${j.inputSize}`);
  }
  if (l.maxNumClasses !== undefined && j.numClasses > l.maxNumClasses) {
    refuse(`at most ${l.maxNumClasses} classes, not ${j.numClasses}`);
  }
}

/** The data a job names: synthetic data, or an uploaded file or group opened from the private directory. */
export function openJobData(
  ctx: JobContext,
  ref: DataRef,
  split: 'train' | 'test',
  numClasses: number,
): Dataset {
  const opts = { split, channels: 3 as const, numClasses };
  if (ref.kind === 'synthetic') return openDataset(`synthetic:${ref.length}`, opts);
  return openDataset(ctx.store.resolve(ref.name, 'data'), opts);
}

/** The test split of an uploaded CIFAR-10 / Fashion-MNIST set (as `tee-offload train` evaluates), if any. */
export function openJobTestData(
  ctx: JobContext,
  ref: DataRef,
  train: Dataset,
  numClasses: number,
): Dataset | undefined {
  if (train.kind !== 'cifar10' && train.kind !== 'fashion-mnist') return undefined;
  return openJobData(ctx, ref, 'test', numClasses);
}

export function buildJobModel(
  ctx: JobContext,
  o: {
    model: string;
    numClasses: number;
    inputSize: number;
    seed: number;
    dropout?: number;
    weights?: string;
    stripPrefix?: string;
  },
): Module {
  if (!isModelName(o.model))
    throw new TeeError('E_USAGE', `unknown model '${o.model}' (known: ${modelNames.join(', ')})`);
  const d = describeModel(o.model, { numClasses: o.numClasses, inputSize: o.inputSize });
  if (o.inputSize < d.minInputSize) {
    throw new TeeError(
      'E_USAGE',
      `${o.model} needs an input of at least ${d.minInputSize}×${d.minInputSize}, got ${o.inputSize}`,
    );
  }
  const model = createModel(o.model, {
    numClasses: o.numClasses,
    seed: o.seed,
    ...(o.dropout === undefined ? {} : { dropout: o.dropout }),
  });
  if (o.weights !== undefined) {
    const { tensors, format } = readWeightsFile(ctx.store.resolve(o.weights, 'weights'));
    const report = replaceHead(
      model,
      tensors,
      o.stripPrefix === undefined ? {} : { stripPrefix: o.stripPrefix },
    );
    if (report.skipped.length > 0) {
      note(
        ctx,
        `note: ${o.weights} has a classifier of another size; ${report.skipped.join(', ')} keep a fresh initialisation for ${o.numClasses} classes (fine-tuning)`,
      );
    }
    note(ctx, `loaded ${report.loaded.length} tensors from ${o.weights} (${format})`);
  }
  return model;
}

/** Where a job's products run; close() releases the accelerators and restores the thread count. */
export interface JobOps {
  readonly remote: RemoteLinearOps | null;
  close(): Promise<void>;
}

export async function attachLinearOps(
  ctx: JobContext,
  job: JobCommon,
  model: Module,
  pads?: (label: string) => PadSet | undefined,
): Promise<JobOps> {
  const threadsBefore = kernels.info().threads;
  if (job.threads !== undefined) kernels.setThreads(job.threads);
  const restore = () => {
    if (job.threads !== undefined) kernels.setThreads(threadsBefore);
  };
  if (job.mode === 'enclave') {
    // Every product inside, on the native kernels (LocalLinearOps), with the event loop kept alive.
    const local = new YieldingLinearOps(defaultLinearOps());
    setLinearOps(model, local);
    return { remote: null, close: async () => restore() };
  }
  const addresses = job.accelerators ?? ctx.accelerators;
  if (addresses.length === 0) {
    restore();
    throw new TeeError(
      'E_USAGE',
      'mode split needs accelerators: give --accelerator HOST:PORT (to the client or to the enclave)',
    );
  }
  for (const a of addresses) {
    try {
      parseAddress(a);
    } catch (e) {
      restore();
      throw new TeeError('E_USAGE', `accelerator ${a}: ${(e as Error).message}`);
    }
  }
  let pool: AcceleratorPool;
  try {
    const tls = jobTls(job);
    pool = await AcceleratorPool.connect(addresses, {
      ...(tls === undefined ? {} : { tls }),
      ...(job.acceleratorTimeoutMs === undefined ? {} : { deadlineMs: job.acceleratorTimeoutMs }),
      warn: (m) => note(ctx, m),
    });
  } catch (e) {
    restore();
    throw e;
  }
  const remote = new RemoteLinearOps(pool, {
    integrity: job.integrity ?? 'exact',
    ...(job.field === undefined ? {} : { field: job.field }),
    warn: (m) => note(ctx, m),
    // Blinded inference sends every forward product, each with its pad; otherwise small-intensity
    // products (classifiers at small batch) stay inside (placement.ts).
    offloadMinIntensity: pads === undefined ? (job.offloadMinIntensity ?? DEFAULT_OFFLOAD_MIN_INTENSITY) : 0,
    ...(pads === undefined ? {} : { pads }),
  });
  useRemoteLinearOps(model, remote);
  return {
    remote,
    close: async () => {
      restore();
      await pool.close();
    },
  };
}

/**
 * The TLS settings of a job's accelerators: its CA certificates (from the client, over the attested
 * channel: the data owner decides which accelerators are genuine), else the system's CAs. Each block
 * is parsed here, as TLS would silently ignore one it cannot read and trust nothing in its place.
 */
function jobTls(job: JobCommon): AcceleratorTlsOptions | true | undefined {
  const t = job.acceleratorTls;
  if (t === undefined) return undefined;
  if (t.ca === undefined) return true;
  const blocks = t.ca.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (e) {
      throw new TeeError(
        'E_FORMAT',
        `certificate ${i + 1} of the job's accelerator CA is not a valid certificate: ${(e as Error).message}`,
      );
    }
  }
  return { ca: t.ca };
}

/** The totals a result reports for a split job. */
export function remoteTotals(remote: RemoteLinearOps | null) {
  if (remote === null) return undefined;
  const t = remote.stats().total;
  return {
    calls: t.calls,
    retries: t.retries,
    failures: t.failures,
    bytesSent: t.bytesSent,
    bytesReceived: t.bytesReceived,
    totalMs: t.totalMs,
    phases: {
      quantizeMs: t.quantizeMs,
      sendMs: t.sendMs,
      computeMs: t.computeMs,
      receiveMs: t.receiveMs,
      verifyMs: t.verifyMs,
      dequantizeMs: t.dequantizeMs,
    },
  };
}
