// A training checkpoint: everything needed to continue bit-identically, in one safetensors file —
// the model state (`model.NAME`), the SGD momentum buffers (`optim.NAME`), and in the metadata the
// step, the data loader's position and RNG words, the dropout RNG words and probabilities, and the
// run's settings (which a resumed run must repeat: the caller checks them before anything is restored).
// Written atomically (temp file, fsync, rename): a crash mid-write leaves the previous checkpoint.
import { TeeError } from '../errors.js';
import { fromFloat32, type SafeTensor, toFloat32 } from '../io/safe-tensor.js';
import {
  parseSafetensors,
  readSafetensorsFile,
  type SafetensorsContents,
  serializeSafetensors,
  writeSafetensorsFile,
} from '../io/safetensors.js';
import { loadStateDict, stateDictTensors } from '../io/state-dict.js';
import { Dropout } from '../nn/dropout.js';
import { modulesOf } from '../nn/layer.js';
import type { Module } from '../nn/module.js';
import type { SGD } from '../nn/sgd.js';

export const CHECKPOINT_FORMAT = 'tee-offload-checkpoint/1';

export interface CheckpointState {
  /** SGD steps taken so far. */
  readonly step: number;
  /** The data loader's state (JSON-safe). */
  readonly loader: unknown;
  /** The settings of the run that wrote it (JSON-safe), checked on resume. */
  readonly settings: Record<string, unknown>;
}

function dropoutLayers(model: Module): Dropout[] {
  return modulesOf(model).filter((m): m is Dropout => m instanceof Dropout);
}

/** The probability of each Dropout layer of `model`, in module order (recorded as `dropout_p`). */
export function dropoutProbabilities(model: Module): number[] {
  return dropoutLayers(model).map((d) => d.p);
}

export function saveCheckpoint(path: string, model: Module, optimizer: SGD, state: CheckpointState): void {
  const { tensors, metadata } = checkpointContents(model, optimizer, state);
  writeSafetensorsFile(path, tensors, metadata);
}

/** The checkpoint as bytes (for sealing: the trusted process never writes it in the clear). */
export function encodeCheckpoint(model: Module, optimizer: SGD, state: CheckpointState): Uint8Array {
  const { tensors, metadata } = checkpointContents(model, optimizer, state);
  return serializeSafetensors(tensors, metadata);
}

function checkpointContents(
  model: Module,
  optimizer: SGD,
  state: CheckpointState,
): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of stateDictTensors(model)) tensors.set(`model.${name}`, t);
  const names = model.namedParameters().map(([n]) => n);
  const bufs = optimizer.momentumBuffers();
  if (bufs.length !== names.length) throw new RangeError('optimizer does not hold this model’s parameters');
  bufs.forEach((b, i) => {
    if (b !== null) tensors.set(`optim.${names[i]}`, fromFloat32([b.length], b));
  });
  const metadata = {
    format: CHECKPOINT_FORMAT,
    step: String(state.step),
    optimizer_steps: String(optimizer.stepCount),
    loader: JSON.stringify(state.loader),
    dropout_rng: JSON.stringify(dropoutLayers(model).map((d) => d.rng.getState())),
    dropout_p: JSON.stringify(dropoutProbabilities(model)),
    settings: JSON.stringify(state.settings),
  };
  return { tensors, metadata };
}

export interface LoadedCheckpoint {
  readonly step: number;
  readonly loader: unknown;
  readonly settings: Record<string, unknown>;
  /** Each Dropout layer's probability; absent in checkpoints written before it was recorded. */
  readonly dropout?: number[];
}

/**
 * Called with the checkpoint's metadata before anything is written into the model or optimizer: it
 * throws to refuse the checkpoint (a resumed run whose settings differ), leaving them untouched.
 */
export type CheckpointCheck = (ck: LoadedCheckpoint) => void;

function parseJson(text: string | undefined, what: string, path: string): unknown {
  if (text === undefined) throw new TeeError('E_FORMAT', `${path}: checkpoint has no ${what}`);
  try {
    return JSON.parse(text);
  } catch {
    throw new TeeError('E_FORMAT', `${path}: checkpoint ${what} is not valid JSON`);
  }
}

