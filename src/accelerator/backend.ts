// Where the accelerator computes: on one worker thread (default: the main thread keeps serving sockets
// while the kernels run) or inline on the calling thread (tests, debugging). Both run requests one at
// a time, in the order they are given; the kernels use --threads cores inside each product.
import { Worker } from 'node:worker_threads';
import { type ErrorCode, TeeError } from '../errors.js';
import { kernels, nativeAvailable } from '../kernels/index.js';
import type { LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { computeLinear, defaultModpEngine } from './compute.js';
import type { WorkerJob, WorkerReply } from './compute-worker.js';
import { type GpuSpec, openGpu } from './gpu-linear.js';

export interface ComputeOutcome {
  readonly result: WireTensor;
  readonly computeMs: number;
  /** The request's buffers (and `out` when the result is not in it), dead now: the caller may recycle them (PayloadPool). */
  readonly spent: readonly ArrayBufferLike[];
}

export interface ComputeBackend {
  /**
   * Runs one request; the request's arrays and `out` may be detached (transferred) by the call. out: a
   * buffer for the result (computeLinear), which then comes back as the result's buffer or in `spent`.
   */
  run(req: LinearRequest, out?: ArrayBufferLike): Promise<ComputeOutcome>;
  close(): Promise<void>;
}

/** The buffers of a finished request that are neither the result's nor empty: free for reuse. */
export function spentBuffers(
  req: LinearRequest,
  result: WireTensor,
  out?: ArrayBufferLike,
): ArrayBufferLike[] {
  return [...new Set([req.a.data.buffer, req.b.data.buffer, out])].filter(
    (b): b is ArrayBufferLike =>
      (b instanceof ArrayBuffer || b instanceof SharedArrayBuffer) &&
      b !== result.data.buffer &&
      b.byteLength > 0,
  );
}

/** What a message between threads must transfer: the plain ArrayBuffers (shared ones are shared as they are). */
export function transferable(buffers: Iterable<ArrayBufferLike | undefined>): ArrayBuffer[] {
  return [...new Set(buffers)].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer && b.byteLength > 0);
}

const KNOWN_CODES = new Set<string>([
  'E_SHAPE',
  'E_FORMAT',
  'E_STATE',
  'E_IO',
  'E_NATIVE',
  'E_USAGE',
  'E_FRAME',
  'E_AUTH',
  'E_VERIFY',
  'E_ATTEST',
  'E_NETWORK',
  'E_NUMERIC',
]);

function toError(code: string, message: string): Error {
  return KNOWN_CODES.has(code) ? new TeeError(code as ErrorCode, message) : new Error(message);
}

export class InlineBackend implements ComputeBackend {
  private readonly gpu: boolean;

  /** gpu: run the products on that GPU (opened here; E_NATIVE when it cannot be). */
  constructor(threads?: number, gpu?: GpuSpec) {
    if (threads !== undefined) kernels.setThreads(threads);
    if (gpu !== undefined) openGpu(gpu.kind, gpu);
    this.gpu = gpu !== undefined;
  }

  async run(req: LinearRequest, out?: ArrayBufferLike): Promise<ComputeOutcome> {
    const t0 = performance.now();
    const result = await computeLinear(kernels, req, defaultModpEngine(), this.gpu, out);
    return { result, computeMs: performance.now() - t0, spent: spentBuffers(req, result, out) };
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve(o: ComputeOutcome): void;
  reject(e: Error): void;
}

/**
 * The compute worker, with this process's Node flags where a worker accepts them. Flags that only make
 * sense for a main script (node --input-type=module -e …) are dropped; a per-process flag (a V8 option
 * such as --trace-gc or --max-old-space-size) makes Node refuse the whole list, and the worker then
 * starts without any rather than every product failing.
 */
function startWorker(workerData: { threads: number | undefined; gpu: GpuSpec | undefined }): Worker {
  const url = new URL('./compute-worker.js', import.meta.url);
  const execArgv = process.execArgv.filter((a) => !a.startsWith('--input-type'));
  try {
    return new Worker(url, { workerData, execArgv });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(url, { workerData, execArgv: [] });
  }
}

export class WorkerBackend implements ComputeBackend {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private seq = 0;
  private closed = false;
  private readonly threads: number | undefined;
  private readonly gpu: GpuSpec | undefined;

  /** gpu: the worker runs the products on that GPU (opened here first, so that a failure shows now). */
  constructor(threads?: number, gpu?: GpuSpec) {
    this.threads = threads;
    this.gpu =
      gpu === undefined ? undefined : { ...gpu, ...(gpu.libDirs ? { libDirs: [...gpu.libDirs] } : {}) };
    if (gpu !== undefined) openGpu(gpu.kind, gpu);
    // Load the addon on this thread too, so that it stays mapped when the worker exits: a worker's
    // exit unloads the addons only it loaded, under OpenMP's still-running pool threads (SIGSEGV).
    nativeAvailable();
  }

  run(req: LinearRequest, out?: ArrayBufferLike): Promise<ComputeOutcome> {
    if (this.closed) return Promise.reject(new Error('compute backend is closed'));
    const w = this.ensureWorker();
    const seq = ++this.seq;
    return new Promise<ComputeOutcome>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // The operands are views of one payload buffer: a shared one is shared, a plain one moved.
      const transfer = transferable([req.a.data.buffer, req.b.data.buffer, out]);
      w.postMessage({ seq, req, ...(out === undefined ? {} : { out }) } satisfies WorkerJob, transfer);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (w !== null) await w.terminate();
    this.failAll(new Error('compute backend closed'));
  }

  private ensureWorker(): Worker {
    if (this.worker !== null) return this.worker;
    const w = startWorker({ threads: this.threads, gpu: this.gpu });
    w.on('message', (m: WorkerReply) => {
      const p = this.pending.get(m.seq);
      if (p === undefined) return;
      this.pending.delete(m.seq);
      if ('error' in m) p.reject(toError(m.error.code, m.error.message));
      else p.resolve({ result: m.result, computeMs: m.computeMs, spent: m.spent });
    });
    w.on('error', (e) => {
      if (this.worker === w) this.worker = null;
      this.failAll(new TeeError('E_NATIVE', `compute worker failed: ${e.message}`));
    });
    w.on('exit', () => {
      if (this.worker === w) this.worker = null;
      this.failAll(new TeeError('E_NATIVE', 'compute worker exited'));
    });
    // An idle worker must not keep the process alive (the server's sockets do that).
    w.unref();
    this.worker = w;
    return w;
  }

  private failAll(e: Error): void {
    const all = [...this.pending.values()];
    this.pending.clear();
    for (const p of all) p.reject(e);
  }
}
