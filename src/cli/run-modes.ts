// `--mode native|enclave|split|accelerator` for train, infer and eval (DESIGN.md "Execution modes").
// native stays in the command itself; this file runs the other three:
//   enclave      the job runs in a trusted process (--enclave HOST:PORT, or one started here) with every
//                product inside it;
//   split        the same, with the linear products on accelerators, checked (--integrity exact|float);
//   accelerator  the unprotected speed baseline: the same trainer in THIS process, the linear products on
//                the accelerator in the clear and unchecked (RemoteLinearOps integrity 'off'), no enclave.
import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import type { ClientAttestationOptions } from '../client/attestation.js';
import { type RemoteJob, runRemote } from '../client/remote.js';
import { planData, planWeights, type UploadSpec, uploadToken } from '../client/uploads.js';
import { DataLoader } from '../data/data-loader.js';
import { defaultTransforms } from '../data/default-transforms.js';
import { openDataset } from '../data/open-dataset.js';
import type { AcceleratorClientOptions } from '../enclave/accelerator-client.js';
import { AcceleratorPool } from '../enclave/accelerator-pool.js';
import { softmax, topK } from '../enclave/job-eval.js';
import { useRemoteLinearOps } from '../enclave/remote-layer-labels.js';
import { RemoteLinearOps } from '../enclave/remote-linear-ops.js';
import { TeeError } from '../errors.js';
import { LAUNCHERS, type LauncherKind } from '../gramine/enclave-args.js';
import { kernels } from '../kernels/index.js';
import { isModelName, modelNames } from '../models/index.js';
import type { Module } from '../nn/module.js';
import { predict } from '../nn/train-step.js';
import { parseAddress } from '../protocol/address.js';
import {
  type AcceleratorTls,
  EXACT_FIELDS,
  type ExactFieldName,
  INTEGRITY_MODES,
  type Integrity,
  isToken,
  type JobMode,
  type JobTrainSettings,
  MAX_ACCELERATOR_TIMEOUT_MS,
  MAX_TLS_CA_CHARS,
  type PredictionRow,
} from '../protocol/session-messages.js';
import { makeAttestPolicy } from '../secure/attest-policy.js';
import { SCHEDULE_KINDS, type ScheduleKind } from '../train/lr-schedule.js';
import { chooseReporter } from '../train/progress.js';
import { evaluateDataset, runTraining, type TrainSettings } from '../train/trainer.js';
import { UsageError } from './command.js';
import { EVAL_FLAGS, type Flags, INFER_FLAGS, TRAIN_FLAGS } from './command-flags.js';
import { buildModel, checkModelArgs } from './model-setup.js';
import { floatFlag, intFlag, parseFlags } from './parse.js';

export type ModeCommand = 'train' | 'infer' | 'eval';
export type ExecMode = 'native' | JobMode | 'accelerator';
export const EXEC_MODES: readonly ExecMode[] = ['native', 'enclave', 'split', 'accelerator'];

const MODE_HELP_COMMON = `
modes (docs/enclave.md):
  --mode native          everything in this process, no protection (default)
  --mode enclave         in a trusted process (SGX enclave under Gramine), every product inside it
  --mode split           in a trusted process; linear products on --accelerator, checked (Freivalds)
  --mode accelerator     unprotected baseline: this process, linear products on the accelerator in
                         the clear, NOT checked, no enclave
  --enclave HOST:PORT    the trusted process (tee-offload enclave); default: start one here
  --launcher L           when starting one: direct (default), gramine-direct, gramine-sgx
  --manifest-dir DIR     gramine-*: the signed manifest (tee-offload manifest; its argv has --listen)
  --accelerator H:P      an accelerator (tee-offload accelerator), repeatable (split, accelerator)
  --accelerator-ca FILE  connect to every --accelerator over TLS, trusting the PEM certificate(s) in
                         FILE (an accelerator's self-signed --tls-cert, or its CA)
  --accelerator-tls      connect to every --accelerator over TLS, trusting the system's CAs
  --accelerator-timeout S
                         seconds to wait for an accelerator's reply before the attempt fails and is
                         retried once on a fresh connection (default 60)
  --integrity I          split: exact (default: quantized, checked exactly), float (float32, checked
                         within a rounding bound), off (NOT checked: for measurements only)
  --field F              split --integrity exact: wide (default: exact integer products checked
                         modulo 2^50 − 27, ~20 bits per operand) or p24 (products mod 2^24 − 3,
                         ~8 bits per operand; the field of --privacy blind)
  --offload-min-intensity X
                         split: products below X flops per wire byte run inside instead of on the
                         accelerator (default 4: classifier layers at small batch; 0: offload all)
  --allow-simulated      accept a SIMULATED attestation (direct/gramine-direct: no TEE; tests only)
  --collateral FILE      DCAP collateral (JSON) to verify an SGX quote; with --mrenclave HEX or
                         --mrsigner HEX, [--isvprodid N] [--min-isvsvn N] [--allow-status S,...]
                         [--allow-debug] (see tee-offload attest verify --help)
  --data-key KEY         --data is encrypted (tee-offload encrypt): uploaded as is, decrypted inside
  --weights-key KEY      the same for --weights`;

