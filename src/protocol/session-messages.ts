// The messages of a session between the data owner (client) and the trusted process, carried over the
// attested channel (DESIGN.md (1)); framing and limits are in session-codec.ts. Each inbound header is
// checked field by field against its type here: unknown types, unknown or missing fields, wrong types,
// out-of-range numbers and names that are not plain tokens are E_FRAME. A leaf: no imports but errors.
import { TeeError } from '../errors.js';

/** Version of the session protocol, announced in `ready`; a client speaking another one disconnects. */
export const SESSION_PROTOCOL_VERSION = 1;
/** Largest upload chunk or model chunk carried in one message body. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** Largest JSON header. */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Largest message: u32 header length ‖ header ‖ body. */
export const MAX_SESSION_MESSAGE_BYTES = 4 + MAX_HEADER_BYTES + MAX_BODY_BYTES;
/** Length of a key sent for an encrypted upload (AES-256). */
export const UPLOAD_KEY_BYTES = 32;
export const MAX_ACCELERATORS = 64;
/** Longest wait for one accelerator reply a job may ask for (a day, in ms). */
export const MAX_ACCELERATOR_TIMEOUT_MS = 86_400_000;
/** Largest CA text sent with a job's accelerator TLS (PEM: a few dozen certificates; the header is 64 KiB). */
export const MAX_TLS_CA_CHARS = 32 * 1024;
/** Largest declared size of one upload (the trusted process may set a lower cap). */
export const MAX_UPLOAD_BYTES = 2 ** 40;

/**
 * An uploaded name: a token of letters, digits, '.', '_' and '-' that starts with a letter or digit
 * (so never '.', '..' or a hidden file), at most 128 characters; or GROUP/FILE, two such tokens (the
 * files of a directory data set). Names are looked up in the trusted process's private directory and
 * never joined to a path any other way: no traversal is expressible.
 */
export const NAME_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isUploadName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const parts = name.split('/');
  return parts.length <= 2 && parts.every((p) => NAME_TOKEN.test(p));
}

/** A plain token (no '/'): sealed checkpoint names, model names. */
export function isToken(name: unknown): name is string {
  return typeof name === 'string' && NAME_TOKEN.test(name);
}

export type JobMode = 'enclave' | 'split';
export type Integrity = 'exact' | 'float' | 'off';
export type Schedule = 'constant' | 'step' | 'cosine';
export const JOB_MODES: readonly JobMode[] = ['enclave', 'split'];
export const INTEGRITY_MODES: readonly Integrity[] = ['exact', 'float', 'off'];
/** Exact mode's fields, as verify/field.ts names them (protocol/ is a leaf: the names are mirrored, tested). */
export type ExactFieldName = 'wide' | 'p24';
export const EXACT_FIELDS: readonly ExactFieldName[] = ['wide', 'p24'];
export const SCHEDULES: readonly Schedule[] = ['constant', 'step', 'cosine'];

/** Where a job's images come from: seeded synthetic data, or an uploaded file or group (directory). */
export type DataRef =
  | { readonly kind: 'synthetic'; readonly length: number }
  | { readonly kind: 'upload'; readonly name: string };

/** The trainer's settings (train/trainer.ts TrainSettings) with the data-dependent ones optional. */
export interface JobTrainSettings {
  readonly model: string;
  readonly numClasses: number;
  /** Default: the data's image height. */
  readonly inputSize?: number;
  /** Default 32; a batch file is always used whole. */
  readonly batchSize?: number;
  readonly epochs?: number;
  readonly steps?: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly schedule: Schedule;
  readonly seed: number;
  readonly augment: boolean;
}

/** What every job has: where it runs, on what model and data. */
export interface JobCommon {
  readonly mode: JobMode;
  readonly data: DataRef;
  /** An uploaded weights file (.safetensors or .pth). */
  readonly weights?: string;
  readonly stripPrefix?: string;
  /** split: accelerator addresses (HOST:PORT); default: the trusted process's own --accelerator list. */
  readonly accelerators?: readonly string[];
  /** split, with `accelerators`: connect to every one of them over TLS. */
  readonly acceleratorTls?: AcceleratorTls;
  /** split: how long to wait for an accelerator's reply before the attempt fails (ms; default 60 s). */
  readonly acceleratorTimeoutMs?: number;
  /** split: default 'exact'. */
  readonly integrity?: Integrity;
  /** split, integrity exact: the field (verify/field.ts); default 'wide' ('p24' with blinding pads). */
  readonly field?: ExactFieldName;
  /** Kernel threads of the trusted process for this job. */
  readonly threads?: number;
  /**
   * split: products below this many flops per byte that would cross the wire run inside instead
   * (enclave/placement.ts); 0 offloads every product. Default: the trusted process's.
   */
  readonly offloadMinIntensity?: number;
}

