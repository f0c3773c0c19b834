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
export const DEFAULT_CHUNK_SIZE = 256 * 1024;
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
  /** Plaintext bytes per chunk, 16 B … 16 MiB (default 256 KiB). */
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
  /** What error messages call the input (default: its path; e.g. an upload's name for a temp file). */
  readonly label?: string;
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

export interface OutputOption {
  /**
   * Where to write the result instead of a new array: exactly the result's size (encryptedSize(n)
   * for encryptBuffer, the plaintext size for decryptBuffer). Saves allocating (and page-faulting)
   * fresh memory when the same size is processed again and again.
   */
  readonly output?: Uint8Array;
}

function outputOf(o: OutputOption, size: number): Uint8Array {
  if (o.output === undefined) return new Uint8Array(size);
  if (!(o.output instanceof Uint8Array) || o.output.byteLength !== size) {
    throw new RangeError(`output must be a Uint8Array of exactly ${size} bytes`);
  }
  return o.output;
}

/** Encrypts a payload in memory (the whole result is one array). */
export function encryptBuffer(
  key: Uint8Array,
  plaintext: Uint8Array,
  options: AeadFileOptions & OutputOption = {},
): Uint8Array {
  const w = newWriter(key, options, 'buffer');
  try {
    const n = chunkCount(plaintext.byteLength, w.chunkSize);
    const out = outputOf(options, w.header.length + plaintext.byteLength + TAG_BYTES * n);
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
  options: AeadOpenOptions & OutputOption = {},
): Uint8Array {
  const r = openHeader(key, data, source, options);
  let out: Uint8Array;
  try {
    out = outputOf(options, plaintextSizeOf(data.byteLength, r.header, source));
  } catch (e) {
    r.keys.dispose();
    throw e;
  }
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
// Files are read and written in blocks of several chunks (about 4 MiB) so that the cost of each
// asynchronous read and write is spread over many chunks; the next block is read while the current
// one is processed, and one write is in flight while the following block is processed. Memory is
// constant: two input blocks and the chunks of two output blocks.

/** Bytes of I/O per read, about: chunks are grouped until a block reaches this size. */
const IO_BLOCK_BYTES = 4 * 1024 * 1024;

/** Chunks per read or write of the file functions (exported for tests that cross block boundaries). */
export function chunksPerBlock(chunkSize: number): number {
  return Math.max(1, Math.floor(IO_BLOCK_BYTES / (chunkSize + TAG_BYTES)));
}

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
  let total = bufs.reduce((n, b) => n + b.byteLength, 0);
  let rest = bufs;
  while (total > 0) {
    let { bytesWritten } = await fh.writev(rest);
    total -= bytesWritten;
    // A short write: drop what was written and go on with the rest.
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (bytesWritten >= b.byteLength) bytesWritten -= b.byteLength;
      else {
        next.push(bytesWritten > 0 ? b.subarray(bytesWritten) : b);
        bytesWritten = 0;
      }
    }
    rest = next;
  }
}

