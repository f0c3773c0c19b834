// Payloads of the three frame types (docs/protocol.md): a request (op, arith, parameters, operands a and
// b), a result (compute time, one tensor) and an error (kind, message). Encoders return the frame as a
// list of Buffers whose tensor data are zero-copy views of the caller's typed arrays (write them with
// one cork/uncork); decoders validate every byte of a payload and return tensors as zero-copy views
// when the data is aligned to its element size (always, for payloads from FrameDecoder: float64 data
// is padded to an 8-byte offset within the payload) and as one copy otherwise.
import { endianness } from 'node:os';
import type { TeeError } from '../errors.js';
import { shapeStr } from '../tensor/tensor.js';
import { encodeHeader, FrameType, frameError, readU64, writeU64 } from './frame.js';
import { MAX_DIM, MAX_ERROR_MESSAGE_BYTES, MAX_RANK } from './limits.js';
import {
  type Arith,
  LINEAR_OPS,
  type LinearOpName,
  type LinearRequest,
  MODULUS_P,
  WIDE_RESULT_LIMIT,
  type WireTensor,
} from './linear-request.js';
import { outputShape } from './linear-shapes.js';

// Tensor data travel as raw little-endian bytes straight from typed arrays.
if (endianness() !== 'LE') throw new Error('tee-offload: the wire protocol needs a little-endian host');

export const DTYPE_F32 = 1;
export const DTYPE_I32 = 2;
/** Little-endian float64, 8 bytes per element: the results of arith wide (protocol 3). */
export const DTYPE_F64 = 3;
type Dtype = typeof DTYPE_F32 | typeof DTYPE_I32 | typeof DTYPE_F64;
const DTYPE_NAMES: Record<Dtype, string> = { [DTYPE_F32]: 'f32', [DTYPE_I32]: 'i32', [DTYPE_F64]: 'f64' };
const DTYPE_ARRAYS = { [DTYPE_F32]: Float32Array, [DTYPE_I32]: Int32Array, [DTYPE_F64]: Float64Array };
/** Largest centered representative: values of arith modp lie in [−HALF_P, HALF_P]. */
export const HALF_P = (MODULUS_P - 1) / 2;

const ARITH_IDS: Record<Arith, number> = { f32: 0, modp: 1, wide: 2 };
const ARITHS_BY_ID: readonly Arith[] = ['f32', 'modp', 'wide'];
const REQUEST_FIXED_BYTES = 32;
/** Request flags (protocol 2): keep b under its key; b comes from the cache (no data bytes). */
export const FLAG_STORE_B = 1;
export const FLAG_USE_B = 2;
/** Request flags (protocol 4): the same for a, under a key of its own. */
export const FLAG_STORE_A = 4;
export const FLAG_USE_A = 8;
const KNOWN_FLAGS = FLAG_STORE_B | FLAG_USE_B | FLAG_STORE_A | FLAG_USE_A;
const RESULT_FIXED_BYTES = 8;

export type RemoteErrorKind = 'frame' | 'compute';
const ERROR_KIND_IDS: Record<RemoteErrorKind, number> = { frame: 1, compute: 2 };

export interface DecodedResult {
  /** As the accelerator reports it: untrusted, informational. */
  readonly computeMs: number;
  readonly result: WireTensor;
}

export interface DecodedError {
  readonly kind: RemoteErrorKind;
  /** The peer's text with control characters replaced: safe to print. */
  readonly message: string;
}

/** The dtype of a request's operands: float32 for f32, int32 centered representatives otherwise. */
function operandDtype(arith: Arith): Dtype {
  return arith === 'f32' ? DTYPE_F32 : DTYPE_I32;
}

/** The dtype of a result: as the operands, except that a wide result is the exact product in float64. */
function resultDtype(arith: Arith): Dtype {
  return arith === 'wide' ? DTYPE_F64 : operandDtype(arith);
}

/**
 * Zero bytes between a tensor's header and its data: float64 data start at a multiple of 8 within the
 * payload, so that a payload at an 8-aligned address (FrameDecoder's) decodes to a zero-copy
 * Float64Array view. Every offset is a multiple of 4, so this is 0 or 4.
 */
