// BatchNorm2d, as torch.nn.BatchNorm2d: x [N,C,H,W] → y, per channel (x − mean)/sqrt(var + eps)·weight + bias.
// Training: batch statistics (biased variance to normalise), running stats updated with momentum and the
// *unbiased* variance, num_batches_tracked += 1. Eval: running statistics. Backward works in both modes.
import { shapeStr, Tensor } from '../tensor/tensor.js';
import type { BackendOptions } from './backend.js';
import { expectGradShape, expectNCHW, positiveInt, savedOrThrow, shapeError } from './checks.js';
import { Layer } from './layer.js';
import type { Parameter } from './module.js';

export interface BatchNorm2dOptions extends BackendOptions {
  readonly eps?: number;
  /** Weight of the new statistic in the running average; null = cumulative average (PyTorch's None). */
  readonly momentum?: number | null;
  readonly affine?: boolean;
}

interface Saved {
  readonly x: Tensor;
  readonly mean: Float32Array; // [C] the statistics x was normalised with
  readonly invstd: Float32Array; // [C] 1/sqrt(var + eps)
  readonly train: boolean;
}

export class BatchNorm2d extends Layer {
  readonly numFeatures: number;
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: Parameter | null;
  readonly bias: Parameter | null;
  readonly runningMean: Float32Array;
  readonly runningVar: Float32Array;
  readonly numBatchesTracked: BigInt64Array;
  private saved: Saved | null = null;

  constructor(numFeatures: number, opts: BatchNorm2dOptions = {}) {
    super(opts);
    const c = positiveInt('BatchNorm2d num_features', numFeatures);
    this.numFeatures = c;
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    if (!(this.eps > 0)) throw new RangeError(`BatchNorm2d eps must be positive, got ${this.eps}`);
    if (this.momentum !== null && !(this.momentum >= 0 && this.momentum <= 1)) {
      throw new RangeError(`BatchNorm2d momentum must be in [0, 1], got ${this.momentum}`);
    }
    const affine = opts.affine ?? true;
    this.weight = affine
      ? this.registerParameter('weight', new Tensor([c], new Float32Array(c).fill(1)))
      : null;
    this.bias = affine ? this.registerParameter('bias', Tensor.zeros([c])) : null;
    this.runningMean = new Float32Array(c);
    this.runningVar = new Float32Array(c).fill(1);
    this.numBatchesTracked = new BigInt64Array(1);
    this.registerBuffer('running_mean', [c], this.runningMean);
    this.registerBuffer('running_var', [c], this.runningVar);
    this.registerBuffer('num_batches_tracked', [], this.numBatchesTracked);
  }

  // x [N,C,H,W] → y [N,C,H,W]
  async forward(x: Tensor): Promise<Tensor> {
    expectNCHW('BatchNorm2d', x, this.numFeatures);
    this.saved = null;
    const [n, c, h, w] = x.shape as [number, number, number, number];
    const g = { n, c, hw: h * w };
    const y = this.output('y', x.shape);
    const wt = this.weight?.data ?? null;
    const bs = this.bias?.data ?? null;
    if (this.training) {
      const count = n * h * w;
      if (count < 2) {
        throw shapeError(
          `BatchNorm2d: expected more than 1 value per channel when training, got input ${shapeStr(x.shape)}`,
        );
      }
      const mean = this.outputArray('mean', c);
      const variance = this.outputArray('variance', c);
      const invstd = this.outputArray('invstd', c);
      this.kernels.batchNorm2dForwardTrain(g, x.data, wt, bs, this.eps, y.data, mean, variance, invstd);
      this.updateRunningStats(mean, variance, count);
      this.saved = { x, mean, invstd, train: true };
    } else {
      this.kernels.batchNorm2dForwardEval(
        g,
        x.data,
        wt,
        bs,
        this.runningMean,
        this.runningVar,
        this.eps,
        y.data,
      );
      const invstd = new Float32Array(c);
      for (let i = 0; i < c; i++) invstd[i] = 1 / Math.sqrt(this.runningVar[i]! + this.eps);
      this.saved = { x, mean: this.runningMean.slice(), invstd, train: false };
    }
    return y;
  }

  private updateRunningStats(mean: Float32Array, variance: Float32Array, count: number): void {
    this.numBatchesTracked[0]! += 1n;
    const m = this.momentum ?? 1 / Number(this.numBatchesTracked[0]!);
    const unbias = count / (count - 1);
    for (let i = 0; i < this.numFeatures; i++) {
      this.runningMean[i] = (1 - m) * this.runningMean[i]! + m * mean[i]!;
      this.runningVar[i] = (1 - m) * this.runningVar[i]! + m * variance[i]! * unbias;
    }
  }

  // dy [N,C,H,W] → dx [N,C,H,W]; weight.grad += Σ dy·x̂, bias.grad += Σ dy
  async backward(dy: Tensor): Promise<Tensor> {
    const s = savedOrThrow('BatchNorm2d', this.saved);
    expectGradShape('BatchNorm2d', dy, s.x.shape);
    const [n, c, h, w] = s.x.shape as [number, number, number, number];
    const g = { n, c, hw: h * w };
    const dx = this.output('dx', s.x.shape);
    const dweight = this.weight === null ? null : this.outputArray('dweight', c);
    const dbias = this.bias === null ? null : this.outputArray('dbias', c);
    const wt = this.weight?.data ?? null;
    if (s.train) {
      this.kernels.batchNorm2dBackward(g, dy.data, s.x.data, wt, s.mean, s.invstd, dx.data, dweight, dbias);
    } else {
      evalBackward(g, dy.data, s.x.data, wt, s.mean, s.invstd, dx.data, dweight, dbias);
    }
    if (dweight !== null) this.weight!.addGrad(dweight, this.kernels);
    if (dbias !== null) this.bias!.addGrad(dbias, this.kernels);
    this.saved = null;
    return dx;
  }

  releaseSaved(): void {
    this.saved = null;
  }
}

// Eval mode: mean and invstd are constants, so dx = dy·weight·invstd; dweight = Σ dy·(x − mean)·invstd,
// dbias = Σ dy. x, dy, dx [n,c,hw]; sums in float64.
function evalBackward(
  g: { n: number; c: number; hw: number },
  dy: Float32Array,
  x: Float32Array,
  weight: Float32Array | null,
  mean: Float32Array,
  invstd: Float32Array,
  dx: Float32Array,
  dweight: Float32Array | null,
  dbias: Float32Array | null,
): void {
  const { n, c, hw } = g;
  for (let ch = 0; ch < c; ch++) {
    const scale = (weight === null ? 1 : weight[ch]!) * invstd[ch]!;
    const mu = mean[ch]!;
    let sdy = 0;
    let sdyx = 0;
    for (let b = 0; b < n; b++) {
      const base = (b * c + ch) * hw;
      for (let i = 0; i < hw; i++) {
        const d = dy[base + i]!;
        dx[base + i] = d * scale;
        sdy += d;
        sdyx += d * (x[base + i]! - mu);
      }
    }
    if (dweight !== null) dweight[ch] = sdyx * invstd[ch]!;
    if (dbias !== null) dbias[ch] = sdy;
  }
}
