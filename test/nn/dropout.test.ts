// Dropout: masks reproducible by seed, kept elements scaled by 1/(1−p), identity in eval and at p = 0.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Dropout } from '../../src/nn/dropout.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';

const ones = (n: number): Tensor => new Tensor([n], new Float32Array(n).fill(1));

describe('Dropout', () => {
  it('draws the same mask from the same seed and a different one from another', async () => {
    const a = await new Dropout(0.5, { rng: new SeededRng(7) }).forward(ones(256));
    const b = await new Dropout(0.5, { rng: new SeededRng(7) }).forward(ones(256));
    const c = await new Dropout(0.5, { rng: new SeededRng(8) }).forward(ones(256));
    assert.deepEqual(a.data, b.data);
    assert.notDeepEqual(a.data, c.data);
  });

  it('zeroes about p of the elements and scales the rest by 1/(1−p)', async () => {
    const y = await new Dropout(0.25, { rng: new SeededRng(1) }).forward(ones(10000));
    let zeros = 0;
    for (const v of y.data) {
      if (v === 0) zeros++;
      else assert.equal(v, Math.fround(1 / 0.75));
    }
    assert.ok(Math.abs(zeros / 10000 - 0.25) < 0.02, `dropped ${zeros} of 10000`);
  });

  it('backward applies the same mask', async () => {
    const d = new Dropout(0.5, { rng: new SeededRng(3) });
    const x = new Tensor(
      [64],
      Float32Array.from({ length: 64 }, (_, i) => i + 1),
    );
    const y = await d.forward(x);
    const dx = await d.backward(ones(64));
    for (let i = 0; i < 64; i++) assert.equal(dx.data[i], y.data[i]! / x.data[i]!);
  });

  it('is the identity in eval mode (same tensor, gradient passed through)', async () => {
    const d = new Dropout(0.5).eval();
    const x = ones(8);
    assert.equal(await d.forward(x), x);
    const g = ones(8);
    assert.equal(await d.backward(g), g);
  });

  it('is the identity at p = 0 in training', async () => {
    const d = new Dropout(0);
    const x = ones(8);
    assert.equal(await d.forward(x), x);
  });

  it('zeroes everything at p = 1', async () => {
    const y = await new Dropout(1).forward(ones(16));
    assert.deepEqual([...y.data], new Array(16).fill(0));
  });
});
