// The |·| side of a float check's tolerance for the two convolutions whose folded check runs a convolution
// per vector (forward, grad-input), at a fraction of a convolution's cost. The tolerance needs, per folded
// result element, T = Σ_taps |input|·Σ_(folded channels) |weight|, which takes one more convolution of |input|
// (as long as one signed vector's). With m = the largest of a channel's k² tap weights,
//   T[pos] = Σ_(ch, tap) |in[ch, pos+tap]|·wabs[ch, tap]  ≤  Σ_tap Σ_ch m[ch]·|in[ch, pos+tap]|  =  box(z)[pos],
//   z = Σ_ch m[ch]·|in[ch]|  (one fold of |input| over its channels),
// box(z) the sum of z over each position's k×k window (two one-dimensional passes). It is an upper bound on
// T, so τ stays a rigorous bound on an honest product's error; the price is how far above T it lies: the
// tap weights wabs[ch, ·] are sums of |w| over the result's 64–512 channels and differ little between taps
// (measured in docs/integrity.md "Float mode"). Every sum is of non-negative float64 terms, along at most
// O + C + 2k + 1 roundings — fewer than the M = F + K + 4 that freivalds-float.ts's inflation covers.
import { f64Kernels } from './native-modp.js';
import type { ConvGeometry } from './product-geometry.js';

/**
 * Whether the tap-max bound costs less than the exact T: not for 1×1 kernels (the same sums; the strided
 * ones read a quarter of the input) nor for a few summed channels (the first layer's 3: the exact pass is a
 * few multiply-adds per position there, the bound's window sums as many).
 */
export function tapMaxPays(g: ConvGeometry): boolean {
  return g.k > 1 && (g.op === 'conv2d' ? g.c : g.o) >= 16;
}

/**
 * The tap-max bound B ≥ T for conv2d (layout [n, oh·ow]) or conv2dGradInput ([n, h·w]); a, b the operands
 * (x or dy, and w [o,c,k,k]).
 */
export function tapMaxBound(
  g: ConvGeometry,
  a: Float32Array,
  b: Float32Array,
  folds: AbsFoldSource = direct,
): Float64Array {
  const kk = g.k * g.k;
  const fwd = g.op === 'conv2d';
  if (!fwd && g.op !== 'conv2dGradInput') throw new RangeError(`tapMaxBound: no bound for ${g.op}`);
  // wabs [ch, k²]: Σ over the folded channels of |w| — over O for the forward (ch = C), over C for the
  // grad-input product (ch = O).
  const chans = fwd ? g.c : g.o;
  const wabs = fwd ? folds.fold(1, g.o, g.c * kk, b) : folds.fold(g.o, g.c, kk, b);
  const m = new Float64Array(chans);
  for (let ch = 0; ch < chans; ch++) {
    let top = 0;
    for (let t = 0; t < kk; t++) top = Math.max(top, wabs[ch * kk + t]!);
    m[ch] = top;
  }
  // z [n, rows·cols] over the input plane of the product (x's for the forward, dy's for grad-input).
  const rows = fwd ? g.h : g.oh;
  const cols = fwd ? g.w : g.ow;
  const z = f64Kernels.fold(g.n, chans, rows * cols, 1, a, m, true);
  const outRows = fwd ? g.oh : g.h;
  const outCols = fwd ? g.ow : g.w;
  const taps = fwd ? windowTaps : transposedTaps;
  const across = taps(cols, outCols, g.k, g.stride, g.padding);
  const down = taps(rows, outRows, g.k, g.stride, g.padding);
  return windowReduce(z, g.n, rows, cols, outRows, outCols, across, down, false);
}

/**
 * The weight gradient's bound B ≥ T (layout [c·k²]). dW[o,c,tap] = Σ_(n,pos) dY[n,o,pos]·X[n,c,pos·s + tap − pad]:
 * tap (th, tw) reads only the input positions q of one phase, q ≡ tap − pad (mod s) on each axis. With
 * D = Σ_o |dY_o| and Dmax[n,q] = the largest D over the result positions whose window covers q (through the
 * taps of q's phase),
 *   T[c, tap] = Σ_(n,pos) D[n,pos]·|X[n,c,pos·s + tap − pad]|  ≤  Σ_(n, q of the tap's phase) Dmax[n,q]·|X[n,c,q]|:
 * one fold of |dY|, a window maximum of one plane per image and one pass over |X| with s² vectors (the
 * phases), against the exact T's correlation of D with every input channel at every tap. D sums over O
 * channels and varies little inside a window. B̂ is inflated by 1 + (N·H·W + O + 4)·2^-51 so that it bounds
 * the exact B despite its own float64 sums (fewer than N·H·W + O roundings on any path), whatever the
 * check's M.
 */
