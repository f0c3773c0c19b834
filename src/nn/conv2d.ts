// Conv2d, as torch.nn.Conv2d (square kernel, groups 1, dilation 1):
// x [N,C,H,W], weight [O,C,k,k], bias [O] → y [N,O,H',W'], H' = floor((H+2p-k)/s)+1.
// The three products go through LinearOps; the bias is added (and its gradient summed) here.
import { convOutSize } from '../kernels/api.js';
import type { ConvParams } from '../kernels/linear-ops.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { type Shape, shapeStr, Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import {
  expectGradShape,
  expectNCHW,
  expectResultShape,
  nonNegativeInt,
  positiveInt,
  savedOrThrow,
  shapeError,
} from './checks.js';
import { defaultBound, fillUniform, type InitOptions } from './init.js';
import { Layer, outs } from './layer.js';
import type { Parameter } from './module.js';

export interface Conv2dOptions extends BackendOptions, InitOptions {
  readonly stride?: number;
  readonly padding?: number;
  readonly bias?: boolean;
  /**
   * Compute the gradient with respect to the input (default true). A model's first convolution
   * sets false, as PyTorch skips it for an input that does not require grad: backward then runs
   * only the weight-gradient product and returns zeros of the input's shape.
   */
  readonly inputGrad?: boolean;
}

export class Conv2d extends Layer {
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernelSize: number;
  readonly stride: number;
  readonly padding: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  readonly inputGrad: boolean;
  private saved: { x: Tensor; outShape: Shape } | null = null;

  constructor(inChannels: number, outChannels: number, kernelSize: number, opts: Conv2dOptions = {}) {
    super(opts);
    this.inChannels = positiveInt('Conv2d in_channels', inChannels);
    this.outChannels = positiveInt('Conv2d out_channels', outChannels);
    this.kernelSize = positiveInt('Conv2d kernel_size', kernelSize);
    this.stride = positiveInt('Conv2d stride', opts.stride ?? 1);
    this.padding = nonNegativeInt('Conv2d padding', opts.padding ?? 0);
    this.inputGrad = opts.inputGrad ?? true;
    const k = kernelSize;
    this.weight = this.registerParameter('weight', Tensor.zeros([outChannels, inChannels, k, k]));
    this.bias = (opts.bias ?? true) ? this.registerParameter('bias', Tensor.zeros([outChannels])) : null;
    if (opts.skipInit !== true) {
      const rng = opts.rng ?? new SeededRng(0);
      const bound = defaultBound(inChannels * k * k);
      fillUniform(this.weight.data, bound, rng);
      if (this.bias !== null) fillUniform(this.bias.data, bound, rng);
    }
  }

  get params(): ConvParams {
    return { stride: this.stride, padding: this.padding };
  }

  /** [N,C,H,W] → [N,O,H',W'], or E_SHAPE when the input does not fit. */
  outputShape(inShape: Shape): Shape {
    const [n, , h, w] = inShape as [number, number, number, number];
    const oh = convOutSize(h, this.kernelSize, this.stride, this.padding);
    const ow = convOutSize(w, this.kernelSize, this.stride, this.padding);
    if (h + 2 * this.padding < this.kernelSize || w + 2 * this.padding < this.kernelSize) {
      throw shapeError(
        `Conv2d: input ${shapeStr(inShape)} is smaller than kernel ${this.kernelSize} with padding ${this.padding}`,
      );
    }
    return [n, this.outChannels, oh, ow];
  }

  // x [N,C,H,W] → y [N,O,H',W']
  async forward(x: Tensor): Promise<Tensor> {
    expectNCHW('Conv2d', x, this.inChannels);
    const outShape = this.outputShape(x.shape);
    this.saved = null;
    const y = await this.linearOps.conv2d(x, this.weight.value, this.params, this.outputHint('y', outShape));
    expectResultShape('Conv2d', 'conv2d', y, outShape);
    if (this.bias !== null) {
      const [n, o, oh, ow] = outShape as [number, number, number, number];
      this.kernels.addChannelBias({ n, c: o, hw: oh * ow }, y.data, this.bias.data);
    }
    this.saved = { x, outShape };
    return y;
  }

  // dy [N,O,H',W'] → dx [N,C,H,W]; weight.grad += dyᵀ⋆x, bias.grad += Σ dy
  async backward(dy: Tensor): Promise<Tensor> {
    const { x, outShape } = savedOrThrow('Conv2d', this.saved);
    expectGradShape('Conv2d', dy, outShape);
    const inHW = [x.shape[2]!, x.shape[3]!] as const;
    const ops = this.linearOps;
    const dxOut = this.inputGrad ? this.outputHint('dx', x.shape) : undefined;
    const dwOut = this.gradHint(this.weight);
    // Both products of one dy: as a pair where the ops take one (a remote accelerator then gets dy once).
    const [dx, dw] =
      this.inputGrad && ops.conv2dBackward !== undefined
        ? await ops.conv2dBackward(dy, this.weight.value, x, this.params, this.kernelSize, outs(dxOut, dwOut))
        : await Promise.all([
            this.inputGrad
              ? ops.conv2dGradInput(dy, this.weight.value, this.params, inHW, dxOut)
              : Promise.resolve(this.zeroInputGrad(x.shape)),
            ops.conv2dGradWeight(dy, x, this.params, this.kernelSize, dwOut),
          ]);
    expectResultShape('Conv2d', 'conv2dGradInput', dx, x.shape);
    expectResultShape('Conv2d', 'conv2dGradWeight', dw, this.weight.shape);
    this.weight.addGrad(dw.data, this.kernels);
    if (this.bias !== null) {
      const [n, o, oh, ow] = outShape as [number, number, number, number];
      this.kernels.sumChannels({ n, c: o, hw: oh * ow }, dy.data, this.bias.grad);
    }
    this.saved = null;
    return dx;
  }

  // The input gradient of a layer that skips it: zeros of the input's shape.
  private zeroInputGrad(shape: Shape): Tensor {
    const dx = this.output('dx', shape);
    if (this.reuseBuffers) dx.data.fill(0);
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
