// Every layer fixture of ../shared/fixtures/layers (PyTorch 1.13, float64 truth), forward and backward,
// on every kernel backend, with the README's tolerance max(20·torch_f32_err, 1e-5)·max(1, max|expected|).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveAvgPool2d } from '../../src/nn/adaptive-avg-pool.js';
import { BatchNorm2d } from '../../src/nn/batch-norm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { Linear } from '../../src/nn/linear.js';
import { MaxPool2d } from '../../src/nn/max-pool.js';
import { Parameter } from '../../src/nn/module.js';
import { ReLU } from '../../src/nn/relu.js';
import { SGD } from '../../src/nn/sgd.js';
import { assertClose, assertLayerClose, Fixture, fixtureFiles, layerTolerance } from '../fixtures-util.js';
import { BACKENDS, type Backend } from './backends.js';

type Runner = (f: Fixture, b: Backend) => Promise<void>;

const conv2d: Runner = async (f, b) => {
  const [o, c, k] = f.shape('weight') as [number, number, number];
  const hasBias = f.num('bias') === 1;
  const layer = new Conv2d(c, o, k, {
    ...b,
    stride: f.num('stride'),
    padding: f.num('padding'),
    bias: hasBias,
  });
  layer.weight.data.set(f.f32('weight'));
  if (hasBias) layer.bias!.data.set(f.f32('bias'));
  const y = await layer.forward(f.tensor('input'));
  assert.deepEqual(y.shape, f.shape('expected.output'));
  assertLayerClose(f, y.data, 'expected.output');
  const dx = await layer.backward(f.tensor('grad_output'));
  assertLayerClose(f, dx.data, 'expected.grad_input');
  assertLayerClose(f, layer.weight.grad, 'expected.grad_weight');
  if (hasBias) assertLayerClose(f, layer.bias!.grad, 'expected.grad_bias');
};

const linear: Runner = async (f, b) => {
  const [o, i] = f.shape('weight') as [number, number];
  const hasBias = f.num('bias') === 1;
  const layer = new Linear(i, o, { ...b, bias: hasBias });
  layer.weight.data.set(f.f32('weight'));
  if (hasBias) layer.bias!.data.set(f.f32('bias'));
  const y = await layer.forward(f.tensor('input'));
  assertLayerClose(f, y.data, 'expected.output');
  const dx = await layer.backward(f.tensor('grad_output'));
  assertLayerClose(f, dx.data, 'expected.grad_input');
  assertLayerClose(f, layer.weight.grad, 'expected.grad_weight');
  if (hasBias) assertLayerClose(f, layer.bias!.grad, 'expected.grad_bias');
};

const batchnorm2d: Runner = async (f, b) => {
  const c = f.shape('weight')[0]!;
  const layer = new BatchNorm2d(c, { ...b, eps: f.num('eps'), momentum: f.num('momentum') });
  layer.weight!.data.set(f.f32('weight'));
  layer.bias!.data.set(f.f32('bias'));
  layer.runningMean.set(f.f32('running_mean'));
  layer.runningVar.set(f.f32('running_var'));
  const training = f.num('training') === 1;
  layer.train(training);
  const y = await layer.forward(f.tensor('input'));
  assertLayerClose(f, y.data, 'expected.output');
  assertLayerClose(f, layer.runningMean, 'expected.running_mean_after');
  assertLayerClose(f, layer.runningVar, 'expected.running_var_after');
  assert.equal(layer.numBatchesTracked[0], training ? 1n : 0n);
  const dx = await layer.backward(f.tensor('grad_output'));
  assertLayerClose(f, dx.data, 'expected.grad_input');
  assertLayerClose(f, layer.weight!.grad, 'expected.grad_weight');
  assertLayerClose(f, layer.bias!.grad, 'expected.grad_bias');
};

const relu: Runner = async (f, b) => {
  for (const inplace of [false, true]) {
    const layer = new ReLU({ ...b, inplace });
    const y = await layer.forward(f.tensor('input'));
    assertLayerClose(f, y.data, 'expected.output');
    const dx = await layer.backward(f.tensor('grad_output'));
    assertLayerClose(f, dx.data, 'expected.grad_input');
  }
};

const maxpool2d: Runner = async (f, b) => {
  const layer = new MaxPool2d(f.num('kernel'), { ...b, stride: f.num('stride'), padding: f.num('padding') });
  const y = await layer.forward(f.tensor('input'));
  assert.deepEqual(y.shape, f.shape('expected.output'));
  assertLayerClose(f, y.data, 'expected.output');
  const dx = await layer.backward(f.tensor('grad_output'));
  assertLayerClose(f, dx.data, 'expected.grad_input');
};

const adaptiveAvgPool2d: Runner = async (f, b) => {
  const layer = new AdaptiveAvgPool2d(f.num('output_size'), b);
  const y = await layer.forward(f.tensor('input'));
  assert.deepEqual(y.shape, f.shape('expected.output'));
  assertLayerClose(f, y.data, 'expected.output');
  const dx = await layer.backward(f.tensor('grad_output'));
  assertLayerClose(f, dx.data, 'expected.grad_input');
};

const crossEntropy: Runner = async (f, b) => {
  const loss = new CrossEntropyLoss(b);
  const { loss: value, grad } = await loss.compute(f.tensor('input'), f.i64('labels'));
  const expected = f.f32('expected.loss');
  assertClose([value], expected, layerTolerance(f, expected), `${f.name} expected.loss`);
  assertLayerClose(f, grad.data, 'expected.grad_input');
};

const sgd: Runner = async (f, b) => {
  const p = new Parameter(f.tensor('param'));
  const opt = new SGD([p], {
    lr: f.num('lr'),
    momentum: f.num('momentum'),
    weightDecay: f.num('weight_decay'),
    dampening: f.num('dampening'),
    nesterov: f.num('nesterov') === 1,
    kernels: b.kernels,
  });
  for (let step = 0; step < 3; step++) {
    opt.zeroGrad();
    p.grad.set(f.f32(`grad${step}`));
    opt.step();
    assertLayerClose(f, p.data, `expected.param_after${step}`);
  }
};

const RUNNERS: Readonly<Record<string, Runner>> = {
  conv2d,
  linear,
  batchnorm2d,
  relu,
  maxpool2d,
  adaptive_avg_pool2d: adaptiveAvgPool2d,
  cross_entropy: crossEntropy,
  sgd,
};

const fixtures = fixtureFiles('layers').map((p) => new Fixture(p));

it('finds all 24 layer fixtures, each with a known op', () => {
  assert.equal(fixtures.length, 24);
  for (const f of fixtures) assert.ok(RUNNERS[f.meta.op ?? ''], `${f.name}: unknown op ${f.meta.op}`);
});

for (const backend of BACKENDS) {
  describe(`layer fixtures on the ${backend.label} kernels`, () => {
    for (const f of fixtures) {
      it(`matches PyTorch on ${f.name} (${f.meta.op})`, async () => {
        await RUNNERS[f.meta.op!]!(f, backend);
      });
    }
  });
}
