// K-splitting (docs/integrity.md "Products too long for p"): a product whose reduction (inner) dimension is
// too long for p at a useful precision is cut into `parts` products over disjoint ranges of that
// dimension, whose results add up to the original one: Y = Σ_j A_j·B_j. Each chunk is then an ordinary
// product of the same op (its own scales, request and Freivalds check); the trusted side adds the
// verified, dequantized chunk results in float64. The unit of cutting per op:
//   dense            input features i     x[:, i0:i1], w[:, i0:i1]
//   denseGradInput   output features o    dy[:, o0:o1], w[o0:o1]
//   denseGradWeight  samples n            dy[n0:n1], x[n0:n1]
//   conv2d           input channels c     x[:, c0:c1], w[:, c0:c1]
//   conv2dGradInput  output channels o    dy[:, o0:o1], w[o0:o1]
//   conv2dGradWeight samples, then bands of output rows: dy[n, :, y0:y1] against the input rows those
//                    outputs read, zero-padded explicitly (the chunk is a padding-0 product).
// Contiguous slices are views (subarray), others copies. Pure index arithmetic: no randomness, no I/O.
import type { ConvGeometry, ProductGeometry, ProductParams } from './product-geometry.js';

export interface InnerChunk {
  readonly aShape: readonly number[];
  readonly bShape: readonly number[];
  readonly a: Float32Array;
  readonly b: Float32Array;
  /** The chunk's conv parameters (padding 0 for a band of a weight gradient). */
  readonly params: ProductParams;
}

/** How many pieces the inner dimension of `g` can be cut into at most. */
export function innerUnits(g: ProductGeometry): number {
  switch (g.op) {
    case 'dense':
      return g.i;
    case 'denseGradInput':
    case 'conv2dGradInput':
      return g.o;
    case 'denseGradWeight':
      return g.n;
    case 'conv2d':
      return g.c;
    case 'conv2dGradWeight':
      return g.n * g.oh;
  }
}

// [lo, hi) ranges cutting `units` into `parts` near-equal pieces.
function ranges(units: number, parts: number): [number, number][] {
  const out: [number, number][] = [];
  const p = Math.max(1, Math.min(parts, units));
  for (let j = 0; j < p; j++) {
    const lo = Math.floor((j * units) / p);
    const hi = Math.floor(((j + 1) * units) / p);
    if (hi > lo) out.push([lo, hi]);
  }
  return out;
}

// Columns [c0, c1) of each of `rows` blocks of `cols` (block = `inner` contiguous floats per column unit).
function columns(
  src: Float32Array,
  rows: number,
  cols: number,
  c0: number,
  c1: number,
  inner: number,
): Float32Array {
  if (c0 === 0 && c1 === cols) return src;
  if (rows === 1) return src.subarray(c0 * inner, c1 * inner);
  const width = (c1 - c0) * inner;
  const out = new Float32Array(rows * width);
  for (let r = 0; r < rows; r++)
    out.set(src.subarray((r * cols + c0) * inner, (r * cols + c1) * inner), r * width);
  return out;
}

/**
 * Cuts the product `g` (operands a, b as LinearRequest orders them) into at most `parts` chunks over its
 * inner dimension. parts = 1 returns the product itself (views of a and b).
 */
