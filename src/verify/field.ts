// The prime field of exact mode (DESIGN.md "Integrity"): F_p with p = 2^24 − 3 by default, elements
// carried as centered representatives in [−(p−1)/2, (p−1)/2]. Every function takes p so that the same
// math can be tested at a small prime (detection rates are measurable at p = 65521).

/** 2^24 − 3, the largest prime below 2^24: centered representatives fit int32 and float32 exactly. */
export const DEFAULT_MODULUS = 16777213;

/** Largest modulus the native checks accept: products of two representatives stay below 2^48. */
export const MAX_MODULUS = 2 ** 24;

/** (p − 1) / 2: the largest magnitude of a centered representative. */
export function halfModulus(p: number): number {
  return (p - 1) / 2;
}

/** Throws RangeError unless p is an odd prime in [3, 2^24]. */
export function checkModulus(p: number): void {
  if (!Number.isInteger(p) || p < 3 || p > MAX_MODULUS || p % 2 === 0) {
    throw new RangeError(`modulus must be an odd prime in [3, 2^24], got ${p}`);
  }
  for (let d = 3; d * d <= p; d += 2) {
    if (p % d === 0) throw new RangeError(`modulus must be an odd prime in [3, 2^24], got ${p}`);
  }
}

/** The centered representative of v mod p (v any safe integer). */
export function centered(v: number, p: number): number {
  let r = v % p;
  if (r < 0) r += p;
  return r > (p - 1) / 2 ? r - p : r;
}

// ---- exact fields: which integers a product may reach ----
//
// 'p24': the product is computed and checked modulo p = 2^24 − 3; it must not wrap, so |y| ≤ (p−1)/2.
// 'wide': the accelerator returns the exact integer product (float64, no reduction) and the trusted side
// checks it modulo two primes, p1 = 2^24 − 3 and p2 = 2^24 − 17, after asserting |y| ≤ (p1·p2 − 1)/2 for
// the true product (Cauchy–Schwarz, quantize.ts) and refusing any claimed |y| beyond the same bound. Two
// integers within that bound that agree modulo p1 and modulo p2 are equal (CRT), so a wrong result differs
// from the true one modulo at least one of the primes, where that prime's Freivalds check catches it with
// probability ≥ 1 − 1/p per repetition. The operands stay centered representatives of p1 (the accelerator
// and both checks accept them: |v| ≤ (p1−1)/2 < p2), but the product now has ~2^47 of room instead of
// 2^23: about 20 bits per operand instead of 8.

/** The second prime of the wide field: 2^24 − 17, the largest prime below 2^24 − 3. */
export const SECOND_MODULUS = 16777199;

export type ExactFieldName = 'wide' | 'p24';
export const EXACT_FIELDS: readonly ExactFieldName[] = ['wide', 'p24'];

export interface ExactField {
  readonly name: ExactFieldName;
  /** The moduli every product is checked against (each with its own repetitions). */
  readonly moduli: readonly number[];
  /** Largest |operand| (a centered representative of the first modulus). */
  readonly operandHalf: number;
  /** Largest |y| a product may reach: asserted for the true product, enforced on the claimed one. */
  readonly outputHalf: number;
}

const P1P2 = DEFAULT_MODULUS * SECOND_MODULUS; // < 2^48: exact in float64

export const FIELDS: Readonly<Record<ExactFieldName, ExactField>> = Object.freeze({
  p24: Object.freeze({
    name: 'p24',
    moduli: Object.freeze([DEFAULT_MODULUS]),
    operandHalf: halfModulus(DEFAULT_MODULUS),
    outputHalf: halfModulus(DEFAULT_MODULUS),
  }),
  wide: Object.freeze({
    name: 'wide',
    moduli: Object.freeze([DEFAULT_MODULUS, SECOND_MODULUS]),
    operandHalf: halfModulus(DEFAULT_MODULUS),
    outputHalf: (P1P2 - 1) / 2,
  }),
});

// The soundness argument above, asserted: the moduli are coprime primes, every operand is a valid input
// of both checks, the output range is covered by the CRT, and honest float64 sums stay exact (< 2^53).
checkModulus(SECOND_MODULUS);
if (
  !(P1P2 < 2 ** 53 && P1P2 % 2 === 1) ||
  FIELDS.wide.outputHalf * 2 >= P1P2 ||
  FIELDS.wide.operandHalf >= SECOND_MODULUS ||
  FIELDS.wide.outputHalf >= 2 ** 53
) {
  throw new Error('field: the wide field constants break their own bounds');
}

/** The field named `name` (RangeError for anything else). */
export function exactField(name: string): ExactField {
  if (name !== 'wide' && name !== 'p24') {
    throw new RangeError(`exact field must be one of ${EXACT_FIELDS.join(', ')}, got '${name}'`);
  }
  return FIELDS[name];
}