/**
 * TLS to a job's accelerators: `ca`, PEM certificates (only CERTIFICATE blocks, at most
 * MAX_TLS_CA_CHARS) trusted instead of the system's; without it, the system's CAs.
 */
export interface AcceleratorTls {
  readonly ca?: string;
}

export interface TrainJob extends JobCommon {
  readonly settings: JobTrainSettings;
  readonly dropout?: number;
  /** Name of the sealed checkpoint to write (in the trusted process's checkpoint directory). */
  readonly checkpoint?: string;
  readonly checkpointEvery?: number;
  /** Name of a sealed checkpoint to resume from. */
  readonly resume?: string;
}

export interface EvalJob extends JobCommon {
  readonly model: string;
  readonly numClasses: number;
  readonly inputSize?: number;
  readonly batchSize: number;
  readonly split: 'train' | 'test';
}

export interface InferJob extends JobCommon {
  readonly model: string;
  readonly numClasses: number;
  readonly inputSize?: number;
  readonly batchSize: number;
  readonly topk: number;
  readonly limit?: number;
  /** Blinded split inference: an uploaded pad file (tee-offload precompute), sent with its key. */
  readonly pads?: string;
}

/** The trainer's ProgressEvent (train/progress.ts), as it travels (NaN travels as null → NaN). */
export type SessionProgressEvent =
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      imagesPerSec: number;
      elapsedSec: number;
    }
  | { type: 'eval'; step: number; epoch: number; loss: number; accuracy: number; samples: number }
  | { type: 'checkpoint'; step: number; path: string }
  | {
      type: 'done';
      step: number;
      elapsedSec: number;
      imagesPerSec: number;
      finalLoss: number;
      /** The step the run started from (0, or its checkpoint's), its length and the steps it ran. */
      startStep?: number;
      totalSteps?: number;
      stepsRun?: number;
    };

export interface PredictionRow {
  readonly index: number;
  readonly label: number;
  readonly top: readonly { readonly class: number; readonly p: number }[];
}

export interface TrainResultSummary {
  readonly steps: number;
  readonly finalLoss: number;
  readonly elapsedSec: number;
  readonly imagesPerSec: number;
  readonly lastEval?: { readonly loss: number; readonly accuracy: number };
}

/** split jobs: what the accelerators did (RemoteLinearOps totals). */
export interface RemoteTotals {
  readonly calls: number;
  readonly retries: number;
  readonly failures: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly totalMs: number;
  /** Where the products' time went (ms; compute is what the accelerators reported: untrusted). */
  readonly phases?: RemotePhases;
}

export interface RemotePhases {
  readonly quantizeMs: number;
  readonly sendMs: number;
  readonly computeMs: number;
  readonly receiveMs: number;
  readonly verifyMs: number;
  readonly dequantizeMs: number;
}

export const REMOTE_PHASE_KEYS = [
  'quantizeMs',
  'sendMs',
  'computeMs',
  'receiveMs',
  'verifyMs',
  'dequantizeMs',
] as const;

export type ResultMessage =
  | {
      readonly type: 'result';
      readonly kind: 'train';
      readonly summary: TrainResultSummary;
      /** Bytes of the final model state (safetensors) sent before this in `model` messages. */
      readonly modelBytes: number;
      readonly remote?: RemoteTotals;
    }
  | {
      readonly type: 'result';
      readonly kind: 'eval';
      readonly summary: { loss: number; accuracy: number; samples: number; seconds: number };
      readonly remote?: RemoteTotals;
    }
  | {
      readonly type: 'result';
      readonly kind: 'infer';
      readonly summary: { images: number; seconds: number };
      readonly remote?: RemoteTotals;
    };

