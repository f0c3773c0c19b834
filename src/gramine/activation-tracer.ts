// What one image costs in memory while training, without building the model: walks the same layer
// specs as the builders (a ShapeTracer) and records every tensor a layer keeps for its backward pass.
// Each traced op produces a new float32 output that stays alive until backward (the next layer saves
// it as its input, or the op saves it itself); ReLUs are in-place in every model here (torchvision's
// inplace=True) and add no output; max pooling also keeps an int32 argmax of its output's size.
// Training reuses buffers (src/nn/layer.ts enableBufferReuse): every layer also keeps its input-gradient
// buffer across steps (ReLUs and BasicBlock's residual gradient included) and BatchNorm its per-channel
// statistics. Weight gradients need no buffer of their own: each is written straight into its parameter's
// gradient (Parameter.freshGradTarget; a scratch the size of the largest weight appears only when
// gradients accumulate over several backwards without zeroGrad, which training never does).
import { traceAlexnet } from '../models/alexnet.js';
import { describeModel, modelNames } from '../models/index.js';
import { traceResnet } from '../models/resnet.js';
import { ShapeTracer } from '../models/shape-tracer.js';
import { traceVgg, type VggDepth } from '../models/vgg.js';

/** Per-image element counts of a model at one input size (multiply by the batch for a step). */
export interface ActivationProfile {
  /** Elements of the input image (3·S·S). */
  readonly input: number;
  /** Σ float32 outputs of conv, batch-norm, pooling and linear layers, kept until backward. */
  readonly saved: number;
  /** Σ int32 argmax indices kept by max pooling. */
  readonly indices: number;
  /** The largest single output (the split protocol's largest operand and result). */
  readonly largest: number;
  /**
   * Σ input-gradient buffers kept across steps with buffer reuse: dx (the input's size) of every conv
   * (the first one's zeros too), batch-norm, ReLU, pooling and linear layer, and BasicBlock's gradient
   * through its residual ReLU (its output's size).
   */
  readonly grads: number;
  /** Σ per-channel float32 arrays of batch-norm kept across steps: mean, variance, invstd, dweight, dbias. */
  readonly channelStats: number;
  /** The largest weight of any layer (the largest weight-gradient result a split step receives). */
  readonly largestWeight: number;
  /** Largest im2col column block of one image (C·k·k·H'·W'), the per-thread conv workspace. */
  readonly im2col: number;
  /** Largest conv weight (O·C·k·k): each kernel thread accumulates its own weight gradient. */
  readonly convWeight: number;
  readonly parameters: number;
  readonly macs: number;
  /** 'traced' from the layer specs, or 'scaled' from MACs for a model the tracer does not know. */
  readonly source: 'traced' | 'scaled';
}

type Trace = (t: ShapeTracer, numClasses: number) => void;

function traceOf(name: string): Trace | undefined {
  if (name === 'alexnet') return traceAlexnet;
  const v = /^vgg(11|13|16|19)(_bn)?$/.exec(name);
  if (v) return (t, k) => traceVgg(t, Number(v[1]) as VggDepth, v[2] !== undefined, k);
  const r = /^resnet(18|34)$/.exec(name);
  if (r) return (t, k) => traceResnet(t, Number(r[1]) as 18 | 34, k);
  return undefined;
}

class ActivationTracer extends ShapeTracer {
  saved = 0;
  indices = 0;
  largest = 0;
  im2col = 0;
  convWeight = 0;
  grads = 0;
  channelStats = 0;
  largestWeight = 0;

  private size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  private out(): number {
    const n = this.shape.reduce((a, b) => a * b, 1);
    this.saved += n;
    this.largest = Math.max(this.largest, n);
    return n;
  }

  override conv(o: number, k: number, s: number, p: number, bias: boolean): void {
    const c = this.shape[0]!;
    this.grads += this.size();
    super.conv(o, k, s, p, bias);
    const [, oh, ow] = this.shape as [number, number, number];
    this.im2col = Math.max(this.im2col, c * k * k * oh * ow);
    this.convWeight = Math.max(this.convWeight, o * c * k * k);
    this.largestWeight = Math.max(this.largestWeight, o * c * k * k);
    this.out();
  }

