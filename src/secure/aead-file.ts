// Encrypted files (datasets, weights, checkpoints): chunked AES-256-GCM (NIST SP 800-38D) with an
// authenticated header. Each chunk's AAD binds the header hash, its index and a last-chunk flag, so
// truncation, reordering, splicing between files, bit flips and appended data all fail with E_AUTH;
// plaintext of a chunk is released only after its tag verified. Layout byte by byte: docs/encryption.md.
import buffer from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes, randomFillSync, timingSafeEqual } from 'node:crypto';
import { type FileHandle, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TeeError } from '../errors.js';
import { hkdfInfo, hkdfSha256, hmacSha256, sha256 } from './hkdf.js';
import { asBytes, KEY_BYTES, wipe } from './keys.js';

/** "TEEOAEAD": the first 8 bytes of every encrypted file. */
export const AEAD_FILE_MAGIC: readonly number[] = [0x54, 0x45, 0x45, 0x4f, 0x41, 0x45, 0x41, 0x44];
export const AEAD_FILE_VERSION = 1;
export const TAG_BYTES = 16;
export const MIN_CHUNK_SIZE = 16;
export const MAX_CHUNK_SIZE = 16 * 1024 * 1024;
export const DEFAULT_CHUNK_SIZE = 1024 * 1024;
export const MAX_KEY_ID_BYTES = 64;
/** Chunk indices are 32-bit (the low 4 bytes of the GCM nonce). */
export const MAX_CHUNKS = 2 ** 32;

const FIXED_HEADER_BYTES = 40;
const MAC_BYTES = 32;
const SALT_BYTES = 16;
const PREFIX_BYTES = 8;
const FLAG_SEALED = 0x01;
const FLAG_INSECURE_KEY = 0x02;
const KNOWN_FLAGS = FLAG_SEALED | FLAG_INSECURE_KEY;

export interface AeadFileOptions {
  /** Plaintext bytes per chunk, 16 B … 16 MiB (default 1 MiB); memory use is about twice this. */
  readonly chunkSize?: number;
  /** A public label of the key (printable ASCII, ≤ 64 bytes), e.g. keys.ts keyId(key). */
  readonly keyId?: string;
  /** Marks a sealed file (seal.ts). */
  readonly sealed?: boolean;
  /** Marks a file sealed with a key that is not bound to an enclave (seal.ts, `direct`). */
  readonly insecureKey?: boolean;
}

/** What a header says. Everything here is authenticated once the header MAC has been checked. */
export interface AeadFileHeader {
  readonly version: number;
  readonly chunkSize: number;
  readonly keyId: string | undefined;
  readonly sealed: boolean;
  readonly insecureKey: boolean;
  readonly salt: Uint8Array;
  readonly noncePrefix: Uint8Array;
  /** Bytes from the start of the file to the first chunk. */
  readonly headerBytes: number;
}

export interface AeadFileResult {
  readonly plaintextBytes: number;
  readonly encryptedBytes: number;
  readonly chunks: number;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
  if (key.byteLength !== KEY_BYTES)
    throw new RangeError(`key must be ${KEY_BYTES} bytes, got ${key.byteLength}`);
}

function checkOptions(o: AeadFileOptions): { chunkSize: number; keyId: Uint8Array } {
  const chunkSize = o.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    throw new RangeError(
      `chunkSize must be an integer in ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}, got ${chunkSize}`,
    );
  }
  const keyId = new TextEncoder().encode(o.keyId ?? '');
  if (o.keyId !== undefined && (keyId.length > MAX_KEY_ID_BYTES || !/^[\x20-\x7e]*$/.test(o.keyId))) {
    throw new RangeError(`keyId must be printable ASCII of at most ${MAX_KEY_ID_BYTES} bytes`);
  }
  return { chunkSize, keyId };
}

/**
 * The keys of one file: HKDF-SHA256(key, salt = the header's random salt, "tee-offload/v1 aead-file")
 * → 32 bytes for AES-256-GCM, 32 for the header's HMAC-SHA256. A per-file key means nonces never
 * repeat across files under one key, and the HMAC makes the header (and the key) committed.
 */
