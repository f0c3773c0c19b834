import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FASHION_MNIST_DIR, FashionMnistDataset, openFashionMnist } from '../../src/data/fashion-mnist.js';
import { parseIdx } from '../../src/data/idx.js';
import { isTeeError } from '../../src/errors.js';
import { gzip, idxBytes, tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());

const pixels = (n: number, h: number, w: number): Uint8Array =>
  Uint8Array.from({ length: n * h * w }, (_, k) => (k * 13) & 0xff);

function writeSplit(dir: string, prefix: string, labels: number[], compress: boolean, h = 28, w = 28): void {
  mkdirSync(dir, { recursive: true });
  const n = labels.length;
  const img = idxBytes([n, h, w], pixels(n, h, w));
  const lab = idxBytes([n], Uint8Array.from(labels));
  const ext = compress ? '.gz' : '';
  writeFileSync(join(dir, `${prefix}-images-idx3-ubyte${ext}`), compress ? gzip(img) : img);
  writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte${ext}`), compress ? gzip(lab) : lab);
}

const gzDir = join(tmp.path, 'gz');
writeSplit(gzDir, 'train', [3, 1, 4, 1, 5], true);
writeSplit(gzDir, 't10k', [9, 2], true);
const raw = join(tmp.path, 'raw');
writeSplit(raw, 'train', [0, 7, 8], false, 4, 6);

test('reads gzip-compressed IDX files from a directory, pixels as byte/255', () => {
  const ds = openFashionMnist(gzDir, 'train');
  assert.deepEqual([ds.length, ds.channels, ds.height, ds.width, ds.numClasses], [5, 1, 28, 28, 10]);
  const s = ds.get(2);
  assert.equal(s.label, 4);
  assert.equal(s.image.length, 784);
  assert.equal(s.image[5], Math.fround((((2 * 784 + 5) * 13) & 0xff) / 255));
  assert.equal(openFashionMnist(gzDir, 'test').get(1).label, 2);
});

test('reads raw IDX files and takes the image size from the header', () => {
  const ds = openFashionMnist(raw, 'train');
  assert.deepEqual([ds.length, ds.height, ds.width], [3, 4, 6]);
  assert.equal(ds.get(1).label, 7);
});

test('opens a split from its images file, finding the labels file beside it', () => {
  const ds = openFashionMnist(join(gzDir, 't10k-images-idx3-ubyte.gz'));
  assert.equal(ds.length, 2);
  assert.equal(ds.get(0).label, 9);
});

test('replicates the gray plane into 3 channels when asked, with replicated normalisation constants', () => {
  const one = openFashionMnist(gzDir, 'train');
  const three = openFashionMnist(gzDir, 'train', { channels: 3 });
  assert.equal(three.channels, 3);
  const a = one.get(4).image;
  const b = three.get(4).image;
  assert.equal(b.length, 3 * 784);
  for (let c = 0; c < 3; c++) assert.deepEqual(b.subarray(c * 784, (c + 1) * 784), a);
  assert.deepEqual(three.normalization?.mean, [0.286, 0.286, 0.286]);
});

test('an images file with the labels magic is rejected as a wrong magic (E_FORMAT)', () => {
  assert.throws(
    () => parseIdx(idxBytes([2], new Uint8Array(2)), 3, 'x'),
    (e) => isTeeError(e, 'E_FORMAT') && /wrong magic 0x00000801, expected 0x00000803/.test(e.message),
  );
  assert.throws(
    () => parseIdx(idxBytes([2, 1, 1], new Uint8Array(2), 0x00000d03), 3, 'x'),
    (e) => isTeeError(e, 'E_FORMAT') && /wrong magic 0x00000d03/.test(e.message),
  );
});

test('a truncated IDX header or data section is rejected (E_FORMAT)', () => {
  assert.throws(
    () => parseIdx(new Uint8Array([0, 0, 8]), 1, 'x'),
    (e) => isTeeError(e, 'E_FORMAT') && /truncated IDX header/.test(e.message),
  );
  assert.throws(
    () => parseIdx(idxBytes([2, 2, 2], new Uint8Array(8)).subarray(0, 10), 3, 'x'),
    (e) => isTeeError(e, 'E_FORMAT') && /truncated IDX header/.test(e.message),
  );
  assert.throws(
    () => parseIdx(idxBytes([2, 2, 2], new Uint8Array(7)), 3, 'x'),
    (e) =>
      isTeeError(e, 'E_FORMAT') &&
      /truncated file: dims \[2,2,2\] need 8 bytes of data, found 7/.test(e.message),
  );
});

test('bytes after the declared data are rejected (E_FORMAT)', () => {
  assert.throws(
    () => parseIdx(idxBytes([3], new Uint8Array(5)), 1, 'x'),
    (e) => isTeeError(e, 'E_FORMAT') && /2 unexpected bytes/.test(e.message),
  );
});

test('images and labels files with different counts are rejected as inconsistent (E_FORMAT)', () => {
  const dir = join(tmp.path, 'mismatch');
  mkdirSync(dir);
  writeFileSync(join(dir, 'images'), idxBytes([3, 2, 2], new Uint8Array(12)));
  writeFileSync(join(dir, 'labels'), idxBytes([2], new Uint8Array(2)));
  assert.throws(
    () => new FashionMnistDataset(join(dir, 'images'), join(dir, 'labels')),
    (e) => isTeeError(e, 'E_FORMAT') && /inconsistent counts: .* 3 images but .* 2 labels/.test(e.message),
  );
});

test('a label above 9 is rejected with its index (E_FORMAT)', () => {
  const dir = join(tmp.path, 'badlabel');
  writeSplit(dir, 'train', [1, 2, 10], false, 2, 2);
  assert.throws(
    () => openFashionMnist(dir, 'train'),
    (e) => isTeeError(e, 'E_FORMAT') && /label 10 at index 2 is outside 0\.\.9/.test(e.message),
  );
});

test('a corrupt gzip stream is rejected (E_FORMAT)', () => {
  const dir = join(tmp.path, 'corrupt');
  writeSplit(dir, 'train', [1], true, 2, 2);
  const p = join(dir, 'train-images-idx3-ubyte.gz');
  const bytes = gzip(idxBytes([1, 2, 2], new Uint8Array(4)));
  writeFileSync(p, bytes.subarray(0, bytes.length - 6));
  assert.throws(
    () => openFashionMnist(dir),
    (e) => isTeeError(e, 'E_FORMAT') && /corrupt gzip/.test(e.message),
  );
});

test('a directory without the split files is E_IO naming the expected files', () => {
  assert.throws(
    () => openFashionMnist(raw, 'test'),
    (e) => isTeeError(e, 'E_IO') && /t10k-images-idx3-ubyte\[\.gz\]/.test(e.message),
  );
});

test("reads Debian's dataset-fashion-mnist files when installed", {
  skip: existsSync(join(FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')) ? false : 'not installed',
}, () => {
  const ds = openFashionMnist(FASHION_MNIST_DIR, 'test');
  assert.deepEqual([ds.length, ds.height, ds.width], [10000, 28, 28]);
  // The first test image is an ankle boot (class 9), the second a pullover (2).
  assert.equal(ds.get(0).label, 9);
  assert.equal(ds.get(1).label, 2);
});
