// CIFAR-10 binary version (https://www.cs.toronto.edu/~kriz/cifar.html): data_batch_1..5.bin (train)
// and test_batch.bin, each a run of 3073-byte records: 1 label byte (0..9), then 1024 red, 1024 green,
// 1024 blue bytes, row-major 32×32 — already [C,H,W]. Pixels are served as byte/255.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import { checkIndex, type Dataset, getSample, type Sample } from './dataset.js';
import { BYTE_TO_UNIT } from './image.js';
import { CIFAR10_NORMALIZATION, type Normalization } from './normalize.js';
import { readBytes } from './read-file.js';

export const CIFAR10_RECORD_BYTES = 3073;
export const CIFAR10_PIXELS = 3072;
export const CIFAR10_TRAIN_FILES = [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`);
export const CIFAR10_TEST_FILES = ['test_batch.bin'];
export const CIFAR10_SUBDIR = 'cifar-10-batches-bin';
export const CIFAR10_CLASSES = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
] as const;

export type Split = 'train' | 'test';

/** The folder holding the .bin files: `dir` itself or its cifar-10-batches-bin/; undefined if neither. */
export function findCifar10Dir(dir: string): string | undefined {
  const has = (d: string): boolean =>
    [...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES].some((f) => existsSync(join(d, f)));
  if (has(dir)) return dir;
  const sub = join(dir, CIFAR10_SUBDIR);
  if (existsSync(sub) && statSync(sub).isDirectory() && has(sub)) return sub;
  return undefined;
}

/** Checks that `bytes` is a whole, non-empty run of records with labels 0..9 (E_FORMAT otherwise). */
export function checkCifar10Records(bytes: Uint8Array, source: string): number {
  if (bytes.length === 0) throw new TeeError('E_FORMAT', `${source}: empty file, no CIFAR-10 records`);
  const rest = bytes.length % CIFAR10_RECORD_BYTES;
  if (rest !== 0) {
    throw new TeeError(
      'E_FORMAT',
      `${source}: truncated record: ${bytes.length} bytes is not a whole number of ${CIFAR10_RECORD_BYTES}-byte records (${rest} bytes left over)`,
    );
  }
  const count = bytes.length / CIFAR10_RECORD_BYTES;
  for (let i = 0; i < count; i++) {
    const label = bytes[i * CIFAR10_RECORD_BYTES]!;
    if (label > 9) throw new TeeError('E_FORMAT', `${source}: record ${i} has label ${label}, outside 0..9`);
  }
  return count;
}

export class Cifar10Dataset implements Dataset {
  readonly kind = 'cifar10' as const;
  readonly name: string;
  readonly length: number;
  readonly numClasses = 10;
  readonly channels = 3;
  readonly height = 32;
  readonly width = 32;
  readonly asGiven = false;
  readonly normalization: Normalization = CIFAR10_NORMALIZATION;
  /** All records back to back, as in the files. */
  private readonly records: Uint8Array;

  /** `files`: record files read in order (see openCifar10 for the standard splits). */
  constructor(files: readonly string[], name = 'cifar10') {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const f of files) {
      const bytes = readBytes(f);
      checkCifar10Records(bytes, f);
      parts.push(bytes);
      total += bytes.length;
    }
    if (parts.length === 1) this.records = parts[0]!;
    else {
      this.records = new Uint8Array(total);
      let at = 0;
      for (const p of parts) {
        this.records.set(p, at);
        at += p.length;
      }
    }
    this.length = this.records.length / CIFAR10_RECORD_BYTES;
    this.name = name;
  }

  label(i: number): number {
    checkIndex(this, i);
    return this.records[i * CIFAR10_RECORD_BYTES]!;
  }

  get(i: number): Sample {
    return getSample(this, i);
  }

  readInto(i: number, out: Float32Array, offset: number): number {
    checkIndex(this, i);
    const r = this.records;
    const base = i * CIFAR10_RECORD_BYTES;
    const lut = BYTE_TO_UNIT;
    for (let j = 0; j < CIFAR10_PIXELS; j++) out[offset + j] = lut[r[base + 1 + j]!]!;
    return r[base]!;
  }
}

/** The train (data_batch_1..5.bin) or test (test_batch.bin) split from `dir` or its cifar-10-batches-bin/. */
export function openCifar10(dir: string, split: Split = 'train'): Cifar10Dataset {
  const where = findCifar10Dir(dir);
  const wanted = split === 'train' ? CIFAR10_TRAIN_FILES : CIFAR10_TEST_FILES;
  if (where === undefined) {
    throw new TeeError(
      'E_IO',
      `no CIFAR-10 binary files in ${dir} (expected ${[...CIFAR10_TRAIN_FILES, ...CIFAR10_TEST_FILES].join(', ')}, there or in ${CIFAR10_SUBDIR}/); run fetchCifar10 or unpack cifar-10-binary.tar.gz there`,
    );
  }
  const missing = wanted.filter((f) => !existsSync(join(where, f)));
  if (missing.length > 0) {
    throw new TeeError(
      'E_IO',
      `CIFAR-10 ${split} split in ${where} is incomplete: missing ${missing.join(', ')}`,
    );
  }
  return new Cifar10Dataset(
    wanted.map((f) => join(where, f)),
    `cifar10/${split}`,
  );
}
