// The split-share benchmark's settings from command-line values (`tee-offload bench split-share` and
// `node dist/src/bench/split-share.js`): validated, with their defaults, before anything starts.
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from '../enclave/placement.js';
import type { IntegrityMode } from '../enclave/remote-linear-ops.js';
import { isModelName, modelNames } from '../models/index.js';
import type { ExactFieldName } from '../verify/field.js';
import type { SplitShareOptions } from './split-share-run.js';

export const SPLIT_SHARE_DEFAULT_MODELS = ['resnet18', 'alexnet', 'vgg19_bn'] as const;

export const SPLIT_SHARE_HELP = [
  'usage: tee-offload bench split-share [--models M[,M…]] [--batch B] [--integrity exact|float|off] [options]',
  '',
  'How much of a split-mode training step stays on the trusted side. Per model: SGD steps (momentum 0.9,',
  'weight decay 5e-4, 10 classes) natively and in split mode against an accelerator started here on',
  "loopback; the trusted process's CPU time per split step as a share of a native step, its system time",
  'and page faults, the floor (the native step less its linear products: BatchNorm, ReLU, pooling, loss',
  'and SGD stay inside in any split), and per product type the check, quantization and bytes against',
  "the accelerator's own compute time. Medians of the measured steps after one warm-up step per side.",
  'One line per model and per product type on stdout, progress on stderr, the JSON (schema',
  'tee-offload/split-share@1) in --out.',
  '',
  'options:',
  `  --models M[,M…]        (default ${SPLIT_SHARE_DEFAULT_MODELS.join(',')})`,
  '  --batch B              (default 1)',
  '  --size S               input side (default 224)',
  '  --integrity I          exact (default), float, or off (no checks: measurements only)',
  "  --field F              exact's field: wide (default) or p24",
  '  --threads T            kernel threads of the trusted side (default 1)',
  '  --steps S              measured steps per side, after one warm-up (default 3)',
  `  --offload-min-intensity X   products below X flop per byte sent stay inside (default ${DEFAULT_OFFLOAD_MIN_INTENSITY};`,
  '                         0 offloads every product)',
  "  --max-inner K          longest inner product of one exact request (default: the field's limit)",
  "  --no-cache-gradients   each layer's dy quantized and sent for both backward products",
  '  --accelerator-backend cpu|cuda|emulated   where the accelerator computes (default cpu; docs/gpu.md)',
  "  --accelerator-threads T   the accelerator's threads (default --threads)",
  "  --no-ifma              the wide check's AVX2 kernels even on a CPU with AVX-512 IFMA",
  '  --out DIR              where the JSON goes (default results/)',
].join('\n');

/** The flags that take a value (besides --models) and the boolean ones. */
export const SPLIT_SHARE_VALUE_FLAGS = [
  'batch',
  'size',
  'integrity',
  'field',
  'threads',
  'steps',
  'offload-min-intensity',
  'max-inner',
  'accelerator-backend',
  'accelerator-threads',
  'out',
] as const;
export const SPLIT_SHARE_BOOLEAN_FLAGS = ['no-cache-gradients', 'no-ifma'] as const;

/** The command-line values, as strings or booleans (parseArgs' shape); undefined: the default. */
export interface SplitShareValues {
  readonly models?: string;
  readonly batch?: string;
  readonly size?: string;
  readonly integrity?: string;
  readonly field?: string;
  readonly threads?: string;
  readonly steps?: string;
  readonly 'offload-min-intensity'?: string;
  readonly 'max-inner'?: string;
  readonly 'no-cache-gradients'?: boolean;
  readonly 'accelerator-backend'?: string;
  readonly 'accelerator-threads'?: string;
  readonly 'no-ifma'?: boolean;
  readonly out?: string;
}

/** A bad value: the message names the flag (the CLI turns it into a usage error, exit 2). */
export class SplitShareUsageError extends Error {}

function int(v: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!/^\d+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new SplitShareUsageError(`--${flag} must be an integer from ${min} to ${max}, got '${v}'`);
  }
  return n;
}

function oneOf<T extends string>(v: string | undefined, flag: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(v)) {
    throw new SplitShareUsageError(`--${flag} must be one of ${allowed.join(', ')}, got '${v}'`);
  }
  return v as T;
}

/** Validated options (everything but log and print), or SplitShareUsageError. */
export function splitShareOptions(v: SplitShareValues): Omit<SplitShareOptions, 'log' | 'print'> {
  const models =
    v.models === undefined ? [...SPLIT_SHARE_DEFAULT_MODELS] : v.models.split(',').map((s) => s.trim());
  for (const m of models) {
    if (!isModelName(m)) {
      throw new SplitShareUsageError(`--models: unknown model '${m}' (known: ${modelNames.join(', ')})`);
    }
  }
  const integrity = oneOf<IntegrityMode>(v.integrity, 'integrity', ['exact', 'float', 'off'], 'exact');
  if (v.field !== undefined && integrity !== 'exact') {
    throw new SplitShareUsageError(`--field applies to --integrity exact, not ${integrity}`);
  }
  const field = oneOf<ExactFieldName>(v.field, 'field', ['wide', 'p24'], 'wide');
  const threads = int(v.threads, 'threads', 1, 1, 1024);
  let offloadMinIntensity = DEFAULT_OFFLOAD_MIN_INTENSITY;
  if (v['offload-min-intensity'] !== undefined) {
    offloadMinIntensity = Number(v['offload-min-intensity']);
    if (
      v['offload-min-intensity'].trim() === '' ||
      !(offloadMinIntensity >= 0) ||
      !Number.isFinite(offloadMinIntensity)
    ) {
      throw new SplitShareUsageError(
        `--offload-min-intensity must be a number ≥ 0, got '${v['offload-min-intensity']}'`,
      );
    }
  }
  const maxInner = v['max-inner'] === undefined ? undefined : int(v['max-inner'], 'max-inner', 0, 1, 2 ** 31);
  return {
    models,
    batch: int(v.batch, 'batch', 1, 1, 4096),
    size: int(v.size, 'size', 224, 8, 4096),
    integrity,
    field,
    threads,
    steps: int(v.steps, 'steps', 3, 1, 1000),
    offloadMinIntensity,
    ...(maxInner === undefined ? {} : { maxInnerLength: maxInner }),
    cacheGradients: v['no-cache-gradients'] !== true,
    acceleratorBackend: oneOf(
      v['accelerator-backend'],
      'accelerator-backend',
      ['cpu', 'cuda', 'emulated'],
      'cpu',
    ),
    acceleratorThreads: int(v['accelerator-threads'], 'accelerator-threads', threads, 1, 1024),
    ifma: v['no-ifma'] !== true,
    outDir: v.out ?? 'results',
  };
}