function padBytes(dtype: Dtype, dataOffset: number): number {
  return dtype === DTYPE_F64 ? dataOffset % 8 : 0;
}

/** Header bytes of a tensor record whose header starts at payload offset `off` (padding included). */
function tensorHeaderBytes(rank: number, dtype: Dtype, off: number): number {
  const head = 12 + 4 * rank;
  return head + padBytes(dtype, off + head);
}

function checkTensor(t: WireTensor, dtype: Dtype, arith: Arith, what: string): void {
  if (t.shape.length > MAX_RANK)
    throw frameError(`${what}: rank ${t.shape.length} exceeds the maximum of ${MAX_RANK}`);
  let n = 1;
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0 || d > MAX_DIM) throw frameError(`${what}: invalid dimension ${d}`);
    n *= d;
  }
  const want = DTYPE_ARRAYS[dtype];
  if (!(t.data instanceof want)) throw frameError(`${what}: arith ${arith} needs a ${want.name}`);
  if (t.data.length !== n) {
    throw frameError(
      `${what}: shape ${shapeStr(t.shape)} needs ${n} elements, the data has ${t.data.length}`,
    );
  }
}

/** Writes a tensor header (and its padding, left zero: `b` comes from Buffer.alloc) at payload offset `at`. */
function writeTensorHeader(b: Buffer, off: number, at: number, t: WireTensor, dtype: Dtype): number {
  b.writeUInt8(t.shape.length, off);
  b.writeUInt8(dtype, off + 1);
  b.writeUInt16LE(0, off + 2);
  for (let i = 0; i < t.shape.length; i++) b.writeUInt32LE(t.shape[i]!, off + 4 + 4 * i);
  writeU64(b, off + 4 + 4 * t.shape.length, t.data.byteLength);
  return off + tensorHeaderBytes(t.shape.length, dtype, at);
}

