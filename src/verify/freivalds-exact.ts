// Exact-mode integrity (DESIGN.md "Integrity"; Freivalds 1977): an accelerator's product Y of quantized
// operands A, B is accepted iff Y·r ≡ A·(B·r) (mod p) for `repetitions` vectors r drawn uniformly from
// F_p by the crypto RNG afresh for every check. A wrong Y passes one repetition with probability ≤ 1/p
// (exactly 1/p when one element is wrong), so k repetitions give (1/p)^k ≈ 2^-24k at p = 2^24 − 3. All
// check arithmetic is integer mod p in the native addon. Hostile bytes (wrong type, shape or a value
// outside the centered range) are refused before any arithmetic.
import { type CryptoRng, isCryptoRng } from './crypto-rng.js';
import { checkModulus, DEFAULT_MODULUS, halfModulus } from './field.js';
import { evaluateSides, type SideKernels, type Sides } from './freivalds-sides.js';
import { modpKernels } from './native-modp.js';
import { foldLength, innerLength, numelOf, type ProductGeometry, resultShapeOf } from './product-geometry.js';

export const DEFAULT_REPETITIONS = 2;

export interface CheckOutcome {
  readonly ok: boolean;
  /** Why the check failed ('' when ok). */
  readonly reason: string;
}

export interface ExactCheckOptions {
  readonly rng: CryptoRng;
  /** The field modulus (default 2^24 − 3). */
  readonly p?: number;
  /** Independent random vectors (default 2). */
  readonly repetitions?: number;
}

const PASS: CheckOutcome = { ok: true, reason: '' };

function fail(reason: string): CheckOutcome {
  return { ok: false, reason };
}

export function checkRepetitions(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > 64)
    throw new RangeError(`repetitions must be an integer in [1, 64], got ${k}`);
  return k;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Why an untrusted result cannot be the answer to `g` by its form ('' when fine): data not of `type`
 * (Int32Array for modp, Float64Array for wide), or a shape or length other than the product's.
 */
export function resultFormProblem(
  g: ProductGeometry,
  result: { readonly shape: readonly number[]; readonly data: unknown },
  type: typeof Int32Array | typeof Float64Array,
  arith: string,
): string {
  const want = resultShapeOf(g);
  if (!Array.isArray(result.shape) || !sameShape(result.shape, want)) {
    return `${g.op}: result shape [${String(result.shape)}], expected [${want.join(',')}]`;
  }
  if (!(result.data instanceof type))
    return `${g.op}: ${arith} result data is not a${type === Int32Array ? 'n' : ''} ${type.name}`;
  if (result.data.length !== numelOf(want)) {
    return `${g.op}: result has ${result.data.length} elements, shape [${want.join(',')}] needs ${numelOf(want)}`;
  }
  return '';
}

/**
 * Why an untrusted modp result cannot be the answer to `g` ('' when its form is fine): not an
 * Int32Array, a shape other than the product's, or a value outside [−(p−1)/2, (p−1)/2].
 */
export function modpResultProblem(
  g: ProductGeometry,
  result: { readonly shape: readonly number[]; readonly data: unknown },
  p: number = DEFAULT_MODULUS,
): string {
  const form = resultFormProblem(g, result, Int32Array, 'modp');
  if (form !== '') return form;
  if (!(result.data instanceof Int32Array)) return form; // (narrowing: the form check refused it)
  if (result.data.length === 0) return '';
  const bad = modpKernels.firstOutOfRange(result.data, p);
  if (bad >= 0) {
    return `${g.op}: result element ${bad} = ${result.data[bad]} is outside the centered range ±${halfModulus(p)}`;
  }
  return '';
}

function exactKernels(p: number): SideKernels<Int32Array, Int32Array> {
  return {
    fold: (batch, rows, cols, reps, a, r) => modpKernels.fold(batch, rows, cols, reps, a, r, p),
    matvecs: (m, kk, reps, a, u) => modpKernels.matvecs(m, kk, reps, a, u, p),
    conv: (g, reps, x, wf) => modpKernels.conv(g, reps, x, wf, p),
    convT: (g, reps, dy, wg) => modpKernels.convT(g, reps, dy, wg, p),
    convW: (g, reps, dyf, x) => modpKernels.convW(g, reps, dyf, x, p),
  };
}

/**
 * Checks Y = A·B (as `g` defines the product) modulo p. a, b, y hold centered representatives (y
 * already passed modpResultProblem). Returns the outcome; never throws for a wrong Y.
 */
export function freivaldsExact(
  g: ProductGeometry,
  a: Int32Array,
  b: Int32Array,
  y: Int32Array,
  opts: ExactCheckOptions,
): CheckOutcome {
  if (!isCryptoRng(opts.rng)) throw new TypeError('freivaldsExact: rng must be a CryptoRng');
  const p = opts.p ?? DEFAULT_MODULUS;
  checkModulus(p);
  const reps = checkRepetitions(opts.repetitions ?? DEFAULT_REPETITIONS);
  const trivial = trivialOutcome(g, a, b, y);
  if (trivial !== null) return trivial;
  const r = opts.rng.fieldElements(reps * foldLength(g), p);
  const s = evaluateSides(exactKernels(p), g, a, b, y, r, reps);
  r.fill(0);
  return compareSides(g, s, reps, '');
}

/**
 * The outcome of a check that needs no vectors (null when it does): a result of the wrong length, an
 * empty result, or an empty inner product (whose only correct result is zero).
 */
export function trivialOutcome(
  g: ProductGeometry,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  y: ArrayLike<number>,
): CheckOutcome | null {
  if (y.length !== numelOf(resultShapeOf(g))) return fail(`${g.op}: result has ${y.length} elements`);
  if (y.length === 0) return PASS;
  if (innerLength(g) === 0 || a.length === 0 || b.length === 0) {
    for (let i = 0; i < y.length; i++) {
      if (y[i] !== 0) return fail(`${g.op}: element ${i} of an empty product is ${y[i]}, not 0`);
    }
    return PASS;
  }
  return null;
}

/** Compares the two sides element by element; `where` names the modulus in the failure (or ''). */
export function compareSides(
  g: ProductGeometry,
  s: Sides<ArrayLike<number>>,
  reps: number,
  where: string,
): CheckOutcome {
  const { lhs, rhs } = s;
  for (let e = 0; e < lhs.length; e++) {
    if (lhs[e] !== rhs[e]) {
      const rep = Math.floor(e / s.inner) % reps;
      return fail(
        `${g.op}: Freivalds check failed${where} (repetition ${rep + 1} of ${reps}, folded element ${e})`,
      );
    }
  }
  return PASS;
}
