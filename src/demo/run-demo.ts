// `tee-offload demo`, the whole job: write a Fashion-MNIST subset (or generated images), encrypt it with a
// fresh AES-256-GCM key, start an accelerator and a trusted process (direct launcher) on loopback,
// attest (SIMULATED here, said so), upload the encrypted data, train in split mode with exact integrity,
// evaluate; then the same training in enclave mode and natively from the same seed, and compare the three.
import { mkdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { type StartedServer, splitCores, startAcceleratorServer } from '../bench/experiments/servers.js';
import { runRemote } from '../client/remote.js';
import { planData } from '../client/uploads.js';
import { openDataset } from '../data/open-dataset.js';
import { TeeError } from '../errors.js';
import { makeOwnedTempDir, sweepStaleTempDirs } from '../io/owned-temp-dir.js';
import { readSafetensorsFile } from '../io/safetensors.js';
import { createModel } from '../models/index.js';
import type { ExactFieldName, Integrity, RemoteTotals } from '../protocol/session-messages.js';
import { encryptFile } from '../secure/aead-file.js';
import { generateKey, wipe, writeKeyFile } from '../secure/keys.js';
import type { Reporter } from '../train/progress.js';
import { runTraining, type TrainSettings } from '../train/trainer.js';
import { compareStates, type StateComparison } from './compare-states.js';
import { type DemoData, writeDemoData } from './demo-data.js';

const DEMO_DIR_PREFIX = 'tee-offload-demo-';

export type DemoMode = 'native' | 'enclave' | 'split';

export interface DemoOptions {
  readonly model: string;
  readonly trainImages: number;
  readonly testImages: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly seed: number;
  readonly integrity: Integrity;
  /** Exact integrity's field (default wide). */
  readonly field?: ExactFieldName;
  /** Kernel threads of every process (default: all cores). */
  readonly threads?: number;
  /** Where the accelerator computes (`accelerator --backend`; default 'cpu'). */
  readonly acceleratorBackend?: 'cpu' | 'cuda';
  /** Generated images even when Fashion-MNIST is installed (tests). */
  readonly forceGenerated?: boolean;
  /** Where Fashion-MNIST is looked for (default: Debian's directory). */
  readonly fashionMnistDir?: string;
  /** Keep the working directory (data, key, encrypted files, trained weights) here instead of a temp one. */
  readonly workDir?: string;
  readonly log: (line: string) => void;
  /** A fresh progress reporter for each training run. */
  readonly reporter: () => Reporter;
}

export interface ModeRun {
  readonly mode: DemoMode;
  readonly seconds: number;
  /** Images per second over the whole training (the trainer's figure). */
  readonly imagesPerSec: number;
  readonly steps: number;
  readonly losses: readonly number[];
  readonly finalLoss: number;
  readonly accuracy: number | null;
  readonly testLoss: number | null;
  /** split: what the accelerator did. */
  readonly remote?: RemoteTotals;
  readonly weightsPath: string;
}

export interface DemoOutcome {
  readonly data: DemoData;
  readonly settings: TrainSettings;
  readonly integrity: Integrity;
  /** Exact integrity's field; null in float mode. */
  readonly field: ExactFieldName | null;
  readonly attestation: 'sgx' | 'simulated' | 'none';
  readonly encryption: { readonly bytes: number; readonly ms: number };
  readonly runs: readonly ModeRun[];
  /** Against native: enclave (bit identity expected) and split (quantization). */
  readonly agreement: readonly {
    readonly mode: DemoMode;
    readonly state: StateComparison;
    /** |Δ loss| of the first step (same weights, same images). */
    readonly firstLossDiff: number;
    /** The largest |Δ loss| over every step. */
    readonly maxLossDiff: number;
  }[];
  readonly workDir: string;
  readonly keptWorkDir: boolean;
}

function trainSettings(o: DemoOptions): TrainSettings {
  return {
    model: o.model,
    numClasses: 10,
    inputSize: 28,
    batchSize: o.batchSize,
    epochs: o.epochs,
    lr: o.lr,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    schedule: 'constant',
    seed: o.seed,
    augment: false,
  };
}

async function encryptData(
  data: DemoData,
  work: string,
): Promise<{ dir: string; keyFile: string; bytes: number; ms: number }> {
  const keyFile = join(work, 'data.key');
  const key = generateKey();
  const dir = join(work, 'encrypted');
  mkdirSync(dir, { recursive: true });
  let bytes = 0;
  const t0 = performance.now();
  try {
    writeKeyFile(keyFile, key);
    for (const f of data.files) {
      const name = f.slice(data.dir.length + 1);
      const r = await encryptFile(key, f, join(dir, `${name}.enc`));
      bytes += r.plaintextBytes;
    }
  } finally {
    wipe(key);
  }
  return { dir, keyFile, bytes, ms: performance.now() - t0 };
}

function maxLossDiff(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function remoteRun(
  mode: 'enclave' | 'split',
  o: DemoOptions,
  settings: TrainSettings,
  enc: { dir: string; keyFile: string },
  accelerator: StartedServer | null,
  weightsPath: string,
  threads: number | undefined = o.threads,
): Promise<{ run: ModeRun; attestation: 'sgx' | 'simulated' | 'none' }> {
  const plan = planData(enc.dir, enc.keyFile);
  const reporter = o.reporter();
  const t0 = performance.now();
  try {
    const out = await runRemote({
      launcher: 'direct',
      enclaveStderr: 'ignore',
      attestation: { allowSimulated: true },
      uploads: plan.uploads,
      job: {
        type: 'train',
        job: {
          mode,
          data: plan.ref,
          ...(mode === 'split'
            ? {
                accelerators: [accelerator!.address],
                integrity: o.integrity,
                ...(o.integrity === 'exact' && o.field !== undefined ? { field: o.field } : {}),
              }
            : {}),
          ...(threads === undefined ? {} : { threads }),
          settings: {
            model: settings.model,
            numClasses: settings.numClasses,
            inputSize: settings.inputSize,
            batchSize: settings.batchSize,
            epochs: settings.epochs!,
            lr: settings.lr,
            momentum: settings.momentum,
            weightDecay: settings.weightDecay,
            nesterov: settings.nesterov,
            schedule: settings.schedule,
            seed: settings.seed,
            augment: settings.augment,
          },
        },
      },
      reporter,
      onNote: (line) => o.log(`  trusted process: ${line}`),
      save: weightsPath,
    });
    reporter.close();
    const r = out.result;
    if (r.kind !== 'train') throw new TeeError('E_STATE', `expected a training result, got ${r.kind}`);
    return {
      attestation: out.attestation,
      run: {
        mode,
        seconds: (performance.now() - t0) / 1000,
        imagesPerSec: r.summary.imagesPerSec,
        steps: r.summary.steps,
        losses: out.losses,
        finalLoss: r.summary.finalLoss,
        accuracy: r.summary.lastEval?.accuracy ?? null,
        testLoss: r.summary.lastEval?.loss ?? null,
        ...(r.remote ? { remote: r.remote } : {}),
        weightsPath,
      },
    };
  } finally {
    reporter.close();
  }
}

async function nativeRun(
  o: DemoOptions,
  settings: TrainSettings,
  dataDir: string,
  weightsPath: string,
): Promise<ModeRun> {
  const train = openDataset(dataDir, { split: 'train', channels: 3, numClasses: 10 });
  const test = openDataset(dataDir, { split: 'test', channels: 3, numClasses: 10 });
  const model = createModel(settings.model, { numClasses: settings.numClasses, seed: settings.seed });
  const reporter = o.reporter();
  const t0 = performance.now();
  try {
    const s = await runTraining({ settings, model, train, test, reporter, save: weightsPath });
    return {
      mode: 'native',
      seconds: (performance.now() - t0) / 1000,
      imagesPerSec: s.imagesPerSec,
      steps: s.steps,
      losses: s.losses,
      finalLoss: s.finalLoss,
      accuracy: s.lastEval?.accuracy ?? null,
      testLoss: s.lastEval?.loss ?? null,
      weightsPath,
    };
  } finally {
    reporter.close();
  }
}

export async function runDemo(o: DemoOptions): Promise<DemoOutcome> {
  const settings = trainSettings(o);
  const keptWorkDir = o.workDir !== undefined;
  // A demo killed outright (SIGKILL) could not remove its data and key: the next demo does.
  if (!keptWorkDir) sweepStaleTempDirs(DEMO_DIR_PREFIX);
  const work = o.workDir ?? makeOwnedTempDir(DEMO_DIR_PREFIX);
  mkdirSync(work, { recursive: true });
  // An interrupted demo (process.exit from its signal handler) still removes its data and key.
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  if (!keptWorkDir) process.on('exit', removeWork);
  let accelerator: StartedServer | null = null;
  try {
    const data = writeDemoData(join(work, 'plain'), {
      trainImages: o.trainImages,
      testImages: o.testImages,
      ...(o.forceGenerated ? { forceGenerated: true } : {}),
      ...(o.fashionMnistDir === undefined ? {} : { source: o.fashionMnistDir }),
    });
    o.log(`[1/6] data: ${data.description}`);
    const enc = await encryptData(data, work);
    o.log(
      `[2/6] encrypted ${(enc.bytes / 2 ** 20).toFixed(1)} MiB with AES-256-GCM under a fresh key in ${enc.ms.toFixed(0)} ms; only the encrypted files leave this process`,
    );
    const onGpu = o.acceleratorBackend === 'cuda';
    const cores = splitCores(availableParallelism(), onGpu, o.threads);
    accelerator = await startAcceleratorServer(cores.accelerator, onGpu ? ['--backend', 'cuda'] : []);
    o.log(
      `[3/6] accelerator (untrusted${onGpu ? ', on the CUDA GPU' : ''}) listening on ${accelerator.address}` +
        ` (${cores.accelerator} thread${cores.accelerator === 1 ? '' : 's'}; the trusted process ${cores.trusted})`,
    );
    o.log(
      `[4/6] split mode: a trusted process (direct launcher: no SGX on this machine, so its attestation is SIMULATED and accepted only because this is the demo) receives the encrypted data and its key over the attested channel, trains ${settings.model} with every Conv2d/Linear product on the accelerator, ${o.integrity === 'exact' ? 'quantized to integers, computed exactly and checked' : 'in float32 and checked'} with Freivalds${o.integrity === 'exact' ? ((o.field ?? 'wide') === 'wide' ? ' modulo 2^50 − 27' : ' modulo 2^24 − 3') : ''}`,
    );
    const split = await remoteRun(
      'split',
      o,
      settings,
      enc,
      accelerator,
      join(work, 'split.safetensors'),
      cores.trusted,
    );
    o.log(
      `      test accuracy ${fmtPct(split.run.accuracy)} on ${o.testImages} images, ${split.run.remote?.calls ?? 0} products verified`,
    );
    o.log('[5/6] the same training in enclave mode (every product inside the trusted process)');
    const enclave = await remoteRun('enclave', o, settings, enc, null, join(work, 'enclave.safetensors'));
    o.log('[6/6] the same training natively in this process (no protection)');
    const native = await nativeRun(o, settings, data.dir, join(work, 'native.safetensors'));
    const ref = readSafetensorsFile(native.weightsPath).tensors;
    const agreement = [enclave.run, split.run].map((r) => ({
      mode: r.mode,
      state: compareStates(ref, readSafetensorsFile(r.weightsPath).tensors),
      firstLossDiff:
        native.losses.length > 0 && r.losses.length > 0
          ? Math.abs(native.losses[0]! - r.losses[0]!)
          : Number.POSITIVE_INFINITY,
      maxLossDiff: maxLossDiff(native.losses, r.losses),
    }));
    return {
      data,
      settings,
      integrity: o.integrity,
      field: o.integrity === 'exact' ? (o.field ?? 'wide') : null,
      attestation: split.attestation,
      encryption: { bytes: enc.bytes, ms: enc.ms },
      runs: [native, enclave.run, split.run],
      agreement,
      workDir: work,
      keptWorkDir,
    };
  } finally {
    await accelerator?.stop();
    if (!keptWorkDir) {
      process.off('exit', removeWork);
      removeWork();
    }
  }
}

export function fmtPct(x: number | null): string {
  return x === null ? 'n/a' : `${(100 * x).toFixed(1)}%`;
}
