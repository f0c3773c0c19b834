// Float-mode integrity (DESIGN.md "Integrity"): the accelerator computes in float32, so Y·r and A·(B·r)
// differ by rounding even when it is honest. The check accepts iff, element by element,
//   |Y·r − A·(B·r)| ≤ τ,  τ = (s·γ32_K + γ64_M)·T + γ64_M·S + F·K·2^-149   (then inflated by 1/(1 − γ64_M))
// with T = |A|·(|B|·1) and S = |Y|·1 (|r| ≤ 1), γ_n = n·u/(1 − n·u), u32 = 2^-24 for the accelerator's
// float32 products of length K (any summation order, with or without FMA: Higham, "Accuracy and
// Stability of Numerical Algorithms", §3.1), u64 = 2^-53 for this check's own float64 sums of at most
// M = F + K + 4 terms, F the fold length, and F·K·2^-149 for float32 underflow. s (default 1) widens the
// accelerator's share for algorithms outside the classic bound (Winograd, FFT). For the convolutions T is
// by default replaced by an upper bound that costs a fraction of a convolution (float-bound.ts), and every
// |·| fold with ones comes from the pass of a signed fold over the same operand (AbsFolds). Residual
// freedom: an accelerator may change each result by anything the rounding bound allows (docs/integrity.md).
import { type CryptoRng, isCryptoRng } from './crypto-rng.js';
import { absFold, gradWeightBound, gradWeightBoundPays, tapMaxBound, tapMaxPays } from './float-bound.js';
import { type CheckOutcome, checkRepetitions, DEFAULT_REPETITIONS } from './freivalds-exact.js';
import { evaluateSides, type SideKernels } from './freivalds-sides.js';
import { f64Kernels } from './native-modp.js';
import {
  foldLength,
  innerLength,
  isConv,
  numelOf,
  type ProductGeometry,
  resultShapeOf,
} from './product-geometry.js';

export type FloatVectors = 'uniform' | 'sign';

export interface FloatCheckOptions {
  readonly rng: CryptoRng;
  /** Independent random vectors (default 2). */
  readonly repetitions?: number;
  /** Uniform in [−1, 1) (default) or random signs ±1. */
  readonly vectors?: FloatVectors;
  /** Multiplies the accelerator's rounding allowance γ32_K (default 1: the classic bound, rigorous). */
  readonly slack?: number;
  /**
   * T of the tolerance for the convolutions: 'tap-max' (default) bounds it from the largest tap of a window
   * (forward, grad-input: each channel's largest tap weight; weight gradient: the largest |dY| sum a window
   * covers) at a fraction of a convolution's cost where that pays (float-bound.ts); 'full' computes it
   * exactly with one more convolution (a tighter τ). Dense products always use 'full'.
   */
  readonly bound?: FloatBound;
}

export type FloatBound = 'tap-max' | 'full';

export interface FloatCheckOutcome extends CheckOutcome {
  /** max |Y·r − A·(B·r)| / τ over the folded elements (≤ 1 when ok). */
  readonly worstRatio: number;
}

const U32 = 2 ** -24;
const U64 = 2 ** -53;

export function gamma(n: number, u: number): number {
  const nu = n * u;
  if (!(nu < 0.5)) throw new RangeError(`float check: ${n} terms are too many for a rounding bound`);
  return nu / (1 - nu);
}

/**
 * Why an untrusted f32 result cannot be the answer to `g` ('' when its form is fine): not a
 * Float32Array, a shape other than the product's, or a NaN/±Inf. `finite: false` leaves the NaN/±Inf scan
 * to a freivaldsFloat that follows (it refuses them itself, without a pass of its own over the result).
 */
