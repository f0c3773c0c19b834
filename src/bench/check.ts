// Correctness gate run before any timing: our kernels against the naive reference on the same data.
import { TeeError } from '../errors.js';
import type { SeededRng } from '../tensor/seeded-rng.js';

/** Fills `a` with uniform values in [-1, 1). */
export function fillUniform(rng: SeededRng, a: Float32Array | Float64Array): void {
  for (let i = 0; i < a.length; i++) a[i] = rng.nextFloat() * 2 - 1;
}

export interface CheckResult {
  readonly what: string;
  /** max |actual − expected| / max(max |expected|, floor). */
  readonly relErr: number;
  readonly tol: number;
}

export function compare(
  what: string,
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  floor = 0,
): CheckResult {
  if (actual.length !== expected.length) {
    throw new TeeError('E_SHAPE', `${what}: ${actual.length} values, the reference has ${expected.length}`);
  }
  let maxErr = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (Number.isNaN(d)) maxErr = Number.POSITIVE_INFINITY;
    else if (d > maxErr) maxErr = d;
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  return { what, relErr: maxErr / (Math.max(maxRef, floor) || 1), tol };
}

/** Throws E_NATIVE naming the first failed check; returns the checks for the report otherwise. */
export function requirePassed(checks: readonly CheckResult[]): readonly CheckResult[] {
  for (const c of checks) {
    if (!(c.relErr <= c.tol)) {
      throw new TeeError(
        'E_NATIVE',
        `${c.what}: relative error ${c.relErr.toExponential(2)} exceeds ${c.tol}`,
      );
    }
  }
  return checks;
}
