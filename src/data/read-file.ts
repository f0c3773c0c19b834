// File reading for the dataset readers: E_IO with the path on failure, gzip detected by its magic
// bytes and inflated (a corrupt stream is E_FORMAT). Returns plain Uint8Array views, not Buffers.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { TeeError } from '../errors.js';

/** A plain Uint8Array view of a Buffer's bytes (no copy). */
export function asBytes(b: { buffer: ArrayBufferLike; byteOffset: number; byteLength: number }): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function readBytes(path: string): Uint8Array {
  try {
    return asBytes(readFileSync(path));
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Inflates a gzip stream; a corrupt one is E_FORMAT naming `source`. */
export function gunzipBytes(bytes: Uint8Array, source: string): Uint8Array {
  try {
    return asBytes(gunzipSync(bytes));
  } catch (e) {
    throw new TeeError('E_FORMAT', `${source}: corrupt gzip stream (${(e as Error).message})`, { cause: e });
  }
}

/** The file's bytes, inflated when it is gzip-compressed. */
export function readMaybeGzip(path: string): Uint8Array {
  const raw = readBytes(path);
  return isGzip(raw) ? gunzipBytes(raw, path) : raw;
}
