// A minimal reader for POSIX ustar / GNU tar archives held in memory (enough for cifar-10-binary.tar.gz):
// regular files and directories, GNU long names ('L') and pax 'path' records ('x'); other entry kinds are
// skipped. Every header checksum, size field and data span is checked before use (E_FORMAT).
import { TeeError } from '../errors.js';

export interface TarEntry {
  /** The path inside the archive, as stored (never used as a filesystem path by this module). */
  readonly name: string;
  readonly type: 'file' | 'directory' | 'other';
  /** A view of the entry's bytes (no copy). */
  readonly data: Uint8Array;
}

const BLOCK = 512;

function text(bytes: Uint8Array, from: number, len: number): string {
  let end = from;
  while (end < from + len && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(from, end));
}

function octal(bytes: Uint8Array, from: number, len: number, what: string, source: string): number {
  const s = text(bytes, from, len).trim();
  if (!/^[0-7]+$/.test(s)) throw new TeeError('E_FORMAT', `${source}: bad tar ${what} field "${s}"`);
  const v = Number.parseInt(s, 8);
  if (!Number.isSafeInteger(v)) throw new TeeError('E_FORMAT', `${source}: tar ${what} field out of range`);
  return v;
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** The value of the pax record `key` in an extended header, if present. */
function paxValue(data: Uint8Array, key: string): string | undefined {
  const s = new TextDecoder().decode(data);
  let i = 0;
  while (i < s.length) {
    const space = s.indexOf(' ', i);
    const len = Number.parseInt(s.slice(i, space), 10);
    if (space < 0 || !Number.isInteger(len) || len <= 0) return undefined;
    const record = s.slice(space + 1, i + len - 1);
    const eq = record.indexOf('=');
    if (record.slice(0, eq) === key) return record.slice(eq + 1);
    i += len;
  }
  return undefined;
}

/** Lists the entries of an uncompressed tar archive; `source` names it in error messages. */
export function readTar(bytes: Uint8Array, source = 'tar archive'): TarEntry[] {
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  let offset = 0;
  for (;;) {
    if (offset === bytes.length) break; // some writers omit the two zero blocks
    if (offset + BLOCK > bytes.length) {
      throw new TeeError('E_FORMAT', `${source}: truncated tar header at byte ${offset}`);
    }
    if (isZeroBlock(bytes, offset)) break;
    const declared = octal(bytes, offset + 148, 8, 'checksum', source);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : bytes[offset + i]!;
    if (sum !== declared) {
      throw new TeeError('E_FORMAT', `${source}: tar header checksum mismatch at byte ${offset}`);
    }
    const size = octal(bytes, offset + 124, 12, 'size', source);
    const start = offset + BLOCK;
    if (start + size > bytes.length) {
      throw new TeeError(
        'E_FORMAT',
        `${source}: truncated tar entry at byte ${offset}: ${size} bytes declared, ${bytes.length - start} present`,
      );
    }
    const data = bytes.subarray(start, start + size);
    const flag = String.fromCharCode(bytes[offset + 156]!);
    let name = text(bytes, offset, 100);
    if (text(bytes, offset + 257, 5) === 'ustar') {
      const prefix = text(bytes, offset + 345, 155);
      if (prefix !== '') name = `${prefix}/${name}`;
    }
    offset = start + Math.ceil(size / BLOCK) * BLOCK;
    if (flag === 'L') {
      longName = text(data, 0, data.length);
      continue;
    }
    if (flag === 'x') {
      longName = paxValue(data, 'path') ?? longName;
      continue;
    }
    if (flag === 'g') continue;
    if (longName !== undefined) {
      name = longName;
      longName = undefined;
    }
    const type = flag === '0' || flag === '\0' ? 'file' : flag === '5' ? 'directory' : 'other';
    entries.push({ name, type, data });
  }
  return entries;
}