export function f32ResultProblem(
  g: ProductGeometry,
  result: { readonly shape: readonly number[]; readonly data: unknown },
  opts: { readonly finite?: boolean } = {},
): string {
  const want = resultShapeOf(g);
  if (
    !Array.isArray(result.shape) ||
    result.shape.length !== want.length ||
    result.shape.some((d, i) => d !== want[i])
  ) {
    return `${g.op}: result shape [${String(result.shape)}], expected [${want.join(',')}]`;
  }
  if (!(result.data instanceof Float32Array)) return `${g.op}: f32 result data is not a Float32Array`;
  if (result.data.length !== numelOf(want)) {
    return `${g.op}: result has ${result.data.length} elements, shape [${want.join(',')}] needs ${numelOf(want)}`;
  }
  if (result.data.length === 0 || opts.finite === false) return '';
  const bad = f64Kernels.firstNonFinite(result.data);
  return bad >= 0 ? `${g.op}: result element ${bad} is ${result.data[bad]}` : '';
}

function allFinite(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/**
 * The |·| folds with ones that a check's signed folds computed on the way (f64Kernels.foldAbs reads each
 * operand once for both), by operand and shape: the bound pass takes them instead of reading it again.
 */
class AbsFolds {
  private readonly seen = new Map<Float32Array, { key: string; abs: Float64Array }[]>();
  put(a: Float32Array, batch: number, rows: number, cols: number, abs: Float64Array): void {
    const list = this.seen.get(a) ?? [];
    list.push({ key: `${batch},${rows},${cols}`, abs });
    this.seen.set(a, list);
  }
  /** Σ_row |a[b,row,c]| ([batch, cols]), from a signed fold of the same operand and shape or afresh. */
  fold(batch: number, rows: number, cols: number, a: Float32Array): Float64Array {
    const key = `${batch},${rows},${cols}`;
    const hit = this.seen.get(a)?.find((e) => e.key === key);
    return hit?.abs ?? absFold(batch, rows, cols, a);
  }
}

// The signed kernels record each fold's |·| twin in `folds`; the |·| kernels take a fold with the ones
// vector `ones` from there (any other vector: a fold of its own).
function kernels(abs: boolean, folds: AbsFolds, ones: Float64Array): SideKernels<Float32Array, Float64Array> {
  return {
    fold: (batch, rows, cols, reps, a, r) => {
      if (abs)
        return r === ones && reps === 1
          ? folds.fold(batch, rows, cols, a)
          : f64Kernels.fold(batch, rows, cols, reps, a, r, true);
      const both = f64Kernels.foldAbs(batch, rows, cols, reps, a, r);
      folds.put(a, batch, rows, cols, both.abs);
      return both.out;
    },
    matvecs: (m, kk, reps, a, u) => f64Kernels.matvecs(m, kk, reps, a, u, abs),
    conv: (g, reps, x, wf) => f64Kernels.conv(g, reps, x, wf, abs),
    convT: (g, reps, dy, wg) => f64Kernels.convT(g, reps, dy, wg, abs),
    convW: (g, reps, dyf, x) => f64Kernels.convW(g, reps, dyf, x, abs),
  };
}

/**
 * T and S of the tolerance, laid out as evaluateSides lays out both sides: T (rhs) exactly or, for the
 * convolutions where that pays, an upper bound (float-bound.ts); S = |Y|·1 (lhs) over the folded axis.
 */
function boundSides(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  ones: Float64Array,
  how: FloatBound,
  folds: AbsFolds,
): { rhs: Float64Array; lhs: Float64Array } {
  if (how === 'tap-max' && isConv(g)) {
    const f = ones.length;
    if ((g.op === 'conv2d' || g.op === 'conv2dGradInput') && tapMaxPays(g)) {
      // Both sides [n, plane].
      return { rhs: tapMaxBound(g, a, b, folds), lhs: folds.fold(g.n, f, y.length / (g.n * f), y) };
    }
    if (g.op === 'conv2dGradWeight' && gradWeightBoundPays(g)) {
      // Both sides [1, c·k²]: dW [o, c·k²] folded over o.
      return { rhs: gradWeightBound(g, a, b, folds), lhs: folds.fold(1, f, y.length / f, y) };
    }
  }
  return evaluateSides(kernels(true, folds, ones), g, a, b, y, ones, 1);
}

/**
 * Checks a float32 Y = A·B (as `g` defines it); y already passed f32ResultProblem (its NaN/±Inf scan may
 * be skipped: a non-finite element is refused here). Never throws for a wrong Y.
 */
export function freivaldsFloat(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  y: Float32Array,
  opts: FloatCheckOptions,
): FloatCheckOutcome {
  if (!isCryptoRng(opts.rng)) throw new TypeError('freivaldsFloat: rng must be a CryptoRng');
  const reps = checkRepetitions(opts.repetitions ?? DEFAULT_REPETITIONS);
  const slack = opts.slack ?? 1;
  if (!(slack >= 1 && Number.isFinite(slack)))
    throw new RangeError(`slack must be a finite number >= 1, got ${slack}`);
  if (opts.bound !== undefined && opts.bound !== 'tap-max' && opts.bound !== 'full')
    throw new RangeError(`bound must be 'tap-max' or 'full', got ${String(opts.bound)}`);
  if (y.length !== numelOf(resultShapeOf(g)))
    return { ok: false, reason: `${g.op}: result has ${y.length} elements`, worstRatio: Infinity };
  if (y.length === 0) return { ok: true, reason: '', worstRatio: 0 };
  const kLen = innerLength(g);
  if (kLen === 0 || a.length === 0 || b.length === 0) {
    const i = y.findIndex((v) => v !== 0);
    return i < 0
      ? { ok: true, reason: '', worstRatio: 0 }
      : {
          ok: false,
          reason: `${g.op}: element ${i} of an empty product is ${y[i]}, not 0`,
          worstRatio: Infinity,
        };
  }
  const f = foldLength(g);
  const r = opts.vectors === 'sign' ? opts.rng.signs(reps * f) : opts.rng.uniformSigned(reps * f);
  const folds = new AbsFolds();
  const ones = new Float64Array(f).fill(1);
  const s = evaluateSides(kernels(false, folds, ones), g, a, b, y, r, reps);
  const bound = boundSides(g, a, b, y, ones, opts.bound ?? 'tap-max', folds);
  // |Y|·1 reads every element of Y: it is finite exactly when they all are (a float64 sum of |float32|
  // values cannot overflow), and a non-finite Y would make τ infinite below. So this is the NaN/±Inf check.
  if (!allFinite(bound.lhs)) {
    const i = f64Kernels.firstNonFinite(y);
    return { ok: false, reason: `${g.op}: result element ${i} is ${y[i]}`, worstRatio: Infinity };
  }

  const g32 = slack * gamma(kLen, U32);
  const g64 = gamma(f + kLen + 4, U64);
  const inflate = (1 + 4 * U64) / (1 - g64);
  const underflow = f * kLen * 2 ** -149;
  let worst = 0;
  let worstAt = -1;
  for (let bi = 0; bi < s.batch; bi++) {
    for (let j = 0; j < reps; j++) {
      const base = (bi * reps + j) * s.inner;
      const tBase = bi * s.inner;
      for (let i = 0; i < s.inner; i++) {
        const d = Math.abs(s.lhs[base + i]! - s.rhs[base + i]!);
        const tau = ((g32 + g64) * bound.rhs[tBase + i]! + g64 * bound.lhs[tBase + i]!) * inflate + underflow;
        const ratio = d <= tau ? (tau > 0 ? d / tau : 0) : Number.isNaN(d) ? Infinity : d / tau;
        if (ratio > worst || Number.isNaN(d)) {
          worst = ratio;
          worstAt = base + i;
        }
      }
    }
  }
  if (worst > 1) {
    return {
      ok: false,
      reason: `${g.op}: Freivalds float check failed (folded element ${worstAt}: |Y·r − A·(B·r)| is ${worst.toPrecision(3)}×τ)`,
      worstRatio: worst,
    };
  }
  return { ok: true, reason: '', worstRatio: worst };
}
