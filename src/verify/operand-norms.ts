// The vectors whose inner products make up each output of a linear product, and the largest L2² and L1
// norms among them, per operand: every output y satisfies |y| ≤ ‖a_vec‖₂·‖b_vec‖₂ (Cauchy–Schwarz)
// for its own pair of vectors, so maxA·maxB bounds every output. For convolutions the a-vectors are
// the input patches (conv2d: exact per-patch sums), a window of ⌈k/s⌉² output positions of every channel
// (conv2dGradInput: each input pixel's terms lie inside one such window) or whole channels
// (conv2dGradWeight); the b-vectors are a filter row, a filter column W[:,c] or an input channel.
// Sums are float64 in a fixed order (a contiguous run of a vector in eight lanes: segmentSums), which the
// native kernels (native/quantize.cc) follow exactly; any order is covered by lengthInflation(), which
// callers that need a rigorous bound apply. The same pass finds max |v| over the whole operand.
import type { ConvGeometry, ProductGeometry } from './product-geometry.js';

export interface NormMax {
  /** max over the vectors of Σ v². */
  readonly l2sq: number;
  /** max over the vectors of Σ |v|. */
  readonly l1: number;
  /** The longest vector's length. */
  readonly len: number;
  /** max |v| over every element of the operand (NaN when one is NaN). */
  readonly max: number;
}

type Data = ArrayLike<number>;

/** 1 + 2n·2^-53: covers the float64 rounding of a sum of n non-negative terms (γ_n ≤ 2n·u for n·u ≤ 1/2). */
export function lengthInflation(n: number): number {
  return 1 + 2 * Math.max(n, 1) * 2 ** -53;
}

// max |v| over the elements seen, NaN-aware (a NaN is not "larger" than anything, so it is flagged).
class MaxAbs {
  private m = 0;
  private nan = false;
  see(v: number): void {
    const a = Math.abs(v);
    if (a > this.m) this.m = a;
    else if (Number.isNaN(a)) this.nan = true;
  }
  get value(): number {
    return this.nan ? Number.NaN : this.m;
  }
}

/**
 * Σ v² and Σ |v| of a[off, off + len) in the kernels' order: eight lanes (lane j sums elements 8i + j in
 * order), combined as ((l0+l4) + (l1+l5)) + ((l2+l6) + (l3+l7)), then the len mod 8 tail in order.
 */
function segmentSums(a: Data, off: number, len: number, mx: MaxAbs): [number, number] {
  const l2 = [0, 0, 0, 0, 0, 0, 0, 0];
  const l1 = [0, 0, 0, 0, 0, 0, 0, 0];
  const body = len - (len % 8);
  for (let i = 0; i < body; i += 8) {
    for (let j = 0; j < 8; j++) {
      const v = a[off + i + j]!;
      l2[j]! += v * v;
      l1[j]! += Math.abs(v);
      mx.see(v);
    }
  }
  const comb = (l: number[]) => l[0]! + l[4]! + (l[1]! + l[5]!) + (l[2]! + l[6]! + (l[3]! + l[7]!));
  let s2 = comb(l2);
  let s1 = comb(l1);
  for (let i = body; i < len; i++) {
    const v = a[off + i]!;
    s2 += v * v;
    s1 += Math.abs(v);
    mx.see(v);
  }
  return [s2, s1];
}

// rows of a [rows, cols]: one segment each.
function rowNorms(a: Data, rows: number, cols: number): NormMax {
  const mx = new MaxAbs();
  let l2 = 0;
  let l1 = 0;
  for (let r = 0; r < rows; r++) {
    const [s2, s1] = segmentSums(a, r * cols, cols, mx);
    if (s2 > l2) l2 = s2;
    if (s1 > l1) l1 = s1;
  }
  return { l2sq: l2, l1, len: cols, max: mx.value };
}

// Per-column sums of a [rows, cols] over the rows in the kernels' order: four rows at a time,
// s += (v0² + v1²) + (v2² + v3²), then the remaining rows one by one.
function columnSums(a: Data, rows: number, cols: number, mx: MaxAbs): [Float64Array, Float64Array] {
  const s2 = new Float64Array(cols);
  const s1 = new Float64Array(cols);
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v0 = a[base + c]!;
      const v1 = a[base + cols + c]!;
      const v2 = a[base + 2 * cols + c]!;
      const v3 = a[base + 3 * cols + c]!;
      s2[c]! += v0 * v0 + v1 * v1 + (v2 * v2 + v3 * v3);
      s1[c]! += Math.abs(v0) + Math.abs(v1) + (Math.abs(v2) + Math.abs(v3));
      mx.see(v0);
      mx.see(v1);
      mx.see(v2);
      mx.see(v3);
    }
  }
  for (; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = a[base + c]!;
      s2[c]! += v * v;
      s1[c]! += Math.abs(v);
      mx.see(v);
    }
  }
  return [s2, s1];
}

// columns of a [rows, cols]
function colNorms(a: Data, rows: number, cols: number): NormMax {
  const mx = new MaxAbs();
  const [s2, s1] = columnSums(a, rows, cols, mx);
  let l2 = 0;
  let l1 = 0;
  for (let c = 0; c < cols; c++) {
    if (s2[c]! > l2) l2 = s2[c]!;
    if (s1[c]! > l1) l1 = s1[c]!;
  }
  return { l2sq: l2, l1, len: rows, max: mx.value };
}

