// The demo's data: a Fashion-MNIST subset written as IDX files (the first N training and M test images
// of Debian's dataset-fashion-mnist), or, when that package is absent, seeded generated images of the
// same shape written the same way — so that the rest of the demo (encrypt, upload, train) is one path.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FASHION_MNIST_DIR, openFashionMnist } from '../data/fashion-mnist.js';
import { SyntheticDataset } from '../data/synthetic.js';
import { TeeError } from '../errors.js';

export interface DemoDataOptions {
  readonly trainImages: number;
  readonly testImages: number;
  /** Where Fashion-MNIST is looked for (default: Debian's directory). */
  readonly source?: string;
  /** Write generated images even when Fashion-MNIST exists (tests). */
  readonly forceGenerated?: boolean;
}

export interface DemoData {
  readonly dir: string;
  readonly kind: 'fashion-mnist' | 'generated';
  readonly description: string;
  readonly files: readonly string[];
  readonly bytes: number;
}

const SIDE = 28;

/** An unsigned-byte IDX file: magic 0x0000080R, R big-endian u32 dimensions, then the bytes. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const n = dims.reduce((a, b) => a * b, 1);
  if (n !== data.length) throw new RangeError(`IDX: ${data.length} bytes for dims ${dims.join('×')}`);
  const out = new Uint8Array(4 + 4 * dims.length + n);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x800 + dims.length, false);
  for (const [k, d] of dims.entries()) view.setUint32(4 + 4 * k, d, false);
  out.set(data, 4 + 4 * dims.length);
  return out;
}

interface Split {
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
}

function fashionSplit(source: string, split: 'train' | 'test', count: number): Split {
  const ds = openFashionMnist(source, split, { channels: 1 });
  if (ds.height !== SIDE || ds.width !== SIDE)
    throw new TeeError(
      'E_FORMAT',
      `${source}: expected ${SIDE}×${SIDE} images, got ${ds.height}×${ds.width}`,
    );
  if (count > ds.length)
    throw new TeeError(
      'E_USAGE',
      `${source} has ${ds.length} ${split} images, fewer than the ${count} asked for`,
    );
  const plane = SIDE * SIDE;
  const pixels = new Uint8Array(count * plane);
  const labels = new Uint8Array(count);
  const img = new Float32Array(plane);
  for (let i = 0; i < count; i++) {
    labels[i] = ds.readInto(i, img, 0);
    // readInto gives byte/255; the round trip is exact.
    for (let j = 0; j < plane; j++) pixels[i * plane + j] = Math.round(img[j]! * 255);
  }
  return { pixels, labels };
}

/** Samples first … first+count−1 of one seeded set: train and test share its class patterns. */
function generatedSplit(ds: SyntheticDataset, first: number, count: number): Split {
  const plane = SIDE * SIDE;
  const pixels = new Uint8Array(count * plane);
  const labels = new Uint8Array(count);
  const img = new Float32Array(plane);
  for (let i = 0; i < count; i++) {
    labels[i] = ds.readInto(first + i, img, 0);
    for (let j = 0; j < plane; j++)
      pixels[i * plane + j] = Math.round(Math.min(1, Math.max(0, img[j]!)) * 255);
  }
  return { pixels, labels };
}

/** Writes train-/t10k- images and labels IDX files into `dir` (created). */
export function writeDemoData(dir: string, o: DemoDataOptions): DemoData {
  for (const [k, v] of [
    ['trainImages', o.trainImages],
    ['testImages', o.testImages],
  ] as const) {
    if (!Number.isInteger(v) || v < 1)
      throw new TeeError('E_USAGE', `${k} must be a positive integer, got ${v}`);
  }
  const source = o.source ?? FASHION_MNIST_DIR;
  let kind: DemoData['kind'] = 'generated';
  let train: Split;
  let test: Split;
  try {
    if (o.forceGenerated) throw new TeeError('E_IO', 'generated data asked for');
    train = fashionSplit(source, 'train', o.trainImages);
    test = fashionSplit(source, 'test', o.testImages);
    kind = 'fashion-mnist';
  } catch (e) {
    if (!(e instanceof TeeError) || (e.code !== 'E_IO' && e.code !== 'E_FORMAT')) throw e;
    const all = new SyntheticDataset({
      length: o.trainImages + o.testImages,
      channels: 1,
      height: SIDE,
      width: SIDE,
      seed: 1,
    });
    train = generatedSplit(all, 0, o.trainImages);
    test = generatedSplit(all, o.trainImages, o.testImages);
  }
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  let bytes = 0;
  const write = (name: string, content: Uint8Array) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    files.push(p);
    bytes += content.length;
  };
  write('train-images-idx3-ubyte', encodeIdx([o.trainImages, SIDE, SIDE], train.pixels));
  write('train-labels-idx1-ubyte', encodeIdx([o.trainImages], train.labels));
  write('t10k-images-idx3-ubyte', encodeIdx([o.testImages, SIDE, SIDE], test.pixels));
  write('t10k-labels-idx1-ubyte', encodeIdx([o.testImages], test.labels));
  const description =
    kind === 'fashion-mnist'
      ? `Fashion-MNIST (${source}): the first ${o.trainImages} training and ${o.testImages} test images, 28×28 gray`
      : `generated images (Fashion-MNIST not found at ${source}; install dataset-fashion-mnist for real data): ${o.trainImages} training and ${o.testImages} test images, 28×28, 10 classes`;
  return { dir, kind, description, files, bytes };
}
