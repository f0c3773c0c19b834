// Checks a parsed JSON value against the experiment schema (schema.ts), field by field: what the report
// may rely on. experimentFileProblems lists every problem (empty: valid); validateExperimentFile throws
// E_FORMAT naming the first few. A record with `error` may omit its numbers; one without must have them.
import { TeeError } from '../../errors.js';
import {
  type BreakdownKind,
  EXPERIMENT_SCHEMA,
  type ExperimentFile,
  type ExperimentName,
  type RunMode,
} from './schema.js';

export const EXPERIMENT_NAMES: readonly ExperimentName[] = [
  'modes',
  'breakdown',
  'matrix',
  'crypto',
  'equivalence',
  'peer',
];
export const RUN_MODES: readonly RunMode[] = [
  'native',
  'enclave',
  'split-exact',
  'split-exact-p24',
  'split-float',
  'accelerator',
];
/** What `bench modes` runs unless told: the prototype's four ways and split-float (not the p24 field). */
export const DEFAULT_TIMED_MODES: readonly RunMode[] = RUN_MODES.filter((m) => m !== 'split-exact-p24');
export const BREAKDOWN_KINDS: readonly BreakdownKind[] = [
  'conv',
  'linear',
  'batchnorm',
  'relu',
  'pooling',
  'quantize',
  'send',
  'accelerator',
  'receive',
  'verify',
  'unblind',
  'loss',
  'optimizer',
  'other',
];
const MATRIX_PHASES = ['load', 'send', 'compute', 'receive', 'verify', 'unblind'];

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  readonly problems: string[] = [];
  constructor(private readonly at: string) {}

  add(msg: string): void {
    this.problems.push(`${this.at}: ${msg}`);
  }

  str(o: Obj, k: string, required = true): void {
    if (o[k] === undefined) {
      if (required) this.add(`'${k}' is missing`);
    } else if (typeof o[k] !== 'string') this.add(`'${k}' must be a string`);
  }

  num(o: Obj, k: string, required: boolean, opts: { int?: boolean; min?: number } = {}): void {
    const v = o[k];
    if (v === undefined) {
      if (required) this.add(`'${k}' is missing`);
      return;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) this.add(`'${k}' must be a finite number`);
    else if (opts.int && !Number.isInteger(v)) this.add(`'${k}' must be an integer`);
    else if (opts.min !== undefined && v < opts.min) this.add(`'${k}' must be ≥ ${opts.min}`);
  }

  bool(o: Obj, k: string, required: boolean): void {
    if (o[k] === undefined) {
      if (required) this.add(`'${k}' is missing`);
    } else if (typeof o[k] !== 'boolean') this.add(`'${k}' must be a boolean`);
  }

  oneOf(o: Obj, k: string, allowed: readonly string[]): void {
    if (!allowed.includes(o[k] as string)) this.add(`'${k}' must be one of ${allowed.join(', ')}`);
  }

  numbers(o: Obj, k: string, required: boolean): void {
    const v = o[k];
    if (v === undefined) {
      if (required) this.add(`'${k}' is missing`);
    } else if (!Array.isArray(v) || v.some((x) => typeof x !== 'number' || !Number.isFinite(x)))
      this.add(`'${k}' must be an array of finite numbers`);
  }

  phases(o: Obj, k: string, allowed: readonly string[]): void {
    const v = o[k];
    if (v === undefined) return;
    if (!isObj(v)) {
      this.add(`'${k}' must be an object`);
      return;
    }
    for (const [p, x] of Object.entries(v)) {
      if (!allowed.includes(p)) this.add(`'${k}' has an unknown phase '${p}'`);
      else if (typeof x !== 'number' || !Number.isFinite(x)) this.add(`'${k}.${p}' must be a finite number`);
    }
  }
}

