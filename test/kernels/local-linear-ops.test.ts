import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, randomF32, SeededRng } from './helpers.js';

const native = new LocalLinearOps(nativeKernels);
const reference = new LocalLinearOps(referenceKernels);
const rng = new SeededRng(41);

function rand(shape: number[]): Tensor {
  return new Tensor(
    shape,
    randomF32(
      rng,
      shape.reduce((a, b) => a * b, 1),
    ),
  );
}

test('dense products have the right shapes and match the reference', async () => {
  const x = rand([5, 7]);
  const w = rand([3, 7]);
  const dy = rand([5, 3]);
  for (const [name, ours, ref, shape] of [
    ['dense', await native.dense(x, w), await reference.dense(x, w), [5, 3]],
    ['denseGradInput', await native.denseGradInput(dy, w), await reference.denseGradInput(dy, w), [5, 7]],
    ['denseGradWeight', await native.denseGradWeight(dy, x), await reference.denseGradWeight(dy, x), [3, 7]],
  ] as const) {
    assert.deepEqual(ours.shape, shape, name);
    assertClose(ours.data, ref.data, 1e-6, name);
  }
});

test('conv products have the right shapes and match the reference, stride 2 on an odd input', async () => {
  const p = { stride: 2, padding: 1 };
  const x = rand([2, 3, 9, 8]);
  const w = rand([4, 3, 3, 3]);
  const y = await native.conv2d(x, w, p);
  assert.deepEqual(y.shape, [2, 4, 5, 4]);
  assertClose(y.data, (await reference.conv2d(x, w, p)).data, 1e-5, 'conv2d');
  const dy = rand([2, 4, 5, 4]);
  const dx = await native.conv2dGradInput(dy, w, p, [9, 8]);
  assert.deepEqual(dx.shape, [2, 3, 9, 8]);
  assertClose(dx.data, (await reference.conv2dGradInput(dy, w, p, [9, 8])).data, 1e-5, 'conv2dGradInput');
  const dw = await native.conv2dGradWeight(dy, x, p, 3);
  assert.deepEqual(dw.shape, [4, 3, 3, 3]);
  assertClose(dw.data, (await reference.conv2dGradWeight(dy, x, p, 3)).data, 1e-5, 'conv2dGradWeight');
});

test('every product rejects operands whose shapes do not fit (E_SHAPE)', async () => {
  const p = { stride: 1, padding: 1 };
  const shape = { name: 'TeeError', code: 'E_SHAPE' };
  await assert.rejects(native.dense(rand([2, 3]), rand([4, 5])), shape);
  await assert.rejects(native.dense(rand([2, 3, 1]), rand([4, 3])), shape);
  await assert.rejects(native.denseGradInput(rand([2, 4]), rand([3, 5])), shape);
  await assert.rejects(native.denseGradWeight(rand([2, 4]), rand([3, 5])), shape);
  await assert.rejects(native.conv2d(rand([1, 3, 5, 5]), rand([2, 4, 3, 3]), p), shape);
  await assert.rejects(native.conv2d(rand([1, 3, 5, 5]), rand([2, 3, 3, 2]), p), shape);
  await assert.rejects(
    native.conv2d(rand([1, 3, 2, 2]), rand([2, 3, 5, 5]), { stride: 1, padding: 0 }),
    shape,
  );
  await assert.rejects(
    native.conv2d(rand([1, 3, 5, 5]), rand([2, 3, 3, 3]), { stride: 0, padding: 0 }),
    shape,
  );
  await assert.rejects(native.conv2dGradInput(rand([1, 2, 5, 5]), rand([2, 3, 3, 3]), p, [6, 5]), shape);
  await assert.rejects(native.conv2dGradInput(rand([1, 3, 5, 5]), rand([2, 3, 3, 3]), p, [5, 5]), shape);
  await assert.rejects(native.conv2dGradWeight(rand([1, 2, 5, 5]), rand([2, 3, 5, 5]), p, 3), shape);
  await assert.rejects(native.conv2dGradWeight(rand([1, 2, 4, 5]), rand([1, 3, 5, 5]), p, 3), shape);
});

test('the name says which kernels run the products', () => {
  assert.equal(native.name, 'local(native)');
  assert.equal(reference.name, 'local(reference)');
});
