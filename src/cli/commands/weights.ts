// `tee-offload weights import|fetch`: convert a PyTorch checkpoint (.pth/.pt, ZIP or legacy) to
// safetensors, or download torchvision's ImageNet weights, check torch.hub's hash rule and convert
// them. Nothing in a checkpoint is executed (restricted unpickler, see docs/formats.md).
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { TeeError } from '../../errors.js';
import type { SafeTensor } from '../../io/safe-tensor.js';
import { writeSafetensorsFile } from '../../io/safetensors.js';
import {
  checkHashPrefix,
  hashPrefixOf,
  isTorchvisionModel,
  TORCHVISION_BASE_URL,
  TORCHVISION_WEIGHTS,
  type TorchvisionModel,
} from '../../io/torchvision-weights.js';
import { parseWeights, readWeightsFile } from '../../io/weights-file.js';
import { type Command, UsageError } from '../command.js';
import { parseFlags } from '../parse.js';

const IMPORT_HELP = [
  'usage: tee-offload weights import --from FILE --out FILE.safetensors [--strip-prefix PREFIX]',
  '',
  'Converts model weights to safetensors: a PyTorch checkpoint (torch.save of a state dict, ZIP or',
  'legacy format; a {"state_dict": ...} checkpoint is unwrapped) or another safetensors file.',
  'Tensors keep their names, shapes and dtypes; views are stored contiguous.',
  '',
  'options:',
  '  --from FILE            the checkpoint to read (.pth, .pt or .safetensors)',
  '  --out FILE             the safetensors file to write (atomically)',
  '  --strip-prefix PREFIX  remove PREFIX from tensor names that have it (e.g. module. from DataParallel)',
].join('\n');

const FETCH_HELP = [
  `usage: tee-offload weights fetch <${Object.keys(TORCHVISION_WEIGHTS).join('|')}> --out DIR [--from-file FILE]`,
  '',
  "Downloads torchvision's ImageNet weights (IMAGENET1K_V1, as published for torchvision 0.14) from",
  `${TORCHVISION_BASE_URL}, checks that the file's SHA-256 starts with the hash in its name`,
  "(torch.hub's rule) and writes DIR/<model>.safetensors (1000 classes; load it with --weights).",
  'Without network access, download the file named in the error by hand and pass it with --from-file.',
  '',
  'options:',
  '  --out DIR          where to write <model>.safetensors (created if missing)',
  '  --from-file FILE   convert a file downloaded by hand instead of downloading (hash still checked)',
  '  --base-url URL     download from a mirror (default: $TEE_OFFLOAD_WEIGHTS_BASE_URL, else the URL above)',
].join('\n');

const HELP = [
  'usage: tee-offload weights <import|fetch> [options]',
  '',
  'Import PyTorch checkpoints and fetch torchvision ImageNet weights as safetensors.',
  '',
  IMPORT_HELP,
  '',
  FETCH_HELP,
].join('\n');

/** Largest download accepted (vgg19_bn is 549 MB). */
const MAX_DOWNLOAD_BYTES = 2 ** 31;

function megabytes(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}

function totalBytes(tensors: ReadonlyMap<string, SafeTensor>): number {
  let n = 0;
  for (const t of tensors.values()) n += t.data.byteLength;
  return n;
}

/** Renames `prefix`-led keys; two keys landing on one name is E_FORMAT. */
export function stripPrefix(
  tensors: ReadonlyMap<string, SafeTensor>,
  prefix: string | undefined,
): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [k, t] of tensors) {
    const name = prefix && k.startsWith(prefix) ? k.slice(prefix.length) : k;
    if (out.has(name))
      throw new TeeError('E_FORMAT', `two tensors are named "${name}" once "${prefix}" is stripped`);
    out.set(name, t);
  }
  return out;
}

export interface ImportResult {
  readonly count: number;
  readonly bytes: number;
  readonly format: string;
}

export function importWeights(from: string, out: string, prefix?: string): ImportResult {
  const { tensors, metadata, format } = readWeightsFile(from);
  const renamed = stripPrefix(tensors, prefix);
  writeSafetensorsFile(out, renamed, { ...metadata, source: basename(from), source_format: format });
  return { count: renamed.size, bytes: totalBytes(renamed), format };
}