/** Restores model, optimizer and dropout RNGs in place; returns the step, loader state and settings. */
export function loadCheckpoint(
  path: string,
  model: Module,
  optimizer: SGD,
  check?: CheckpointCheck,
): LoadedCheckpoint {
  return restoreCheckpoint(readSafetensorsFile(path), path, model, optimizer, check);
}

/** loadCheckpoint from bytes (an unsealed checkpoint); `source` names it in errors. */
export function decodeCheckpoint(
  bytes: Uint8Array,
  source: string,
  model: Module,
  optimizer: SGD,
  check?: CheckpointCheck,
): LoadedCheckpoint {
  return restoreCheckpoint(parseSafetensors(bytes, source), source, model, optimizer, check);
}

function restoreCheckpoint(
  contents: SafetensorsContents,
  path: string,
  model: Module,
  optimizer: SGD,
  check?: CheckpointCheck,
): LoadedCheckpoint {
  const { tensors, metadata } = contents;
  if (metadata.format !== CHECKPOINT_FORMAT) {
    throw new TeeError(
      'E_FORMAT',
      `${path} is not a tee-offload checkpoint (format ${metadata.format ?? 'missing'})`,
    );
  }
  const modelTensors = new Map<string, SafeTensor>();
  const optimTensors = new Map<string, SafeTensor>();
  for (const [k, t] of tensors) {
    if (k.startsWith('model.')) modelTensors.set(k.slice(6), t);
    else if (k.startsWith('optim.')) optimTensors.set(k.slice(6), t);
    else throw new TeeError('E_FORMAT', `${path}: unexpected checkpoint tensor "${k}"`);
  }
  const step = Number(metadata.step);
  const optimSteps = Number(metadata.optimizer_steps);
  if (!Number.isSafeInteger(step) || step < 0 || !Number.isSafeInteger(optimSteps) || optimSteps < 0) {
    throw new TeeError('E_FORMAT', `${path}: checkpoint step is not a non-negative integer`);
  }
  const settings = parseJson(metadata.settings, 'settings', path);
  if (typeof settings !== 'object' || settings === null || Array.isArray(settings)) {
    throw new TeeError('E_FORMAT', `${path}: checkpoint settings are not an object`);
  }
  const dropout =
    metadata.dropout_p === undefined ? undefined : parseJson(metadata.dropout_p, 'dropout', path);
  if (dropout !== undefined && !(Array.isArray(dropout) && dropout.every((p) => typeof p === 'number'))) {
    throw new TeeError('E_FORMAT', `${path}: checkpoint dropout probabilities are not a list of numbers`);
  }
  const loaded: LoadedCheckpoint = {
    step,
    loader: parseJson(metadata.loader, 'loader state', path),
    settings: settings as Record<string, unknown>,
    ...(dropout === undefined ? {} : { dropout: dropout as number[] }),
  };
  check?.(loaded);
  const rngs = parseJson(metadata.dropout_rng, 'dropout RNG state', path);
  const drops = dropoutLayers(model);
  if (!Array.isArray(rngs) || rngs.length !== drops.length) {
    throw new TeeError('E_STATE', `${path}: checkpoint has dropout state for a different model`);
  }
  const names = model.namedParameters().map(([n]) => n);
  const buffers = names.map((n, i) => {
    const t = optimTensors.get(n);
    if (t === undefined) return null;
    const want = model.namedParameters()[i]![1].data.length;
    if (t.shape.length !== 1 || t.shape[0] !== want) {
      throw new TeeError(
        'E_STATE',
        `${path}: momentum buffer of ${n} has shape [${t.shape}], expected [${want}]`,
      );
    }
    return toFloat32(t);
  });
  for (const k of optimTensors.keys()) {
    if (!names.includes(k))
      throw new TeeError('E_STATE', `${path}: momentum buffer for unknown parameter ${k}`);
  }
  // Everything checked: now write into the live model and optimizer.
  loadStateDict(model, modelTensors);
  optimizer.loadMomentumBuffers(buffers, optimSteps);
  drops.forEach((d, i) => {
    d.rng.setState(rngs[i] as number[]);
  });
  return loaded;
}
