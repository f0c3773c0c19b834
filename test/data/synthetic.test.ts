import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataLoader } from '../../src/data/data-loader.js';
import { SyntheticDataset } from '../../src/data/synthetic.js';

test('synthetic samples are a pure function of (seed, index), in [0,1], with labels below K', () => {
  const a = new SyntheticDataset({ length: 50, seed: 3 });
  const b = new SyntheticDataset({ length: 50, seed: 3 });
  const c = new SyntheticDataset({ length: 50, seed: 4 });
  assert.deepEqual([a.channels, a.height, a.width, a.numClasses], [3, 32, 32, 10]);
  assert.deepEqual(a.get(17), b.get(17));
  assert.deepEqual(a.get(17), a.get(17));
  assert.notDeepEqual(a.get(17).image, c.get(17).image);
  const labels = new Set<number>();
  for (let i = 0; i < 50; i++) {
    const s = a.get(i);
    labels.add(s.label);
    assert.ok(s.label >= 0 && s.label < 10);
    assert.ok(s.image.every((v) => v >= 0 && v <= 1));
  }
  assert.ok(labels.size >= 8, `only ${labels.size} classes drawn`);
});

test('a few gradient steps of softmax regression on synthetic data reduce the loss', () => {
  const K = 4;
  const ds = new SyntheticDataset({ length: 64, channels: 1, height: 8, width: 8, numClasses: K, seed: 1 });
  const D = 64;
  const w = new Float64Array(K * D);
  const dl = new DataLoader(ds, { batchSize: 64, shuffle: false });
  const batch = dl.next()!;
  const x = batch.input.data;
  const lossAndStep = (lr: number): number => {
    const grad = new Float64Array(K * D);
    let loss = 0;
    for (let n = 0; n < 64; n++) {
      const logits = Array.from({ length: K }, (_, k) => {
        let s = 0;
        for (let d = 0; d < D; d++) s += w[k * D + d]! * (x[n * D + d]! - 0.5);
        return s;
      });
      const m = Math.max(...logits);
      const e = logits.map((l) => Math.exp(l - m));
      const z = e.reduce((p, q) => p + q, 0);
      loss -= Math.log(e[batch.labels[n]!]! / z);
      for (let k = 0; k < K; k++) {
        const g = e[k]! / z - (k === batch.labels[n] ? 1 : 0);
        for (let d = 0; d < D; d++) grad[k * D + d]! += (g * (x[n * D + d]! - 0.5)) / 64;
      }
    }
    for (let i = 0; i < w.length; i++) w[i]! -= lr * grad[i]!;
    return loss / 64;
  };
  const first = lossAndStep(0.5);
  let last = first;
  for (let step = 0; step < 5; step++) last = lossAndStep(0.5);
  assert.ok(Math.abs(first - Math.log(K)) < 1e-9, `initial loss ${first} is log K`);
  assert.ok(last < 0.5 * first, `loss went from ${first} to ${last}`);
});

test('bad synthetic sizes are RangeErrors', () => {
  assert.throws(() => new SyntheticDataset({ numClasses: 0 }), RangeError);
  assert.throws(() => new SyntheticDataset({ height: 2.5 }), RangeError);
  assert.throws(() => new SyntheticDataset({ noise: -1 }), RangeError);
});