class FileKeys {
  readonly enc: Uint8Array;
  readonly mac: Uint8Array;
  private readonly okm: Uint8Array;
  constructor(key: Uint8Array, salt: Uint8Array) {
    this.okm = hkdfSha256(key, salt, hkdfInfo('aead-file'), 64);
    this.enc = this.okm.subarray(0, 32);
    this.mac = this.okm.subarray(32, 64);
  }
  dispose(): void {
    wipe(this.okm);
  }
}

/** One file's chunk cipher: nonce = prefix ‖ u32 index, AAD = SHA-256(header) ‖ u64 index ‖ last. */
class ChunkCipher {
  private readonly aad = new Uint8Array(32 + 8 + 1);
  private readonly nonce = new Uint8Array(12);
  constructor(
    private readonly keys: FileKeys,
    header: Uint8Array,
    prefix: Uint8Array,
    private readonly source: string,
  ) {
    this.aad.set(sha256(header), 0);
    this.nonce.set(prefix, 0);
  }

  private setIndex(index: number, last: boolean): void {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_CHUNKS) {
      throw new RangeError(`chunk index ${index} is outside 0..${MAX_CHUNKS - 1} (the file is too large)`);
    }
    new DataView(this.nonce.buffer).setUint32(8, index);
    new DataView(this.aad.buffer).setBigUint64(32, BigInt(index));
    this.aad[40] = last ? 1 : 0;
  }

  /** Encrypts one chunk: ciphertext (same length as `plaintext`) and its 16-byte tag. */
  seal(index: number, last: boolean, plaintext: Uint8Array): [Uint8Array, Uint8Array] {
    this.setIndex(index, last);
    const c = createCipheriv('aes-256-gcm', this.keys.enc, this.nonce, { authTagLength: TAG_BYTES });
    c.setAAD(this.aad);
    const ct = asBytes(c.update(plaintext));
    c.final();
    return [ct, asBytes(c.getAuthTag())];
  }

  /** Decrypts one chunk (ciphertext ‖ tag) and returns its plaintext only if the tag verified. */
  open(index: number, last: boolean, chunk: Uint8Array): Uint8Array {
    if (chunk.byteLength < TAG_BYTES) throw truncated(this.source, index, chunk.byteLength);
    this.setIndex(index, last);
    const d = createDecipheriv('aes-256-gcm', this.keys.enc, this.nonce, { authTagLength: TAG_BYTES });
    d.setAAD(this.aad);
    d.setAuthTag(chunk.subarray(chunk.byteLength - TAG_BYTES));
    const plain = asBytes(d.update(chunk.subarray(0, chunk.byteLength - TAG_BYTES)));
    try {
      // Verify the tag before releasing plaintext: final() throws on a wrong tag, and the
      // unverified bytes in `plain` are wiped and never returned.
      d.final();
    } catch {
      wipe(plain);
      throw new TeeError(
        'E_AUTH',
        `${this.source}: chunk ${index} failed authentication (the file was modified, truncated, reordered or spliced)`,
      );
    }
    return plain;
  }
}

function truncated(source: string, index: number, got: number): TeeError {
  if (got === 0) {
    const after = index === 0 ? 'the header' : `chunk ${index - 1}`;
    return new TeeError(
      'E_AUTH',
      `${source}: truncated: the last chunk is missing (the data ends after ${after})`,
    );
  }
  return new TeeError(
    'E_AUTH',
    `${source}: truncated: chunk ${index} has ${got} bytes, fewer than its ${TAG_BYTES}-byte tag`,
  );
}

function headerMac(keys: FileKeys, unmacced: Uint8Array): Uint8Array {
  return hmacSha256(keys.mac, unmacced);
}

interface Writer {
  readonly header: Uint8Array;
  readonly cipher: ChunkCipher;
  readonly keys: FileKeys;
  readonly chunkSize: number;
}

function newWriter(key: Uint8Array, options: AeadFileOptions, source: string): Writer {
  checkKey(key);
  const { chunkSize, keyId } = checkOptions(options);
  const h = new Uint8Array(FIXED_HEADER_BYTES + keyId.length + MAC_BYTES);
  h.set(AEAD_FILE_MAGIC, 0);
  h[8] = AEAD_FILE_VERSION;
  h[9] = (options.sealed ? FLAG_SEALED : 0) | (options.insecureKey ? FLAG_INSECURE_KEY : 0);
  h[10] = keyId.length;
  h[11] = 0;
  new DataView(h.buffer).setUint32(12, chunkSize);
  const salt = h.subarray(16, 16 + SALT_BYTES);
  const prefix = h.subarray(32, 32 + PREFIX_BYTES);
  randomFillSync(salt);
  randomFillSync(prefix);
  h.set(keyId, 40);
  const keys = new FileKeys(key, salt);
  const macAt = FIXED_HEADER_BYTES + keyId.length;
  h.set(headerMac(keys, h.subarray(0, macAt)), macAt);
  return { header: h, keys, chunkSize, cipher: new ChunkCipher(keys, h, prefix, source) };
}

