// Seeded initialisation helpers (SeededRng: reproducible by seed, never for security).
import type { SeededRng } from '../tensor/seeded-rng.js';

export interface InitOptions {
  /** Draws the initial weights (default: SeededRng(0)). */
  readonly rng?: SeededRng;
  /** Leave the parameters zero (the model initialises them). */
  readonly skipInit?: boolean;
}

/**
 * Fills `out` uniform in [-bound, bound). One key is drawn from `rng` per tensor; the elements come
 * from a counter-based stream (golden-ratio Weyl sequence through the murmur3 finaliser, as
 * splitmix32), about 7× faster than drawing each from the RNG — VGG has 1.4·10⁸ weights.
 */
export function fillUniform(out: Float32Array, bound: number, rng: SeededRng): void {
  let k = rng.nextU32();
  for (let i = 0; i < out.length; i++) {
    k = (k + 0x9e3779b9) | 0;
    let h = k ^ (k >>> 16);
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    out[i] = (2 * ((h >>> 8) / 16777216) - 1) * bound;
  }
}

/** PyTorch's default for Conv2d/Linear weight and bias: kaiming_uniform(a=√5) = U(±1/√fan_in). */
export function defaultBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}
