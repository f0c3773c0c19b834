// Quantization for exact mode: the asserted Cauchy–Schwarz bound really bounds every integer output (so
// nothing wraps modulo p), the dequantized product stays within the returned error bound of the float
// product, the assertion fires when no scale can fit, and gradients round stochastically without bias.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { checkModulus, DEFAULT_MODULUS, FIELDS, halfModulus } from '../../src/verify/field.js';
import { LINEAR_OP_KINDS, productGeometry } from '../../src/verify/product-geometry.js';
import {
  DEFAULT_QUANT_CONFIG,
  dequantize,
  quantConfig,
  quantizeProduct,
  quantizeTensor,
  WIDE_QUANT_CONFIG,
} from '../../src/verify/quantize.js';
import { numelOf, type ProductCase, randomCase, randomFloats } from './cases.js';
import { floatReference, modpReference } from './modp-reference.js';

const P = DEFAULT_MODULUS;
const H = halfModulus(P);
// An odd modulus far above any value here: the reference then computes the plain integer product.
const HUGE = 2 ** 50 + 1;

function intProduct(cs: ProductCase, a: Int32Array, b: Int32Array): Int32Array {
  return modpReference(cs.op, { shape: cs.aShape, data: a }, { shape: cs.bShape, data: b }, cs.params, HUGE)
    .data;
}