/**
 * Parses the header at the start of `bytes` without any key (nothing in it is authenticated yet).
 * E_FORMAT when `bytes` does not start with a version-1 header; `bytes` may extend past the header.
 */
export function parseAeadFileHeader(bytes: Uint8Array, source = 'encrypted data'): AeadFileHeader {
  const b = bytes;
  if (b.length < AEAD_FILE_MAGIC.length || AEAD_FILE_MAGIC.some((c, i) => b[i] !== c)) {
    throw new TeeError('E_FORMAT', `${source} is not a tee-offload encrypted file (no TEEOAEAD magic)`);
  }
  const bad = (why: string): never => {
    throw new TeeError('E_FORMAT', `${source}: bad encrypted-file header: ${why}`);
  };
  if (b.length < FIXED_HEADER_BYTES)
    bad(`truncated (${b.length} of at least ${FIXED_HEADER_BYTES + MAC_BYTES} bytes)`);
  const version = b[8]!;
  if (version !== AEAD_FILE_VERSION) {
    throw new TeeError(
      'E_FORMAT',
      `${source}: unsupported encrypted-file version ${version} (this build reads version ${AEAD_FILE_VERSION})`,
    );
  }
  const flags = b[9]!;
  if ((flags & ~KNOWN_FLAGS) !== 0) bad(`unknown flags 0x${flags.toString(16).padStart(2, '0')}`);
  const idLen = b[10]!;
  if (idLen > MAX_KEY_ID_BYTES) bad(`key id of ${idLen} bytes (at most ${MAX_KEY_ID_BYTES})`);
  if (b[11] !== 0) bad('reserved byte 11 is not 0');
  const chunkSize = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(12);
  if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
    bad(`chunk size ${chunkSize} is outside ${MIN_CHUNK_SIZE}..${MAX_CHUNK_SIZE}`);
  }
  const headerBytes = FIXED_HEADER_BYTES + idLen + MAC_BYTES;
  if (b.length < headerBytes) bad(`truncated (${b.length} of ${headerBytes} bytes)`);
  const id = b.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + idLen);
  if (id.some((c) => c < 0x20 || c > 0x7e)) bad('the key id is not printable ASCII');
  return {
    version,
    chunkSize,
    keyId: idLen === 0 ? undefined : new TextDecoder().decode(id),
    sealed: (flags & FLAG_SEALED) !== 0,
    insecureKey: (flags & FLAG_INSECURE_KEY) !== 0,
    salt: b.slice(16, 16 + SALT_BYTES),
    noncePrefix: b.slice(32, 32 + PREFIX_BYTES),
    headerBytes,
  };
}

export interface AeadOpenOptions {
  /** When both this and the header's key id are set and differ, fail early with a clear E_AUTH. */
  readonly expectedKeyId?: string;
}

interface Reader {
  readonly header: AeadFileHeader;
  readonly cipher: ChunkCipher;
  readonly keys: FileKeys;
}

/** Parses the header and checks its MAC with `key`: the header is authentic or this throws E_AUTH. */
function openHeader(key: Uint8Array, bytes: Uint8Array, source: string, o: AeadOpenOptions): Reader {
  checkKey(key);
  const header = parseAeadFileHeader(bytes, source);
  if (o.expectedKeyId !== undefined && header.keyId !== undefined && header.keyId !== o.expectedKeyId) {
    throw new TeeError(
      'E_AUTH',
      `${source} was encrypted with key ${header.keyId}, but the key given is ${o.expectedKeyId}`,
    );
  }
  const h = bytes.subarray(0, header.headerBytes);
  const keys = new FileKeys(key, header.salt);
  const macAt = header.headerBytes - MAC_BYTES;
  const mac = headerMac(keys, h.subarray(0, macAt));
  if (!timingSafeEqual(mac, h.subarray(macAt))) {
    keys.dispose();
    throw new TeeError(
      'E_AUTH',
      `${source}: header failed authentication (wrong key, or the header was modified)`,
    );
  }
  return { header, keys, cipher: new ChunkCipher(keys, h, header.noncePrefix, source) };
}

