// sgx.enclave_size: without EDMM the whole enclave is committed when it starts, and an allocation past
// it fails, so the estimate adds every resident part of a training step in the trusted process and
// rounds the sum UP to a power of two (SGX requires one). Each item says where its number comes from;
// `tee-offload manifest` prints them. docs/gramine.md explains the constants. Training reuses buffers
// (trainStep → enableBufferReuse): every layer's output AND input gradient stay allocated between
// steps; eval and infer (predict) keep only the outputs, a subset, so the training step is the bound.
import { activationProfile } from './activation-tracer.js';

const MiB = 2 ** 20;

/** V8's old-space cap: `node --max-old-space-size` in the manifest's argv (tensors live outside it). */
export const V8_OLD_SPACE_MIB = 512;
/**
 * Node.js itself: the capped V8 old space, the young generation (3 × 16 MiB semi-spaces), V8's code
 * range (128 MiB reserved on x64) and Node's own state (libuv, OpenSSL, ICU, snapshot): 768 MiB.
 */
export const NODE_RUNTIME_BYTES = 768 * MiB;
/** Gramine's LibOS and PAL: their heaps, the manifest and the trusted-file hash tables. */
export const GRAMINE_RUNTIME_BYTES = 64 * MiB;
/** sys.stack.size: V8 needs ~1 MiB of stack on the main thread; Gramine's default 256K is too small. */
export const THREAD_STACK_BYTES = 2 * MiB;
/** Per-thread memory of Gramine beyond the stack (TCS, SSA frames, TLS, signal stack), rounded up. */
export const THREAD_OVERHEAD_BYTES = 256 * 1024;
/** MALLOC_ARENA_MAX in the manifest; each glibc arena reserves up to 64 MiB of enclave memory. */
export const MALLOC_ARENA_MAX = 4;
export const MALLOC_ARENA_BYTES = 64 * MiB;
/** The dataset held decrypted in memory unless told (CIFAR-10 train + test as bytes is 184 MB). */
export const DEFAULT_DATA_BYTES = 256 * MiB;
/** Mapped binaries (node, the addon, its libraries) when their sizes are unknown. */
export const DEFAULT_BINARIES_BYTES = 256 * MiB;
/** Tensors the tracer does not see (residual sums, dropout masks, loss buffers) + allocator slack. */
export const ACTIVATION_SLACK = 1.25;

export type EnclaveMode = 'enclave' | 'split';

export interface EnclaveSizeInput {
  readonly model: string;
  readonly numClasses: number;
  readonly inputSize: number;
  readonly batchSize: number;
  /** Kernel threads (each has its own conv workspace). */
  readonly threads: number;
  /** sgx.max_threads: every thread slot has a stack. */
  readonly maxThreads: number;
  readonly mode: EnclaveMode;
  /** Decrypted dataset in memory (default DEFAULT_DATA_BYTES). */
  readonly dataBytes?: number;
  /** Σ sizes of node, the addon and its libraries (default DEFAULT_BINARIES_BYTES). */
  readonly binariesBytes?: number;
}

export interface SizeItem {
  readonly name: string;
  readonly bytes: number;
  readonly formula: string;
}

export interface EnclaveSizeEstimate {
  readonly items: readonly SizeItem[];
  /** Σ items. */
  readonly estimateBytes: number;
  /** The power of two ≥ estimateBytes written as sgx.enclave_size. */
  readonly enclaveBytes: number;
  /** enclaveBytes in manifest syntax ("4G", "512M"). */
  readonly enclaveSize: string;
  readonly parameters: number;
  readonly profile: 'traced' | 'scaled';
}

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${name} must be a positive integer, got ${n}`);
  return n;
}

/** The smallest power of two ≥ n (n ≥ 1). */
export function nextPowerOfTwo(n: number): number {
  if (!(n >= 1) || !Number.isFinite(n)) throw new RangeError(`expected a finite number ≥ 1, got ${n}`);
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** A byte count in Gramine's size syntax: the largest unit (G, M, K) that divides it exactly. */
export function gramineSize(bytes: number): string {
  for (const [unit, scale] of [
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale}${unit}`;
  }
  return String(bytes);
}

/** Bytes in a human unit with two decimals (for the printed breakdown). */
export function humanBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

