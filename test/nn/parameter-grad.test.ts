// Parameter gradients are cleared lazily (zeroGrad marks them; the first gradient afterwards overwrites
// the buffer, a conv or linear weight gradient is even written straight into it): every read must still
// see exactly what eager zeroing and adding would give — after zeroGrad, after one backward, after two
// backwards without zeroGrad in between (accumulation), and with a parameter no backward touched.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels } from '../../src/kernels/index.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { Flatten } from '../../src/nn/flatten.js';
import { enableBufferReuse } from '../../src/nn/layer.js';
import { Linear } from '../../src/nn/linear.js';
import { Parameter } from '../../src/nn/module.js';
import { Sequential } from '../../src/nn/sequential.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertIdentical } from '../kernels/helpers.js';

function net(): Sequential {
  const rng = new SeededRng(5);
  return new Sequential(
    new Conv2d(2, 3, 3, { padding: 1, rng }),
    new Flatten(),
    new Linear(3 * 4 * 4, 4, { rng }),
  );
}

function input(seed: number): Tensor {
  const rng = new SeededRng(seed);
  const x = new Tensor([2, 2, 4, 4]);
  for (let i = 0; i < x.size; i++) x.data[i] = 2 * rng.nextFloat() - 1;
  return x;
}

async function backward(model: Sequential, x: Tensor): Promise<void> {
  const loss = new CrossEntropyLoss();
  await loss.forward(await model.forward(x), Int32Array.of(1, 3));
  await model.backward(await loss.backward());
}

function grads(model: Sequential): Float32Array[] {
  return model.parameters().map((p) => p.grad.slice());
}

describe('parameter gradients (lazy zeroGrad)', () => {
  it('reads zeros after zeroGrad, overwrites on the first add, accumulates on the next', () => {
    const p = new Parameter(new Tensor([3]));
    p.addGrad(Float32Array.of(1, 2, 3), kernels);
    p.addGrad(Float32Array.of(1, 1, 1), kernels);
    assert.deepEqual([...p.grad], [2, 3, 4]);
    p.zeroGrad();
    assert.ok(p.freshGradTarget() !== undefined);
    p.addGrad(Float32Array.of(5, 6, 7), kernels);
    assert.equal(p.freshGradTarget(), undefined, 'no fresh target once something was added');
    p.addGrad(Float32Array.of(1, 1, 1), kernels);
    assert.deepEqual([...p.grad], [6, 7, 8]);
    p.zeroGrad();
    assert.deepEqual([...p.grad], [0, 0, 0], 'a read after zeroGrad sees zeros');
    p.addGrad(Float32Array.of(1, 1, 1), kernels);
    assert.deepEqual([...p.grad], [1, 1, 1]);
    // A product written into the fresh target, then handed back.
    p.zeroGrad();
    const t = p.freshGradTarget()!;
    assert.deepEqual(t.shape, [3]);
    t.data.set([9, 8, 7]);
    p.addGrad(t.data, kernels);
    assert.deepEqual([...p.grad], [9, 8, 7]);
    assert.throws(() => p.addGrad(t.data, kernels), /written twice/);
  });

  it('with buffers reused, one backward and two accumulated backwards equal eager zeroing and adding', async () => {
    const reused = net();
    enableBufferReuse(reused);
    const eager = net();
    const [x1, x2] = [input(1), input(2)];
    // Garbage in the gradients first: zeroGrad must hide it.
    for (const p of reused.parameters()) p.grad.fill(123);
    for (const m of [reused, eager]) for (const p of m.parameters()) p.zeroGrad();
    // Eager: reading grad clears the buffer now, so every gradient is then added into zeros.
    for (const p of eager.parameters()) assert.ok(p.grad.every((v) => v === 0));
    await backward(reused, x1);
    await backward(eager, x1);
    const one = grads(eager);
    for (const [i, g] of grads(reused).entries()) assertIdentical(g, one[i]!, `one backward, parameter ${i}`);
    assert.ok(
      one.every((g) => g.some((v) => v !== 0)),
      'every parameter got a gradient',
    );
    await backward(reused, x2);
    await backward(eager, x2);
    const two = grads(eager);
    for (const [i, g] of grads(reused).entries())
      assertIdentical(g, two[i]!, `two backwards, parameter ${i}`);
    assert.ok(
      two.some((g, i) => g.some((v, j) => v !== one[i]![j])),
      'the second backward added',
    );
  });
});
