// Dropout, as torch.nn.Dropout: in training each element is zeroed with probability p and the rest
// scaled by 1/(1−p); identity in eval mode and when p = 0. The mask comes from a SeededRng, so a run
// is reproducible by seed (dropout masks are not a security boundary).
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { expectGradShape, savedOrThrow } from './checks.js';
import { Layer } from './layer.js';

export interface DropoutOptions extends BackendOptions {
  /** Draws the masks (default: SeededRng(0)). */
  readonly rng?: SeededRng;
}

export class Dropout extends Layer {
  readonly p: number;
  readonly rng: SeededRng;
  // mask null: forward was the identity
  private saved: { mask: Float32Array | null; shape: readonly number[] } | null = null;

  constructor(p = 0.5, opts: DropoutOptions = {}) {
    super(opts);
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout probability must be in [0, 1], got ${p}`);
    this.p = p;
    this.rng = opts.rng ?? new SeededRng(0);
  }

  // x [*] → y [*]
  async forward(x: Tensor): Promise<Tensor> {
    if (!this.training || this.p === 0) {
      this.saved = { mask: null, shape: x.shape };
      return x;
    }
    const scale = this.p === 1 ? 0 : 1 / (1 - this.p);
    const mask = new Float32Array(x.size);
    for (let i = 0; i < mask.length; i++) mask[i] = this.rng.nextFloat() < this.p ? 0 : scale;
    const y = new Tensor(x.shape);
    for (let i = 0; i < mask.length; i++) y.data[i] = x.data[i]! * mask[i]!;
    this.saved = { mask, shape: x.shape };
    return y;
  }

  // dy [*] → dx [*] = dy·mask
  async backward(dy: Tensor): Promise<Tensor> {
    const { mask, shape } = savedOrThrow('Dropout', this.saved);
    expectGradShape('Dropout', dy, shape);
    this.saved = null;
    if (mask === null) return dy;
    const dx = new Tensor(dy.shape);
    for (let i = 0; i < mask.length; i++) dx.data[i] = dy.data[i]! * mask[i]!;
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
