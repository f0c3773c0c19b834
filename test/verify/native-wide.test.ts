// The wide field's native kernels (25-bit limbs of residues mod P < 2^50) against a BigInt evaluation of
// their definitions: full-range residues and operands, inner dimensions past the int64 reduction budget,
// odd conv geometries, results at ±bound; bad limbs, residues, bounds and moduli are refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { WIDE_MODULUS } from '../../src/verify/field.js';
import { verifyAddonModule } from '../../src/verify/native-modp.js';
import { splitLimbs, wideKernels } from '../../src/verify/native-wide.js';
import { convOut } from '../../src/verify/product-geometry.js';
import { randomField } from './cases.js';
import { convRef, convTRef, convWRef, foldRef, GEOMS, matvecsRef } from './kernel-reference.js';

const P = WIDE_MODULUS;
const OPERAND = 2 ** 24 - 1; // the largest |operand| the kernels accept
const BOUND = 2 ** 47 - 1;

function residues(count: number, rng: SeededRng, p = P): Float64Array {
  const out = new Float64Array(count);
  const edges = p > 2 ** 26 ? [0, 1, p - 1, 2 ** 25 - 1, 2 ** 25, p - 2 ** 25] : [0, 1, p - 1];
  for (let i = 0; i < count; i++) {
    out[i] = i < edges.length ? edges[i]! : Math.floor(rng.nextFloat() * p);
  }
  return out;
}

function operands(count: number, rng: SeededRng): Int32Array {
  const a = randomField(count, 2 ** 25, rng, OPERAND);
  if (count > 1) {
    a[0] = OPERAND;
    a[1] = -OPERAND;
  }
  return a;
}

function results(count: number, rng: SeededRng): Float64Array {
  const y = new Float64Array(count);
  const edges = [BOUND, -BOUND, 0, 2 ** 24, -(2 ** 24) - 1, 2 ** 23, -(2 ** 23)];
  for (let i = 0; i < count; i++) {
    y[i] = i < edges.length ? edges[i]! : Math.round((2 * rng.nextFloat() - 1) * BOUND);
  }
  return y;
}

// The result fold has an AVX-512 IFMA path where the CPU has one (on by default): the whole suite runs with
// it switched off, and again with it on where it exists.
const IFMA = wideKernels.setIfma(true);

