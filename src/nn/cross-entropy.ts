// CrossEntropyLoss, as torch.nn.CrossEntropyLoss(reduction='mean'): logits [N,K], labels [N] in [0,K)
// → loss = mean over n of −log softmax(logits)[n, label_n]; backward gives dlogits [N,K] =
// (softmax − onehot)/N. Runs in the trusted process (kernels only, no LinearOps).
import type { Kernels } from '../kernels/api.js';
import { shapeStr, Tensor } from '../tensor/tensor.js';
import { defaultKernels } from './backend.js';
import { savedOrThrow, shapeError } from './checks.js';

export type Labels = Int32Array | BigInt64Array | readonly number[];

export interface LossResult {
  readonly loss: number;
  /** d loss / d logits [N,K] */
  readonly grad: Tensor;
}

export class CrossEntropyLoss {
  kernels: Kernels;
  private saved: { probs: Float32Array; labels: Int32Array; n: number; k: number } | null = null;

  constructor(opts: { kernels?: Kernels } = {}) {
    this.kernels = opts.kernels ?? defaultKernels();
  }

  // logits [N,K], labels [N] → mean loss
  async forward(logits: Tensor, labels: Labels): Promise<number> {
    this.saved = null;
    if (logits.rank !== 2 || logits.shape[0]! < 1 || logits.shape[1]! < 1) {
      throw shapeError(
        `CrossEntropyLoss: expected logits [N,K] with N, K ≥ 1, got ${shapeStr(logits.shape)}`,
      );
    }
    const [n, k] = logits.shape as [number, number];
    const lab = toLabels(labels, n, k);
    const probs = new Float32Array(n * k);
    const loss = this.kernels.crossEntropyForward(n, k, logits.data, lab, probs);
    this.saved = { probs, labels: lab, n, k };
    return loss;
  }

  // → dlogits [N,K] = scale·(softmax − onehot)/N
  async backward(scale = 1): Promise<Tensor> {
    const { probs, labels, n, k } = savedOrThrow('CrossEntropyLoss', this.saved);
    const grad = new Tensor([n, k]);
    this.kernels.crossEntropyBackward(n, k, probs, labels, scale, grad.data);
    this.saved = null;
    return grad;
  }

  /** forward then backward: the loss and its gradient with respect to the logits. */
  async compute(logits: Tensor, labels: Labels): Promise<LossResult> {
    const loss = await this.forward(logits, labels);
    return { loss, grad: await this.backward() };
  }

  releaseSaved(): void {
    this.saved = null;
  }
}

/** Labels as int32, checked: one per row, each in [0, k). */
export function toLabels(labels: Labels, n: number, k: number): Int32Array {
  if (labels.length !== n) {
    throw shapeError(`CrossEntropyLoss: expected ${n} labels for logits [${n},${k}], got ${labels.length}`);
  }
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(labels[i]!);
    if (!Number.isInteger(v) || v < 0 || v >= k) {
      throw new RangeError(`CrossEntropyLoss: label ${labels[i]} at index ${i} is outside [0, ${k})`);
    }
    out[i] = v;
  }
  return out;
}
