// A tensor as files store it: a dtype, a shape and its raw little-endian bytes (row-major,
// contiguous). Conversions to the engine's Float32Array / BigInt64Array / Int32Array always copy.
// Assumes a little-endian host (x86-64, arm64), as the typed-array views do.
import { TeeError } from '../errors.js';

export type SafeDType = 'F32' | 'F64' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

export interface SafeTensor {
  readonly dtype: SafeDType;
  readonly shape: readonly number[];
  /** Exactly numel(shape) × dtypeSize(dtype) bytes. */
  readonly data: Uint8Array;
}

const SIZES: Record<SafeDType, number> = { F32: 4, F64: 8, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

export function isSafeDType(s: unknown): s is SafeDType {
  return typeof s === 'string' && Object.hasOwn(SIZES, s);
}

export function dtypeSize(dtype: SafeDType): number {
  return SIZES[dtype];
}

/** Element count; -1 if it is not a safe integer (a hostile shape). */
export function shapeNumel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) return -1;
  }
  return n;
}

function numelOf(t: SafeTensor): number {
  return t.data.byteLength / SIZES[t.dtype];
}

/** A copy of the bytes in a fresh, aligned ArrayBuffer. */
function alignedBuffer(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength); // not slice(): Buffer#slice shares memory
  out.set(bytes);
  return out.buffer;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 31) return f ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

/** float32 → IEEE half bits, round to nearest even; overflow → ±Inf, NaN stays NaN. */
export function floatToHalf(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const fe = (b >>> 23) & 0xff;
  const m = b & 0x7fffff;
  if (fe === 255) return sign | 0x7c00 | (m ? 0x200 : 0);
  const e = fe - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const mant = m | 0x800000;
    const shift = 14 - e;
    let hm = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && hm & 1)) hm++;
    return sign | hm;
  }
  let r = sign | (e << 10) | (m >>> 13);
  const rem = m & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) r++;
  return r;
}

export function bf16ToFloat(h: number): number {
  u32[0] = (h & 0xffff) << 16;
  return f32[0]!;
}

/** float32 → bfloat16 bits, round to nearest even (NaN stays a quiet NaN). */
export function floatToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7f800000) === 0x7f800000 && b & 0x7fffff) return (b >>> 16) | 0x40;
  return Math.floor((b + 0x7fff + ((b >>> 16) & 1)) / 65536) & 0xffff;
}

/** The tensor's values as float32 (F64 rounds, F16/BF16 widen, integers convert, BOOL → 0/1). */
export function toFloat32(t: SafeTensor): Float32Array {
  const n = numelOf(t);
  const buf = alignedBuffer(t.data);
  switch (t.dtype) {
    case 'F32':
      return new Float32Array(buf);
    case 'F64':
      return Float32Array.from(new Float64Array(buf));
    case 'F16': {
      const src = new Uint16Array(buf);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]!);
      return out;
    }
    case 'BF16': {
      const src = new Uint16Array(buf);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
      return new Float32Array(out.buffer);
    }
    case 'I64': {
      const src = new BigInt64Array(buf);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]!);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(buf));
    case 'U8':
      return Float32Array.from(new Uint8Array(buf));
    case 'BOOL':
      return Float32Array.from(new Uint8Array(buf), (v) => (v ? 1 : 0));
  }
}

/** Integer tensors (I64, I32, U8, BOOL) as int64; float dtypes are refused (E_FORMAT). */
export function toBigInt64(t: SafeTensor, what = 'tensor'): BigInt64Array {
  const buf = alignedBuffer(t.data);
  switch (t.dtype) {
    case 'I64':
      return new BigInt64Array(buf);
    case 'I32':
      return BigInt64Array.from(new Int32Array(buf), (v) => BigInt(v));
    case 'U8':
      return BigInt64Array.from(new Uint8Array(buf), (v) => BigInt(v));
    case 'BOOL':
      return BigInt64Array.from(new Uint8Array(buf), (v) => (v ? 1n : 0n));
    default:
      throw new TeeError('E_FORMAT', `${what}: cannot convert ${t.dtype} to an integer tensor`);
  }
}

/** Integer tensors as int32; an I64 value outside int32 range is refused (E_FORMAT). */
export function toInt32(t: SafeTensor, what = 'tensor'): Int32Array {
  if (t.dtype === 'I32') return new Int32Array(alignedBuffer(t.data));
  const wide = toBigInt64(t, what);
  const out = new Int32Array(wide.length);
  for (let i = 0; i < wide.length; i++) {
    const v = wide[i]!;
    if (v < -2147483648n || v > 2147483647n) {
      throw new TeeError('E_FORMAT', `${what}: value ${v} at index ${i} does not fit in int32`);
    }
    out[i] = Number(v);
  }
  return out;
}

function check(shape: readonly number[], n: number): number[] {
  const s = [...shape];
  for (const d of s) if (!Number.isSafeInteger(d) || d < 0) throw new RangeError(`invalid shape [${s}]`);
  if (shapeNumel(s) !== n) throw new RangeError(`shape [${s}] does not hold ${n} elements`);
  return s;
}

/** Encodes float32 values as F32 (no copy of semantics), F64, F16 or BF16 (rounded to nearest even). */
export function fromFloat32(
  shape: readonly number[],
  values: Float32Array,
  dtype: 'F32' | 'F64' | 'F16' | 'BF16' = 'F32',
): SafeTensor {
  const s = check(shape, values.length);
  let bytes: Uint8Array;
  if (dtype === 'F32') bytes = new Uint8Array(values.slice().buffer);
  else if (dtype === 'F64') bytes = new Uint8Array(Float64Array.from(values).buffer);
  else {
    const enc = dtype === 'F16' ? floatToHalf : floatToBf16;
    bytes = new Uint8Array(Uint16Array.from(values, (v) => enc(v)).buffer);
  }
  return { dtype, shape: s, data: bytes };
}

export function fromFloat64(shape: readonly number[], values: Float64Array): SafeTensor {
  return { dtype: 'F64', shape: check(shape, values.length), data: new Uint8Array(values.slice().buffer) };
}

export function fromBigInt64(shape: readonly number[], values: BigInt64Array): SafeTensor {
  return { dtype: 'I64', shape: check(shape, values.length), data: new Uint8Array(values.slice().buffer) };
}

export function fromInt32(shape: readonly number[], values: Int32Array): SafeTensor {
  return { dtype: 'I32', shape: check(shape, values.length), data: new Uint8Array(values.slice().buffer) };
}

export function fromUint8(
  shape: readonly number[],
  values: Uint8Array,
  dtype: 'U8' | 'BOOL' = 'U8',
): SafeTensor {
  return { dtype, shape: check(shape, values.length), data: new Uint8Array(alignedBuffer(values)) };
}
