// SGD, exactly torch.optim.SGD: d = g + weight_decay·p; with momentum, buf = d on the first step, then
// buf = momentum·buf + (1 − dampening)·d; d = nesterov ? d + momentum·buf : buf; p −= lr·d.
// The parameters' .grad are read, never cleared by step(); zeroGrad() clears them.
import type { Kernels } from '../kernels/api.js';
import { defaultKernels } from './backend.js';
import type { Parameter } from './module.js';

export interface SGDOptions {
  readonly lr: number;
  readonly momentum?: number;
  readonly dampening?: number;
  readonly weightDecay?: number;
  readonly nesterov?: boolean;
  readonly kernels?: Kernels;
}

export class SGD {
  readonly params: readonly Parameter[];
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  kernels: Kernels;
  /** One momentum buffer per parameter, allocated on the first step (null without momentum). */
  private readonly buffers: (Float32Array | null)[];
  private steps = 0;

  constructor(params: Iterable<Parameter>, opts: SGDOptions) {
    this.params = [...params];
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    this.kernels = opts.kernels ?? defaultKernels();
    if (!(this.lr >= 0)) throw new RangeError(`SGD lr must be non-negative, got ${this.lr}`);
    if (!(this.momentum >= 0))
      throw new RangeError(`SGD momentum must be non-negative, got ${this.momentum}`);
    if (!(this.weightDecay >= 0)) {
      throw new RangeError(`SGD weight_decay must be non-negative, got ${this.weightDecay}`);
    }
    if (!(this.dampening >= 0 && this.dampening <= 1)) {
      throw new RangeError(`SGD dampening must be in [0, 1], got ${this.dampening}`);
    }
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new RangeError('SGD nesterov momentum requires a momentum and zero dampening');
    }
    this.buffers = this.params.map(() => null);
  }

  /** Number of steps taken. */
  get stepCount(): number {
    return this.steps;
  }

  zeroGrad(): void {
    for (const p of this.params) p.zeroGrad();
  }

  step(): void {
    const m = this.momentum;
    for (let i = 0; i < this.params.length; i++) {
      const p = this.params[i]!;
      let buf = this.buffers[i]!;
      const first = m !== 0 && buf === null;
      if (first) {
        buf = new Float32Array(p.data.length);
        this.buffers[i] = buf;
      }
      if (this.dampening === 0 || first) {
        this.kernels.sgdStep(p.data, p.grad, buf, this.lr, m, this.weightDecay, this.nesterov, first);
      } else {
        dampenedStep(p.data, p.grad, buf!, this.lr, m, this.dampening, this.weightDecay);
      }
    }
    this.steps++;
  }

  /** The momentum buffers (null where no step has been taken or momentum is 0), for checkpoints. */
  momentumBuffers(): readonly (Float32Array | null)[] {
    return this.buffers;
  }

  /** Restores momentum buffers saved by momentumBuffers() (copied in). */
  loadMomentumBuffers(buffers: readonly (Float32Array | null)[], stepCount: number): void {
    if (buffers.length !== this.params.length) {
      throw new RangeError(`SGD: expected ${this.params.length} momentum buffers, got ${buffers.length}`);
    }
    buffers.forEach((b, i) => {
      if (b !== null && b.length !== this.params[i]!.data.length) {
        throw new RangeError(
          `SGD: momentum buffer ${i} has ${b.length} elements, expected ${this.params[i]!.data.length}`,
        );
      }
      this.buffers[i] = b === null ? null : b.slice();
    });
    this.steps = stepCount;
  }
}

// The non-zero dampening case (not in the kernel contract): buf = m·buf + (1 − dampening)·d.
function dampenedStep(
  p: Float32Array,
  grad: Float32Array,
  buf: Float32Array,
  lr: number,
  m: number,
  dampening: number,
  wd: number,
): void {
  const f = Math.fround;
  for (let i = 0; i < p.length; i++) {
    const d = wd !== 0 ? f(grad[i]! + f(wd * p[i]!)) : grad[i]!;
    const b = f(f(m * buf[i]!) + f((1 - dampening) * d));
    buf[i] = b;
    p[i] = f(p[i]! - f(lr * b));
  }
}
