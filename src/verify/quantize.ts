// Fixed point in F_p for exact mode (DESIGN.md "Integrity"): a float v becomes the integer
// q = round(v·2^s) (s "scale bits", per tensor and per product), carried as a centered representative.
// Weights and activations round to nearest; gradients round stochastically, q = ⌊v·2^s + u⌋ with u
// uniform from the crypto RNG, so that E[q] = v·2^s (small gradients are not flushed to zero on average).
//
// p = 2^24 − 3 is small: the integer product Σ q_a·q_b must satisfy |y| ≤ (p−1)/2 or it wraps around and
// the dequantized result is garbage that still passes Freivalds. This is asserted, not hoped for: every
// output is bounded by Cauchy–Schwarz, |y| ≤ ‖q_a‖₂·‖q_b‖₂ over its own pair of vectors (operand-norms.ts),
// and the scales are chosen per product so that the largest such bound fits — starting from the
// configured caps and lowering the operand whose integers are larger (which evens out the two relative
// precisions) — then the bound is recomputed on the quantized integers and checked. If the largest
// element of an operand would keep fewer than `minBits` bits, the product fails with a RangeError.
// The resulting error against the float product is bounded in docs/integrity.md and returned per product.
import { type CryptoRng, isCryptoRng } from './crypto-rng.js';
import { checkModulus, DEFAULT_MODULUS, halfModulus } from './field.js';
import { quantKernels } from './native-quantize.js';
import { aNorms, bNorms, lengthInflation, type NormMax } from './operand-norms.js';
import { innerLength, type OperandRole, operandRoles, type ProductGeometry } from './product-geometry.js';

export type Rounding = 'nearest' | 'stochastic';

export interface QuantConfig {
  /** Most fractional bits for weights (v ↦ round(v·2^bits)); the no-wrap bound may lower them. */
  readonly weightBits: number;
  /** Most fractional bits for activations. */
  readonly activationBits: number;
  /** Most fractional bits for gradients (stochastic rounding). */
  readonly gradientBits: number;
  /** Least number of bits the largest |element| of an operand keeps; below it the product fails. */
  readonly minBits: number;
}

/**
 * Caps high enough that, in practice, the Cauchy–Schwarz bound decides the scales (at p = 2^24 − 3 a
 * 3×3×64 convolution of unit-scale activations gets about 8 bits per operand); minBits 6 keeps the
 * relative rounding error of each operand's largest element ≤ 2^-6. A gradient whose largest element
 * would keep fewer than minBits bits at its cap is not refused: its scale is lifted (gradients deep in
 * a network can be far below 2^-24: VGG19-BN's at 224² reach 2^-97 once its softmax saturates).
 */
export const DEFAULT_QUANT_CONFIG: QuantConfig = Object.freeze({
  weightBits: 16,
  activationBits: 16,
  gradientBits: 24,
  minBits: 6,
});

/**
 * Defaults of the wide field (field.ts): caps out of the way — each operand's largest element gets up to
 * 23 bits and the field's 2^47 bound splits the rest between the two operands (about 20 bits each for a
 * 3×3×64 convolution) — and minBits 12: a product that would keep fewer is cut over its inner dimension.
 */
export const WIDE_QUANT_CONFIG: QuantConfig = Object.freeze({
  weightBits: 64,
  activationBits: 64,
  gradientBits: 64,
  minBits: 12,
});

/** Merges `c` over the defaults (`base`: DEFAULT_QUANT_CONFIG, or WIDE_QUANT_CONFIG) and validates it. */
export function quantConfig(
  c: Partial<QuantConfig> = {},
  base: QuantConfig = DEFAULT_QUANT_CONFIG,
): QuantConfig {
  const out = { ...base, ...c };
  for (const key of ['weightBits', 'activationBits', 'gradientBits'] as const) {
    const v = out[key];
    if (!Number.isInteger(v) || v < -128 || v > 128) {
      throw new RangeError(`quantization: ${key} must be an integer in [-128, 128], got ${v}`);
    }
  }
  if (!Number.isInteger(out.minBits) || out.minBits < 1 || out.minBits > 23) {
    throw new RangeError(`quantization: minBits must be an integer in [1, 23], got ${out.minBits}`);
  }
  return Object.freeze(out);
}