for (const ifma of [false, true]) {
  describe(`native wide-field kernels (mod P = 2^50 − 27), ${ifma ? 'with' : 'without'} AVX-512 IFMA`, {
    skip: ifma && !IFMA ? 'this CPU has no AVX-512 IFMA' : false,
  }, () => {
    const rng = new SeededRng(ifma ? 43 : 41);
    before(() => assert.equal(wideKernels.setIfma(ifma), ifma));
    after(() => wideKernels.setIfma(true));

    it('splits residues into 25-bit limbs, lo then hi per vector', () => {
      const v = Float64Array.from([0, 1, 2 ** 25, P - 1, 12345678901234, 7]);
      const l = splitLimbs(v, 2, 1, 3);
      assert.equal(l.length, 12);
      for (let o = 0; o < 2; o++)
        for (let i = 0; i < 3; i++) {
          const x = v[o * 3 + i]!;
          assert.equal(l[o * 6 + i]! + l[o * 6 + 3 + i]! * 2 ** 25, x);
          assert.ok(l[o * 6 + i]! < 2 ** 25 && l[o * 6 + 3 + i]! < 2 ** 25);
        }
    });

    it('folds short rows exactly when every term is at its largest (sums past 2^63 without the reductions)', () => {
      for (const [cols, reps] of [
        [9, 2],
        [9, 1],
        [1, 4],
      ] as const) {
        const rows = 20000;
        const a = new Int32Array(2 * rows * cols).fill(OPERAND);
        const r = new Float64Array(reps * rows).fill(P - 1);
        assert.deepEqual(
          [...wideKernels.fold(2, rows, cols, reps, a, r, P)],
          foldRef(2, rows, cols, reps, a, r, P),
        );
      }
    });

    it('matvecs of operands are exact when every term is at its largest (±(2^24 − 1) against P − 1, long and short rows)', () => {
      // Long rows (chunked), and short ones (8 rows at a time on IFMA: up to one chunk, 136 columns).
      for (const [m, kk] of [
        [3, 5000],
        [17, 136],
        [9, 57],
      ] as const) {
        for (const sign of [1, -1]) {
          const a = new Int32Array(m * kk).fill(sign * OPERAND);
          const u = new Float64Array(3 * kk).fill(P - 1);
          assert.deepEqual([...wideKernels.matvecs(m, kk, 3, a, u, P)], matvecsRef(m, kk, 3, a, u, P));
        }
      }
    });

    it('fold and matvecs of operands match BigInt, also past the reduction budget (20 000 terms)', () => {
      for (const [batch, rows, cols, reps] of [
        [2, 7, 9, 1],
        [1, 5, 300, 2],
        [3, 1, 4, 3],
        [1, 20000, 3, 1],
        // Short rows with whole groups of four limb rows (2 and 4 repetitions): the grad-input check's
        // weight fold ([O, C, k²] over C) takes a path of its own for k² = 9 and 1; with one repetition
        // (two limb rows) another for k² = 9, lanes over the taps.
        [5, 64, 9, 2],
        [6, 1, 9, 1],
        [3, 20000, 9, 1],
        [3, 37, 1, 4],
        [2, 20000, 9, 2],
        [1, 3, 9, 4],
        // Matvecs over rows longer than the IFMA path's 1024-column chunks, with a masked last step.
        [1, 2, 3001, 1],
        [2, 3, 2053, 3],
      ] as const) {
        const a = operands(batch * rows * cols, rng);
        const r = residues(reps * rows, rng);
        assert.deepEqual(
          [...wideKernels.fold(batch, rows, cols, reps, a, r, P)],
          foldRef(batch, rows, cols, reps, a, r, P),
        );
        const u = residues(reps * cols, rng);
        assert.deepEqual(
          [...wideKernels.matvecs(batch * rows, cols, reps, a, u, P)],
          matvecsRef(batch * rows, cols, reps, a, u, P),
        );
      }
    });

    it('folds and matvecs stay exact for a small modulus (P = 251, 65521: operands and results far above P)', () => {
      for (const q of [251, 65521]) {
        for (const [batch, rows, cols, reps] of [
          [3, 40, 9, 1],
          [2, 17, 1, 2],
          [1, 13, 130, 1],
          [2, 5, 67, 2],
        ] as const) {
          const a = operands(batch * rows * cols, rng);
          const r = residues(reps * rows, rng, q);
          assert.deepEqual(
            [...wideKernels.fold(batch, rows, cols, reps, a, r, q)],
            foldRef(batch, rows, cols, reps, a, r, q),
            `fold mod ${q} ${[batch, rows, cols, reps]}`,
          );
          const u = residues(reps * cols, rng, q);
          assert.deepEqual(
            [...wideKernels.matvecs(batch * rows, cols, reps, a, u, q)],
            matvecsRef(batch * rows, cols, reps, a, u, q),
            `matvecs mod ${q}`,
          );
          const y = results(batch * rows * cols, rng);
          const f = wideKernels.foldResult(batch, rows, cols, reps, y, r, BOUND, q);
          assert.equal(f.bad, -1);
          assert.deepEqual([...f.out], foldRef(batch, rows, cols, reps, y, r, q), `foldResult mod ${q}`);
        }
      }
    });

    it('conv, convT and convW match BigInt on odd geometries (fast and general paths)', () => {
      for (const g of GEOMS) {
        for (const reps of [1, 2]) {
          const oh = convOut(g.h, g.k, g.stride, g.padding);
          const ow = convOut(g.w, g.k, g.stride, g.padding);
          const x = operands(g.n * g.c * g.h * g.w, rng);
          const wf = residues(reps * g.c * g.k * g.k, rng);
          assert.deepEqual(
            [...wideKernels.conv(g, reps, x, wf, P)],
            convRef(g, reps, x, wf, P),
            `conv ${JSON.stringify(g)}`,
          );
          const dy = operands(g.n * g.c * oh * ow, rng);
          const wg = residues(g.c * reps * g.k * g.k, rng);
          assert.deepEqual(
            [...wideKernels.convT(g, reps, dy, wg, P)],
            convTRef(g, reps, dy, wg, P),
            `convT ${JSON.stringify(g)}`,
          );
          const dyf = residues(g.n * reps * oh * ow, rng);
          assert.deepEqual(
            [...wideKernels.convW(g, reps, dyf, x, P)],
            convWRef(g, reps, dyf, x, P),
            `convW ${JSON.stringify(g)}`,
          );
        }
      }
      // 1 200 channels × 9 taps per output: past every reduction budget (IFMA lanes: 2^11 taps), an output row
      // wider than one 16-column block.
      const g = { n: 1, c: 1200, h: 4, w: 19, k: 3, stride: 1, padding: 1 };
      const x = operands(g.c * g.h * g.w, rng);
      const wf = residues(g.c * 9, rng);
      assert.deepEqual(
        [...wideKernels.conv(g, 1, x, wf, P)],
        convRef(g, 1, x, wf, P),
        'conv, 1 200 channels',
      );
      const dy = operands(g.c * g.h * g.w, rng);
      const wg = residues(g.c * 9, rng);
      assert.deepEqual(
        [...wideKernels.convT(g, 1, dy, wg, P)],
        convTRef(g, 1, dy, wg, P),
        'convT, 1 200 channels',
      );
      // Small planes with several images (on IFMA the lanes run over images): a partial last group of eight,
      // and 1 000 channels × 9 taps, past the lane budget (random low halves near 2^51 would wrap a lane).
      for (const s of [
        { n: 9, c: 5, h: 3, w: 3, k: 3, stride: 1, padding: 1 },
        { n: 8, c: 1000, h: 1, w: 1, k: 3, stride: 1, padding: 1 },
        { n: 12, c: 3, h: 1, w: 1, k: 1, stride: 1, padding: 0 },
      ]) {
        for (const reps of [1, 2]) {
          const xs = operands(s.n * s.c * s.h * s.w, rng);
          const ws = residues(reps * s.c * s.k * s.k, rng);
          assert.deepEqual(
            [...wideKernels.conv(s, reps, xs, ws, P)],
            convRef(s, reps, xs, ws, P),
            `conv ${JSON.stringify(s)}`,
          );
          const ds = operands(s.n * s.c * s.h * s.w, rng);
          const gs = residues(s.c * reps * s.k * s.k, rng);
          assert.deepEqual(
            [...wideKernels.convT(s, reps, ds, gs, P)],
            convTRef(s, reps, ds, gs, P),
            `convT ${JSON.stringify(s)}`,
          );
        }
      }
    });

    it('folds and multiplies the result (float64 integers up to ±(2^47 − 1)) exactly, widths across vector edges', () => {
      for (const [batch, rows, cols, reps] of [
        [1, 3, 1, 1],
        [2, 5, 7, 2],
        [1, 9, 261, 1],
        [1, 9000, 5, 1],
        [1, 8195, 9, 2],
        [3, 4, 1029, 2],
        // Vectors of eight and a tail, past the IFMA sums' reduction budget (2^11 rows).
        [1, 4101, 17, 1],
      ] as const) {
        const y = results(batch * rows * cols, rng);
        const r = residues(reps * rows, rng);
        const f = wideKernels.foldResult(batch, rows, cols, reps, y, r, BOUND, P);
        assert.equal(f.bad, -1);
        assert.deepEqual(
          [...f.out],
          foldRef(batch, rows, cols, reps, y, r, P),
          `fold ${[batch, rows, cols, reps]}`,
        );
        const u = residues(reps * cols, rng);
        const m = wideKernels.matvecsResult(batch * rows, cols, reps, y, u, BOUND, P);
        assert.equal(m.bad, -1);
        assert.deepEqual(
          [...m.out],
          matvecsRef(batch * rows, cols, reps, y, u, P),
          `matvecs ${[batch, rows, cols, reps]}`,
        );
      }
    });

    it('folds results exactly when every term is at its largest (±(2^47 − 1) against P − 1, 5 000 rows)', () => {
      for (const sign of [1, -1]) {
        const rows = 5000;
        const cols = 19;
        const y = new Float64Array(rows * cols).fill(sign * BOUND);
        const r = new Float64Array(rows).fill(P - 1);
        const f = wideKernels.foldResult(1, rows, cols, 1, y, r, BOUND, P);
        assert.equal(f.bad, -1);
        assert.deepEqual([...f.out], foldRef(1, rows, cols, 1, y, r, P));
      }
    });

    it('reports the first result element that is not an integer within ±bound (the fold is then discarded)', () => {
      for (const [at, v] of [
        [0, 0.5],
        [77, Number.NaN],
        [300, Number.POSITIVE_INFINITY],
        [301, Number.NEGATIVE_INFINITY],
        [1000, BOUND + 1],
        [1099, -(2 ** 60)],
      ] as const) {
        const y = results(1100, rng);
        y[at] = v;
        const later = at < 1099 ? 1099 : -1; // a later bad element must not be the one reported
        if (later >= 0) y[later] = 0.25;
        const r = residues(4, rng);
        const f = wideKernels.foldResult(1, 4, 275, 1, y, r, BOUND, P);
        assert.equal(f.bad, at, `fold: ${v} at ${at}`);
        const m = wideKernels.matvecsResult(4, 275, 1, y, residues(275, rng), BOUND, P);
        assert.equal(m.bad, at, `matvecs: ${v} at ${at}`);
      }
    });

    it('reports the first refused element in index order when rows are folded in groups', () => {
      // Rows are folded four at a time over the vector columns, the last (cols mod 4) columns one by one:
      // an earlier row's refused tail element comes before a later row's refused vector element.
      for (const [rows, cols, first, later] of [
        [5, 275, 274, 2 * 275 + 3], // row 0's tail, then row 2's vector part (same group)
        [9, 18, 4 * 18 + 17, 5 * 18], // row 4's tail, then row 5 (second group)
        [9, 18, 8 * 18 + 2, -1], // the remainder row after two groups
        [7, 4, 6 * 4 + 3, -1],
      ] as const) {
        const y = results(rows * cols, rng);
        y[first] = 1.5;
        if (later >= 0) y[later] = Number.NaN;
        const r = residues(rows, rng);
        const f = wideKernels.foldResult(1, rows, cols, 1, y, r, BOUND, P);
        assert.equal(f.bad, first, `${rows}×${cols}`);
      }
    });

    it('correlates residue planes and sums residue products exactly (the two-sided weight-gradient check)', () => {
      for (const g of GEOMS) {
        for (const reps of [1, 2]) {
          const oh = convOut(g.h, g.k, g.stride, g.padding);
          const ow = convOut(g.w, g.k, g.stride, g.padding);
          const dyf = residues(g.n * reps * oh * ow, rng);
          const xs = residues(g.n * reps * g.h * g.w, rng);
          const got = [...wideKernels.corrResidues(g, reps, dyf, xs, P)];
          // Per repetition, a one-channel convW of that repetition's planes.
          const want: number[] = [];
          for (let j = 0; j < reps; j++) {
            const plane = (v: Float64Array, size: number) =>
              Float64Array.from(
                { length: g.n * size },
                (_, i) => v[(Math.floor(i / size) * reps + j) * size + (i % size)]!,
              );
            want.push(...convWRef({ ...g, c: 1 }, 1, plane(dyf, oh * ow), plane(xs, g.h * g.w), P));
          }
          assert.deepEqual(got, want, `corr ${JSON.stringify(g)} reps ${reps}`);
        }
      }
      // Long enough to pass the reduction budgets (2^11 pairs; on IFMA 2^11 steps of eight) several times, at
      // the largest residues.
      const big = { n: 1, c: 1, h: 200, w: 200, k: 1, stride: 1, padding: 0 };
      // P − 1 squared has tiny low 52 bits; (2^26 − 1)² has them near 2^52 (the IFMA lanes' worst case).
      for (const v of [P - 1, 2 ** 26 - 1]) {
        const top = new Float64Array(40000).fill(v);
        assert.deepEqual([...wideKernels.corrResidues(big, 1, top, top, P)], convWRef(big, 1, top, top, P));
      }
      for (const [reps, rows, cols] of [
        [1, 1, 1],
        [2, 5, 9],
        [1, 5000, 3],
      ] as const) {
        const sv = residues(reps * rows, rng);
        const v = residues(reps * rows * cols, rng);
        const want: number[] = [];
        for (let j = 0; j < reps; j++)
          for (let t = 0; t < cols; t++) {
            let acc = 0n;
            for (let r = 0; r < rows; r++)
              acc += BigInt(sv[j * rows + r]!) * BigInt(v[(j * rows + r) * cols + t]!);
            want.push(Number(acc % BigInt(P)));
          }
        assert.deepEqual(
          [...wideKernels.dotResidues(reps, rows, cols, sv, v, P)],
          want,
          `dot ${[reps, rows, cols]}`,
        );
      }
      const g = GEOMS[0]!;
      const ohw = convOut(g.h, g.k, g.stride, g.padding) * convOut(g.w, g.k, g.stride, g.padding);
      const badPlane = residues(g.n * ohw, rng);
      badPlane[3] = P;
      assert.throws(
        () => wideKernels.corrResidues(g, 1, badPlane, residues(g.n * g.h * g.w, rng), P),
        RangeError,
      );
      assert.throws(
        () => wideKernels.dotResidues(1, 2, 1, Float64Array.of(1, 0.5), Float64Array.of(1, 1), P),
        RangeError,
      );
    });

    it('sums rows against shifted row vectors and folded results against rows ⊗ columns exactly (the structured conv checks)', () => {
      const big = (a: Float64Array, i: number): bigint => BigInt(a[i]!);
      const mod = (v: bigint): number => Number(v % BigInt(P));
      // The last three at the largest residues: 9 000 rows, and 4 500 channels (past the channel fold's
      // reduction budget of 2^11), once with P − 1 (the largest limbs) and once with 2^26 − 1 (products whose
      // low 52 bits are near 2^52: the IFMA lanes' worst case).
      const long = [
        { n: 1, c: 1, h: 9000, w: 1, k: 1, stride: 1, padding: 0 },
        { n: 1, c: 4500, h: 5, w: 1, k: 3, stride: 1, padding: 1 },
        { n: 1, c: 4500, h: 6, w: 1, k: 3, stride: 1, padding: 1 },
      ];
      const topValue = (g: (typeof long)[number]): number => (g === long[2] ? 2 ** 26 - 1 : P - 1);
      for (const g of [...GEOMS, ...long]) {
        const oh = convOut(g.h, g.k, g.stride, g.padding);
        const top = long.includes(g);
        for (const reps of top ? [1] : [1, 2]) {
          // convRows: out[j] = Σ f[j,c,kh,kw]·u[j,b,oy]·hf[j,kw,b,c,oy·s+kh−pad]; convTRows (g.c as o):
          // out[j] = Σ wg[o,j,kh,kw]·hb[j,kw,b,o,i]·u[j,b,i·s+kh−pad].
          const fill = (n: number): Float64Array =>
            top ? new Float64Array(n).fill(topValue(g as (typeof long)[number])) : residues(n, rng);
          const hf = fill(reps * g.k * g.n * g.c * g.h);
          const uf = fill(reps * g.n * oh);
          const f = fill(reps * g.c * g.k * g.k);
          const hb = fill(reps * g.k * g.n * g.c * oh);
          const ub = fill(reps * g.n * g.h);
          const wg = fill(g.c * reps * g.k * g.k);
          const wantF: number[] = [];
          const wantT: number[] = [];
          for (let j = 0; j < reps; j++) {
            let accF = 0n;
            let accT = 0n;
            for (let kw = 0; kw < g.k; kw++)
              for (let b = 0; b < g.n; b++)
                for (let c = 0; c < g.c; c++)
                  for (let kh = 0; kh < g.k; kh++)
                    for (let oy = 0; oy < oh; oy++) {
                      const row = oy * g.stride + kh - g.padding;
                      if (row < 0 || row >= g.h) continue;
                      const cf = big(f, ((j * g.c + c) * g.k + kh) * g.k + kw);
                      const hi = (((j * g.k + kw) * g.n + b) * g.c + c) * g.h + row;
                      accF += cf * big(uf, (j * g.n + b) * oh + oy) * big(hf, hi);
                      const cw = big(wg, ((c * reps + j) * g.k + kh) * g.k + kw);
                      const bi = (((j * g.k + kw) * g.n + b) * g.c + c) * oh + oy;
                      accT += cw * big(hb, bi) * big(ub, (j * g.n + b) * g.h + row);
                    }
            wantF.push(mod(accF));
            wantT.push(mod(accT));
          }
          assert.deepEqual(
            [...wideKernels.convRows(g, reps, hf, uf, f, P)],
            wantF,
            `rows ${JSON.stringify(g)}`,
          );
          assert.deepEqual(
            [...wideKernels.convTRows(g, reps, hb, ub, wg, P)],
            wantT,
            `rowsT ${JSON.stringify(g)}`,
          );
        }
      }
      // bilinear: out[j] = Σ u[j,b,row]·v[j,col]·y[b,j,row,col]; 9 000 columns pass the vector lanes'
      // reduction budget (4·2^11 pairs) at the largest residues.
      for (const [n, reps, rows, cols, top] of [
        [1, 1, 1, 1, false],
        [2, 2, 3, 7, false],
        [1, 3, 5, 13, false],
        [2, 1, 2, 9000, true],
      ] as const) {
        const fill = (len: number): Float64Array =>
          top ? new Float64Array(len).fill(P - 1) : residues(len, rng);
        const y = fill(n * reps * rows * cols);
        const u = fill(reps * n * rows);
        const v = fill(reps * cols);
        const want: number[] = [];
        for (let j = 0; j < reps; j++) {
          let acc = 0n;
          for (let b = 0; b < n; b++)
            for (let r = 0; r < rows; r++)
              for (let c = 0; c < cols; c++)
                acc +=
                  big(u, (j * n + b) * rows + r) *
                  big(v, j * cols + c) *
                  big(y, ((b * reps + j) * rows + r) * cols + c);
          want.push(mod(acc));
        }
        assert.deepEqual(
          [...wideKernels.bilinear(n, reps, rows, cols, y, u, v, P)],
          want,
          `bilinear ${[n, reps, rows, cols]}`,
        );
      }
      const bad = residues(4, rng);
      bad[2] = P;
      assert.throws(
        () => wideKernels.bilinear(1, 1, 2, 2, bad, residues(2, rng), residues(2, rng), P),
        RangeError,
      );
      const g = GEOMS[0]!;
      assert.throws(
        () =>
          wideKernels.convRows(g, 1, residues(g.k * g.n * g.c * g.h, rng), bad, residues(g.c * 9, rng), P),
        RangeError,
      );
    });

    it("finds the first value that is not an integer below 2^53 in magnitude (the wire form's check)", () => {
      const ok = [0, -0, 1, -1, 2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 47, 123456789012];
      const bad = [0.5, -1.25, 2 ** 53, -(2 ** 53), 2 ** 60, Number.NaN, Number.POSITIVE_INFINITY, -Infinity];
      for (const len of [1, 3, 4, 9, 4096, 4099, 10_000]) {
        const y = Float64Array.from({ length: len }, (_, i) => ok[i % ok.length]!);
        assert.equal(wideKernels.firstNonInteger(y), -1, `${len} admissible`);
        for (const at of [0, len - 1, Math.floor(len / 2), rng.nextInt(len)]) {
          for (const v of bad) {
            const z = y.slice();
            z[at] = v;
            if (at + 1 < len) z[len - 1] = 0.25; // a later bad value must not be the one reported
            const first = at + 1 < len ? at : len - 1;
            assert.equal(wideKernels.firstNonInteger(z), first, `${v} at ${at} of ${len}`);
          }
        }
      }
    });

    it('refuses limbs, residues, operands, bounds and moduli out of range with RangeError', () => {
      const addon = verifyAddonModule() as Record<string, (...a: unknown[]) => unknown>;
      const out = new Float64Array(2);
      assert.throws(
        () => addon.wideVerifyFold!(1, 1, 1, 2, Int32Array.of(1), Int32Array.of(0, 2 ** 25), P, out),
        RangeError,
      );
      assert.throws(
        () => addon.wideVerifyFold!(1, 1, 1, 2, Int32Array.of(2 ** 24), Int32Array.of(0, 1), P, out),
        RangeError,
      );
      assert.throws(
        () => addon.wideVerifyFold!(1, 1, 1, 2, Int32Array.of(1), Int32Array.of(0, 1), 2 ** 50, out),
        RangeError,
      );
      // The short-row path (four limb rows, 9 or 1 columns) checks its operand too, anywhere in it.
      for (const [cols, at] of [
        [9, 0],
        [9, 2 * 3 * 9 - 1],
        [1, 4],
      ] as const) {
        for (const v of [2 ** 24, -(2 ** 24)]) {
          const a = new Int32Array(2 * 3 * cols).fill(5);
          a[at] = v;
          assert.throws(
            () =>
              addon.wideVerifyFold!(
                2,
                3,
                cols,
                4,
                a,
                new Int32Array(12).fill(1),
                P,
                new Float64Array(8 * cols),
              ),
            /wideVerifyFold: a/,
            `${cols} ${at} ${v}`,
          );
          a[at] = v > 0 ? 2 ** 24 - 1 : -(2 ** 24 - 1);
          addon.wideVerifyFold!(2, 3, cols, 4, a, new Int32Array(12).fill(1), P, new Float64Array(8 * cols));
        }
      }
      assert.throws(
        () => addon.wideVerifyCombine!(1, 1, 1, 1, Float64Array.of(P, 0), P, new Float64Array(1)),
        RangeError,
      );
      assert.throws(
        () => addon.wideVerifyCombine!(1, 1, 1, 1, Float64Array.of(0.5, 0), P, new Float64Array(1)),
        RangeError,
      );
      assert.throws(
        () => wideKernels.foldResult(1, 1, 1, 1, Float64Array.of(1), Float64Array.of(P), BOUND, P),
        RangeError,
      );
      assert.throws(
        () => wideKernels.foldResult(1, 1, 1, 1, Float64Array.of(1), Float64Array.of(1), 2 ** 47, P),
        RangeError,
      );
    });
  });
}
