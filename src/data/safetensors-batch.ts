// A batch file: safetensors with `input` [N,C,H,W] (F32; F64/F16/BF16 are widened or rounded to float32)
// and `labels` [N] (I64; other integer dtypes accepted). Used as given: file order, no transform, no
// shuffle. numClasses is the caller's, else metadata "num_classes", else the largest label + 1.
import { TeeError } from '../errors.js';
import { toFloat32, toInt32 } from '../io/safe-tensor.js';
import { readSafetensorsFile } from '../io/safetensors.js';
import { checkIndex, type Dataset, getSample, type Sample } from './dataset.js';
import type { Normalization } from './normalize.js';

export interface BatchFileOptions {
  readonly numClasses?: number;
}

export class SafetensorsBatchDataset implements Dataset {
  readonly kind = 'batch-file' as const;
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly asGiven = true;
  readonly normalization: Normalization | undefined = undefined;
  /** [N,C,H,W] */
  readonly input: Float32Array;
  /** [N] */
  readonly labels: Int32Array;

  constructor(path: string, opts: BatchFileOptions = {}) {
    const { tensors, metadata } = readSafetensorsFile(path);
    const input = tensors.get('input');
    const labels = tensors.get('labels');
    if (input === undefined || labels === undefined) {
      const names = [...tensors.keys()].join(', ') || 'none';
      throw new TeeError(
        'E_FORMAT',
        `${path}: a batch file needs tensors "input" and "labels" (found: ${names})`,
      );
    }
    if (!['F32', 'F64', 'F16', 'BF16'].includes(input.dtype)) {
      throw new TeeError('E_FORMAT', `${path}: "input" must be a float tensor, got ${input.dtype}`);
    }
    if (input.shape.length !== 4) {
      throw new TeeError('E_FORMAT', `${path}: "input" must be [N,C,H,W], got [${input.shape}]`);
    }
    if (labels.shape.length !== 1) {
      throw new TeeError('E_FORMAT', `${path}: "labels" must be [N], got [${labels.shape}]`);
    }
    const [n, c, h, w] = input.shape as [number, number, number, number];
    if (labels.shape[0] !== n) {
      throw new TeeError(
        'E_FORMAT',
        `${path}: inconsistent counts: ${n} inputs but ${labels.shape[0]} labels`,
      );
    }
    const lab = toInt32(labels, `${path}: "labels"`);
    let max = -1;
    for (let i = 0; i < n; i++) {
      if (lab[i]! < 0) throw new TeeError('E_FORMAT', `${path}: label ${lab[i]} at index ${i} is negative`);
      if (lab[i]! > max) max = lab[i]!;
    }
    let k = opts.numClasses;
    if (k === undefined && metadata.num_classes !== undefined) {
      k = Number(metadata.num_classes);
      if (!Number.isInteger(k) || k < 1) {
        throw new TeeError(
          'E_FORMAT',
          `${path}: metadata num_classes "${metadata.num_classes}" is not a positive integer`,
        );
      }
    }
    k ??= Math.max(1, max + 1);
    if (max >= k) {
      const i = lab.indexOf(max);
      throw new TeeError('E_FORMAT', `${path}: label ${max} at index ${i} is outside 0..${k - 1}`);
    }
    this.input = toFloat32(input);
    this.labels = lab;
    this.length = n;
    this.channels = c;
    this.height = h;
    this.width = w;
    this.numClasses = k;
    this.name = path;
  }

  get(i: number): Sample {
    return getSample(this, i);
  }

  readInto(i: number, out: Float32Array, offset: number): number {
    checkIndex(this, i);
    const size = this.channels * this.height * this.width;
    out.set(this.input.subarray(i * size, (i + 1) * size), offset);
    return this.labels[i]!;
  }
}
