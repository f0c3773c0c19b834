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
