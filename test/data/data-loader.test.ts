import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Batch, DataLoader } from '../../src/data/data-loader.js';
import { defaultTransforms } from '../../src/data/default-transforms.js';
import { RandomCrop } from '../../src/data/random-crop.js';
import { RandomHorizontalFlip } from '../../src/data/random-horizontal-flip.js';
import { SyntheticDataset } from '../../src/data/synthetic.js';
import { Compose } from '../../src/data/transform.js';
import { isTeeError } from '../../src/errors.js';

const ds = new SyntheticDataset({ length: 23, channels: 2, height: 6, width: 6, numClasses: 4, seed: 5 });
const augment = (): Compose => new Compose([new RandomCrop(6, 2), new RandomHorizontalFlip()]);

function epochIndices(dl: DataLoader): number[] {
  return [...dl.epochBatches()].flatMap((b) => [...b.indices]);
}

function snapshot(b: Batch): {
  input: number[];
  labels: number[];
  indices: number[];
  shape: readonly number[];
} {
  return { input: [...b.input.data], labels: [...b.labels], indices: [...b.indices], shape: b.input.shape };
}

test('an epoch visits every sample once in batches of batchSize, the last one short', () => {
  const dl = new DataLoader(ds, { batchSize: 5, seed: 1 });
  assert.equal(dl.batchesPerEpoch, 5);
  const batches = [...dl.epochBatches()];
  assert.deepEqual(
    batches.map((b) => b.input.shape),
    [...Array(4).fill([5, 2, 6, 6]), [3, 2, 6, 6]],
  );
  const seen = batches.flatMap((b) => [...b.indices]).sort((a, b) => a - b);
  assert.deepEqual(seen, [...Array(23).keys()]);
  assert.equal(dl.epoch, 1);
  assert.equal(dl.position, 0);
});

test('each batch holds the samples and labels of its indices', () => {
  const dl = new DataLoader(ds, { batchSize: 4, seed: 2 });
  const b = dl.next()!;
  b.indices.forEach((i, k) => {
    const s = ds.get(i);
    assert.equal(b.labels[k], s.label);
    assert.deepEqual(b.input.data.subarray(k * 72, (k + 1) * 72), s.image);
  });
});

test('dropLast leaves out the short batch', () => {
  const dl = new DataLoader(ds, { batchSize: 5, dropLast: true });
  assert.equal(dl.batchesPerEpoch, 4);
  const batches = [...dl.epochBatches()];
  assert.equal(batches.length, 4);
  assert.ok(batches.every((b) => b.labels.length === 5));
});

test('shuffling is deterministic by seed, different across epochs and across seeds', () => {
  const a = new DataLoader(ds, { batchSize: 4, seed: 9 });
  const b = new DataLoader(ds, { batchSize: 4, seed: 9 });
  const c = new DataLoader(ds, { batchSize: 4, seed: 10 });
  const a0 = epochIndices(a);
  const a1 = epochIndices(a);
  assert.deepEqual(epochIndices(b), a0);
  assert.deepEqual(epochIndices(b), a1);
  assert.notDeepEqual(a1, a0);
  assert.notDeepEqual(epochIndices(c), a0);
  assert.notDeepEqual(a0, [...Array(23).keys()]);
});

test('without shuffling every epoch keeps dataset order', () => {
  const dl = new DataLoader(ds, { batchSize: 7, shuffle: false });
  assert.deepEqual(epochIndices(dl), [...Array(23).keys()]);
  assert.deepEqual(epochIndices(dl), [...Array(23).keys()]);
});

test('next() returns null once at the end of an epoch and moves to the next epoch', () => {
  const dl = new DataLoader(ds, { batchSize: 20 });
  assert.ok(dl.next());
  assert.ok(dl.next());
  assert.deepEqual([dl.epoch, dl.position], [0, 2]);
  assert.equal(dl.next(), null);
  assert.deepEqual([dl.epoch, dl.position], [1, 0]);
  assert.ok(dl.next());
});

test('augmented batches are reproducible from the same seed', () => {
  const run = (): number[][] => {
    const dl = new DataLoader(ds, { batchSize: 6, seed: 4, transform: augment() });
    return [...dl.epochBatches()].map((b) => [...b.input.data]);
  };
  assert.deepEqual(run(), run());
});

