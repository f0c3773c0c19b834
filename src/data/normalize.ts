// Per-channel normalisation, torchvision's Normalize: out[c] = (x[c] - mean[c]) / std[c].
// The dataset constants are the per-channel mean and standard deviation of the training split.
import type { SeededRng } from '../tensor/seeded-rng.js';
import type { ImageShape } from './image.js';
import type { Transform } from './transform.js';

export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** CIFAR-10 training split, pixels in [0,1]. */
export const CIFAR10_NORMALIZATION: Normalization = {
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
};

/** Fashion-MNIST training split, pixels in [0,1] (one channel; replicated when shown as RGB). */
export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286], std: [0.353] };

/** The same constants for every one of `channels` channels (a grayscale set shown as RGB). */
export function replicateNormalization(n: Normalization, channels: number): Normalization {
  if (n.mean.length === channels) return n;
  if (n.mean.length !== 1)
    throw new RangeError(`cannot replicate ${n.mean.length}-channel constants to ${channels}`);
  return { mean: new Array(channels).fill(n.mean[0]), std: new Array(channels).fill(n.std[0]) };
}

/** x [C,H,W] → out [C,H,W]; out may alias x. */
export function normalize(
  x: Float32Array,
  s: ImageShape,
  mean: readonly number[],
  std: readonly number[],
  out: Float32Array,
): void {
  const plane = s.h * s.w;
  for (let c = 0; c < s.c; c++) {
    const m = mean[c]!;
    const sd = std[c]!;
    const base = c * plane;
    for (let i = base; i < base + plane; i++) out[i] = (x[i]! - m) / sd;
  }
}

export class Normalize implements Transform {
  readonly name = 'Normalize';
  readonly random = false;
  readonly mean: readonly number[];
  readonly std: readonly number[];

  constructor(n: Normalization) {
    if (n.mean.length !== n.std.length || n.mean.length === 0) {
      throw new RangeError('Normalize: mean and std must be non-empty and of the same length');
    }
    if (n.std.some((v) => !(v > 0))) throw new RangeError('Normalize: every std must be > 0');
    this.mean = [...n.mean];
    this.std = [...n.std];
  }

  outShape(s: ImageShape): ImageShape {
    if (s.c !== this.mean.length) {
      throw new RangeError(`Normalize: ${this.mean.length} channel constants for a ${s.c}-channel image`);
    }
    return s;
  }

  apply(x: Float32Array, s: ImageShape, out: Float32Array, _rng: SeededRng): void {
    normalize(x, s, this.mean, this.std, out);
  }
}