/** Client → trusted process. */
export type ClientMessage =
  | {
      readonly type: 'upload';
      readonly name: string;
      /** Where this chunk starts; chunks come in order, without gaps. */
      readonly offset: number;
      /** The whole upload's size, the same in every chunk. */
      readonly total: number;
      /** An AEAD file (secure/aead-file.ts): decrypted inside once its `key` arrives. */
      readonly encrypted: boolean;
      readonly body: Uint8Array;
    }
  | { readonly type: 'key'; readonly name: string; readonly body: Uint8Array }
  | { readonly type: 'train'; readonly job: TrainJob }
  | { readonly type: 'eval'; readonly job: EvalJob }
  | { readonly type: 'infer'; readonly job: InferJob };

export type LauncherName = 'direct' | 'gramine-direct' | 'gramine-sgx';
export const LAUNCHER_NAMES: readonly LauncherName[] = ['direct', 'gramine-direct', 'gramine-sgx'];

/** Trusted process → client. */
export type EnclaveMessage =
  | { readonly type: 'queued'; readonly position: number }
  | {
      readonly type: 'ready';
      readonly version: number;
      readonly launcher: LauncherName;
      /** 'sgx-mrenclave', 'direct-insecure', or null when it cannot seal (no checkpoint directory). */
      readonly sealing: string | null;
    }
  | { readonly type: 'uploaded'; readonly name: string; readonly bytes: number; readonly decrypted: boolean }
  | { readonly type: 'note'; readonly message: string }
  | { readonly type: 'progress'; readonly event: SessionProgressEvent }
  | { readonly type: 'prediction'; readonly rows: readonly PredictionRow[] }
  | { readonly type: 'model'; readonly offset: number; readonly total: number; readonly body: Uint8Array }
  | ResultMessage
  | { readonly type: 'error'; readonly code: SessionErrorCode; readonly message: string };

export type SessionMessage = ClientMessage | EnclaveMessage;

/** Codes an `error` message may carry (errors.ts ErrorCode). */
export const SESSION_ERROR_CODES = [
  'E_SHAPE',
  'E_FORMAT',
  'E_STATE',
  'E_IO',
  'E_NATIVE',
  'E_USAGE',
  'E_FRAME',
  'E_AUTH',
  'E_VERIFY',
  'E_ATTEST',
  'E_NETWORK',
  'E_NUMERIC',
] as const;
export type SessionErrorCode = (typeof SESSION_ERROR_CODES)[number];

export const CLIENT_MESSAGE_TYPES = ['upload', 'key', 'train', 'eval', 'infer'] as const;
export const ENCLAVE_MESSAGE_TYPES = [
  'queued',
  'ready',
  'uploaded',
  'note',
  'progress',
  'prediction',
  'model',
  'result',
  'error',
] as const;
/** Message types that carry a body; every other type must declare bodyBytes 0. */
export const BODY_TYPES: readonly string[] = ['upload', 'key', 'model'];

// ---- field checks ------------------------------------------------------------------------------

type Json = Record<string, unknown>;

function bad(where: string, why: string): TeeError {
  return new TeeError('E_FRAME', `session message ${where}: ${why}`);
}

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object's keys must all be in `allowed` (and `required` present): no leftovers. */
function keysOf(o: Json, where: string, required: readonly string[], optional: readonly string[] = []): void {
  for (const k of required) if (!(k in o)) throw bad(where, `missing field '${k}'`);
  for (const k of Object.keys(o)) {
    if (!required.includes(k) && !optional.includes(k)) throw bad(where, `unknown field '${k}'`);
  }
}

function obj(v: unknown, where: string): Json {
  if (!isObject(v)) throw bad(where, 'expected an object');
  return v;
}

function int(v: unknown, where: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    throw bad(where, `expected an integer in [${min}, ${max}]`);
  }
  return v;
}

function finite(v: unknown, where: string, min = -Number.MAX_VALUE): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw bad(where, 'expected a finite number');
  return v;
}

/** A measured value: a number, or null for NaN/±Infinity (JSON has no NaN). */
function measured(v: unknown, where: string): number {
  if (v === null) return Number.NaN;
  if (typeof v !== 'number') throw bad(where, 'expected a number or null');
  return v;
}

