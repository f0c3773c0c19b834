import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readTar } from '../../src/data/tar.js';
import { isTeeError } from '../../src/errors.js';
import { tarBytes, tempDir } from './make-files.js';

const tmp = tempDir();
after(() => tmp.remove());

const enc = new TextEncoder();
const files = [
  { name: 'dir/a.bin', data: Uint8Array.from({ length: 700 }, (_, i) => i & 0xff) },
  { name: 'dir/empty', data: new Uint8Array(0) },
  { name: 'b.txt', data: enc.encode('hello') },
];

test('lists the files of a ustar archive with their bytes', () => {
  const entries = readTar(tarBytes(files));
  assert.deepEqual(
    entries.map((e) => [e.name, e.type, e.data.length]),
    [
      ['dir/a.bin', 'file', 700],
      ['dir/empty', 'file', 0],
      ['b.txt', 'file', 5],
    ],
  );
  assert.deepEqual(entries[0]!.data, files[0]!.data);
});

test('a header whose checksum does not match is rejected (E_FORMAT)', () => {
  const bytes = tarBytes(files);
  bytes[10] ^= 1;
  assert.throws(
    () => readTar(bytes),
    (e) => isTeeError(e, 'E_FORMAT') && /checksum mismatch at byte 0/.test(e.message),
  );
});

test('an entry running past the end of the archive is rejected as truncated (E_FORMAT)', () => {
  const bytes = tarBytes(files).subarray(0, 512 + 600);
  assert.throws(
    () => readTar(bytes),
    (e) =>
      isTeeError(e, 'E_FORMAT') &&
      /truncated tar entry at byte 0: 700 bytes declared, 600 present/.test(e.message),
  );
  assert.throws(
    () => readTar(tarBytes(files).subarray(0, 100)),
    (e) => isTeeError(e, 'E_FORMAT') && /truncated tar header/.test(e.message),
  );
});

test('a non-octal size field is rejected (E_FORMAT)', () => {
  const bytes = tarBytes(files);
  bytes[124] = 0x39; // '9'
  let sum = 0;
  bytes.fill(0x20, 148, 156);
  for (let i = 0; i < 512; i++) sum += bytes[i]!;
  bytes.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  assert.throws(
    () => readTar(bytes),
    (e) => isTeeError(e, 'E_FORMAT') && /bad tar size field/.test(e.message),
  );
});

const hasTar = spawnSync('tar', ['--version']).status === 0;

test('reads an archive written by the system tar, long names included', {
  skip: hasTar ? false : 'no tar',
}, () => {
  const src = join(tmp.path, 'src');
  const deep = join(src, 'x'.repeat(60), 'y'.repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(deep, 'data_batch_1.bin'), files[0]!.data);
  writeFileSync(join(src, 'small.txt'), 'hello');
  const out = join(tmp.path, 'sys.tar');
  const r = spawnSync('tar', ['-cf', out, '-C', src, '.']);
  assert.equal(r.status, 0, String(r.stderr));
  const entries = readTar(new Uint8Array(readFileSync(out)));
  const big = entries.find((e) => e.name.endsWith('/data_batch_1.bin'));
  assert.ok(big, entries.map((e) => e.name).join(', '));
  assert.ok(big.name.includes('y'.repeat(60)));
  assert.deepEqual(big.data, files[0]!.data);
  assert.ok(entries.some((e) => e.type === 'directory'));
});
