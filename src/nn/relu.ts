// ReLU, as torch.nn.ReLU: y = max(x, 0), any shape. inplace overwrites x (torchvision's inplace=True);
// backward needs only the sign, so it keeps y (y > 0 exactly where x > 0; the gradient at 0 is 0).
import type { Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { expectGradShape, savedOrThrow } from './checks.js';
import { Layer } from './layer.js';

export interface ReLUOptions extends BackendOptions {
  readonly inplace?: boolean;
}

export class ReLU extends Layer {
  readonly inplace: boolean;
  private saved: { y: Tensor } | null = null;

  constructor(opts: ReLUOptions = {}) {
    super(opts);
    this.inplace = opts.inplace ?? false;
  }

  // x [*] → y [*]
  async forward(x: Tensor): Promise<Tensor> {
    const y = this.inplace ? x : this.output('y', x.shape);
    this.kernels.reluForward(x.data, y.data);
    this.saved = { y };
    return y;
  }

  // dy [*] → dx [*] = dy where y > 0, else 0
  async backward(dy: Tensor): Promise<Tensor> {
    const { y } = savedOrThrow('ReLU', this.saved);
    expectGradShape('ReLU', dy, y.shape);
    const dx = this.output('dx', dy.shape);
    this.kernels.reluBackward(dy.data, y.data, dx.data);
    this.saved = null;
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
