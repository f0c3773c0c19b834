// Linear, as torch.nn.Linear: x [N,I], weight [O,I], bias [O] → y [N,O] = x·weightᵀ + bias.
// The three products go through LinearOps; the bias is added (and its gradient summed) here.
import { SeededRng } from '../tensor/seeded-rng.js';
import { shapeStr, Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { expectGradShape, expectResultShape, positiveInt, savedOrThrow, shapeError } from './checks.js';
import { defaultBound, fillUniform, type InitOptions } from './init.js';
import { Layer, outs } from './layer.js';
import type { Parameter } from './module.js';

export interface LinearOptions extends BackendOptions, InitOptions {
  readonly bias?: boolean;
}

export class Linear extends Layer {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: Parameter;
  readonly bias: Parameter | null;
  private saved: { x: Tensor } | null = null;

  constructor(inFeatures: number, outFeatures: number, opts: LinearOptions = {}) {
    super(opts);
    this.inFeatures = positiveInt('Linear in_features', inFeatures);
    this.outFeatures = positiveInt('Linear out_features', outFeatures);
    this.weight = this.registerParameter('weight', Tensor.zeros([outFeatures, inFeatures]));
    this.bias = (opts.bias ?? true) ? this.registerParameter('bias', Tensor.zeros([outFeatures])) : null;
    if (opts.skipInit !== true) {
      const rng = opts.rng ?? new SeededRng(0);
      const bound = defaultBound(inFeatures);
      fillUniform(this.weight.data, bound, rng);
      if (this.bias !== null) fillUniform(this.bias.data, bound, rng);
    }
  }

  // x [N,I] → y [N,O]
  async forward(x: Tensor): Promise<Tensor> {
    if (x.rank !== 2 || x.shape[1] !== this.inFeatures) {
      throw shapeError(`Linear: expected input [N,${this.inFeatures}], got ${shapeStr(x.shape)}`);
    }
    this.saved = null;
    const n = x.shape[0]!;
    const y = await this.linearOps.dense(x, this.weight.value, this.outputHint('y', [n, this.outFeatures]));
    expectResultShape('Linear', 'dense', y, [n, this.outFeatures]);
    if (this.bias !== null)
      this.kernels.addChannelBias({ n, c: this.outFeatures, hw: 1 }, y.data, this.bias.data);
    this.saved = { x };
    return y;
  }

  // dy [N,O] → dx [N,I]; weight.grad += dyᵀ·x, bias.grad += Σₙ dy
  async backward(dy: Tensor): Promise<Tensor> {
    const { x } = savedOrThrow('Linear', this.saved);
    const n = x.shape[0]!;
    expectGradShape('Linear', dy, [n, this.outFeatures]);
    const dxOut = this.outputHint('dx', x.shape);
    const dwOut = this.gradHint(this.weight);
    const ops = this.linearOps;
    // Both products of one dy: as a pair where the ops take one (a remote accelerator then gets dy once).
    const [dx, dw] =
      ops.denseBackward !== undefined
        ? await ops.denseBackward(dy, this.weight.value, x, outs(dxOut, dwOut))
        : await Promise.all([
            ops.denseGradInput(dy, this.weight.value, dxOut),
            ops.denseGradWeight(dy, x, dwOut),
          ]);
    expectResultShape('Linear', 'denseGradInput', dx, x.shape);
    expectResultShape('Linear', 'denseGradWeight', dw, this.weight.shape);
    this.weight.addGrad(dw.data, this.kernels);
    if (this.bias !== null)
      this.kernels.sumChannels({ n, c: this.outFeatures, hw: 1 }, dy.data, this.bias.grad);
    this.saved = null;
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}
