// A seeded synthetic classification set: class k has a fixed random pattern of dark and bright pixels,
// and sample i is its class pattern plus uniform noise (clamped to [0,1]). Labels are learnable from
// the pixels, so a few training steps lower the loss; every sample is a pure function of (seed, i).
import { SeededRng } from '../tensor/seeded-rng.js';
import { checkIndex, type Dataset, getSample, type Sample } from './dataset.js';
import { deriveSeed } from './derive-seed.js';
import type { Normalization } from './normalize.js';

export interface SyntheticOptions {
  readonly length?: number;
  readonly numClasses?: number;
  readonly channels?: number;
  readonly height?: number;
  readonly width?: number;
  readonly seed?: number;
  /** Half-width of the uniform noise added to the class pattern (default 0.25). */
  readonly noise?: number;
}

export const SYNTHETIC_DEFAULTS = {
  length: 256,
  numClasses: 10,
  channels: 3,
  height: 32,
  width: 32,
  seed: 0,
  noise: 0.25,
} as const;

const STREAM_PATTERN = 1;
const STREAM_SAMPLE = 2;

export class SyntheticDataset implements Dataset {
  readonly kind = 'synthetic' as const;
  readonly name = 'synthetic';
  readonly length: number;
  readonly numClasses: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly asGiven = false;
  readonly normalization: Normalization | undefined = undefined;
  readonly seed: number;
  readonly noise: number;
  /** [K,C,H,W], each pixel 0.25 or 0.75. */
  private readonly patterns: Float32Array;

  constructor(opts: SyntheticOptions = {}) {
    const o = { ...SYNTHETIC_DEFAULTS, ...opts };
    for (const k of ['length', 'numClasses', 'channels', 'height', 'width'] as const) {
      if (!Number.isInteger(o[k]) || o[k] < (k === 'length' ? 0 : 1)) {
        throw new RangeError(`synthetic: ${k} must be a positive integer, got ${o[k]}`);
      }
    }
    if (!(o.noise >= 0)) throw new RangeError(`synthetic: noise must be >= 0, got ${o.noise}`);
    this.length = o.length;
    this.numClasses = o.numClasses;
    this.channels = o.channels;
    this.height = o.height;
    this.width = o.width;
    this.seed = o.seed >>> 0;
    this.noise = o.noise;
    const size = o.channels * o.height * o.width;
    this.patterns = new Float32Array(o.numClasses * size);
    const rng = new SeededRng(deriveSeed(this.seed, STREAM_PATTERN));
    for (let j = 0; j < this.patterns.length; j++) this.patterns[j] = rng.nextFloat() < 0.5 ? 0.25 : 0.75;
  }

  get(i: number): Sample {
    return getSample(this, i);
  }

  readInto(i: number, out: Float32Array, offset: number): number {
    checkIndex(this, i);
    const rng = new SeededRng(deriveSeed(this.seed, STREAM_SAMPLE, i));
    const label = rng.nextInt(this.numClasses);
    const size = this.channels * this.height * this.width;
    const base = label * size;
    const p = this.patterns;
    const a = 2 * this.noise;
    for (let j = 0; j < size; j++) {
      const v = p[base + j]! + (rng.nextFloat() - 0.5) * a;
      out[offset + j] = Math.min(1, Math.max(0, v));
    }
    return label;
  }
}