export function gradWeightBound(
  g: ConvGeometry,
  dy: Float32Array,
  x: Float32Array,
  folds: AbsFoldSource = direct,
): Float64Array {
  if (g.op !== 'conv2dGradWeight') throw new RangeError(`gradWeightBound: no bound for ${g.op}`);
  const plane = g.h * g.w;
  const s = g.stride;
  const phases = s * s;
  const d = folds.fold(g.n, g.o, g.oh * g.ow, dy);
  const across = transposedTaps(g.ow, g.w, g.k, s, g.padding);
  const down = transposedTaps(g.oh, g.h, g.k, s, g.padding);
  const dmax = windowReduce(d, g.n, g.oh, g.ow, g.h, g.w, across, down, true);
  // perPhase [phase, c]; u [phase, plane]: Dmax on the positions of that phase, 0 elsewhere.
  const perPhase = new Float64Array(phases * g.c);
  const u = new Float64Array(phases * plane);
  for (let b = 0; b < g.n; b++) {
    const db = b * plane;
    for (let y = 0; y < g.h; y++) {
      for (let xq = 0; xq < g.w; xq++) {
        const q = y * g.w + xq;
        u[((y % s) * s + (xq % s)) * plane + q] = dmax[db + q]!;
      }
    }
    const xb = x.subarray(b * g.c * plane, (b + 1) * g.c * plane);
    const sums = f64Kernels.matvecs(g.c, plane, phases, xb, u, true);
    for (let i = 0; i < perPhase.length; i++) perPhase[i]! += sums[i]!;
  }
  const inflate = 1 + (g.n * plane + g.o + 4) * 2 ** -51;
  const phase = (t: number): number => (((t - g.padding) % s) + s) % s;
  const out = new Float64Array(g.c * g.k * g.k);
  for (let c = 0; c < g.c; c++) {
    for (let th = 0; th < g.k; th++) {
      for (let tw = 0; tw < g.k; tw++) {
        out[(c * g.k + th) * g.k + tw] = perPhase[(phase(th) * s + phase(tw)) * g.c + c]! * inflate;
      }
    }
  }
  return out;
}

/**
 * Whether gradWeightBound costs less than the exact T: for kernels larger than 1×1 and 16 input channels or
 * more (the first layer's 3 channels make the exact correlation cheap, and its large planes the window sums
 * dear).
 */
export function gradWeightBoundPays(g: ConvGeometry): boolean {
  return g.k > 1 && g.c >= 16;
}

/** Σ_row |a[b,row,c]| ([batch, cols]): computed here, or taken from a check's signed pass (AbsFolds). */
export interface AbsFoldSource {
  fold(batch: number, rows: number, cols: number, a: Float32Array): Float64Array;
}

/** Σ_row |a[b,row,c]| ([batch, cols]), read afresh: the fold of |a| with ones. */
export function absFold(batch: number, rows: number, cols: number, a: Float32Array): Float64Array {
  return f64Kernels.fold(batch, rows, cols, 1, a, new Float64Array(rows).fill(1), true);
}

const direct: AbsFoldSource = { fold: absFold };

/**
 * For each output index along one axis, the input indices its window reads. Forward: out i reads
 * in[i·s + t − pad] for t < k, inside [0, inLen).
 */
type Taps = (inLen: number, outLen: number, k: number, s: number, pad: number) => Int32Array[];

const windowTaps: Taps = (inLen, outLen, k, s, pad) => {
  const out: Int32Array[] = [];
  for (let i = 0; i < outLen; i++) {
    const idx: number[] = [];
    for (let t = 0; t < k; t++) {
      const v = i * s + t - pad;
      if (v >= 0 && v < inLen) idx.push(v);
    }
    out.push(Int32Array.from(idx));
  }
  return out;
};

// Transposed: out x gathers in[(x + pad − t)/s] for every t < k where that is an integer inside [0, inLen).
const transposedTaps: Taps = (inLen, outLen, k, s, pad) => {
  const out: Int32Array[] = [];
  for (let x = 0; x < outLen; x++) {
    const idx: number[] = [];
    for (let t = 0; t < k; t++) {
      const u = x + pad - t;
      if (u >= 0 && u % s === 0 && u / s < inLen) idx.push(u / s);
    }
    out.push(Int32Array.from(idx));
  }
  return out;
};

// Σ (or, with `max`, the largest value) over each output position's window of z [n, rows, cols]: along
// columns, then along rows. A position no window reaches gets 0 (every value here is ≥ 0).
function windowReduce(
  z: Float64Array,
  n: number,
  rows: number,
  cols: number,
  outRows: number,
  outCols: number,
  across: Int32Array[],
  down: Int32Array[],
  max: boolean,
): Float64Array {
  const h = new Float64Array(rows * outCols);
  const out = new Float64Array(n * outRows * outCols);
  for (let b = 0; b < n; b++) {
    const zb = b * rows * cols;
    for (let r = 0; r < rows; r++) {
      const src = zb + r * cols;
      const dst = r * outCols;
      for (let x = 0; x < outCols; x++) {
        const idx = across[x]!;
        let s = 0;
        for (let t = 0; t < idx.length; t++) {
          const v = z[src + idx[t]!]!;
          s = max ? Math.max(s, v) : s + v;
        }
        h[dst + x] = s;
      }
    }
    const ob = b * outRows * outCols;
    for (let y = 0; y < outRows; y++) {
      const idx = down[y]!;
      const dst = ob + y * outCols;
      for (let t = 0; t < idx.length; t++) {
        const src = idx[t]! * outCols;
        for (let x = 0; x < outCols; x++) {
          const v = h[src + x]!;
          out[dst + x] = max ? Math.max(out[dst + x]!, v) : out[dst + x]! + v;
        }
      }
    }
  }
  return out;
}
