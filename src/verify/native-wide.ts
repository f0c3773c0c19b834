// TypeScript face of native/wide_verify.cc: the wide field's Freivalds primitives modulo a prime P < 2^50.
// Vectors are residues mod P held as float64 integers in [0, P); operands are Int32Array with |v| < 2^24;
// the exact result is a Float64Array that the result kernels validate (integer, |y| ≤ bound) on the way.
// The native side works on 25-bit limbs of each vector (splitLimbs), one output channel per limb, and
// wideVerifyCombine puts the limbs back together mod P. Each function allocates and returns its output.
import { type CheckConvDims, verifyAddonModule } from './native-modp.js';
import { convOut } from './product-geometry.js';

type I32 = Int32Array;
type F64 = Float64Array;
type Dims8 = [number, number, number, number, number, number, number, number];
type Dims7 = [number, number, number, number, number, number, number];

interface WideAddon {
  wideVerifyFold(
    batch: number,
    rows: number,
    cols: number,
    lreps: number,
    a: I32,
    rl: I32,
    p: number,
    out: F64,
  ): void;
  wideVerifyMatvecs(m: number, kk: number, lreps: number, a: I32, ul: I32, p: number, out: F64): void;
  wideVerifyMatvecsCombined(m: number, kk: number, reps: number, a: I32, ul: I32, p: number, out: F64): void;
  wideVerifyConv(...args: [...Dims8, I32, I32, number, F64]): void;
  wideVerifyConvT(...args: [...Dims8, I32, I32, number, F64]): void;
  wideVerifyConvW(...args: [...Dims8, I32, I32, number, F64]): void;
  wideVerifyCombine(
    outer: number,
    reps: number,
    parts: number,
    inner: number,
    src: F64,
    p: number,
    out: F64,
  ): void;
  wideVerifySplitResult(y: F64, bound: number, yl: I32, yh: I32): number;
  wideVerifyFirstNonInteger(y: F64): number;
  wideVerifyCorrResidues(...args: [...Dims7, F64, F64, number, F64]): void;
  wideVerifyDotResidues(reps: number, rows: number, cols: number, s: F64, v: F64, p: number, out: F64): void;
  wideVerifyRowsCheck(forward: boolean, ...args: [...Dims8, F64, F64, F64, number, F64]): void;
  wideVerifyBilinear(
    n: number,
    reps: number,
    rows: number,
    cols: number,
    y: F64,
    u: F64,
    v: F64,
    p: number,
    out: F64,
  ): void;
  wideVerifyFoldResult(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    y: F64,
    r: F64,
    bound: number,
    p: number,
    out: F64,
  ): number;
  wideVerifySetIfma(on?: boolean): boolean;
  wideVerifyMatvecsIfma(m: number, kk: number, reps: number, a: I32, u: F64, p: number, out: F64): boolean;
  wideVerifyConvIfma(...args: [...Dims8, I32, F64, number, F64]): boolean;
  wideVerifyConvTIfma(...args: [...Dims8, I32, F64, number, F64]): boolean;
  wideVerifyFoldIfma(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    a: I32,
    r: F64,
    p: number,
    out: F64,
  ): boolean;
}

function addon(): WideAddon {
  return verifyAddonModule() as WideAddon;
}

// Whether the IFMA kernels may take a product (asked first, so that a CPU without them allocates nothing
// for their direct output).
function ifmaInUse(): boolean {
  return addon().wideVerifySetIfma();
}

const LIMB = 2 ** 25;

/** Residues v [outer, reps, inner] → limbs [outer, 2·reps, inner]: for each vector its low 25 bits, then the rest. */
export function splitLimbs(v: F64, outer: number, reps: number, inner: number): I32 {
  const out = new Int32Array(2 * v.length);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < reps; j++) {
      const src = (o * reps + j) * inner;
      const lo = (o * reps + j) * 2 * inner;
      const hi = lo + inner;
      for (let i = 0; i < inner; i++) {
        const x = v[src + i]!;
        const l = x % LIMB;
        out[lo + i] = l;
        out[hi + i] = (x - l) / LIMB;
      }
    }
  }
  return out;
}

// Limb channels [outer, 2·reps, parts·inner] → residues [outer, reps, inner].
function combine(outer: number, reps: number, parts: number, inner: number, src: F64, p: number): F64 {
  const out = new Float64Array(outer * reps * inner);
  addon().wideVerifyCombine(outer, reps, parts, inner, src, p, out);
  return out;
}

function dims(g: CheckConvDims, lreps: number): Dims8 {
  return [g.n, g.c, g.h, g.w, lreps, g.k, g.stride, g.padding];
}

