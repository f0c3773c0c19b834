// Benchmark (not a test: run by hand, `node dist/test/verify/verify-share.bench.js [--reps N]`): how long
// a Freivalds check takes as a share of the product it checks, for conv 64→64 3×3 on 32×32, N = 4 (all
// three conv products) and dense 2304 → 1024 at several batch sizes. Baselines, timed in the same run:
// the float32 product on the engine's kernels (what the enclave would pay to compute it itself) and the
// exact mod-p product as the accelerator computes it (float64 GEMM in 128-term chunks). Each check is
// first run on the honest result and must accept it. Every sample records wall time and this process's
// CPU time (robust on a shared, loaded machine: a descheduled thread costs wall time, not CPU time);
// ratios use the median CPU time at --threads 1 (default), in ms. The JSON goes to stdout.
import assert from 'node:assert/strict';
import {
  conv2dGradInputModp,
  conv2dGradWeightModp,
  conv2dModp,
  denseGradInputModp,
  denseGradWeightModp,
  denseModp,
} from '../../src/accelerator/modp-ops.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { freivaldsExact } from '../../src/verify/freivalds-exact.js';
import { freivaldsFloat } from '../../src/verify/freivalds-float.js';
import {
  type ConvGeometry,
  type LinearOpKind,
  type ProductGeometry,
  type ProductParams,
  productGeometry,
} from '../../src/verify/product-geometry.js';
import { quantizeProduct } from '../../src/verify/quantize.js';
import { randomFloats } from './cases.js';

interface Workload {
  readonly name: string;
  readonly op: LinearOpKind;
  readonly aShape: number[];
  readonly bShape: number[];
  readonly params: ProductParams;
}

const conv = { stride: 1, padding: 1 };
const WORKLOADS: Workload[] = [
  {
    name: 'conv 64→64 3×3 32² N4 fwd',
    op: 'conv2d',
    aShape: [4, 64, 32, 32],
    bShape: [64, 64, 3, 3],
    params: conv,
  },
  {
    name: 'conv 64→64 3×3 32² N4 bwd-input',
    op: 'conv2dGradInput',
    aShape: [4, 64, 32, 32],
    bShape: [64, 64, 3, 3],
    params: { ...conv, inputHW: [32, 32] },
  },
  {
    name: 'conv 64→64 3×3 32² N4 bwd-weight',
    op: 'conv2dGradWeight',
    aShape: [4, 64, 32, 32],
    bShape: [4, 64, 32, 32],
    params: { ...conv, k: 3 },
  },
];
for (const n of [4, 64, 256, 1024]) {
  WORKLOADS.push({
    name: `dense 2304→1024 N${n} fwd`,
    op: 'dense',
    aShape: [n, 2304],
    bShape: [1024, 2304],
    params: {},
  });
}
WORKLOADS.push(
  {
    name: 'dense 2304→1024 N256 bwd-input',
    op: 'denseGradInput',
    aShape: [256, 1024],
    bShape: [1024, 2304],
    params: {},
  },
  {
    name: 'dense 2304→1024 N256 bwd-weight',
    op: 'denseGradWeight',
    aShape: [256, 1024],
    bShape: [256, 2304],
    params: {},
  },
);

const local = new LocalLinearOps(kernels);

function f32Product(w: Workload, a: Tensor, b: Tensor): Promise<Tensor> {
  const p = { stride: w.params.stride ?? 1, padding: w.params.padding ?? 0 };
  switch (w.op) {
    case 'dense':
      return local.dense(a, b);
    case 'denseGradInput':
      return local.denseGradInput(a, b);
    case 'denseGradWeight':
      return local.denseGradWeight(a, b);
    case 'conv2d':
      return local.conv2d(a, b, p);
    case 'conv2dGradInput':
      return local.conv2dGradInput(a, b, p, w.params.inputHW!);
    case 'conv2dGradWeight':
      return local.conv2dGradWeight(a, b, p, w.params.k!);
  }
}

function modpProduct(g: ProductGeometry, a: Int32Array, b: Int32Array): Int32Array {
  switch (g.op) {
    case 'dense':
      return denseModp(kernels, a, b, g.n, g.i, g.o);
    case 'denseGradInput':
      return denseGradInputModp(kernels, a, b, g.n, g.o, g.i);
    case 'denseGradWeight':
      return denseGradWeightModp(kernels, a, b, g.n, g.o, g.i);
    case 'conv2d':
      return conv2dModp(kernels, g as ConvGeometry, a, b);
    case 'conv2dGradInput':
      return conv2dGradInputModp(kernels, g as ConvGeometry, a, b);
    case 'conv2dGradWeight':
      return conv2dGradWeightModp(kernels, g as ConvGeometry, a, b);
  }
}

