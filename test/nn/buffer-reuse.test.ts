// Buffer reuse (enableBufferReuse, turned on by trainStep): layers write outputs and gradients into
// per-layer buffers kept across steps. Training with reuse must be bit-identical to training with fresh
// tensors, and nothing handed to the caller (logits, predict's output) may change under it later.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { createModel } from '../../src/models/registry.js';
import { AdaptiveAvgPool2d } from '../../src/nn/adaptive-avg-pool.js';
import { BasicBlock } from '../../src/nn/basic-block.js';
import { BatchNorm2d } from '../../src/nn/batch-norm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { Flatten } from '../../src/nn/flatten.js';
import { enableBufferReuse, Layer, modulesOf } from '../../src/nn/layer.js';
import { Linear } from '../../src/nn/linear.js';
import { MaxPool2d } from '../../src/nn/max-pool.js';
import type { Module } from '../../src/nn/module.js';
import { ReLU } from '../../src/nn/relu.js';
import { Sequential } from '../../src/nn/sequential.js';
import { SGD } from '../../src/nn/sgd.js';
import { predict, trainStep } from '../../src/nn/train-step.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { isWorkspaceTensor } from '../../src/tensor/workspace.js';
import { assertIdentical } from '../kernels/helpers.js';

// Every kind of layer that reuses a buffer: conv (with and without bias), BN, ReLU in place and not,
// max-pool, BasicBlock with and without downsample, adaptive avg-pool, flatten, linear.
function smallNet(): Sequential {
  const rng = new SeededRng(21);
  return new Sequential(
    new Conv2d(3, 8, 3, { padding: 1, rng, inputGrad: false }),
    new BatchNorm2d(8),
    new ReLU({ inplace: true }),
    new MaxPool2d(3, { stride: 2, padding: 1 }),
    new BasicBlock(8, 8, { rng }),
    new BasicBlock(8, 16, { stride: 2, rng }),
    new Conv2d(16, 16, 3, { padding: 1, rng }),
    new ReLU(),
    new AdaptiveAvgPool2d([2, 2]),
    new Flatten(),
    new Linear(64, 5, { rng }),
  );
}

function batch(n: number, size: number, seed: number): { x: Tensor; labels: Int32Array } {
  const rng = new SeededRng(seed);
  const x = new Tensor([n, 3, size, size]);
  for (let i = 0; i < x.size; i++) x.data[i] = 2 * rng.nextFloat() - 1;
  return { x, labels: Int32Array.from({ length: n }, (_, i) => i % 5) };
}

// trainStep without turning reuse on: every layer allocates, as before reuse existed.
async function freshStep(model: Module, loss: CrossEntropyLoss, opt: SGD, x: Tensor, labels: Int32Array) {
  model.train();
  opt.zeroGrad();
  const logits = await model.forward(x);
  const value = await loss.forward(logits, labels);
  await model.backward(await loss.backward());
  opt.step();
  return { loss: value, logits };
}

function reuseFlags(model: Module): boolean[] {
  return modulesOf(model)
    .filter((m): m is Layer => m instanceof Layer)
    .map((l) => l.reuseBuffers);
}

function assertSameState(a: Module, b: Module, what: string): void {
  const ea = a.stateEntries();
  const eb = b.stateEntries();
  assert.equal(ea.length, eb.length);
  ea.forEach((e, i) => {
    if (e.data instanceof Float32Array) {
      assertIdentical(e.data, eb[i]!.data as Float32Array, `${what}: ${e.name}`);
    } else {
      assert.deepEqual(e.data, eb[i]!.data, `${what}: ${e.name}`);
    }
  });
}

