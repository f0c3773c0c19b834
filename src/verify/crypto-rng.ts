// The only source of randomness for Freivalds vectors, one-time pads and stochastic rounding: fresh bytes
// from crypto.randomBytes on every call (no pool, no seed, no state to replay). A class with an ES private
// brand, so that the seeded RNG of tensor/ (initialisation, shuffling, tests) can never stand in for it:
// the type checker refuses a SeededRng where a CryptoRng is wanted, and isCryptoRng refuses look-alikes.
import { randomBytes, randomFillSync } from 'node:crypto';

export class CryptoRng {
  readonly kind = 'crypto' as const;
  readonly #brand = true;

  /** `count` independent uniform elements of [0, p), 1 < p ≤ 2^31, by rejection sampling (no modulo bias). */
  fieldElements(count: number, p: number): Int32Array {
    checkCount(count);
    if (!Number.isInteger(p) || p < 2 || p > 2 ** 31) {
      throw new RangeError(`fieldElements: modulus must be an integer in [2, 2^31], got ${p}`);
    }
    const bits = Math.ceil(Math.log2(p));
    const mask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    const out = new Int32Array(count);
    let filled = 0;
    while (filled < count) {
      // Each candidate is accepted with probability p / 2^bits ≥ 1/2; draw a little more than expected.
      const want = count - filled;
      const draws = Math.ceil((want * 2 ** bits) / p) + 16;
      const buf = randomBytes(4 * draws);
      for (let i = 0; i < draws && filled < count; i++) {
        const v = (buf.readUInt32LE(4 * i) & mask) >>> 0;
        if (v < p) out[filled++] = v;
      }
      buf.fill(0);
    }
    return out;
  }

  /**
   * `count` independent uniform elements of [0, p), 2 ≤ p < 2^53, as float64 integers, by rejection
   * sampling (no modulo bias): the wide field's check vectors (p = 2^50 − 27; smaller p in tests).
   */
  wideFieldElements(count: number, p: number): Float64Array {
    checkCount(count);
    if (!Number.isSafeInteger(p) || p < 2) {
      throw new RangeError(`wideFieldElements: modulus must be an integer in [2, 2^53), got ${p}`);
    }
    const bits = Math.ceil(Math.log2(p));
    const hiMask = bits > 32 ? 2 ** (bits - 32) - 1 : 0;
    const loMask = bits >= 32 ? 0xffffffff : 2 ** bits - 1;
    const out = new Float64Array(count);
    let filled = 0;
    while (filled < count) {
      // Each candidate is accepted with probability p / 2^bits ≥ 1/2; draw a little more than expected.
      const want = count - filled;
      const draws = Math.ceil((want * 2 ** bits) / p) + 16;
      const buf = randomBytes(8 * draws);
      for (let i = 0; i < draws && filled < count; i++) {
        const v =
          (buf.readUInt32LE(8 * i + 4) & hiMask) * 2 ** 32 + ((buf.readUInt32LE(8 * i) & loMask) >>> 0);
        if (v < p) out[filled++] = v;
      }
      buf.fill(0);
    }
    return out;
  }

  /** Fills `buf` with fresh random bytes (into a reused buffer: no fresh pages; the caller wipes it). */
  fill(buf: Uint8Array): Uint8Array {
    checkCount(buf.length);
    return randomFillSync(buf);
  }

  /** `count` fresh random bytes (stochastic rounding draws 4 per element; the caller wipes them). */
  bytes(count: number): Uint8Array {
    checkCount(count);
    const buf = randomBytes(count);
    return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** `count` uniform doubles in [0, 1) with 53 random bits each. */
  unit(count: number): Float64Array {
    checkCount(count);
    const buf = randomBytes(8 * count);
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const hi = buf.readUInt32LE(8 * i) >>> 11; // 21 bits
      const lo = buf.readUInt32LE(8 * i + 4); // 32 bits
      out[i] = (hi * 2 ** 32 + lo) / 2 ** 53;
    }
    buf.fill(0);
    return out;
  }

  /** `count` uniform doubles in [−1, 1) (53-bit resolution): vectors for float-mode checks. */
  uniformSigned(count: number): Float64Array {
    const out = this.unit(count);
    for (let i = 0; i < count; i++) out[i] = 2 * out[i]! - 1;
    return out;
  }

  /** `count` independent uniform signs ±1. */
  signs(count: number): Float64Array {
    checkCount(count);
    const buf = randomBytes(Math.ceil(count / 8));
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) out[i] = (buf[i >> 3]! >> (i & 7)) & 1 ? 1 : -1;
    buf.fill(0);
    return out;
  }

  /** True only for a real CryptoRng (or a subclass): structural look-alikes lack the private brand. */
  static is(x: unknown): x is CryptoRng {
    return typeof x === 'object' && x !== null && #brand in x;
  }
}

/** True only for a real CryptoRng (or a subclass). */
export function isCryptoRng(x: unknown): x is CryptoRng {
  return CryptoRng.is(x);
}

function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > 2 ** 28) {
    throw new RangeError(`CryptoRng: count must be an integer in [0, 2^28], got ${count}`);
  }
}
