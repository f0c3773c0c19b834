// Benchmark (not a test: run by hand, `node dist/test/accelerator/wide-conv.bench.js [--reps N]`): the
// accelerator's exact convolutions, arith wide (one float64 GEMM over the whole inner dimension, no
// reduction) against arith modp (128-term chunks, reduced after each), on the native engine: conv
// 64→64 3×3 on 56×56, N = 4, all three conv products, at 1 and 2 threads; and the client's check of a
// result of that size (checkWide against checkCentered). Before timing, the wide result reduced mod p
// must equal the modp result. Wall-clock medians in ms; the JSON goes to stdout.
import assert from 'node:assert/strict';
import { computeLinear } from '../../src/accelerator/compute.js';
import { reduceCentered } from '../../src/accelerator/modp-ops.js';
import { kernels } from '../../src/kernels/index.js';
import { checkCentered, checkWide } from '../../src/protocol/linear-codec.js';
import type { LinearRequest } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest } from '../protocol/requests.js';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 5;
const DIMS = { n: 4, c: 64, h: 56, w: 56, o: 64, k: 3, stride: 1, padding: 1, i: 0 };
// Operands within the honest bound for the longest sum (conv2dGradWeight: N·56² = 12 544 terms).
const BOUND = Math.floor(Math.sqrt(2 ** 47 / (DIMS.n * DIMS.h * DIMS.w)));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

async function time(fn: () => Promise<unknown> | unknown): Promise<number> {
  const samples: number[] = [];
  await fn(); // warm up (workspaces, page faults)
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

function clamp(req: LinearRequest): LinearRequest {
  const c = (t: LinearRequest['a']) => ({
    shape: t.shape,
    data: Int32Array.from(t.data, (v) => Math.max(-BOUND, Math.min(BOUND, v))),
  });
  return { ...req, a: c(req.a), b: c(req.b) };
}

const rows: Record<string, number | string>[] = [];
for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
  const modp = clamp(makeRequest(new SeededRng(1), op, 'modp', DIMS));
  const wide: LinearRequest = { ...modp, arith: 'wide' };
  const y = (await computeLinear(kernels, wide, 'native')).data as Float64Array;
  const r = Float64Array.from(y);
  reduceCentered(r);
  assert.deepEqual(Int32Array.from(r), (await computeLinear(kernels, modp, 'native')).data, op);
  for (const threads of [1, 2]) {
    kernels.setThreads(threads);
    const modpMs = await time(() => computeLinear(kernels, modp, 'native'));
    const wideMs = await time(() => computeLinear(kernels, wide, 'native'));
    rows.push({ op, threads, modpMs, wideMs, ratio: wideMs / modpMs });
  }
}
const n = DIMS.n * DIMS.o * DIMS.h * DIMS.w;
const f64 = new Float64Array(n).fill(2 ** 40 + 1);
const i32 = new Int32Array(n).fill(12345);
const checks = {
  elements: n,
  checkWideMs: await time(() => checkWide(f64, 'result')),
  checkCenteredMs: await time(() => checkCentered(i32, 'result')),
};
process.stdout.write(`${JSON.stringify({ reps, dims: DIMS, bound: BOUND, rows, checks }, null, 2)}\n`);
