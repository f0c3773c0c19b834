// AdaptiveAvgPool2d, as torch.nn.AdaptiveAvgPool2d: x [N,C,H,W] → y [N,C,oh,ow], output cell i averages
// input rows [floor(i·H/oh), ceil((i+1)·H/oh)) (and likewise columns); oh > H up-samples.
import type { AdaptiveGeom } from '../kernels/api.js';
import type { Shape, Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { expectGradShape, expectNCHW, positiveInt, savedOrThrow, shapeError } from './checks.js';
import { Layer } from './layer.js';

export class AdaptiveAvgPool2d extends Layer {
  readonly outputSize: readonly [number, number];
  private saved: { g: AdaptiveGeom; outShape: Shape } | null = null;

  constructor(outputSize: number | readonly [number, number], opts: BackendOptions = {}) {
    super(opts);
    const [oh, ow] = typeof outputSize === 'number' ? [outputSize, outputSize] : outputSize;
    this.outputSize = [
      positiveInt('AdaptiveAvgPool2d output height', oh),
      positiveInt('AdaptiveAvgPool2d output width', ow),
    ];
  }

  // x [N,C,H,W] → y [N,C,oh,ow]
  async forward(x: Tensor): Promise<Tensor> {
    expectNCHW('AdaptiveAvgPool2d', x);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    if (h === 0 || w === 0) throw shapeError(`AdaptiveAvgPool2d: input has an empty plane ${h}x${w}`);
    const [oh, ow] = this.outputSize;
    const g: AdaptiveGeom = { n, c, h, w, oh, ow };
    const y = this.output('y', [n, c, oh, ow]);
    this.kernels.adaptiveAvgPool2dForward(g, x.data, y.data);
    this.saved = { g, outShape: y.shape };
    return y;
  }

  // dy [N,C,oh,ow] → dx [N,C,H,W]
  async backward(dy: Tensor): Promise<Tensor> {
    const { g, outShape } = savedOrThrow('AdaptiveAvgPool2d', this.saved);
    expectGradShape('AdaptiveAvgPool2d', dy, outShape);
    const dx = this.output('dx', [g.n, g.c, g.h, g.w]);
    this.kernels.adaptiveAvgPool2dBackward(g, dy.data, dx.data);
    this.saved = null;
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