describe('buffer reuse', () => {
  it('is off by default: each forward of a layer returns a new tensor', async () => {
    const net = smallNet();
    assert.ok(reuseFlags(net).every((f) => !f));
    const bn = net.at(1) as BatchNorm2d;
    const a = await bn.forward(new Tensor([2, 8, 3, 3]));
    const b = await bn.forward(new Tensor([2, 8, 3, 3]));
    assert.notEqual(a.data, b.data);
    assert.equal(isWorkspaceTensor(a), false);
  });

  it('trainStep turns it on: a layer then returns the same buffers from step to step', async () => {
    const net = smallNet();
    const { x, labels } = batch(2, 9, 2);
    const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
    const loss = new CrossEntropyLoss();
    await trainStep(net, loss, opt, x, labels);
    assert.ok(reuseFlags(net).every((f) => f));
    const bn = net.at(1) as BatchNorm2d;
    const y1 = await bn.forward(new Tensor([2, 8, 9, 9]));
    const dx1 = await bn.backward(new Tensor([2, 8, 9, 9]));
    const y2 = await bn.forward(new Tensor([2, 8, 9, 9]));
    const dx2 = await bn.backward(new Tensor([2, 8, 9, 9]));
    assert.equal(y2.data, y1.data);
    assert.equal(dx2.data, dx1.data);
    assert.notEqual(y1.data, dx1.data);
    const y3 = await bn.forward(new Tensor([3, 8, 9, 9]));
    assert.notEqual(y3.data, y1.data, 'a new batch size gets a new buffer');
    assert.deepEqual(y3.shape, [3, 8, 9, 9]);
    bn.releaseSaved();
    enableBufferReuse(net, false);
    assert.ok(reuseFlags(net).every((f) => !f));
  });

  it('trains bit-identically to fresh tensors, and logits held by the caller survive later steps', async () => {
    const [a, b] = [smallNet(), smallNet()];
    const [optA, optB] = [a, b].map(
      (m) => new SGD(m.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 }),
    );
    const [lossA, lossB] = [new CrossEntropyLoss(), new CrossEntropyLoss()];
    const held: { logits: Tensor; copy: Float32Array }[] = [];
    for (const [i, size] of [9, 9, 11, 9].entries()) {
      const { x, labels } = batch(i === 2 ? 3 : 2, size, 10 + i);
      const ra = await trainStep(a, lossA, optA!, x, labels);
      const rb = await freshStep(b, lossB, optB!, x, labels);
      assert.ok(Object.is(ra.loss, rb.loss), `step ${i}: loss ${ra.loss} vs ${rb.loss}`);
      assertIdentical(ra.logits.data, rb.logits.data, `step ${i}: logits`);
      assert.equal(isWorkspaceTensor(ra.logits), false, 'the logits handed back are the caller’s');
      held.push({ logits: ra.logits, copy: ra.logits.data.slice() });
      assertSameState(a, b, `after step ${i}`);
    }
    const { x } = batch(2, 9, 99);
    const pa = await predict(a, x);
    const pb = await predict(b, x);
    assertIdentical(pa.data, pb.data, 'predict');
    const keep = pa.data.slice();
    await trainStep(a, lossA, optA!, x, Int32Array.from([0, 1]));
    await predict(a, x);
    assertIdentical(pa.data, keep, 'predict output after another step and predict');
    held.forEach((h, i) => {
      assertIdentical(h.logits.data, h.copy, `logits of step ${i} after later steps`);
    });
  });

  for (const name of ['resnet18', 'alexnet']) {
    it(`${name}: two train steps with reuse equal two with fresh tensors, bit for bit`, async () => {
      const opts = { numClasses: 10, seed: 3, dropout: name === 'alexnet' ? 0.5 : 0 };
      const [a, b] = [createModel(name, opts), createModel(name, opts)];
      const [optA, optB] = [a, b].map(
        (m) => new SGD(m.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 }),
      );
      const size = name === 'alexnet' ? 63 : 32;
      for (let i = 0; i < 2; i++) {
        const { x, labels } = batch(2, size, 40 + i);
        const ra = await trainStep(a, new CrossEntropyLoss(), optA!, x, labels);
        const rb = await freshStep(b, new CrossEntropyLoss(), optB!, x, labels);
        assert.ok(Object.is(ra.loss, rb.loss), `step ${i}: loss ${ra.loss} vs ${rb.loss}`);
        assertIdentical(ra.logits.data, rb.logits.data, `step ${i}: logits`);
      }
      assertSameState(a, b, name);
    });
  }
});