function bool(v: unknown, where: string): boolean {
  if (typeof v !== 'boolean') throw bad(where, 'expected true or false');
  return v;
}

function str(v: unknown, where: string, maxLength: number): string {
  if (typeof v !== 'string' || v.length > maxLength)
    throw bad(where, `expected a string of at most ${maxLength} characters`);
  return v;
}

function oneOf<T extends string>(v: unknown, where: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw bad(where, `expected one of ${values.join(', ')}`);
  }
  return v as T;
}

function uploadName(v: unknown, where: string): string {
  if (!isUploadName(v)) {
    throw bad(
      where,
      'not a valid name (letters, digits, . _ -, starting with a letter or digit; at most one /)',
    );
  }
  return v;
}

function token(v: unknown, where: string): string {
  if (!isToken(v))
    throw bad(where, 'not a plain name (letters, digits, . _ -, starting with a letter or digit)');
  return v;
}

/** HOST:PORT as the CLI writes it; parsed properly by the trusted process when it connects. */
function address(v: unknown, where: string): string {
  if (typeof v !== 'string' || !/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(v) || v.length > 300) {
    throw bad(where, 'expected HOST:PORT');
  }
  return v;
}

// Whole PEM certificate blocks and nothing else (no other block kinds, no text between them).
const PEM_CERTIFICATES =
  /^(?:-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/]{1,76}={0,2}\r?\n)+-----END CERTIFICATE-----\r?\n?)+$/;

function acceleratorTls(v: unknown, where: string): AcceleratorTls {
  const o = obj(v, where);
  keysOf(o, where, [], ['ca']);
  if (o.ca === undefined) return {};
  const ca = str(o.ca, `${where}.ca`, MAX_TLS_CA_CHARS);
  if (!PEM_CERTIFICATES.test(ca))
    throw bad(`${where}.ca`, 'expected PEM certificates (BEGIN CERTIFICATE blocks only)');
  return { ca };
}

function opt<T>(o: Json, k: string, f: (v: unknown, where: string) => T, where: string): T | undefined {
  return o[k] === undefined ? undefined : f(o[k], `${where}.${k}`);
}

function dataRef(v: unknown, where: string): DataRef {
  const o = obj(v, where);
  const kind = oneOf(o.kind, `${where}.kind`, ['synthetic', 'upload'] as const);
  if (kind === 'synthetic') {
    keysOf(o, where, ['kind', 'length']);
    return { kind, length: int(o.length, `${where}.length`, 1, 10_000_000) };
  }
  keysOf(o, where, ['kind', 'name']);
  return { kind, name: uploadName(o.name, `${where}.name`) };
}

const COMMON_FIELDS = [
  'mode',
  'data',
  'weights',
  'stripPrefix',
  'accelerators',
  'acceleratorTls',
  'acceleratorTimeoutMs',
  'integrity',
  'field',
  'threads',
  'offloadMinIntensity',
];

function common(o: Json, where: string): JobCommon {
  const accelerators =
    o.accelerators === undefined
      ? undefined
      : (() => {
          if (!Array.isArray(o.accelerators) || o.accelerators.length > MAX_ACCELERATORS) {
            throw bad(`${where}.accelerators`, `expected at most ${MAX_ACCELERATORS} addresses`);
          }
          return o.accelerators.map((a, i) => address(a, `${where}.accelerators[${i}]`));
        })();
  const c: JobCommon = {
    mode: oneOf(o.mode, `${where}.mode`, JOB_MODES),
    data: dataRef(o.data, `${where}.data`),
    ...defined('weights', opt(o, 'weights', uploadName, where)),
    ...defined(
      'stripPrefix',
      opt(o, 'stripPrefix', (v, w) => str(v, w, 256), where),
    ),
    ...defined('accelerators', accelerators),
    ...defined('acceleratorTls', opt(o, 'acceleratorTls', acceleratorTls, where)),
    ...defined(
      'acceleratorTimeoutMs',
      opt(o, 'acceleratorTimeoutMs', (v, w) => int(v, w, 1, MAX_ACCELERATOR_TIMEOUT_MS), where),
    ),
    ...defined(
      'integrity',
      opt(o, 'integrity', (v, w) => oneOf(v, w, INTEGRITY_MODES), where),
    ),
    ...defined(
      'field',
      opt(o, 'field', (v, w) => oneOf(v, w, EXACT_FIELDS), where),
    ),
    ...defined(
      'threads',
      opt(o, 'threads', (v, w) => int(v, w, 1, 1024), where),
    ),
    ...defined(
      'offloadMinIntensity',
      opt(o, 'offloadMinIntensity', (v, w) => finiteAtLeast0(v, w), where),
    ),
  };
  if (
    c.mode === 'enclave' &&
    (c.accelerators !== undefined ||
      c.acceleratorTimeoutMs !== undefined ||
      c.integrity !== undefined ||
      c.field !== undefined ||
      c.offloadMinIntensity !== undefined)
  ) {
    throw bad(
      where,
      'accelerators, acceleratorTimeoutMs, integrity, field and offloadMinIntensity are for mode split',
    );
  }
  if (c.acceleratorTls !== undefined && c.accelerators === undefined) {
    throw bad(`${where}.acceleratorTls`, "is for the job's own accelerators (give accelerators)");
  }
  if (c.field !== undefined && (c.integrity ?? 'exact') !== 'exact') {
    throw bad(`${where}.field`, 'a field is for integrity exact');
  }
  return c;
}

