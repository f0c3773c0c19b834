import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { crc32 } from '../../src/io/crc32.js';
import { looksLikeZip, openZip, readZipEntry } from '../../src/io/zip.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { buildZip } from './helpers/zip-writer.js';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

function expectFormat(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
    if (pattern) assert.match((e as Error).message, pattern);
    return true;
  });
}

function readAll(bytes: Uint8Array): Map<string, string> {
  const zip = openZip(bytes, 'test.zip');
  return new Map([...zip.entries.values()].map((e) => [e.name, dec(readZipEntry(zip, e))]));
}

const big = 'tensor data '.repeat(500);
const sample = [
  { name: 'a/data.pkl', data: enc('hello') },
  { name: 'a/data/0', data: enc(big), deflate: true },
  { name: 'a/empty', data: new Uint8Array(0) },
  { name: 'a/ünï', data: enc('utf8 name'), deflate: true },
];

describe('zip reader', () => {
  it('computes the standard CRC-32 check value', () => {
    assert.equal(crc32(enc('123456789')), 0xcbf43926);
    assert.equal(crc32(new Uint8Array(0)), 0);
  });

  it('reads stored, deflated, empty and UTF-8-named entries', () => {
    const files = readAll(buildZip(sample));
    assert.deepEqual([...files.keys()], ['a/data.pkl', 'a/data/0', 'a/empty', 'a/ünï']);
    assert.equal(files.get('a/data.pkl'), 'hello');
    assert.equal(files.get('a/data/0'), big);
    assert.equal(files.get('a/empty'), '');
  });

  it('reads ZIP64 records and an archive comment', () => {
    const files = readAll(buildZip(sample, { zip64: true, comment: 'made by a test' }));
    assert.equal(files.get('a/data/0'), big);
    assert.equal(files.size, 4);
  });

  it('recognises ZIP magic', () => {
    assert.ok(looksLikeZip(buildZip(sample)));
    assert.ok(!looksLikeZip(enc('{"a": 1}')));
  });

  it('rejects a CRC mismatch', () => {
    const b = buildZip([{ name: 'x', data: enc('abcdef') }]);
    b[30 + 1 + 2] ^= 1; // one byte of the stored data
    expectFormat(() => readAll(b), /CRC-32/);
  });

  it('rejects every truncation', () => {
    const b = buildZip(sample);
    for (let n = 0; n < b.length; n++) expectFormat(() => readAll(b.subarray(0, n)));
  });

  it('rejects duplicate names, encryption, unknown methods and lying sizes', () => {
    expectFormat(() => openZip(buildZip([sample[0]!, sample[0]!])), /duplicate entry/);
    const patchCentral = (at: number, bytes: number[]) => {
      const b = buildZip([{ name: 'x', data: enc('abc') }]);
      const cd = b.length - 22 - 47; // one entry: 46 + name
      b.set(bytes, cd + at);
      return b;
    };
    expectFormat(() => openZip(patchCentral(8, [1, 0])), /encrypted/);
    expectFormat(() => openZip(patchCentral(10, [14, 0])), /compression method 14/);
    expectFormat(() => readAll(patchCentral(24, [0xff, 0xff, 0, 0])), /compressed size|declares/);
    expectFormat(() => readAll(patchCentral(42, [9, 0, 0, 0])), /local header|outside/);
  });

  it('refuses a deflate entry that declares more than deflate can produce', () => {
    const b = buildZip([{ name: 'x', data: enc('abc'.repeat(100)), deflate: true }]);
    const zip = openZip(b);
    const e = zip.entries.get('x')!;
    expectFormat(() => readZipEntry(zip, { ...e, size: 2 ** 31 }), /impossible for deflate/);
    expectFormat(() => readZipEntry(zip, { ...e, size: 299 }), /inflate/);
    expectFormat(() => readZipEntry(zip, e, { maxBytes: 10 }), /limit/);
  });

  it('never throws anything but E_FORMAT on thousands of mutated archives', () => {
    const rng = new SeededRng(7);
    const good = buildZip(sample);
    for (let iter = 0; iter < 3000; iter++) {
      const b = Uint8Array.from(good);
      const flips = 1 + rng.nextInt(4);
      for (let k = 0; k < flips; k++) b[rng.nextInt(b.length)] = rng.nextInt(256);
      try {
        readAll(iter % 5 === 0 ? b.subarray(0, rng.nextInt(b.length)) : b);
      } catch (e) {
        if (!isTeeError(e, 'E_FORMAT')) throw new Error(`iteration ${iter}: unexpected ${String(e)}`);
      }
    }
  });
});
