// TypeScript face of native/modp_verify.cc: the Freivalds-check primitives, exact mod p (Int32Array
// operands with |v| < p, results in [0, p)) and float64 (Float32Array operands, Float64Array vectors;
// `abs` folds |operand| for the τ bound). Loads the same addon file as kernels/native.ts, lazily; a
// missing or stale addon is E_NATIVE on first use. Each function allocates and returns its output.
import { TeeError } from '../errors.js';
import { requireAddon } from '../native-addon.js';
import { convOut } from './product-geometry.js';

type I32 = Int32Array;
type F32 = Float32Array;
type F64 = Float64Array;
type Dims8 = [number, number, number, number, number, number, number, number];

interface VerifyAddon {
  modpVerifyFold(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    a: I32,
    r: I32,
    p: number,
    out: I32,
  ): void;
  modpVerifyMatvecs(m: number, kk: number, reps: number, a: I32, u: I32, p: number, out: I32): void;
  modpVerifyConv(...args: [...Dims8, I32, I32, number, I32]): void;
  modpVerifyConvT(...args: [...Dims8, I32, I32, number, I32]): void;
  modpVerifyConvW(...args: [...Dims8, I32, I32, number, I32]): void;
  modpVerifyRange(a: I32, p: number): number;
  f64VerifyFold(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    a: F32,
    r: F64,
    abs: boolean,
    out: F64,
  ): void;
  f64VerifyFoldAbs(
    batch: number,
    rows: number,
    cols: number,
    reps: number,
    a: F32,
    r: F64,
    out: F64,
    outAbs: F64,
  ): void;
  f64VerifyMatvecs(m: number, kk: number, reps: number, a: F32, u: F64, abs: boolean, out: F64): void;
  f64VerifyConv(...args: [...Dims8, F32, F64, boolean, F64]): void;
  f64VerifyConvT(...args: [...Dims8, F32, F64, boolean, F64]): void;
  f64VerifyConvW(...args: [...Dims8, F64, F32, boolean, F64]): void;
  f32VerifyFinite(a: F32): number;
}

let addon: VerifyAddon | null = null;

function load(): VerifyAddon {
  if (addon !== null) return addon;
  const a = requireAddon() as Partial<VerifyAddon>;
  if (typeof a.modpVerifyFold !== 'function' || typeof a.f64VerifyConvW !== 'function') {
    throw new TeeError('E_NATIVE', 'the native addon has no verification kernels: run `npm run build`');
  }
  addon = a as VerifyAddon;
  return addon;
}

/** The loaded addon object (for the other trusted-side kernel families: native-quantize.ts). */
export function verifyAddonModule(): unknown {
  return load();
}

/** Convolution geometry of a check: `c` is the summed channel count (input channels, or O for convT). */
export interface CheckConvDims {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
}

function dims(g: CheckConvDims, reps: number): Dims8 {
  return [g.n, g.c, g.h, g.w, reps, g.k, g.stride, g.padding];
}

function outPlane(g: CheckConvDims): number {
  return convOut(g.h, g.k, g.stride, g.padding) * convOut(g.w, g.k, g.stride, g.padding);
}

/** The exact primitives (results in [0, p)). */
export const modpKernels = {
  // a [batch,rows,cols], r [reps,rows] → [batch,reps,cols]: Σ_r r[j,r]·a[b,r,c]
  fold(batch: number, rows: number, cols: number, reps: number, a: I32, r: I32, p: number): I32 {
    const out = new Int32Array(batch * reps * cols);
    load().modpVerifyFold(batch, rows, cols, reps, a, r, p, out);
    return out;
  },
  // a [m,kk], u [reps,kk] → [reps,m]: Σ_l a[i,l]·u[j,l]
  matvecs(m: number, kk: number, reps: number, a: I32, u: I32, p: number): I32 {
    const out = new Int32Array(reps * m);
    load().modpVerifyMatvecs(m, kk, reps, a, u, p, out);
    return out;
  },
  // x [n,c,h,w], wf [reps,c,k,k] → [n,reps,oh,ow]
  conv(g: CheckConvDims, reps: number, x: I32, wf: I32, p: number): I32 {
    const out = new Int32Array(g.n * reps * outPlane(g));
    load().modpVerifyConv(...dims(g, reps), x, wf, p, out);
    return out;
  },
  // dy [n,c,oh,ow] (c = O), wg [c,reps,k,k] → [n,reps,h,w]
  convT(g: CheckConvDims, reps: number, dy: I32, wg: I32, p: number): I32 {
    const out = new Int32Array(g.n * reps * g.h * g.w);
    load().modpVerifyConvT(...dims(g, reps), dy, wg, p, out);
    return out;
  },
  // dyf [n,reps,oh,ow], x [n,c,h,w] → [reps,c,k,k]
  convW(g: CheckConvDims, reps: number, dyf: I32, x: I32, p: number): I32 {
    const out = new Int32Array(reps * g.c * g.k * g.k);
    load().modpVerifyConvW(...dims(g, reps), dyf, x, p, out);
    return out;
  },
  /** Index of the first element outside [−(p−1)/2, (p−1)/2], or −1. */
  firstOutOfRange(a: I32, p: number): number {
    return load().modpVerifyRange(a, p);
  },
};

/** The float64 primitives; `abs` uses |operand| (the Float32Array argument). */
export const f64Kernels = {
  fold(batch: number, rows: number, cols: number, reps: number, a: F32, r: F64, abs: boolean): F64 {
    const out = new Float64Array(batch * reps * cols);
    load().f64VerifyFold(batch, rows, cols, reps, a, r, abs, out);
    return out;
  },
  /** fold with r, and in the same pass the fold of |a| with ones ([batch, cols]). */
  foldAbs(batch: number, rows: number, cols: number, reps: number, a: F32, r: F64): { out: F64; abs: F64 } {
    const out = new Float64Array(batch * reps * cols);
    const abs = new Float64Array(batch * cols);
    load().f64VerifyFoldAbs(batch, rows, cols, reps, a, r, out, abs);
    return { out, abs };
  },
  matvecs(m: number, kk: number, reps: number, a: F32, u: F64, abs: boolean): F64 {
    const out = new Float64Array(reps * m);
    load().f64VerifyMatvecs(m, kk, reps, a, u, abs, out);
    return out;
  },
  conv(g: CheckConvDims, reps: number, x: F32, wf: F64, abs: boolean): F64 {
    const out = new Float64Array(g.n * reps * outPlane(g));
    load().f64VerifyConv(...dims(g, reps), x, wf, abs, out);
    return out;
  },
  convT(g: CheckConvDims, reps: number, dy: F32, wg: F64, abs: boolean): F64 {
    const out = new Float64Array(g.n * reps * g.h * g.w);
    load().f64VerifyConvT(...dims(g, reps), dy, wg, abs, out);
    return out;
  },
  convW(g: CheckConvDims, reps: number, dyf: F64, x: F32, abs: boolean): F64 {
    const out = new Float64Array(reps * g.c * g.k * g.k);
    load().f64VerifyConvW(...dims(g, reps), dyf, x, abs, out);
    return out;
  },
  /** Index of the first NaN or ±Inf, or −1. */
  firstNonFinite(a: F32): number {
    return load().f32VerifyFinite(a);
  },
};
