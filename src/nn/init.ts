// Seeded initialisation helpers (SeededRng: reproducible by seed, never for security).
import type { SeededRng } from '../tensor/seeded-rng.js';

export interface InitOptions {
  /** Draws the initial weights (default: SeededRng(0)). */
  readonly rng?: SeededRng;
  /** Leave the parameters zero (the model initialises them). */
  readonly skipInit?: boolean;
}

/** Fills `out` uniform in [-bound, bound). */
export function fillUniform(out: Float32Array, bound: number, rng: SeededRng): void {
  for (let i = 0; i < out.length; i++) out[i] = (2 * rng.nextFloat() - 1) * bound;
}

/** PyTorch's default for Conv2d/Linear weight and bias: kaiming_uniform(a=√5) = U(±1/√fan_in). */
export function defaultBound(fanIn: number): number {
  return fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
}