export function innerChunks(
  g: ProductGeometry,
  a: Float32Array,
  b: Float32Array,
  params: ProductParams,
  parts: number,
): InnerChunk[] {
  if (!Number.isInteger(parts) || parts < 1)
    throw new RangeError(`parts must be an integer >= 1, got ${parts}`);
  switch (g.op) {
    case 'dense':
      return ranges(g.i, parts).map(([lo, hi]) => ({
        aShape: [g.n, hi - lo],
        bShape: [g.o, hi - lo],
        a: columns(a, g.n, g.i, lo, hi, 1),
        b: columns(b, g.o, g.i, lo, hi, 1),
        params,
      }));
    case 'denseGradInput':
      return ranges(g.o, parts).map(([lo, hi]) => ({
        aShape: [g.n, hi - lo],
        bShape: [hi - lo, g.i],
        a: columns(a, g.n, g.o, lo, hi, 1),
        b: b.subarray(lo * g.i, hi * g.i),
        params,
      }));
    case 'denseGradWeight':
      return ranges(g.n, parts).map(([lo, hi]) => ({
        aShape: [hi - lo, g.o],
        bShape: [hi - lo, g.i],
        a: a.subarray(lo * g.o, hi * g.o),
        b: b.subarray(lo * g.i, hi * g.i),
        params,
      }));
    case 'conv2d': {
      const kk = g.k * g.k;
      return ranges(g.c, parts).map(([lo, hi]) => ({
        aShape: [g.n, hi - lo, g.h, g.w],
        bShape: [g.o, hi - lo, g.k, g.k],
        a: columns(a, g.n, g.c, lo, hi, g.h * g.w),
        b: columns(b, g.o, g.c, lo, hi, kk),
        params,
      }));
    }
    case 'conv2dGradInput': {
      const kk = g.k * g.k;
      return ranges(g.o, parts).map(([lo, hi]) => ({
        aShape: [g.n, hi - lo, g.oh, g.ow],
        bShape: [hi - lo, g.c, g.k, g.k],
        a: columns(a, g.n, g.o, lo, hi, g.oh * g.ow),
        b: b.subarray(lo * g.c * kk, hi * g.c * kk),
        params,
      }));
    }
    case 'conv2dGradWeight':
      return weightGradChunks(g, a, b, params, parts);
  }
}

// conv2dGradWeight: whole samples while parts ≤ n, else every sample in bands of output rows.
function weightGradChunks(
  g: ConvGeometry,
  dy: Float32Array,
  x: Float32Array,
  params: ProductParams,
  parts: number,
): InnerChunk[] {
  const dyImage = g.o * g.oh * g.ow;
  const xImage = g.c * g.h * g.w;
  if (parts <= g.n) {
    return ranges(g.n, parts).map(([lo, hi]) => ({
      aShape: [hi - lo, g.o, g.oh, g.ow],
      bShape: [hi - lo, g.c, g.h, g.w],
      a: dy.subarray(lo * dyImage, hi * dyImage),
      b: x.subarray(lo * xImage, hi * xImage),
      params,
    }));
  }
  const bands = Math.min(g.oh, Math.ceil(parts / g.n));
  const out: InnerChunk[] = [];
  const { stride: s, padding: pad, k } = g;
  const wp = g.w + 2 * pad;
  for (let ni = 0; ni < g.n; ni++) {
    for (const [y0, y1] of ranges(g.oh, bands)) {
      const rows = y1 - y0;
      // dy[ni, :, y0:y1, :]
      const da = new Float32Array(g.o * rows * g.ow);
      for (let o = 0; o < g.o; o++) {
        const src = ((ni * g.o + o) * g.oh + y0) * g.ow;
        da.set(dy.subarray(src, src + rows * g.ow), o * rows * g.ow);
      }
      // The input rows those outputs read: iy ∈ [y0·s − pad, (y1 − 1)·s − pad + k), padded explicitly.
      const hb = (rows - 1) * s + k;
      const xb = new Float32Array(g.c * hb * wp);
      for (let c = 0; c < g.c; c++) {
        for (let r = 0; r < hb; r++) {
          const iy = y0 * s - pad + r;
          if (iy < 0 || iy >= g.h) continue;
          const src = ((ni * g.c + c) * g.h + iy) * g.w;
          xb.set(x.subarray(src, src + g.w), (c * hb + r) * wp + pad);
        }
      }
      out.push({
        aShape: [1, g.o, rows, g.ow],
        bShape: [1, g.c, hb, wp],
        a: da,
        b: xb,
        params: { stride: s, padding: 0, k },
      });
    }
  }
  return out;
}
