// Flatten, as torch.nn.Flatten(start_dim=1): x [N,d1,d2,…] → y [N,d1·d2·…] (a view, no copy).
import { type Shape, shapeStr, type Tensor } from '../tensor/tensor.js';
import { expectGradShape, savedOrThrow, shapeError } from './checks.js';
import { Layer } from './layer.js';

export class Flatten extends Layer {
  private saved: { inShape: Shape; outShape: Shape } | null = null;

  // x [N,*] → y [N,prod(*)]
  async forward(x: Tensor): Promise<Tensor> {
    if (x.rank < 2) throw shapeError(`Flatten: expected input [N,*], got ${shapeStr(x.shape)}`);
    const n = x.shape[0]!;
    const y = x.reshape([n, n === 0 ? 0 : x.size / n]);
    this.saved = { inShape: x.shape, outShape: y.shape };
    return y;
  }

  // dy [N,prod(*)] → dx [N,*]
  async backward(dy: Tensor): Promise<Tensor> {
    const { inShape, outShape } = savedOrThrow('Flatten', this.saved);
    expectGradShape('Flatten', dy, outShape);
    this.saved = null;
    return dy.reshape(inShape);
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
