// MaxPool2d, as torch.nn.MaxPool2d (square window, floor mode, dilation 1, padding with −inf):
// x [N,C,H,W] → y [N,C,H',W'], H' = floor((H+2p−k)/s)+1. The gradient goes to the first maximum of each
// window in row-major order (PyTorch's tie rule); backward keeps only the argmax indices.
import type { PoolGeom } from '../kernels/api.js';
import { convOutSize } from '../kernels/api.js';
import { type Shape, shapeStr, type Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import {
  expectGradShape,
  expectNCHW,
  nonNegativeInt,
  positiveInt,
  savedOrThrow,
  shapeError,
} from './checks.js';
import { Layer } from './layer.js';

export interface MaxPool2dOptions extends BackendOptions {
  /** Default: the kernel size. */
  readonly stride?: number;
  readonly padding?: number;
}

export class MaxPool2d extends Layer {
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  private saved: { g: PoolGeom; argmax: Int32Array; outShape: Shape } | null = null;
  private argmaxBuf: Int32Array | null = null;

  constructor(kernelSize: number, opts: MaxPool2dOptions = {}) {
    super(opts);
    this.kernelSize = positiveInt('MaxPool2d kernel_size', kernelSize);
    this.stride = positiveInt('MaxPool2d stride', opts.stride ?? kernelSize);
    this.padding = nonNegativeInt('MaxPool2d padding', opts.padding ?? 0);
    if (2 * this.padding > kernelSize) {
      throw new RangeError(
        `MaxPool2d padding must be at most half the kernel size, got ${this.padding} for ${kernelSize}`,
      );
    }
  }

  outputShape(inShape: Shape): Shape {
    const [n, c, h, w] = inShape as [number, number, number, number];
    if (h + 2 * this.padding < this.kernelSize || w + 2 * this.padding < this.kernelSize) {
      throw shapeError(
        `MaxPool2d: input ${shapeStr(inShape)} is smaller than kernel ${this.kernelSize} with padding ${this.padding}`,
      );
    }
    const k = this.kernelSize;
    return [n, c, convOutSize(h, k, this.stride, this.padding), convOutSize(w, k, this.stride, this.padding)];
  }

  // x [N,C,H,W] → y [N,C,H',W']
  async forward(x: Tensor): Promise<Tensor> {
    expectNCHW('MaxPool2d', x);
    const outShape = this.outputShape(x.shape);
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const g: PoolGeom = { n, c, h, w, k: this.kernelSize, stride: this.stride, padding: this.padding };
    const y = this.output('y', outShape);
    // argmax is overwritten entirely by the kernel: with reuse on, the previous step's array serves
    // (backward has consumed it by now).
    const argmax =
      this.reuseBuffers && this.argmaxBuf !== null && this.argmaxBuf.length === y.size
        ? this.argmaxBuf
        : new Int32Array(y.size);
    this.argmaxBuf = this.reuseBuffers ? argmax : null;
    this.kernels.maxPool2dForward(g, x.data, y.data, argmax);
    this.saved = { g, argmax, outShape };
    return y;
  }

  // dy [N,C,H',W'] → dx [N,C,H,W]
  async backward(dy: Tensor): Promise<Tensor> {
    const { g, argmax, outShape } = savedOrThrow('MaxPool2d', this.saved);
    expectGradShape('MaxPool2d', dy, outShape);
    const dx = this.output('dx', [g.n, g.c, g.h, g.w]);
    this.kernels.maxPool2dBackward(g, dy.data, argmax, dx.data);
    this.saved = null;
    return dx;
  }

  override get heldBytes(): number {
    return super.heldBytes + (this.argmaxBuf?.byteLength ?? 0);
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
