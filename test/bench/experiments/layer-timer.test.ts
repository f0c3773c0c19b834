// The outside-in layer timer of the breakdown: self times per torchvision path, a BasicBlock's own ReLU
// told apart, and restore() leaves the model as it was (same results, no wrappers left).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { kindOfLayerType, timeLayers } from '../../../src/bench/experiments/layer-timer.js';
import { createModel } from '../../../src/models/index.js';
import { CrossEntropyLoss } from '../../../src/nn/cross-entropy.js';
import { SeededRng } from '../../../src/tensor/seeded-rng.js';
import { Tensor } from '../../../src/tensor/tensor.js';

async function step(model: ReturnType<typeof createModel>, x: Tensor) {
  const loss = new CrossEntropyLoss();
  model.train();
  model.zeroGrad();
  const v = await loss.forward(await model.forward(x), new Int32Array([1, 2]));
  await model.backward(await loss.backward());
  return { v, grad: Float32Array.from(model.namedParameters()[0]![1].grad) };
}

it('times every layer by path with self times, and restore() leaves the model untouched', async () => {
  const rng = new SeededRng(5);
  const x = new Tensor([2, 3, 32, 32]);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.nextFloat() - 0.5;
  const model = createModel('resnet18', { numClasses: 10, seed: 1 });
  const before = await step(model, x);
  const timer = timeLayers(model);
  const t0 = performance.now();
  const during = await step(model, x);
  const wall = performance.now() - t0;
  const byPath = new Map(timer.layers.map((l) => [l.layer, l]));
  assert.equal(byPath.get('conv1')?.type, 'Conv2d');
  assert.equal(byPath.get('layer1.0.bn1')?.type, 'BatchNorm2d');
  const block = byPath.get('layer1.0')!;
  assert.equal(block.composite, true);
  assert.ok(block.reluMs > 0 && block.reluMs <= block.ms + 1e-9, `block relu ${block.reluMs} of ${block.ms}`);
  for (const l of timer.layers) assert.ok(l.ms > 0, `${l.layer} has time`);
  const sum = timer.layers.reduce((a, l) => a + l.ms, 0);
  assert.ok(sum <= wall, `self times (${sum} ms) cannot exceed the step (${wall} ms)`);
  timer.reset();
  assert.equal(byPath.get('conv1')!.ms, 0);
  timer.restore();
  const conv1 = new Map(model.namedChildren()).get('conv1')!;
  assert.equal(Object.hasOwn(conv1, 'forward'), false, 'the wrapper is gone');
  assert.equal(Object.hasOwn(conv1, 'backward'), false);
  const after = await step(model, x);
  assert.equal(timer.layers.find((l) => l.layer === 'conv1')!.ms, 0, 'no timing after restore');
  assert.equal(during.v, before.v);
  assert.deepEqual(after.grad, before.grad);
});

it('maps layer classes onto breakdown kinds', () => {
  assert.equal(kindOfLayerType('Conv2d'), 'conv');
  assert.equal(kindOfLayerType('Linear'), 'linear');
  assert.equal(kindOfLayerType('BatchNorm2d'), 'batchnorm');
  assert.equal(kindOfLayerType('MaxPool2d'), 'pooling');
  assert.equal(kindOfLayerType('AdaptiveAvgPool2d'), 'pooling');
  assert.equal(kindOfLayerType('Flatten'), 'other');
});
