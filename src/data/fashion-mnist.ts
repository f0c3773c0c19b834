// Fashion-MNIST (https://github.com/zalandoresearch/fashion-mnist) in IDX files, gzip or raw, as Debian's
// dataset-fashion-mnist ships them in /usr/share/datasets/fashion-mnist: {train,t10k}-{images-idx3,
// labels-idx1}-ubyte.gz. 28×28 grayscale, labels 0..9; optionally replicated to 3 channels for RGB models.
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TeeError } from '../errors.js';
import type { Split } from './cifar10.js';
import { checkIndex, type Dataset, getSample, type Sample } from './dataset.js';
import { parseIdx } from './idx.js';
import { BYTE_TO_UNIT } from './image.js';
import { FASHION_MNIST_NORMALIZATION, type Normalization, replicateNormalization } from './normalize.js';
import { readMaybeGzip } from './read-file.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

export interface FashionMnistOptions {
  /** 1 (as stored, default) or 3 (the gray plane replicated, for RGB models). */
  readonly channels?: 1 | 3;
}

export class FashionMnistDataset implements Dataset {
  readonly kind = 'fashion-mnist' as const;
  readonly name: string;
  readonly length: number;
  readonly numClasses = 10;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly asGiven = false;
  readonly normalization: Normalization;
  private readonly pixels: Uint8Array;
  private readonly labels: Uint8Array;

  constructor(
    imagesPath: string,
    labelsPath: string,
    opts: FashionMnistOptions = {},
    name = 'fashion-mnist',
  ) {
    const channels = opts.channels ?? 1;
    if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 or 3, got ${channels}`);
    const images = parseIdx(readMaybeGzip(imagesPath), 3, imagesPath);
    const labels = parseIdx(readMaybeGzip(labelsPath), 1, labelsPath);
    const [n, h, w] = images.dims as [number, number, number];
    if (labels.dims[0] !== n) {
      throw new TeeError(
        'E_FORMAT',
        `inconsistent counts: ${imagesPath} holds ${n} images but ${labelsPath} holds ${labels.dims[0]} labels`,
      );
    }
    for (let i = 0; i < n; i++) {
      const l = labels.data[i]!;
      if (l > 9) throw new TeeError('E_FORMAT', `${labelsPath}: label ${l} at index ${i} is outside 0..9`);
    }
    this.pixels = images.data;
    this.labels = labels.data;
    this.length = n;
    this.height = h;
    this.width = w;
    this.channels = channels;
    this.normalization = replicateNormalization(FASHION_MNIST_NORMALIZATION, channels);
    this.name = name;
  }

  label(i: number): number {
    checkIndex(this, i);
    return this.labels[i]!;
  }

  get(i: number): Sample {
    return getSample(this, i);
  }

  readInto(i: number, out: Float32Array, offset: number): number {
    checkIndex(this, i);
    const plane = this.height * this.width;
    const base = i * plane;
    const px = this.pixels;
    const lut = BYTE_TO_UNIT;
    for (let j = 0; j < plane; j++) out[offset + j] = lut[px[base + j]!]!;
    for (let c = 1; c < this.channels; c++) out.copyWithin(offset + c * plane, offset, offset + plane);
    return this.labels[i]!;
  }
}

const PREFIX: Record<Split, string> = { train: 'train', test: 't10k' };

/** `stem` (train-images-idx3-ubyte) or the original MNIST spelling (train-images.idx3-ubyte), gzip first. */
function findFile(dir: string, stem: string): string | undefined {
  const dotted = stem.replace(/-(idx\d)-/, '.$1-');
  for (const name of [`${stem}.gz`, stem, `${dotted}.gz`, dotted]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** True when `path` is an IDX images file name (…-images-idx3-ubyte[.gz]). */
export function isIdxImagesName(path: string): boolean {
  return /images[-.]idx3-ubyte(\.gz)?$/.test(basename(path));
}

/**
 * The train or test split from a directory of IDX files (default: Debian's), or from an images file
 * whose labels file sits beside it (…-images-idx3-… → …-labels-idx1-…).
 */
export function openFashionMnist(
  path: string = FASHION_MNIST_DIR,
  split: Split = 'train',
  opts: FashionMnistOptions = {},
): FashionMnistDataset {
  if (!existsSync(path)) {
    throw new TeeError(
      'E_IO',
      `${path} does not exist` +
        (path === FASHION_MNIST_DIR ? ' (install the Debian package dataset-fashion-mnist)' : ''),
    );
  }
  let images: string | undefined;
  let labels: string | undefined;
  if (statSync(path).isDirectory()) {
    images = findFile(path, `${PREFIX[split]}-images-idx3-ubyte`);
    labels = findFile(path, `${PREFIX[split]}-labels-idx1-ubyte`);
    if (images === undefined || labels === undefined) {
      throw new TeeError(
        'E_IO',
        `no Fashion-MNIST ${split} files in ${path} (expected ${PREFIX[split]}-images-idx3-ubyte[.gz] and ${PREFIX[split]}-labels-idx1-ubyte[.gz])`,
      );
    }
  } else {
    images = path;
    const name = basename(path).replace(/images([-.])idx3/, 'labels$1idx1');
    labels = join(dirname(path), name);
    if (name === basename(path) || !existsSync(labels)) {
      throw new TeeError('E_IO', `no labels file beside ${path} (expected ${labels})`);
    }
  }
  const where = statSync(path).isDirectory() ? split : basename(images);
  return new FashionMnistDataset(images, labels, opts, `fashion-mnist/${where}`);
}