test('restoring a state saved mid-epoch yields the identical remaining batch sequence, across epochs', () => {
  const opts = { batchSize: 4, seed: 77, transform: augment() };
  const reference = new DataLoader(ds, opts);
  reference.next();
  reference.next();
  const saved = JSON.parse(JSON.stringify(reference.state()));
  const expected: ReturnType<typeof snapshot>[] = [];
  for (let k = 0; k < 12; k++) {
    const b = reference.next();
    if (b) expected.push(snapshot(b));
  }
  const resumed = new DataLoader(ds, { ...opts, seed: 0, transform: augment() });
  resumed.next(); // consumes its own randomness first: restore must overwrite all of it
  resumed.restore(saved);
  assert.deepEqual([resumed.epoch, resumed.position, resumed.seed], [0, 2, 77]);
  const got: ReturnType<typeof snapshot>[] = [];
  for (let k = 0; k < 12; k++) {
    const b = resumed.next();
    if (b) got.push(snapshot(b));
  }
  assert.equal(got.length, expected.length);
  assert.deepEqual(got, expected);
  assert.deepEqual(resumed.state(), reference.state());
});

test('a state saved at the very end of an epoch resumes with the next epoch', () => {
  const dl = new DataLoader(ds, { batchSize: 10, seed: 3 });
  for (let k = 0; k < 3; k++) dl.next();
  const s = dl.state();
  assert.equal(s.position, 3);
  const fresh = new DataLoader(ds, { batchSize: 10, seed: 3 });
  epochIndices(fresh);
  const expected = epochIndices(fresh);
  const again = new DataLoader(ds, { batchSize: 10, seed: 3 });
  again.restore(s);
  assert.equal(again.next(), null);
  assert.equal(again.epoch, 1);
  assert.deepEqual(epochIndices(again), expected);
});

test('a state from another setup or a malformed state is refused (E_STATE)', () => {
  const dl = new DataLoader(ds, { batchSize: 4 });
  const s = dl.state();
  const other = new DataLoader(ds, { batchSize: 5 });
  assert.throws(
    () => other.restore(s),
    (e) => isTeeError(e, 'E_STATE') && /batchSize 4 vs 5/.test(e.message),
  );
  const small = new DataLoader(new SyntheticDataset({ length: 3 }), { batchSize: 4 });
  assert.throws(
    () => small.restore(s),
    (e) => isTeeError(e, 'E_STATE') && /length 23 vs 3/.test(e.message),
  );
  assert.throws(
    () => dl.restore({ ...s, position: 99 }),
    (e) => isTeeError(e, 'E_STATE'),
  );
  assert.throws(
    () => dl.restore({ ...s, epoch: -1 }),
    (e) => isTeeError(e, 'E_STATE'),
  );
  assert.throws(
    () => dl.restore({ ...s, augmentRng: [1, 2, 3] }),
    (e) => isTeeError(e, 'E_STATE'),
  );
  assert.throws(
    () => dl.restore({ ...s, augmentRng: [0, 0, 0, 0] }),
    (e) => isTeeError(e, 'E_STATE'),
  );
});

test('bad loader options are RangeErrors', () => {
  assert.throws(() => new DataLoader(ds, { batchSize: 0 }), RangeError);
  assert.throws(() => new DataLoader(ds, { batchSize: 1.5 }), RangeError);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, seed: 0.5 }), RangeError);
});

test('the loader reports the shape after the transform', () => {
  const t = defaultTransforms(ds, { imageSize: 8 });
  const dl = new DataLoader(ds, { batchSize: 3, transform: t });
  assert.deepEqual(dl.sampleShape, { c: 2, h: 8, w: 8 });
  assert.deepEqual(dl.next()!.input.shape, [3, 2, 8, 8]);
});

test('reuseBuffers gives the same batches, written into one buffer', () => {
  const fresh = new DataLoader(ds, { batchSize: 5, seed: 8, transform: augment() });
  const reused = new DataLoader(ds, { batchSize: 5, seed: 8, transform: augment(), reuseBuffers: true });
  const first = reused.next()!;
  assert.deepEqual(snapshot(first), snapshot(fresh.next()!));
  for (const b of reused.epochBatches()) {
    assert.equal(b.input.data.buffer, first.input.data.buffer);
    assert.deepEqual(snapshot(b), snapshot(fresh.next()!));
  }
});