const MODE_HELP_PRIVACY = `
  --privacy P            none (default) or blind: infer --mode split --integrity exact only; every
                         forward product is blinded with a one-time pad (tee-offload precompute)
  --pads PADS            --privacy blind: the pad file (tee-offload precompute); used once, refused after
  --pads-key K           its key file: the file is uploaded encrypted and decrypted inside
  --pad-ledger DIR       --privacy blind with a trusted process started here (direct): where its
                         sealed ledger of used pad files lives (default $XDG_STATE_HOME/tee-offload/
                         pad-ledger, else ~/.local/state/tee-offload/pad-ledger); a running one
                         (--enclave) keeps it in its --checkpoint-dir, and refuses blinded jobs
                         without one`;

const MODE_HELP_CHECKPOINTS = `
  In enclave/split mode --checkpoint/--resume name SEALED checkpoints of the trusted process: a plain
  name in its --checkpoint-dir, or, when this command starts it, a path (its directory is used).`;

/** Appended to the help of train, infer and eval: the flags of the other modes that `command` takes. */
export function modeHelp(command: ModeCommand): string {
  if (command === 'train') return MODE_HELP_COMMON + MODE_HELP_CHECKPOINTS;
  if (command === 'infer') return MODE_HELP_COMMON + MODE_HELP_PRIVACY;
  return MODE_HELP_COMMON;
}

const MODE_FLAGS: Flags = {
  mode: { type: 'string' },
  enclave: { type: 'string' },
  launcher: { type: 'string' },
  'manifest-dir': { type: 'string' },
  accelerator: { type: 'string', multiple: true },
  'accelerator-ca': { type: 'string' },
  'accelerator-tls': { type: 'boolean' },
  'accelerator-timeout': { type: 'string' },
  integrity: { type: 'string' },
  field: { type: 'string' },
  'offload-min-intensity': { type: 'string' },
  'allow-simulated': { type: 'boolean' },
  collateral: { type: 'string' },
  mrenclave: { type: 'string' },
  mrsigner: { type: 'string' },
  isvprodid: { type: 'string' },
  'min-isvsvn': { type: 'string' },
  'allow-status': { type: 'string' },
  'allow-debug': { type: 'boolean' },
  'data-key': { type: 'string' },
  'weights-key': { type: 'string' },
  privacy: { type: 'string' },
  pads: { type: 'string' },
  'pads-key': { type: 'string' },
  'pad-ledger': { type: 'string' },
};

/** argv without `--NAME V` / `--NAME=V`. */
function withoutFlag(argv: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a === `--${name}`) i++;
    else if (!a.startsWith(`--${name}=`)) out.push(a);
  }
  return out;
}

/** The value of `--NAME V` / `--NAME=V` in argv (the last one), without parsing the rest. */
function peekFlag(argv: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === `--${name}` && i + 1 < argv.length) v = argv[++i];
    else if (a.startsWith(`--${name}=`)) v = a.slice(name.length + 3);
  }
  return v;
}

const COMMAND_FLAGS: Record<ModeCommand, Flags> = {
  train: TRAIN_FLAGS,
  infer: INFER_FLAGS,
  eval: EVAL_FLAGS,
};

/** The --mode of argv (`--mode X` or `--mode=X`), and argv without it. */
export function splitMode(argv: readonly string[]): { mode: string | undefined; rest: string[] } {
  const rest: string[] = [];
  let mode: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--mode') {
      if (i + 1 >= argv.length) throw new UsageError("option '--mode <value>' argument missing");
      mode = argv[++i]!;
    } else if (a.startsWith('--mode=')) mode = a.slice('--mode='.length);
    else rest.push(a);
  }
  return { mode, rest };
}

/**
 * Runs `command` in the mode argv asks for. Returns the exit status when it ran here (enclave, split,
 * accelerator), or, for native, argv without --mode for the command to run itself.
 */