function outPlane(g: CheckConvDims): number {
  return convOut(g.h, g.k, g.stride, g.padding) * convOut(g.w, g.k, g.stride, g.padding);
}

/** Results of the kernels that read the untrusted result: the residues (meaningless when bad ≥ 0), and the first invalid index or −1. */
export interface ResultSide {
  readonly out: F64;
  readonly bad: number;
}

/** The wide primitives (results in [0, p)); same layouts as modpKernels with F64 residues for vectors. */
export const wideKernels = {
  // a [batch,rows,cols], r [reps,rows] → [batch,reps,cols]
  fold(batch: number, rows: number, cols: number, reps: number, a: I32, r: F64, p: number): F64 {
    if (ifmaInUse()) {
      const direct = new Float64Array(batch * reps * cols);
      if (addon().wideVerifyFoldIfma(batch, rows, cols, reps, a, r, p, direct)) return direct;
    }
    const out = new Float64Array(batch * 2 * reps * cols);
    addon().wideVerifyFold(batch, rows, cols, 2 * reps, a, splitLimbs(r, 1, reps, rows), p, out);
    return combine(batch, reps, 1, cols, out, p);
  },
  // a [m,kk], u [reps,kk] → [reps,m]
  matvecs(m: number, kk: number, reps: number, a: I32, u: F64, p: number): F64 {
    const out = new Float64Array(reps * m);
    if (ifmaInUse() && addon().wideVerifyMatvecsIfma(m, kk, reps, a, u, p, out)) return out;
    addon().wideVerifyMatvecsCombined(m, kk, reps, a, splitLimbs(u, 1, reps, kk), p, out);
    return out;
  },
  // x [n,c,h,w], wf [reps,c,k,k] → [n,reps,oh,ow]
  conv(g: CheckConvDims, reps: number, x: I32, wf: F64, p: number): F64 {
    const plane = outPlane(g);
    if (ifmaInUse()) {
      const direct = new Float64Array(g.n * reps * plane);
      if (addon().wideVerifyConvIfma(...dims(g, reps), x, wf, p, direct)) return direct;
    }
    const out = new Float64Array(g.n * 2 * reps * plane);
    addon().wideVerifyConv(...dims(g, 2 * reps), x, splitLimbs(wf, 1, reps, g.c * g.k * g.k), p, out);
    return combine(g.n, reps, 1, plane, out, p);
  },
  // dy [n,c,oh,ow] (c = O), wg [c,reps,k,k] → [n,reps,h,w]
  convT(g: CheckConvDims, reps: number, dy: I32, wg: F64, p: number): F64 {
    const plane = g.h * g.w;
    if (ifmaInUse()) {
      const direct = new Float64Array(g.n * reps * plane);
      if (addon().wideVerifyConvTIfma(...dims(g, reps), dy, wg, p, direct)) return direct;
    }
    const out = new Float64Array(g.n * 2 * reps * plane);
    addon().wideVerifyConvT(...dims(g, 2 * reps), dy, splitLimbs(wg, g.c, reps, g.k * g.k), p, out);
    return combine(g.n, reps, 1, plane, out, p);
  },
  // dyf [n,reps,oh,ow], x [n,c,h,w] → [reps,c,k,k]
  convW(g: CheckConvDims, reps: number, dyf: F64, x: I32, p: number): F64 {
    const kk = g.c * g.k * g.k;
    const out = new Float64Array(2 * reps * kk);
    addon().wideVerifyConvW(...dims(g, 2 * reps), splitLimbs(dyf, g.n, reps, outPlane(g)), x, p, out);
    return combine(1, reps, 1, kk, out, p);
  },
  /** fold over the untrusted result y [batch,rows,cols] (validated against ±bound on the way). */
  foldResult(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    y: F64,
    r: F64,
    bound: number,
    p: number,
  ): ResultSide {
    const out = new Float64Array(batch * reps * cols);
    const bad = addon().wideVerifyFoldResult(batch, rows, cols, reps, y, r, bound, p, out);
    return { out, bad };
  },
  /** matvecs over the untrusted result y [m,kk]: y split into limbs y = yl + 2^24·yh, stacked as 2m rows. */
  matvecsResult(m: number, kk: number, reps: number, y: F64, u: F64, bound: number, p: number): ResultSide {
    const stacked = new Int32Array(2 * m * kk);
    const bad = addon().wideVerifySplitResult(
      y,
      bound,
      stacked.subarray(0, m * kk),
      stacked.subarray(m * kk),
    );
    const out = new Float64Array(2 * reps * 2 * m);
    addon().wideVerifyMatvecs(2 * m, kk, 2 * reps, stacked, splitLimbs(u, 1, reps, kk), p, out);
    stacked.fill(0);
    return { out: combine(1, reps, 2, m, out, p), bad };
  },
  /**
   * Residues dyf [n,reps,oh,ow] and xs [n,reps,h,w] → [reps,k,k]: out[j,kh,kw] = Σ dyf[b,j,oy,ox]·
   * xs[b,j,oy·s+kh−pad, ox·s+kw−pad] mod p (g's n, h, w, k, stride, padding; zero outside the input).
   */
  corrResidues(g: CheckConvDims, reps: number, dyf: F64, xs: F64, p: number): F64 {
    const out = new Float64Array(reps * g.k * g.k);
    addon().wideVerifyCorrResidues(g.n, reps, g.h, g.w, g.k, g.stride, g.padding, dyf, xs, p, out);
    return out;
  },
  /** Residues s [reps,rows], v [reps,rows,cols] → [reps,cols]: out[j,t] = Σ_row s[j,row]·v[j,row,t] mod p. */
  dotResidues(reps: number, rows: number, cols: number, s: F64, v: F64, p: number): F64 {
    const out = new Float64Array(reps * cols);
    addon().wideVerifyDotResidues(reps, rows, cols, s, v, p, out);
    return out;
  },
  /**
   * The forward check's right side over residues: hf [reps,k,n,c,h] (each input row against the column
   * vector spread for kernel column kw), u [reps,n,oh], f [reps,c,k,k] → [reps]: out[j] = Σ f[j,c,kh,kw]·
   * u[j,b,oy]·hf[j,kw,b,c,oy·s+kh−pad] mod p (g's n, c, h, k, stride, padding; rows outside the input count 0).
   */
  convRows(g: CheckConvDims, reps: number, hf: F64, u: F64, f: F64, p: number): F64 {
    const out = new Float64Array(reps);
    const oh = convOut(g.h, g.k, g.stride, g.padding);
    addon().wideVerifyRowsCheck(true, g.n, g.c, g.h, oh, reps, g.k, g.stride, g.padding, hf, u, f, p, out);
    return out;
  },
  /**
   * The grad-input check's right side: hb [reps,k,n,o,oh] (rows of dY against the spread column vector),
   * u [reps,n,h], wg [o,reps,k,k] → [reps]: out[j] = Σ wg[o,j,kh,kw]·hb[j,kw,b,o,i]·u[j,b,i·s+kh−pad] mod p
   * (g.c holds o, as in convT).
   */
  convTRows(g: CheckConvDims, reps: number, hb: F64, u: F64, wg: F64, p: number): F64 {
    const out = new Float64Array(reps);
    const oh = convOut(g.h, g.k, g.stride, g.padding);
    const kk = g.k * g.k;
    // [o, reps, k·k] → [reps, o, k·k]: the binding's coefficient layout.
    const coef = new Float64Array(wg.length);
    for (let o = 0; o < g.c; o++)
      for (let j = 0; j < reps; j++)
        coef.set(wg.subarray((o * reps + j) * kk, (o * reps + j + 1) * kk), (j * g.c + o) * kk);
    addon().wideVerifyRowsCheck(
      false,
      g.n,
      g.c,
      oh,
      g.h,
      reps,
      g.k,
      g.stride,
      g.padding,
      hb,
      u,
      coef,
      p,
      out,
    );
    coef.fill(0);
    return out;
  },
  /** Residues y [n,reps,rows,cols], u [reps,n,rows], v [reps,cols] → [reps]: Σ u[j,b,row]·v[j,col]·y[b,j,row,col]. */
  bilinear(n: number, reps: number, rows: number, cols: number, y: F64, u: F64, v: F64, p: number): F64 {
    const out = new Float64Array(reps);
    addon().wideVerifyBilinear(n, reps, rows, cols, y, u, v, p, out);
    return out;
  },
  /**
   * Whether the AVX-512 IFMA kernels may run (default true; they run only where the CPU has them): returns
   * whether they are in use now. Same residues either way; the tests and benchmarks compare the two paths.
   */
  setIfma(on: boolean): boolean {
    return addon().wideVerifySetIfma(on);
  },
  /** Whether the wide check's kernels run on AVX-512 IFMA now (the CPU has it and it is not switched off). */
  ifmaInUse(): boolean {
    return ifmaInUse();
  },
  /** Index of the first element that is not an integer of magnitude below 2^53 (NaN, ±Inf fail), or −1. */
  firstNonInteger(y: F64): number {
    return addon().wideVerifyFirstNonInteger(y);
  },
};
