// Batches of a Dataset: input [N,C',H',W'] (after the per-sample transform) and labels [N]. Epoch e
// visits the samples in a permutation drawn from deriveSeed(seed, e) (or in order); augmentation draws
// from one seeded stream. state() holds the epoch, the batches served in it and that stream's words,
// so restore() on a fresh loader replays the rest of the run bit for bit.
import { TeeError } from '../errors.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import type { Dataset } from './dataset.js';
import { deriveSeed } from './derive-seed.js';
import { type ImageShape, imageSize } from './image.js';
import type { Transform } from './transform.js';

export interface Batch {
  /** [N,C,H,W], N = batchSize except perhaps the last batch of an epoch. */
  readonly input: Tensor;
  /** [N] */
  readonly labels: Int32Array;
  /** [N] the dataset indices of the samples, in batch order. */
  readonly indices: Int32Array;
}

export interface DataLoaderOptions {
  readonly batchSize: number;
  /** Reshuffle every epoch (default true; false, and not allowed, for a dataset used as given). */
  readonly shuffle?: boolean;
  /** Leave out the last, short batch of an epoch (default false). */
  readonly dropLast?: boolean;
  /** Seeds the shuffles and the augmentation stream (default 0). */
  readonly seed?: number;
  /** Applied to every sample, in batch order (not allowed for a dataset used as given). */
  readonly transform?: Transform;
  /**
   * Write every batch's input into one buffer, overwritten by the next call to next() (default false).
   * Saves the page faults of a fresh [N,C,H,W] array per batch when each batch is used up at once.
   */
  readonly reuseBuffers?: boolean;
}

/** Plain JSON-safe numbers and booleans, for checkpoints. */
export interface LoaderState {
  readonly epoch: number;
  /** Batches already served in this epoch. */
  readonly position: number;
  readonly seed: number;
  readonly length: number;
  readonly batchSize: number;
  readonly dropLast: boolean;
  readonly shuffle: boolean;
  /** The augmentation stream's four state words. */
  readonly augmentRng: readonly number[];
}

const STREAM_SHUFFLE = 1;
const STREAM_AUGMENT = 2;