describe('quantization', () => {
  const crng = new CryptoRng();

  it('rounds weights and activations to nearest and refuses values that do not fit or are not finite', () => {
    const v = new Float32Array([0.5, -0.26, 1.74, 0]);
    assert.deepEqual([...quantizeTensor(v, 2, 'nearest')], [2, -1, 7, 0]);
    assert.throws(() => quantizeTensor(new Float32Array([Number.NaN]), 2, 'nearest'), /does not fit/);
    assert.throws(() => quantizeTensor(new Float32Array([H + 1]), 0, 'nearest'), /does not fit/);
    assert.deepEqual([...dequantize(new Int32Array([2, -1, 7]), 2)], [0.5, -0.25, 1.75]);
  });

  it('rounds gradients stochastically without bias (mean of 40 000 roundings of 0.3 at 0 bits)', () => {
    const v = new Float32Array(40000).fill(0.3);
    const q = quantizeTensor(v, 0, 'stochastic', { rng: crng });
    let sum = 0;
    for (const x of q) {
      assert.ok(x === 0 || x === 1);
      sum += x;
    }
    const mean = sum / q.length;
    const sigma = Math.sqrt((0.3 * 0.7) / q.length);
    assert.ok(Math.abs(mean - Math.fround(0.3)) < 4 * sigma, `mean ${mean}`);
    assert.deepEqual(
      [...quantizeTensor(new Float32Array([0.3]), 0, 'nearest')],
      [0],
      'to nearest it would vanish',
    );
    assert.throws(() => quantizeTensor(v, 0, 'stochastic'), /needs a CryptoRng/);
  });

  it('keeps every integer output of 1 800 random products (all ops) within the asserted bound ≤ (p−1)/2', () => {
    const rng = new SeededRng(31);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 300; t++) {
        const cs = randomCase(op, rng, 6);
        const scaleA = 10 ** (4 * rng.nextFloat() - 2);
        const scaleB = 10 ** (4 * rng.nextFloat() - 2);
        const a = randomFloats(numelOf(cs.aShape), rng, scaleA);
        const b = randomFloats(numelOf(cs.bShape), rng, scaleB);
        const q = quantizeProduct(cs.g, a, b, { rng: crng, config: quantConfig({ minBits: 2 }) });
        assert.ok(q.yBound <= H, `${op}: bound ${q.yBound}`);
        const y = intProduct(cs, q.a, q.b);
        for (const v of y) assert.ok(Math.abs(v) <= q.yBound, `${op}: |${v}| > ${q.yBound}`);
      }
    }
  });

  it('without the recheck (wide field) picks the same scales and its predicted bound still covers every output', () => {
    const rng = new SeededRng(32);
    const wide = {
      rng: crng,
      config: quantConfig({ minBits: 2 }, WIDE_QUANT_CONFIG),
      outputHalf: FIELDS.wide.outputHalf,
    };
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 150; t++) {
        const cs = randomCase(op, rng, 6);
        const a = randomFloats(numelOf(cs.aShape), rng, 10 ** (4 * rng.nextFloat() - 2));
        const b = randomFloats(numelOf(cs.bShape), rng, 10 ** (4 * rng.nextFloat() - 2));
        const checked = quantizeProduct(cs.g, a, b, wide);
        const q = quantizeProduct(cs.g, a, b, { ...wide, recheck: false });
        assert.equal(q.aBits, checked.aBits, `${op}: a scale`);
        assert.equal(q.bBits, checked.bBits, `${op}: b scale`);
        assert.ok(q.yBound >= checked.yBound && q.yBound <= FIELDS.wide.outputHalf, `${op}: ${q.yBound}`);
        // Its integers' outputs (float64 sums: exact, every partial sum is below the bound) stay inside it.
        const y = floatReference(
          op,
          { shape: cs.aShape, data: q.a },
          { shape: cs.bShape, data: q.b },
          cs.params,
        ).data;
        for (const v of y) assert.ok(Math.abs(v) <= q.yBound, `${op}: |${v}| > ${q.yBound}`);
      }
    }
  });

  it('uses the whole field: the bound of a typical product lands within a factor 4 of (p−1)/2', () => {
    const rng = new SeededRng(32);
    const g = productGeometry('conv2d', [2, 64, 8, 8], [32, 64, 3, 3], { stride: 1, padding: 1 });
    const a = randomFloats(2 * 64 * 64, rng, 2);
    const b = randomFloats(32 * 64 * 9, rng, 1 / 24);
    const q = quantizeProduct(g, a, b, { rng: crng });
    assert.ok(q.yBound > H / 4 && q.yBound <= H, `bound ${q.yBound}`);
    // Balanced integers: the small weights get more fractional bits than the activations.
    assert.ok(q.bBits > q.aBits, `aBits ${q.aBits}, bBits ${q.bBits}`);
    assert.ok(q.aBits < DEFAULT_QUANT_CONFIG.activationBits);
  });

  it('stays within the returned error bound of the exact product of the float operands (all ops)', () => {
    const rng = new SeededRng(33);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 100; t++) {
        const cs = randomCase(op, rng, 6);
        const a = randomFloats(numelOf(cs.aShape), rng, 3);
        const b = randomFloats(numelOf(cs.bShape), rng, 0.3);
        const q = quantizeProduct(cs.g, a, b, { rng: crng });
        const got = dequantize(intProduct(cs, q.a, q.b), q.outBits);
        // float64 products of float32 values are exact; the short sums add a relative 2^-45 at most.
        const exact = floatReference(
          cs.op,
          { shape: cs.aShape, data: a },
          { shape: cs.bShape, data: b },
          cs.params,
        ).data;
        for (let i = 0; i < got.length; i++) {
          assert.ok(
            Math.abs(got[i]! - exact[i]!) <= q.errorBound,
            `${op} [${i}]: |${got[i]} − ${exact[i]}| > ${q.errorBound}`,
          );
        }
      }
    }
  });

  it('fires the no-wrap assertion when no scale can fit the product (RangeError, not a wrong answer)', () => {
    // 65 536 terms of 1000·1000: at 6 bits per operand the Cauchy–Schwarz bound is 2^26 > (p−1)/2.
    const n = 65536;
    const g = productGeometry('dense', [1, n], [1, n]);
    const big = new Float32Array(n).fill(1000);
    assert.throws(
      () => quantizeProduct(g, big, big, { rng: crng }),
      /dense: no scale keeps the product inside the field with 6 bits/,
    );
    // The same product fits with a lower precision floor (and then really is inside the field).
    const q = quantizeProduct(g, big, big, { rng: crng, config: quantConfig({ minBits: 2 }) });
    assert.ok(q.yBound <= H);
    // Weights fixed by a pad set: only the activations may shrink.
    assert.throws(
      () =>
        quantizeProduct(g, big, big, { rng: crng, fixedB: { data: new Int32Array(n).fill(4000), bits: 2 } }),
      /no scale keeps the product inside the field/,
    );
  });

  it('refuses NaN operands and bad configurations', () => {
    const g = productGeometry('dense', [1, 2], [1, 2]);
    assert.throws(
      () => quantizeProduct(g, new Float32Array([1, Number.NaN]), new Float32Array(2), { rng: crng }),
      /NaN/,
    );
    assert.throws(() => quantConfig({ weightBits: 1.5 }), /weightBits/);
    assert.throws(() => quantConfig({ minBits: 0 }), /minBits/);
  });

  it('lifts the scale cap of a tiny gradient (max 2^-97) instead of refusing it, and keeps the error bound', () => {
    const rng = new SeededRng(61);
    const crng = new CryptoRng();
    const dy = randomFloats(2 * 4 * 5 * 5, rng, 2 ** -97);
    const w = randomFloats(4 * 3 * 3 * 3, rng, 0.2);
    const params = { stride: 1, padding: 1, inputHW: [5, 5] as [number, number] };
    const g = productGeometry('conv2dGradInput', [2, 4, 5, 5], [4, 3, 3, 3], params);
    const q = quantizeProduct(g, dy, w, { rng: crng });
    assert.ok(q.aBits > 24 + 60, `gradient scale ${q.aBits}`);
    const y = modpReference(
      'conv2dGradInput',
      { shape: [2, 4, 5, 5], data: q.a },
      { shape: [4, 3, 3, 3], data: q.b },
      params,
      DEFAULT_MODULUS,
    );
    const want = floatReference(
      'conv2dGradInput',
      { shape: [2, 4, 5, 5], data: dy },
      { shape: [4, 3, 3, 3], data: w },
      params,
    );
    for (let i = 0; i < y.data.length; i++) {
      const got = (y.data[i] as number) * 2 ** -q.outBits;
      assert.ok(Math.abs(got - want.data[i]!) <= q.errorBound, `[${i}]`);
    }
    // A weight or activation keeps its cap: too small for it is still refused, with what to do.
    assert.throws(
      () =>
        quantizeProduct(
          productGeometry('dense', [1, 3], [2, 3]),
          new Float32Array([1e-9, 0, 0]),
          new Float32Array(6).fill(0.5),
          { rng: crng },
        ),
      /scale cap of 16 bits/,
    );
  });
});

describe('checkModulus', () => {
  it('accepts odd primes up to 2^24 (remembering them) and refuses everything else, before and after', () => {
    const bad = [1, 2, 4, 9, 15, 561, 65535, 2 ** 24 + 1, 2 ** 24 - 1, 16777213.5, Number.NaN, -7];
    for (const round of [0, 1]) {
      for (const p of [3, 65521, DEFAULT_MODULUS])
        assert.doesNotThrow(() => checkModulus(p), `round ${round}: ${p}`);
      for (const p of bad)
        assert.throws(() => checkModulus(p), /odd prime in \[3, 2\^24\]/, `round ${round}: ${p}`);
    }
  });
});