function finiteAtLeast0(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
    throw bad(where, 'expected a finite number >= 0');
  return v;
}

function defined<K extends string, T>(k: K, v: T | undefined): { [P in K]?: T } {
  return (v === undefined ? {} : { [k]: v }) as { [P in K]?: T };
}

const MODEL_NAME = /^[a-z][a-z0-9_]{0,63}$/;

function modelName(v: unknown, where: string): string {
  if (typeof v !== 'string' || !MODEL_NAME.test(v)) throw bad(where, 'not a model name');
  return v;
}

function trainSettings(v: unknown, where: string): JobTrainSettings {
  const o = obj(v, where);
  keysOf(
    o,
    where,
    ['model', 'numClasses', 'lr', 'momentum', 'weightDecay', 'nesterov', 'schedule', 'seed', 'augment'],
    ['inputSize', 'batchSize', 'epochs', 'steps'],
  );
  const s: JobTrainSettings = {
    model: modelName(o.model, `${where}.model`),
    numClasses: int(o.numClasses, `${where}.numClasses`, 1, 100_000),
    ...defined(
      'inputSize',
      opt(o, 'inputSize', (x, w) => int(x, w, 1, 4096), where),
    ),
    ...defined(
      'batchSize',
      opt(o, 'batchSize', (x, w) => int(x, w, 1, 65_536), where),
    ),
    ...defined(
      'epochs',
      opt(o, 'epochs', (x, w) => int(x, w, 1, 1_000_000), where),
    ),
    ...defined(
      'steps',
      opt(o, 'steps', (x, w) => int(x, w, 1, 1_000_000_000), where),
    ),
    lr: finite(o.lr, `${where}.lr`, 0),
    momentum: finite(o.momentum, `${where}.momentum`, 0),
    weightDecay: finite(o.weightDecay, `${where}.weightDecay`, 0),
    nesterov: bool(o.nesterov, `${where}.nesterov`),
    schedule: oneOf(o.schedule, `${where}.schedule`, SCHEDULES),
    seed: int(o.seed, `${where}.seed`, 0),
    augment: bool(o.augment, `${where}.augment`),
  };
  if ((s.epochs === undefined) === (s.steps === undefined))
    throw bad(where, 'give exactly one of epochs and steps');
  return s;
}

function trainJob(v: unknown, where: string): TrainJob {
  const o = obj(v, where);
  keysOf(
    o,
    where,
    ['mode', 'data', 'settings'],
    [...COMMON_FIELDS, 'dropout', 'checkpoint', 'checkpointEvery', 'resume'],
  );
  const dropout = opt(o, 'dropout', (x, w) => finite(x, w, 0), where);
  if (dropout !== undefined && dropout >= 1) throw bad(`${where}.dropout`, 'expected a probability below 1');
  return {
    ...common(o, where),
    settings: trainSettings(o.settings, `${where}.settings`),
    ...defined('dropout', dropout),
    ...defined('checkpoint', opt(o, 'checkpoint', token, where)),
    ...defined(
      'checkpointEvery',
      opt(o, 'checkpointEvery', (x, w) => int(x, w, 1), where),
    ),
    ...defined('resume', opt(o, 'resume', token, where)),
  };
}

