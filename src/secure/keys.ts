// 256-bit symmetric keys: generation from the crypto RNG, a small text key file (magic line, key id,
// key in hex) written with mode 0600 and never over an existing file unless asked, and a reader
// that refuses files other users can read and parses the key without turning it into a string.
// Callers wipe the returned key (wipe(key) or withKeyFile) when done.
import { randomBytes, randomFillSync } from 'node:crypto';
import {
  closeSync,
  fstatSync,
  fsyncSync,
  linkSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TeeError } from '../errors.js';
import { PROTOCOL_LABEL, sha256 } from './hkdf.js';

export const KEY_BYTES = 32;
export const KEY_FILE_MAGIC = 'tee-offload-key/1';
/** A key file is a few lines; anything longer is not one (and is not read into memory). */
const MAX_KEY_FILE_BYTES = 1024;

/** Overwrites secret bytes with zeros (JavaScript cannot wipe strings: keep secrets in byte arrays). */
export function wipe(...secrets: (Uint8Array | undefined | null)[]): void {
  for (const s of secrets) s?.fill(0);
}

/** A plain Uint8Array view of a Buffer's bytes (no copy). */
export function asBytes(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Lower-case hex of some bytes (for public values only: the string cannot be wiped). */
export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A fresh 32-byte key from the crypto RNG, filled in place in its own memory so wiping it is complete. */
export function generateKey(): Uint8Array {
  return randomFillSync(new Uint8Array(KEY_BYTES));
}

function checkKey(key: Uint8Array, what = 'key'): void {
  if (!(key instanceof Uint8Array)) throw new TypeError(`${what} must be a Uint8Array`);
  if (key.byteLength !== KEY_BYTES)
    throw new RangeError(`${what} must be ${KEY_BYTES} bytes, got ${key.byteLength}`);
}

/**
 * The key's public name: 16 hex digits of SHA-256("tee-offload/v1 key-id" ‖ key). It tells keys
 * apart (and is written in encrypted files' headers) without revealing anything usable about the key.
 */
export function keyId(key: Uint8Array): string {
  checkKey(key);
  return toHex(sha256(new TextEncoder().encode(`${PROTOCOL_LABEL} key-id`), key).subarray(0, 8));
}

/** The text of a key file, as bytes (never a string, which could not be wiped): wipe it after use. */
export function encodeKeyFile(key: Uint8Array): Uint8Array {
  checkKey(key);
  const head = new TextEncoder().encode(
    `# tee-offload AES-256 key: keep it secret (mode 0600); anyone who reads it can decrypt your files\n${KEY_FILE_MAGIC}\nid ${keyId(key)}\nkey `,
  );
  const out = new Uint8Array(head.length + 2 * KEY_BYTES + 1);
  out.set(head, 0);
  const hex = '0123456789abcdef';
  for (let i = 0; i < KEY_BYTES; i++) {
    out[head.length + 2 * i] = hex.charCodeAt(key[i]! >> 4);
    out[head.length + 2 * i + 1] = hex.charCodeAt(key[i]! & 15);
  }
  out[out.length - 1] = 0x0a;
  return out;
}

function hexNibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** Parses a key file's bytes into a fresh 32-byte key (E_FORMAT when it is not a valid key file). */
export function decodeKeyFile(bytes: Uint8Array, source = 'key file'): Uint8Array {
  const bad = (why: string): never => {
    throw new TeeError('E_FORMAT', `${source} is not a tee-offload key file: ${why}`);
  };
  // Lines, without ever decoding the key line to a string (strings cannot be wiped).
  const lines: Uint8Array[] = [];
  let start = 0;
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      const line = bytes.subarray(start, end);
      if (line.length > 0 && line[0] !== 0x23 /* # */) lines.push(line);
      start = i + 1;
    }
  }
  const text = (l: Uint8Array | undefined) =>
    (l ? Buffer.from(l.buffer, l.byteOffset, l.length) : '').toString();
  if (text(lines[0]) !== KEY_FILE_MAGIC) bad(`the first line is not "${KEY_FILE_MAGIC}"`);
  if (lines.length !== 3) bad(`expected the lines "${KEY_FILE_MAGIC}", "id …" and "key …"`);
  const idLine = text(lines[1]);
  if (!/^id [0-9a-f]{16}$/.test(idLine)) bad('the "id" line is not "id" and 16 hex digits');
  const keyLine = lines[2]!;
  const prefix = [0x6b, 0x65, 0x79, 0x20]; // "key "
  if (keyLine.length !== prefix.length + 2 * KEY_BYTES || prefix.some((c, i) => keyLine[i] !== c)) {
    bad(`the "key" line is not "key" and ${2 * KEY_BYTES} hex digits`);
  }
  const key = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) {
    const hi = hexNibble(keyLine[prefix.length + 2 * i]!);
    const lo = hexNibble(keyLine[prefix.length + 2 * i + 1]!);
    if (hi < 0 || lo < 0) {
      wipe(key);
      bad(`the "key" line is not "key" and ${2 * KEY_BYTES} hex digits`);
    }
    key[i] = (hi << 4) | lo;
  }
  if (idLine.slice(3) !== keyId(key)) {
    wipe(key);
    bad('its id does not match its key (the file was damaged or edited)');
  }
  return key;
}

