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
  /** The request's buffers, dead now: the caller may recycle them (PayloadPool). */
  readonly spent: readonly ArrayBuffer[];
}

export interface ComputeBackend {
  /** Runs one request; the request's arrays may be detached (transferred) by the call. */
  run(req: LinearRequest): Promise<ComputeOutcome>;
  close(): Promise<void>;
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

  async run(req: LinearRequest): Promise<ComputeOutcome> {
    const t0 = performance.now();
    const result = await computeLinear(kernels, req, defaultModpEngine(), this.gpu);
    const spent = [...new Set([req.a.data.buffer, req.b.data.buffer])].filter(
      (b): b is ArrayBuffer => b instanceof ArrayBuffer && b !== result.data.buffer,
    );
    return { result, computeMs: performance.now() - t0, spent };
  }

  async close(): Promise<void> {}
}

interface Pending {
  resolve(o: ComputeOutcome): void;
  reject(e: Error): void;
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

  run(req: LinearRequest): Promise<ComputeOutcome> {
    if (this.closed) return Promise.reject(new Error('compute backend is closed'));
    const w = this.ensureWorker();
    const seq = ++this.seq;
    return new Promise<ComputeOutcome>((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      // The operands are views of one unpooled payload buffer: moving it costs nothing.
      const transfer = new Set<ArrayBuffer>();
      for (const t of [req.a, req.b]) {
        if (t.data.buffer instanceof ArrayBuffer && t.data.buffer.byteLength > 0) transfer.add(t.data.buffer);
      }
      w.postMessage({ seq, req } satisfies WorkerJob, [...transfer]);
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
    const w = new Worker(new URL('./compute-worker.js', import.meta.url), {
      workerData: { threads: this.threads, gpu: this.gpu },
      // Flags that only make sense for a main script (node --input-type=module -e …) break a worker.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
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