export function roundingFor(role: OperandRole): Rounding {
  return role === 'gradient' ? 'stochastic' : 'nearest';
}

function capFor(role: OperandRole, c: QuantConfig): number {
  return role === 'weight' ? c.weightBits : role === 'activation' ? c.activationBits : c.gradientBits;
}

/** The largest rounding error, in integer units: 1/2 to nearest, < 1 stochastic. */
function roundingError(r: Rounding): number {
  return r === 'nearest' ? 0.5 : 1;
}

/** Which implementation: the native kernels (default) or the TypeScript reference they are tested against. */
export type QuantImpl = 'native' | 'reference';

/**
 * q = round(v·2^bits) as centered representatives (RangeError for a non-finite value or one that does
 * not fit (p−1)/2). Stochastic rounding draws 2 fresh bytes per element from `rng` (u = uint16/2^16, so
 * E[q] = ⌊v·2^bits·2^16⌋/2^16: v·2^bits less at most 2^-16 of one unit; |q − v·2^bits| < 1) and wipes
 * them after use.
 */
export function quantizeTensor(
  v: Float32Array,
  bits: number,
  rounding: Rounding,
  opts: {
    readonly p?: number;
    readonly rng?: CryptoRng;
    readonly impl?: QuantImpl;
    /** Where the integers go (a buffer of v.length, e.g. from a pool); default a new array. */
    readonly alloc?: IntAlloc;
  } = {},
): Int32Array {
  let random: Uint8Array | null = null;
  if (rounding === 'stochastic') {
    if (!isCryptoRng(opts.rng)) throw new TypeError('stochastic rounding needs a CryptoRng');
    random = opts.rng.fill(randomScratch(2 * v.length));
  }
  try {
    return quantizeWith(v, bits, random, opts.p ?? DEFAULT_MODULUS, opts.impl ?? 'native', opts.alloc);
  } finally {
    random?.fill(0);
  }
}

/** Hands out an Int32Array of exactly n elements. */
export type IntAlloc = (n: number) => Int32Array;

// The random bytes of stochastic rounding, reused from call to call (fresh pages for them cost about three
// times the quantization pass). Safe without locking: quantizeTensor is synchronous, and wipes them.
let randomBuf: Uint8Array = new Uint8Array(0);

function randomScratch(n: number): Uint8Array {
  if (randomBuf.length < n) randomBuf = new Uint8Array(n);
  return randomBuf.subarray(0, n);
}

/**
 * quantizeTensor with the random bytes given (null: round to nearest, halves up as Math.round does);
 * both implementations give the same integers for the same bytes.
 */
export function quantizeWith(
  v: Float32Array,
  bits: number,
  random: Uint8Array | null,
  p: number,
  impl: QuantImpl,
  alloc?: IntAlloc,
): Int32Array {
  const half = halfModulus(p);
  const out = alloc?.(v.length);
  if (out !== undefined && out.length !== v.length) {
    throw new RangeError(`quantization: an output buffer of ${out.length} for ${v.length} elements`);
  }
  if (random !== null && random.length !== 2 * v.length) {
    throw new RangeError(
      `quantization: ${random.length} random bytes for ${v.length} elements (need 2 each)`,
    );
  }
  if (impl === 'native') {
    const { q, bad } = quantKernels.quantize(v, bits, half, random, out);
    if (bad >= 0) throw fitError(v[bad]!, bits, p);
    return q;
  }
  const scale = 2 ** bits;
  const q = out ?? new Int32Array(v.length);
  if (random !== null) {
    const view = new DataView(random.buffer, random.byteOffset, random.byteLength);
    for (let i = 0; i < v.length; i++) {
      const x = Math.floor(v[i]! * scale + view.getUint16(2 * i, true) * 2 ** -16);
      if (!(Math.abs(x) <= half)) throw fitError(v[i]!, bits, p);
      q[i] = x;
    }
  } else {
    for (let i = 0; i < v.length; i++) {
      const x = Math.round(v[i]! * scale);
      if (!(Math.abs(x) <= half)) throw fitError(v[i]!, bits, p);
      q[i] = x;
    }
  }
  return q;
}

