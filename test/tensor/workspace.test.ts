import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Tensor } from '../../src/tensor/tensor.js';
import { detached, isWorkspaceTensor, Workspace } from '../../src/tensor/workspace.js';

describe('Workspace', () => {
  it('hands out the same buffer for a slot while the shape stays, and a new one when the size changes', () => {
    const ws = new Workspace();
    const a = ws.take('y', [2, 3]);
    a.data.fill(7);
    const b = ws.take('y', [2, 3]);
    assert.equal(b, a);
    assert.deepEqual([...b.data], [7, 7, 7, 7, 7, 7], 'contents are kept, not zeroed');
    const other = ws.take('dx', [2, 3]);
    assert.notEqual(other.data, a.data, 'each slot has its own buffer');
    const bigger = ws.take('y', [4, 3]);
    assert.notEqual(bigger.data, a.data);
    assert.deepEqual(bigger.shape, [4, 3]);
    assert.equal(ws.bytes, (12 + 6) * 4);
  });

  it('gives a view of the same buffer for a new shape with the same element count', () => {
    const ws = new Workspace();
    const a = ws.take('y', [2, 3]);
    const v = ws.take('y', [3, 2]);
    assert.equal(v.data, a.data);
    assert.deepEqual(v.shape, [3, 2]);
    assert.equal(ws.take('y', [3, 2]), v);
  });

  it('takeAtLeast hands out views of one buffer that grows to the largest size asked for', () => {
    const ws = new Workspace();
    const a = ws.takeAtLeast('s', [2, 3]);
    assert.deepEqual(a.shape, [2, 3]);
    const big = ws.takeAtLeast('s', [4, 5]);
    assert.equal(big.size, 20);
    const small = ws.takeAtLeast('s', [3, 2]);
    assert.deepEqual(small.shape, [3, 2]);
    assert.equal(small.data.buffer, big.data.buffer, 'a smaller request is a view of the grown buffer');
    assert.equal(small.data.byteOffset, big.data.byteOffset);
    assert.equal(isWorkspaceTensor(small), true);
    assert.equal(ws.bytes, 20 * 4);
  });

  it('takeArray returns a per-slot Float32Array of the asked length', () => {
    const ws = new Workspace();
    const m = ws.takeArray('mean', 5);
    assert.equal(m.length, 5);
    assert.equal(ws.takeArray('mean', 5), m);
    assert.notEqual(ws.takeArray('invstd', 5), m);
  });

  it('clear forgets the slots', () => {
    const ws = new Workspace();
    const a = ws.take('y', [4]);
    ws.clear();
    assert.equal(ws.bytes, 0);
    assert.notEqual(ws.take('y', [4]).data, a.data);
  });

  it('detached copies a workspace tensor (or a view of one) and passes any other tensor through', () => {
    const ws = new Workspace();
    const a = ws.take('y', [2, 2]);
    a.data.set([1, 2, 3, 4]);
    assert.equal(isWorkspaceTensor(a), true);
    assert.equal(isWorkspaceTensor(a.reshape([4])), true);
    const d = detached(a);
    assert.notEqual(d.data, a.data);
    assert.deepEqual([...d.data], [1, 2, 3, 4]);
    assert.equal(isWorkspaceTensor(d), false);
    const plain = new Tensor([2], Float32Array.from([5, 6]));
    assert.equal(detached(plain), plain);
  });
});
