// safetensors (https://github.com/huggingface/safetensors): u64 LE header length N, N bytes of
// UTF-8 JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}},
// then the data section. Reading treats the file as hostile: every declared length and offset is
// checked before use, and the tensors must tile the data section exactly (no gaps, overlaps or
// leftover bytes). Writing keeps the caller's (insertion) order for the header and the data, and
// pads the header with spaces to a multiple of 8 bytes as the reference implementation does.
import { readFileSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { dtypeSize, isSafeDType, type SafeTensor, shapeNumel } from './safe-tensor.js';

export interface SafetensorsContents {
  /** In header order. Each tensor's data is a view into the file's bytes. */
  readonly tensors: Map<string, SafeTensor>;
  readonly metadata: Record<string, string>;
}

/** Largest JSON header accepted (the reference implementation uses the same 100 MB cap). */
export const MAX_HEADER_BYTES = 100_000_000;

function fail(source: string, msg: string): never {
  throw new TeeError('E_FORMAT', `${source}: ${msg}`);
}

/** Top-level keys of a JSON object in textual order, to catch duplicates JSON.parse would merge. */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      const start = i;
      for (i++; json[i] !== '"'; i++) if (json[i] === '\\') i++;
      if (depth === 1 && expectKey) keys.push(JSON.parse(json.slice(start, i + 1)) as string);
      expectKey = false;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1;
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface Placed {
  name: string;
  tensor: Omit<SafeTensor, 'data'>;
  begin: number;
  end: number;
}

/** Parses a whole safetensors file held in memory; `source` names it in error messages. */
export function parseSafetensors(input: Uint8Array, source = 'safetensors buffer'): SafetensorsContents {
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength); // plain views, not Buffers
  if (bytes.byteLength < 8) fail(source, `truncated: ${bytes.byteLength} bytes, the header length needs 8`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    fail(source, `header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  const n = Number(declared);
  if (8 + n > bytes.byteLength) {
    fail(source, `truncated: header declares ${n} bytes but only ${bytes.byteLength - 8} follow`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    fail(source, 'header is not valid UTF-8');
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail(source, 'header is not a JSON object');
  const keys = topLevelKeys(text);
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k)) fail(source, `duplicate tensor name "${k}"`);
    seen.add(k);
  }

  const metadata: Record<string, string> = {};
  const placed: Placed[] = [];
  for (const name of keys) {
    const info = header[name];
    if (name === '__metadata__') {
      if (!isPlainObject(info)) fail(source, '__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') fail(source, `__metadata__ value of "${k}" is not a string`);
        Object.defineProperty(metadata, k, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      continue;
    }
    const where = `tensor "${name}"`;
    if (!isPlainObject(info)) fail(source, `${where}: entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = info;
    if (!isSafeDType(dtype)) fail(source, `${where}: unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(source, `${where}: shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(source, `${where}: data_offsets ${JSON.stringify(offsets)} is not [begin, end] with begin <= end`);
    }
    const numel = shapeNumel(shape);
    const span = offsets[1] - offsets[0];
    if (numel < 0 || numel * dtypeSize(dtype) !== span) {
      fail(source, `${where}: shape [${shape}] of ${dtype} does not match its ${span}-byte span`);
    }
    placed.push({ name, tensor: { dtype, shape: [...shape] }, begin: offsets[0], end: offsets[1] });
  }

  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const byOffset = [...placed].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const p of byOffset) {
    if (p.begin !== cursor) {
      fail(
        source,
        p.begin < cursor
          ? `tensor "${p.name}": data_offsets [${p.begin}, ${p.end}] overlap the previous tensor`
          : `tensor "${p.name}": gap before data_offsets [${p.begin}, ${p.end}]`,
      );
    }
    if (p.end > dataLen) {
      fail(source, `tensor "${p.name}": data_offsets end ${p.end} is past the ${dataLen}-byte data section`);
    }
    cursor = p.end;
  }
  if (cursor !== dataLen)
    fail(source, `data section has ${dataLen - cursor} bytes not covered by any tensor`);

  const tensors = new Map<string, SafeTensor>();
  for (const p of placed) {
    tensors.set(p.name, { ...p.tensor, data: bytes.subarray(dataStart + p.begin, dataStart + p.end) });
  }
  return { tensors, metadata };
}

export function readSafetensorsFile(path: string): SafetensorsContents {
  let bytes: Uint8Array;
  try {
    const b = readFileSync(path);
    bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseSafetensors(bytes, path);
}

type TensorSource = ReadonlyMap<string, SafeTensor> | Iterable<readonly [string, SafeTensor]>;

/** The header and data chunks of a safetensors file, tensors in the caller's order. */
export function encodeSafetensors(
  tensors: TensorSource,
  metadata: Record<string, string> = {},
): Uint8Array[] {
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named __proto__
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new TypeError(`metadata value of "${k}" must be a string`);
    }
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === '__metadata__') throw new TypeError('"__metadata__" is not a valid tensor name');
    if (Object.hasOwn(header, name)) throw new TypeError(`duplicate tensor name "${name}"`);
    const numel = shapeNumel(t.shape);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0) || numel < 0) {
      throw new RangeError(`tensor "${name}": invalid shape [${t.shape}]`);
    }
    if (numel * dtypeSize(t.dtype) !== t.data.byteLength) {
      throw new RangeError(
        `tensor "${name}": ${t.data.byteLength} bytes do not match shape [${t.shape}] of ${t.dtype}`,
      );
    }
    header[name] = {
      dtype: t.dtype,
      shape: [...t.shape],
      data_offsets: [offset, offset + t.data.byteLength],
    };
    chunks.push(t.data);
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  let jsonBytes = new TextEncoder().encode(json);
  const pad = (8 - (jsonBytes.byteLength % 8)) % 8;
  if (pad > 0) {
    json += ' '.repeat(pad);
    jsonBytes = new TextEncoder().encode(json);
  }
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  return [len, jsonBytes, ...chunks];
}

/** A complete safetensors file in one buffer. */
export function serializeSafetensors(
  tensors: TensorSource,
  metadata: Record<string, string> = {},
): Uint8Array {
  const chunks = encodeSafetensors(tensors, metadata);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** Writes atomically (temp file, fsync, rename); tensors are stored in the caller's order. */
export function writeSafetensorsFile(
  path: string,
  tensors: TensorSource,
  metadata: Record<string, string> = {},
): void {
  writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
