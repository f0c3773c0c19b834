// K-splitting: the chunks of a product over its inner dimension add up to the product itself, for all six
// ops, every number of parts (including bands of output rows for a weight gradient, with stride and
// padding), and each chunk is a well-formed product of the same op.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { innerChunks, innerUnits } from '../../src/verify/inner-chunks.js';
import { innerLength, productGeometry } from '../../src/verify/product-geometry.js';
import { LINEAR_OP_KINDS, numelOf, randomCase, randomFloats } from './cases.js';
import { floatReference } from './modp-reference.js';

describe('innerChunks', () => {
  it('cuts every op into chunks whose products add up to the whole product', () => {
    const rng = new SeededRng(71);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 12; t++) {
        const cs = randomCase(op, rng, 6);
        const a = randomFloats(numelOf(cs.aShape), rng);
        const b = randomFloats(numelOf(cs.bShape), rng);
        const want = floatReference(
          op,
          { shape: cs.aShape, data: a },
          { shape: cs.bShape, data: b },
          cs.params,
        );
        const units = innerUnits(cs.g);
        for (const parts of [1, 2, 3, units, units + 5]) {
          const chunks = innerChunks(cs.g, a, b, cs.params, parts);
          assert.ok(
            chunks.length >= 1 && chunks.length <= Math.max(parts, 1) * (op === 'conv2dGradWeight' ? 2 : 1),
          );
          const sum = new Float64Array(want.data.length);
          for (const c of chunks) {
            const cg = productGeometry(op, c.aShape, c.bShape, c.params);
            assert.ok(innerLength(cg) <= innerLength(cs.g), `${op}: a chunk is no longer than the product`);
            const y = floatReference(
              op,
              { shape: c.aShape, data: c.a },
              { shape: c.bShape, data: c.b },
              c.params,
            );
            assert.deepEqual(y.shape, want.shape);
            for (let i = 0; i < sum.length; i++) sum[i]! += y.data[i]!;
          }
          for (let i = 0; i < sum.length; i++) {
            assert.ok(
              Math.abs(sum[i]! - want.data[i]!) <= 1e-4 * (1 + Math.abs(want.data[i]!)),
              `${op} parts ${parts} [${i}]`,
            );
          }
        }
      }
    }
  });

  it('cuts a weight gradient of one sample into bands of output rows (stride 2, padding 1)', () => {
    const rng = new SeededRng(72);
    const params = { stride: 2, padding: 1, k: 3 };
    const aShape = [1, 4, 7, 6];
    const bShape = [1, 3, 13, 11];
    const g = productGeometry('conv2dGradWeight', aShape, bShape, params);
    assert.equal(innerUnits(g), 7);
    const a = randomFloats(numelOf(aShape), rng);
    const b = randomFloats(numelOf(bShape), rng);
    const want = floatReference(
      'conv2dGradWeight',
      { shape: aShape, data: a },
      { shape: bShape, data: b },
      params,
    );
    const chunks = innerChunks(g, a, b, params, 4);
    assert.equal(chunks.length, 4);
    const sum = new Float64Array(want.data.length);
    let rows = 0;
    for (const c of chunks) {
      assert.equal(c.params.padding, 0);
      rows += c.aShape[2]!;
      assert.ok(innerLength(productGeometry('conv2dGradWeight', c.aShape, c.bShape, c.params)) <= 2 * 6);
      const y = floatReference(
        'conv2dGradWeight',
        { shape: c.aShape, data: c.a },
        { shape: c.bShape, data: c.b },
        c.params,
      );
      for (let i = 0; i < sum.length; i++) sum[i]! += y.data[i]!;
    }
    assert.equal(rows, 7);
    for (let i = 0; i < sum.length; i++) assert.ok(Math.abs(sum[i]! - want.data[i]!) <= 1e-4);
  });

  it('refuses a part count that is not a positive integer', () => {
    const g = productGeometry('dense', [2, 3], [4, 3]);
    assert.throws(() => innerChunks(g, new Float32Array(6), new Float32Array(12), {}, 0), RangeError);
  });
});