interface Timing {
  /** Median CPU time (ms). */
  cpu: number;
  /** Minimum wall time (ms). */
  wallMin: number;
}

function summary(samples: { cpu: number; wall: number }[]): Timing {
  const cpu = samples.map((x) => x.cpu).sort((x, y) => x - y);
  const wall = samples.map((x) => x.wall).sort((x, y) => x - y);
  return { cpu: cpu[Math.floor(cpu.length / 2)]!, wallMin: wall[0]! };
}

async function sample(f: () => unknown): Promise<{ cpu: number; wall: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await f();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000, wall };
}

async function main(): Promise<void> {
  const repsArg = process.argv.indexOf('--reps');
  const reps = repsArg > 0 ? Number(process.argv[repsArg + 1]) : 15;
  const threadsArg = process.argv.indexOf('--threads');
  kernels.setThreads(threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : 1);
  const rng = new SeededRng(1);
  const crng = new CryptoRng();
  const rows: Record<string, unknown>[] = [];
  for (const w of WORKLOADS) {
    const g = productGeometry(w.op, w.aShape, w.bShape, w.params);
    const a = new Tensor(
      w.aShape,
      randomFloats(
        w.aShape.reduce((x, y) => x * y),
        rng,
        2,
      ),
    );
    const b = new Tensor(
      w.bShape,
      randomFloats(
        w.bShape.reduce((x, y) => x * y),
        rng,
        0.05,
      ),
    );
    const q = quantizeProduct(g, a.data, b.data, { rng: crng });
    const y32 = (await f32Product(w, a, b)).data;
    const yp = modpProduct(g, q.a, q.b);
    assert.ok(
      freivaldsExact(g, q.a, q.b, yp, { rng: crng }).ok,
      `${w.name}: exact check refused an honest product`,
    );
    assert.ok(
      freivaldsFloat(g, a.data, b.data, y32, { rng: crng }).ok,
      `${w.name}: float check refused an honest product`,
    );
    type Sample = { cpu: number; wall: number };
    const t = { f32: [] as Sample[], modp: [] as Sample[], exact: [] as Sample[], float: [] as Sample[] };
    for (let r = 0; r < reps; r++) {
      t.f32.push(await sample(() => f32Product(w, a, b)));
      t.modp.push(await sample(() => modpProduct(g, q.a, q.b)));
      t.exact.push(await sample(() => freivaldsExact(g, q.a, q.b, yp, { rng: crng })));
      t.float.push(await sample(() => freivaldsFloat(g, a.data, b.data, y32, { rng: crng })));
    }
    const s = {
      f32: summary(t.f32),
      modp: summary(t.modp),
      exact: summary(t.exact),
      float: summary(t.float),
    };
    const pct = (x: number, y: number): number => Math.round((1000 * x) / y) / 10;
    const row = {
      workload: w.name,
      productF32Ms: s.f32,
      productModpMs: s.modp,
      checkExactMs: s.exact,
      checkFloatMs: s.float,
      exactVsF32Pct: pct(s.exact.cpu, s.f32.cpu),
      exactVsModpPct: pct(s.exact.cpu, s.modp.cpu),
      floatVsF32Pct: pct(s.float.cpu, s.f32.cpu),
    };
    rows.push(row);
    process.stderr.write(
      `${w.name.padEnd(34)} cpu ms: f32 ${s.f32.cpu.toFixed(2)} modp ${s.modp.cpu.toFixed(2)} | exact check ` +
        `${s.exact.cpu.toFixed(3)} (${row.exactVsF32Pct}% of f32, ${row.exactVsModpPct}% of modp) | float check ` +
        `${s.float.cpu.toFixed(3)} (${row.floatVsF32Pct}% of f32)\n`,
    );
  }
  const info = kernels.info();
  process.stdout.write(
    `${JSON.stringify({ kind: 'verify-share', repetitions: 2, samples: reps, threads: info.threads, blas: info.blas, conv: info.conv, rows }, null, 1)}\n`,
  );
}

await main();