function dataView(t: WireTensor): Buffer {
  return Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

/** Payload size of a request (without the 16-byte header); validates the request first (E_FRAME). */
export function requestPayloadBytes(req: LinearRequest): number {
  checkRequest(req);
  const dtype = operandDtype(req.arith);
  const bAt = REQUEST_FIXED_BYTES + tensorHeaderBytes(req.a.shape.length, dtype, 0) + aDataBytes(req);
  return bAt + tensorHeaderBytes(req.b.shape.length, dtype, bAt) + bDataBytes(req);
}

/** Data bytes of a on the wire: none when it comes from the accelerator's cache. */
function aDataBytes(req: LinearRequest): number {
  return req.aCache?.mode === 'use' ? 0 : req.a.data.byteLength;
}

function bDataBytes(req: LinearRequest): number {
  return req.bCache?.mode === 'use' ? 0 : req.b.data.byteLength;
}

function checkCacheField(c: LinearRequest['bCache'], which: 'a' | 'b'): void {
  if (c === undefined) return;
  if (c.mode !== 'store' && c.mode !== 'use') {
    throw frameError(`unknown cache mode '${String(c.mode)}' for ${which}`);
  }
  if (!Number.isInteger(c.key) || c.key < 1 || c.key > 0xffffffff) {
    throw frameError(`cache key of ${which} must be an integer in [1, 2^32 − 1], got ${c.key}`);
  }
}

function cacheFlags(req: LinearRequest): number {
  const a = req.aCache === undefined ? 0 : req.aCache.mode === 'store' ? FLAG_STORE_A : FLAG_USE_A;
  const b = req.bCache === undefined ? 0 : req.bCache.mode === 'store' ? FLAG_STORE_B : FLAG_USE_B;
  return a | b;
}

/** Validates a request as the accelerator will and returns the shape of its product (E_FRAME). */
export function checkRequest(req: LinearRequest): number[] {
  if (!LINEAR_OPS.includes(req.op)) throw frameError(`unknown op '${String(req.op)}'`);
  if (!ARITHS_BY_ID.includes(req.arith)) throw frameError(`unknown arith '${String(req.arith)}'`);
  const dtype = operandDtype(req.arith);
  checkTensor(req.a, dtype, req.arith, `${req.op}: a`);
  checkTensor(req.b, dtype, req.arith, `${req.op}: b`);
  checkCacheField(req.aCache, 'a');
  checkCacheField(req.bCache, 'b');
  return outputShape(req);
}

/**
 * Payload size of the result frame that answers a request of this arith with a product of this shape:
 * 4 bytes per element, 8 for arith wide (what the accelerator's and the client's limits count).
 */
/** The bytes of a result's values alone (shape × the arith's result element size). */
export function resultDataBytes(shape: readonly number[], arith: Arith): number {
  return shape.reduce((n, d) => n * d, DTYPE_ARRAYS[resultDtype(arith)].BYTES_PER_ELEMENT);
}

export function resultPayloadBytes(shape: readonly number[], arith: Arith): number {
  const dtype = resultDtype(arith);
  let n = DTYPE_ARRAYS[dtype].BYTES_PER_ELEMENT;
  for (const d of shape) n *= d;
  return RESULT_FIXED_BYTES + tensorHeaderBytes(shape.length, dtype, RESULT_FIXED_BYTES) + n;
}

// request payload: op u8 | arith u8 | flags u16 | stride u32 | padding u32 | inputH u32 | inputW u32
//                  | k u32 | b's cache key u32 | a's cache key u32 | tensor a (with no data bytes under
//                  FLAG_USE_A) | tensor b (with no data bytes under FLAG_USE_B)
export function encodeRequest(id: number, req: LinearRequest): Buffer[] {
  const length = requestPayloadBytes(req);
  const dtype = operandDtype(req.arith);
  const head = Buffer.alloc(16 + REQUEST_FIXED_BYTES + tensorHeaderBytes(req.a.shape.length, dtype, 0));
  head.set(encodeHeader(FrameType.request, id, length), 0);
  head.writeUInt8(LINEAR_OPS.indexOf(req.op), 16);
  head.writeUInt8(ARITH_IDS[req.arith], 17);
  head.writeUInt16LE(cacheFlags(req), 18);
  head.writeUInt32LE(req.stride ?? 0, 20);
  head.writeUInt32LE(req.padding ?? 0, 24);
  head.writeUInt32LE(req.inputHW?.[0] ?? 0, 28);
  head.writeUInt32LE(req.inputHW?.[1] ?? 0, 32);
  head.writeUInt32LE(req.k ?? 0, 36);
  head.writeUInt32LE(req.bCache?.key ?? 0, 40);
  head.writeUInt32LE(req.aCache?.key ?? 0, 44);
  writeTensorHeader(head, 16 + REQUEST_FIXED_BYTES, REQUEST_FIXED_BYTES, req.a, dtype);
  const aBytes = aDataBytes(req);
  // A cached operand's header says 0 data bytes (its shape is still sent: the accelerator checks it).
  if (aBytes === 0) writeU64(head, 16 + REQUEST_FIXED_BYTES + 4 + 4 * req.a.shape.length, 0);
  const bAt = head.length - 16 + aBytes;
  const bHead = Buffer.alloc(tensorHeaderBytes(req.b.shape.length, dtype, bAt));
  writeTensorHeader(bHead, 0, bAt, req.b, dtype);
  const parts = aBytes === 0 ? [head, bHead] : [head, dataView(req.a), bHead];
  if (bDataBytes(req) === 0) {
    writeU64(bHead, 4 + 4 * req.b.shape.length, 0);
    return parts;
  }
  parts.push(dataView(req.b));
  return parts;
}

export function decodeRequest(payload: Buffer): LinearRequest {
  if (payload.length < REQUEST_FIXED_BYTES) {
    throw frameError(
      `request payload of ${payload.length} bytes is shorter than its ${REQUEST_FIXED_BYTES}-byte header`,
    );
  }
  const opId = payload.readUInt8(0);
  const op: LinearOpName | undefined = LINEAR_OPS[opId];
  if (op === undefined) throw frameError(`unknown op id ${opId}`);
  const arithId = payload.readUInt8(1);
  const arith: Arith | undefined = ARITHS_BY_ID[arithId];
  if (arith === undefined) throw frameError(`unknown arith id ${arithId}`);
  const flags = payload.readUInt16LE(2);
  const aFlags = flags & (FLAG_STORE_A | FLAG_USE_A);
  const bFlags = flags & (FLAG_STORE_B | FLAG_USE_B);
  if (
    (flags & ~KNOWN_FLAGS) !== 0 ||
    aFlags === (FLAG_STORE_A | FLAG_USE_A) ||
    bFlags === (FLAG_STORE_B | FLAG_USE_B)
  ) {
    throw frameError(`unknown request flags ${flags}`);
  }
  const key = payload.readUInt32LE(24);
  if ((bFlags === 0) !== (key === 0)) throw frameError(`cache key ${key} of b with request flags ${flags}`);
  const aKey = payload.readUInt32LE(28);
  if ((aFlags === 0) !== (aKey === 0)) throw frameError(`cache key ${aKey} of a with request flags ${flags}`);
  const stride = payload.readUInt32LE(4);
  const padding = payload.readUInt32LE(8);
  const inputH = payload.readUInt32LE(12);
  const inputW = payload.readUInt32LE(16);
  const k = payload.readUInt32LE(20);
  const dtype = operandDtype(arith);
  const ta = decodeTensor(payload, REQUEST_FIXED_BYTES, `${op}: a`, dtype, arith, aFlags === FLAG_USE_A);
  const tb = decodeTensor(payload, ta.next, `${op}: b`, dtype, arith, bFlags === FLAG_USE_B);
  if (tb.next !== payload.length) {
    throw frameError(`request has ${payload.length - tb.next} leftover bytes after its operands`);
  }
  const conv = op.startsWith('conv');
  const req: LinearRequest = {
    op,
    arith,
    a: ta.tensor,
    b: tb.tensor,
    ...(conv || stride !== 0 ? { stride } : {}),
    ...(conv || padding !== 0 ? { padding } : {}),
    ...(op === 'conv2dGradInput' || inputH !== 0 || inputW !== 0
      ? { inputHW: [inputH, inputW] as const }
      : {}),
    ...(op === 'conv2dGradWeight' || k !== 0 ? { k } : {}),
    ...(bFlags === 0 ? {} : { bCache: { key, mode: bFlags === FLAG_STORE_B ? 'store' : 'use' } as const }),
    ...(aFlags === 0
      ? {}
      : { aCache: { key: aKey, mode: aFlags === FLAG_STORE_A ? 'store' : 'use' } as const }),
  };
  outputShape(req);
  return req;
}

// result payload: computeMs f64 | tensor
export function encodeResult(id: number, computeMs: number, result: WireTensor, arith: Arith): Buffer[] {
  const dtype = resultDtype(arith);
  checkTensor(result, dtype, arith, 'result');
  const head = Buffer.alloc(
    16 + RESULT_FIXED_BYTES + tensorHeaderBytes(result.shape.length, dtype, RESULT_FIXED_BYTES),
  );
  const length = head.length - 16 + result.data.byteLength;
  head.set(encodeHeader(FrameType.result, id, length), 0);
  head.writeDoubleLE(Number.isFinite(computeMs) && computeMs >= 0 ? computeMs : 0, 16);
  writeTensorHeader(head, 24, RESULT_FIXED_BYTES, result, dtype);
  return [head, dataView(result)];
}

/**
 * Decodes a result and checks it is what was asked: this shape, the dtype of this arith, for modp every
 * value a centered representative, for wide every value an integer below 2^53 in magnitude. Everything
 * in a reply is hostile. `values: false` leaves the per-value checks to a caller that runs the same
 * checks natively (the trusted side's AcceleratorClient: a JavaScript pass over VGG19-BN's ~45 M result
 * values per step cost ~60 ms).
 */
export function decodeResult(
  payload: Buffer,
  expectShape: readonly number[],
  arith: Arith,
  opts: { readonly values?: boolean } = {},
): DecodedResult {
  if (payload.length < RESULT_FIXED_BYTES) {
    throw frameError(
      `result payload of ${payload.length} bytes is shorter than its ${RESULT_FIXED_BYTES}-byte header`,
    );
  }
  const computeMs = payload.readDoubleLE(0);
  if (!Number.isFinite(computeMs) || computeMs < 0)
    throw frameError(`result reports a compute time of ${computeMs} ms`);
  const t = decodeTensor(payload, RESULT_FIXED_BYTES, 'result', resultDtype(arith), arith);
  if (t.next !== payload.length)
    throw frameError(`result has ${payload.length - t.next} leftover bytes after its tensor`);
  const shape = t.tensor.shape;
  if (shape.length !== expectShape.length || shape.some((d, i) => d !== expectShape[i])) {
    throw frameError(`result has shape ${shapeStr(shape)}, expected ${shapeStr(expectShape)}`);
  }
  if (opts.values !== false) {
    if (arith === 'modp') checkCentered(t.tensor.data as Int32Array, 'result');
    else if (arith === 'wide') checkWide(t.tensor.data as Float64Array, 'result');
  }
  return { computeMs, result: t.tensor };
}

/**
 * E_FRAME unless every value is an integer y with |y| < 2^53 (WIDE_RESULT_LIMIT): NaN, ±Infinity and
 * fractions fail too. One pass, one comparison chain per value: `!(|v| < L)` is true for NaN.
 */
export function checkWide(data: Float64Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (!(Math.abs(v) < WIDE_RESULT_LIMIT) || Math.floor(v) !== v) throw wideValueError(data, i, what);
  }
}