function fitError(v: number, bits: number, p: number): RangeError {
  return new RangeError(
    `quantization: ${v} at ${bits} scale bits does not fit the field (|q| ≤ ${halfModulus(p)})`,
  );
}

/**
 * y·2^-bits as float32 (exact scaling in float64, then one rounding to float32), into `into` when given
 * (same length) or a new array.
 */
export function dequantize(
  y: Int32Array | Float64Array,
  bits: number,
  impl: QuantImpl = 'native',
  into?: Float32Array,
): Float32Array {
  if (into !== undefined && into.length !== y.length) {
    throw new RangeError(`dequantize: ${y.length} values into a buffer of ${into.length}`);
  }
  if (impl === 'native') return quantKernels.dequantize(y, bits, into);
  const scale = 2 ** -bits;
  const out = into ?? new Float32Array(y.length);
  for (let i = 0; i < y.length; i++) out[i] = y[i]! * scale;
  return out;
}

export interface QuantizedProduct {
  readonly a: Int32Array;
  readonly b: Int32Array;
  readonly aBits: number;
  readonly bBits: number;
  /** aBits + bBits: the result's scale. */
  readonly outBits: number;
  /** Cauchy–Schwarz bound on every |y| of the integer product (asserted ≤ outputHalf). */
  readonly yBound: number;
  /** Bound on |dequantized result − exact product of the float operands|, for every element. */
  readonly errorBound: number;
}

export interface QuantizeProductOptions {
  readonly rng: CryptoRng;
  readonly config?: QuantConfig;
  readonly p?: number;
  /**
   * Largest |y| the integer product may reach (default (p−1)/2: no wrap mod p). The wide field allows
   * 2^47 − 1 (field.ts); operands stay within (p−1)/2 either way.
   */
  readonly outputHalf?: number;
  /** b already quantized (blinding pads fix the weights' integers): its data and scale bits. */
  readonly fixedB?: { readonly data: Int32Array; readonly bits: number };
  /**
   * a already quantized, from this same `a` at these scale bits with a's rounding (a layer's dy,
   * quantized once for its grad-input and grad-weight products): only b's scale is chosen.
   */
  readonly fixedA?: { readonly data: Int32Array; readonly bits: number };
  /** Native kernels (default) or the TypeScript reference. */
  readonly impl?: QuantImpl;
  /** Where the operands' integers go (default new arrays). */
  readonly alloc?: IntAlloc;
  /**
   * Recompute the bound on the quantized integers and check it (default true). The predicted bound that
   * chose the scales is already a proven upper bound (triangle inequality, rounding allowances); the
   * recomputation guards against a mistake in that reasoning, where a wrapped product would pass
   * Freivalds mod p as garbage. In the wide field an honest result beyond the bound is refused by the
   * check's range test instead (a loud E_VERIFY, never a wrong value), so RemoteLinearOps skips it there.
   */
  readonly recheck?: boolean;
}

function normsOf(impl: QuantImpl) {
  return impl === 'native'
    ? { aNorms: quantKernels.aNorms, bNorms: quantKernels.bNorms }
    : { aNorms, bNorms };
}

/** Bits of the integer part of x ≥ 0 (0 for x < 1). */
function intBits(x: number): number {
  return x < 1 ? 0 : Math.floor(Math.log2(x)) + 1;
}

/**
 * Quantizes both operands of the product `g` with scales that provably keep every output inside the
 * centered range; returns the integers, their scales, the asserted bound and the error bound.
 */