/** Number of chunks for `n` plaintext bytes: every chunk but the last is full; the last is shorter. */
export function chunkCount(n: number, chunkSize: number): number {
  return Math.floor(n / chunkSize) + 1;
}

/** Size of the encrypted form of `n` plaintext bytes. */
export function encryptedSize(n: number, options: AeadFileOptions = {}): number {
  const { chunkSize, keyId } = checkOptions(options);
  return FIXED_HEADER_BYTES + keyId.length + MAC_BYTES + n + TAG_BYTES * chunkCount(n, chunkSize);
}

/**
 * Plaintext size of `total` encrypted bytes after a header, or the E_AUTH error of a body whose
 * length no untampered file has (a missing last chunk, a chunk cut short).
 */
function plaintextSizeOf(total: number, header: AeadFileHeader, source: string): number {
  const body = total - header.headerBytes;
  const full = header.chunkSize + TAG_BYTES;
  const fullChunks = Math.floor(body / full);
  const rest = body - fullChunks * full;
  if (rest < TAG_BYTES) throw truncated(source, fullChunks, rest);
  return fullChunks * header.chunkSize + rest - TAG_BYTES;
}

/** Encrypts a small payload in memory (the whole result is one Buffer). */
export function encryptBuffer(
  key: Uint8Array,
  plaintext: Uint8Array,
  options: AeadFileOptions = {},
): Uint8Array {
  const w = newWriter(key, options, 'buffer');
  try {
    const n = chunkCount(plaintext.byteLength, w.chunkSize);
    const out = new Uint8Array(w.header.length + plaintext.byteLength + TAG_BYTES * n);
    out.set(w.header, 0);
    let at = w.header.length;
    for (let i = 0; i < n; i++) {
      const start = i * w.chunkSize;
      const end = Math.min(start + w.chunkSize, plaintext.byteLength);
      const [ct, tag] = w.cipher.seal(i, i === n - 1, plaintext.subarray(start, end));
      out.set(ct, at);
      out.set(tag, at + ct.length);
      at += ct.length + TAG_BYTES;
    }
    return out;
  } finally {
    w.keys.dispose();
  }
}

/**
 * Decrypts a whole encrypted payload in memory. Returns the plaintext only once every chunk
 * verified; on any failure the partial plaintext is wiped and E_AUTH (or E_FORMAT) is thrown.
 */
export function decryptBuffer(
  key: Uint8Array,
  data: Uint8Array,
  source = 'encrypted buffer',
  options: AeadOpenOptions = {},
): Uint8Array {
  const r = openHeader(key, data, source, options);
  const out = new Uint8Array(plaintextSizeOf(data.byteLength, r.header, source));
  try {
    const cs = r.header.chunkSize;
    const n = chunkCount(out.length, cs);
    let at = r.header.headerBytes;
    for (let i = 0; i < n; i++) {
      const len = Math.min(cs, out.length - i * cs) + TAG_BYTES;
      const plain = r.cipher.open(i, i === n - 1, data.subarray(at, at + len));
      out.set(plain, i * cs);
      wipe(plain);
      at += len;
    }
    return out;
  } catch (e) {
    wipe(out);
    throw e;
  } finally {
    r.keys.dispose();
  }
}

// ---- files ------------------------------------------------------------------------------------

function ioError(what: string, path: string, e: unknown): TeeError {
  if (e instanceof TeeError) return e;
  return new TeeError('E_IO', `cannot ${what} ${path}: ${(e as Error).message}`, { cause: e });
}

/** Reads until `len` bytes or end of file; returns the count read. */
async function readFull(fh: FileHandle, buf: Uint8Array, len: number, position: number): Promise<number> {
  let n = 0;
  while (n < len) {
    const { bytesRead } = await fh.read(buf, n, len - n, position + n);
    if (bytesRead === 0) break;
    n += bytesRead;
  }
  return n;
}

async function writeAll(fh: FileHandle, bufs: Uint8Array[]): Promise<void> {
  for (const b of bufs) {
    let off = 0;
    while (off < b.length) off += (await fh.write(b, off, b.length - off)).bytesWritten;
  }
}

