// The accelerator's compute thread: receives decoded requests (their payload ArrayBuffers transferred,
// not copied), runs them one after another on the native kernels and posts each product back
// (transferred too). Keeping the kernels off the main thread lets it go on reading and writing sockets.
import { parentPort, workerData } from 'node:worker_threads';
import { isTeeError } from '../errors.js';
import { kernels } from '../kernels/index.js';
import type { LinearRequest } from '../protocol/linear-request.js';
import { spentBuffers, transferable } from './backend.js';
import { computeLinear, defaultModpEngine } from './compute.js';
import { type GpuSpec, openGpu } from './gpu-linear.js';

export interface WorkerJob {
  readonly seq: number;
  readonly req: LinearRequest;
  /** Where the result goes (computeLinear's out), shared or transferred with the request. */
  readonly out?: ArrayBufferLike;
}

export type WorkerReply =
  | {
      readonly seq: number;
      readonly result: { shape: number[]; data: Float32Array | Int32Array | Float64Array };
      readonly computeMs: number;
      /** The request's buffers (and `out` when unused), handed back for reuse (nothing here refers to them any more). */
      readonly spent: ArrayBufferLike[];
    }
  | { readonly seq: number; readonly error: { readonly code: string; readonly message: string } };

const port = parentPort;
if (port === null) throw new Error('compute-worker.js must run as a worker thread');
const data = workerData as { threads?: number; gpu?: GpuSpec } | undefined;
if (data?.threads !== undefined) kernels.setThreads(data.threads);
// The addon's device is the process's: the server opened it already, so this is a lookup.
const gpu = data?.gpu;
if (gpu !== undefined) openGpu(gpu.kind, gpu);

port.on('message', async (job: WorkerJob) => {
  try {
    const t0 = performance.now();
    const result = await computeLinear(kernels, job.req, defaultModpEngine(), gpu !== undefined, job.out);
    const computeMs = performance.now() - t0;
    const spent = spentBuffers(job.req, result, job.out);
    const reply: WorkerReply = {
      seq: job.seq,
      result: { shape: [...result.shape], data: result.data },
      computeMs,
      spent,
    };
    port.postMessage(reply, transferable([result.data.buffer, ...spent]));
  } catch (e) {
    const code = isTeeError(e) ? e.code : 'E_INTERNAL';
    port.postMessage({ seq: job.seq, error: { code, message: (e as Error).message } } satisfies WorkerReply);
  }
});
