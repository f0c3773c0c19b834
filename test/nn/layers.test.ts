// Layer behaviour the fixtures do not pin down: gradient accumulation, released activations, BatchNorm
// bookkeeping, in-place ReLU, state names, and routing of every linear product through LinearOps.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ConvParams, LinearOps } from '../../src/kernels/linear-ops.js';
import { BasicBlock } from '../../src/nn/basic-block.js';
import { BatchNorm2d } from '../../src/nn/batch-norm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { Flatten } from '../../src/nn/flatten.js';
import { Layer, modulesOf, setKernels, setLinearOps } from '../../src/nn/layer.js';
import { Linear } from '../../src/nn/linear.js';
import { ReLU } from '../../src/nn/relu.js';
import { Sequential } from '../../src/nn/sequential.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BACKENDS } from './backends.js';

function randn(shape: number[], seed: number): Tensor {
  const rng = new SeededRng(seed);
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = 2 * rng.nextFloat() - 1;
  return t;
}

/** Counts every call, then delegates. */
class CountingOps implements LinearOps {
  readonly name = 'counting';
  readonly calls = new Map<string, number>();
  constructor(private readonly inner: LinearOps) {}
  private count(op: string): void {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }
  dense(x: Tensor, w: Tensor): Promise<Tensor> {
    this.count('dense');
    return this.inner.dense(x, w);
  }
  denseGradInput(dy: Tensor, w: Tensor): Promise<Tensor> {
    this.count('denseGradInput');
    return this.inner.denseGradInput(dy, w);
  }
  denseGradWeight(dy: Tensor, x: Tensor): Promise<Tensor> {
    this.count('denseGradWeight');
    return this.inner.denseGradWeight(dy, x);
  }
  conv2d(x: Tensor, w: Tensor, p: ConvParams): Promise<Tensor> {
    this.count('conv2d');
    return this.inner.conv2d(x, w, p);
  }
  conv2dGradInput(dy: Tensor, w: Tensor, p: ConvParams, hw: readonly [number, number]): Promise<Tensor> {
    this.count('conv2dGradInput');
    return this.inner.conv2dGradInput(dy, w, p, hw);
  }
  conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number): Promise<Tensor> {
    this.count('conv2dGradWeight');
    return this.inner.conv2dGradWeight(dy, x, p, k);
  }
}

/** CountingOps that also takes a layer's two backward products as a pair (as RemoteLinearOps does). */
class PairOps extends CountingOps {
  denseBackward(dy: Tensor, w: Tensor, x: Tensor): Promise<[Tensor, Tensor]> {
    this.calls.set('denseBackward', (this.calls.get('denseBackward') ?? 0) + 1);
    return Promise.all([this.denseGradInput(dy, w), this.denseGradWeight(dy, x)]);
  }
  conv2dBackward(dy: Tensor, w: Tensor, x: Tensor, p: ConvParams, k: number): Promise<[Tensor, Tensor]> {
    this.calls.set('conv2dBackward', (this.calls.get('conv2dBackward') ?? 0) + 1);
    return Promise.all([
      this.conv2dGradInput(dy, w, p, [x.shape[2]!, x.shape[3]!]),
      this.conv2dGradWeight(dy, x, p, k),
    ]);
  }
}

const ref = BACKENDS[0]!;

function tinyNet(): Sequential {
  const o = { kernels: ref.kernels, linearOps: ref.linearOps };
  return new Sequential(
    new Conv2d(3, 4, 3, { ...o, padding: 1 }),
    new BatchNorm2d(4, o),
    new ReLU({ ...o, inplace: true }),
    new BasicBlock(4, 8, { ...o, stride: 2 }),
    new Flatten(o),
    new Linear(8 * 3 * 3, 5, o),
  );
}

