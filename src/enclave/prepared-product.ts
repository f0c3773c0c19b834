// One product ready to send and judge (RemoteLinearOps' unit of work): the request, how to recognise a
// well-formed reply, how to check it, and how to turn the verified bytes into floats.
//   float: f32 request, form check + Freivalds in float64 with a rigorous rounding bound (or none: 'off').
//   exact: quantize (no-wrap bound asserted) → [blind with a one-time pad] → modp request (field p24)
//          or wide request (field wide) → form check + Freivalds (mod p, or mod 2^50 − 27 for wide) →
//          [unblind] → dequantize to float32 (docs/integrity.md).
import type { CacheHint, LinearRequest } from '../protocol/linear-request.js';
import type { Tensor } from '../tensor/tensor.js';
import { blind, unblind } from '../verify/blinding.js';
import type { CryptoRng } from '../verify/crypto-rng.js';
import { DEFAULT_MODULUS, type ExactField } from '../verify/field.js';
import { freivaldsExact, modpResultProblem } from '../verify/freivalds-exact.js';
import {
  type FloatBound,
  type FloatVectors,
  f32ResultProblem,
  freivaldsFloat,
} from '../verify/freivalds-float.js';
import { type WideCheck, wideCheck, wideResultProblem } from '../verify/freivalds-wide.js';
import { aShapeOf, bShapeOf, type ProductGeometry, type ProductParams } from '../verify/product-geometry.js';
import { dequantize, type QuantConfig, type QuantizedProduct, quantizeProduct } from '../verify/quantize.js';
import type { IntBufferPool } from './int-buffer-pool.js';
import type { ProductTrace } from './remote-linear-ops.js';

const P = DEFAULT_MODULUS;

export type ResultData = Int32Array | Float32Array | Float64Array;

// One product ready to send: the request, how to judge a reply, how to turn verified bytes into floats.
export interface Prepared {
  readonly req: LinearRequest;
  problem(result: { shape: readonly number[]; data: unknown }): string;
  /**
   * The check's operand side, done before the request goes out (fresh vectors, the operands still in
   * cache): the next check() uses it. Called again for a retry, it draws anew. Absent where the check
   * has no such split (check() then does everything).
   */
  precheck?(): void;
  check(y: ResultData): { ok: boolean; reason: string };
  /** The product as float32: into `into` when given (a buffer of the result's size), else a new array. */
  finish(y: ResultData, into?: Float32Array): Float32Array;
  /** Adds the decoded result into `into` (float64), for the chunks of a cut product. */
  accumulate(y: ResultData, into: Float64Array): void;
  readonly trace: Partial<ProductTrace>;
  dispose(): void;
}

/** How a float product is checked. */
export interface FloatCheck {
  /** false: integrity 'off', nothing checked. */
  readonly verify: boolean;
  readonly rng: CryptoRng;
  readonly repetitions: number;
  readonly vectors: FloatVectors;
  readonly slack: number;
  /** The tolerance's |·| term for the convolutions (freivalds-float.ts; default 'tap-max'). */
  readonly bound?: FloatBound;
}

/** How an exact product is quantized and checked. */
export interface ExactCheck {
  readonly field: ExactField;
  readonly quant: QuantConfig;
  readonly rng: CryptoRng;
  /** Default: the field's (field.ts). */
  readonly repetitions?: number;
  /** Where the quantized operands go (and return when the product is disposed); default new arrays. */
  readonly pool?: IntBufferPool;
}

/** A blinded forward's one-time pad and the weights' integers it was made for (or fixed weights alone). */
export interface ExactPad {
  readonly pad?: { r: Int32Array; u: Int32Array };
  readonly fixedB: { data: Int32Array; bits: number };
  /** fixedB.data came from the check's pool: give it back with the product. */
  readonly pooled?: boolean;
}

/**
 * Operand a shared by a layer's two backward products (their dy): the operand-cache hint it goes with,
 * and in exact mode the integers the first product quantized it to (the second takes them as they are),
 * or `keep` for the first product: its integers outlive it (the caller wipes and pools them after both).
 */
export interface SharedA {
  readonly hint?: CacheHint;
  readonly fixed?: { readonly data: Int32Array; readonly bits: number };
  readonly keep?: boolean;
}

export function prepareFloat(
  g: ProductGeometry,
  a: Tensor,
  b: Tensor,
  params: ProductParams,
  hint: CacheHint | undefined,
  o: FloatCheck,
  shared: SharedA = {},
): Prepared {
  const req: LinearRequest = {
    op: g.op,
    ...wireParams(g, params),
    arith: 'f32',
    a: { shape: [...a.shape], data: a.data },
    b: { shape: [...b.shape], data: b.data },
    ...(hint === undefined ? {} : { bCacheHint: hint }),
    ...(shared.hint === undefined ? {} : { aCacheHint: shared.hint }),
  };
  return {
    req,
    // With a check, freivaldsFloat refuses NaN/±Inf itself (from its |Y| fold, no scan of its own).
    problem: (r) => f32ResultProblem(g, r, { finite: !o.verify }),
    check: (y) =>
      o.verify
        ? freivaldsFloat(g, a.data, b.data, y as Float32Array, {
            rng: o.rng,
            repetitions: o.repetitions,
            vectors: o.vectors,
            slack: o.slack,
            ...(o.bound === undefined ? {} : { bound: o.bound }),
          })
        : { ok: true, reason: '' },
    finish: (y, into) => {
      // A copy: the reply's buffer goes back to the transport's pool.
      if (into === undefined) return (y as Float32Array).slice();
      into.set(y as Float32Array);
      return into;
    },
    accumulate: (y, into) => {
      for (let i = 0; i < into.length; i++) into[i]! += y[i]!;
    },
    trace: {},
    dispose: () => {},
  };
}

