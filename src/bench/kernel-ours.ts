// Our side of the GEMM and convolution workloads: allocate seeded data, check `kernels` against the
// naive reference (small odd shapes in full, the benchmarked shape by spot checks or at batch 1), and
// return the timed body.
import type { ConvGeom, Kernels } from '../kernels/api.js';
import { convOutSize } from '../kernels/api.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { type CheckResult, compare, fillUniform, requirePassed } from './check.js';
import type { Prepared } from './sampler.js';
import type { ConvPass, ConvSpec, GemmSpec } from './workloads.js';

const TOL = { f32: 1e-4, f64: 1e-12 } as const;

type Arr = Float32Array | Float64Array;

function gemmCall(
  k: Kernels,
  dtype: 'f32' | 'f64',
  tA: boolean,
  tB: boolean,
  m: number,
  n: number,
  kk: number,
  a: Arr,
  b: Arr,
  beta: number,
  c: Arr,
): void {
  if (dtype === 'f32')
    k.sgemm(tA, tB, m, n, kk, a as Float32Array, b as Float32Array, beta, c as Float32Array);
  else k.dgemm(tA, tB, m, n, kk, a as Float64Array, b as Float64Array, beta, c as Float64Array);
}

function alloc(dtype: 'f32' | 'f64', n: number): Arr {
  return dtype === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

export function prepareGemm(spec: GemmSpec, k: Kernels, ref: Kernels): Prepared {
  const { dtype, m, n, k: kk } = spec;
  const rng = new SeededRng(1);
  const checks: CheckResult[] = [];
  // Odd small shapes, every transpose combination, overwrite and accumulate.
  const [sm, sn, sk] = [67, 45, 83];
  for (const tA of [false, true]) {
    for (const tB of [false, true]) {
      for (const beta of [0, 1]) {
        const a = alloc(dtype, sm * sk);
        const b = alloc(dtype, sk * sn);
        const c0 = alloc(dtype, sm * sn);
        for (const t of [a, b, c0]) fillUniform(rng, t);
        const ours = c0.slice();
        const want = c0.slice();
        gemmCall(k, dtype, tA, tB, sm, sn, sk, a, b, beta, ours);
        gemmCall(ref, dtype, tA, tB, sm, sn, sk, a, b, beta, want);
        checks.push(
          compare(`${dtype} gemm ${sm}×${sn}×${sk} tA=${tA} tB=${tB} beta=${beta}`, ours, want, TOL[dtype]),
        );
      }
    }
  }
  // The benchmarked shape: 64 entries recomputed in float64.
  const a = alloc(dtype, m * kk);
  const b = alloc(dtype, kk * n);
  const c = alloc(dtype, m * n);
  fillUniform(rng, a);
  fillUniform(rng, b);
  gemmCall(k, dtype, false, false, m, n, kk, a, b, 0, c);
  const got: number[] = [];
  const want: number[] = [];
  for (let s = 0; s < 64; s++) {
    const i = rng.nextInt(m);
    const j = rng.nextInt(n);
    let acc = 0;
    for (let p = 0; p < kk; p++) acc += a[i * kk + p]! * b[p * n + j]!;
    got.push(c[i * n + j]!);
    want.push(acc);
  }
  checks.push(compare(`${dtype} gemm ${m}×${n}×${kk}, 64 spot entries`, got, want, TOL[dtype]));
  return { run: () => gemmCall(k, dtype, false, false, m, n, kk, a, b, 0, c), checks: requirePassed(checks) };
}

interface ConvData {
  readonly x: Float32Array;
  readonly w: Float32Array;
  readonly dy: Float32Array;
  readonly out: Float32Array;
}

function convData(g: ConvGeom, pass: ConvPass, rng: SeededRng): ConvData {
  const oh = convOutSize(g.h, g.k, g.stride, g.padding);
  const ow = convOutSize(g.w, g.k, g.stride, g.padding);
  const x = new Float32Array(g.n * g.c * g.h * g.w);
  const w = new Float32Array(g.o * g.c * g.k * g.k);
  const dy = new Float32Array(g.n * g.o * oh * ow);
  for (const t of [x, w, dy]) fillUniform(rng, t);
  const size = pass === 'forward' ? dy.length : pass === 'input' ? x.length : w.length;
  return { x, w, dy, out: new Float32Array(size) };
}

function convCall(k: Kernels, g: ConvGeom, pass: ConvPass, d: ConvData): void {
  if (pass === 'forward') k.conv2dForward(g, d.x, d.w, d.out);
  else if (pass === 'input') k.conv2dBackwardInput(g, d.dy, d.w, d.out);
  else k.conv2dBackwardWeight(g, d.dy, d.x, d.out);
}

/** `ref` null skips the check (profiling shapes already checked elsewhere). */
export function prepareConv(spec: ConvSpec, k: Kernels, ref: Kernels | null): Prepared {
  const { pass, ...geom } = spec;
  const g: ConvGeom = {
    n: geom.n,
    c: geom.c,
    h: geom.h,
    w: geom.w,
    o: geom.o,
    k: geom.k,
    stride: geom.stride,
    padding: geom.padding,
  };
  const rng = new SeededRng(2);
  if (ref === null) {
    const d = convData(g, pass, rng);
    return { run: () => convCall(k, g, pass, d), checks: [] };
  }
  // The reference runs at batch 1 with the same layer geometry (the naive loops are slow).
  const g1: ConvGeom = { ...g, n: 1 };
  const small = convData(g1, pass, rng);
  const ours = new Float32Array(small.out.length);
  convCall(k, g1, pass, { ...small, out: ours });
  convCall(ref, g1, pass, small);
  const checks = [compare(`conv ${pass} at batch 1`, ours, small.out, TOL.f32)];
  const d = convData(g, pass, rng);
  return { run: () => convCall(k, g, pass, d), checks: requirePassed(checks) };
}
