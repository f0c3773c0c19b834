import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openCifar10 } from '../../src/data/cifar10.js';
import { DataLoader } from '../../src/data/data-loader.js';
import { defaultTransforms } from '../../src/data/default-transforms.js';
import { CIFAR10_NORMALIZATION } from '../../src/data/normalize.js';
import { SyntheticDataset } from '../../src/data/synthetic.js';
import type { Compose } from '../../src/data/transform.js';
import { cifarFileSet, tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());
mkdirSync(join(tmp.path, 'c'));
for (const f of cifarFileSet(4)) writeFileSync(join(tmp.path, 'c', f.name), f.data);
const cifar = openCifar10(join(tmp.path, 'c'));

const names = (t: unknown): string[] => (t as Compose).transforms.map((s) => s.name);

test('CIFAR-10 gets crop, flip, normalize and resize in that order', () => {
  assert.deepEqual(names(defaultTransforms(cifar, { imageSize: 224 })), [
    'RandomCrop(32, padding=4)',
    'RandomHorizontalFlip(p=0.5)',
    'Normalize',
    'Resize(224x224)',
  ]);
  assert.deepEqual(names(defaultTransforms(cifar, { augment: false })), ['Normalize']);
  assert.equal(defaultTransforms(cifar, { augment: false, normalize: false, imageSize: 32 }), undefined);
});

test('synthetic data is never augmented and has no normalisation constants', () => {
  const ds = new SyntheticDataset({ length: 4 });
  assert.equal(defaultTransforms(ds), undefined);
  assert.deepEqual(names(defaultTransforms(ds, { imageSize: 64 })), ['Resize(64x64)']);
});

test('without augmentation CIFAR-10 batches are the normalised pixels', () => {
  const dl = new DataLoader(cifar, {
    batchSize: 2,
    shuffle: false,
    transform: defaultTransforms(cifar, { augment: false }),
  });
  const b = dl.next()!;
  const raw = cifar.get(1).image;
  for (const j of [0, 1500, 3071]) {
    const c = Math.floor(j / 1024);
    const expected = Math.fround((raw[j]! - CIFAR10_NORMALIZATION.mean[c]!) / CIFAR10_NORMALIZATION.std[c]!);
    assert.equal(b.input.data[3072 + j], expected);
  }
});

test('augmented CIFAR-10 batches at 224 are reproducible from the seed and vary across epochs', () => {
  const make = (): DataLoader =>
    new DataLoader(cifar, { batchSize: 8, seed: 6, transform: defaultTransforms(cifar, { imageSize: 224 }) });
  const a = make();
  const b = make();
  const a0 = a.next()!;
  assert.deepEqual(a0.input.shape, [8, 3, 224, 224]);
  assert.deepEqual(b.next()!.input.data, a0.input.data);
  [...a.epochBatches()];
  [...b.epochBatches()];
  assert.notDeepEqual(a.next()!.input.data, a0.input.data);
});
