// trainStep / predict / evaluate: the loss goes down, nothing is kept between steps, modes are restored.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchNorm2d } from '../../src/nn/batch-norm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { Flatten } from '../../src/nn/flatten.js';
import { Linear } from '../../src/nn/linear.js';
import { ReLU } from '../../src/nn/relu.js';
import { Sequential } from '../../src/nn/sequential.js';
import { SGD } from '../../src/nn/sgd.js';
import { argmaxRows, evaluate, predict, trainStep } from '../../src/nn/train-step.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

function net(): Sequential {
  const rng = new SeededRng(4);
  return new Sequential(
    new Conv2d(1, 4, 3, { padding: 1, rng }),
    new BatchNorm2d(4),
    new ReLU({ inplace: true }),
    new Flatten(),
    new Linear(4 * 4 * 4, 3, { rng }),
  );
}

function batch(): { x: Tensor; labels: Int32Array } {
  const rng = new SeededRng(5);
  const x = new Tensor([6, 1, 4, 4]);
  for (let i = 0; i < x.size; i++) x.data[i] = 2 * rng.nextFloat() - 1;
  return { x, labels: Int32Array.from([0, 1, 2, 0, 1, 2]) };
}

describe('trainStep', () => {
  it('lowers the loss over a few steps on a fixed batch', async () => {
    const model = net();
    const { x, labels } = batch();
    const loss = new CrossEntropyLoss();
    const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const first = await trainStep(model, loss, opt, x, labels);
    let last = first;
    for (let i = 0; i < 10; i++) last = await trainStep(model, loss, opt, x, labels);
    assert.ok(last.loss < first.loss * 0.5, `loss ${first.loss} → ${last.loss}`);
    assert.deepEqual(last.logits.shape, [6, 3]);
  });

  it('releases every saved activation after the step', async () => {
    const model = net();
    const { x, labels } = batch();
    await trainStep(model, new CrossEntropyLoss(), new SGD(model.parameters(), { lr: 0.1 }), x, labels);
    await assert.rejects(model.at(4).backward(new Tensor([6, 3])), { code: 'E_SHAPE' });
    await assert.rejects(model.at(0).backward(new Tensor([6, 4, 4, 4])), { code: 'E_SHAPE' });
  });

  it('releases activations and rethrows when the labels are bad', async () => {
    const model = net();
    const { x } = batch();
    const opt = new SGD(model.parameters(), { lr: 0.1 });
    await assert.rejects(trainStep(model, new CrossEntropyLoss(), opt, x, [0, 1]), { code: 'E_SHAPE' });
    await assert.rejects(model.at(0).backward(new Tensor([6, 4, 4, 4])), {
      message: 'Conv2d: backward called before forward',
    });
  });
});

describe('predict and evaluate', () => {
  it('run in eval mode, restore the previous mode and keep nothing', async () => {
    const model = net();
    const { x, labels } = batch();
    model.train();
    const bn = model.at(1) as BatchNorm2d;
    const logits = await predict(model, x);
    assert.equal(model.training, true);
    assert.equal(bn.numBatchesTracked[0], 0n, 'eval must not touch running stats');
    await assert.rejects(model.at(4).backward(new Tensor([6, 3])), { code: 'E_SHAPE' });
    const r = await evaluate(model, new CrossEntropyLoss(), x, labels);
    assert.deepEqual(r.logits.data, logits.data);
    const pred = argmaxRows(logits);
    assert.equal(r.correct, pred.filter((p, i) => p === labels[i]).length);
    model.eval();
    await predict(model, x);
    assert.equal(model.training, false);
  });
});
