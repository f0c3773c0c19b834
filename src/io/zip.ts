// A minimal ZIP reader (PKWARE APPNOTE 6.3.x) for PyTorch checkpoints: end of central directory
// (ZIP64 when the classic fields overflow), central directory, local headers; stored and deflated
// entries; CRC-32 checked. Archives are hostile input: every offset and length is bounds-checked
// before use, the central directory is authoritative (PyTorch sets bit 3 and zeroes local sizes),
// and inflation is capped at the declared size. No encryption, no multi-disk archives.
import { inflateRawSync } from 'node:zlib';
import { TeeError } from '../errors.js';
import { crc32 } from './crc32.js';

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

export interface ZipArchive {
  readonly source: string;
  readonly bytes: Uint8Array;
  /** By name, in central-directory order. */
  readonly entries: Map<string, ZipEntry>;
  /** Where the central directory starts: every entry's data must end before it. */
  readonly centralDirectoryOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const EOCD_SIZE = 22;
/** Deflate cannot expand by more than about 1032:1; a larger declared size is a lie (or a bomb). */
const MAX_DEFLATE_RATIO = 1032;

/** True when the bytes start like a ZIP archive (a local header or an empty archive's EOCD). */
export function looksLikeZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && (bytes[2] === 3 || bytes[2] === 5);
}

