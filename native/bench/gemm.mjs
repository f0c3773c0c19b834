// sgemm/dgemm 1024³ through the addon's GEMM (OpenBLAS when built in) and through the built-in blocked
// kernel, at 1 and 2 threads: median GFLOP/s of 9 runs after warm-up, taken when the CPUs are quiet.
// Usage (after `npx tsc -p . && npm run build`): node native/bench/gemm.mjs [addon face module]
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const face = process.argv[2] ?? join(root, 'dist', 'src', 'kernels', 'native.js');
const { nativeKernels: k, nativeInternals: ni } = await import(face);
const N = 1024;

function cpuBusy(ms) {
  const read = () => readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const d = read().map((v, i) => v - a[i]);
  const total = d.reduce((x, y) => x + y, 0);
  return total > 0 ? 1 - (d[3] + d[4]) / total : 0;
}
function waitQuiet() {
  const t0 = Date.now();
  while (cpuBusy(500) > 0.1 && Date.now() - t0 < 120_000);
}
function gflops(f) {
  for (let i = 0; i < 2; i++) f();
  const ts = [];
  for (let i = 0; i < 9; i++) {
    const t0 = process.hrtime.bigint();
    f();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  ts.sort((x, y) => x - y);
  return ((2 * N ** 3) / ts[4] / 1e9).toFixed(1);
}
const rand = (T) => T.from({ length: N * N }, () => Math.random() * 2 - 1);
const [a, b, c] = [rand(Float32Array), rand(Float32Array), new Float32Array(N * N)];
const [ad, bd, cd] = [rand(Float64Array), rand(Float64Array), new Float64Array(N * N)];
const blas = k.info().blas;
for (const t of [1, 2]) {
  k.setThreads(t);
  waitQuiet();
  console.log(
    `${t}T  sgemm ${blas} ${gflops(() => k.sgemm(false, false, N, N, N, a, b, 0, c))}` +
      `  builtin ${gflops(() => ni.sgemmBuiltin(false, false, N, N, N, a, b, 0, c))}` +
      `  | dgemm ${blas} ${gflops(() => k.dgemm(false, false, N, N, N, ad, bd, 0, cd))}` +
      `  builtin ${gflops(() => ni.dgemmBuiltin(false, false, N, N, N, ad, bd, 0, cd))} GFLOP/s`,
  );
}
