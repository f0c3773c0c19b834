// The native verification kernels against a BigInt evaluation of their definitions: full-range field
// elements, inner dimensions long enough to cross the int64 reduction budget, odd conv geometries;
// out-of-range operands and bad moduli are refused rather than computed wrongly.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { f64Kernels, modpKernels } from '../../src/verify/native-modp.js';
import { convOut } from '../../src/verify/product-geometry.js';
import { randomField, randomFloats } from './cases.js';
import {
  convRef,
  convTRef,
  convWRef,
  foldRef,
  GEOMS,
  matvecsRef,
  mod,
  STRIDED_GEOMS,
} from './kernel-reference.js';

const P = 16777213;

describe('native verification kernels (mod p)', () => {
  const rng = new SeededRng(11);

  for (const p of [P, 65521, 101]) {
    it(`fold and matvecs match BigInt on full-range elements at p = ${p}`, () => {
      for (const [batch, rows, cols, reps] of [
        [1, 5, 7, 2],
        [3, 4, 300, 3],
        [2, 17, 1, 1],
      ] as const) {
        const a = randomField(batch * rows * cols, p, rng);
        const r = Int32Array.from(randomField(reps * rows, p, rng), (v) => (v < 0 ? v + p : v));
        assert.deepEqual(
          [...modpKernels.fold(batch, rows, cols, reps, a, r, p)],
          foldRef(batch, rows, cols, reps, a, r, p),
        );
        const m = rows;
        const u = randomField(reps * cols, p, rng);
        const am = randomField(m * cols, p, rng);
        assert.deepEqual(
          [...modpKernels.matvecs(m, cols, reps, am, u, p)],
          matvecsRef(m, cols, reps, am, u, p),
        );
      }
    });

    it(`conv, convT and convW match BigInt on odd geometries at p = ${p}`, () => {
      for (const g of GEOMS) {
        const reps = 2;
        const oh = convOut(g.h, g.k, g.stride, g.padding);
        const ow = convOut(g.w, g.k, g.stride, g.padding);
        const x = randomField(g.n * g.c * g.h * g.w, p, rng);
        const wf = randomField(reps * g.c * g.k * g.k, p, rng);
        assert.deepEqual(
          [...modpKernels.conv(g, reps, x, wf, p)],
          convRef(g, reps, x, wf, p),
          `conv ${JSON.stringify(g)}`,
        );
        const dy = randomField(g.n * g.c * oh * ow, p, rng);
        const wg = randomField(g.c * reps * g.k * g.k, p, rng);
        assert.deepEqual(
          [...modpKernels.convT(g, reps, dy, wg, p)],
          convTRef(g, reps, dy, wg, p),
          `convT ${JSON.stringify(g)}`,
        );
        const dyf = randomField(g.n * reps * oh * ow, p, rng);
        assert.deepEqual(
          [...modpKernels.convW(g, reps, dyf, x, p)],
          convWRef(g, reps, dyf, x, p),
          `convW ${JSON.stringify(g)}`,
        );
      }
    });
  }

  it('gives the same answers on the stride-1 fast paths (1–4 vectors, k = 1, 3, 5, widths across block edges)', () => {
    for (let t = 0; t < 40; t++) {
      const k = [1, 3, 5][t % 3]!;
      const reps = 1 + (t % 4);
      const g = {
        n: 1 + (t % 2),
        c: 1 + (t % 3),
        h: k + (t % 5),
        w: k + ((7 * t) % 37),
        k,
        stride: 1,
        padding: t % k,
      };
      const oh = convOut(g.h, g.k, 1, g.padding);
      const ow = convOut(g.w, g.k, 1, g.padding);
      const x = randomField(g.n * g.c * g.h * g.w, P, rng);
      const wf = randomField(reps * g.c * k * k, P, rng);
      assert.deepEqual(
        [...modpKernels.conv(g, reps, x, wf, P)],
        convRef(g, reps, x, wf, P),
        `conv ${JSON.stringify(g)} reps ${reps}`,
      );
      const dy = randomField(g.n * g.c * oh * ow, P, rng);
      assert.deepEqual(
        [...modpKernels.convT(g, reps, dy, wf, P)],
        convTRef(g, reps, dy, wf, P),
        `convT ${JSON.stringify(g)}`,
      );
      const dyf = randomField(g.n * reps * oh * ow, P, rng);
      assert.deepEqual(
        [...modpKernels.convW(g, reps, dyf, x, P)],
        convWRef(g, reps, dyf, x, P),
        `convW ${JSON.stringify(g)}`,
      );
      // float64 on small integers is exact too, and must agree.
      const center = (a: Int32Array): number[] => [...a].map((v) => (v > (P - 1) / 2 ? v - P : v));
      const xs = randomField(x.length, P, rng, 100);
      const ws = randomField(wf.length, P, rng, 100);
      assert.deepEqual(
        [...f64Kernels.conv(g, reps, Float32Array.from(xs), Float64Array.from(ws), false)],
        center(modpKernels.conv(g, reps, xs, ws, P)),
      );
      // abs applies to the operand (x); the folded vectors of a τ pass are non-negative already.
      const ds = Int32Array.from(randomField(dyf.length, P, rng, 100), Math.abs);
      assert.deepEqual(
        [...f64Kernels.convW(g, reps, Float64Array.from(ds), Float32Array.from(xs), true)],
        center(modpKernels.convW(g, reps, ds, Int32Array.from(xs, Math.abs), P)),
      );
    }
  });

  it('stays exact past the int64 reduction budget (≈ 2^15 terms of (p−1)² at p = 2^24 − 3)', () => {
    // Every term is the largest possible, (p−1)²: a missing reduction would overflow int64.
    const rows = 70000;
    const a = new Int32Array(rows).fill(P - 1);
    const r = new Int32Array(rows).fill(P - 1);
    const expected = mod(BigInt(rows) * BigInt(P - 1) ** 2n, P);
    assert.deepEqual([...modpKernels.fold(1, rows, 1, 1, a, r, P)], [expected]);
    // Two vectors at once, five columns (the four-row loop with several vectors).
    const a5 = new Int32Array(rows * 5).fill(P - 1);
    const r2 = new Int32Array(2 * rows).fill(P - 1);
    r2.fill(-(P - 2), rows);
    const second = mod(-BigInt(rows) * BigInt(P - 1) * BigInt(P - 2), P);
    assert.deepEqual(
      [...modpKernels.fold(1, rows, 5, 2, a5, r2, P)],
      [...new Array(5).fill(expected), ...new Array(5).fill(second)],
    );
    assert.deepEqual([...modpKernels.matvecs(1, rows, 1, a, r, P)], [expected]);
    const neg = new Int32Array(rows).fill(-(P - 1));
    assert.deepEqual(
      [...modpKernels.matvecs(1, rows, 1, neg, r, P)],
      [mod(-BigInt(rows) * BigInt(P - 1) ** 2n, P)],
    );
    // conv: 4000 channels × 3×3 taps = 36 000 terms per output; convW: 1 × 200×200 positions.
    const g = { n: 1, c: 4000, h: 3, w: 3, k: 3, stride: 1, padding: 0 };
    const x = new Int32Array(4000 * 9).fill(P - 1);
    const wf = new Int32Array(4000 * 9).fill(P - 1);
    assert.deepEqual([...modpKernels.conv(g, 1, x, wf, P)], [mod(36000n * BigInt(P - 1) ** 2n, P)]);
    const gw = { n: 1, c: 1, h: 200, w: 200, k: 1, stride: 1, padding: 0 };
    const big = new Int32Array(40000).fill(P - 1);
    assert.deepEqual([...modpKernels.convW(gw, 1, big, big, P)], [mod(40000n * BigInt(P - 1) ** 2n, P)]);
    // The stride-1 weight-gradient fast path: one vector lane takes 498 rows × 124 column quads = 61 752
    // terms, past the budget.
    const gb = { n: 1, c: 1, h: 500, w: 500, k: 3, stride: 1, padding: 0 };
    const xb = new Int32Array(250000).fill(-(P - 1));
    const dyb = new Int32Array(498 * 498).fill(P - 1);
    const want = mod(-BigInt(498 * 498) * BigInt(P - 1) ** 2n, P);
    assert.deepEqual([...modpKernels.convW(gb, 1, dyb, xb, P)], new Array(9).fill(want));
    assert.deepEqual([...modpKernels.convT(g, 1, new Int32Array(4000).fill(P - 1), wf, P)].slice(4, 5), [
      mod(4000n * BigInt(P - 1) ** 2n, P),
    ]);
  });

  it('refuses operands outside (−p, p) and moduli outside [2, 2^24] with RangeError', () => {
    const ok = new Int32Array([1, 2, 3]);
    assert.throws(() => modpKernels.matvecs(1, 3, 1, new Int32Array([1, P, 3]), ok, P), /outside \(−p, p\)/);
    assert.throws(() => modpKernels.fold(1, 3, 1, 1, ok, new Int32Array([0, -P, 0]), P), RangeError);
    assert.throws(() => modpKernels.matvecs(1, 3, 1, ok, ok, 2 ** 24 + 1), /modulus/);
    assert.throws(() => modpKernels.matvecs(1, 3, 1, ok, ok, 1), /modulus/);
    assert.throws(() => modpKernels.matvecs(1, 4, 1, ok, ok, P), RangeError, 'wrong length');
  });

  it('finds the first element outside the centered range', () => {
    const h = (P - 1) / 2;
    assert.equal(modpKernels.firstOutOfRange(new Int32Array([h, -h, 0]), P), -1);
    assert.equal(modpKernels.firstOutOfRange(new Int32Array(10000).fill(1).fill(h + 1, 5000, 5001), P), 5000);
    assert.equal(modpKernels.firstOutOfRange(new Int32Array([0, -h - 1]), P), 1);
  });
});

