// The IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/): magic 0x0000TTRR
// (TT the element type, 0x08 = unsigned byte; RR the rank), RR big-endian u32 dimensions, then the
// elements row-major. Images are rank 3 (0x00000803), labels rank 1 (0x00000801).
import { TeeError } from '../errors.js';

export interface IdxArray {
  readonly dims: readonly number[];
  /** A view of the elements (no copy). */
  readonly data: Uint8Array;
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** Parses an unsigned-byte IDX array of rank `rank`; every mismatch is E_FORMAT naming `source`. */
export function parseIdx(bytes: Uint8Array, rank: number, source: string): IdxArray {
  const expected = 0x800 + rank;
  if (bytes.length < 4)
    throw new TeeError('E_FORMAT', `${source}: truncated IDX header (${bytes.length} bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expected) {
    throw new TeeError(
      'E_FORMAT',
      `${source}: wrong magic ${hex(magic)}, expected ${hex(expected)} (unsigned-byte IDX of rank ${rank})`,
    );
  }
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new TeeError(
      'E_FORMAT',
      `${source}: truncated IDX header (${bytes.length} of ${headerBytes} bytes)`,
    );
  }
  const dims: number[] = [];
  let n = 1;
  for (let k = 0; k < rank; k++) {
    const d = view.getUint32(4 + 4 * k, false);
    dims.push(d);
    n *= d;
  }
  const have = bytes.length - headerBytes;
  if (have < n) {
    throw new TeeError(
      'E_FORMAT',
      `${source}: truncated file: dims [${dims}] need ${n} bytes of data, found ${have}`,
    );
  }
  if (have > n) {
    throw new TeeError('E_FORMAT', `${source}: ${have - n} unexpected bytes after the [${dims}] data`);
  }
  return { dims, data: bytes.subarray(headerBytes) };
}