export async function routeMode(command: ModeCommand, argv: string[]): Promise<number | string[]> {
  const { mode = 'native', rest } = splitMode(argv);
  const privacy = peekFlag(argv, 'privacy') ?? 'none';
  if (privacy !== 'none' && privacy !== 'blind')
    throw new UsageError(`--privacy must be none or blind, got '${privacy}'`);
  if (privacy === 'blind') {
    if (command === 'train')
      throw new UsageError('training cannot use one-time pads: weights change every step (--privacy blind)');
    if (command !== 'infer') throw new UsageError('--privacy blind is for infer');
    if (mode !== 'split') throw new UsageError('--privacy blind needs --mode split');
  }
  if (!(EXEC_MODES as readonly string[]).includes(mode)) {
    throw new UsageError(`--mode must be one of ${EXEC_MODES.join(', ')}, got '${mode}'`);
  }
  if (mode === 'native') {
    for (const name of Object.keys(MODE_FLAGS)) {
      if (
        name !== 'mode' &&
        name !== 'privacy' &&
        rest.some((a) => a === `--${name}` || a.startsWith(`--${name}=`))
      ) {
        throw new UsageError(
          `--${name} is for --mode enclave, split or accelerator (the mode here is native)`,
        );
      }
    }
    return withoutFlag(rest, 'privacy'); // none: the default
  }
  const { values } = parseFlags(argv, { ...COMMAND_FLAGS[command], ...MODE_FLAGS });
  const f = new ModeFlags(values, command);
  if (mode === 'accelerator') return runAcceleratorMode(command, f);
  return runEnclaveMode(command, mode as JobMode, f);
}

class ModeFlags {
  constructor(
    readonly v: Record<string, string | boolean | string[] | undefined>,
    readonly command: ModeCommand,
  ) {}
  str(k: string): string | undefined {
    return this.v[k] as string | undefined;
  }
  bool(k: string): boolean {
    return this.v[k] === true;
  }
  list(k: string): string[] {
    return (this.v[k] as string[] | undefined) ?? [];
  }
  required(k: string): string {
    const s = this.str(k);
    if (s === undefined) throw new UsageError(`--${k} is required (see tee-offload ${this.command} --help)`);
    return s;
  }
  refuse(keys: readonly string[], why: string): void {
    for (const k of keys)
      if (this.v[k] !== undefined && this.v[k] !== false) throw new UsageError(`--${k} ${why}`);
  }
}

function accelerators(f: ModeFlags): string[] {
  const list = f.list('accelerator');
  for (const a of list) {
    try {
      parseAddress(a);
    } catch (e) {
      throw new UsageError(`--accelerator: ${(e as Error).message}`);
    }
  }
  return list;
}

/**
 * --accelerator-ca FILE / --accelerator-tls: TLS to every --accelerator of the job (undefined: plain
 * TCP). The CA file's certificates are parsed here and sent re-encoded (PEM blocks only).
 */
function acceleratorTlsOf(f: ModeFlags): AcceleratorTls | undefined {
  const caFile = f.str('accelerator-ca');
  const system = f.bool('accelerator-tls');
  if (caFile === undefined && !system) return undefined;
  if (caFile !== undefined && system)
    throw new UsageError('give --accelerator-ca FILE or --accelerator-tls (the system CAs), not both');
  const flag = caFile !== undefined ? 'accelerator-ca' : 'accelerator-tls';
  if (f.list('accelerator').length === 0)
    throw new UsageError(
      `--${flag} needs --accelerator HOST:PORT (it applies to the accelerators named here)`,
    );
  if (caFile === undefined) return {};
  let text: string;
  try {
    if (statSync(caFile).size > 16 * MAX_TLS_CA_CHARS)
      throw new UsageError(`--accelerator-ca ${caFile} is too large for a certificate file`);
    text = readFileSync(caFile, 'latin1');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new TeeError('E_IO', `cannot read --accelerator-ca ${caFile}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0)
    throw new TeeError('E_FORMAT', `--accelerator-ca ${caFile} holds no PEM certificate (BEGIN CERTIFICATE)`);
  const ca = blocks
    .map((b, i) => {
      try {
        return new X509Certificate(b).toString();
      } catch (e) {
        throw new TeeError(
          'E_FORMAT',
          `--accelerator-ca ${caFile}: certificate ${i + 1} is not valid: ${(e as Error).message}`,
          { cause: e },
        );
      }
    })
    .join('');
  if (ca.length > MAX_TLS_CA_CHARS) {
    throw new UsageError(
      `--accelerator-ca ${caFile}: its certificates take ${ca.length} characters, over the ${MAX_TLS_CA_CHARS} a job carries; give only the accelerators' own`,
    );
  }
  return { ca };
}

