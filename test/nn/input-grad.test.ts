import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kernels } from '../../src/kernels/index.js';
import type { ConvParams, LinearOps } from '../../src/kernels/linear-ops.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { createModel } from '../../src/models/index.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { setLinearOps } from '../../src/nn/layer.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

class CountingOps implements LinearOps {
  readonly name = 'counting';
  readonly inner = new LocalLinearOps(kernels);
  gradInputs: number[][] = [];
  dense = (x: Tensor, w: Tensor) => this.inner.dense(x, w);
  denseGradInput = (dy: Tensor, w: Tensor) => this.inner.denseGradInput(dy, w);
  denseGradWeight = (dy: Tensor, x: Tensor) => this.inner.denseGradWeight(dy, x);
  conv2d = (x: Tensor, w: Tensor, p: ConvParams) => this.inner.conv2d(x, w, p);
  conv2dGradInput = (dy: Tensor, w: Tensor, p: ConvParams, hw: readonly [number, number]) => {
    this.gradInputs.push([...w.shape]);
    return this.inner.conv2dGradInput(dy, w, p, hw);
  };
  conv2dGradWeight = (dy: Tensor, x: Tensor, p: ConvParams, k: number) =>
    this.inner.conv2dGradWeight(dy, x, p, k);
}

function randomTensor(shape: number[], seed: number): Tensor {
  const rng = new SeededRng(seed);
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = rng.nextFloat() * 2 - 1;
  return t;
}

test("a model's first convolution skips the input gradient, as PyTorch does for an input without grad", async () => {
  for (const [name, size, firstWeight] of [
    ['resnet18', 32, [64, 3, 7, 7]],
    ['vgg11', 32, [64, 3, 3, 3]],
    ['alexnet', 63, [64, 3, 11, 11]],
  ] as const) {
    const model = createModel(name, { numClasses: 10, seed: 1, dropout: 0 });
    const ops = new CountingOps();
    setLinearOps(model, ops);
    const x = randomTensor([2, 3, size, size], 2);
    const logits = await model.forward(x);
    const loss = new CrossEntropyLoss();
    await loss.forward(logits, [1, 2]);
    const dx = await model.backward(await loss.backward());
    assert.deepEqual(dx.shape, [2, 3, size, size], name);
    assert.ok(ops.gradInputs.length > 0, `${name}: other convolutions still propagate`);
    assert.ok(
      ops.gradInputs.every((s) => s.join() !== firstWeight.join()),
      `${name}: the first convolution asked for no input gradient`,
    );
  }
});

test('a Conv2d with inputGrad off returns zeros yet still accumulates the weight gradient', async () => {
  const on = new Conv2d(3, 4, 3, { padding: 1 });
  const off = new Conv2d(3, 4, 3, { padding: 1, inputGrad: false });
  off.weight.data.set(on.weight.data);
  off.bias!.data.set(on.bias!.data);
  const x = randomTensor([1, 3, 5, 5], 3);
  const dy = randomTensor([1, 4, 5, 5], 4);
  await on.forward(x);
  await off.forward(x);
  const dxOn = await on.backward(dy);
  const dxOff = await off.backward(dy);
  assert.ok(dxOn.data.some((v) => v !== 0));
  assert.ok(dxOff.data.every((v) => v === 0));
  assert.deepEqual(off.weight.grad, on.weight.grad);
});
