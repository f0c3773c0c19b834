// Shapes that do not fit a layer fail with TeeError E_SHAPE and an exact message, before any work.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AdaptiveAvgPool2d } from '../../src/nn/adaptive-avg-pool.js';
import { BatchNorm2d } from '../../src/nn/batch-norm.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { Dropout } from '../../src/nn/dropout.js';
import { Flatten } from '../../src/nn/flatten.js';
import { Linear } from '../../src/nn/linear.js';
import { MaxPool2d } from '../../src/nn/max-pool.js';
import { ReLU } from '../../src/nn/relu.js';
import { Sequential } from '../../src/nn/sequential.js';
import { Tensor } from '../../src/tensor/tensor.js';

function shapeError(message: string): { name: string; code: string; message: string } {
  return { name: 'TeeError', code: 'E_SHAPE', message };
}

const t = (...shape: number[]): Tensor => new Tensor(shape);

describe('shape errors (E_SHAPE)', () => {
  it('Conv2d rejects an input of the wrong rank', async () => {
    await assert.rejects(
      new Conv2d(3, 4, 3).forward(t(3, 8, 8)),
      shapeError('Conv2d: expected input [N,3,H,W], got [3,8,8]'),
    );
  });

  it('Conv2d rejects an input with the wrong number of channels', async () => {
    await assert.rejects(
      new Conv2d(3, 4, 3).forward(t(2, 5, 8, 8)),
      shapeError('Conv2d: expected input [N,3,H,W], got [2,5,8,8]'),
    );
  });

  it('Conv2d rejects an input smaller than its kernel', async () => {
    await assert.rejects(
      new Conv2d(3, 4, 5, { padding: 1 }).forward(t(1, 3, 2, 9)),
      shapeError('Conv2d: input [1,3,2,9] is smaller than kernel 5 with padding 1'),
    );
  });

  it('Conv2d rejects backward before forward', async () => {
    await assert.rejects(
      new Conv2d(3, 4, 3).backward(t(1, 4, 6, 6)),
      shapeError('Conv2d: backward called before forward'),
    );
  });

  it('Conv2d rejects a grad_output of the wrong shape', async () => {
    const c = new Conv2d(3, 4, 3);
    await c.forward(t(1, 3, 8, 8));
    await assert.rejects(
      c.backward(t(1, 4, 8, 8)),
      shapeError('Conv2d: grad_output [1,4,8,8] does not match output [1,4,6,6]'),
    );
  });

  it('Linear rejects the wrong in_features', async () => {
    await assert.rejects(
      new Linear(20, 7).forward(t(4, 21)),
      shapeError('Linear: expected input [N,20], got [4,21]'),
    );
  });

  it('Linear rejects a rank-4 input', async () => {
    await assert.rejects(
      new Linear(20, 7).forward(t(4, 20, 1, 1)),
      shapeError('Linear: expected input [N,20], got [4,20,1,1]'),
    );
  });

  it('Linear rejects backward twice (saved state is released)', async () => {
    const l = new Linear(2, 3);
    await l.forward(t(1, 2));
    await l.backward(t(1, 3));
    await assert.rejects(l.backward(t(1, 3)), shapeError('Linear: backward called before forward'));
  });

  it('BatchNorm2d rejects the wrong number of channels', async () => {
    await assert.rejects(
      new BatchNorm2d(4).forward(t(2, 3, 5, 5)),
      shapeError('BatchNorm2d: expected input [N,4,H,W], got [2,3,5,5]'),
    );
  });

  it('BatchNorm2d rejects one value per channel in training', async () => {
    await assert.rejects(
      new BatchNorm2d(3).forward(t(1, 3, 1, 1)),
      shapeError('BatchNorm2d: expected more than 1 value per channel when training, got input [1,3,1,1]'),
    );
  });

  it('MaxPool2d rejects an input smaller than its window', async () => {
    await assert.rejects(
      new MaxPool2d(3, { stride: 2 }).forward(t(1, 1, 2, 2)),
      shapeError('MaxPool2d: input [1,1,2,2] is smaller than kernel 3 with padding 0'),
    );
  });

  it('MaxPool2d rejects a rank-3 input', async () => {
    await assert.rejects(
      new MaxPool2d(2).forward(t(1, 4, 4)),
      shapeError('MaxPool2d: expected input [N,C,H,W], got [1,4,4]'),
    );
  });

  it('AdaptiveAvgPool2d rejects a rank-2 input', async () => {
    await assert.rejects(
      new AdaptiveAvgPool2d(7).forward(t(2, 512)),
      shapeError('AdaptiveAvgPool2d: expected input [N,C,H,W], got [2,512]'),
    );
  });

  it('AdaptiveAvgPool2d rejects a grad_output of the wrong shape', async () => {
    const p = new AdaptiveAvgPool2d([2, 3]);
    await p.forward(t(1, 2, 4, 4));
    await assert.rejects(
      p.backward(t(1, 2, 3, 2)),
      shapeError('AdaptiveAvgPool2d: grad_output [1,2,3,2] does not match output [1,2,2,3]'),
    );
  });

  it('Flatten rejects a rank-1 input', async () => {
    await assert.rejects(new Flatten().forward(t(5)), shapeError('Flatten: expected input [N,*], got [5]'));
  });

  it('ReLU and Dropout reject backward before forward', async () => {
    await assert.rejects(new ReLU().backward(t(2)), shapeError('ReLU: backward called before forward'));
    await assert.rejects(
      new Dropout(0.5).backward(t(2)),
      shapeError('Dropout: backward called before forward'),
    );
  });

  it('CrossEntropyLoss rejects a label count that does not match the batch', async () => {
    await assert.rejects(
      new CrossEntropyLoss().forward(t(4, 10), [1, 2, 3]),
      shapeError('CrossEntropyLoss: expected 4 labels for logits [4,10], got 3'),
    );
  });

  it('CrossEntropyLoss rejects rank-1 logits', async () => {
    await assert.rejects(
      new CrossEntropyLoss().forward(t(10), [1]),
      shapeError('CrossEntropyLoss: expected logits [N,K] with N, K ≥ 1, got [10]'),
    );
  });

  it('CrossEntropyLoss rejects a label out of range (RangeError)', async () => {
    await assert.rejects(new CrossEntropyLoss().forward(t(2, 3), [0, 3]), {
      name: 'RangeError',
      message: 'CrossEntropyLoss: label 3 at index 1 is outside [0, 3)',
    });
  });

  it('Sequential passes the first failing layer’s error through', async () => {
    const s = new Sequential(new Conv2d(3, 8, 3), new ReLU(), new Flatten(), new Linear(10, 2));
    await assert.rejects(s.forward(t(1, 3, 5, 5)), shapeError('Linear: expected input [N,10], got [1,72]'));
  });

  it('constructors reject bad hyper-parameters (RangeError)', () => {
    assert.throws(() => new Conv2d(3, 0, 3), {
      name: 'RangeError',
      message: 'Conv2d out_channels must be a positive integer, got 0',
    });
    assert.throws(() => new Dropout(1.5), {
      name: 'RangeError',
      message: 'Dropout probability must be in [0, 1], got 1.5',
    });
    assert.throws(() => new MaxPool2d(2, { padding: 2 }), {
      name: 'RangeError',
      message: 'MaxPool2d padding must be at most half the kernel size, got 2 for 2',
    });
  });
});
