// Models: torchvision's state names, shapes and dtypes in order (golden list from torchvision 0.14),
// parameter counts and conv/linear MACs (counted by forward hooks on torchvision), input-size limits.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel, describeModel, modelNames } from '../../src/models/registry.js';
import { Layer, modulesOf } from '../../src/nn/layer.js';
import { predict } from '../../src/nn/train-step.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BACKENDS } from '../nn/backends.js';
import { TORCHVISION_STATE } from './torchvision-state.js';

function stateLines(name: string): string[] {
  return createModel(name, { numClasses: 10 })
    .stateEntries()
    .map((e) => `${e.name} [${e.shape.join(',')}] ${e.dtype}`);
}

/** Trainable parameter count of a torchvision golden list (running stats excluded). */
function torchvisionParams(name: string): number {
  let n = 0;
  for (const line of TORCHVISION_STATE[name]!) {
    const [key, shape] = line.split(' ') as [string, string];
    if (/running_|num_batches/.test(key)) continue;
    n += shape
      .slice(1, -1)
      .split(',')
      .reduce((a, d) => a * Number(d), 1);
  }
  return n;
}

describe('model state names', () => {
  for (const name of ['alexnet', 'vgg11', 'vgg19_bn', 'resnet18', 'resnet34']) {
    it(`${name} has torchvision's state entries, in order`, () => {
      assert.deepEqual(stateLines(name), TORCHVISION_STATE[name]);
    });
  }

  it('spot-checks a few names', () => {
    const r = stateLines('resnet18');
    assert.ok(r.includes('layer2.0.downsample.0.weight [128,64,1,1] F32'));
    assert.ok(r.includes('layer4.1.bn2.running_var [512] F32'));
    assert.equal(r.at(-1), 'fc.bias [10] F32');
  });
});

describe('model registry', () => {
  it('lists every model', () => {
    assert.deepEqual(Object.keys(TORCHVISION_STATE).sort(), [...modelNames].sort());
  });

  it('counts parameters as torchvision does, without building', () => {
    for (const name of modelNames) {
      assert.equal(
        describeModel(name, { numClasses: 10, inputSize: 224 }).parameters,
        torchvisionParams(name),
        name,
      );
    }
    assert.equal(describeModel('resnet18', { numClasses: 10 }).parameters, 11_181_642);
    assert.equal(describeModel('vgg19_bn', { numClasses: 10, inputSize: 32 }).parameters, 139_622_218);
    assert.equal(describeModel('resnet18').parameters, 11_689_512);
  });

  it('counts conv/linear MACs as torchvision forward hooks do', () => {
    const cases: [string, number, number, number][] = [
      ['alexnet', 1000, 224, 714_188_480],
      ['alexnet', 10, 63, 94_089_920],
      ['vgg11', 1000, 224, 7_609_090_048],
      ['vgg11', 10, 32, 272_343_040],
      ['vgg19_bn', 1000, 224, 19_632_062_464],
      ['vgg19_bn', 10, 32, 517_709_824],
      ['resnet18', 1000, 224, 1_814_073_344],
      ['resnet18', 10, 32, 37_016_576],
      ['resnet34', 1000, 224, 3_663_761_408],
      ['resnet34', 10, 64, 299_045_888],
    ];
    for (const [name, numClasses, inputSize, macs] of cases) {
      const d = describeModel(name, { numClasses, inputSize });
      assert.equal(d.macs, macs, `${name} ${inputSize}`);
      assert.equal(d.flops, 2 * macs);
    }
  });

  it('rejects inputs torchvision rejects (E_SHAPE) and accepts the smallest it accepts', () => {
    assert.throws(() => describeModel('alexnet', { inputSize: 62 }), { code: 'E_SHAPE' });
    assert.throws(() => describeModel('vgg16', { inputSize: 31 }), { code: 'E_SHAPE' });
    for (const name of modelNames) {
      const min = describeModel(name).minInputSize;
      assert.doesNotThrow(() => describeModel(name, { inputSize: min }), name);
    }
  });

  it('rejects an unknown model name (RangeError)', () => {
    assert.throws(() => createModel('resnet50'), { name: 'RangeError', message: /unknown model 'resnet50'/ });
  });

  it('builds a model on the LinearOps it is given', () => {
    const ops = BACKENDS[0]!.linearOps;
    const m = createModel('resnet18', { numClasses: 10, linearOps: ops });
    const layers = modulesOf(m).filter((x) => x instanceof Layer);
    assert.ok(layers.length > 20);
    for (const l of layers) assert.equal(l.linearOps, ops);
  });

  it('given only kernels, runs every layer on them with one shared LocalLinearOps', () => {
    const k = BACKENDS[0]!.kernels;
    const m = createModel('alexnet', { numClasses: 10, kernels: k });
    const layers = modulesOf(m).filter((x) => x instanceof Layer);
    const ops = new Set(layers.map((l) => l.linearOps));
    assert.equal(ops.size, 1);
    assert.equal([...ops][0]!.name, `local(${k.name})`);
    for (const l of layers) assert.equal(l.kernels, k);
  });

  it('initialises reproducibly from the seed', () => {
    const a = createModel('resnet18', { numClasses: 10, seed: 3 }).parameters();
    const b = createModel('resnet18', { numClasses: 10, seed: 3 }).parameters();
    const c = createModel('resnet18', { numClasses: 10, seed: 4 }).parameters();
    assert.deepEqual(a[0]!.data, b[0]!.data);
    assert.notDeepEqual(a[0]!.data, c[0]!.data);
    assert.deepEqual(a.at(-1)!.data, b.at(-1)!.data);
  });
});

describe('model forward at the input sizes torchvision accepts', () => {
  const cases: [string, number, number][] = [
    ['alexnet', 2, 63],
    ['vgg11_bn', 2, 32],
    ['resnet18', 2, 32],
    ['resnet18', 1, 224],
  ];
  for (const [name, n, size] of cases) {
    it(`${name} maps [${n},3,${size},${size}] to [${n},10] logits`, async () => {
      const m = createModel(name, { numClasses: 10, seed: 1 });
      const x = new Tensor([n, 3, size, size]);
      for (let i = 0; i < x.size; i++) x.data[i] = Math.sin(i);
      const y = await predict(m, x);
      assert.deepEqual(y.shape, [n, 10]);
      assert.ok(y.data.every(Number.isFinite));
    });
  }
});
