// native/quantize.cc against the TypeScript reference it replaced: the scale-selection norms of every op
// (float and integer operands) and the max |v| found in the same pass, quantization to nearest and stochastic (the same random bytes
// give the same integers), dequantization and whole products are bit-identical, at 1 and 2 threads.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { kernels } from '../../src/kernels/index.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { DEFAULT_MODULUS, halfModulus } from '../../src/verify/field.js';
import { quantKernels } from '../../src/verify/native-quantize.js';
import { aNorms, bNorms } from '../../src/verify/operand-norms.js';
import { productGeometry } from '../../src/verify/product-geometry.js';
import { dequantize, quantizeProduct, quantizeWith } from '../../src/verify/quantize.js';
import { LINEAR_OP_KINDS, numelOf, randomCase, randomField, randomFloats } from './cases.js';

const P = DEFAULT_MODULUS;
const threadsBefore = kernels.info().threads;

describe('native quantization kernels against the TypeScript reference', () => {
  after(() => kernels.setThreads(threadsBefore));

  for (const threads of [1, 2]) {
    it(`computes the same norms for every op and operand, float and integer (${threads} thread(s))`, () => {
      kernels.setThreads(threads);
      const rng = new SeededRng(91 + threads);
      for (const op of LINEAR_OP_KINDS) {
        for (let t = 0; t < 20; t++) {
          const cs = randomCase(op, rng, 9);
          const a = randomFloats(numelOf(cs.aShape), rng, 3);
          const b = randomFloats(numelOf(cs.bShape), rng, 0.2);
          assert.deepEqual(quantKernels.aNorms(cs.g, a), aNorms(cs.g, a), `${op} a`);
          assert.deepEqual(quantKernels.bNorms(cs.g, b), bNorms(cs.g, b), `${op} b`);
          const qa = randomField(a.length, P, rng, 1 << 20);
          const qb = randomField(b.length, P, rng);
          assert.deepEqual(quantKernels.aNorms(cs.g, qa), aNorms(cs.g, qa), `${op} int a`);
          assert.deepEqual(quantKernels.bNorms(cs.g, qb), bNorms(cs.g, qb), `${op} int b`);
        }
      }
      // A large one, so that the threaded paths run.
      const g = productGeometry('conv2d', [2, 16, 40, 40], [8, 16, 3, 3], { stride: 1, padding: 1 });
      const x = randomFloats(2 * 16 * 40 * 40, rng, 2);
      assert.deepEqual(quantKernels.aNorms(g, x), aNorms(g, x));
      const gw = productGeometry('conv2dGradWeight', [2, 8, 40, 40], [2, 16, 40, 40], {
        stride: 1,
        padding: 1,
        k: 3,
      });
      const dy = randomFloats(2 * 8 * 1600, rng);
      assert.deepEqual(quantKernels.aNorms(gw, dy), aNorms(gw, dy));
      assert.deepEqual(quantKernels.bNorms(gw, x), bNorms(gw, x));
    });
  }

  it('finds max |v| of every operand in the norms pass, NaN as NaN and infinity as infinity', () => {
    const rng = new SeededRng(93);
    const naive = (v: Float32Array): number => v.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 10; t++) {
        const cs = randomCase(op, rng, 12);
        for (const [which, shape] of [
          ['a', cs.aShape],
          ['b', cs.bShape],
        ] as const) {
          const norms = (impl: 'native' | 'reference', v: Float32Array) =>
            impl === 'native'
              ? (which === 'a' ? quantKernels.aNorms : quantKernels.bNorms)(cs.g, v)
              : (which === 'a' ? aNorms : bNorms)(cs.g, v);
          const v = randomFloats(numelOf(shape), rng, 3);
          const at = rng.nextInt(v.length);
          v[at] = (rng.nextFloat() < 0.5 ? -1 : 1) * 17.25;
          for (const impl of ['native', 'reference'] as const) {
            assert.equal(norms(impl, v).max, naive(v), `${op} ${which} ${impl}`);
            assert.equal(norms(impl, v).max, 17.25);
            const inf = v.slice();
            inf[rng.nextInt(v.length)] = Number.NEGATIVE_INFINITY;
            assert.equal(norms(impl, inf).max, Number.POSITIVE_INFINITY, `${op} ${which} ${impl} inf`);
            const nan = v.slice();
            nan[rng.nextInt(v.length)] = Number.NaN;
            assert.ok(Number.isNaN(norms(impl, nan).max), `${op} ${which} ${impl} NaN`);
          }
        }
      }
    }
    const g = productGeometry('dense', [1, 0], [3, 0]);
    assert.equal(quantKernels.aNorms(g, new Float32Array(0)).max, 0);
  });

  it('sums each vector exactly where float64 sums are exact (integer operands, any summation order)', () => {
    const rng = new SeededRng(97);
    // Per-vector sums written out from the definitions: rows, columns, channels over images, filter columns.
    const best = (vectors: number[][]) => {
      let l2 = 0;
      let l1 = 0;
      for (const vec of vectors) {
        l2 = Math.max(
          l2,
          vec.reduce((s, x) => s + x * x, 0),
        );
        l1 = Math.max(
          l1,
          vec.reduce((s, x) => s + Math.abs(x), 0),
        );
      }
      return [l2, l1];
    };
    for (let t = 0; t < 20; t++) {
      const n = 1 + rng.nextInt(3);
      const o = 1 + rng.nextInt(5);
      const i = 1 + rng.nextInt(40);
      const x = randomField(n * i, P, rng, 1 << 12);
      const dense = productGeometry('dense', [n, i], [o, i]);
      const rows = Array.from({ length: n }, (_, r) => [...x.subarray(r * i, (r + 1) * i)]);
      const gw = productGeometry('denseGradWeight', [n, o], [n, i]);
      const cols = Array.from({ length: i }, (_, c) => rows.map((row) => row[c]!));
      const c = 1 + rng.nextInt(4);
      const hw = 1 + rng.nextInt(30);
      const img = randomField(n * c * hw, P, rng, 1 << 12);
      const cgw = productGeometry('conv2dGradWeight', [n, o, hw, 1], [n, c, hw, 1], {
        stride: 1,
        padding: 0,
        k: 1,
      });
      const channels = Array.from({ length: c }, (_, ch) =>
        Array.from({ length: n }, (_, b) => [
          ...img.subarray((b * c + ch) * hw, (b * c + ch + 1) * hw),
        ]).flat(),
      );
      const k = 1 + rng.nextInt(3);
      const w = randomField(o * c * k * k, P, rng, 1 << 12);
      const cgi = productGeometry('conv2dGradInput', [1, o, 4, 4], [o, c, k, k], {
        stride: 1,
        padding: k - 1,
        inputHW: [4 + k - 1 - 2 * (k - 1), 4 + k - 1 - 2 * (k - 1)],
      });
      const filterCols = Array.from({ length: c }, (_, ch) =>
        Array.from({ length: o }, (_, oc) => [
          ...w.subarray((oc * c + ch) * k * k, (oc * c + ch + 1) * k * k),
        ]).flat(),
      );
      const cases: [
        string,
        () => { l2sq: number; l1: number },
        () => { l2sq: number; l1: number },
        number[][],
      ][] = [
        ['rows', () => quantKernels.aNorms(dense, x), () => aNorms(dense, x), rows],
        ['columns', () => quantKernels.bNorms(gw, x), () => bNorms(gw, x), cols],
        ['channels', () => quantKernels.bNorms(cgw, img), () => bNorms(cgw, img), channels],
        ['filter columns', () => quantKernels.bNorms(cgi, w), () => bNorms(cgi, w), filterCols],
      ];
      for (const [what, native, reference, vectors] of cases) {
        const want = best(vectors);
        for (const got of [native(), reference()]) assert.deepEqual([got.l2sq, got.l1], want, what);
      }
    }
  });

  it('quantizes to nearest (halves up, like Math.round) and stochastically with the same bytes to the same integers', () => {
    const rng = new SeededRng(94);
    for (const bits of [-3, 0, 5, 13, 20]) {
      const v = randomFloats(70_001, rng, 2 ** (10 - Math.max(0, bits - 12)));
      v[0] = 2.5 * 2 ** -bits;
      v[1] = -2.5 * 2 ** -bits;
      v[2] = 0.49999999999999994;
      assert.deepEqual(quantizeWith(v, bits, null, P, 'native'), quantizeWith(v, bits, null, P, 'reference'));
      const random = new Uint8Array(randomBytes(2 * v.length));
      assert.deepEqual(
        quantizeWith(v, bits, random, P, 'native'),
        quantizeWith(v, bits, random, P, 'reference'),
      );
    }
    const half = halfModulus(P);
    for (const impl of ['native', 'reference'] as const) {
      // Over all 2^16 values of the 2 random bytes, ⌊x + u/2^16⌋ rounds up exactly ⌊frac(x)·2^16⌋ times:
      // E[q] is x rounded down to a multiple of 2^-16.
      const every = new Uint8Array(2 ** 17);
      for (let u = 0; u < 2 ** 16; u++) {
        every[2 * u] = u & 0xff;
        every[2 * u + 1] = u >> 8;
      }
      for (const x of [0.3, -0.3, 2.75, 12345 / 65536, -1 / 65536, 0.5 / 65536, 7]) {
        const v = new Float32Array(2 ** 16).fill(x);
        const q = quantizeWith(v, 0, every, P, impl);
        const fx = Math.fround(x);
        let ups = 0;
        for (const e of q) {
          assert.ok(e === Math.floor(fx) || e === Math.floor(fx) + 1, `${impl} ${x}: ${e}`);
          ups += e - Math.floor(fx);
        }
        assert.equal(ups, Math.floor((fx - Math.floor(fx)) * 2 ** 16), `${impl} ${x}`);
      }
      // The first element that does not fit is the one reported, inside the vector loop or its tail.
      for (const [len, at, later] of [
        [40, 9, 30],
        [40, 0, 8],
        [37, 35, 36],
        [64, 17, -1],
      ] as const) {
        for (const random of [null, new Uint8Array(randomBytes(2 * len))]) {
          const v = randomFloats(len, rng, 100);
          v[at] = 123456789;
          if (later >= 0) v[later] = Number.NaN;
          assert.throws(
            () => quantizeWith(v, 5, random, P, impl),
            (e: Error) => e instanceof RangeError && e.message.startsWith('quantization: 123456792 at 5'),
            `${impl} ${len} ${at}`,
          );
          v[at] = Number.NaN;
          assert.throws(() => quantizeWith(v, 5, random, P, impl), /quantization: NaN at 5/);
        }
      }
      assert.throws(() => quantizeWith(new Float32Array([0, half + 1]), 0, null, P, impl), /does not fit/);
      assert.throws(() => quantizeWith(new Float32Array([Number.NaN]), 0, null, P, impl), /does not fit/);
      assert.throws(() => quantizeWith(new Float32Array(2), 0, new Uint8Array(3), P, impl), /random bytes/);
      assert.throws(() => quantizeWith(new Float32Array(2), 0, new Uint8Array(8), P, impl), /need 2 each/);
    }
  });

  it('dequantizes exactly like the reference', () => {
    const rng = new SeededRng(95);
    const y = randomField(50_000, P, rng);
    for (const bits of [0, 7, 31, -2])
      assert.deepEqual(dequantize(y, bits, 'native'), dequantize(y, bits, 'reference'));
  });

  it('chooses the same scales, bounds and integers for whole products (nearest-rounded operands)', () => {
    const rng = new SeededRng(96);
    const crng = new CryptoRng();
    for (const op of ['dense', 'conv2d'] as const) {
      for (let t = 0; t < 10; t++) {
        const cs = randomCase(op, rng, 8);
        const a = randomFloats(numelOf(cs.aShape), rng, 10 ** (2 * rng.nextFloat() - 1));
        const b = randomFloats(numelOf(cs.bShape), rng, 0.1);
        const n = quantizeProduct(cs.g, a, b, { rng: crng, impl: 'native' });
        const r = quantizeProduct(cs.g, a, b, { rng: crng, impl: 'reference' });
        assert.deepEqual(
          [n.aBits, n.bBits, n.yBound, n.errorBound],
          [r.aBits, r.bBits, r.yBound, r.errorBound],
        );
        assert.deepEqual(n.a, r.a);
        assert.deepEqual(n.b, r.b);
      }
    }
  });
});
