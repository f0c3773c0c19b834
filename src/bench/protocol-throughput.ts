// Loopback throughput of large tensor frames (docs/protocol.md): the frame decoder alone (64 KiB
// chunks in, one payload copy, zero-copy tensor views out), a raw TCP stream of the same size as the
// baseline, and whole calls through a live accelerator: a large request with a small result (upload)
// and a small request with a large result (download). Each workload is checked against a local
// computation before it is timed. Exported for the CLI (`bench protocol`); results are JSON.
import { createConnection, createServer } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { startAcceleratorServer } from '../accelerator/server.js';
import { AcceleratorClient } from '../enclave/accelerator-client.js';
import { kernels } from '../kernels/index.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import { decodeRequest, encodeRequest } from '../protocol/linear-codec.js';
import type { LinearRequest } from '../protocol/linear-request.js';
import { PayloadPool } from '../protocol/payload-pool.js';
import { median } from './stats.js';

export interface ProtocolBenchOptions {
  /** Size of the large tensor of each workload in MiB (default 256). */
  readonly mib?: number;
  /** Timed samples per workload; medians reported (default 5). */
  readonly reps?: number;
  /** Kernel threads on the accelerator (default: all cores). */
  readonly threads?: number;
}

export interface ProtocolWorkload {
  readonly name: string;
  /** Bytes counted for the rate (the large frame, header included). */
  readonly bytes: number;
  readonly samplesMs: readonly number[];
  readonly medianMs: number;
  /** bytes / median, in GB/s (10^9 bytes per second). */
  readonly gbPerSec: number;
  /** Accelerator compute time of the median call (calls only). */
  readonly computeMs?: number;
  /** bytes / (median − compute), GB/s: the rate of the transfer itself (calls only). */
  readonly transferGbPerSec?: number;
}

export interface ProtocolBenchReport {
  readonly kind: 'protocol-throughput';
  readonly machine: {
    readonly cpu: string;
    readonly cores: number;
    readonly node: string;
    readonly loadAverage: number[];
  };
  readonly mib: number;
  readonly reps: number;
  readonly workloads: readonly ProtocolWorkload[];
}

function fill(n: number): Float32Array {
  const a = new Float32Array(n);
  let x = 12345;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    a[i] = (x >>> 8) / 2 ** 23 - 1;
  }
  return a;
}

function workload(name: string, bytes: number, samplesMs: number[], computeMs?: number[]): ProtocolWorkload {
  const medianMs = median(samplesMs);
  const w: ProtocolWorkload = { name, bytes, samplesMs, medianMs, gbPerSec: bytes / medianMs / 1e6 };
  if (computeMs === undefined) return w;
  const c = median(computeMs);
  return { ...w, computeMs: c, transferGbPerSec: bytes / Math.max(1e-3, medianMs - c) / 1e6 };
}

function sameData(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} values, expected ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i])))
      throw new Error(`${what}: value ${i} differs`);
  }
}

/** Decoder alone: the frame pushed in 64 KiB chunks, then its request decoded. */
function decoderWorkload(req: LinearRequest, reps: number): ProtocolWorkload {
  const frame = Buffer.concat(encodeRequest(1, req));
  // As on the accelerator: payload buffers are recycled once the request is answered.
  const pool = new PayloadPool(frame.length * 2);
  const run = () => {
    const d = new FrameDecoder({ maxPayloadBytes: frame.length, allocate: (n) => pool.take(n) });
    let f = null;
    for (let at = 0; at < frame.length; at += 65536) {
      d.push(frame.subarray(at, at + 65536));
      f = d.next() ?? f;
    }
    return decodeRequest(f!.payload);
  };
  const checked = run();
  sameData(checked.a.data, req.a.data, 'decoder');
  pool.give(checked.a.data.buffer as ArrayBuffer);
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const decoded = run();
    samples.push(performance.now() - t0);
    pool.give(decoded.a.data.buffer as ArrayBuffer);
  }
  return workload('decode 64 KiB chunks (in process)', frame.length, samples);
}