export function quantizeProduct(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  opts: QuantizeProductOptions,
): QuantizedProduct {
  const p = opts.p ?? DEFAULT_MODULUS;
  checkModulus(p);
  const config = opts.config ?? DEFAULT_QUANT_CONFIG;
  const half = halfModulus(p);
  const outHalf = opts.outputHalf ?? half;
  if (!(outHalf >= half && outHalf < 2 ** 53)) {
    throw new RangeError(`quantization: outputHalf must lie in [(p−1)/2, 2^53), got ${outHalf}`);
  }
  const [roleA, roleB] = operandRoles(g.op);
  const ra = roundingFor(roleA);
  const rb = roundingFor(roleB);
  const da = roundingError(ra);
  const db = roundingError(rb);
  const impl = opts.impl ?? 'native';
  const k = normsOf(impl);
  // One pass per operand: the norms and max |v| (NaN when an element is NaN).
  const na = k.aNorms(g, a);
  const nb = k.bNorms(g, b);
  const mA = na.max;
  const mB = nb.max;
  if (!Number.isFinite(mA) || !Number.isFinite(mB)) {
    throw new RangeError(`${g.op}: cannot quantize an operand with a NaN or infinite value`);
  }
  const fixed = opts.fixedB;
  const fixedA = opts.fixedA;
  if (fixedA !== undefined && fixedA.data.length !== a.length) {
    throw new RangeError(`${g.op}: a fixed a of ${fixedA.data.length} integers for ${a.length} elements`);
  }
  let sa = fixedA !== undefined ? fixedA.bits : capFor(roleA, config);
  let sb = fixed !== undefined ? fixed.bits : capFor(roleB, config);
  // A gradient keeps at least minBits at the top: its cap is lifted up to where its largest element
  // fits on its own (the field bound below then decides).
  if (roleA === 'gradient' && mA > 0 && fixedA === undefined && intBits(2 ** sa * mA) < config.minBits) {
    sa = Number.POSITIVE_INFINITY;
  }
  if (roleB === 'gradient' && mB > 0 && fixed === undefined && intBits(2 ** sb * mB) < config.minBits) {
    sb = Number.POSITIVE_INFINITY;
  }
  // Each element must fit on its own (with the rounding error).
  if (mA > 0 && fixedA === undefined) sa = Math.min(sa, Math.floor(Math.log2((half - 1) / mA)));
  if (mB > 0 && fixed === undefined) sb = Math.min(sb, Math.floor(Math.log2((half - 1) / mB)));
  // One bit off the operand with the larger top integer, or off the one that is not fixed.
  const lower = (): void => {
    if (fixed !== undefined && fixedA !== undefined) {
      throw new QuantizationFitError(`${g.op}: both operands' scales are fixed and the product does not fit`);
    }
    if (fixed !== undefined || (fixedA === undefined && 2 ** sa * mA >= 2 ** sb * mB)) sa--;
    else sb--;
  };

  for (let attempt = 0; attempt < 4; attempt++) {
    // Predicted bound: ‖q‖₂ ≤ 2^s·‖v‖₂ + δ·√len for every vector.
    for (let guard = 0; guard < 512; guard++) {
      const predicted = predictedNorm(na, sa, da) * predictedNorm(nb, sb, db);
      if (predicted <= outHalf) break;
      lower();
    }
    if (fixedA === undefined) {
      checkPrecision(
        g,
        'a',
        mA,
        sa,
        roleA === 'gradient' ? Number.POSITIVE_INFINITY : capFor(roleA, config),
        config.minBits,
      );
    }
    if (fixed === undefined) {
      checkPrecision(
        g,
        'b',
        mB,
        sb,
        roleB === 'gradient' ? Number.POSITIVE_INFINITY : capFor(roleB, config),
        config.minBits,
      );
    }
    const alloc = opts.alloc;
    const qa =
      fixedA !== undefined
        ? fixedA.data
        : quantizeTensor(a, sa, ra, { p, rng: opts.rng, impl, ...(alloc ? { alloc } : {}) });
    const qb =
      fixed !== undefined
        ? fixed.data
        : quantizeTensor(b, sb, rb, { p, rng: opts.rng, impl, ...(alloc ? { alloc } : {}) });
    let yBound: number;
    if (opts.recheck === false) {
      // The prediction with a margin for the rounding of its own float64 arithmetic (sqrt, products).
      yBound = predictedNorm(na, sa, da) * predictedNorm(nb, sb, db) * (1 + 2 ** -40);
      if (!(yBound <= outHalf)) {
        throw new QuantizationFitError(`${g.op}: predicted bound ${yBound} exceeds ${outHalf}`);
      }
    } else {
      const qna = k.aNorms(g, qa);
      const qnb = k.bNorms(g, qb);
      yBound =
        Math.sqrt(qna.l2sq * lengthInflation(qna.len)) * Math.sqrt(qnb.l2sq * lengthInflation(qnb.len));
    }
    if (yBound <= outHalf) {
      return {
        a: qa,
        b: qb,
        aBits: sa,
        bBits: sb,
        outBits: sa + sb,
        yBound,
        errorBound: productErrorBound(g, na, nb, sa, sb, da, db),
      };
    }
    // Only float rounding in the prediction can land here; one more bit off and try again.
    lower();
  }
  throw new QuantizationFitError(`${g.op}: quantization could not keep the product inside the field`);
}