function checkRecord(experiment: ExperimentName, r: Obj, c: Checker): void {
  c.str(r, 'error', false);
  const ok = r.error === undefined; // numbers required only when the measurement did not fail
  switch (experiment) {
    case 'modes':
      c.str(r, 'model');
      c.num(r, 'size', true, { int: true, min: 1 });
      c.num(r, 'batch', true, { int: true, min: 1 });
      c.oneOf(r, 'workload', ['step', 'epoch64', 'train']);
      c.oneOf(r, 'mode', RUN_MODES);
      c.num(r, 'images', true, { int: true, min: 1 });
      c.numbers(r, 'samplesMs', ok);
      c.num(r, 'medianMs', ok, { min: 0 });
      c.num(r, 'imagesPerSec', ok, { min: 0 });
      break;
    case 'breakdown': {
      c.str(r, 'model');
      c.num(r, 'size', true, { int: true, min: 1 });
      c.num(r, 'batch', true, { int: true, min: 1 });
      c.oneOf(r, 'mode', RUN_MODES);
      c.num(r, 'totalMs', ok, { min: 0 });
      for (const k of ['bytesSent', 'bytesReceived', 'checks', 'checksPassed'])
        c.num(r, k, false, { min: 0 });
      const byKind = r.byKind;
      if (byKind === undefined) {
        if (ok) c.add("'byKind' is missing");
      } else if (!Array.isArray(byKind)) c.add("'byKind' must be an array");
      else {
        for (const e of byKind) {
          if (!isObj(e)) c.add("'byKind' entries must be objects");
          else {
            c.oneOf(e, 'kind', BREAKDOWN_KINDS);
            c.num(e, 'ms', true, { min: 0 });
          }
        }
      }
      const byLayer = r.byLayer;
      if (byLayer === undefined) {
        if (ok) c.add("'byLayer' is missing");
      } else if (!Array.isArray(byLayer)) c.add("'byLayer' must be an array");
      else {
        for (const e of byLayer) {
          if (!isObj(e)) c.add("'byLayer' entries must be objects");
          else {
            c.str(e, 'layer');
            c.str(e, 'type');
            c.num(e, 'ms', true, { min: 0 });
            c.phases(e, 'phases', BREAKDOWN_KINDS);
          }
        }
      }
      break;
    }
    case 'matrix':
      c.num(r, 'rows', true, { int: true, min: 1 });
      c.num(r, 'inner', true, { int: true, min: 1 });
      c.num(r, 'cols', true, { int: true, min: 1 });
      c.oneOf(r, 'mode', ['trusted', ...RUN_MODES]);
      c.phases(r, 'phases', MATRIX_PHASES);
      c.num(r, 'totalMs', ok, { min: 0 });
      break;
    case 'crypto':
      c.oneOf(r, 'where', ['client', 'trusted']);
      c.oneOf(r, 'op', ['encrypt', 'decrypt']);
      c.num(r, 'bytes', true, { int: true, min: 0 });
      c.num(r, 'medianMs', ok, { min: 0 });
      c.num(r, 'gbPerSec', ok, { min: 0 });
      break;
    case 'equivalence':
      c.str(r, 'model');
      c.oneOf(r, 'mode', RUN_MODES);
      c.num(r, 'threads', true, { int: true, min: 1 });
      c.oneOf(r, 'phase', ['inference', 'train-step']);
      c.str(r, 'quantity');
      c.num(r, 'maxAbsDiff', ok, { min: 0 });
      c.num(r, 'maxAbsRef', false, { min: 0 });
      c.num(r, 'tolerance', true, { min: 0 });
      c.bool(r, 'bitIdenticalExpected', true);
      c.bool(r, 'pass', ok);
      if (r.bitIdenticalExpected === true && r.tolerance !== 0)
        c.add("'tolerance' must be 0 where bitIdenticalExpected is true");
      break;
    case 'peer': {
      c.str(r, 'model');
      c.num(r, 'size', true, { int: true, min: 1 });
      c.num(r, 'batch', true, { int: true, min: 1 });
      c.num(r, 'threads', true, { int: true, min: 1 });
      c.str(r, 'skipped', false);
      const measured = ok && r.skipped === undefined;
      c.num(r, 'oursMs', measured, { min: 0 });
      c.num(r, 'torchMs', measured, { min: 0 });
      c.num(r, 'ratio', measured, { min: 0 });
      break;
    }
  }
}

/** Every way `value` departs from ExperimentFile (empty when it is a valid file). */
export function experimentFileProblems(value: unknown): string[] {
  const top = new Checker('file');
  if (!isObj(value)) return ['file: must be a JSON object'];
  if (value.schema !== EXPERIMENT_SCHEMA) top.problems.push(`file: 'schema' must be '${EXPERIMENT_SCHEMA}'`);
  top.oneOf(value, 'experiment', EXPERIMENT_NAMES);
  for (const k of ['startedAt', 'finishedAt', 'command']) top.str(value, k);
  for (const k of ['startedAt', 'finishedAt']) {
    if (typeof value[k] === 'string' && Number.isNaN(Date.parse(value[k] as string)))
      top.problems.push(`file: '${k}' must be an ISO date`);
  }
  if (!isObj(value.machine)) top.problems.push("file: 'machine' must be an object");
  else {
    top.str(value.machine, 'cpu');
    top.num(value.machine, 'cores', true, { int: true, min: 1 });
  }
  if (!isObj(value.settings)) top.problems.push("file: 'settings' must be an object");
  if (!Array.isArray(value.records)) {
    top.problems.push("file: 'records' must be an array");
    return top.problems;
  }
  const problems = [...top.problems];
  if (!EXPERIMENT_NAMES.includes(value.experiment as ExperimentName)) return problems;
  value.records.forEach((r, i) => {
    const c = new Checker(`records[${i}]`);
    if (!isObj(r)) c.problems.push(`records[${i}]: must be an object`);
    else checkRecord(value.experiment as ExperimentName, r, c);
    problems.push(...c.problems);
  });
  return problems;
}

/** `value` as an ExperimentFile, or E_FORMAT naming (up to five of) its problems. */
export function validateExperimentFile(value: unknown, source = 'experiment file'): ExperimentFile {
  const problems = experimentFileProblems(value);
  if (problems.length > 0) {
    const more = problems.length > 5 ? ` (and ${problems.length - 5} more)` : '';
    throw new TeeError(
      'E_FORMAT',
      `${source} does not follow ${EXPERIMENT_SCHEMA}: ${problems.slice(0, 5).join('; ')}${more}`,
    );
  }
  return value as unknown as ExperimentFile;
}