describe('native verification kernels (float64)', () => {
  const rng = new SeededRng(12);

  it('fold/matvecs/conv/convT/convW agree with the exact kernels on small integers, abs folds |operand|', () => {
    for (const g of [{ n: 2, c: 3, h: 6, w: 5, k: 3, stride: 2, padding: 1 }, ...STRIDED_GEOMS]) {
      for (const reps of [1, 2, 4]) floatAgreesWithExact(g, reps);
    }
  });

  function floatAgreesWithExact(g: (typeof STRIDED_GEOMS)[number], reps: number): void {
    const oh = convOut(g.h, g.k, g.stride, g.padding);
    const ow = convOut(g.w, g.k, g.stride, g.padding);
    const small = (n: number): Int32Array => randomField(n, P, rng, 50);
    const x = small(g.n * g.c * g.h * g.w);
    const wf = Int32Array.from(small(reps * g.c * g.k * g.k), Math.abs);
    const toF = (a: Int32Array): Float32Array => Float32Array.from(a);
    const toD = (a: Int32Array): Float64Array => Float64Array.from(a);
    const center = (a: Int32Array): number[] => [...a].map((v) => (v > (P - 1) / 2 ? v - P : v));
    assert.deepEqual(
      [...f64Kernels.conv(g, reps, toF(x), toD(wf), false)],
      center(modpKernels.conv(g, reps, x, wf, P)),
    );
    const xa = Int32Array.from(x, Math.abs);
    assert.deepEqual(
      [...f64Kernels.conv(g, reps, toF(x), toD(wf), true)],
      center(modpKernels.conv(g, reps, xa, wf, P)),
    );
    const dy = small(g.n * g.c * oh * ow);
    assert.deepEqual(
      [...f64Kernels.convT(g, reps, toF(dy), toD(wf), false)],
      center(modpKernels.convT(g, reps, dy, wf, P)),
    );
    const dyf = small(g.n * reps * oh * ow);
    assert.deepEqual(
      [...f64Kernels.convW(g, reps, toD(dyf), toF(x), false)],
      center(modpKernels.convW(g, reps, dyf, x, P)),
    );
    const a = small(4 * 9);
    const r = small(2 * 4);
    assert.deepEqual(
      [...f64Kernels.fold(1, 4, 9, 2, toF(a), toD(r), false)],
      center(modpKernels.fold(1, 4, 9, 2, a, r, P)),
    );
    const u = small(2 * 9);
    assert.deepEqual(
      [...f64Kernels.matvecs(4, 9, 2, toF(a), toD(u), false)],
      center(modpKernels.matvecs(4, 9, 2, a, u, P)),
    );
  }

  it('foldAbs gives the fold and the |·| fold with ones in one pass (rows of 9 and others, 1–3 vectors)', () => {
    // Small integers: every float64 sum is exact in any order, so the answers compare bit for bit.
    const ints = (n: number, lim: number): Float32Array => Float32Array.from(randomField(n, P, rng, lim));
    for (const cols of [1, 5, 9, 16, 300]) {
      for (const rows of [1, 2, 3, 4, 7, 13]) {
        for (const reps of [1, 2, 3]) {
          const batch = 1 + ((rows + cols) % 3);
          const a = ints(batch * rows * cols, 50);
          const r = Float64Array.from(ints(reps * rows, 50));
          const both = f64Kernels.foldAbs(batch, rows, cols, reps, a, r);
          const what = `batch ${batch} rows ${rows} cols ${cols} reps ${reps}`;
          assert.deepEqual([...both.out], [...f64Kernels.fold(batch, rows, cols, reps, a, r, false)], what);
          const want = new Float64Array(batch * cols);
          for (let b = 0; b < batch; b++)
            for (let row = 0; row < rows; row++)
              for (let c = 0; c < cols; c++) want[b * cols + c]! += Math.abs(a[(b * rows + row) * cols + c]!);
          assert.deepEqual([...both.abs], [...want], `${what} (|·|)`);
        }
      }
    }
  });

  it('finds the first NaN or infinity', () => {
    const v = randomFloats(100, rng);
    assert.equal(f64Kernels.firstNonFinite(v), -1);
    v[42] = Number.POSITIVE_INFINITY;
    v[77] = Number.NaN;
    assert.equal(f64Kernels.firstNonFinite(v), 42);
  });
});