export interface WriteKeyFileOptions {
  /** Replace an existing file (default: refuse with E_IO). */
  readonly force?: boolean;
}

/**
 * Writes `key` to `path` with mode 0600: a temp file in the same directory, fsync, then a hard link
 * (fails if `path` exists: no check-then-write race) or, with `force`, a rename over it.
 */
export function writeKeyFile(path: string, key: Uint8Array, options: WriteKeyFileOptions = {}): void {
  const body = encodeKeyFile(key);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', 0o600);
    let off = 0;
    while (off < body.length) off += writeSync(fd, body, off, body.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    if (options.force) renameSync(tmp, path);
    else {
      try {
        linkSync(tmp, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new TeeError('E_IO', `${path} already exists; refusing to overwrite a key (use --force)`);
        }
        throw e;
      }
      unlinkSync(tmp);
    }
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed, linked and removed, or never created
    }
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_IO', `cannot write key file ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    wipe(body);
  }
}

export interface ReadKeyFileOptions {
  /** Accept a key file that other users may read or write (default: refuse with E_IO). */
  readonly allowOpenPermissions?: boolean;
  /** Receives the warning for a group-accessible key file (default: process.emitWarning). */
  readonly onWarning?: (message: string) => void;
}

/**
 * Reads a key file into a fresh 32-byte Buffer; the caller wipes it. A file that other users can
 * access (mode & 0o007) is refused, one its group can access (mode & 0o070) gives a warning: a key
 * anyone can read protects nothing. (POSIX permissions only; on other systems nothing is checked.)
 */
export function readKeyFile(path: string, options: ReadKeyFileOptions = {}): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new TeeError('E_IO', `cannot read key file ${path}: ${(e as Error).message}`, { cause: e });
  }
  const buf = new Uint8Array(MAX_KEY_FILE_BYTES + 1);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new TeeError('E_IO', `key file ${path} is not a regular file`);
    const mode = st.mode & 0o777;
    const octal = `0${mode.toString(8).padStart(3, '0')}`;
    if (process.platform !== 'win32' && (mode & 0o007) !== 0 && !options.allowOpenPermissions) {
      throw new TeeError(
        'E_IO',
        `key file ${path} is accessible to other users (mode ${octal}); run chmod 600 ${path}`,
      );
    }
    if (process.platform !== 'win32' && (mode & 0o070) !== 0) {
      const msg = `key file ${path} is accessible to its group (mode ${octal}); consider chmod 600 ${path}`;
      if (options.onWarning) options.onWarning(msg);
      else process.emitWarning(msg, { code: 'TEE_OFFLOAD_KEY_PERMISSIONS' });
    }
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > MAX_KEY_FILE_BYTES)
        throw new TeeError(
          'E_FORMAT',
          `${path} is not a tee-offload key file: longer than ${MAX_KEY_FILE_BYTES} bytes`,
        );
    }
    return decodeKeyFile(buf.subarray(0, n), path);
  } catch (e) {
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_IO', `cannot read key file ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    wipe(buf);
    closeSync(fd);
  }
}

/** Runs `fn` with the key of `path` and wipes the key afterwards, whatever `fn` does. */
export async function withKeyFile<T>(
  path: string,
  fn: (key: Uint8Array) => Promise<T> | T,
  options: ReadKeyFileOptions = {},
): Promise<T> {
  const key = readKeyFile(path, options);
  try {
    return await fn(key);
  } finally {
    wipe(key);
  }
}