/** Raw TCP on loopback: the same number of bytes written to a socket whose peer only counts them. */
async function rawTcpWorkload(bytes: number, reps: number): Promise<ProtocolWorkload> {
  const payload = Buffer.alloc(bytes, 7);
  let waiting: { need: number; got: number; done: () => void } | null = null;
  const server = createServer((s) => {
    s.on('data', (c: Buffer) => {
      if (waiting === null) return;
      waiting.got += c.length;
      if (waiting.got >= waiting.need) {
        const w = waiting;
        waiting = null;
        w.done();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const sock = createConnection({ host: '127.0.0.1', port });
  await new Promise<void>((r) => sock.once('connect', () => r()));
  const samples: number[] = [];
  for (let r = 0; r < reps + 1; r++) {
    const t0 = performance.now();
    await new Promise<void>((done) => {
      waiting = { need: bytes, got: 0, done };
      sock.write(payload);
    });
    if (r > 0) samples.push(performance.now() - t0); // the first pass warms the socket buffers
  }
  sock.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  return workload('raw TCP write (baseline)', bytes, samples);
}

export async function runProtocolBench(options: ProtocolBenchOptions = {}): Promise<ProtocolBenchReport> {
  const mib = options.mib ?? 256;
  const reps = options.reps ?? 5;
  const elems = Math.floor((mib * 2 ** 20) / 4);
  const cols = 4096;
  const rows = Math.max(1, Math.floor(elems / cols));
  // Upload: dense x [rows, 4096] · w [1, 4096]ᵀ → [rows, 1] (a GEMV: cheap next to the transfer).
  const up: LinearRequest = {
    op: 'dense',
    arith: 'f32',
    a: { shape: [rows, cols], data: fill(rows * cols) },
    b: { shape: [1, cols], data: fill(cols) },
  };
  // Download: denseGradWeight dy [1, rows]ᵀ · x [1, 4096] → [rows, 4096] (an outer product).
  const down: LinearRequest = {
    op: 'denseGradWeight',
    arith: 'f32',
    a: { shape: [1, rows], data: fill(rows) },
    b: { shape: [1, cols], data: fill(cols) },
  };
  const expectUp = new Float32Array(rows);
  kernels.sgemm(
    false,
    true,
    rows,
    1,
    cols,
    up.a.data as Float32Array,
    up.b.data as Float32Array,
    0,
    expectUp,
  );
  const expectDown = new Float32Array(rows * cols);
  kernels.sgemm(
    true,
    false,
    rows,
    cols,
    1,
    down.a.data as Float32Array,
    down.b.data as Float32Array,
    0,
    expectDown,
  );

  const workloads: ProtocolWorkload[] = [decoderWorkload(up, reps)];
  workloads.push(await rawTcpWorkload(16 + up.a.data.byteLength, reps));

  const frameLimit = Math.min(2 ** 32, 2 * mib * 2 ** 20 + 2 ** 20);
  const server = await startAcceleratorServer({
    maxFrameBytes: frameLimit,
    log: () => {},
    ...(options.threads !== undefined ? { threads: options.threads } : {}),
  });
  const client = await AcceleratorClient.connect(`127.0.0.1:${server.address().port}`, {
    maxFrameBytes: frameLimit,
    deadlineMs: 600_000,
  });
  try {
    for (const [name, req, expect] of [
      ['call: large request, small result', up, expectUp],
      ['call: small request, large result', down, expectDown],
    ] as const) {
      const first = await client.call(req);
      sameData(first.result.data, expect, name);
      const bytes = req === up ? first.stats.bytesSent : first.stats.bytesReceived;
      client.release(first);
      const samples: number[] = [];
      const compute: number[] = [];
      for (let r = 0; r < reps; r++) {
        const t0 = performance.now();
        const reply = await client.call(req);
        samples.push(performance.now() - t0);
        compute.push(reply.stats.computeMs);
        client.release(reply); // as a caller that copies what it verified would
      }
      workloads.push(workload(name, bytes, samples, compute));
    }
  } finally {
    await client.close();
    await server.close();
  }
  return {
    kind: 'protocol-throughput',
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      loadAverage: loadavg(),
    },
    mib,
    reps,
    workloads,
  };
}

export function protocolBenchTable(r: ProtocolBenchReport): string {
  const lines = [
    `protocol throughput, ${r.mib} MiB tensors, median of ${r.reps} (${r.machine.cpu}, load ${r.machine.loadAverage.map((l) => l.toFixed(1)).join(' ')})`,
    'workload                                 bytes        median ms   GB/s   transfer GB/s (excl. compute)',
  ];
  for (const w of r.workloads) {
    lines.push(
      `${w.name.padEnd(40)} ${String(w.bytes).padStart(11)}  ${w.medianMs.toFixed(1).padStart(9)}  ${w.gbPerSec.toFixed(2).padStart(5)}` +
        (w.transferGbPerSec !== undefined
          ? `   ${w.transferGbPerSec.toFixed(2)} (compute ${w.computeMs!.toFixed(1)} ms)`
          : ''),
    );
  }
  return lines.join('\n');
}
