// Counts a model without building it: walks the same layer specs as the builders, tracking the
// activation shape, the parameter count and the multiply-accumulates of every conv/linear product.
// Inputs too small for a layer fail with E_SHAPE, as the real forward would.
import { convOutSize } from '../kernels/api.js';
import { shapeError } from '../nn/checks.js';

export class ShapeTracer {
  /** [C,H,W] while spatial, [F] after flatten. */
  shape: number[];
  params = 0;
  macs = 0;

  constructor(channels: number, height: number, width: number) {
    this.shape = [channels, height, width];
  }

  private spatial(layer: string): [number, number, number] {
    if (this.shape.length !== 3) throw shapeError(`${layer}: expected a spatial input, got [${this.shape}]`);
    return this.shape as [number, number, number];
  }

  private window(layer: string, k: number, s: number, p: number): [number, number] {
    const [, h, w] = this.spatial(layer);
    if (h + 2 * p < k || w + 2 * p < k) {
      throw shapeError(`${layer}: input [N,${this.shape}] is smaller than kernel ${k} with padding ${p}`);
    }
    return [convOutSize(h, k, s, p), convOutSize(w, k, s, p)];
  }

  conv(o: number, k: number, s: number, p: number, bias: boolean): void {
    const [c] = this.spatial('Conv2d');
    const [oh, ow] = this.window('Conv2d', k, s, p);
    this.params += o * c * k * k + (bias ? o : 0);
    this.macs += o * oh * ow * c * k * k;
    this.shape = [o, oh, ow];
  }

  batchNorm(): void {
    const [c] = this.spatial('BatchNorm2d');
    this.params += 2 * c;
  }

  maxPool(k: number, s: number, p: number): void {
    const [c] = this.spatial('MaxPool2d');
    const [oh, ow] = this.window('MaxPool2d', k, s, p);
    this.shape = [c, oh, ow];
  }

  adaptiveAvgPool(oh: number, ow: number): void {
    const [c] = this.spatial('AdaptiveAvgPool2d');
    this.shape = [c, oh, ow];
  }

  /** A ReLU (in place in every model here): the shape is unchanged. */
  relu(): void {}

  /** BasicBlock's residual add and final ReLU: the shape is unchanged. */
  residual(): void {}

  flatten(): void {
    this.shape = [this.shape.reduce((a, b) => a * b, 1)];
  }

  linear(o: number, bias: boolean): void {
    if (this.shape.length !== 1) throw shapeError(`Linear: expected a flat input, got [${this.shape}]`);
    const i = this.shape[0]!;
    this.params += o * i + (bias ? o : 0);
    this.macs += o * i;
    this.shape = [o];
  }
}