function evalJob(v: unknown, where: string): EvalJob {
  const o = obj(v, where);
  keysOf(
    o,
    where,
    ['mode', 'data', 'model', 'numClasses', 'batchSize', 'split', 'weights'],
    [...COMMON_FIELDS, 'inputSize'],
  );
  return {
    ...common(o, where),
    model: modelName(o.model, `${where}.model`),
    numClasses: int(o.numClasses, `${where}.numClasses`, 1, 100_000),
    ...defined(
      'inputSize',
      opt(o, 'inputSize', (x, w) => int(x, w, 1, 4096), where),
    ),
    batchSize: int(o.batchSize, `${where}.batchSize`, 1, 65_536),
    split: oneOf(o.split, `${where}.split`, ['train', 'test'] as const),
  };
}

function inferJob(v: unknown, where: string): InferJob {
  const o = obj(v, where);
  keysOf(
    o,
    where,
    ['mode', 'data', 'model', 'numClasses', 'batchSize', 'topk', 'weights'],
    [...COMMON_FIELDS, 'inputSize', 'limit', 'pads'],
  );
  const job: InferJob = {
    ...common(o, where),
    model: modelName(o.model, `${where}.model`),
    numClasses: int(o.numClasses, `${where}.numClasses`, 1, 100_000),
    ...defined(
      'inputSize',
      opt(o, 'inputSize', (x, w) => int(x, w, 1, 4096), where),
    ),
    batchSize: int(o.batchSize, `${where}.batchSize`, 1, 65_536),
    topk: int(o.topk, `${where}.topk`, 1, 1000),
    ...defined(
      'limit',
      opt(o, 'limit', (x, w) => int(x, w, 1), where),
    ),
    ...defined('pads', opt(o, 'pads', uploadName, where)),
  };
  if (job.topk > job.numClasses) throw bad(`${where}.topk`, 'more than the number of classes');
  return job;
}

function progressEvent(v: unknown, where: string): SessionProgressEvent {
  const o = obj(v, where);
  const type = oneOf(o.type, `${where}.type`, ['step', 'eval', 'checkpoint', 'done'] as const);
  const n = (k: string) => int(o[k], `${where}.${k}`, 0);
  const m = (k: string) => measured(o[k], `${where}.${k}`);
  switch (type) {
    case 'step':
      keysOf(o, where, ['type', 'step', 'totalSteps', 'epoch', 'loss', 'lr', 'imagesPerSec', 'elapsedSec']);
      return {
        type,
        step: n('step'),
        totalSteps: n('totalSteps'),
        epoch: n('epoch'),
        loss: m('loss'),
        lr: m('lr'),
        imagesPerSec: m('imagesPerSec'),
        elapsedSec: m('elapsedSec'),
      };
    case 'eval':
      keysOf(o, where, ['type', 'step', 'epoch', 'loss', 'accuracy', 'samples']);
      return {
        type,
        step: n('step'),
        epoch: n('epoch'),
        loss: m('loss'),
        accuracy: m('accuracy'),
        samples: n('samples'),
      };
    case 'checkpoint':
      keysOf(o, where, ['type', 'step', 'path']);
      return { type, step: n('step'), path: str(o.path, `${where}.path`, 4096) };
    case 'done':
      keysOf(
        o,
        where,
        ['type', 'step', 'elapsedSec', 'imagesPerSec', 'finalLoss'],
        ['startStep', 'totalSteps', 'stepsRun'],
      );
      return {
        type,
        step: n('step'),
        elapsedSec: m('elapsedSec'),
        imagesPerSec: m('imagesPerSec'),
        finalLoss: m('finalLoss'),
        ...(o.startStep === undefined ? {} : { startStep: n('startStep') }),
        ...(o.totalSteps === undefined ? {} : { totalSteps: n('totalSteps') }),
        ...(o.stepsRun === undefined ? {} : { stepsRun: n('stepsRun') }),
      };
  }
}