// One exact request for the product g of float operands a, b (quantized here, overflow bound asserted):
// modp in field p24 (and always with a pad), wide in field wide.
export function prepareExact(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  params: ProductParams,
  pad: ExactPad | null,
  hint: CacheHint | undefined,
  o: ExactCheck,
  shared: SharedA = {},
): Prepared {
  let q: QuantizedProduct;
  try {
    q = quantizeProduct(g, a, b, {
      rng: o.rng,
      config: o.quant,
      p: P,
      outputHalf: o.field.outputHalf,
      // Wide: an honest result beyond the bound is refused by the check (loud), so the second norm pass
      // over the quantized integers is not needed to keep wrong values out (quantize.ts, `recheck`).
      recheck: o.field.name !== 'wide',
      ...(pad !== null ? { fixedB: pad.fixedB } : {}),
      ...(shared.fixed !== undefined ? { fixedA: shared.fixed } : {}),
      ...(o.pool !== undefined ? { alloc: (n: number) => o.pool!.take(n) } : {}),
    });
  } catch (e) {
    pad?.pad?.r.fill(0);
    pad?.pad?.u.fill(0);
    if (pad?.pooled) o.pool?.give(pad.fixedB.data);
    throw e;
  }
  const blinding = pad?.pad;
  const aSend = blinding !== undefined ? blind(q.a, blinding.r, P) : q.a;
  const wide = o.field.name === 'wide';
  const req: LinearRequest = {
    op: g.op,
    ...wireParams(g, params),
    arith: wide ? 'wide' : 'modp',
    a: { shape: aShapeOf(g), data: aSend },
    b: { shape: bShapeOf(g), data: q.b },
    ...(hint === undefined ? {} : { bCacheHint: hint }),
    ...(shared.hint === undefined ? {} : { aCacheHint: shared.hint }),
  };
  const decoded = (y: ResultData): Int32Array | Float64Array =>
    blinding !== undefined ? unblind(y as Int32Array, blinding.u, P) : (y as Int32Array | Float64Array);
  const field = o.field;
  const repetitions = o.repetitions ?? field.repetitions;
  let disposed = false;
  // Wide: the operand side of the next check, done by precheck() (or by check() itself).
  let pending: WideCheck | null = null;
  const newWideCheck = () => wideCheck(g, aSend, q.b, field, { rng: o.rng, repetitions });
  return {
    req,
    problem: (r) => (wide ? wideResultProblem(g, r) : modpResultProblem(g, r, P)),
    ...(wide
      ? {
          precheck: () => {
            pending?.discard();
            pending = newWideCheck();
          },
        }
      : {}),
    check: (y) => {
      if (!wide) return freivaldsExact(g, aSend, q.b, y as Int32Array, { rng: o.rng, p: P, repetitions });
      const c = pending ?? newWideCheck();
      pending = null;
      return c.finish(y as Float64Array);
    },
    finish: (y, into) => dequantize(decoded(y), q.outBits, 'native', into),
    accumulate: (y, into) => {
      const d = decoded(y);
      const scale = 2 ** -q.outBits;
      for (let i = 0; i < into.length; i++) into[i]! += d[i]! * scale;
    },
    trace: { aBits: q.aBits, bBits: q.bBits, errorBound: q.errorBound, blinded: blinding !== undefined },
    dispose: () => {
      if (disposed) return;
      disposed = true;
      pending?.discard();
      pending = null;
      // The pad is spent whether or not the call succeeded; its secret leaves memory with it, and so do
      // the quantized activations (the blinded ones are what the accelerator saw anyway).
      if (blinding !== undefined) {
        blinding.r.fill(0);
        blinding.u.fill(0);
      }
      // Back for reuse (a pool ignores arrays it did not hand out: pads' fixed weights), unless they are
      // shared with the layer's other backward product (its owner wipes and pools them after both).
      if (shared.fixed === undefined && shared.keep !== true) {
        q.a.fill(0);
        o.pool?.give(q.a);
      }
      if (pad === null || pad.pooled) o.pool?.give(q.b);
    },
  };
}

export function wireParams(g: ProductGeometry, params: ProductParams): Partial<LinearRequest> {
  if (g.op === 'conv2d') return { stride: g.stride, padding: g.padding };
  if (g.op === 'conv2dGradInput') return { stride: g.stride, padding: g.padding, inputHW: [g.h, g.w] };
  if (g.op === 'conv2dGradWeight') return { stride: g.stride, padding: g.padding, k: params.k ?? g.k };
  return {};
}
