// Exact-mode integrity in the wide field (field.ts): the accelerator returns the exact integer product Y of
// quantized operands A, B as float64. Y is accepted iff every element is an integer with
// |y| ≤ outputHalf and Y passes Freivalds modulo each of the field's primes (freivalds-exact.ts, fresh
// vectors per prime and per check). Since the true product also lies within ±outputHalf (asserted when
// the operands were quantized) and 2·outputHalf < p1·p2, a Y that agrees with it modulo both primes is it
// (CRT); a wrong Y differs from it modulo at least one prime, whose k repetitions miss with probability
// ≤ (1/p)^k. So the soundness is that of one prime's check: ≈ 2^-24k, 2^-48 at the default k = 2.

import type { ExactField } from './field.js';
import {
  type CheckOutcome,
  type ExactCheckOptions,
  freivaldsExact,
  resultFormProblem,
} from './freivalds-exact.js';
import { modpKernels } from './native-modp.js';
import type { ProductGeometry } from './product-geometry.js';

// The residue arrays are reused from check to check: fresh pages for them cost about six times the pass
// itself (3.2 M elements: 15 ms allocated, 2.5 ms reused). Safe without locking: freivaldsWide is
// synchronous from start to end, so no other check can run while one uses them.
let scratch: { r1: Int32Array; r2: Int32Array } | null = null;

function residueScratch(n: number): { r1: Int32Array; r2: Int32Array } {
  if (scratch === null || scratch.r1.length < n) {
    scratch = { r1: new Int32Array(n), r2: new Int32Array(n) };
  }
  return { r1: scratch.r1.subarray(0, n), r2: scratch.r2.subarray(0, n) };
}

/**
 * Why an untrusted wide result cannot be the answer to `g` by its form ('' when fine): not a
 * Float64Array, or a shape or length other than the product's. Its values are judged by freivaldsWide.
 */
export function wideResultProblem(
  g: ProductGeometry,
  result: { readonly shape: readonly number[]; readonly data: unknown },
): string {
  return resultFormProblem(g, result, Float64Array, 'wide');
}

/**
 * Checks Y = A·B (as `g` defines it) exactly over the integers, via the field's bound and primes. a, b
 * hold centered representatives of the first prime (what was sent). Never throws for a wrong Y.
 */
export function freivaldsWide(
  g: ProductGeometry,
  a: Int32Array,
  b: Int32Array,
  y: Float64Array,
  field: ExactField,
  opts: Omit<ExactCheckOptions, 'p'>,
): CheckOutcome {
  const [p1, p2] = field.moduli;
  if (field.moduli.length !== 2 || p1 === undefined || p2 === undefined) {
    throw new RangeError(`freivaldsWide: field '${field.name}' is not a two-prime field`);
  }
  const { r1, r2, bad } = modpKernels.wideResidues(y, field.outputHalf, p1, p2, residueScratch(y.length));
  if (bad >= 0) {
    return {
      ok: false,
      reason: `${g.op}: result element ${bad} = ${y[bad]} is not an integer within ±${field.outputHalf}`,
    };
  }
  const first = freivaldsExact(g, a, b, r1, { ...opts, p: p1 });
  if (!first.ok) return { ok: false, reason: `${first.reason} (mod ${p1})` };
  const second = freivaldsExact(g, a, b, r2, { ...opts, p: p2 });
  if (!second.ok) return { ok: false, reason: `${second.reason} (mod ${p2})` };
  return first;
}