/** --accelerator-timeout S, in ms (undefined: the default). */
function acceleratorTimeoutOf(f: ModeFlags): number | undefined {
  const v = f.str('accelerator-timeout');
  if (v === undefined) return undefined;
  const sec = Number(v);
  const ms = Math.round(sec * 1000);
  if (!(Number.isFinite(sec) && ms >= 1 && ms <= MAX_ACCELERATOR_TIMEOUT_MS))
    throw new UsageError(`--accelerator-timeout must be a number of seconds in (0, 86400], got '${v}'`);
  return ms;
}

/** What the client of each accelerator gets from acceleratorTlsOf. */
function tlsClientOptions(tls: AcceleratorTls | undefined): AcceleratorClientOptions {
  if (tls === undefined) return {};
  return { tls: tls.ca === undefined ? true : { ca: tls.ca } };
}

function attestationOptions(f: ModeFlags): ClientAttestationOptions {
  const o: ClientAttestationOptions = {
    allowSimulated: f.bool('allow-simulated'),
    ...(f.str('collateral') === undefined ? {} : { collateral: f.str('collateral')! }),
    ...(f.str('mrenclave') === undefined ? {} : { mrEnclave: f.str('mrenclave')! }),
    ...(f.str('mrsigner') === undefined ? {} : { mrSigner: f.str('mrsigner')! }),
    ...(f.str('isvprodid') === undefined
      ? {}
      : { isvProdId: intFlag(f.str('isvprodid'), 'isvprodid', 0, 0) }),
    ...(f.str('min-isvsvn') === undefined
      ? {}
      : { minIsvSvn: intFlag(f.str('min-isvsvn'), 'min-isvsvn', 0, 0) }),
    ...(f.str('allow-status') === undefined ? {} : { allowedStatuses: f.str('allow-status')!.split(',') }),
    ...(f.bool('allow-debug') ? { allowDebug: true } : {}),
  };
  try {
    // The same checks the handshake's verifier applies, made now so that a typo is a usage error.
    makeAttestPolicy({
      ...(o.mrEnclave ? { mrEnclave: o.mrEnclave } : {}),
      ...(o.mrSigner ? { mrSigner: o.mrSigner } : {}),
      ...(o.isvProdId === undefined ? {} : { isvProdId: o.isvProdId }),
      ...(o.minIsvSvn === undefined ? {} : { minIsvSvn: o.minIsvSvn }),
      ...(o.allowedStatuses ? { allowedStatuses: o.allowedStatuses } : {}),
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return o;
}

function trainSettingsOf(f: ModeFlags): JobTrainSettings {
  const model = f.required('model');
  f.required('data');
  if (f.str('epochs') !== undefined && f.str('steps') !== undefined)
    throw new UsageError('give --epochs or --steps, not both');
  const schedule = (f.str('schedule') ?? 'constant') as ScheduleKind;
  if (!SCHEDULE_KINDS.includes(schedule))
    throw new UsageError(`--schedule must be one of ${SCHEDULE_KINDS.join(', ')}`);
  const numClasses = intFlag(f.str('num-classes'), 'num-classes', 10);
  const inputSize =
    f.str('input-size') === undefined ? undefined : intFlag(f.str('input-size'), 'input-size', 1);
  if (inputSize !== undefined) checkModelArgs(model, numClasses, inputSize);
  else if (!isModelName(model))
    throw new UsageError(`unknown model '${model}' (known: ${modelNames.join(', ')})`);
  const steps = f.str('steps') === undefined ? undefined : intFlag(f.str('steps'), 'steps', 1);
  const epochs = steps !== undefined ? undefined : intFlag(f.str('epochs'), 'epochs', 1);
  return {
    model,
    numClasses,
    ...(inputSize === undefined ? {} : { inputSize }),
    ...(f.str('batch-size') === undefined
      ? {}
      : { batchSize: intFlag(f.str('batch-size'), 'batch-size', 32) }),
    ...(epochs === undefined ? {} : { epochs }),
    ...(steps === undefined ? {} : { steps }),
    lr: floatFlag(f.str('lr'), 'lr', 0.01),
    momentum: floatFlag(f.str('momentum'), 'momentum', 0.9),
    weightDecay: floatFlag(f.str('weight-decay'), 'weight-decay', 5e-4),
    nesterov: f.bool('nesterov'),
    schedule,
    seed: intFlag(f.str('seed'), 'seed', 1, 0),
    augment: !f.bool('no-augment'),
  };
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function printPrediction(row: PredictionRow, json: boolean): void {
  if (json) console.log(JSON.stringify({ index: row.index, label: row.label, top: row.top }));
  else
    console.log(
      `${row.index}\tlabel ${row.label}\t${row.top.map((t) => `${t.class}:${t.p.toFixed(4)}`).join(' ')}`,
    );
}

function printEval(
  r: { loss: number; accuracy: number; samples: number; seconds: number },
  what: string,
  json: boolean,
): void {
  if (json) console.log(JSON.stringify(r));
  else {
    console.log(
      `accuracy ${(100 * r.accuracy).toFixed(2)}%  loss ${r.loss.toFixed(4)}  on ${r.samples} images (${what})  ${(r.samples / r.seconds).toFixed(1)} img/s`,
    );
  }
}

/** Where a direct trusted process started for blinded inference keeps its sealed pad ledger (created 0700). */
function padLedgerDir(flag: string | undefined): string {
  const dir = resolve(flag ?? defaultPadLedgerDir());
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new TeeError('E_IO', `--pad-ledger ${dir}: ${(e as Error).message}`, { cause: e });
  }
  return dir;
}

function defaultPadLedgerDir(): string {
  const state = process.env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(state, 'tee-offload', 'pad-ledger');
}

/** --checkpoint/--resume in enclave/split mode: a sealed checkpoint's name, and its directory if we start the enclave. */
function sealedName(value: string, flag: string, starting: boolean): { name: string; dir?: string } {
  if (!starting) {
    if (!isToken(value)) {
      throw new UsageError(
        `--${flag} names a sealed checkpoint in the trusted process's --checkpoint-dir (a plain name such as run1.ckpt), not a path on this machine`,
      );
    }
    return { name: value };
  }
  const path = resolve(value);
  const name = path.slice(dirname(path).length + 1);
  if (!isToken(name))
    throw new UsageError(`--${flag} ${value}: the file name must be a plain name (letters, digits, . _ -)`);
  return { name, dir: dirname(path) };
}

async function runEnclaveMode(command: ModeCommand, mode: JobMode, f: ModeFlags): Promise<number> {
  const starting = f.str('enclave') === undefined;
  if (!starting) {
    try {
      parseAddress(f.str('enclave')!);
    } catch (e) {
      throw new UsageError(`--enclave: ${(e as Error).message}`);
    }
    f.refuse(
      ['launcher', 'manifest-dir'],
      'is for starting a trusted process; --enclave names one that runs already',
    );
  }
  const launcher = (f.str('launcher') ?? 'direct') as LauncherKind;
  if (!LAUNCHERS.includes(launcher))
    throw new UsageError(`--launcher must be one of ${LAUNCHERS.join(', ')}`);
  const accels = accelerators(f);
  let integrity: Integrity | undefined;
  let field: ExactFieldName | undefined;
  if (mode === 'enclave') {
    f.refuse(
      [
        'accelerator',
        'accelerator-ca',
        'accelerator-tls',
        'accelerator-timeout',
        'integrity',
        'field',
        'offload-min-intensity',
      ],
      'is for --mode split (in --mode enclave every product stays inside)',
    );
  } else {
    integrity = (f.str('integrity') ?? 'exact') as Integrity;
    if (!INTEGRITY_MODES.includes(integrity))
      throw new UsageError(`--integrity must be one of ${INTEGRITY_MODES.join(', ')}`);
    if (starting && accels.length === 0) throw new UsageError('--mode split needs --accelerator HOST:PORT');
    const fieldFlag = f.str('field');
    if (fieldFlag !== undefined) {
      if (!(EXACT_FIELDS as readonly string[]).includes(fieldFlag))
        throw new UsageError(`--field must be one of ${EXACT_FIELDS.join(', ')}`);
      if (integrity !== 'exact') throw new UsageError('--field is for --integrity exact');
      field = fieldFlag as ExactFieldName;
    }
  }
  const acceleratorTls = mode === 'split' ? acceleratorTlsOf(f) : undefined;
  const timeoutMs = mode === 'split' ? acceleratorTimeoutOf(f) : undefined;
  const attestation = attestationOptions(f);
  const data = planData(f.required('data'), f.str('data-key'));
  const uploads: UploadSpec[] = [...data.uploads];
  const weightsFile = f.str('weights');
  if (weightsFile === undefined && f.str('weights-key') !== undefined)
    throw new UsageError('--weights-key needs --weights');
  const weights = weightsFile === undefined ? undefined : planWeights(weightsFile, f.str('weights-key'));
  if (weights) uploads.push(weights);
  let pads: UploadSpec | undefined;
  if (f.str('privacy') === 'blind') {
    if ((integrity ?? 'exact') !== 'exact')
      throw new UsageError('--privacy blind needs --integrity exact (pads blind the quantized products)');
    if (field === 'wide')
      throw new UsageError('--privacy blind needs --field p24 (its default): pads live mod 2^24 − 3');
    const padsFile = f.required('pads');
    const keyFile = f.str('pads-key');
    if (keyFile === undefined) throw new UsageError('--pads needs --pads-key K (the key it was made with)');
    pads = {
      ...planWeights(padsFile, keyFile),
      name: `pads-${uploadToken(basename(padsFile), true)}`.slice(0, 128),
    };
    uploads.push(pads);
    if (!starting || launcher !== 'direct') {
      f.refuse(
        ['pad-ledger'],
        starting
          ? `is for a direct trusted process (a ${launcher} one keeps its ledger in the sealed directory of its manifest)`
          : 'is for a trusted process started here (--enclave: the running one keeps its ledger in its --checkpoint-dir)',
      );
    }
  } else {
    f.refuse(['pads', 'pads-key', 'pad-ledger'], 'is for --privacy blind');
  }
  const threads = f.str('threads') === undefined ? undefined : intFlag(f.str('threads'), 'threads', 1);
  const offloadMinIntensity =
    f.str('offload-min-intensity') === undefined
      ? undefined
      : floatFlag(f.str('offload-min-intensity'), 'offload-min-intensity', 0);
  if (
    offloadMinIntensity !== undefined &&
    !(offloadMinIntensity >= 0 && Number.isFinite(offloadMinIntensity))
  )
    throw new UsageError('--offload-min-intensity must be a finite number >= 0');
  const common = {
    mode,
    data: data.ref,
    ...(weights ? { weights: weights.name } : {}),
    ...(f.str('strip-prefix') === undefined ? {} : { stripPrefix: f.str('strip-prefix')! }),
    ...(mode === 'split' && accels.length > 0 ? { accelerators: accels } : {}),
    ...(acceleratorTls === undefined ? {} : { acceleratorTls }),
    ...(timeoutMs === undefined ? {} : { acceleratorTimeoutMs: timeoutMs }),
    ...(integrity === undefined ? {} : { integrity }),
    ...(field === undefined ? {} : { field }),
    ...(threads === undefined ? {} : { threads }),
    ...(offloadMinIntensity === undefined ? {} : { offloadMinIntensity }),
  };
  const enclaveArgs: string[] = [];
  if (pads !== undefined && starting && launcher === 'direct') {
    // A trusted process started for this job ends with it: its ledger of used pad files must outlive it.
    enclaveArgs.push('--checkpoint-dir', padLedgerDir(f.str('pad-ledger')));
  }
  const json = f.bool('json');
  let job: RemoteJob;
  if (command === 'train') {
    const settings = trainSettingsOf(f);
    // Paths only when this command starts a direct trusted process: a Gramine one has its sealed
    // directory fixed by the signed manifest, a running one its own --checkpoint-dir.
    const local = starting && launcher === 'direct';
    const ck =
      f.str('checkpoint') === undefined ? undefined : sealedName(f.str('checkpoint')!, 'checkpoint', local);
    const rs = f.str('resume') === undefined ? undefined : sealedName(f.str('resume')!, 'resume', local);
    if (ck?.dir !== undefined && rs?.dir !== undefined && ck.dir !== rs.dir) {
      throw new UsageError(
        '--checkpoint and --resume must be in the same directory (the trusted process’s --checkpoint-dir)',
      );
    }
    const dir = ck?.dir ?? rs?.dir;
    if (dir !== undefined) enclaveArgs.push('--checkpoint-dir', dir);
    const dropout = f.str('dropout') === undefined ? undefined : floatFlag(f.str('dropout'), 'dropout', 0.5);
    if (dropout !== undefined && !(dropout >= 0 && dropout < 1))
      throw new UsageError('--dropout must be in [0, 1)');
    job = {
      type: 'train',
      job: {
        ...common,
        settings,
        ...(dropout === undefined ? {} : { dropout }),
        ...(ck ? { checkpoint: ck.name } : {}),
        ...(f.str('checkpoint-every') === undefined
          ? {}
          : { checkpointEvery: intFlag(f.str('checkpoint-every'), 'checkpoint-every', 100) }),
        ...(rs ? { resume: rs.name } : {}),
      },
    };
  } else {
    if (weights === undefined)
      throw new UsageError(`--weights is required (see tee-offload ${command} --help)`);
    const model = f.required('model');
    const numClasses = intFlag(f.str('num-classes'), 'num-classes', 10);
    if (!isModelName(model))
      throw new UsageError(`unknown model '${model}' (known: ${modelNames.join(', ')})`);
    const inputSize =
      f.str('input-size') === undefined ? undefined : intFlag(f.str('input-size'), 'input-size', 1);
    if (inputSize !== undefined) checkModelArgs(model, numClasses, inputSize);
    const base = {
      ...common,
      weights: weights.name,
      model,
      numClasses,
      ...(inputSize === undefined ? {} : { inputSize }),
      batchSize: intFlag(f.str('batch-size'), 'batch-size', 64),
    };
    if (command === 'eval') {
      const split = f.str('split') ?? 'test';
      if (split !== 'test' && split !== 'train') throw new UsageError('--split must be test or train');
      job = { type: 'eval', job: { ...base, split } };
    } else {
      const topk = intFlag(f.str('topk'), 'topk', Math.min(5, numClasses));
      if (topk > numClasses) throw new UsageError(`--topk ${topk} is more than the ${numClasses} classes`);
      const limit = f.str('limit') === undefined ? undefined : intFlag(f.str('limit'), 'limit', 1);
      job = {
        type: 'infer',
        job: {
          ...base,
          topk,
          ...(limit === undefined ? {} : { limit }),
          ...(pads === undefined ? {} : { pads: pads.name }),
        },
      };
    }
  }
  const reporter = command === 'train' ? chooseReporter({ json }) : undefined;
  try {
    const out = await runRemote({
      ...(starting ? {} : { enclave: f.str('enclave')! }),
      launcher,
      ...(f.str('manifest-dir') === undefined ? {} : { manifestDir: f.str('manifest-dir')! }),
      ...(enclaveArgs.length > 0 ? { enclaveArgs } : {}),
      attestation,
      uploads,
      job,
      ...(reporter ? { reporter } : {}),
      onNote: log,
      onPrediction: (row) => printPrediction(row, json),
      ...(command === 'train' && f.str('save') !== undefined ? { save: f.str('save')! } : {}),
    });
    reporter?.close();
    const r = out.result;
    if (r.kind === 'train' && !json && f.str('save') !== undefined) log(`saved ${f.str('save')}`);
    if (r.kind === 'eval')
      printEval(r.summary, `${f.str('data')}, ${f.str('split') ?? 'test'}, ${mode}`, json);
    if (r.remote && !json) {
      log(acceleratorsLine(r.remote));
    }
    return 0;
  } finally {
    reporter?.close();
  }
}

/** The summary line of a job's accelerator traffic (split, accelerator modes). */
function acceleratorsLine(t: {
  calls: number;
  retries: number;
  failures: number;
  bytesSent: number;
}): string {
  const failed =
    t.failures === 0 ? '' : ` (after ${t.failures} failed attempts: refused replies or transport errors)`;
  return `accelerators: ${t.calls} products, ${t.retries} retries${failed}, ${(t.bytesSent / 2 ** 20).toFixed(1)} MiB sent`;
}

/**
 * The unprotected baseline: RemoteLinearOps with integrity 'off' over the accelerators, in this process;
 * the accelerators line after the body unless `quiet` (--json).
 */
async function withAccelerators<T>(
  f: ModeFlags,
  tls: AcceleratorTls | undefined,
  model: Module,
  body: () => Promise<T>,
  quiet = f.bool('json'),
): Promise<T> {
  const accels = accelerators(f);
  if (accels.length === 0) throw new UsageError('--mode accelerator needs --accelerator HOST:PORT');
  const timeoutMs = acceleratorTimeoutOf(f);
  const pool = await AcceleratorPool.connect(accels, {
    ...tlsClientOptions(tls),
    ...(timeoutMs === undefined ? {} : { deadlineMs: timeoutMs }),
    warn: log,
  });
  try {
    const remote = new RemoteLinearOps(pool, { integrity: 'off', warn: log });
    useRemoteLinearOps(model, remote);
    const out = await body();
    if (!quiet) log(acceleratorsLine(remote.stats().total));
    return out;
  } finally {
    await pool.close();
  }
}

async function runAcceleratorMode(command: ModeCommand, f: ModeFlags): Promise<number> {
  f.refuse(
    [
      'enclave',
      'launcher',
      'manifest-dir',
      'allow-simulated',
      'collateral',
      'mrenclave',
      'mrsigner',
      'isvprodid',
      'min-isvsvn',
      'allow-status',
      'allow-debug',
      'data-key',
      'weights-key',
      'pads',
      'pads-key',
      'pad-ledger',
      'offload-min-intensity',
      'field',
    ],
    'is not used by --mode accelerator (no enclave, no protection)',
  );
  if (f.str('integrity') !== undefined && f.str('integrity') !== 'off') {
    throw new UsageError(
      '--mode accelerator is the unprotected baseline: its products are never checked (integrity off); use --mode split for checked products',
    );
  }
  const tls = acceleratorTlsOf(f);
  if (f.str('threads') !== undefined) kernels.setThreads(intFlag(f.str('threads'), 'threads', 1));
  const json = f.bool('json');
  const data = f.required('data');
  const numClasses = intFlag(f.str('num-classes'), 'num-classes', 10);
  if (command === 'train') {
    const s = trainSettingsOf(f);
    const train = openDataset(data, { split: 'train', channels: 3, numClasses });
    const test =
      train.kind === 'cifar10' || train.kind === 'fashion-mnist'
        ? openDataset(data, { split: 'test', channels: 3, numClasses })
        : undefined;
    const inputSize = s.inputSize ?? train.height;
    let batchSize = s.batchSize ?? 32;
    if (train.asGiven && batchSize !== train.length) {
      if (s.batchSize !== undefined) log(`note: ${data} is used as given: batch size ${train.length}`);
      batchSize = train.length;
    }
    const settings: TrainSettings = { ...s, inputSize, batchSize };
    const net = buildModel({
      model: s.model,
      numClasses,
      inputSize,
      seed: s.seed,
      ...(f.str('dropout') === undefined ? {} : { dropout: floatFlag(f.str('dropout'), 'dropout', 0.5) }),
      ...(f.str('weights') === undefined ? {} : { weights: f.str('weights')! }),
      ...(f.str('strip-prefix') === undefined ? {} : { stripPrefix: f.str('strip-prefix')! }),
    });
    const reporter = chooseReporter({ json });
    try {
      await withAccelerators(f, tls, net, () =>
        runTraining({
          settings,
          model: net,
          train,
          ...(test ? { test } : {}),
          ...(f.str('resume') === undefined ? {} : { resume: f.str('resume')! }),
          ...(f.str('checkpoint') === undefined ? {} : { checkpoint: f.str('checkpoint')! }),
          checkpointEvery: intFlag(f.str('checkpoint-every'), 'checkpoint-every', 100),
          ...(f.str('save') === undefined ? {} : { save: f.str('save')! }),
          reporter,
        }),
      );
    } finally {
      reporter.close();
    }
    if (!json && f.str('save') !== undefined) log(`saved ${f.str('save')}`);
    return 0;
  }
  const weights = f.required('weights');
  const model = f.required('model');
  const split = command === 'eval' ? (f.str('split') ?? 'test') : 'test';
  if (split !== 'test' && split !== 'train') throw new UsageError('--split must be test or train');
  const ds = openDataset(data, { split, channels: 3, numClasses });
  const inputSize = intFlag(f.str('input-size'), 'input-size', ds.height);
  const net = buildModel({
    model,
    numClasses,
    inputSize,
    seed: 0,
    weights,
    ...(f.str('strip-prefix') === undefined ? {} : { stripPrefix: f.str('strip-prefix')! }),
  });
  const batchSize = intFlag(f.str('batch-size'), 'batch-size', 64);
  if (command === 'eval') {
    const t0 = performance.now();
    const r = await withAccelerators(f, tls, net, () => evaluateDataset(net, ds, inputSize, batchSize));
    printEval({ ...r, seconds: (performance.now() - t0) / 1000 }, `${data}, ${split}, accelerator`, json);
    return 0;
  }
  const k = intFlag(f.str('topk'), 'topk', Math.min(5, numClasses));
  if (k > numClasses) throw new UsageError(`--topk ${k} is more than the ${numClasses} classes`);
  const limit = intFlag(f.str('limit'), 'limit', ds.length);
  await withAccelerators(f, tls, net, async () => {
    const loader = new DataLoader(ds, {
      batchSize,
      shuffle: false,
      transform: defaultTransforms(ds, { augment: false, imageSize: inputSize }),
    });
    let done = 0;
    for (const b of loader.epochBatches()) {
      const logits = await predict(net, b.input);
      for (let i = 0; i < b.labels.length && done < limit; i++, done++) {
        const row = logits.data.subarray(i * numClasses, (i + 1) * numClasses);
        const p = softmax(row);
        printPrediction(
          {
            index: b.indices[i]!,
            label: b.labels[i]!,
            top: topK(row, k).map((c) => ({ class: c, p: p[c]! })),
          },
          json,
        );
      }
      if (done >= limit) break;
    }
  });
  return 0;
}
