// What the trusted side asks of an accelerator: one of the six linear products of DESIGN.md, in
// float32, exactly modulo p (values are centered representatives in (−p/2, p/2), carried as Int32), or
// as the exact integer product of such operands ('wide': Float64 results, checked modulo a ~2^50 prime).
// Shared by both sides: the wire codec (protocol/) encodes it, the accelerator server computes it,
// the trusted side's RemoteLinearOps sends it through an AcceleratorTransport and verifies the reply.

export const LINEAR_OPS = [
  'dense',
  'denseGradInput',
  'denseGradWeight',
  'conv2d',
  'conv2dGradInput',
  'conv2dGradWeight',
] as const;
export type LinearOpName = (typeof LINEAR_OPS)[number];

/**
 * f32: IEEE float32 products; modp: exact products modulo MODULUS_P, centered representatives; wide:
 * operands as for modp, the result is the exact integer product, not reduced (carried as float64).
 */
export type Arith = 'f32' | 'modp' | 'wide';

/** The field of exact mode: p = 2^24 − 3 (prime). Centered representatives fit in float32 and int32. */
export const MODULUS_P = 16777213;

/**
 * A 'wide' result value must be an integer y with |y| < 2^53 (so that float64 holds it exactly); the
 * client refuses any other value (E_FRAME). The trusted side applies its own, tighter bound on top.
 */
export const WIDE_RESULT_LIMIT = 2 ** 53;

export interface WireTensor {
  readonly shape: readonly number[];
  /**
   * Float32Array for arith f32; Int32Array of centered representatives for the operands of arith modp
   * and wide and the results of modp; Float64Array of exact integers (|y| < WIDE_RESULT_LIMIT) for the
   * results of wide.
   */
  readonly data: Float32Array | Int32Array | Float64Array;
}

/**
 * Operands, as in LinearOps (DESIGN.md):
 *   dense:             a = x [N,I],   b = w [O,I]      → [N,O]
 *   denseGradInput:    a = dy [N,O],  b = w [O,I]      → [N,I]
 *   denseGradWeight:   a = dy [N,O],  b = x [N,I]      → [O,I]
 *   conv2d:            a = x [N,C,H,W], b = w [O,C,k,k] → [N,O,H',W']
 *   conv2dGradInput:   a = dy [N,O,H',W'], b = w [O,C,k,k] → [N,C,H,W] (inputHW = [H,W])
 *   conv2dGradWeight:  a = dy [N,O,H',W'], b = x [N,C,H,W] → [O,C,k,k] (k given)
 */
export interface LinearRequest {
  readonly op: LinearOpName;
  readonly arith: Arith;
  readonly a: WireTensor;
  readonly b: WireTensor;
  readonly stride?: number;
  readonly padding?: number;
  readonly inputHW?: readonly [number, number];
  readonly k?: number;
  /**
   * Wire (protocol 2): keep b under `key` on this connection ('store', b's bytes are sent), or take b
   * from there ('use', only b's shape is sent). Set by AcceleratorClient from `bCacheHint`.
   */
  readonly bCache?: CacheField;
  /**
   * The trusted side's hint (not encoded): b is the tensor it calls `key`; `reuse` says b is unchanged
   * since the last request with this key, so a cached copy may stand in for it (operand-cache.ts).
   */
  readonly bCacheHint?: CacheHint;
  /** Wire (protocol 4): the same for a (a grad-input product's dy, reused by its grad-weight product). */
  readonly aCache?: CacheField;
  /** The trusted side's hint for a (not encoded), as bCacheHint. */
  readonly aCacheHint?: CacheHint;
}

export interface CacheField {
  readonly key: number;
  readonly mode: 'store' | 'use';
}

export interface CacheHint {
  readonly key: number;
  readonly reuse: boolean;
}

/** Timings and sizes of one call, for the per-op breakdown (milliseconds, bytes). */
export interface CallStats {
  readonly sendMs: number;
  /** As reported by the accelerator (untrusted: informational only). */
  readonly computeMs: number;
  readonly receiveMs: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Bytes of operands not sent because the accelerator had them cached (protocol 2 for b, 4 for a). */
  readonly bytesCached?: number;
}

export interface LinearReply {
  readonly result: WireTensor;
  readonly stats: CallStats;
}

/** A connection (or pool of connections) to an accelerator; everything it returns is untrusted. */
export interface AcceleratorTransport {
  /** Rejects with TeeError E_NETWORK (connection, deadline) or E_FRAME (malformed reply). */
  call(req: LinearRequest, opts?: { deadlineMs?: number }): Promise<LinearReply>;
  /**
   * A fresh connection for the retry after a failed check (DESIGN.md: retried once). `failed`: the
   * request whose attempt failed, so that a transport over several accelerators replaces the one that
   * served it (other calls in flight may have gone elsewhere since).
   */
  reconnect(failed?: LinearRequest): Promise<void>;
  close(): Promise<void>;
}