describe('buffers offered to LinearOps', () => {
  // LocalLinearOps seen through a wrapper that records what each conv2d call was offered.
  function recording(writesOut: boolean) {
    const inner = new LocalLinearOps(kernels);
    const offered: (Tensor | undefined)[] = [];
    const ops = {
      name: 'recording',
      writesOut,
      dense: inner.dense.bind(inner),
      denseGradInput: inner.denseGradInput.bind(inner),
      denseGradWeight: inner.denseGradWeight.bind(inner),
      conv2d: (x: Tensor, w: Tensor, p: { stride: number; padding: number }, out?: Tensor) => {
        offered.push(out);
        return inner.conv2d(x, w, p, out);
      },
      conv2dGradInput: inner.conv2dGradInput.bind(inner),
      conv2dGradWeight: inner.conv2dGradWeight.bind(inner),
    };
    return { ops, offered };
  }

  it('are offered only to ops that write into them (not remote ones), and only with reuse on', async () => {
    const x = batch(2, 9, 7).x;
    for (const writesOut of [true, false]) {
      const { ops, offered } = recording(writesOut);
      const conv = new Conv2d(3, 4, 3, { linearOps: ops, rng: new SeededRng(1) });
      await conv.forward(x);
      conv.reuseBuffers = true;
      const y1 = await conv.forward(x);
      const y2 = await conv.forward(x);
      conv.releaseSaved();
      assert.equal(offered[0], undefined, 'reuse off: nothing offered');
      if (writesOut) {
        assert.ok(offered[1] !== undefined && offered[1] === offered[2]);
        assert.equal(y2, y1);
      } else {
        assert.deepEqual(offered.slice(1), [undefined, undefined]);
        assert.notEqual(y2.data, y1.data);
      }
    }
  });
});

describe('LocalLinearOps with an out buffer', () => {
  const ops = new LocalLinearOps(kernels);
  const rng = new SeededRng(5);
  const rand = (shape: number[]) => {
    const t = new Tensor(shape);
    for (let i = 0; i < t.size; i++) t.data[i] = 2 * rng.nextFloat() - 1;
    return t;
  };
  const nanFilled = (shape: number[]) => {
    const t = new Tensor(shape);
    t.data.fill(Number.NaN);
    return t;
  };

  it('overwrites a NaN-filled out entirely and returns it, equal to a fresh result', async () => {
    const p = { stride: 2, padding: 1 };
    const x = rand([2, 3, 7, 7]);
    const w = rand([4, 3, 3, 3]);
    const y = await ops.conv2d(x, w, p);
    const outY = nanFilled([2, 4, 4, 4]);
    assert.equal(await ops.conv2d(x, w, p, outY), outY);
    assertIdentical(outY.data, y.data, 'conv2d');
    const dy = rand([2, 4, 4, 4]);
    const dx = await ops.conv2dGradInput(dy, w, p, [7, 7]);
    const outDx = nanFilled([2, 3, 7, 7]);
    assert.equal(await ops.conv2dGradInput(dy, w, p, [7, 7], outDx), outDx);
    assertIdentical(outDx.data, dx.data, 'conv2dGradInput');
    const dw = await ops.conv2dGradWeight(dy, x, p, 3);
    const outDw = nanFilled([4, 3, 3, 3]);
    assert.equal(await ops.conv2dGradWeight(dy, x, p, 3, outDw), outDw);
    assertIdentical(outDw.data, dw.data, 'conv2dGradWeight');
    const xd = rand([3, 6]);
    const wd = rand([5, 6]);
    const dyd = rand([3, 5]);
    for (const [what, fresh, into] of [
      ['dense', await ops.dense(xd, wd), await ops.dense(xd, wd, nanFilled([3, 5]))],
      [
        'denseGradInput',
        await ops.denseGradInput(dyd, wd),
        await ops.denseGradInput(dyd, wd, nanFilled([3, 6])),
      ],
      [
        'denseGradWeight',
        await ops.denseGradWeight(dyd, xd),
        await ops.denseGradWeight(dyd, xd, nanFilled([5, 6])),
      ],
    ] as const) {
      assertIdentical(into.data, fresh.data, what);
    }
  });

  it('zeroes out when there are no images', async () => {
    const out = nanFilled([4, 3, 3, 3]);
    await ops.conv2dGradWeight(
      new Tensor([0, 4, 4, 4]),
      new Tensor([0, 3, 7, 7]),
      { stride: 2, padding: 1 },
      3,
      out,
    );
    assert.ok(out.data.every((v) => Object.is(v, 0)));
  });

  it('rejects an out of the wrong shape (E_SHAPE)', async () => {
    await assert.rejects(ops.dense(rand([3, 6]), rand([5, 6]), new Tensor([5, 3])), {
      code: 'E_SHAPE',
      message: 'dense: out [5,3] does not match the result [3,5]',
    });
  });
});