export function estimateEnclaveSize(o: EnclaveSizeInput): EnclaveSizeEstimate {
  const b = positive('batchSize', o.batchSize);
  const t = positive('threads', o.threads);
  const threads = positive('maxThreads', o.maxThreads);
  if (o.mode !== 'enclave' && o.mode !== 'split')
    throw new RangeError(`mode must be enclave or split, got ${o.mode}`);
  const p = activationProfile(o.model, { numClasses: o.numClasses, inputSize: o.inputSize });
  const f32 = 4;
  const params = f32 * p.parameters;
  const items: SizeItem[] = [
    { name: 'weights', bytes: params, formula: `4 B × ${p.parameters} parameters` },
    { name: 'gradients', bytes: params, formula: '4 B × parameters' },
    { name: 'momentum buffers', bytes: params, formula: '4 B × parameters (SGD momentum)' },
    {
      name: 'activations kept for backward',
      bytes: Math.ceil(ACTIVATION_SLACK * b * (f32 * (p.input + p.saved) + 4 * p.indices)),
      formula: `${ACTIVATION_SLACK} × ${b} × (4 B × ${p.input + p.saved} + 4 B × ${p.indices} argmax)`,
    },
    {
      name: 'input gradients (reused)',
      bytes: f32 * (b * p.grads + p.channelStats),
      formula: `4 B × (${b} × ${p.grads} dx of every layer + ${p.channelStats} BatchNorm per-channel)`,
    },
    {
      name: 'next batch (prefetch)',
      bytes: f32 * b * p.input,
      formula: `4 B × ${b} × ${p.input}`,
    },
    {
      name: 'kernel workspaces',
      bytes: f32 * t * (p.im2col + p.convWeight),
      formula: `4 B × ${t} threads × (${p.im2col} im2col + ${p.convWeight} weight-gradient)`,
    },
  ];
  if (o.mode === 'split') {
    // The largest product in flight: its encoded operand (int32), the result frame being read (float64 in
    // the wide exact field; verified and decoded in place) and, for a dense result, its two int32 limbs.
    // A weight gradient's result can outgrow every activation (VGG19-BN's first classifier layer).
    const largestResult = Math.max(b * p.largest, p.largestWeight);
    items.push({
      name: 'wire buffers (split)',
      bytes: 20 * largestResult,
      formula: `(4 + 8 + 8) B × ${largestResult} (encoded operand, result frame, limbs of a dense result; max of ${b} × ${p.largest} and the largest weight)`,
    });
  }
  const data = o.dataBytes ?? DEFAULT_DATA_BYTES;
  const binaries = o.binariesBytes ?? DEFAULT_BINARIES_BYTES;
  items.push(
    {
      name: 'dataset in memory',
      bytes: data,
      formula: o.dataBytes === undefined ? 'default 256 MiB' : '--data-mib',
    },
    {
      name: 'Node.js / V8',
      bytes: NODE_RUNTIME_BYTES,
      formula: `${V8_OLD_SPACE_MIB} MiB old space (--max-old-space-size) + young gen, code range, Node state`,
    },
    {
      name: 'binaries and libraries',
      bytes: binaries,
      formula:
        o.binariesBytes === undefined
          ? 'default 256 MiB (sizes unknown)'
          : 'Σ file sizes (node, addon, libs)',
    },
    {
      name: 'thread stacks',
      bytes: threads * (THREAD_STACK_BYTES + THREAD_OVERHEAD_BYTES),
      formula: `${threads} threads × (2 MiB stack + 256 KiB Gramine per-thread)`,
    },
    {
      name: 'malloc arenas',
      bytes: MALLOC_ARENA_MAX * MALLOC_ARENA_BYTES,
      formula: `MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX} × 64 MiB`,
    },
    { name: 'Gramine LibOS + PAL', bytes: GRAMINE_RUNTIME_BYTES, formula: '64 MiB' },
  );
  const estimateBytes = items.reduce((n, i) => n + i.bytes, 0);
  const enclaveBytes = nextPowerOfTwo(estimateBytes);
  return {
    items,
    estimateBytes,
    enclaveBytes,
    enclaveSize: gramineSize(enclaveBytes),
    parameters: p.parameters,
    profile: p.source,
  };
}