function predictionRows(v: unknown, where: string): PredictionRow[] {
  if (!Array.isArray(v) || v.length > 100_000) throw bad(where, 'expected an array of rows');
  return v.map((r, i) => {
    const w = `${where}[${i}]`;
    const o = obj(r, w);
    keysOf(o, w, ['index', 'label', 'top']);
    if (!Array.isArray(o.top) || o.top.length > 100_000) throw bad(`${w}.top`, 'expected an array');
    return {
      index: int(o.index, `${w}.index`, 0),
      label: int(o.label, `${w}.label`, -1),
      top: o.top.map((t, j) => {
        const tw = `${w}.top[${j}]`;
        const to = obj(t, tw);
        keysOf(to, tw, ['class', 'p']);
        return { class: int(to.class, `${tw}.class`, 0), p: measured(to.p, `${tw}.p`) };
      }),
    };
  });
}

function remoteTotals(v: unknown, where: string): RemoteTotals {
  const o = obj(v, where);
  const keys = ['calls', 'retries', 'failures', 'bytesSent', 'bytesReceived', 'totalMs'] as const;
  keysOf(o, where, keys, ['phases']);
  let phases: RemotePhases | undefined;
  if (o.phases !== undefined) {
    const pw = `${where}.phases`;
    const po = obj(o.phases, pw);
    keysOf(po, pw, REMOTE_PHASE_KEYS);
    phases = Object.fromEntries(
      REMOTE_PHASE_KEYS.map((k) => [k, measured(po[k], `${pw}.${k}`)]),
    ) as unknown as RemotePhases;
  }
  return {
    ...(phases === undefined ? {} : { phases }),
    calls: int(o.calls, `${where}.calls`, 0),
    retries: int(o.retries, `${where}.retries`, 0),
    failures: int(o.failures, `${where}.failures`, 0),
    bytesSent: int(o.bytesSent, `${where}.bytesSent`, 0),
    bytesReceived: int(o.bytesReceived, `${where}.bytesReceived`, 0),
    totalMs: measured(o.totalMs, `${where}.totalMs`),
  };
}

function result(o: Json, where: string): ResultMessage {
  const kind = oneOf(o.kind, `${where}.kind`, ['train', 'eval', 'infer'] as const);
  const remote = opt(o, 'remote', remoteTotals, where);
  const s = obj(o.summary, `${where}.summary`);
  const m = (k: string) => measured(s[k], `${where}.summary.${k}`);
  const sw = `${where}.summary`;
  switch (kind) {
    case 'train': {
      keysOf(o, where, ['type', 'kind', 'summary', 'modelBytes'], ['remote']);
      keysOf(s, sw, ['steps', 'finalLoss', 'elapsedSec', 'imagesPerSec'], ['lastEval']);
      const lastEval =
        s.lastEval === undefined
          ? undefined
          : (() => {
              const e = obj(s.lastEval, `${sw}.lastEval`);
              keysOf(e, `${sw}.lastEval`, ['loss', 'accuracy']);
              return {
                loss: measured(e.loss, `${sw}.lastEval.loss`),
                accuracy: measured(e.accuracy, `${sw}.lastEval.accuracy`),
              };
            })();
      return {
        type: 'result',
        kind,
        summary: {
          steps: int(s.steps, `${sw}.steps`, 0),
          finalLoss: m('finalLoss'),
          elapsedSec: m('elapsedSec'),
          imagesPerSec: m('imagesPerSec'),
          ...defined('lastEval', lastEval),
        },
        modelBytes: int(o.modelBytes, `${where}.modelBytes`, 0),
        ...defined('remote', remote),
      };
    }
    case 'eval':
      keysOf(o, where, ['type', 'kind', 'summary'], ['remote']);
      keysOf(s, sw, ['loss', 'accuracy', 'samples', 'seconds']);
      return {
        type: 'result',
        kind,
        summary: {
          loss: m('loss'),
          accuracy: m('accuracy'),
          samples: int(s.samples, `${sw}.samples`, 0),
          seconds: m('seconds'),
        },
        ...defined('remote', remote),
      };
    case 'infer':
      keysOf(o, where, ['type', 'kind', 'summary'], ['remote']);
      keysOf(s, sw, ['images', 'seconds']);
      return {
        type: 'result',
        kind,
        summary: { images: int(s.images, `${sw}.images`, 0), seconds: m('seconds') },
        ...defined('remote', remote),
      };
  }
}

