// The keygen/encrypt/decrypt commands and the key file format (commands run in-process: main.ts
// registers them).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, mock, test } from 'node:test';
import { decryptCommand, encryptCommand } from '../../src/cli/commands/crypt.js';
import { keygenCommand } from '../../src/cli/commands/keygen.js';
import { isTeeError } from '../../src/errors.js';
import { parseAeadFileHeader } from '../../src/secure/aead-file.js';
import {
  decodeKeyFile,
  encodeKeyFile,
  generateKey,
  KEY_FILE_MAGIC,
  keyId,
  readKeyFile,
  withKeyFile,
  writeKeyFile,
} from '../../src/secure/keys.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-crypt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function code(c: string, message?: string | RegExp) {
  return (e: unknown) => {
    assert.ok(isTeeError(e), `expected TeeError ${c}, got ${e}`);
    assert.equal(e.code, c, e.message);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message, message);
    return true;
  };
}

/** Runs a command with console.log/error captured. */
async function run(cmd: { run(argv: string[]): Promise<number> }, ...argv: string[]) {
  const out: string[] = [];
  const log = mock.method(console, 'log', (...a: unknown[]) => out.push(a.join(' ')));
  const err = mock.method(console, 'error', (...a: unknown[]) => out.push(a.join(' ')));
  try {
    const status = await cmd.run(argv);
    return { status, out: out.join('\n') };
  } finally {
    log.mock.restore();
    err.mock.restore();
  }
}

