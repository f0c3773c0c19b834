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

// Moduli that passed checkModulus: every quantized product checks its modulus, and Miller–Rabin on BigInt
// took ~35 µs a call.
const checkedModuli = new Set<number>();

/** Throws RangeError unless p is an odd prime in [3, 2^24]. */
export function checkModulus(p: number): void {
  if (checkedModuli.has(p)) return;
  if (!Number.isInteger(p) || p < 3 || p > MAX_MODULUS || p % 2 === 0 || !isPrime(p)) {
    throw new RangeError(`modulus must be an odd prime in [3, 2^24], got ${p}`);
  }
  if (checkedModuli.size < 64) checkedModuli.add(p);
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
// 'wide': the accelerator returns the exact integer product (float64, no reduction). The trusted side
// asserts |y| ≤ 2^47 − 1 for the true product (Cauchy–Schwarz, quantize.ts), refuses any claimed |y|
// beyond the same bound, and checks the rest with Freivalds modulo one prime P = 2^50 − 27
// (freivalds-wide.ts). Two integers within ±(2^47 − 1) differ by less than 2^48 < P, so a wrong result
// differs from the true one modulo P, where each repetition catches it with probability ≥ 1 − 1/P: one
// repetition gives 2^-50, better than two repetitions modulo 2^24 − 3 (the weight gradient's two-sided
// check: ≥ 1 − 2/P, 2^-49; the forward and grad-input convolutions' checks, whose random vectors range
// over channels, rows and columns: ≥ 1 − 3/P, 2^-48.4). The operands stay centered
// representatives of p1 = 2^24 − 3 (what the accelerator accepts), but the product has ~2^47 of room
// instead of 2^23: about 20 bits per operand instead of 8.

/** The wide field's check modulus: 2^50 − 27, the largest prime below 2^50. */
export const WIDE_MODULUS = 1125899906842597;

export type ExactFieldName = 'wide' | 'p24';
export const EXACT_FIELDS: readonly ExactFieldName[] = ['wide', 'p24'];

export interface ExactField {
  readonly name: ExactFieldName;
  /** The prime every product is checked modulo. */
  readonly modulus: number;
  /** Freivalds repetitions by default: the fewest that give soundness ≤ 2^-48. */
  readonly repetitions: number;
  /** Largest |operand| (a centered representative of p = 2^24 − 3). */
  readonly operandHalf: number;
  /** Largest |y| a product may reach: asserted for the true product, enforced on the claimed one. */
  readonly outputHalf: number;
}

export const FIELDS: Readonly<Record<ExactFieldName, ExactField>> = Object.freeze({
  p24: Object.freeze({
    name: 'p24',
    modulus: DEFAULT_MODULUS,
    repetitions: 2,
    operandHalf: halfModulus(DEFAULT_MODULUS),
    outputHalf: halfModulus(DEFAULT_MODULUS),
  }),
  wide: Object.freeze({
    name: 'wide',
    modulus: WIDE_MODULUS,
    repetitions: 1,
    operandHalf: halfModulus(DEFAULT_MODULUS),
    outputHalf: 2 ** 47 - 1,
  }),
});

/** Whether n (a safe integer) is prime: deterministic Miller–Rabin (these bases decide every n < 3.3·10^24). */
export function isPrime(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 2) return false;
  const bases = [2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37];
  for (const b of bases) if (n % b === 0) return n === b;
  const N = BigInt(n);
  let d = N - 1n;
  let s = 0;
  while (d % 2n === 0n) {
    d /= 2n;
    s++;
  }
  const pow = (b: bigint, e: bigint): bigint => {
    let r = 1n;
    let x = b % N;
    for (; e > 0n; e >>= 1n) {
      if (e & 1n) r = (r * x) % N;
      x = (x * x) % N;
    }
    return r;
  };
  witness: for (const b of bases) {
    let x = pow(BigInt(b), d);
    if (x === 1n || x === N - 1n) continue;
    for (let i = 1; i < s; i++) {
      x = (x * x) % N;
      if (x === N - 1n) continue witness;
    }
    return false;
  }
  return true;
}

// The soundness argument above, asserted: P is a prime that covers every difference of two admissible
// results, its soundness per repetition meets 2^-48 (3/P for the structured convolution checks, so
// P ≥ 3·2^48), and
// results stay below 2^47 (the native check's limbs).
{
  const w = FIELDS.wide;
  if (
    !isPrime(w.modulus) ||
    2 * w.outputHalf >= w.modulus ||
    w.modulus < 3 * 2 ** 48 ||
    w.outputHalf >= 2 ** 47
  ) {
    throw new Error('field: the wide field constants break their own bounds');
  }
}

/** The field named `name` (RangeError for anything else). */
export function exactField(name: string): ExactField {
  if (name !== 'wide' && name !== 'p24') {
    throw new RangeError(`exact field must be one of ${EXACT_FIELDS.join(', ')}, got '${name}'`);
  }
  return FIELDS[name];
}
