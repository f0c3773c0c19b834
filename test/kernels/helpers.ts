// Shared by the kernel tests: seeded data and a closeness check relative to the result's magnitude
// (float32 sums in a different order differ in the last bits; an absolute tolerance would be wrong for
// both large and small outputs).
import assert from 'node:assert/strict';
import { SeededRng } from '../../src/tensor/seeded-rng.js';

/** Uniform in [-scale, scale). */
export function randomF32(rng: SeededRng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (2 * rng.nextFloat() - 1) * scale;
  return a;
}

export function randomF64(rng: SeededRng, n: number): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = 2 * rng.nextFloat() - 1 + rng.nextFloat() * 2 ** -24;
  return a;
}

/** Small integers in [-r, r]: many exact ties (max-pool tie-breaking). */
export function randomInts(rng: SeededRng, n: number, r: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.nextInt(2 * r + 1) - r;
  return a;
}

export function randomInt(rng: SeededRng, lo: number, hi: number): number {
  return lo + rng.nextInt(hi - lo + 1);
}

/**
 * Every |actual − expected| ≤ rtol·(|expected| + max|expected|) — relative to the element and to the
 * magnitude of the whole result (cancellation makes some elements tiny).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  label: string,
): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const tol = rtol * (Math.abs(e) + scale) + 1e-30;
    if (!(Math.abs(a - e) <= tol)) {
      assert.fail(`${label}: element ${i} is ${a}, expected ${e} (tolerance ${tol.toExponential(2)})`);
    }
  }
}

/** Bit-identical arrays (NaN equal to NaN). */
export function assertIdentical(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${label}: element ${i} is ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

export { SeededRng };
