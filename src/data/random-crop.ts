// torchvision's RandomCrop(size, padding): pad every side with `padding` zeros, then cut a size×size
// window at a random top-left corner (top drawn first, then left, each uniform over the valid range).
import type { SeededRng } from '../tensor/seeded-rng.js';
import type { ImageShape } from './image.js';
import type { Transform } from './transform.js';

/**
 * x [C,H,W] → out [C,oh,ow]: the window at (top, left) of x padded with `pad` zeros on every side,
 * so out[c,y,x] = x[c, top+y-pad, left+x-pad], or 0 outside x.
 */
export function padCrop(
  x: Float32Array,
  s: ImageShape,
  pad: number,
  top: number,
  left: number,
  oh: number,
  ow: number,
  out: Float32Array,
): void {
  const { c: C, h: H, w: W } = s;
  // Output columns [j0, j1) read x; the rest are padding.
  const j0 = Math.min(ow, Math.max(0, pad - left));
  const j1 = Math.max(j0, Math.min(ow, W + pad - left));
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < oh; y++) {
      const o = (c * oh + y) * ow;
      const sy = top + y - pad;
      if (sy < 0 || sy >= H || j0 === j1) {
        out.fill(0, o, o + ow);
        continue;
      }
      out.fill(0, o, o + j0);
      const src = (c * H + sy) * W + left - pad;
      out.set(x.subarray(src + j0, src + j1), o + j0);
      out.fill(0, o + j1, o + ow);
    }
  }
}

export class RandomCrop implements Transform {
  readonly name: string;
  readonly random = true;
  readonly size: number;
  readonly padding: number;

  constructor(size: number, padding = 0) {
    if (!Number.isInteger(size) || size <= 0)
      throw new RangeError(`RandomCrop: size must be a positive integer`);
    if (!Number.isInteger(padding) || padding < 0)
      throw new RangeError(`RandomCrop: padding must be an integer >= 0`);
    this.size = size;
    this.padding = padding;
    this.name = `RandomCrop(${size}, padding=${padding})`;
  }

  outShape(s: ImageShape): ImageShape {
    if (s.h + 2 * this.padding < this.size || s.w + 2 * this.padding < this.size) {
      throw new RangeError(
        `RandomCrop: a ${this.size}x${this.size} crop does not fit a padded ${s.h}x${s.w} image`,
      );
    }
    return { c: s.c, h: this.size, w: this.size };
  }

  apply(x: Float32Array, s: ImageShape, out: Float32Array, rng: SeededRng): void {
    const p = this.padding;
    const top = rng.nextInt(s.h + 2 * p - this.size + 1);
    const left = rng.nextInt(s.w + 2 * p - this.size + 1);
    padCrop(x, s, p, top, left, this.size, this.size, out);
  }
}
