// The JSON that `tee-offload bench EXPERIMENT --out DIR` writes (one file per experiment run, named
// `<experiment>-<timestamp>.json`) and that `tee-offload report DIR` reads. Every record may carry
// `error` instead of its numbers: a failed run is recorded, never fatal to the rest.
import type { MachineInfo } from '../machine.js';

export const EXPERIMENT_SCHEMA = 'tee-offload/experiment@1' as const;

export type ExperimentName = 'modes' | 'breakdown' | 'matrix' | 'crypto' | 'equivalence' | 'peer';

/** The ways to run a step (DESIGN.md modes); split is run with each integrity level. */
export type RunMode =
  | 'native'
  | 'enclave'
  | 'split-exact'
  | 'split-exact-p24'
  | 'split-float'
  | 'accelerator';

interface RecordBase {
  /** Set when this measurement failed; the numeric fields are then absent. */
  readonly error?: string;
}

/**
 * `modes`: one training step at batch 1, or an epoch of 64 images at batch 4, in one mode; 'train' is a
 * whole training run of `images` images (what `tee-offload demo` records).
 */
export interface ModesRecord extends RecordBase {
  readonly model: string;
  readonly size: number;
  readonly batch: number;
  readonly workload: 'step' | 'epoch64' | 'train';
  readonly mode: RunMode;
  readonly images: number;
  /** Wall ms of the whole workload, one per repeat. */
  readonly samplesMs?: readonly number[];
  readonly medianMs?: number;
  readonly imagesPerSec?: number;
}

/** Kinds of time in a split-mode step (the prototype's VGG19 table, extended). */
export type BreakdownKind =
  | 'conv'
  | 'linear'
  | 'batchnorm'
  | 'relu'
  | 'pooling'
  | 'quantize'
  | 'send'
  | 'accelerator'
  | 'receive'
  | 'verify'
  | 'unblind'
  | 'loss'
  | 'optimizer'
  | 'other';

/** `breakdown`: one split-mode step per model, by kind and by layer (ms, medians over repeats). */
export interface BreakdownRecord extends RecordBase {
  readonly model: string;
  readonly size: number;
  readonly batch: number;
  readonly mode: RunMode;
  readonly totalMs?: number;
  /** Sums to about totalMs; 'conv'/'linear' is trusted-side time of those layers outside the phases below. */
  readonly byKind?: readonly { readonly kind: BreakdownKind; readonly ms: number }[];
  readonly byLayer?: readonly {
    readonly layer: string;
    readonly type: string;
    readonly ms: number;
    readonly phases?: Readonly<Partial<Record<BreakdownKind, number>>>;
  }[];
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
  /** Freivalds checks run and passed in the step. */
  readonly checks?: number;
  readonly checksPassed?: number;
}

/** `matrix`: one linear layer (rows × inner times inner × cols), trusted-only against split. */
export interface MatrixRecord extends RecordBase {
  readonly rows: number;
  readonly inner: number;
  readonly cols: number;
  readonly mode: 'trusted' | RunMode;
  /** Phase medians in ms: load (quantize/blind + frame), send, compute, receive, verify. */
  readonly phases?: Readonly<
    Partial<Record<'load' | 'send' | 'compute' | 'receive' | 'verify' | 'unblind', number>>
  >;
  readonly totalMs?: number;
}

/** `crypto`: AES-256-GCM over a buffer/file, in the client process or in the trusted process. */
export interface CryptoRecord extends RecordBase {
  readonly where: 'client' | 'trusted';
  readonly op: 'encrypt' | 'decrypt';
  readonly bytes: number;
  readonly medianMs?: number;
  readonly gbPerSec?: number;
}

/** `equivalence`: one quantity of one mode/thread count against native at the reference thread count. */
export interface EquivalenceRecord extends RecordBase {
  readonly model: string;
  readonly mode: RunMode;
  readonly threads: number;
  readonly phase: 'inference' | 'train-step';
  /** 'logits', 'loss', or 'grad:<parameter name>' (the worst gradient is also reported as 'grads'). */
  readonly quantity: string;
  readonly maxAbsDiff?: number;
  /** Largest |reference value| of that quantity, so the Δ can be read relatively. */
  readonly maxAbsRef?: number;
  readonly tolerance: number;
  /** True where the design promises bit-identical results (then tolerance is 0). */
  readonly bitIdenticalExpected: boolean;
  readonly pass?: boolean;
}

/** `peer`: the same step workloads in PyTorch CPU, side by side; ratio = torch ms / our ms. */
export interface PeerRecord extends RecordBase {
  readonly model: string;
  readonly size: number;
  readonly batch: number;
  readonly threads: number;
  readonly oursMs?: number;
  readonly torchMs?: number;
  readonly ratio?: number;
  /** Set when PyTorch is not available: the record is kept, with the reason. */
  readonly skipped?: string;
}

export interface RecordByExperiment {
  readonly modes: ModesRecord;
  readonly breakdown: BreakdownRecord;
  readonly matrix: MatrixRecord;
  readonly crypto: CryptoRecord;
  readonly equivalence: EquivalenceRecord;
  readonly peer: PeerRecord;
}

export interface ExperimentFile<E extends ExperimentName = ExperimentName> {
  readonly schema: typeof EXPERIMENT_SCHEMA;
  readonly experiment: E;
  readonly startedAt: string;
  readonly finishedAt: string;
  /** The command line that produced the file, for the report. */
  readonly command: string;
  readonly machine: MachineInfo;
  readonly settings: Readonly<Record<string, unknown>>;
  readonly records: readonly RecordByExperiment[E][];
}
