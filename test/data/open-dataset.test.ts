import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FASHION_MNIST_DIR } from '../../src/data/fashion-mnist.js';
import { openDataset } from '../../src/data/open-dataset.js';
import { isTeeError } from '../../src/errors.js';
import { fromBigInt64, fromFloat32 } from '../../src/io/safe-tensor.js';
import { writeSafetensorsFile } from '../../src/io/safetensors.js';
import { cifarFileSet, cifarRecords, gzip, idxBytes, tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());

const cifar = join(tmp.path, 'cifar');
mkdirSync(join(cifar, 'cifar-10-batches-bin'), { recursive: true });
for (const f of cifarFileSet(1)) writeFileSync(join(cifar, 'cifar-10-batches-bin', f.name), f.data);
const idx = join(tmp.path, 'idx');
mkdirSync(idx);
for (const [prefix, n] of [
  ['train', 3],
  ['t10k', 2],
] as const) {
  writeFileSync(
    join(idx, `${prefix}-images-idx3-ubyte.gz`),
    gzip(idxBytes([n, 28, 28], new Uint8Array(n * 784))),
  );
  writeFileSync(join(idx, `${prefix}-labels-idx1-ubyte.gz`), gzip(idxBytes([n], new Uint8Array(n))));
}
const batch = join(tmp.path, 'batch.safetensors');
writeSafetensorsFile(batch, [
  ['input', fromFloat32([2, 3, 4, 4], new Float32Array(96))],
  ['labels', fromBigInt64([2], BigInt64Array.from([1n, 0n]))],
]);
const single = join(tmp.path, 'one.bin');
writeFileSync(single, cifarRecords([4, 5, 6]));

test('synthetic and synthetic:N open the seeded synthetic set', () => {
  const a = openDataset('synthetic');
  assert.deepEqual([a.kind, a.length, a.channels, a.height, a.numClasses], ['synthetic', 256, 3, 32, 10]);
  const b = openDataset('synthetic:40', { numClasses: 3, synthetic: { height: 8, width: 8, seed: 2 } });
  assert.deepEqual([b.length, b.height, b.numClasses], [40, 8, 3]);
});

test('cifar10:DIR and a CIFAR-10 directory path open the requested split', () => {
  const train = openDataset(`cifar10:${cifar}`);
  assert.deepEqual([train.kind, train.name, train.length], ['cifar10', 'cifar10/train', 5]);
  assert.equal(openDataset(cifar, { split: 'test' }).length, 1);
  assert.equal(openDataset(join(cifar, 'cifar-10-batches-bin')).length, 5);
});

test('a single CIFAR-10 .bin file opens on its own', () => {
  const ds = openDataset(single);
  assert.equal(ds.length, 3);
  assert.equal(ds.get(2).label, 6);
});

test('an IDX directory, an images file and fashion-mnist:PATH open Fashion-MNIST', () => {
  assert.equal(openDataset(idx).length, 3);
  assert.equal(openDataset(idx, { split: 'test' }).length, 2);
  assert.equal(openDataset(join(idx, 't10k-images-idx3-ubyte.gz')).length, 2);
  const rgb = openDataset(`fashion-mnist:${idx}`, { channels: 3 });
  assert.deepEqual([rgb.kind, rgb.channels, rgb.height], ['fashion-mnist', 3, 28]);
});

test('a .safetensors path opens a batch file used as given', () => {
  const ds = openDataset(batch);
  assert.deepEqual([ds.kind, ds.asGiven, ds.length, ds.channels, ds.height], ['batch-file', true, 2, 3, 4]);
});

test("fashion-mnist alone opens Debian's installed copy", {
  skip: existsSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')) ? false : 'not installed',
}, () => {
  assert.equal(openDataset('fashion-mnist', { split: 'test' }).length, 10000);
});

test('malformed specs are E_USAGE, missing paths E_IO, unrecognised folders E_FORMAT', () => {
  for (const spec of ['', 'synthetic:0', 'synthetic:abc', 'cifar10', 'cifar10:']) {
    assert.throws(
      () => openDataset(spec),
      (e) => isTeeError(e, 'E_USAGE'),
      spec,
    );
  }
  assert.throws(
    () => openDataset(join(tmp.path, 'nope')),
    (e) => isTeeError(e, 'E_IO') && /does not exist/.test(e.message),
  );
  const other = join(tmp.path, 'other');
  mkdirSync(other);
  assert.throws(
    () => openDataset(other),
    (e) => isTeeError(e, 'E_FORMAT') && /no dataset recognised/.test(e.message),
  );
  writeFileSync(join(tmp.path, 'x.csv'), 'a,b');
  assert.throws(
    () => openDataset(join(tmp.path, 'x.csv')),
    (e) => isTeeError(e, 'E_USAGE'),
  );
});
