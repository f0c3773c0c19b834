// Side-by-side speed of the native kernels and PyTorch 1.13 CPU (same machine, same thread count):
// conv forward / backward-input / backward-weight and sgemm 1024³. Each pass times every op (median of
// REPS runs after warm-up) for torch, then for us, alternating; the figure is the median over PASSES
// passes, so that a burst of load from elsewhere hits both sides alike. PyTorch runs with
// OPENBLAS_NUM_THREADS = its thread count (torch.set_num_threads does not reach OpenBLAS).
// Usage (after `npx tsc -p . && npm run build`): node native/bench/compare.mjs [reps] [passes] [python]
// Prints a table and writes results/native-vs-torch.json. Not part of the test run.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const { nativeKernels: k, setConvBackend } = await import(join(root, 'dist', 'src', 'kernels', 'native.js'));
const reps = Number(process.argv[2] ?? 15);
const passes = Number(process.argv[3] ?? 3);
const python = process.argv[4] ?? '/usr/bin/python3';
const CONVS = [
  [4, 64, 32, 32, 64, 3, 1, 1],
  [4, 256, 8, 8, 256, 3, 1, 1],
  [1, 3, 224, 224, 64, 11, 4, 2],
];

// The machine is shared: before each pass wait (up to 2 minutes) until the CPUs are nearly idle.
function cpuBusy(ms) {
  const read = () => readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const a = read();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  const b = read();
  const d = b.map((v, i) => v - a[i]);
  const total = d.reduce((x, y) => x + y, 0);
  return total > 0 ? 1 - (d[3] + d[4]) / total : 0;
}
function waitQuiet() {
  const t0 = Date.now();
  let busy = cpuBusy(500);
  while (busy > 0.1 && Date.now() - t0 < 120_000) busy = cpuBusy(500);
  return busy;
}

function median(f) {
  for (let i = 0; i < 3; i++) f();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    f();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1];
}

function rand(n) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
}

function ours(threads, backend) {
  k.setThreads(threads);
  setConvBackend(backend);
  const conv = CONVS.map(([n, c, h, w, o, kk, s, p]) => {
    const g = { n, c, h, w, o, k: kk, stride: s, padding: p };
    const oh = Math.floor((h + 2 * p - kk) / s) + 1;
    const ow = Math.floor((w + 2 * p - kk) / s) + 1;
    const x = rand(n * c * h * w);
    const wt = rand(o * c * kk * kk);
    const dy = rand(n * o * oh * ow);
    const y = new Float32Array(n * o * oh * ow);
    const dx = new Float32Array(x.length);
    const dw = new Float32Array(wt.length);
    return {
      geom: [n, c, h, w, o, kk, s, p],
      fwd: median(() => k.conv2dForward(g, x, wt, y)),
      bwdInput: median(() => k.conv2dBackwardInput(g, dy, wt, dx)),
      bwdWeight: median(() => k.conv2dBackwardWeight(g, dy, x, dw)),
    };
  });
  const a = rand(1024 * 1024);
  const b = rand(1024 * 1024);
  const c = new Float32Array(1024 * 1024);
  const sgemm = median(() => k.sgemm(false, false, 1024, 1024, 1024, a, b, 0, c));
  return { threads, conv, sgemm };
}

function torch(threads) {
  const r = spawnSync(python, [join(root, 'native', 'bench', 'torch_bench.py'), String(threads), String(reps)], {
    encoding: 'utf8',
    env: { ...process.env, OPENBLAS_NUM_THREADS: String(threads), OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`torch bench failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const flops = ([n, c, h, w, o, kk, s, p]) =>
  2 * n * o * (Math.floor((h + 2 * p - kk) / s) + 1) * (Math.floor((w + 2 * p - kk) / s) + 1) * c * kk * kk;
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const info = k.info();
const backends = info.onednnBuilt ? ['onednn', 'im2col'] : ['im2col'];
const threadCounts = [1, 2].filter((t) => t <= info.maxThreads);
// samples[key] = seconds per pass
const samples = new Map();
const add = (key, t) => samples.set(key, [...(samples.get(key) ?? []), t]);
const busyBefore = [];
for (let pass = 0; pass < passes; pass++) {
  for (const threads of threadCounts) {
    busyBefore.push(waitQuiet());
    const t = torch(threads);
    t.conv.forEach((row, i) => {
      for (const op of ['fwd', 'bwdInput', 'bwdWeight']) add(`torch|${threads}|${i}|${op}`, row[op]);
    });
    add(`torch|${threads}|sgemm`, t.sgemm);
    for (const backend of backends) {
      const o = ours(threads, backend);
      o.conv.forEach((row, i) => {
        for (const op of ['fwd', 'bwdInput', 'bwdWeight']) add(`${backend}|${threads}|${i}|${op}`, row[op]);
      });
      add(`${backend}|${threads}|sgemm`, o.sgemm);
    }
  }
}
const results = { info, reps, passes, busyBefore, rows: [] };
console.log(`CPU busy before each pass (other processes): ${busyBefore.map((b) => b.toFixed(2)).join(' ')}`);
const gf = (f, t) => f / t / 1e9;
for (const threads of threadCounts) {
  for (const backend of backends) {
    CONVS.forEach((geom, i) => {
      for (const op of ['fwd', 'bwdInput', 'bwdWeight']) {
        const ours = med(samples.get(`${backend}|${threads}|${i}|${op}`));
        const th = med(samples.get(`torch|${threads}|${i}|${op}`));
        const row = { threads, backend, geom, op, oursGflops: gf(flops(geom), ours), torchGflops: gf(flops(geom), th), ratio: th / ours };
        results.rows.push(row);
        console.log(
          `${threads}T ${backend.padEnd(6)} [${geom.join(',')}]`.padEnd(40) +
            `${op.padEnd(9)} ours ${row.oursGflops.toFixed(1).padStart(6)}  torch ${row.torchGflops.toFixed(1).padStart(6)} GFLOP/s  ratio ${row.ratio.toFixed(2)}`,
        );
      }
    });
  }
  const ours = med(samples.get(`${backends[0]}|${threads}|sgemm`));
  const th = med(samples.get(`torch|${threads}|sgemm`));
  const row = { threads, backend: info.blas, op: 'sgemm1024', oursGflops: gf(2 * 1024 ** 3, ours), torchGflops: gf(2 * 1024 ** 3, th), ratio: th / ours };
  results.rows.push(row);
  console.log(
    `${threads}T sgemm 1024³ (${info.blas})`.padEnd(50) +
      `ours ${row.oursGflops.toFixed(1).padStart(6)}  torch ${row.torchGflops.toFixed(1).padStart(6)} GFLOP/s  ratio ${row.ratio.toFixed(2)}`,
  );
}
mkdirSync(join(root, 'results'), { recursive: true });
writeFileSync(join(root, 'results', 'native-vs-torch.json'), `${JSON.stringify(results, null, 2)}\n`);