/**
 * Checks a decoded header (and its body) against the message types the peer `from` may send, and
 * returns the typed message. Everything that does not fit exactly is E_FRAME.
 */
export function checkMessage(h: Json, body: Uint8Array, from: 'client' | 'enclave'): SessionMessage {
  const types: readonly string[] = from === 'client' ? CLIENT_MESSAGE_TYPES : ENCLAVE_MESSAGE_TYPES;
  const type = h.type;
  if (typeof type !== 'string' || !types.includes(type)) {
    throw bad('header', `unknown message type ${JSON.stringify(type)} from the ${from}`);
  }
  const where = type;
  if (!BODY_TYPES.includes(type) && body.byteLength !== 0) throw bad(where, 'this type carries no body');
  switch (type) {
    case 'upload': {
      keysOf(h, where, ['type', 'name', 'offset', 'total', 'encrypted']);
      const total = int(h.total, 'upload.total', 0, MAX_UPLOAD_BYTES);
      const offset = int(h.offset, 'upload.offset', 0, total);
      if (offset + body.byteLength > total)
        throw bad(where, `chunk ends at ${offset + body.byteLength}, past the declared total ${total}`);
      return {
        type,
        name: uploadName(h.name, 'upload.name'),
        offset,
        total,
        encrypted: bool(h.encrypted, 'upload.encrypted'),
        body,
      };
    }
    case 'key':
      keysOf(h, where, ['type', 'name']);
      if (body.byteLength !== UPLOAD_KEY_BYTES)
        throw bad(where, `a key is ${UPLOAD_KEY_BYTES} bytes, got ${body.byteLength}`);
      return { type, name: uploadName(h.name, 'key.name'), body };
    case 'train':
      keysOf(h, where, ['type', 'job']);
      return { type, job: trainJob(h.job, 'train.job') };
    case 'eval':
      keysOf(h, where, ['type', 'job']);
      return { type, job: evalJob(h.job, 'eval.job') };
    case 'infer':
      keysOf(h, where, ['type', 'job']);
      return { type, job: inferJob(h.job, 'infer.job') };
    case 'queued':
      keysOf(h, where, ['type', 'position']);
      return { type, position: int(h.position, 'queued.position', 1) };
    case 'ready':
      keysOf(h, where, ['type', 'version', 'launcher', 'sealing']);
      return {
        type,
        version: int(h.version, 'ready.version', 0),
        launcher: oneOf(h.launcher, 'ready.launcher', LAUNCHER_NAMES),
        sealing: h.sealing === null ? null : str(h.sealing, 'ready.sealing', 64),
      };
    case 'uploaded':
      keysOf(h, where, ['type', 'name', 'bytes', 'decrypted']);
      return {
        type,
        name: uploadName(h.name, 'uploaded.name'),
        bytes: int(h.bytes, 'uploaded.bytes', 0),
        decrypted: bool(h.decrypted, 'uploaded.decrypted'),
      };
    case 'note':
      keysOf(h, where, ['type', 'message']);
      return { type, message: str(h.message, 'note.message', 4096) };
    case 'progress':
      keysOf(h, where, ['type', 'event']);
      return { type, event: progressEvent(h.event, 'progress.event') };
    case 'prediction':
      keysOf(h, where, ['type', 'rows']);
      return { type, rows: predictionRows(h.rows, 'prediction.rows') };
    case 'model': {
      keysOf(h, where, ['type', 'offset', 'total']);
      const total = int(h.total, 'model.total', 0, MAX_UPLOAD_BYTES);
      const offset = int(h.offset, 'model.offset', 0, total);
      if (offset + body.byteLength > total) throw bad(where, 'chunk ends past the declared total');
      return { type, offset, total, body };
    }
    case 'result':
      return result(h, where);
    case 'error': {
      keysOf(h, where, ['type', 'code', 'message']);
      return {
        type,
        code: oneOf(h.code, 'error.code', SESSION_ERROR_CODES),
        message: str(h.message, 'error.message', 4096),
      };
    }
    default:
      throw bad('header', `unknown message type ${JSON.stringify(type)}`);
  }
}

// Exported for session-codec.ts only.
export { bad as sessionFrameError, isObject as isJsonObject };