class Reader {
  readonly view: DataView;
  constructor(
    readonly bytes: Uint8Array,
    readonly source: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  fail(msg: string): never {
    throw new TeeError('E_FORMAT', `${this.source}: ${msg}`);
  }
  need(offset: number, length: number, what: string): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.bytes.length) {
      this.fail(
        `truncated or corrupt archive: ${what} at ${offset} (+${length}) is outside the ${this.bytes.length}-byte file`,
      );
    }
  }
  u16(o: number): number {
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    return this.view.getUint32(o, true);
  }
  u64(o: number, what: string): number {
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} ${v} is too large`);
    return Number(v);
  }
}

function findEocd(r: Reader): number {
  const min = Math.max(0, r.bytes.length - EOCD_SIZE - 0xffff);
  for (let p = r.bytes.length - EOCD_SIZE; p >= min; p--) {
    if (r.u32(p) === SIG_EOCD && p + EOCD_SIZE + r.u16(p + 20) === r.bytes.length) return p;
  }
  return r.fail('not a ZIP archive or truncated (no end-of-central-directory record)');
}

interface Directory {
  count: number;
  size: number;
  offset: number;
}

function readDirectoryLocation(r: Reader, eocd: number): Directory {
  const disk = r.u16(eocd + 4);
  const cdDisk = r.u16(eocd + 6);
  let count = r.u16(eocd + 10);
  let size = r.u32(eocd + 12);
  let offset = r.u32(eocd + 16);
  if (count === 0xffff || size === 0xffffffff || offset === 0xffffffff) {
    const loc = eocd - 20;
    r.need(loc, 20, 'ZIP64 locator');
    if (r.u32(loc) !== SIG_ZIP64_LOCATOR) r.fail('ZIP64 fields set but no ZIP64 locator');
    const z = r.u64(loc + 8, 'ZIP64 record offset');
    r.need(z, 56, 'ZIP64 end of central directory');
    if (r.u32(z) !== SIG_ZIP64_EOCD) r.fail('bad ZIP64 end-of-central-directory signature');
    if (r.u32(z + 16) !== 0 || r.u32(z + 20) !== 0) r.fail('multi-disk archives are not supported');
    count = r.u64(z + 32, 'entry count');
    size = r.u64(z + 40, 'central directory size');
    offset = r.u64(z + 48, 'central directory offset');
  } else if (disk !== 0 || cdDisk !== 0) r.fail('multi-disk archives are not supported');
  r.need(offset, size, 'central directory');
  if (offset + size > eocd) r.fail('central directory overlaps the end record');
  return { count, size, offset };
}

/** ZIP64 extended information (0x0001): 64-bit values for the fields set to 0xFFFFFFFF, in order. */
function zip64Extra(
  r: Reader,
  start: number,
  end: number,
  want: { size: boolean; csize: boolean; offset: boolean },
) {
  const out: { size?: number; csize?: number; offset?: number } = {};
  for (let p = start; p + 4 <= end; ) {
    const id = r.u16(p);
    const len = r.u16(p + 2);
    if (p + 4 + len > end) r.fail('extra field runs past its record');
    if (id === 0x0001) {
      let q = p + 4;
      const take = (what: string): number => {
        if (q + 8 > p + 4 + len) r.fail('ZIP64 extra field is too short');
        const v = r.u64(q, what);
        q += 8;
        return v;
      };
      if (want.size) out.size = take('entry size');
      if (want.csize) out.csize = take('compressed size');
      if (want.offset) out.offset = take('local header offset');
      return out;
    }
    p += 4 + len;
  }
  return r.fail('ZIP64 sizes announced but no ZIP64 extra field');
}

/** Parses the directory of a ZIP archive held in memory; `source` names it in error messages. */
export function openZip(bytes: Uint8Array, source = 'zip archive'): ZipArchive {
  const r: Reader = new Reader(bytes, source);
  if (bytes.length < EOCD_SIZE) r.fail(`truncated: ${bytes.length} bytes is too short for a ZIP archive`);
  const dir = readDirectoryLocation(r, findEocd(r));
  const entries = new Map<string, ZipEntry>();
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const latin1 = new TextDecoder('latin1');
  let p = dir.offset;
  const end = dir.offset + dir.size;
  for (let i = 0; i < dir.count; i++) {
    if (p + 46 > end) r.fail(`central directory holds fewer than the ${dir.count} entries it declares`);
    if (r.u32(p) !== SIG_CENTRAL) r.fail(`bad central directory signature at ${p}`);
    const flags = r.u16(p + 8);
    const method = r.u16(p + 10);
    const crc = r.u32(p + 16);
    let csize = r.u32(p + 20);
    let size = r.u32(p + 24);
    const nameLen = r.u16(p + 28);
    const extraLen = r.u16(p + 30);
    const commentLen = r.u16(p + 32);
    let offset = r.u32(p + 42);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > end) r.fail(`central directory entry ${i} runs past the directory`);
    let name: string;
    try {
      name = (flags & 0x800 ? utf8 : latin1).decode(bytes.subarray(p + 46, p + 46 + nameLen));
    } catch {
      r.fail(`entry ${i} has a name that is not valid UTF-8`);
    }
    if (flags & 0x1) r.fail(`entry "${name}" is encrypted`);
    if (method !== 0 && method !== 8) r.fail(`entry "${name}" uses unsupported compression method ${method}`);
    if (csize === 0xffffffff || size === 0xffffffff || offset === 0xffffffff) {
      const x = zip64Extra(r, p + 46 + nameLen, p + 46 + nameLen + extraLen, {
        size: size === 0xffffffff,
        csize: csize === 0xffffffff,
        offset: offset === 0xffffffff,
      });
      size = x.size ?? size;
      csize = x.csize ?? csize;
      offset = x.offset ?? offset;
    }
    if (method === 0 && csize !== size)
      r.fail(`stored entry "${name}" has compressed size ${csize} != size ${size}`);
    if (entries.has(name)) r.fail(`duplicate entry name "${name}"`);
    entries.set(name, { name, method, crc32: crc, compressedSize: csize, size, localHeaderOffset: offset });
    p = next;
  }
  if (p !== end) r.fail(`central directory has ${end - p} bytes after its last entry`);
  return { source, bytes, entries, centralDirectoryOffset: dir.offset };
}

export interface ReadEntryOptions {
  /** Refuse entries whose declared size is larger (default: Node's largest Buffer). */
  readonly maxBytes?: number;
}

/** The entry's uncompressed bytes (a view into the archive for stored entries), CRC-checked. */
export function readZipEntry(zip: ZipArchive, entry: ZipEntry, options: ReadEntryOptions = {}): Uint8Array {
  const r: Reader = new Reader(zip.bytes, zip.source);
  const what = `entry "${entry.name}"`;
  const limit = Math.min(options.maxBytes ?? Number.MAX_SAFE_INTEGER, 2 ** 32 - 1);
  if (entry.size > limit) r.fail(`${what} declares ${entry.size} bytes, over the ${limit}-byte limit`);
  const h = entry.localHeaderOffset;
  r.need(h, 30, `local header of ${what}`);
  if (r.u32(h) !== SIG_LOCAL) r.fail(`bad local header signature for ${what}`);
  const nameLen = r.u16(h + 26);
  const extraLen = r.u16(h + 28);
  r.need(h + 30, nameLen + extraLen, `local header of ${what}`);
  const localFlags = r.u16(h + 6);
  const localName = new TextDecoder(localFlags & 0x800 ? 'utf-8' : 'latin1').decode(
    zip.bytes.subarray(h + 30, h + 30 + nameLen),
  );
  if (localName !== entry.name) r.fail(`local header name does not match ${what}`);
  const start = h + 30 + nameLen + extraLen;
  r.need(start, entry.compressedSize, `data of ${what}`);
  if (start + entry.compressedSize > zip.centralDirectoryOffset)
    r.fail(`data of ${what} overlaps the central directory`);
  const raw = zip.bytes.subarray(start, start + entry.compressedSize);
  let out: Uint8Array;
  if (entry.method === 0) out = raw;
  else {
    if (entry.size > entry.compressedSize * MAX_DEFLATE_RATIO + 64) {
      r.fail(
        `${what} declares ${entry.size} bytes from ${entry.compressedSize} compressed: impossible for deflate`,
      );
    }
    try {
      const b = inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) });
      out = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    } catch (e) {
      r.fail(`${what} does not inflate: ${(e as Error).message}`);
    }
    if (out.length !== entry.size)
      r.fail(`${what} inflates to ${out.length} bytes, not the declared ${entry.size}`);
  }
  if (crc32(out) !== entry.crc32) r.fail(`${what} fails its CRC-32 check`);
  return out;
}
