// torchvision's RandomHorizontalFlip(p): mirror the columns with probability p (one draw per image).
import type { SeededRng } from '../tensor/seeded-rng.js';
import type { ImageShape } from './image.js';
import type { Transform } from './transform.js';

/** x [C,H,W] → out [C,H,W] with out[c,y,x] = x[c,y,W-1-x]; out must not alias x. */
export function flipHorizontal(x: Float32Array, s: ImageShape, out: Float32Array): void {
  const W = s.w;
  const rows = s.c * s.h;
  for (let r = 0; r < rows; r++) {
    const o = r * W;
    const last = o + W - 1;
    for (let j = 0; j < W; j++) out[o + j] = x[last - j]!;
  }
}

export class RandomHorizontalFlip implements Transform {
  readonly name: string;
  readonly random = true;
  readonly p: number;

  constructor(p = 0.5) {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`RandomHorizontalFlip: p must be in [0, 1], got ${p}`);
    this.p = p;
    this.name = `RandomHorizontalFlip(p=${p})`;
  }

  outShape(s: ImageShape): ImageShape {
    return s;
  }

  apply(x: Float32Array, s: ImageShape, out: Float32Array, rng: SeededRng): void {
    if (rng.nextFloat() < this.p) flipHorizontal(x, s, out);
    else out.set(x.subarray(0, s.c * s.h * s.w));
  }
}