/** Checks the downloaded bytes against the hash in `fileName` and writes DIR/<model>.safetensors. */
export function convertTorchvision(
  model: TorchvisionModel,
  bytes: Uint8Array,
  outDir: string,
  source: string,
  expectedPrefix = hashPrefixOf(TORCHVISION_WEIGHTS[model]),
): { path: string; count: number; sha256: string } {
  const sha256 = checkHashPrefix(bytes, expectedPrefix, source);
  const { tensors, format } = parseWeights(bytes, source);
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new TeeError('E_IO', `cannot create ${outDir}: ${(e as Error).message}`, { cause: e });
  }
  const path = join(outDir, `${model}.safetensors`);
  writeSafetensorsFile(path, tensors, {
    model,
    weights: 'IMAGENET1K_V1',
    num_classes: '1000',
    source: TORCHVISION_WEIGHTS[model],
    source_format: format,
    sha256,
  });
  return { path, count: tensors.size, sha256 };
}

async function download(url: string, manual: string): Promise<Uint8Array> {
  const fail = (why: string, cause?: unknown): never => {
    throw new TeeError('E_NETWORK', `cannot download ${url} (${why}); ${manual}`, { cause });
  };
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return fail(cause?.code ?? cause?.message ?? (e as Error).message, e);
  }
  if (!res.ok || res.body === null) return fail(`HTTP ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > MAX_DOWNLOAD_BYTES)
    return fail(`${declared} bytes is over the ${MAX_DOWNLOAD_BYTES}-byte limit`);
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      total += chunk.byteLength;
      if (total > MAX_DOWNLOAD_BYTES) return fail(`more than ${MAX_DOWNLOAD_BYTES} bytes`);
      chunks.push(chunk);
    }
  } catch (e) {
    return fail(`interrupted after ${total} bytes: ${(e as Error).message}`, e);
  }
  const out = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}

function readLocal(path: string): Uint8Array {
  try {
    if (!statSync(path).isFile()) throw new Error('not a file');
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

async function runImport(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    from: { type: 'string' },
    out: { type: 'string' },
    'strip-prefix': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(IMPORT_HELP);
    return 0;
  }
  const from = values.from as string | undefined;
  const out = values.out as string | undefined;
  if (!from || !out) throw new UsageError('weights import needs --from FILE and --out FILE.safetensors');
  const r = importWeights(from, out, values['strip-prefix'] as string | undefined);
  console.log(`wrote ${r.count} tensors (${megabytes(r.bytes)}) from ${from} (${r.format}) to ${out}`);
  return 0;
}

async function runFetch(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      out: { type: 'string' },
      'from-file': { type: 'string' },
      'base-url': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    true,
  );
  if (values.help) {
    console.log(FETCH_HELP);
    return 0;
  }
  const [model, ...extra] = positionals;
  if (model === undefined || extra.length > 0)
    throw new UsageError('weights fetch needs exactly one model name');
  if (!isTorchvisionModel(model)) {
    throw new UsageError(
      `no published weights for '${model}' (known: ${Object.keys(TORCHVISION_WEIGHTS).join(', ')})`,
    );
  }
  const out = values.out as string | undefined;
  if (!out) throw new UsageError('weights fetch needs --out DIR');
  const file = TORCHVISION_WEIGHTS[model];
  const fromFile = values['from-file'] as string | undefined;
  let bytes: Uint8Array;
  let source: string;
  if (fromFile !== undefined) {
    bytes = readLocal(fromFile);
    source = fromFile;
  } else {
    const base = (
      (values['base-url'] as string | undefined) ??
      process.env.TEE_OFFLOAD_WEIGHTS_BASE_URL ??
      TORCHVISION_BASE_URL
    ).replace(/\/+$/, '');
    source = `${base}/${file}`;
    const manual = `download it by hand and run: tee-offload weights fetch ${model} --from-file ./${file} --out ${out}`;
    bytes = await download(source, manual);
  }
  const r = convertTorchvision(model, bytes, out, source);
  console.log(`${file}: SHA-256 ${r.sha256.slice(0, 16)}… ok; wrote ${r.count} tensors to ${r.path}`);
  return 0;
}

export const weightsCommand: Command = {
  name: 'weights',
  summary: 'import a PyTorch checkpoint or fetch torchvision ImageNet weights as safetensors',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'import') return runImport(rest);
    if (sub === 'fetch') return runFetch(rest);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(HELP);
      return sub === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown weights subcommand '${sub}' (import or fetch)`);
  },
};
