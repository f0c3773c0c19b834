// SGD against torch.optim.SGD (PyTorch 1.13, values printed by /usr/bin/python3 for these exact inputs):
// nesterov, dampening, plain, weight decay without momentum; on every kernel backend.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Parameter } from '../../src/nn/module.js';
import { SGD, type SGDOptions } from '../../src/nn/sgd.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../fixtures-util.js';
import { BACKENDS } from './backends.js';

const P0 = [0.5, -1.25, 2.0, 0.0, -0.75];
const GRADS = [
  [0.1, -0.2, 0.3, -0.4, 0.5],
  [-0.3, 0.25, 0.0, 0.125, 1.0],
  [0.05, 0.5, -0.5, 0.75, -0.25],
];

const CASES: { name: string; opts: SGDOptions; after: number[][] }[] = [
  {
    name: 'nesterov momentum with weight decay',
    opts: { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 },
    after: [
      [0.4800499975681305, -1.209625005722046, 1.9392000436782837, 0.07599999755620956, -0.8435750007629395],
      [0.5276328921318054, -1.2376142740249634, 1.9095956087112427, 0.084505595266819, -1.0718647241592407],
      [
        0.5333870649337769, -1.334041714668274, 1.9760686159133911, -0.039181530475616455,
        -1.1385481357574463,
      ],
    ],
  },
  {
    name: 'momentum with dampening',
    opts: { lr: 0.05, momentum: 0.8, dampening: 0.3, weightDecay: 0.001 },
    after: [
      [
        0.4949750006198883, -1.2399375438690186, 1.9848999977111816, 0.020000001415610313,
        -0.7749624848365784,
      ],
      [0.5014376640319824, -1.2405941486358643, 1.9727505445480347, 0.03162430226802826, -0.8299053907394409],
      [
        0.5048402547836304, -1.2585760354995728, 1.9804619550704956, 0.014672636985778809,
        -0.8650806546211243,
      ],
    ],
  },
  {
    name: 'plain gradient descent',
    opts: { lr: 0.2 },
    after: [
      [
        0.47999998927116394, -1.2100000381469727, 1.9399999380111694, 0.08000000566244125,
        -0.8500000238418579,
      ],
      [0.5400000214576721, -1.2599999904632568, 1.9399999380111694, 0.05500000715255737, -1.0500000715255737],
      [0.5300000309944153, -1.3600000143051147, 2.0399999618530273, -0.0949999988079071, -1.0000001192092896],
    ],
  },
  {
    name: 'weight decay without momentum',
    opts: { lr: 0.1, weightDecay: 0.1 },
    after: [
      [
        0.48499998450279236, -1.2174999713897705, 1.9500000476837158, 0.04000000283122063,
        -0.7925000190734863,
      ],
      [
        0.5101500153541565, -1.2303249835968018, 1.9305000305175781, 0.027100002393126488,
        -0.8845750093460083,
      ],
      [
        0.5000485181808472, -1.2680217027664185, 1.9611949920654297, -0.04817099869251251,
        -0.8507292866706848,
      ],
    ],
  },
];

for (const b of BACKENDS) {
  describe(`SGD on the ${b.label} kernels`, () => {
    for (const c of CASES) {
      it(`matches torch.optim.SGD: ${c.name}`, () => {
        const p = new Parameter(new Tensor([5], Float32Array.from(P0)));
        const opt = new SGD([p], { ...c.opts, kernels: b.kernels });
        GRADS.forEach((g, step) => {
          opt.zeroGrad();
          p.grad.set(g);
          opt.step();
          assertClose(p.data, c.after[step]!, 1e-6, `${c.name} step ${step}`);
        });
        assert.equal(opt.stepCount, 3);
      });
    }
  });
}

describe('SGD', () => {
  it('zeroGrad clears every gradient', () => {
    const p = new Parameter(new Tensor([3]));
    p.grad.fill(2);
    new SGD([p], { lr: 0.1 }).zeroGrad();
    assert.deepEqual([...p.grad], [0, 0, 0]);
  });

  it('rejects nesterov without momentum (RangeError)', () => {
    assert.throws(() => new SGD([], { lr: 0.1, nesterov: true }), {
      name: 'RangeError',
      message: 'SGD nesterov momentum requires a momentum and zero dampening',
    });
  });

  it('rejects a negative learning rate (RangeError)', () => {
    assert.throws(() => new SGD([], { lr: -1 }), {
      name: 'RangeError',
      message: 'SGD lr must be non-negative, got -1',
    });
  });

  it('round-trips its momentum buffers', () => {
    const p = new Parameter(new Tensor([2], Float32Array.from([1, 2])));
    const a = new SGD([p], { lr: 0.1, momentum: 0.9 });
    p.grad.set([1, 1]);
    a.step();
    const q = new Parameter(new Tensor([2], p.data.slice()));
    const b = new SGD([q], { lr: 0.1, momentum: 0.9 });
    b.loadMomentumBuffers(a.momentumBuffers(), a.stepCount);
    p.grad.set([0.5, -0.5]);
    q.grad.set([0.5, -0.5]);
    a.step();
    b.step();
    assert.deepEqual(q.data, p.data);
  });
});