/** A temp file next to `path`, renamed over it by commit(), removed by abort(). */
class AtomicOutput {
  private fh: FileHandle | undefined;
  private readonly tmp: string;
  private inflight: Promise<void> | undefined;
  private inflightDone: (() => void) | undefined;
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
  /** Waits for the previous write (then runs its `done`), and starts writing `bufs`. */
  async write(bufs: Uint8Array[], done?: () => void): Promise<void> {
    await this.drain();
    this.inflight = writeAll(this.fh!, bufs).catch((e) => {
      throw ioError('write', this.path, e);
    });
    this.inflightDone = done;
    this.inflight.catch(() => {});
  }
  /** Waits for the write in flight and runs its `done` (also when it failed). */
  async drain(): Promise<void> {
    const w = this.inflight;
    const done = this.inflightDone;
    this.inflight = undefined;
    this.inflightDone = undefined;
    try {
      await w;
    } finally {
      done?.();
    }
  }
  async commit(): Promise<void> {
    await this.drain();
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
    await this.drain().catch(() => {});
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

/** Reads blocks of `blockBytes` from `position` on, one block ahead, into two alternating buffers. */
class BlockReader {
  private readonly bufs: Uint8Array[];
  private pending: Promise<number> | undefined;
  private turn = 0;
  constructor(
    private readonly fh: FileHandle,
    private readonly path: string,
    private readonly blockBytes: number,
    private position: number,
  ) {
    this.bufs = [new Uint8Array(blockBytes), new Uint8Array(blockBytes)];
    this.pending = readFull(fh, this.bufs[0]!, blockBytes, position);
  }
  /** The next block (shorter than blockBytes only at end of file); the one after is read meanwhile. */
  async next(): Promise<Uint8Array> {
    let n: number;
    try {
      n = await this.pending!;
    } catch (e) {
      this.pending = undefined;
      throw ioError('read', this.path, e);
    }
    const buf = this.bufs[this.turn]!;
    this.position += n;
    this.turn ^= 1;
    this.pending =
      n === this.blockBytes
        ? readFull(this.fh, this.bufs[this.turn]!, this.blockBytes, this.position)
        : undefined;
    return buf.subarray(0, n);
  }
  get offset(): number {
    return this.position;
  }
  /** Lets a read in flight land, then wipes both buffers. */
  async dispose(): Promise<void> {
    await this.pending?.catch(() => 0);
    wipe(...this.bufs);
  }
}

/**
 * Encrypts `inPath` to `outPath` in constant memory. The output appears atomically (temp file,
 * fsync, rename) and only once complete; on failure nothing is left.
 */
export async function encryptFile(
  key: Uint8Array,
  inPath: string,
  outPath: string,
  options: AeadFileOptions = {},
): Promise<AeadFileResult> {
  const w = newWriter(key, options, inPath);
  const cs = w.chunkSize;
  let input: FileHandle | undefined;
  let reader: BlockReader | undefined;
  let out: AtomicOutput | undefined;
  try {
    input = await openInput(inPath);
    out = await AtomicOutput.create(outPath, 0o644);
    await out.write([w.header]);
    const per = chunksPerBlock(cs);
    reader = new BlockReader(input, inPath, per * cs, 0);
    let index = 0;
    for (;;) {
      const block = await reader.next();
      const eof = block.length < per * cs;
      const pieces: Uint8Array[] = [];
      // Full chunks are never last; at end of file the rest (possibly empty) is the last chunk.
      let at = 0;
      for (; at + cs <= block.length; at += cs)
        pieces.push(...w.cipher.seal(index++, false, block.subarray(at, at + cs)));
      if (eof) pieces.push(...w.cipher.seal(index++, true, block.subarray(at)));
      await out.write(pieces);
      if (eof) break;
    }
    await out.commit();
    const plaintextBytes = reader.offset;
    return {
      plaintextBytes,
      encryptedBytes: w.header.length + plaintextBytes + TAG_BYTES * index,
      chunks: index,
    };
  } catch (e) {
    await out?.abort();
    throw e;
  } finally {
    await reader?.dispose();
    w.keys.dispose();
    await input?.close().catch(() => {});
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
 * Calls `sink` with each block's verified plaintext chunks, in order: a chunk is passed on only
 * after its tag verified, and the chunks are wiped once `sink`'s promise settles.
 */
async function decryptChunks(
  key: Uint8Array,
  input: FileHandle,
  path: string,
  options: AeadOpenOptions,
  sink: (plain: Uint8Array[], done: () => void) => Promise<void>,
  onHeader?: (header: AeadFileHeader) => void,
): Promise<AeadFileResult> {
  const source = options.label ?? path;
  const r = openHeader(key, await readHeader(input, source), source, options);
  const full = r.header.chunkSize + TAG_BYTES;
  const per = chunksPerBlock(r.header.chunkSize);
  let reader: BlockReader | undefined;
  try {
    onHeader?.(r.header);
    reader = new BlockReader(input, path, per * full, r.header.headerBytes);
    let plaintextBytes = 0;
    let index = 0;
    for (;;) {
      const block = await reader.next();
      const eof = block.length < per * full;
      const plain: Uint8Array[] = [];
      try {
        let at = 0;
        for (; at + full <= block.length; at += full)
          plain.push(r.cipher.open(index++, false, block.subarray(at, at + full)));
        // A full-size chunk is never the last one (the last holds fewer than chunkSize bytes), so
        // end of file right after full chunks means the last chunk was cut off.
        if (eof) {
          const rest = block.length - at;
          if (rest < TAG_BYTES) throw truncated(source, index, rest);
          plain.push(r.cipher.open(index++, true, block.subarray(at)));
        }
      } catch (e) {
        wipe(...plain);
        throw e;
      }
      for (const p of plain) plaintextBytes += p.length;
      await sink(plain, () => wipe(...plain));
      if (eof) return { plaintextBytes, encryptedBytes: reader.offset, chunks: index };
    }
  } finally {
    await reader?.dispose();
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
    const result = await decryptChunks(key, input, inPath, options, (plain, done) => o.write(plain, done));
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
 * Decrypts an encrypted file into one array (for the trusted process: datasets and weights that
 * were uploaded encrypted). Memory: the plaintext plus two I/O blocks. The array is returned only
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
      async (plain, done) => {
        try {
          for (const p of plain) {
            // The file may have changed since stat(): never write past the array sized from it.
            if (at + p.length > buf.length)
              throw new TeeError('E_IO', `${path} changed while it was being decrypted`);
            buf.set(p, at);
            at += p.length;
          }
        } finally {
          done();
        }
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
