import assert from 'node:assert/strict';
import { createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import {
  AEAD_FILE_MAGIC,
  chunksPerBlock,
  DEFAULT_CHUNK_SIZE,
  decryptBuffer,
  decryptFile,
  decryptToBuffer,
  encryptBuffer,
  encryptedSize,
  encryptFile,
  parseAeadFileHeader,
  readAeadFileHeader,
  TAG_BYTES,
} from '../../src/secure/aead-file.js';
import { generateKey, keyId } from '../../src/secure/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-aead-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const key = generateKey();
const otherKey = generateKey();
const C = 64; // a small chunk size makes every boundary cheap to visit

function random(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

function isCode(code: string, message?: RegExp | string) {
  return (e: unknown) => {
    assert.ok(isTeeError(e), `expected a TeeError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

let fileCounter = 0;
function tmp(name: string): string {
  return join(dir, `${fileCounter++}-${name}`);
}

/** Files in `dir` whose names say they are temporaries of `out`. */
function leftovers(out: string): string[] {
  const base = out.split('/').pop()!;
  return readdirSync(dir).filter((f) => f.startsWith(`.${base}.`));
}

describe('round trips', () => {
  const sizes = [0, 1, C - 1, C, C + 1, 2 * C, 5 * C + 7];
  for (const n of sizes) {
    test(`a ${n}-byte payload survives encryptBuffer/decryptBuffer with ${C}-byte chunks`, () => {
      const p = random(n);
      const e = encryptBuffer(key, p, { chunkSize: C });
      assert.equal(e.length, encryptedSize(n, { chunkSize: C }));
      assert.deepEqual(decryptBuffer(key, e), p);
    });
  }

  for (const n of [0, 1, C - 1, C, C + 1, 3 * C + 5]) {
    test(`a ${n}-byte file survives encryptFile/decryptFile and decryptToBuffer with ${C}-byte chunks`, async () => {
      const p = random(n);
      const src = tmp('plain');
      const enc = tmp('enc');
      const dec = tmp('dec');
      writeFileSync(src, p);
      const r = await encryptFile(key, src, enc, { chunkSize: C, keyId: keyId(key) });
      assert.equal(r.plaintextBytes, n);
      assert.equal(r.chunks, Math.floor(n / C) + 1);
      assert.equal(readFileSync(enc).length, encryptedSize(n, { chunkSize: C, keyId: keyId(key) }));
      const d = await decryptFile(key, enc, dec);
      assert.equal(d.plaintextBytes, n);
      assert.deepEqual(new Uint8Array(readFileSync(dec)), p);
      assert.deepEqual(await decryptToBuffer(key, enc), p);
      // The file format is the buffer format.
      assert.deepEqual(decryptBuffer(key, readFileSync(enc)), p);
    });
  }

  test('several megabytes round-trip with the default chunk size through files and buffers', async () => {
    const n = 5 * DEFAULT_CHUNK_SIZE + 12345;
    const p = random(n);
    const src = tmp('big');
    const enc = tmp('big.enc');
    const dec = tmp('big.dec');
    writeFileSync(src, p);
    const r = await encryptFile(key, src, enc);
    assert.equal(r.chunks, 6);
    assert.deepEqual(await decryptToBuffer(key, enc), p);
    await decryptFile(key, enc, dec);
    assert.ok(Buffer.from(p).equals(readFileSync(dec)));
    assert.deepEqual(decryptBuffer(key, encryptBuffer(key, p)), p);
  });

  test('two encryptions of the same data differ (fresh salt and nonce prefix)', () => {
    const p = random(100);
    const a = encryptBuffer(key, p);
    const b = encryptBuffer(key, p);
    assert.notDeepEqual(a, b);
    const ha = parseAeadFileHeader(a);
    const hb = parseAeadFileHeader(b);
    assert.notDeepEqual(ha.salt, hb.salt);
    assert.notDeepEqual(ha.noncePrefix, hb.noncePrefix);
  });

  test('the header reports chunk size, key id and flags', async () => {
    const e = encryptBuffer(key, random(10), {
      chunkSize: 4096,
      keyId: 'abc',
      sealed: true,
      insecureKey: true,
    });
    const h = parseAeadFileHeader(e);
    assert.equal(h.chunkSize, 4096);
    assert.equal(h.keyId, 'abc');
    assert.equal(h.sealed, true);
    assert.equal(h.insecureKey, true);
    assert.equal(h.headerBytes, 40 + 3 + 32);
    const path = tmp('hdr');
    writeFileSync(path, e);
    assert.deepEqual(await readAeadFileHeader(path), h);
    assert.equal(parseAeadFileHeader(encryptBuffer(key, random(1))).keyId, undefined);
  });
});

describe('an independent decoder written from docs/encryption.md', () => {
  test('reads the format byte by byte: header, HKDF keys, header MAC, nonces and AADs', () => {
    const p = random(2 * C + 10);
    const f = Buffer.from(encryptBuffer(key, p, { chunkSize: C, keyId: 'k1' }));
    assert.equal(f.subarray(0, 8).toString('latin1'), 'TEEOAEAD');
    assert.equal(f[8], 1); // version
    assert.equal(f[9], 0); // flags
    assert.equal(f[10], 2); // key id length
    assert.equal(f[11], 0); // reserved
    assert.equal(f.readUInt32BE(12), C);
    const salt = f.subarray(16, 32);
    const prefix = f.subarray(32, 40);
    assert.equal(f.subarray(40, 42).toString('latin1'), 'k1');
    const headerEnd = 42 + 32;
    const okm = Buffer.from(hkdfSync('sha256', key, salt, Buffer.from('tee-offload/v1 aead-file'), 64));
    const mac = createHmac('sha256', okm.subarray(32)).update(f.subarray(0, 42)).digest();
    assert.deepEqual(f.subarray(42, headerEnd), mac);
    const headerHash = createHash('sha256').update(f.subarray(0, headerEnd)).digest();
    const out: Buffer[] = [];
    const sizes = [C, C, 10];
    let at = headerEnd;
    sizes.forEach((len, i) => {
      const nonce = Buffer.concat([prefix, Buffer.from([0, 0, 0, i])]);
      const aad = Buffer.alloc(41);
      headerHash.copy(aad);
      aad.writeBigUInt64BE(BigInt(i), 32);
      aad[40] = i === sizes.length - 1 ? 1 : 0;
      const d = createDecipheriv('aes-256-gcm', okm.subarray(0, 32), nonce, { authTagLength: 16 });
      d.setAAD(aad);
      d.setAuthTag(f.subarray(at + len, at + len + 16));
      out.push(d.update(f.subarray(at, at + len)), d.final());
      at += len + 16;
    });
    assert.equal(at, f.length);
    assert.deepEqual(new Uint8Array(Buffer.concat(out)), p);
  });

  test('a payload that fills its chunks exactly ends with an empty last chunk', () => {
    const f = encryptBuffer(key, random(2 * C), { chunkSize: C });
    const h = parseAeadFileHeader(f);
    assert.equal(f.length, h.headerBytes + 2 * (C + TAG_BYTES) + TAG_BYTES);
  });
});

describe('tampering is detected', () => {
  const plain = random(5 * C + 10); // chunks 0..4 full, chunk 5 holds 10 bytes
  const enc = encryptBuffer(key, plain, { chunkSize: C });
  const H = parseAeadFileHeader(enc).headerBytes;
  const chunkAt = (i: number) => H + i * (C + TAG_BYTES);
  const open = (b: Uint8Array) => decryptBuffer(key, b, 'f.enc');

  test('truncation anywhere (every byte length) is E_AUTH, or E_FORMAT inside the header', () => {
    for (let len = 0; len < enc.length; len++) {
      const cut = enc.subarray(0, len);
      assert.throws(() => open(cut), isCode(len < H ? 'E_FORMAT' : 'E_AUTH'), `cut at ${len}`);
    }
  });

  test('truncation at a chunk boundary says the last chunk is missing', () => {
    assert.throws(
      () => open(enc.subarray(0, H)),
      isCode('E_AUTH', 'f.enc: truncated: the last chunk is missing (the data ends after the header)'),
    );
    for (let i = 1; i <= 5; i++) {
      assert.throws(
        () => open(enc.subarray(0, chunkAt(i))),
        isCode('E_AUTH', `f.enc: truncated: the last chunk is missing (the data ends after chunk ${i - 1})`),
      );
    }
  });

  test('truncation mid-chunk fails authentication of that chunk or says it is shorter than a tag', () => {
    assert.throws(
      () => open(enc.subarray(0, chunkAt(2) + 5)),
      isCode('E_AUTH', 'f.enc: truncated: chunk 2 has 5 bytes, fewer than its 16-byte tag'),
    );
    assert.throws(
      () => open(enc.subarray(0, chunkAt(2) + 40)),
      isCode(
        'E_AUTH',
        'f.enc: chunk 2 failed authentication (the file was modified, truncated, reordered or spliced)',
      ),
    );
    // Cutting the short last chunk makes it a different (shorter) last chunk: its tag fails.
    assert.throws(
      () => open(enc.subarray(0, enc.length - 1)),
      isCode('E_AUTH', /chunk 5 failed authentication/),
    );
  });

  test('swapping two chunks is E_AUTH at the first one moved', () => {
    const b = Buffer.from(enc);
    const c1 = Buffer.from(b.subarray(chunkAt(1), chunkAt(2)));
    const c2 = Buffer.from(b.subarray(chunkAt(2), chunkAt(3)));
    c2.copy(b, chunkAt(1));
    c1.copy(b, chunkAt(2));
    assert.throws(() => open(b), isCode('E_AUTH', /chunk 1 failed authentication/));
  });

  test('dropping a whole chunk from the middle is E_AUTH', () => {
    const b = Buffer.concat([enc.subarray(0, chunkAt(2)), enc.subarray(chunkAt(3))]);
    assert.throws(() => open(b), isCode('E_AUTH', /chunk 2 failed authentication/));
  });

  test('a chunk spliced from another file with the same key is E_AUTH', () => {
    const other = encryptBuffer(key, random(5 * C + 10), { chunkSize: C });
    const b = Buffer.from(enc);
    b.set(other.subarray(chunkAt(3), chunkAt(4)), chunkAt(3));
    assert.throws(() => open(b), isCode('E_AUTH', /chunk 3 failed authentication/));
    // …and the other file's header on this file's chunks.
    const c = Buffer.from(enc);
    c.set(other.subarray(0, H), 0);
    assert.throws(() => open(c), isCode('E_AUTH', /chunk 0 failed authentication/));
  });

  test('the last chunk of a file presented as a middle chunk (and vice versa) is E_AUTH', () => {
    // Same plaintext length, chunk 1 marked last: a file of 2C bytes cut after chunk 1 is a
    // full chunk followed by nothing, i.e. truncated; a file of C+10 bytes has its last chunk at 1.
    const twoChunks = encryptBuffer(key, random(C + 10), { chunkSize: C });
    const h2 = parseAeadFileHeader(twoChunks).headerBytes;
    const spliced = Buffer.concat([enc.subarray(0, chunkAt(1)), twoChunks.subarray(h2 + C + TAG_BYTES)]);
    assert.throws(() => open(spliced), isCode('E_AUTH', /chunk 1 failed authentication/));
  });

  test('a flipped bit in any byte of the header is E_AUTH (or E_FORMAT for a field that no longer parses)', () => {
    for (let i = 0; i < H; i++) {
      for (const bit of [0x01, 0x80]) {
        const b = Buffer.from(enc);
        b[i]! ^= bit;
        let expected: RegExp;
        if (i < 8) expected = /^E_FORMAT: f\.enc is not a tee-offload encrypted file/;
        else if (i === 8) expected = /^E_FORMAT: f\.enc: unsupported encrypted-file version/;
        else if (i < 16) expected = /^E_(FORMAT|AUTH): /;
        else
          expected =
            /^E_AUTH: f\.enc: header failed authentication \(wrong key, or the header was modified\)$/;
        assert.throws(
          () => open(b),
          (e: unknown) => isTeeError(e) && expected.test(`${e.code}: ${e.message}`),
          `byte ${i} bit ${bit}`,
        );
      }
    }
  });

  test('a flipped bit anywhere in a chunk body or tag is E_AUTH for that chunk', () => {
    for (let i = H; i < enc.length; i++) {
      const b = Buffer.from(enc);
      b[i]! ^= 1 << (i % 8);
      const chunk = Math.floor((i - H) / (C + TAG_BYTES));
      assert.throws(
        () => open(b),
        isCode('E_AUTH', new RegExp(`chunk ${chunk} failed authentication`)),
        `byte ${i}`,
      );
    }
  });

  test('data appended after the last chunk is E_AUTH', () => {
    for (const extra of [1, 15, 16, C, C + TAG_BYTES, 3 * C]) {
      const b = Buffer.concat([enc, randomBytes(extra)]);
      assert.throws(() => open(b), isCode('E_AUTH'), `${extra} bytes appended`);
    }
    const whole = encryptBuffer(key, random(0), { chunkSize: C });
    assert.throws(() => open(Buffer.concat([whole, whole.subarray(-TAG_BYTES)])), isCode('E_AUTH'));
  });

  test('a wrong key is E_AUTH at the header', () => {
    assert.throws(
      () => decryptBuffer(otherKey, enc, 'f.enc'),
      isCode('E_AUTH', 'f.enc: header failed authentication (wrong key, or the header was modified)'),
    );
  });

  test('a key whose id differs from the header key id is named in the E_AUTH message', () => {
    const e = encryptBuffer(key, random(3), { keyId: keyId(key) });
    assert.throws(
      () => decryptBuffer(otherKey, e, 'f.enc', { expectedKeyId: keyId(otherKey) }),
      isCode('E_AUTH', `f.enc was encrypted with key ${keyId(key)}, but the key given is ${keyId(otherKey)}`),
    );
  });

  test('another format, an empty file or a future version is E_FORMAT', () => {
    assert.throws(
      () => open(Buffer.from('{"__metadata__":{}}')),
      isCode('E_FORMAT', 'f.enc is not a tee-offload encrypted file (no TEEOAEAD magic)'),
    );
    assert.throws(() => open(new Uint8Array(0)), isCode('E_FORMAT'));
    const v2 = Buffer.from(enc);
    v2[8] = 2;
    assert.throws(
      () => open(v2),
      isCode('E_FORMAT', 'f.enc: unsupported encrypted-file version 2 (this build reads version 1)'),
    );
    assert.throws(
      () => open(Uint8Array.from(AEAD_FILE_MAGIC)),
      isCode('E_FORMAT', 'f.enc: bad encrypted-file header: truncated (8 of at least 72 bytes)'),
    );
  });
});

describe('files: no partial plaintext after a failure', () => {
  const plain = random(4 * C + 3);
  const good = tmp('good.enc');
  after(() => {});

  async function encrypted(): Promise<Buffer> {
    const src = tmp('src');
    writeFileSync(src, plain);
    await encryptFile(key, src, good, { chunkSize: C });
    return readFileSync(good);
  }

  test('decryptFile of a tampered, truncated or wrongly-keyed file leaves no output and no temp file', async () => {
    const enc = await encrypted();
    const H = parseAeadFileHeader(enc).headerBytes;
    const variants: [string, Buffer, Uint8Array][] = [
      ['last chunk flipped', Buffer.from(enc), key],
      ['truncated at a boundary', enc.subarray(0, H + 2 * (C + TAG_BYTES)), key],
      ['truncated mid-chunk', enc.subarray(0, H + 2 * (C + TAG_BYTES) + 30), key],
      ['appended', Buffer.concat([enc, Buffer.from([1, 2, 3])]), key],
      ['wrong key', enc, otherKey],
    ];
    variants[0]![1][enc.length - 1]! ^= 1;
    for (const [what, bytes, k] of variants) {
      const inPath = tmp('bad.enc');
      const out = tmp('out.bin');
      writeFileSync(inPath, bytes);
      await assert.rejects(decryptFile(k, inPath, out), isCode('E_AUTH'), what);
      assert.equal(existsSync(out), false, `${what}: no output file`);
      assert.deepEqual(leftovers(out), [], `${what}: no temp file`);
      await assert.rejects(decryptToBuffer(k, inPath), isCode('E_AUTH'), what);
    }
  });

  test('a failed decryptFile leaves an existing output file untouched', async () => {
    const enc = await encrypted();
    const bad = Buffer.from(enc);
    bad[bad.length - 10]! ^= 4;
    const inPath = tmp('bad.enc');
    writeFileSync(inPath, bad);
    const out = tmp('existing.bin');
    writeFileSync(out, 'previous content');
    await assert.rejects(decryptFile(key, inPath, out), isCode('E_AUTH', /chunk 4 failed authentication/));
    assert.equal(readFileSync(out, 'utf8'), 'previous content');
    assert.deepEqual(leftovers(out), []);
  });

  test('a missing input is E_IO and leaves nothing', async () => {
    const out = tmp('never.bin');
    await assert.rejects(decryptFile(key, join(dir, 'missing.enc'), out), isCode('E_IO', /cannot read/));
    await assert.rejects(encryptFile(key, join(dir, 'missing.bin'), out), isCode('E_IO', /cannot read/));
    assert.equal(existsSync(out), false);
    assert.deepEqual(leftovers(out), []);
  });

  test('the decrypted file is readable by its owner only', async () => {
    await encrypted();
    const out = tmp('private.bin');
    await decryptFile(key, good, out);
    const { statSync } = await import('node:fs');
    assert.equal(statSync(out).mode & 0o077, 0);
  });
});

describe('files larger than one I/O block', () => {
  const cs = 65536;
  const per = chunksPerBlock(cs); // chunks per read: the file functions work block by block
  const blockPlain = per * cs;

  for (const n of [blockPlain - 1, blockPlain, blockPlain + 1, 2 * blockPlain + cs + 3]) {
    test(`${n} bytes (${per} chunks per block) round-trip through files`, async () => {
      const p = random(n);
      const src = tmp('blk');
      const enc = tmp('blk.enc');
      const dec = tmp('blk.dec');
      writeFileSync(src, p);
      const r = await encryptFile(key, src, enc, { chunkSize: cs });
      assert.equal(r.chunks, Math.floor(n / cs) + 1);
      assert.equal(readFileSync(enc).length, encryptedSize(n, { chunkSize: cs }));
      assert.deepEqual(decryptBuffer(key, readFileSync(enc)), p, 'the file format is the buffer format');
      await decryptFile(key, enc, dec);
      assert.ok(Buffer.from(p).equals(readFileSync(dec)));
      assert.deepEqual(await decryptToBuffer(key, enc), p);
    });
  }

  test('truncation at a block boundary or a chunk boundary inside a later block, and a flip in block 2, leave no output', async () => {
    const n = 2 * blockPlain + cs + 3;
    const p = random(n);
    const enc = encryptBuffer(key, p, { chunkSize: cs });
    const H = parseAeadFileHeader(enc).headerBytes;
    const at = (chunk: number) => H + chunk * (cs + TAG_BYTES);
    const flipped = Buffer.from(enc);
    flipped[at(per + 5) + 100]! ^= 1;
    const cases: [string, Uint8Array, RegExp][] = [
      ['cut at the block boundary', enc.subarray(0, at(per)), new RegExp(`ends after chunk ${per - 1}\\)$`)],
      [
        'cut at a chunk boundary in block 2',
        enc.subarray(0, at(per + 7)),
        new RegExp(`ends after chunk ${per + 6}\\)$`),
      ],
      [
        'cut mid-chunk in block 3',
        enc.subarray(0, at(2 * per) + 1000),
        new RegExp(`chunk ${2 * per} failed authentication`),
      ],
      ['a flipped bit in block 2', flipped, new RegExp(`chunk ${per + 5} failed authentication`)],
    ];
    for (const [what, bytes, message] of cases) {
      const inPath = tmp('blkbad.enc');
      const out = tmp('blkbad.out');
      writeFileSync(inPath, bytes);
      await assert.rejects(decryptFile(key, inPath, out), isCode('E_AUTH', message), what);
      assert.equal(existsSync(out), false, what);
      assert.deepEqual(leftovers(out), [], what);
      await assert.rejects(decryptToBuffer(key, inPath), isCode('E_AUTH'), what);
      assert.throws(() => decryptBuffer(key, bytes), isCode('E_AUTH', message), what);
    }
  });
});

describe('output arrays supplied by the caller', () => {
  test('encryptBuffer and decryptBuffer write into an output array of exactly the right size', () => {
    const p = random(3 * C + 5);
    const enc = new Uint8Array(encryptedSize(p.length, { chunkSize: C }));
    assert.equal(encryptBuffer(key, p, { chunkSize: C, output: enc }), enc);
    const dec = new Uint8Array(p.length);
    assert.equal(decryptBuffer(key, enc, 'e', { output: dec }), dec);
    assert.deepEqual(dec, p);
    assert.throws(() => encryptBuffer(key, p, { chunkSize: C, output: new Uint8Array(enc.length - 1) }), {
      name: 'RangeError',
      message: `output must be a Uint8Array of exactly ${enc.length} bytes`,
    });
    assert.throws(() => decryptBuffer(key, enc, 'e', { output: new Uint8Array(p.length + 1) }), {
      name: 'RangeError',
      message: `output must be a Uint8Array of exactly ${p.length} bytes`,
    });
  });

  test('a failed decryptBuffer wipes what it wrote into the output array', () => {
    const p = random(3 * C + 5).fill(0xaa);
    const enc = encryptBuffer(key, p, { chunkSize: C });
    enc[enc.length - 1]! ^= 1; // the last chunk fails after three good ones were written
    const dec = new Uint8Array(p.length);
    assert.throws(() => decryptBuffer(key, enc, 'e', { output: dec }), isCode('E_AUTH', /chunk 3 failed/));
    assert.ok(dec.every((b) => b === 0));
  });
});

describe('argument checks', () => {
  test('bad keys and chunk sizes are TypeError/RangeError with exact messages', () => {
    assert.throws(() => encryptBuffer(new Uint8Array(16), random(1)), {
      name: 'RangeError',
      message: 'key must be 32 bytes, got 16',
    });
    assert.throws(() => encryptBuffer(key, random(1), { chunkSize: 8 }), {
      name: 'RangeError',
      message: 'chunkSize must be an integer in 16..16777216, got 8',
    });
    assert.throws(() => encryptBuffer(key, random(1), { keyId: 'é' }), {
      name: 'RangeError',
      message: 'keyId must be printable ASCII of at most 64 bytes',
    });
    assert.throws(() => decryptBuffer('k' as unknown as Uint8Array, random(1)), {
      name: 'TypeError',
      message: 'key must be a Uint8Array',
    });
  });
});