/** A temp file next to `path`, renamed over it by commit(), removed by abort(). */
class AtomicOutput {
  private fh: FileHandle | undefined;
  private readonly tmp: string;
  private constructor(private readonly path: string) {
    this.tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  }
  static async create(path: string, mode: number): Promise<AtomicOutput> {
    const o = new AtomicOutput(path);
    try {
      o.fh = await open(o.tmp, 'wx', mode);
    } catch (e) {
      throw ioError('write', path, e);
    }
    return o;
  }
  async write(bufs: Uint8Array[]): Promise<void> {
    try {
      await writeAll(this.fh!, bufs);
    } catch (e) {
      throw ioError('write', this.path, e);
    }
  }
  async commit(): Promise<void> {
    try {
      await this.fh!.sync();
      await this.fh!.close();
      this.fh = undefined;
      await rename(this.tmp, this.path);
    } catch (e) {
      throw ioError('write', this.path, e);
    }
    try {
      const d = await open(dirname(this.path), 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    } catch {
      // directory fsync is not supported everywhere; the rename already happened
    }
  }
  async abort(): Promise<void> {
    if (this.fh !== undefined) await this.fh.close().catch(() => {});
    this.fh = undefined;
    await unlink(this.tmp).catch(() => {});
  }
}

async function openInput(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (e) {
    throw ioError('read', path, e);
  }
}

/**
 * Encrypts `inPath` to `outPath` in constant memory (two chunk buffers). The output appears
 * atomically (temp file, fsync, rename) and only once complete; on failure nothing is left.
 */
export async function encryptFile(
  key: Uint8Array,
  inPath: string,
  outPath: string,
  options: AeadFileOptions = {},
): Promise<AeadFileResult> {
  const w = newWriter(key, options, inPath);
  const cs = w.chunkSize;
  const input = await openInput(inPath).catch((e) => {
    w.keys.dispose();
    throw e;
  });
  let out: AtomicOutput | undefined;
  // Two buffers: the next chunk is read while the current one is encrypted and written.
  const bufs = [new Uint8Array(cs), new Uint8Array(cs)];
  let pending: Promise<number> | undefined;
  try {
    out = await AtomicOutput.create(outPath, 0o644);
    await out.write([w.header]);
    let pos = 0;
    let index = 0;
    pending = readFull(input, bufs[0]!, cs, 0);
    for (;;) {
      let n: number;
      try {
        n = await pending;
      } catch (e) {
        throw ioError('read', inPath, e);
      }
      const cur = bufs[index % 2]!;
      pos += n;
      const last = n < cs;
      if (!last) pending = readFull(input, bufs[(index + 1) % 2]!, cs, pos);
      const [ct, tag] = w.cipher.seal(index, last, cur.subarray(0, n));
      await out.write([ct, tag]);
      index++;
      if (last) break;
    }
    await out.commit();
    return { plaintextBytes: pos, encryptedBytes: w.header.length + pos + TAG_BYTES * index, chunks: index };
  } catch (e) {
    await pending?.catch(() => 0);
    await out?.abort();
    throw e;
  } finally {
    wipe(...bufs);
    w.keys.dispose();
    await input.close().catch(() => {});
  }
}

async function readHeader(input: FileHandle, path: string): Promise<Uint8Array> {
  const max = FIXED_HEADER_BYTES + MAX_KEY_ID_BYTES + MAC_BYTES;
  const buf = new Uint8Array(max);
  let n: number;
  try {
    n = await readFull(input, buf, max, 0);
  } catch (e) {
    throw ioError('read', path, e);
  }
  return buf.subarray(0, n);
}

/**
 * Calls `sink` with each chunk's plaintext, in order, each only after its tag verified; the
 * buffer passed to `sink` is wiped as soon as it returns. Reads one chunk ahead of decryption.
 */
async function decryptChunks(
  key: Uint8Array,
  input: FileHandle,
  path: string,
  options: AeadOpenOptions,
  sink: (plain: Uint8Array, index: number) => Promise<void> | void,
  onHeader?: (header: AeadFileHeader) => void,
): Promise<AeadFileResult> {
  const r = openHeader(key, await readHeader(input, path), path, options);
  const full = r.header.chunkSize + TAG_BYTES;
  const bufs = [new Uint8Array(full), new Uint8Array(full)];
  let pending: Promise<number> | undefined;
  try {
    onHeader?.(r.header);
    let pos = r.header.headerBytes;
    let plaintextBytes = 0;
    let index = 0;
    pending = readFull(input, bufs[0]!, full, pos);
    for (;;) {
      let n: number;
      try {
        n = await pending;
      } catch (e) {
        throw ioError('read', path, e);
      }
      pos += n;
      // A full-size chunk is never the last one (the last chunk holds fewer than chunkSize bytes),
      // so the flag needs no look-ahead: a reader that finds end-of-file after a full chunk has
      // a file whose last chunk was cut off.
      const last = n < full;
      if (!last) pending = readFull(input, bufs[(index + 1) % 2]!, full, pos);
      const plain = r.cipher.open(index, last, bufs[index % 2]!.subarray(0, n));
      try {
        await sink(plain, index);
      } finally {
        wipe(plain);
      }
      plaintextBytes += n - TAG_BYTES;
      index++;
      if (last) return { plaintextBytes, encryptedBytes: pos, chunks: index };
    }
  } finally {
    // A read-ahead may still be in flight after a failure: let it land before wiping its buffer.
    await pending?.catch(() => 0);
    wipe(...bufs);
    r.keys.dispose();
  }
}

/**
 * Decrypts `inPath` to `outPath` in constant memory. Verified chunks go to a temp file (mode 0600)
 * that is renamed to `outPath` only after the last chunk verified; on any failure the temp file is
 * removed, so no partial plaintext file remains and an existing `outPath` is left untouched.
 */
export async function decryptFile(
  key: Uint8Array,
  inPath: string,
  outPath: string,
  options: AeadOpenOptions = {},
): Promise<AeadFileResult> {
  checkKey(key);
  const input = await openInput(inPath);
  let out: AtomicOutput | undefined;
  try {
    out = await AtomicOutput.create(outPath, 0o600);
    const o = out;
    const result = await decryptChunks(key, input, inPath, options, (plain) => o.write([plain]));
    await out.commit();
    return result;
  } catch (e) {
    await out?.abort();
    throw e;
  } finally {
    await input.close().catch(() => {});
  }
}

/**
 * Decrypts an encrypted file into one Buffer (for the trusted process: datasets and weights that
 * were uploaded encrypted). Memory: the plaintext plus two chunks. The Buffer is returned only
 * once every chunk verified; on failure what was decrypted so far is wiped.
 */
export async function decryptToBuffer(
  key: Uint8Array,
  path: string,
  options: AeadOpenOptions = {},
): Promise<Uint8Array> {
  checkKey(key);
  const input = await openInput(path);
  let out: Uint8Array | undefined;
  try {
    let size: number;
    try {
      size = (await input.stat()).size;
    } catch (e) {
      throw ioError('read', path, e);
    }
    let buf = new Uint8Array(0);
    let at = 0;
    const sized = (header: AeadFileHeader) => {
      // Sized from stat() once the header is authentic (so that a wrong key reads as one).
      const n = plaintextSizeOf(size, header, path);
      if (n > buffer.constants.MAX_LENGTH) {
        throw new TeeError('E_IO', `${path}: ${n} plaintext bytes do not fit in one Buffer; use decryptFile`);
      }
      buf = new Uint8Array(n);
      out = buf;
    };
    await decryptChunks(
      key,
      input,
      path,
      options,
      (plain) => {
        // The file may have changed since stat(): never write past the Buffer sized from it.
        if (at + plain.length > buf.length)
          throw new TeeError('E_IO', `${path} changed while it was being decrypted`);
        buf.set(plain, at);
        at += plain.length;
      },
      sized,
    );
    if (at !== buf.length) throw new TeeError('E_IO', `${path} changed while it was being decrypted`);
    return buf;
  } catch (e) {
    wipe(out);
    throw e;
  } finally {
    await input.close().catch(() => {});
  }
}

/** Reads and parses the (not yet authenticated) header of an encrypted file: key id, flags, chunk size. */
export async function readAeadFileHeader(path: string): Promise<AeadFileHeader> {
  const input = await openInput(path);
  try {
    return parseAeadFileHeader(await readHeader(input, path), path);
  } finally {
    await input.close().catch(() => {});
  }
}