export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly transform: Transform | undefined;
  /** Shape of one sample after the transform. */
  readonly sampleShape: ImageShape;
  readonly batchesPerEpoch: number;
  private seedValue: number;
  private epochValue = 0;
  private positionValue = 0;
  private order: Int32Array | undefined;
  private readonly augmentRng: SeededRng;
  private readonly scratch: Float32Array;
  private readonly reuseBuffers: boolean;
  private shared: Float32Array | undefined;

  constructor(dataset: Dataset, opts: DataLoaderOptions) {
    const { batchSize, dropLast = false, seed = 0, transform } = opts;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);
    if (dataset.asGiven && opts.shuffle === true) {
      throw new TypeError(`${dataset.name} is used as given: it cannot be shuffled`);
    }
    if (dataset.asGiven && transform !== undefined) {
      throw new TypeError(`${dataset.name} is used as given: it takes no transform`);
    }
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = opts.shuffle ?? !dataset.asGiven;
    this.dropLast = dropLast;
    this.transform = transform;
    this.seedValue = seed >>> 0;
    const inShape = { c: dataset.channels, h: dataset.height, w: dataset.width };
    this.sampleShape = transform ? transform.outShape(inShape) : inShape;
    this.batchesPerEpoch = dropLast
      ? Math.floor(dataset.length / batchSize)
      : Math.ceil(dataset.length / batchSize);
    this.augmentRng = new SeededRng(deriveSeed(this.seedValue, STREAM_AUGMENT));
    this.scratch = new Float32Array(transform ? imageSize(inShape) : 0);
    this.reuseBuffers = opts.reuseBuffers ?? false;
  }

  get epoch(): number {
    return this.epochValue;
  }

  /** Batches already served in the current epoch. */
  get position(): number {
    return this.positionValue;
  }

  get seed(): number {
    return this.seedValue;
  }

  /** The visiting order of the current epoch (a permutation of 0..length-1). */
  epochOrder(): Int32Array {
    if (this.order === undefined) {
      const n = this.dataset.length;
      const order = new Int32Array(n);
      for (let i = 0; i < n; i++) order[i] = i;
      if (this.shuffle) {
        // Fisher–Yates, one generator per epoch so that epoch e needs nothing of epochs < e.
        const rng = new SeededRng(deriveSeed(this.seedValue, STREAM_SHUFFLE, this.epochValue));
        for (let i = n - 1; i > 0; i--) {
          const j = rng.nextInt(i + 1);
          const t = order[i]!;
          order[i] = order[j]!;
          order[j] = t;
        }
      }
      this.order = order;
    }
    return this.order;
  }

  /**
   * The next batch of the current epoch, or null once it has been served, in which case the loader
   * moves on to the next epoch (position 0).
   */
  next(): Batch | null {
    if (this.positionValue >= this.batchesPerEpoch) {
      this.epochValue++;
      this.positionValue = 0;
      this.order = undefined;
      return null;
    }
    const order = this.epochOrder();
    const start = this.positionValue * this.batchSize;
    const m = Math.min(this.batchSize, this.dataset.length - start);
    const s = this.sampleShape;
    const size = imageSize(s);
    let input: Float32Array;
    if (this.reuseBuffers) {
      this.shared ??= new Float32Array(this.batchSize * size);
      input = this.shared.subarray(0, m * size);
    } else input = new Float32Array(m * size);
    const labels = new Int32Array(m);
    const indices = order.slice(start, start + m);
    const ds = this.dataset;
    const inShape = { c: ds.channels, h: ds.height, w: ds.width };
    for (let k = 0; k < m; k++) {
      const i = indices[k]!;
      if (this.transform === undefined) {
        labels[k] = ds.readInto(i, input, k * size);
      } else {
        labels[k] = ds.readInto(i, this.scratch, 0);
        this.transform.apply(
          this.scratch,
          inShape,
          input.subarray(k * size, (k + 1) * size),
          this.augmentRng,
        );
      }
    }
    this.positionValue++;
    return { input: new Tensor([m, s.c, s.h, s.w], input), labels, indices };
  }

  /** The remaining batches of the current epoch; afterwards the loader is at the next epoch. */
  *epochBatches(): Generator<Batch, void, void> {
    for (;;) {
      const b = this.next();
      if (b === null) return;
      yield b;
    }
  }

  state(): LoaderState {
    return {
      epoch: this.epochValue,
      position: this.positionValue,
      seed: this.seedValue,
      length: this.dataset.length,
      batchSize: this.batchSize,
      dropLast: this.dropLast,
      shuffle: this.shuffle,
      augmentRng: this.augmentRng.getState(),
    };
  }

  /** Continues from a saved state (the seed travels with it); E_STATE if it belongs to another setup. */
  restore(state: LoaderState): void {
    const bad = (msg: string): never => {
      throw new TeeError('E_STATE', `data loader state: ${msg}`);
    };
    const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;
    if (typeof state !== 'object' || state === null) bad('not an object');
    const { epoch, position, seed, length, batchSize, dropLast, shuffle, augmentRng } = state;
    if (!isCount(epoch) || !isCount(position)) bad('epoch and position must be integers >= 0');
    if (!isCount(seed) || seed > 0xffffffff) bad('seed must be a 32-bit unsigned integer');
    if (
      !Array.isArray(augmentRng) ||
      augmentRng.length !== 4 ||
      !augmentRng.every((v) => isCount(v) && v <= 0xffffffff) ||
      augmentRng.every((v) => v === 0)
    ) {
      bad('augmentRng must be four 32-bit words, not all zero');
    }
    const mismatches: string[] = [];
    if (length !== this.dataset.length) mismatches.push(`length ${length} vs ${this.dataset.length}`);
    if (batchSize !== this.batchSize) mismatches.push(`batchSize ${batchSize} vs ${this.batchSize}`);
    if (dropLast !== this.dropLast) mismatches.push(`dropLast ${dropLast} vs ${this.dropLast}`);
    if (shuffle !== this.shuffle) mismatches.push(`shuffle ${shuffle} vs ${this.shuffle}`);
    if (mismatches.length > 0) bad(`saved for another setup (${mismatches.join(', ')})`);
    if (position > this.batchesPerEpoch)
      bad(`position ${position} is past the ${this.batchesPerEpoch} batches of an epoch`);
    this.seedValue = seed;
    this.epochValue = epoch;
    this.positionValue = position;
    this.order = undefined;
    this.augmentRng.setState(augmentRng);
  }
}
