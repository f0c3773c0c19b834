// Child process of signals.test.ts: runs convolution backward-weight products (oneDNN's JIT sgemm, in
// deterministic mode) over and over while its parent sends it signals, and reports whether every result
// kept the bits of the first one. Messages: parent → 'stop'; child → {ready} then {rounds, mismatches,
// handled}.
import type { ConvGeom } from '../../src/kernels/api.js';
import { convOutSize } from '../../src/kernels/api.js';
import { nativeKernels } from '../../src/kernels/native.js';

const threads = Number(process.argv[2] ?? '1');
const durationMs = Number(process.argv[3] ?? '1500');
nativeKernels.setThreads(threads);
nativeKernels.setDeterministic(true);

let handled = 0;
process.on('SIGUSR2', () => {
  handled++;
});

// AlexNet's first and third convolutions: shapes whose backward-weight GEMMs reach the JIT kernels.
const shapes: ConvGeom[] = [
  { n: 1, c: 3, h: 224, w: 224, o: 64, k: 11, stride: 4, padding: 2 },
  { n: 1, c: 192, h: 13, w: 13, o: 384, k: 3, stride: 1, padding: 1 },
];
const cases = shapes.map((g) => {
  const oh = convOutSize(g.h, g.k, g.stride, g.padding);
  const ow = convOutSize(g.w, g.k, g.stride, g.padding);
  const x = Float32Array.from({ length: g.n * g.c * g.h * g.w }, (_, i) => Math.sin(i));
  const dy = Float32Array.from({ length: g.n * g.o * oh * ow }, (_, i) => Math.cos(i));
  const first = new Float32Array(g.o * g.c * g.k * g.k);
  nativeKernels.conv2dBackwardWeight(g, dy, x, first);
  return { g, x, dy, first, out: new Float32Array(first.length) };
});

process.on('message', (m) => {
  if (m === 'stop') process.exit(0);
});
process.send?.({ ready: true });
const t0 = Date.now();
let rounds = 0;
let mismatches = 0;
while (Date.now() - t0 < durationMs) {
  for (const c of cases) {
    nativeKernels.conv2dBackwardWeight(c.g, c.dy, c.x, c.out);
    if (c.out.some((v, i) => !Object.is(v, c.first[i]))) mismatches++;
  }
  rounds++;
  await new Promise((resolve) => setImmediate(resolve)); // lets the signal handlers run
}
process.send?.({ rounds, mismatches, handled });