describe('layers', () => {
  it('accumulate (+=) parameter gradients over two backwards', async () => {
    const conv = new Conv2d(2, 3, 3, { ...ref, padding: 1 });
    const x = randn([2, 2, 5, 5], 1);
    const dy = randn([2, 3, 5, 5], 2);
    await conv.forward(x);
    await conv.backward(dy);
    const once = conv.weight.grad.slice();
    const onceBias = conv.bias!.grad.slice();
    await conv.forward(x);
    await conv.backward(dy);
    for (let i = 0; i < once.length; i++) assert.ok(Math.abs(conv.weight.grad[i]! - 2 * once[i]!) < 1e-5);
    for (let i = 0; i < onceBias.length; i++)
      assert.ok(Math.abs(conv.bias!.grad[i]! - 2 * onceBias[i]!) < 1e-5);
  });

  it('BatchNorm2d in training counts batches and moves running stats with the unbiased variance', async () => {
    const bn = new BatchNorm2d(1, { ...ref, momentum: 0.5 });
    await bn.forward(new Tensor([1, 1, 2, 2], Float32Array.from([1, 2, 3, 6])));
    assert.equal(bn.numBatchesTracked[0], 1n);
    assert.equal(bn.runningMean[0], Math.fround(0.5 * 3));
    // unbiased variance of [1,2,3,6] = 14/3
    assert.equal(bn.runningVar[0], Math.fround(0.5 + 0.5 * (14 / 3)));
  });

  it('BatchNorm2d with momentum null keeps a cumulative average', async () => {
    const bn = new BatchNorm2d(1, { ...ref, momentum: null });
    await bn.forward(new Tensor([1, 1, 1, 2], Float32Array.from([1, 3])));
    await bn.forward(new Tensor([1, 1, 1, 2], Float32Array.from([5, 7])));
    assert.equal(bn.numBatchesTracked[0], 2n);
    assert.equal(bn.runningMean[0], 4);
  });

  it('BatchNorm2d in eval uses and keeps its running stats', async () => {
    const bn = new BatchNorm2d(2, ref).eval();
    bn.runningMean.set([1, -1]);
    bn.runningVar.set([4, 0.25]);
    const y = await bn.forward(new Tensor([1, 2, 1, 1], Float32Array.from([3, 0])));
    assert.ok(Math.abs(y.data[0]! - 2 / Math.sqrt(4 + 1e-5)) < 1e-6);
    assert.ok(Math.abs(y.data[1]! - 1 / Math.sqrt(0.25 + 1e-5)) < 1e-6);
    assert.deepEqual([...bn.runningMean], [1, -1]);
    assert.equal(bn.numBatchesTracked[0], 0n);
  });

  it('BatchNorm2d registers torchvision’s state names', () => {
    const names = new BatchNorm2d(3).stateEntries('bn1.').map((e) => `${e.name}:${e.dtype}`);
    assert.deepEqual(names, [
      'bn1.weight:F32',
      'bn1.bias:F32',
      'bn1.running_mean:F32',
      'bn1.running_var:F32',
      'bn1.num_batches_tracked:I64',
    ]);
  });

  it('in-place ReLU overwrites its input; the default one does not', async () => {
    const x = new Tensor([3], Float32Array.from([-1, 0, 2]));
    const y = await new ReLU().forward(x);
    assert.deepEqual([...x.data], [-1, 0, 2]);
    assert.deepEqual([...y.data], [0, 0, 2]);
    const z = await new ReLU({ inplace: true }).forward(x);
    assert.equal(z, x);
    assert.deepEqual([...x.data], [0, 0, 2]);
  });

  it('Sequential names its children 0, 1, …', () => {
    const names = tinyNet()
      .stateEntries()
      .filter((e) => e.kind === 'parameter')
      .map((e) => e.name);
    assert.deepEqual(names.slice(0, 4), ['0.weight', '0.bias', '1.weight', '1.bias']);
    assert.ok(names.includes('3.downsample.0.weight'));
    assert.ok(names.includes('3.downsample.1.bias'));
    assert.equal(names.at(-1), '5.bias');
  });

  it('route every linear product through the LinearOps set on the model', async () => {
    const net = tinyNet();
    const ops = new CountingOps(ref.linearOps);
    setLinearOps(net, ops);
    for (const m of modulesOf(net)) if (m instanceof Layer) assert.equal(m.linearOps, ops);
    const y = await net.forward(randn([2, 3, 6, 6], 3));
    await net.backward(randn(y.shape as number[], 4));
    // 4 convs (stem, block conv1, conv2, downsample), 1 linear: one forward and two backward products each
    assert.deepEqual(Object.fromEntries(ops.calls), {
      conv2d: 4,
      dense: 1,
      denseGradInput: 1,
      denseGradWeight: 1,
      conv2dGradInput: 4,
      conv2dGradWeight: 4,
    });
  });

  it('hand both backward products to the ops as one pair where the ops take pairs (same results)', async () => {
    const plain = tinyNet();
    const paired = tinyNet();
    const ops = new PairOps(ref.linearOps);
    setLinearOps(paired, ops);
    const x = randn([2, 3, 6, 6], 3);
    const dy = randn([2, 5], 4);
    await plain.forward(x);
    await paired.forward(x);
    const dxPlain = await plain.backward(dy);
    const dxPaired = await paired.backward(dy);
    assert.deepEqual(dxPaired.data, dxPlain.data);
    const gp = plain.parameters();
    paired.parameters().forEach((p, i) => {
      assert.deepEqual(p.grad, gp[i]!.grad, `parameter ${i}`);
    });
    // Every conv and the linear as a pair; their products counted once each, as before.
    assert.equal(ops.calls.get('conv2dBackward'), 4);
    assert.equal(ops.calls.get('denseBackward'), 1);
    assert.equal(ops.calls.get('conv2dGradWeight'), 4);
    assert.equal(ops.calls.get('conv2dGradInput'), 4);
    // A conv that skips its input gradient runs the grad-weight product alone.
    const first = new Conv2d(3, 2, 3, { ...ref, padding: 1, inputGrad: false });
    const ops2 = new PairOps(ref.linearOps);
    first.linearOps = ops2;
    await first.forward(x);
    await first.backward(randn([2, 2, 6, 6], 5));
    assert.equal(ops2.calls.get('conv2dBackward'), undefined);
    assert.equal(ops2.calls.get('conv2dGradWeight'), 1);
  });

  it('give the same results on both backends (setKernels + setLinearOps)', async () => {
    const a = tinyNet();
    const b = tinyNet();
    const other = BACKENDS[1]!;
    setKernels(b, other.kernels);
    setLinearOps(b, other.linearOps);
    const x = randn([2, 3, 6, 6], 5);
    const ya = await a.forward(x);
    const yb = await b.forward(x);
    for (let i = 0; i < ya.size; i++) assert.ok(Math.abs(ya.data[i]! - yb.data[i]!) < 1e-4);
    const dy = randn(ya.shape as number[], 6);
    const da = await a.backward(dy);
    const db = await b.backward(dy);
    for (let i = 0; i < da.size; i++) assert.ok(Math.abs(da.data[i]! - db.data[i]!) < 1e-4);
  });

  it('BasicBlock backward matches a finite difference', async () => {
    const block = new BasicBlock(2, 2, { ...ref, rng: new SeededRng(9) });
    block.eval(); // fixed statistics: the function is smooth away from ReLU kinks
    const x = randn([1, 2, 4, 4], 10);
    const dy = randn([1, 2, 4, 4], 11);
    await block.forward(x);
    const dx = await block.backward(dy);
    const f = async (t: Tensor): Promise<number> => {
      const y = await block.forward(t);
      block.releaseSaved();
      let s = 0;
      for (let i = 0; i < y.size; i++) s += y.data[i]! * dy.data[i]!;
      return s;
    };
    for (const i of [0, 5, 17, 31]) {
      const h = 1e-2;
      const p = x.clone();
      const m = x.clone();
      p.data[i]! += h;
      m.data[i]! -= h;
      const num = ((await f(p)) - (await f(m))) / (2 * h);
      assert.ok(Math.abs(num - dx.data[i]!) < 2e-2, `dx[${i}] = ${dx.data[i]}, finite difference ${num}`);
    }
  });
});
