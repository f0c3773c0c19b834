// A transform maps one image x [C,H,W] to out [C',H',W'] (shape from outShape), writing into a buffer
// the caller owns (out never aliases x). Random transforms draw only from the rng they are handed (the
// loader's saved augmentation stream), so a resumed run replays them bit for bit.
import type { SeededRng } from '../tensor/seeded-rng.js';
import { type ImageShape, imageSize } from './image.js';

export interface Transform {
  readonly name: string;
  /** True when apply() draws from the rng (an augmentation, left out by --no-augment). */
  readonly random: boolean;
  outShape(s: ImageShape): ImageShape;
  /** x [s.c,s.h,s.w] → out [outShape(s)]; out is distinct from x. */
  apply(x: Float32Array, s: ImageShape, out: Float32Array, rng: SeededRng): void;
}

/** Applies transforms in order, through two scratch buffers it keeps between calls. */
export class Compose implements Transform {
  readonly name: string;
  readonly random: boolean;
  readonly transforms: readonly Transform[];
  private scratch: [Float32Array, Float32Array] = [new Float32Array(0), new Float32Array(0)];

  constructor(transforms: readonly Transform[]) {
    this.transforms = [...transforms];
    this.name = `Compose(${this.transforms.map((t) => t.name).join(', ')})`;
    this.random = this.transforms.some((t) => t.random);
  }

  outShape(s: ImageShape): ImageShape {
    for (const t of this.transforms) s = t.outShape(s);
    return s;
  }

  apply(x: Float32Array, s: ImageShape, out: Float32Array, rng: SeededRng): void {
    const ts = this.transforms;
    if (ts.length === 0) {
      out.set(x.subarray(0, imageSize(s)));
      return;
    }
    let src = x;
    let shape = s;
    for (let i = 0; i < ts.length; i++) {
      const next = ts[i]!.outShape(shape);
      const dst = i === ts.length - 1 ? out : this.buffer(i % 2, imageSize(next));
      ts[i]!.apply(src, shape, dst, rng);
      src = dst;
      shape = next;
    }
  }

  private buffer(k: number, n: number): Float32Array {
    if (this.scratch[k]!.length < n) this.scratch[k] = new Float32Array(n);
    return this.scratch[k]!.subarray(0, n);
  }
}
