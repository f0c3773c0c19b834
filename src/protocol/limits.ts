// The limits every frame is checked against before anything is allocated (docs/protocol.md, "Limits").
// Both sides announce their largest accepted payload in the hello; the rest is fixed by the protocol.
import { constants } from 'node:buffer';

/**
 * Version of the wire protocol; a peer speaking another version is refused with E_FRAME. 2: the
 * operand cache (request flags and key, the accelerator's cache capacity in its hello). 3: arith wide
 * (exact integer products: arith id 2, float64 results of dtype 3, capability bit CAP_WIDE), refused at
 * the hello by a version-2 peer instead of at its first wide request. 4: the cache holds a too (flags
 * STORE_A / USE_A, a's key after b's: a 32-byte fixed request header), so that a layer's dy, sent with
 * its grad-input product, is not sent again with its grad-weight product.
 */
export const PROTOCOL_VERSION = 4;

/** Default largest payload a side accepts: 1 GiB (a VGG19 activation batch of 64 at 224² is 0.8 GB). */
export const DEFAULT_MAX_FRAME_BYTES = 2 ** 30;

/**
 * The largest payload any side may announce: one Buffer (4 GiB in Node 20), and an exact double.
 * Tensors are at most rank 4 with dimensions below 2^31 (they reach the native kernels as int32).
 */
export const MAX_FRAME_BYTES_LIMIT = Math.min(constants.MAX_LENGTH, 2 ** 53 - 1);
export const MAX_RANK = 4;
export const MAX_DIM = 2 ** 31 - 1;

/** Longest error-frame message in bytes (UTF-8); longer messages are truncated by the sender. */
export const MAX_ERROR_MESSAGE_BYTES = 1024;

/** Throws RangeError unless `n` is a valid frame-size limit. */
export function checkMaxFrameBytes(n: number, what = 'maxFrameBytes'): number {
  if (!Number.isSafeInteger(n) || n < 1024 || n > MAX_FRAME_BYTES_LIMIT) {
    throw new RangeError(`${what} must be an integer in [1024, ${MAX_FRAME_BYTES_LIMIT}], got ${n}`);
  }
  return n;
}
