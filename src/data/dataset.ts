// The contract of every data source: a fixed number of labelled images of one shape [C,H,W], read by
// index. Pixels are in [0,1] (decoded from bytes) or, for a batch file, exactly as stored.
import type { Normalization } from './normalize.js';

export interface Sample {
  /** [C,H,W] */
  readonly image: Float32Array;
  readonly label: number;
}

export type DatasetKind = 'cifar10' | 'fashion-mnist' | 'batch-file' | 'synthetic';

export interface Dataset {
  readonly kind: DatasetKind;
  /** e.g. 'cifar10/train', 'fashion-mnist/test', 'synthetic', or the batch file's path. */
  readonly name: string;
  readonly length: number;
  readonly numClasses: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /**
   * True when the samples already are the model's input (a safetensors batch file): the loader keeps
   * file order and applies no transform.
   */
  readonly asGiven: boolean;
  /** The per-channel constants to normalise with, when the source has standard ones. */
  readonly normalization: Normalization | undefined;
  /** A fresh [C,H,W] copy of sample i and its label. */
  get(i: number): Sample;
  /** Writes sample i's [C,H,W] pixels at out[offset…] without allocating; returns its label. */
  readInto(i: number, out: Float32Array, offset: number): number;
}

/** RangeError unless i indexes `ds`. */
export function checkIndex(ds: Dataset, i: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= ds.length) {
    throw new RangeError(`${ds.name}: index ${i} is outside [0, ${ds.length})`);
  }
}

/** get() in terms of readInto(), for datasets that store their pixels compactly. */
export function getSample(ds: Dataset, i: number): Sample {
  const image = new Float32Array(ds.channels * ds.height * ds.width);
  const label = ds.readInto(i, image, 0);
  return { image, label };
}
