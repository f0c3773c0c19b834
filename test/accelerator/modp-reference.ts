// Naive BigInt references for the six products, modulo p and as exact integers (arith wide), for the
// exactness tests (slow; small cases).
import type { LinearRequest } from '../../src/protocol/linear-request.js';
import { MODULUS_P } from '../../src/protocol/linear-request.js';
import { convShape, outputShape } from '../../src/protocol/linear-shapes.js';

const P = BigInt(MODULUS_P);
const HALF = (P - 1n) / 2n;

function centered(v: bigint): number {
  let r = v % P;
  if (r < 0n) r += P;
  if (r > HALF) r -= P;
  return Number(r);
}

/** The product mod p, as centered representatives. */
export function referenceModp(req: LinearRequest): Int32Array {
  return Int32Array.from(exactSums(req), centered);
}

/** The exact integer product; RangeError if a value is not exact in float64 (|y| ≥ 2^53). */
export function referenceWide(req: LinearRequest): Float64Array {
  return Float64Array.from(exactSums(req), (v) => {
    if (v >= 2n ** 53n || v <= -(2n ** 53n))
      throw new RangeError(`reference value ${v} is not exact in float64`);
    return Number(v);
  });
}

/** Σ|a_i·b_i| of the output with the largest such sum: what an exact float64 summation needs below 2^53. */
export function largestAbsSum(req: LinearRequest): bigint {
  const abs = (t: LinearRequest['a']) => ({ shape: t.shape, data: Int32Array.from(t.data, Math.abs) });
  let most = 0n;
  for (const v of exactSums({ ...req, a: abs(req.a), b: abs(req.b) })) if (v > most) most = v;
  return most;
}

function exactSums(req: LinearRequest): bigint[] {
  const a = Array.from(req.a.data, (v) => BigInt(v));
  const b = Array.from(req.b.data, (v) => BigInt(v));
  const out = outputShape(req);
  const acc: bigint[] = new Array(out.reduce((p, d) => p * d, 1)).fill(0n);
  switch (req.op) {
    case 'dense': {
      const [n, i] = req.a.shape as [number, number];
      const o = req.b.shape[0]!;
      for (let r = 0; r < n; r++)
        for (let c = 0; c < o; c++)
          for (let k = 0; k < i; k++) acc[r * o + c]! += a[r * i + k]! * b[c * i + k]!;
      break;
    }
    case 'denseGradInput': {
      const [n, o] = req.a.shape as [number, number];
      const i = req.b.shape[1]!;
      for (let r = 0; r < n; r++)
        for (let c = 0; c < i; c++)
          for (let k = 0; k < o; k++) acc[r * i + c]! += a[r * o + k]! * b[k * i + c]!;
      break;
    }
    case 'denseGradWeight': {
      const [n, o] = req.a.shape as [number, number];
      const i = req.b.shape[1]!;
      for (let r = 0; r < o; r++)
        for (let c = 0; c < i; c++)
          for (let k = 0; k < n; k++) acc[r * i + c]! += a[k * o + r]! * b[k * i + c]!;
      break;
    }
    default: {
      const g = convShape(req);
      const { n, c, h, w, o, k, stride: s, padding: p, oh, ow } = g;
      // Visits every (image, out channel, in channel, output pixel, kernel tap) once.
      for (let im = 0; im < n; im++)
        for (let oc = 0; oc < o; oc++)
          for (let ic = 0; ic < c; ic++)
            for (let r = 0; r < oh; r++)
              for (let q = 0; q < ow; q++)
                for (let ki = 0; ki < k; ki++)
                  for (let kj = 0; kj < k; kj++) {
                    const ih = r * s - p + ki;
                    const iw = q * s - p + kj;
                    if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
                    const xi = ((im * c + ic) * h + ih) * w + iw;
                    const wi = ((oc * c + ic) * k + ki) * k + kj;
                    const yi = ((im * o + oc) * oh + r) * ow + q;
                    if (req.op === 'conv2d') acc[yi]! += a[xi]! * b[wi]!;
                    else if (req.op === 'conv2dGradInput') acc[xi]! += a[yi]! * b[wi]!;
                    else acc[wi]! += a[yi]! * b[xi]!;
                  }
    }
  }
  return acc;
}
