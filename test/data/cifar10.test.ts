import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Cifar10Dataset, openCifar10 } from '../../src/data/cifar10.js';
import { isTeeError } from '../../src/errors.js';
import { cifarFileSet, cifarPixel, cifarRecords, tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());

function writeSet(dir: string, perFile: number): void {
  mkdirSync(dir, { recursive: true });
  for (const f of cifarFileSet(perFile)) writeFileSync(join(dir, f.name), f.data);
}

const flat = join(tmp.path, 'flat');
writeSet(flat, 3);
const nested = join(tmp.path, 'nested');
writeSet(join(nested, 'cifar-10-batches-bin'), 2);

test('reads the train split from data_batch_1..5.bin in file order, pixels as byte/255 in CHW planes', () => {
  const ds = openCifar10(flat, 'train');
  assert.equal(ds.length, 15);
  assert.deepEqual([ds.channels, ds.height, ds.width, ds.numClasses], [3, 32, 32, 10]);
  assert.equal(ds.name, 'cifar10/train');
  const s = ds.get(7);
  assert.equal(s.label, 7);
  assert.equal(s.image.length, 3072);
  for (const j of [0, 1, 1023, 1024, 2048, 3071])
    assert.equal(s.image[j], Math.fround(cifarPixel(7, j) / 255));
});

test('reads the test split from test_batch.bin', () => {
  const ds = openCifar10(flat, 'test');
  assert.equal(ds.length, 3);
  assert.equal(ds.get(0).label, 5);
  assert.equal(ds.get(2).image[10], Math.fround(cifarPixel(17, 10) / 255));
});

test('finds the files in a cifar-10-batches-bin/ subfolder', () => {
  const ds = openCifar10(nested, 'train');
  assert.equal(ds.length, 10);
  assert.equal(ds.get(9).label, 9);
});

test('readInto writes at an offset without touching the rest', () => {
  const ds = openCifar10(flat, 'test');
  const out = new Float32Array(3072 + 4).fill(-1);
  assert.equal(ds.readInto(1, out, 2), 6);
  assert.equal(out[0], -1);
  assert.equal(out[3072 + 2], -1);
  assert.equal(out[2], Math.fround(cifarPixel(16, 0) / 255));
});

test('an index outside the dataset is a RangeError', () => {
  const ds = openCifar10(flat, 'test');
  assert.throws(() => ds.get(3), RangeError);
  assert.throws(() => ds.get(-1), RangeError);
});

test('a file that is not a whole number of records is rejected as a truncated record (E_FORMAT)', () => {
  const p = join(tmp.path, 'short.bin');
  writeFileSync(p, cifarRecords([1, 2]).subarray(0, 3073 + 100));
  assert.throws(
    () => new Cifar10Dataset([p]),
    (e) =>
      isTeeError(e, 'E_FORMAT') &&
      /truncated record/.test(e.message) &&
      /100 bytes left over/.test(e.message),
  );
});

test('an empty record file is rejected (E_FORMAT)', () => {
  const p = join(tmp.path, 'empty.bin');
  writeFileSync(p, new Uint8Array(0));
  assert.throws(
    () => new Cifar10Dataset([p]),
    (e) => isTeeError(e, 'E_FORMAT') && /empty/.test(e.message),
  );
});

test('a label byte above 9 is rejected with its record number (E_FORMAT)', () => {
  const p = join(tmp.path, 'badlabel.bin');
  writeFileSync(p, cifarRecords([1, 10, 2]));
  assert.throws(
    () => new Cifar10Dataset([p]),
    (e) => isTeeError(e, 'E_FORMAT') && /record 1 has label 10, outside 0\.\.9/.test(e.message),
  );
});

test('a folder without CIFAR-10 files, or with a split missing, is E_IO', () => {
  const empty = join(tmp.path, 'none');
  mkdirSync(empty);
  assert.throws(
    () => openCifar10(empty),
    (e) => isTeeError(e, 'E_IO') && /no CIFAR-10 binary files/.test(e.message),
  );
  const partial = join(tmp.path, 'partial');
  mkdirSync(partial);
  writeFileSync(join(partial, 'test_batch.bin'), cifarRecords([0]));
  assert.throws(
    () => openCifar10(partial, 'train'),
    (e) => isTeeError(e, 'E_IO') && /missing data_batch_1\.bin/.test(e.message),
  );
  assert.equal(openCifar10(partial, 'test').length, 1);
});