// a [n, ch, plane] summed over n and plane, per channel: each image's plane one segment, the segments'
// sums added over the images in order.
function channelNorms(a: Data, n: number, ch: number, plane: number): NormMax {
  const mx = new MaxAbs();
  let l2 = 0;
  let l1 = 0;
  for (let c = 0; c < ch; c++) {
    let s2 = 0;
    let s1 = 0;
    for (let b = 0; b < n; b++) {
      const [t2, t1] = segmentSums(a, (b * ch + c) * plane, plane, mx);
      s2 += t2;
      s1 += t1;
    }
    if (s2 > l2) l2 = s2;
    if (s1 > l1) l1 = s1;
  }
  return { l2sq: l2, l1, len: n * plane, max: mx.value };
}

// Per image: the channel-summed squares and magnitudes of a [n, ch, h, w] as two [h, w] planes.
function channelSums(
  a: Data,
  b: number,
  ch: number,
  h: number,
  w: number,
  s2: Float64Array,
  s1: Float64Array,
  mx: MaxAbs,
): void {
  s2.fill(0);
  s1.fill(0);
  const plane = h * w;
  for (let c = 0; c < ch; c++) {
    const base = (b * ch + c) * plane;
    for (let i = 0; i < plane; i++) {
      const v = a[base + i]!;
      s2[i]! += v * v;
      s1[i]! += Math.abs(v);
      mx.see(v);
    }
  }
}

// conv2d: patches of x [n,c,h,w] at every output position (zero padding contributes nothing).
function patchNorms(x: Data, g: ConvGeometry): NormMax {
  const { n, c, h, w, k, stride, padding, oh, ow } = g;
  const s2 = new Float64Array(h * w);
  const s1 = new Float64Array(h * w);
  const mx = new MaxAbs();
  let l2 = 0;
  let l1 = 0;
  for (let b = 0; b < n; b++) {
    channelSums(x, b, c, h, w, s2, s1, mx);
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let p2 = 0;
        let p1 = 0;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - padding + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride - padding + kx;
            if (ix < 0 || ix >= w) continue;
            p2 += s2[iy * w + ix]!;
            p1 += s1[iy * w + ix]!;
          }
        }
        if (p2 > l2) l2 = p2;
        if (p1 > l1) l1 = p1;
      }
    }
  }
  return { l2sq: l2, l1, len: c * k * k, max: mx.value };
}

// conv2dGradInput: windows of m×m output positions (m = ⌈k/s⌉, clipped to the grid) of dy [n,o,oh,ow].
function windowNorms(dy: Data, g: ConvGeometry): NormMax {
  const { n, o, k, stride, oh, ow } = g;
  const mh = Math.min(Math.ceil(k / stride), oh);
  const mw = Math.min(Math.ceil(k / stride), ow);
  const s2 = new Float64Array(oh * ow);
  const s1 = new Float64Array(oh * ow);
  const mx = new MaxAbs();
  let l2 = 0;
  let l1 = 0;
  for (let b = 0; b < n; b++) {
    channelSums(dy, b, o, oh, ow, s2, s1, mx);
    for (let y0 = 0; y0 + mh <= oh; y0++) {
      for (let x0 = 0; x0 + mw <= ow; x0++) {
        let p2 = 0;
        let p1 = 0;
        for (let y = y0; y < y0 + mh; y++) {
          for (let x = x0; x < x0 + mw; x++) {
            p2 += s2[y * ow + x]!;
            p1 += s1[y * ow + x]!;
          }
        }
        if (p2 > l2) l2 = p2;
        if (p1 > l1) l1 = p1;
      }
    }
  }
  return { l2sq: l2, l1, len: o * mh * mw, max: mx.value };
}

/** The a-operand's vectors (x rows, dy rows/columns, patches, windows, channels). */
export function aNorms(g: ProductGeometry, a: Data): NormMax {
  switch (g.op) {
    case 'dense':
      return rowNorms(a, g.n, g.i);
    case 'denseGradInput':
      return rowNorms(a, g.n, g.o);
    case 'denseGradWeight':
      return colNorms(a, g.n, g.o);
    case 'conv2d':
      return patchNorms(a, g);
    case 'conv2dGradInput':
      return windowNorms(a, g);
    case 'conv2dGradWeight':
      return channelNorms(a, g.n, g.o, g.oh * g.ow);
  }
}

/** The b-operand's vectors (w rows/columns, filters, filter columns W[:,c], input channels). */
export function bNorms(g: ProductGeometry, b: Data): NormMax {
  switch (g.op) {
    case 'dense':
      return rowNorms(b, g.o, g.i);
    case 'denseGradInput':
      return colNorms(b, g.o, g.i);
    case 'denseGradWeight':
      return colNorms(b, g.n, g.i);
    case 'conv2d':
      return rowNorms(b, g.o, g.c * g.k * g.k);
    case 'conv2dGradInput':
      return filterColNorms(b, g.o, g.c, g.k * g.k);
    case 'conv2dGradWeight':
      return channelNorms(b, g.n, g.c, g.h * g.w);
  }
}

// W[:, c, :, :] for each c of w [o, c, kk]: per column (c, t) of w as an [o, c·kk] matrix its sum over o
// in order, then per c its kk column sums added in order of t.
function filterColNorms(w: Data, o: number, c: number, kk: number): NormMax {
  const mx = new MaxAbs();
  const [s2, s1] = columnSums(w, o, c * kk, mx);
  let l2 = 0;
  let l1 = 0;
  for (let ch = 0; ch < c; ch++) {
    let t2 = 0;
    let t1 = 0;
    for (let t = 0; t < kk; t++) {
      t2 += s2[ch * kk + t]!;
      t1 += s1[ch * kk + t]!;
    }
    if (t2 > l2) l2 = t2;
    if (t1 > l1) l1 = t1;
  }
  return { l2sq: l2, l1, len: o * kk, max: mx.value };
}