describe('key files', () => {
  test('encode/decode round-trip; the file has the magic line, the id and the key in hex', () => {
    const key = generateKey();
    const text = Buffer.from(encodeKeyFile(key)).toString();
    const lines = text.split('\n');
    assert.match(lines[0]!, /^# /);
    assert.equal(lines[1], KEY_FILE_MAGIC);
    assert.equal(lines[2], `id ${keyId(key)}`);
    assert.equal(lines[3], `key ${Buffer.from(key).toString('hex')}`);
    assert.deepEqual(decodeKeyFile(new TextEncoder().encode(text)), key);
    assert.match(keyId(key), /^[0-9a-f]{16}$/);
  });

  test('damaged key files are E_FORMAT with the reason', () => {
    const key = generateKey();
    const text = Buffer.from(encodeKeyFile(key)).toString();
    const bad = (t: string, why: RegExp) =>
      assert.throws(() => decodeKeyFile(new TextEncoder().encode(t), 'k'), code('E_FORMAT', why));
    bad('hello\n', /^k is not a tee-offload key file: the first line is not "tee-offload-key\/1"$/);
    bad(text.replace(/key ([0-9a-f])/, 'key z'), /the "key" line is not "key" and 64 hex digits/);
    bad(text.replace(/key [0-9a-f]{2}/, 'key '), /the "key" line is not "key" and 64 hex digits/);
    const flipped = text.replace(/key (.)/, (_m, c: string) => `key ${c === '0' ? '1' : '0'}`);
    bad(flipped, /its id does not match its key \(the file was damaged or edited\)/);
    bad(`${text}extra line\n`, /expected the lines/);
  });

  test('writeKeyFile makes a 0600 file and refuses to overwrite unless forced', () => {
    const path = join(dir, 'a.key');
    const k1 = generateKey();
    writeKeyFile(path, k1);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.throws(
      () => writeKeyFile(path, generateKey()),
      code('E_IO', `${path} already exists; refusing to overwrite a key (use --force)`),
    );
    assert.deepEqual(readKeyFile(path), k1);
    const k2 = generateKey();
    writeKeyFile(path, k2, { force: true });
    assert.deepEqual(readKeyFile(path), k2);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.a.key.')),
      [],
    );
  });

  test('a key file others can access is refused; a group-readable one gives a warning', () => {
    const path = join(dir, 'perm.key');
    writeKeyFile(path, generateKey());
    chmodSync(path, 0o604);
    assert.throws(
      () => readKeyFile(path),
      code('E_IO', `key file ${path} is accessible to other users (mode 0604); run chmod 600 ${path}`),
    );
    assert.equal(readKeyFile(path, { allowOpenPermissions: true }).length, 32);
    chmodSync(path, 0o640);
    const warnings: string[] = [];
    readKeyFile(path, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, [
      `key file ${path} is accessible to its group (mode 0640); consider chmod 600 ${path}`,
    ]);
  });

  test('withKeyFile wipes the key after use, even when the callback throws', async () => {
    const path = join(dir, 'w.key');
    writeKeyFile(path, generateKey());
    let seen: Uint8Array | undefined;
    await withKeyFile(path, (k) => {
      seen = k;
      assert.ok(k.some((b) => b !== 0));
    });
    assert.ok(seen!.every((b) => b === 0));
    await assert.rejects(
      withKeyFile(path, (k) => {
        seen = k;
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.ok(seen!.every((b) => b === 0));
  });

  test('a missing or oversized key file is E_IO / E_FORMAT', () => {
    assert.throws(() => readKeyFile(join(dir, 'none.key')), code('E_IO', /cannot read key file/));
    const big = join(dir, 'big.key');
    writeFileSync(big, Buffer.alloc(5000, 0x41), { mode: 0o600 });
    assert.throws(() => readKeyFile(big), code('E_FORMAT', /longer than 1024 bytes/));
  });
});

describe('keygen, encrypt and decrypt commands', () => {
  const key = join(dir, 'cli.key');
  const other = join(dir, 'other.key');

  test('keygen writes a key, prints its id, and refuses to overwrite without --force', async () => {
    const r = await run(keygenCommand, '--out', key);
    assert.equal(r.status, 0);
    const id = keyId(readKeyFile(key));
    assert.equal(r.out, `wrote key ${id} to ${key} (mode 0600)`);
    await assert.rejects(run(keygenCommand, '--out', key), code('E_IO', /already exists/));
    assert.equal(keyId(readKeyFile(key)), id, 'the key is untouched');
    await run(keygenCommand, '--out', other);
    await assert.rejects(run(keygenCommand), code('E_USAGE', 'keygen needs --out FILE'));
  });

  test('encrypt then decrypt restores the file; the header names the key', async () => {
    const plain = join(dir, 'data.bin');
    const enc = join(dir, 'data.enc');
    const dec = join(dir, 'data.out');
    const bytes = randomBytes(300_000);
    writeFileSync(plain, bytes);
    const e = await run(encryptCommand, '--key', key, plain, enc, '--chunk-size', '65536');
    assert.equal(e.status, 0);
    const id = keyId(readKeyFile(key));
    assert.equal(e.out, `encrypted ${plain} (300000 bytes, 5 chunks) to ${enc} with key ${id}`);
    const h = parseAeadFileHeader(readFileSync(enc));
    assert.equal(h.keyId, id);
    assert.equal(h.chunkSize, 65536);
    const d = await run(decryptCommand, '--key', key, enc, dec);
    assert.equal(d.out, `decrypted and verified ${enc} (300000 bytes) to ${dec}`);
    assert.ok(readFileSync(dec).equals(bytes));
  });

  test('decrypting with another key is E_AUTH naming both key ids, and leaves no output', async () => {
    const plain = join(dir, 'd2.bin');
    const enc = join(dir, 'd2.enc');
    const out = join(dir, 'd2.out');
    writeFileSync(plain, randomBytes(1000));
    await run(encryptCommand, '--key', key, plain, enc);
    const idA = keyId(readKeyFile(key));
    const idB = keyId(readKeyFile(other));
    await assert.rejects(
      run(decryptCommand, '--key', other, enc, out),
      code('E_AUTH', `${enc} was encrypted with key ${idA}, but the key given is ${idB}`),
    );
    assert.equal(existsSync(out), false);
  });

  test('a tampered file is E_AUTH and leaves no output', async () => {
    const plain = join(dir, 'd3.bin');
    const enc = join(dir, 'd3.enc');
    const out = join(dir, 'd3.out');
    writeFileSync(plain, randomBytes(200_000));
    await run(encryptCommand, '--key', key, plain, enc, '--chunk-size', '4096');
    const b = readFileSync(enc);
    b[b.length - 1]! ^= 1;
    writeFileSync(enc, b);
    await assert.rejects(
      run(decryptCommand, '--key', key, enc, out),
      code('E_AUTH', /failed authentication/),
    );
    assert.equal(existsSync(out), false);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.startsWith('.d3.out.')),
      [],
    );
  });

  test('bad command lines are E_USAGE', async () => {
    await assert.rejects(run(encryptCommand, 'a', 'b'), code('E_USAGE', 'encrypt needs --key KEYFILE'));
    await assert.rejects(
      run(decryptCommand, '--key', key, 'a'),
      code('E_USAGE', 'decrypt needs IN and OUT, got 1 paths'),
    );
    await assert.rejects(
      run(encryptCommand, '--key', key, 'a', 'b', '--chunk-size', '8'),
      code('E_USAGE', "--chunk-size must be an integer ≥ 16, got '8'"),
    );
    await assert.rejects(
      run(encryptCommand, '--key', key, 'a', 'b', '--chunk-size', String(2 ** 25)),
      code('E_USAGE', '--chunk-size must be at most 16777216, got 33554432'),
    );
    await assert.rejects(run(encryptCommand, '--key', key, '--bogus', 'a', 'b'), code('E_USAGE'));
  });

  test('a file that is not encrypted is E_FORMAT', async () => {
    const p = join(dir, 'plain.txt');
    writeFileSync(p, 'just text, no header');
    await assert.rejects(
      run(decryptCommand, '--key', key, p, join(dir, 'x.out')),
      code('E_FORMAT', `${p} is not a tee-offload encrypted file (no TEEOAEAD magic)`),
    );
  });

  test('every command has help text that starts with its usage line', () => {
    for (const c of [keygenCommand, encryptCommand, decryptCommand]) {
      assert.match(c.help, new RegExp(`^usage: tee-offload ${c.name} `));
      assert.ok(c.summary.length > 0 && c.summary.length < 80);
    }
  });
});
