// The vectors whose inner products make up each output of a linear product, and the largest L2² and L1
// norms among them, per operand: every output y satisfies |y| ≤ ‖a_vec‖₂·‖b_vec‖₂ (Cauchy–Schwarz)
// for its own pair of vectors, so maxA·maxB bounds every output. For convolutions the a-vectors are
// the input patches (conv2d: exact per-patch sums), a window of ⌈k/s⌉² output positions of every channel
// (conv2dGradInput: each input pixel's terms lie inside one such window) or whole channels
// (conv2dGradWeight); the b-vectors are a filter row, a filter column W[:,c] or an input channel.
// Sums are float64; callers that need a rigorous bound inflate them by lengthInflation().
import type { ConvGeometry, ProductGeometry } from './product-geometry.js';

export interface NormMax {
  /** max over the vectors of Σ v². */
  readonly l2sq: number;
  /** max over the vectors of Σ |v|. */
  readonly l1: number;
  /** The longest vector's length. */
  readonly len: number;
}

type Data = ArrayLike<number>;

/** 1 + 2n·2^-53: covers the float64 rounding of a sum of n non-negative terms (γ_n ≤ 2n·u for n·u ≤ 1/2). */
export function lengthInflation(n: number): number {
  return 1 + 2 * Math.max(n, 1) * 2 ** -53;
}

// rows of a [rows, cols]
function rowNorms(a: Data, rows: number, cols: number): NormMax {
  let l2 = 0;
  let l1 = 0;
  for (let r = 0; r < rows; r++) {
    let s2 = 0;
    let s1 = 0;
    for (let c = r * cols, e = c + cols; c < e; c++) {
      const v = a[c]!;
      s2 += v * v;
      s1 += Math.abs(v);
    }
    if (s2 > l2) l2 = s2;
    if (s1 > l1) l1 = s1;
  }
  return { l2sq: l2, l1, len: cols };
}

// columns of a [rows, cols]
function colNorms(a: Data, rows: number, cols: number): NormMax {
  const s2 = new Float64Array(cols);
  const s1 = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const v = a[base + c]!;
      s2[c]! += v * v;
      s1[c]! += Math.abs(v);
    }
  }
  let l2 = 0;
  let l1 = 0;
  for (let c = 0; c < cols; c++) {
    if (s2[c]! > l2) l2 = s2[c]!;
    if (s1[c]! > l1) l1 = s1[c]!;
  }
  return { l2sq: l2, l1, len: rows };
}

// a [n, ch, plane] summed over n and plane, per channel
function channelNorms(a: Data, n: number, ch: number, plane: number): NormMax {
  let l2 = 0;
  let l1 = 0;
  for (let c = 0; c < ch; c++) {
    let s2 = 0;
    let s1 = 0;
    for (let b = 0; b < n; b++) {
      for (let i = (b * ch + c) * plane, e = i + plane; i < e; i++) {
        const v = a[i]!;
        s2 += v * v;
        s1 += Math.abs(v);
      }
    }
    if (s2 > l2) l2 = s2;
    if (s1 > l1) l1 = s1;
  }
  return { l2sq: l2, l1, len: n * plane };
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
    }
  }
}

// conv2d: patches of x [n,c,h,w] at every output position (zero padding contributes nothing).
function patchNorms(x: Data, g: ConvGeometry): NormMax {
  const { n, c, h, w, k, stride, padding, oh, ow } = g;
  const s2 = new Float64Array(h * w);
  const s1 = new Float64Array(h * w);
  let l2 = 0;
  let l1 = 0;
  for (let b = 0; b < n; b++) {
    channelSums(x, b, c, h, w, s2, s1);
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
  return { l2sq: l2, l1, len: c * k * k };
}

// conv2dGradInput: windows of m×m output positions (m = ⌈k/s⌉, clipped to the grid) of dy [n,o,oh,ow].
function windowNorms(dy: Data, g: ConvGeometry): NormMax {
  const { n, o, k, stride, oh, ow } = g;
  const mh = Math.min(Math.ceil(k / stride), oh);
  const mw = Math.min(Math.ceil(k / stride), ow);
  const s2 = new Float64Array(oh * ow);
  const s1 = new Float64Array(oh * ow);
  let l2 = 0;
  let l1 = 0;
  for (let b = 0; b < n; b++) {
    channelSums(dy, b, o, oh, ow, s2, s1);
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
  return { l2sq: l2, l1, len: o * mh * mw };
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
    case 'conv2dGradInput': {
      // W[:, c, :, :] for each c: view w [o, c, k·k] as o × (c·k·k) and sum per c.
      const kk = g.k * g.k;
      let l2 = 0;
      let l1 = 0;
      for (let c = 0; c < g.c; c++) {
        let s2 = 0;
        let s1 = 0;
        for (let o = 0; o < g.o; o++) {
          for (let i = (o * g.c + c) * kk, e = i + kk; i < e; i++) {
            const v = b[i]!;
            s2 += v * v;
            s1 += Math.abs(v);
          }
        }
        if (s2 > l2) l2 = s2;
        if (s1 > l1) l1 = s1;
      }
      return { l2sq: l2, l1, len: g.o * kk };
    }
    case 'conv2dGradWeight':
      return channelNorms(b, g.n, g.c, g.h * g.w);
  }
}

/** max |v| of an array. */
export function maxAbs(a: Data): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = Math.abs(a[i]!);
    if (v > m) m = v;
  }
  return m;
}