  override batchNorm(): void {
    this.grads += this.size();
    this.channelStats += 5 * this.shape[0]!;
    super.batchNorm();
    this.out();
  }

  override relu(): void {
    this.grads += this.size();
  }

  override residual(): void {
    this.grads += this.size();
  }

  override maxPool(k: number, s: number, p: number): void {
    this.grads += this.size();
    super.maxPool(k, s, p);
    this.indices += this.out();
  }

  override adaptiveAvgPool(oh: number, ow: number): void {
    this.grads += this.size();
    super.adaptiveAvgPool(oh, ow);
    this.out();
  }

  override linear(o: number, bias: boolean): void {
    const i = this.size();
    this.grads += i;
    this.largestWeight = Math.max(this.largestWeight, o * i);
    super.linear(o, bias);
    this.out();
  }
}

function traced(trace: Trace, numClasses: number, inputSize: number): ActivationProfile {
  const t = new ActivationTracer(3, inputSize, inputSize);
  trace(t, numClasses);
  return {
    input: 3 * inputSize * inputSize,
    saved: t.saved,
    indices: t.indices,
    largest: t.largest,
    im2col: t.im2col,
    convWeight: t.convWeight,
    grads: t.grads,
    channelStats: t.channelStats,
    largestWeight: t.largestWeight,
    parameters: t.params,
    macs: t.macs,
    source: 'traced',
  };
}

/**
 * The activation profile of `model` at S×S (E_SHAPE when S is too small, as describeModel). A model
 * of the zoo the tracer has no spec for is scaled from its MACs by the largest ratio any traced model
 * shows at the same size (an over-estimate by construction, never an under-estimate of those).
 */
export function activationProfile(
  model: string,
  opts: { numClasses: number; inputSize: number },
): ActivationProfile {
  const d = describeModel(model, opts); // RangeError for unknown names, E_SHAPE for small inputs
  const trace = traceOf(model);
  if (trace) return traced(trace, opts.numClasses, opts.inputSize);
  const known = modelNames.filter((n) => traceOf(n) !== undefined);
  const ratio = {
    saved: 0,
    indices: 0,
    largest: 0,
    im2col: 0,
    convWeight: 0,
    grads: 0,
    channelStats: 0,
    largestWeight: 0,
  };
  for (const n of known) {
    let p: ActivationProfile;
    try {
      p = traced(traceOf(n)!, opts.numClasses, opts.inputSize);
    } catch {
      continue; // this model does not accept the size
    }
    ratio.saved = Math.max(ratio.saved, p.saved / p.macs);
    ratio.indices = Math.max(ratio.indices, p.indices / p.macs);
    ratio.largest = Math.max(ratio.largest, p.largest / p.macs);
    ratio.im2col = Math.max(ratio.im2col, p.im2col / p.macs);
    ratio.convWeight = Math.max(ratio.convWeight, p.convWeight / p.parameters);
    ratio.grads = Math.max(ratio.grads, p.grads / p.macs);
    ratio.channelStats = Math.max(ratio.channelStats, p.channelStats / p.parameters);
    ratio.largestWeight = Math.max(ratio.largestWeight, p.largestWeight / p.parameters);
  }
  return {
    input: 3 * opts.inputSize * opts.inputSize,
    saved: Math.ceil(ratio.saved * d.macs),
    indices: Math.ceil(ratio.indices * d.macs),
    largest: Math.ceil(ratio.largest * d.macs),
    im2col: Math.ceil(ratio.im2col * d.macs),
    convWeight: Math.ceil(ratio.convWeight * d.parameters),
    grads: Math.ceil(ratio.grads * d.macs),
    channelStats: Math.ceil(ratio.channelStats * d.parameters),
    largestWeight: Math.ceil(ratio.largestWeight * d.parameters),
    parameters: d.parameters,
    macs: d.macs,
    source: 'scaled',
  };
}
