// Opens a dataset from the `--data` string: synthetic[:N], fashion-mnist[:PATH], cifar10:DIR, or a path
// (a CIFAR-10 folder or .bin file, an IDX folder or images file, a *.safetensors batch file).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { Cifar10Dataset, findCifar10Dir, openCifar10, type Split } from './cifar10.js';
import type { Dataset } from './dataset.js';
import { FASHION_MNIST_DIR, isIdxImagesName, openFashionMnist } from './fashion-mnist.js';
import { SafetensorsBatchDataset } from './safetensors-batch.js';
import { SYNTHETIC_DEFAULTS, SyntheticDataset, type SyntheticOptions } from './synthetic.js';

export interface OpenDatasetOptions {
  /** Default 'train'. Ignored by a batch file and by synthetic data. */
  readonly split?: Split;
  /** Fashion-MNIST: 1 (default) or 3 (gray replicated); synthetic: its channel count. */
  readonly channels?: 1 | 3;
  /** Batch file: the number of classes (else from its metadata or labels); synthetic: K. */
  readonly numClasses?: number;
  /** Synthetic: seed, image size and noise (length comes from the spec). */
  readonly synthetic?: Omit<SyntheticOptions, 'length'>;
}

export const DATA_SPEC_FORMS =
  'synthetic[:N], fashion-mnist[:PATH], cifar10:DIR, or a path to a CIFAR-10 folder, an IDX folder or images file, or a .safetensors batch file';

function usage(spec: string, why: string): never {
  throw new TeeError('E_USAGE', `--data ${JSON.stringify(spec)}: ${why} (expected ${DATA_SPEC_FORMS})`);
}

/** Whether a file of this name is a data file `--data` reads (a batch file, IDX images, CIFAR-10 .bin). */
export function isDataFileName(name: string): boolean {
  return name.endsWith('.safetensors') || isIdxImagesName(name) || name.endsWith('.bin');
}

function openPath(path: string, spec: string, opts: OpenDatasetOptions): Dataset {
  const split = opts.split ?? 'train';
  if (!existsSync(path))
    throw new TeeError('E_IO', `${path} does not exist (--data expects ${DATA_SPEC_FORMS})`);
  if (statSync(path).isDirectory()) {
    if (findCifar10Dir(path) !== undefined) return openCifar10(path, split);
    if (readdirSync(path).some(isIdxImagesName)) return openFashionMnist(path, split, fmnistOpts(opts));
    throw new TeeError(
      'E_FORMAT',
      `${path}: no dataset recognised (no CIFAR-10 .bin files, no cifar-10-batches-bin/, no IDX images files)`,
    );
  }
  if (path.endsWith('.safetensors'))
    return new SafetensorsBatchDataset(path, { numClasses: opts.numClasses });
  if (isIdxImagesName(path)) return openFashionMnist(path, split, fmnistOpts(opts));
  if (path.endsWith('.bin')) return new Cifar10Dataset([path], `cifar10/${path}`);
  return usage(spec, `${path} is not a recognised data file`);
}

function fmnistOpts(opts: OpenDatasetOptions): { channels?: 1 | 3 } {
  return opts.channels === undefined ? {} : { channels: opts.channels };
}

export function openDataset(spec: string, opts: OpenDatasetOptions = {}): Dataset {
  if (typeof spec !== 'string' || spec === '') usage(String(spec), 'empty');
  const colon = spec.indexOf(':');
  const head = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? undefined : spec.slice(colon + 1);
  switch (head) {
    case 'synthetic': {
      let length: number = SYNTHETIC_DEFAULTS.length;
      if (rest !== undefined) {
        if (!/^[1-9][0-9]*$/.test(rest)) usage(spec, `"${rest}" is not a positive sample count`);
        length = Number(rest);
      }
      return new SyntheticDataset({
        ...opts.synthetic,
        length,
        ...(opts.channels === undefined ? {} : { channels: opts.channels }),
        ...(opts.numClasses === undefined ? {} : { numClasses: opts.numClasses }),
      });
    }
    case 'fashion-mnist':
      return openFashionMnist(rest || FASHION_MNIST_DIR, opts.split ?? 'train', fmnistOpts(opts));
    case 'cifar10':
      if (!rest) usage(spec, 'cifar10 needs a directory, cifar10:DIR');
      return openCifar10(rest, opts.split ?? 'train');
    default:
      return openPath(spec, spec, opts);
  }
}
