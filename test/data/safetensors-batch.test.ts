import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DataLoader } from '../../src/data/data-loader.js';
import { defaultTransforms } from '../../src/data/default-transforms.js';
import { RandomHorizontalFlip } from '../../src/data/random-horizontal-flip.js';
import { SafetensorsBatchDataset } from '../../src/data/safetensors-batch.js';
import { isTeeError } from '../../src/errors.js';
import { fromBigInt64, fromFloat32, fromInt32, type SafeTensor } from '../../src/io/safe-tensor.js';
import { writeSafetensorsFile } from '../../src/io/safetensors.js';
import { tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());

const N = 5;
const input = Float32Array.from({ length: N * 2 * 3 * 3 }, (_, i) => i * 0.5 - 7);
const labels = BigInt64Array.from([2n, 0n, 1n, 2n, 1n]);

function write(name: string, tensors: [string, SafeTensor][], metadata: Record<string, string> = {}): string {
  const p = join(tmp.path, name);
  writeSafetensorsFile(p, tensors, metadata);
  return p;
}

const good = write('good.safetensors', [
  ['input', fromFloat32([N, 2, 3, 3], input)],
  ['labels', fromBigInt64([N], labels)],
]);

test('a batch file is read as stored: shape from `input`, labels from `labels`, values untouched', () => {
  const ds = new SafetensorsBatchDataset(good);
  assert.deepEqual([ds.length, ds.channels, ds.height, ds.width, ds.numClasses], [5, 2, 3, 3, 3]);
  assert.equal(ds.asGiven, true);
  const s = ds.get(3);
  assert.equal(s.label, 2);
  assert.deepEqual(s.image, input.subarray(3 * 18, 4 * 18));
});

test('a batch file is served in file order, without shuffle or transform', () => {
  const ds = new SafetensorsBatchDataset(good);
  assert.equal(defaultTransforms(ds, { augment: true, imageSize: 224 }), undefined);
  const dl = new DataLoader(ds, { batchSize: 2, seed: 123 });
  assert.equal(dl.shuffle, false);
  const batches = [...dl.epochBatches()];
  assert.deepEqual(
    batches.map((b) => [...b.indices]),
    [[0, 1], [2, 3], [4]],
  );
  assert.deepEqual(batches[1]!.input.data, input.subarray(2 * 18, 4 * 18));
  assert.deepEqual([...batches[1]!.labels], [1, 2]);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, shuffle: true }), TypeError);
  assert.throws(() => new DataLoader(ds, { batchSize: 2, transform: new RandomHorizontalFlip() }), TypeError);
});

test('num_classes comes from the option, else the metadata, else the largest label', () => {
  const withMeta = write(
    'meta.safetensors',
    [
      ['input', fromFloat32([N, 2, 3, 3], input)],
      ['labels', fromInt32([N], Int32Array.from([2, 0, 1, 2, 1]))],
    ],
    { num_classes: '10' },
  );
  assert.equal(new SafetensorsBatchDataset(withMeta).numClasses, 10);
  assert.equal(new SafetensorsBatchDataset(withMeta, { numClasses: 4 }).numClasses, 4);
});

test('a batch file without `input` or `labels` is rejected (E_FORMAT)', () => {
  const p = write('nolabels.safetensors', [['input', fromFloat32([N, 2, 3, 3], input)]]);
  assert.throws(
    () => new SafetensorsBatchDataset(p),
    (e) => isTeeError(e, 'E_FORMAT') && /needs tensors "input" and "labels" \(found: input\)/.test(e.message),
  );
});

test('an `input` that is not [N,C,H,W] floats is rejected (E_FORMAT)', () => {
  const flat = write('flat.safetensors', [
    ['input', fromFloat32([N, 18], input)],
    ['labels', fromBigInt64([N], labels)],
  ]);
  assert.throws(
    () => new SafetensorsBatchDataset(flat),
    (e) => isTeeError(e, 'E_FORMAT') && /must be \[N,C,H,W\]/.test(e.message),
  );
  const ints = write('ints.safetensors', [
    ['input', fromInt32([N, 2, 3, 3], new Int32Array(N * 18))],
    ['labels', fromBigInt64([N], labels)],
  ]);
  assert.throws(
    () => new SafetensorsBatchDataset(ints),
    (e) => isTeeError(e, 'E_FORMAT') && /float tensor, got I32/.test(e.message),
  );
});

test('inconsistent counts between inputs and labels are rejected (E_FORMAT)', () => {
  const p = write('counts.safetensors', [
    ['input', fromFloat32([N, 2, 3, 3], input)],
    ['labels', fromBigInt64([4], labels.subarray(0, 4))],
  ]);
  assert.throws(
    () => new SafetensorsBatchDataset(p),
    (e) => isTeeError(e, 'E_FORMAT') && /inconsistent counts: 5 inputs but 4 labels/.test(e.message),
  );
});

test('a negative label or one outside num_classes is rejected (E_FORMAT)', () => {
  const neg = write('neg.safetensors', [
    ['input', fromFloat32([N, 2, 3, 3], input)],
    ['labels', fromBigInt64([N], BigInt64Array.from([0n, 1n, -1n, 0n, 0n]))],
  ]);
  assert.throws(
    () => new SafetensorsBatchDataset(neg),
    (e) => isTeeError(e, 'E_FORMAT') && /label -1 at index 2/.test(e.message),
  );
  assert.throws(
    () => new SafetensorsBatchDataset(good, { numClasses: 2 }),
    (e) => isTeeError(e, 'E_FORMAT') && /label 2 at index 0 is outside 0\.\.1/.test(e.message),
  );
  const huge = write('huge.safetensors', [
    ['input', fromFloat32([N, 2, 3, 3], input)],
    ['labels', fromBigInt64([N], BigInt64Array.from([0n, 1n, 1n << 40n, 0n, 0n]))],
  ]);
  assert.throws(
    () => new SafetensorsBatchDataset(huge),
    (e) => isTeeError(e, 'E_FORMAT'),
  );
});
