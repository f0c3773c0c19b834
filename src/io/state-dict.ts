// Loading and saving a model's state (parameters and buffers, torchvision names) from and to the
// tensor maps that safetensors and .pth readers produce. Loading checks everything before writing
// anything, so a failed load leaves the model untouched; all problems are reported in one E_STATE.
import { TeeError } from '../errors.js';
import type { StateEntry } from '../tensor/state-entry.js';
import { fromBigInt64, fromFloat32, type SafeTensor, toBigInt64, toFloat32 } from './safe-tensor.js';
import { writeSafetensorsFile } from './safetensors.js';

export type { StateEntry };

export interface StateTarget {
  stateEntries(): readonly StateEntry[];
}

export interface LoadOptions {
  /** Missing and unexpected keys are errors (default true). Wrong shapes and dtypes always are. */
  readonly strict?: boolean;
  /** Removed from the start of every file key that has it (e.g. 'module.' from DataParallel). */
  readonly stripPrefix?: string;
  /** Keys (after stripping) to leave alone on both sides: not loaded, not missing, not unexpected. */
  readonly skipKeys?: (name: string) => boolean;
}

export interface LoadReport {
  readonly loaded: string[];
  readonly missing: string[];
  readonly unexpected: string[];
  readonly skipped: string[];
}

const FLOAT_SOURCES = new Set(['F32', 'F64', 'F16', 'BF16']);
const INT_SOURCES = new Set(['I64', 'I32']);

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/** Equal shapes; a 0-d tensor and a 1-element vector count as the same (num_batches_tracked). */
function sameShape(a: readonly number[], b: readonly number[]): boolean {
  if (a.length === b.length) return a.every((d, i) => d === b[i]);
  const scalarish = (s: readonly number[]): boolean => s.length === 0 || (s.length === 1 && s[0] === 1);
  return scalarish(a) && scalarish(b);
}

/** Writes `tensors` into the target's live arrays; throws one E_STATE listing every problem. */
export function loadStateDict(
  target: StateTarget,
  tensors: ReadonlyMap<string, SafeTensor>,
  options: LoadOptions = {},
): LoadReport {
  const strict = options.strict ?? true;
  const skip = options.skipKeys ?? (() => false);
  const entries = new Map(target.stateEntries().map((e) => [e.name, e]));

  const source = new Map<string, SafeTensor>();
  const problems: string[] = [];
  const skipped: string[] = [];
  for (const [key, t] of tensors) {
    const name =
      options.stripPrefix && key.startsWith(options.stripPrefix)
        ? key.slice(options.stripPrefix.length)
        : key;
    if (source.has(name)) problems.push(`two file keys map to "${name}" (check stripPrefix)`);
    source.set(name, t);
  }

  const missing: string[] = [];
  const unexpected: string[] = [];
  const wrong: string[] = [];
  const plan: [StateEntry, SafeTensor][] = [];
  for (const [name, e] of entries) {
    if (skip(name)) continue;
    const t = source.get(name);
    if (t === undefined) {
      missing.push(name);
      continue;
    }
    const okDtype = e.dtype === 'F32' ? FLOAT_SOURCES.has(t.dtype) : INT_SOURCES.has(t.dtype);
    if (!sameShape(e.shape, t.shape)) {
      wrong.push(`${name} ${shapeText(t.shape)} in file vs ${shapeText(e.shape)} in model`);
    } else if (!okDtype) wrong.push(`${name} is ${t.dtype} in file, model needs ${e.dtype}`);
    else plan.push([e, t]);
  }
  for (const name of source.keys()) {
    if (skip(name)) skipped.push(name);
    else if (!entries.has(name)) unexpected.push(name);
  }

  if (strict && missing.length > 0) problems.push(`missing keys: ${missing.join(', ')}`);
  if (strict && unexpected.length > 0) problems.push(`unexpected keys: ${unexpected.join(', ')}`);
  if (wrong.length > 0) problems.push(`wrong shapes or dtypes: ${wrong.join('; ')}`);
  if (problems.length > 0) {
    throw new TeeError('E_STATE', `state dict does not match the model: ${problems.join('; ')}`);
  }

  for (const [e, t] of plan) {
    if (e.data instanceof Float32Array) e.data.set(toFloat32(t));
    else e.data.set(toBigInt64(t, e.name));
  }
  return { loaded: plan.map(([e]) => e.name), missing, unexpected, skipped };
}

/** The target's state as a tensor map (copies), in stateEntries() order. */
export function stateDictTensors(target: StateTarget): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const e of target.stateEntries()) {
    out.set(
      e.name,
      e.data instanceof Float32Array ? fromFloat32(e.shape, e.data) : fromBigInt64(e.shape, e.data),
    );
  }
  return out;
}

/** Saves parameters and buffers (num_batches_tracked as I64) as safetensors, atomically. */
export function saveStateDict(
  target: StateTarget,
  path: string,
  metadata: Record<string, string> = {},
): void {
  writeSafetensorsFile(path, stateDictTensors(target), metadata);
}

export interface ReplaceHeadOptions extends Omit<LoadOptions, 'skipKeys'> {
  /** The classifier layer's prefix; default: that of the model's last rank-2 '.weight' (fc., classifier.6.). */
  readonly headPrefix?: string;
}

/** The prefix of the last linear layer: 'fc.' for ResNet, 'classifier.6.' for VGG and AlexNet. */
export function classifierPrefix(target: StateTarget): string {
  const last = target
    .stateEntries()
    .filter((e) => e.name.endsWith('.weight') && e.shape.length === 2)
    .at(-1);
  if (last === undefined) throw new TeeError('E_STATE', 'model has no linear classifier layer');
  return last.name.slice(0, -'weight'.length);
}

/**
 * Loads pretrained weights into a model whose classifier has a different number of classes: the
 * classifier keys whose shape differs are skipped (the model keeps its own initialisation for them)
 * and listed in the report's `skipped`; every other key must match as in a strict load.
 */
export function replaceHead(
  target: StateTarget,
  tensors: ReadonlyMap<string, SafeTensor>,
  options: ReplaceHeadOptions = {},
): LoadReport {
  const head = options.headPrefix ?? classifierPrefix(target);
  const shapes = new Map(target.stateEntries().map((e) => [e.name, e.shape]));
  const differ = new Set<string>();
  for (const [key, t] of tensors) {
    const name =
      options.stripPrefix && key.startsWith(options.stripPrefix)
        ? key.slice(options.stripPrefix.length)
        : key;
    const want = shapes.get(name);
    if (name.startsWith(head) && want !== undefined && !sameShape(want, t.shape)) differ.add(name);
  }
  return loadStateDict(target, tensors, { ...options, skipKeys: (name) => differ.has(name) });
}
