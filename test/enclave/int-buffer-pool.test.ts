// The quantized operands' buffer pool: a buffer is reused only after it came back, only for a length it
// holds without wasting more than half, never handed to two users at once; foreign arrays and second gives
// are ignored; the free list stays within its byte budget.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IntBufferPool } from '../../src/enclave/int-buffer-pool.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { productGeometry } from '../../src/verify/product-geometry.js';
import { quantizeProduct } from '../../src/verify/quantize.js';

describe('IntBufferPool', () => {
  it('reuses a returned buffer for a length it holds (at most twice as large), never one in use', () => {
    const pool = new IntBufferPool();
    const a = pool.take(1000);
    const b = pool.take(1000);
    assert.notEqual(a.buffer, b.buffer);
    assert.equal(a.length, 1000);
    pool.give(a);
    assert.equal(pool.heldBytes, 4000);
    const c = pool.take(600);
    assert.equal(c.buffer, a.buffer, 'a returned buffer is reused');
    assert.equal(c.length, 600);
    assert.equal(pool.heldBytes, 0);
    pool.give(c);
    const d = pool.take(400); // 4000 B would be more than twice 1600 B
    assert.notEqual(d.buffer, a.buffer);
    const e = pool.take(1001); // too small
    assert.notEqual(e.buffer, a.buffer);
    assert.equal(pool.take(0).length, 0);
  });

  it('ignores arrays it did not hand out and a second give', () => {
    const pool = new IntBufferPool();
    pool.give(new Int32Array(100));
    assert.equal(pool.heldBytes, 0);
    const a = pool.take(100);
    pool.give(a);
    pool.give(a);
    assert.equal(pool.heldBytes, 400);
    const b = pool.take(100);
    const c = pool.take(100);
    assert.equal(b.buffer, a.buffer);
    assert.notEqual(c.buffer, a.buffer, 'a buffer given twice is still handed out once');
  });

  it('keeps at most its byte budget of free buffers, dropping the smallest first', () => {
    const pool = new IntBufferPool(10_000);
    const small = pool.take(500);
    const big = pool.take(2000);
    const mid = pool.take(1000);
    pool.give(small);
    pool.give(big);
    pool.give(mid);
    assert.equal(pool.heldBytes, 8000); // 14 000 B over a 10 000 B budget: the 2000 B and 4000 B ones go
    assert.equal(pool.take(2000).buffer, big.buffer);
    assert.throws(() => new IntBufferPool(-1), RangeError);
    assert.throws(() => pool.take(1.5), RangeError);
  });

  it('serves quantizeProduct: the operands land in buffers from the pool', () => {
    const pool = new IntBufferPool();
    const g = productGeometry('dense', [2, 3], [4, 3]);
    const x = Float32Array.of(1, 2, 3, 4, 5, 6);
    const w = new Float32Array(12).fill(0.25);
    const taken: Int32Array[] = [];
    const q = quantizeProduct(g, x, w, {
      rng: new CryptoRng(),
      alloc: (n) => {
        const t = pool.take(n);
        taken.push(t);
        return t;
      },
    });
    assert.equal(q.a, taken[0]);
    assert.equal(q.b, taken[1]);
    assert.equal(q.a[5], Math.round(6 * 2 ** q.aBits));
    assert.throws(
      () => quantizeProduct(g, x, w, { rng: new CryptoRng(), alloc: (n) => new Int32Array(n + 1) }),
      /output buffer/,
    );
  });
});