/** checkWide's error for element i. */
export function wideValueError(data: Float64Array, i: number, what: string): TeeError {
  return frameError(`${what}: value ${data[i]} at index ${i} is not an integer in (-2^53, 2^53)`);
}

/** E_FRAME unless every value lies in [−(p−1)/2, (p−1)/2]. */
export function checkCentered(data: Int32Array, what: string): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v > HALF_P || v < -HALF_P) throw centeredValueError(data, i, what);
  }
}

/** checkCentered's error for element i. */
export function centeredValueError(data: Int32Array, i: number, what: string): TeeError {
  return frameError(
    `${what}: value ${data[i]} at index ${i} is outside the centered range [${-HALF_P}, ${HALF_P}]`,
  );
}

// error payload: kind u16 | message length u16 | message (UTF-8)
export function encodeError(id: number, kind: RemoteErrorKind, message: string): Buffer {
  let text = Buffer.from(message, 'utf8');
  if (text.length > MAX_ERROR_MESSAGE_BYTES) {
    // Cut at a character boundary: drop continuation bytes (10xxxxxx) at the cut.
    let end = MAX_ERROR_MESSAGE_BYTES;
    while (end > 0 && (text[end]! & 0xc0) === 0x80) end--;
    text = text.subarray(0, end);
  }
  const b = Buffer.alloc(16 + 4 + text.length);
  b.set(encodeHeader(FrameType.error, id, 4 + text.length), 0);
  b.writeUInt16LE(ERROR_KIND_IDS[kind], 16);
  b.writeUInt16LE(text.length, 18);
  b.set(text, 20);
  return b;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeError(payload: Buffer): DecodedError {
  if (payload.length < 4)
    throw frameError(`error payload of ${payload.length} bytes is shorter than its 4-byte header`);
  const kindId = payload.readUInt16LE(0);
  const kind = (Object.keys(ERROR_KIND_IDS) as RemoteErrorKind[]).find((k) => ERROR_KIND_IDS[k] === kindId);
  if (kind === undefined) throw frameError(`unknown error kind ${kindId}`);
  const n = payload.readUInt16LE(2);
  if (n > MAX_ERROR_MESSAGE_BYTES)
    throw frameError(`error message of ${n} bytes exceeds ${MAX_ERROR_MESSAGE_BYTES}`);
  if (4 + n !== payload.length)
    throw frameError(`error payload has ${payload.length} bytes, its message needs ${4 + n}`);
  let text: string;
  try {
    text = utf8.decode(payload.subarray(4));
  } catch {
    throw frameError('error message is not valid UTF-8');
  }
  // Control characters (terminal escapes, newlines) would let a peer forge log lines.
  return { kind, message: text.replace(/[\p{Cc}\p{Cf}]/gu, '?') };
}

// tensor: rank u8 | dtype u8 | reserved u16 | dims u32 × rank | byte length u64 | data
// `shapeOnly`: the record must carry no data bytes (a b taken from the operand cache); the tensor comes
// back with its shape and an empty data array, for the caller to fill from its cache.
function decodeTensor(
  payload: Buffer,
  off: number,
  what: string,
  want: Dtype,
  arith: Arith,
  shapeOnly = false,
): { tensor: WireTensor; next: number } {
  if (off + 4 > payload.length) throw frameError(`${what}: the payload ends inside its tensor header`);
  const r = payload.readUInt8(off);
  if (r > MAX_RANK) throw frameError(`${what}: rank ${r} exceeds the maximum of ${MAX_RANK}`);
  const dtype = payload.readUInt8(off + 1);
  if (dtype !== DTYPE_F32 && dtype !== DTYPE_I32 && dtype !== DTYPE_F64)
    throw frameError(`${what}: unknown dtype ${dtype}`);
  if (dtype !== want) throw frameError(`${what}: dtype ${DTYPE_NAMES[dtype]} does not match arith ${arith}`);
  if (payload.readUInt16LE(off + 2) !== 0) throw frameError(`${what}: tensor reserved bytes are not zero`);
  if (off + 12 + 4 * r > payload.length)
    throw frameError(`${what}: the payload ends inside its tensor header`);
  const shape: number[] = [];
  let n = 1;
  for (let i = 0; i < r; i++) {
    const d = payload.readUInt32LE(off + 4 + 4 * i);
    if (d > MAX_DIM) throw frameError(`${what}: dimension ${d} exceeds ${MAX_DIM}`);
    shape.push(d);
    n *= d;
  }
  const bytes = readU64(payload, off + 4 + 4 * r);
  const Data = DTYPE_ARRAYS[dtype];
  const start = off + tensorHeaderBytes(r, dtype, off);
  if (start > payload.length) throw frameError(`${what}: the payload ends inside its tensor header`);
  for (let i = off + 12 + 4 * r; i < start; i++) {
    if (payload[i] !== 0) throw frameError(`${what}: tensor padding bytes are not zero`);
  }
  if (shapeOnly) {
    if (bytes !== 0) throw frameError(`${what}: a cached operand carries ${bytes} data bytes, expected 0`);
    return { tensor: { shape, data: new Data(0) }, next: start };
  }
  if (n * Data.BYTES_PER_ELEMENT !== bytes) {
    throw frameError(
      `${what}: shape ${shapeStr(shape)} needs ${n * Data.BYTES_PER_ELEMENT} bytes, the frame says ${bytes}`,
    );
  }
  if (bytes > payload.length - start) {
    throw frameError(
      `${what}: ${bytes} data bytes, but only ${payload.length - start} are left in the payload`,
    );
  }
  const abs = payload.byteOffset + start;
  let buf = payload.buffer;
  let at = abs;
  if (abs % Data.BYTES_PER_ELEMENT !== 0) {
    // Unaligned (a payload not made by FrameDecoder, or not at an 8-aligned address): copy once.
    const copy = new ArrayBuffer(bytes);
    new Uint8Array(copy).set(payload.subarray(start, start + bytes));
    buf = copy;
    at = 0;
  }
  const data =
    dtype === DTYPE_F32
      ? new Float32Array(buf, at, n)
      : dtype === DTYPE_I32
        ? new Int32Array(buf, at, n)
        : new Float64Array(buf, at, n);
  return { tensor: { shape, data }, next: start + bytes };
}
