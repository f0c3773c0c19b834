import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PayloadPool } from '../../src/protocol/payload-pool.js';

test('reuses a returned buffer for the next payload of the same size class', () => {
  const pool = new PayloadPool(64 << 20);
  const a = pool.take(5_000_000);
  assert.equal(a.length, 5_000_000);
  assert.equal(a.byteOffset, 0);
  assert.equal(a.buffer.byteLength, pool.capacity(5_000_000));
  pool.give(a.buffer as ArrayBuffer);
  assert.equal(pool.idleBytes, a.buffer.byteLength);
  const b = pool.take(4_900_000);
  assert.ok(b.buffer === a.buffer, 'the same ArrayBuffer');
  assert.equal(b.length, 4_900_000);
  assert.equal(pool.idleBytes, 0);
});

test('does not pool small payloads, foreign sizes, or more than its idle limit', () => {
  const pool = new PayloadPool(12 << 20);
  const small = pool.take(1000);
  assert.equal(small.buffer.byteLength, 1000);
  pool.give(small.buffer as ArrayBuffer);
  pool.give(new ArrayBuffer(3_000_001)); // not a capacity this pool makes
  assert.equal(pool.idleBytes, 0);
  const x = pool.take(8 << 20);
  const y = pool.take(8 << 20);
  pool.give(x.buffer as ArrayBuffer);
  pool.give(y.buffer as ArrayBuffer); // over the 12 MiB limit: x is dropped to make room
  assert.equal(pool.idleBytes, 8 << 20);
  assert.ok(pool.take(8 << 20).buffer === y.buffer, 'the same ArrayBuffer');
});

test('rounds capacities up to eight classes per power of two', () => {
  const pool = new PayloadPool(1 << 30);
  assert.equal(pool.capacity(1 << 20), 1 << 20);
  assert.equal(pool.capacity((1 << 20) + 1), (1 << 20) + (1 << 17));
  assert.equal(pool.capacity(3_000_000), 3_145_728);
  assert.equal(pool.capacity(100), 100);
});

test('a shared pool hands out SharedArrayBuffers for pooled sizes and takes them back', () => {
  const pool = new PayloadPool(64 << 20, undefined, { shared: true });
  const a = pool.take(5_000_000);
  assert.ok(a.buffer instanceof SharedArrayBuffer, 'pooled sizes are shared');
  assert.equal(a.byteOffset, 0);
  assert.equal(a.length, 5_000_000);
  assert.ok(
    pool.take(1000).buffer instanceof SharedArrayBuffer,
    'small payloads are shared too (not pooled)',
  );
  pool.give(a.buffer);
  assert.equal(pool.idleBytes, pool.capacity(5_000_000));
  assert.ok(pool.take(5_000_000).buffer === a.buffer, 'the same SharedArrayBuffer');
  assert.ok(new PayloadPool(64 << 20).take(5_000_000).buffer instanceof ArrayBuffer, 'not shared by default');
});
