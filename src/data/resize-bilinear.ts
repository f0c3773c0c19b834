// Bilinear resize matching torch.nn.functional.interpolate(mode='bilinear', align_corners=False,
// antialias=False) to within one float32 ulp: scale = float32(in/out), src = max(0, scale·(dst+0.5) − 0.5)
// in double, neighbours floor(src) and min(floor(src)+1, in−1), λ = float32(src − floor(src)), weights
// (1−λ, λ) — the way PyTorch 1.13's CPU kernel computes them. Separable: each input row is resized
// across into a scratch buffer, then output rows blend two of those (torch's order, h0·row0 + h1·row1).
import type { SeededRng } from '../tensor/seeded-rng.js';
import type { ImageShape } from './image.js';
import type { Transform } from './transform.js';

/** Per-output-index neighbours and weights along one axis. */
export interface AxisTable {
  readonly i0: Int32Array;
  readonly i1: Int32Array;
  readonly w0: Float32Array;
  readonly w1: Float32Array;
}

const f = Math.fround;

/** Neighbour indices and weights for resizing an axis of length n to m. */
export function axisTable(n: number, m: number): AxisTable {
  const i0 = new Int32Array(m);
  const i1 = new Int32Array(m);
  const w0 = new Float32Array(m);
  const w1 = new Float32Array(m);
  const scale = f(n / m);
  for (let d = 0; d < m; d++) {
    let src = scale * (d + 0.5) - 0.5;
    if (src < 0) src = 0;
    const lo = Math.floor(src);
    const lambda = f(src - lo);
    i0[d] = lo;
    i1[d] = lo < n - 1 ? lo + 1 : lo;
    w1[d] = lambda;
    w0[d] = f(1 - lambda);
  }
  return { i0, i1, w0, w1 };
}

/**
 * x [C,H,W] → out [C,oh,ow]. `tables` and `rows` (at least H·ow floats) may be passed to avoid
 * recomputing and allocating them on every call.
 */
export function resizeBilinear(
  x: Float32Array,
  s: ImageShape,
  oh: number,
  ow: number,
  out: Float32Array,
  tables?: { y: AxisTable; x: AxisTable },
  rows?: Float32Array,
): void {
  const { c: C, h: H, w: W } = s;
  const ty = tables?.y ?? axisTable(H, oh);
  const tx = tables?.x ?? axisTable(W, ow);
  const tmp = rows ?? new Float32Array(H * ow);
  const { i0: xi0, i1: xi1, w0: xw0, w1: xw1 } = tx;
  const { i0: yi0, i1: yi1, w0: yw0, w1: yw1 } = ty;
  for (let c = 0; c < C; c++) {
    const inBase = c * H * W;
    for (let r = 0; r < H; r++) {
      const src = inBase + r * W;
      const dst = r * ow;
      for (let j = 0; j < ow; j++) tmp[dst + j] = xw0[j]! * x[src + xi0[j]!]! + xw1[j]! * x[src + xi1[j]!]!;
    }
    const outBase = c * oh * ow;
    for (let i = 0; i < oh; i++) {
      const a = yi0[i]! * ow;
      const b = yi1[i]! * ow;
      const wa = yw0[i]!;
      const wb = yw1[i]!;
      const o = outBase + i * ow;
      for (let j = 0; j < ow; j++) out[o + j] = wa * tmp[a + j]! + wb * tmp[b + j]!;
    }
  }
}

/** Resize to a fixed [oh, ow] (e.g. 32→224 for ImageNet-shaped models). */
export class Resize implements Transform {
  readonly name: string;
  readonly random = false;
  readonly height: number;
  readonly width: number;
  private key = '';
  private tables: { y: AxisTable; x: AxisTable } | undefined;
  private rows = new Float32Array(0);

  constructor(height: number, width: number = height) {
    for (const v of [height, width]) {
      if (!Number.isInteger(v) || v <= 0)
        throw new RangeError(`Resize: size must be a positive integer, got ${v}`);
    }
    this.height = height;
    this.width = width;
    this.name = `Resize(${height}x${width})`;
  }

  outShape(s: ImageShape): ImageShape {
    return { c: s.c, h: this.height, w: this.width };
  }

  apply(x: Float32Array, s: ImageShape, out: Float32Array, _rng: SeededRng): void {
    const key = `${s.h}x${s.w}`;
    if (key !== this.key || this.tables === undefined) {
      this.tables = { y: axisTable(s.h, this.height), x: axisTable(s.w, this.width) };
      this.rows = new Float32Array(s.h * this.width);
      this.key = key;
    }
    resizeBilinear(x, s, this.height, this.width, out, this.tables, this.rows);
  }
}
