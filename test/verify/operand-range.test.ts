// The exact check kernels (fields p24 and wide) refuse an int32 operand outside its range. The stride-1
// convolutions check it while copying it into their padded input (no pass of its own); the general loops
// and the folds check it first (for a fold the sequential pass also brings the operand into cache, which
// pays for itself). One value outside the range, wherever it lies (a fold's four-row groups or the rows
// after them, a fast path or a general loop), must be refused with RangeError, the extremes accepted.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { DEFAULT_MODULUS, halfModulus, WIDE_MODULUS } from '../../src/verify/field.js';
import { type CheckConvDims, modpKernels } from '../../src/verify/native-modp.js';
import { wideKernels } from '../../src/verify/native-wide.js';
import { convOut } from '../../src/verify/product-geometry.js';
import { randomField } from './cases.js';

const P = DEFAULT_MODULUS;
const P_MAX = P - 1; // modp kernels: operands in (−p, p)
const WIDE_MAX = 2 ** 24 - 1; // wide kernels: |operand| < 2^24

interface Kernel {
  readonly name: string;
  readonly max: number;
  /** Runs the kernel with `operand` as its range-checked int32 operand (length `size`). */
  run(operand: Int32Array): unknown;
  readonly size: number;
}

function kernelsFor(rng: SeededRng): Kernel[] {
  const out: Kernel[] = [];
  const residue = (n: number) =>
    Float64Array.from({ length: n }, () => Math.floor(rng.nextFloat() * WIDE_MODULUS));
  const field = (n: number) => randomField(n, P, rng);
  // fold: 9 rows (two groups of four and one more), 37 columns; and 3 rows (no group).
  for (const [rows, cols] of [
    [9, 37],
    [3, 300],
  ] as const) {
    out.push({
      name: `modp fold ${rows}×${cols}`,
      max: P_MAX,
      size: 2 * rows * cols,
      run: (a) => modpKernels.fold(2, rows, cols, 2, a, field(2 * rows), P),
    });
    out.push({
      name: `wide fold ${rows}×${cols}`,
      max: WIDE_MAX,
      size: 2 * rows * cols,
      run: (a) => wideKernels.fold(2, rows, cols, 1, a, residue(rows), WIDE_MODULUS),
    });
  }
  // convolutions: stride 1 (padded fast paths) and stride 2 (general loops).
  for (const stride of [1, 2]) {
    const g: CheckConvDims = { n: 2, c: 3, h: 9, w: 11, k: 3, stride, padding: 1 };
    const oh = convOut(g.h, g.k, stride, 1);
    const ow = convOut(g.w, g.k, stride, 1);
    const xSize = g.n * g.c * g.h * g.w;
    out.push({
      name: `modp conv s${stride}`,
      max: P_MAX,
      size: xSize,
      run: (x) => modpKernels.conv(g, 2, x, field(2 * g.c * 9), P),
    });
    out.push({
      name: `wide conv s${stride}`,
      max: WIDE_MAX,
      size: xSize,
      run: (x) => wideKernels.conv(g, 1, x, residue(g.c * 9), WIDE_MODULUS),
    });
    out.push({
      name: `modp convT s${stride}`,
      max: P_MAX,
      size: g.n * g.c * oh * ow,
      run: (dy) => modpKernels.convT(g, 2, dy, field(g.c * 2 * 9), P),
    });
    out.push({
      name: `wide convT s${stride}`,
      max: WIDE_MAX,
      size: g.n * g.c * oh * ow,
      run: (dy) => wideKernels.convT(g, 1, dy, residue(g.c * 9), WIDE_MODULUS),
    });
    out.push({
      name: `modp convW s${stride}`,
      max: P_MAX,
      size: xSize,
      run: (x) => modpKernels.convW(g, 2, field(g.n * 2 * oh * ow), x, P),
    });
    out.push({
      name: `wide convW s${stride}`,
      max: WIDE_MAX,
      size: xSize,
      run: (x) => wideKernels.convW(g, 1, residue(g.n * oh * ow), x, WIDE_MODULUS),
    });
  }
  return out;
}

describe('exact check kernels: operand range checked where the operand is read', () => {
  it('refuses one value outside the range anywhere in the operand, accepts the extremes', () => {
    const rng = new SeededRng(131);
    for (const k of kernelsFor(rng)) {
      const base = randomField(k.size, 2 ** 25, rng, Math.min(k.max, halfModulus(P)));
      const extremes = base.slice();
      extremes[0] = k.max;
      extremes[k.size - 1] = -k.max;
      assert.doesNotThrow(() => k.run(extremes), k.name);
      for (const at of [0, 1, Math.floor(k.size / 2), k.size - 2, k.size - 1, rng.nextInt(k.size)]) {
        for (const v of [k.max + 1, -(k.max + 1), 2 ** 31 - 1, -(2 ** 31)]) {
          const a = base.slice();
          a[at] = v;
          assert.throws(() => k.run(a), /outside \(−p, p\)/, `${k.name}: ${v} at ${at}`);
        }
      }
    }
  });
});