/**
 * A first guess at how many pieces the inner dimension of `g` must be cut into for the product to fit p
 * with `minBits` bits per operand (1 when it fits whole): the predicted Cauchy–Schwarz bound at the
 * smallest acceptable scales over (p−1)/2, doubled for margin (the norms of a piece shrink about in
 * proportion to its length). Only a starting point: the cut products are quantized and asserted as usual.
 */
export function partsToFit(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  config: QuantConfig = DEFAULT_QUANT_CONFIG,
  p: number = DEFAULT_MODULUS,
  outputHalf: number = halfModulus(p),
): number {
  const na = quantKernels.aNorms(g, a);
  const nb = quantKernels.bNorms(g, b);
  const mA = na.max;
  const mB = nb.max;
  if (!(mA > 0 && mB > 0 && Number.isFinite(mA) && Number.isFinite(mB))) return 1;
  const [roleA, roleB] = operandRoles(g.op);
  const lowest = (m: number): number => config.minBits - 1 - Math.floor(Math.log2(m));
  const predicted =
    predictedNorm(na, lowest(mA), roundingError(roundingFor(roleA))) *
    predictedNorm(nb, lowest(mB), roundingError(roundingFor(roleB)));
  const ratio = predicted / outputHalf;
  return ratio <= 1 || !Number.isFinite(ratio) ? 1 : 2 * Math.ceil(ratio);
}

function predictedNorm(n: NormMax, s: number, d: number): number {
  return (2 ** s * Math.sqrt(n.l2sq) + d * Math.sqrt(n.len)) * lengthInflation(n.len);
}

/**
 * The product cannot be kept inside the field at the configured precision (its inner dimension is too
 * long for p): cutting it over that dimension (inner-chunks.ts) is the remedy.
 */
export class QuantizationFitError extends RangeError {
  override readonly name = 'QuantizationFitError';
}

function checkPrecision(
  g: ProductGeometry,
  which: 'a' | 'b',
  maxAbsV: number,
  s: number,
  cap: number,
  minBits: number,
): void {
  if (maxAbsV === 0) return;
  const atCap = intBits(2 ** cap * maxAbsV);
  if (atCap < minBits) {
    // The configured cap, not the field, leaves too few bits: cutting the product would not help.
    throw new RangeError(
      `${g.op}: operand ${which}'s largest element keeps ${atCap} bits at its scale cap of ${cap} bits ` +
        `(fewer than minBits ${minBits}): raise the cap in the quantization settings`,
    );
  }
  const bits = intBits(2 ** s * maxAbsV);
  if (bits < minBits) {
    throw new QuantizationFitError(
      `${g.op}: no scale keeps the product inside the field with ${minBits} bits for operand ${which} ` +
        `(its largest element would keep ${bits}); the operands are too large for p — lower minBits or rescale`,
    );
  }
}

/**
 * max |ŷ − y| over the outputs, ŷ the dequantized integer product at scales sa, sb and y the exact
 * product of the float operands: each output is Σ (a + e_a)(b + e_b) with |e_a| ≤ da·2^-sa,
 * |e_b| ≤ db·2^-sb, so |ŷ − y| ≤ db·2^-sb·‖a‖₁ + da·2^-sa·‖b‖₁ + K·da·db·2^-(sa+sb), plus the final
 * rounding to float32 (2^-24 of |ŷ| ≤ ‖a‖₂‖b‖₂ + the rest).
 */
export function productErrorBound(
  g: ProductGeometry,
  na: NormMax,
  nb: NormMax,
  sa: number,
  sb: number,
  da: number,
  db: number,
): number {
  const k = innerLength(g);
  const quant = db * 2 ** -sb * na.l1 + da * 2 ** -sa * nb.l1 + k * da * db * 2 ** -(sa + sb);
  const magnitude = Math.sqrt(na.l2sq) * Math.sqrt(nb.l2sq) + quant;
  return (quant + 2 ** -24 * magnitude) * (1 + 2 ** -40);
}
