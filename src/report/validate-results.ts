// Minimal structural checks of the result JSON the report reads (src/bench/experiments/schema.ts and
// src/bench/results.ts): enough that the charts and tables never meet a field of the wrong type. A file
// that fails gets a reason naming what is wrong; a record that fails is dropped with its index. (The
// writer's strict validator, bench/experiments/validate.ts, refuses a whole file instead: it checks what we
// write; this one salvages what it can of what we read.)

import { EXPERIMENT_SCHEMA, type ExperimentFile, type ExperimentName } from '../bench/experiments/schema.js';
import { EXPERIMENT_NAMES } from '../bench/experiments/validate.js';
import type { BenchReport } from '../bench/results.js';

export { EXPERIMENT_NAMES };

type FieldType = 'string' | 'number' | 'boolean';

// Fields every record of an experiment must carry, error or not.
const REQUIRED: Record<ExperimentName, Record<string, FieldType>> = {
  modes: { model: 'string', size: 'number', batch: 'number', workload: 'string', mode: 'string' },
  breakdown: { model: 'string', size: 'number', batch: 'number', mode: 'string' },
  matrix: { rows: 'number', inner: 'number', cols: 'number', mode: 'string' },
  crypto: { where: 'string', op: 'string', bytes: 'number' },
  equivalence: {
    model: 'string',
    mode: 'string',
    threads: 'number',
    phase: 'string',
    quantity: 'string',
    tolerance: 'number',
    bitIdenticalExpected: 'boolean',
  },
  peer: { model: 'string', size: 'number', batch: 'number', threads: 'number' },
};

// Fields that may be absent (a failed record) but, when present, must have this type.
const OPTIONAL: Record<ExperimentName, Record<string, FieldType>> = {
  modes: { images: 'number', medianMs: 'number', imagesPerSec: 'number' },
  breakdown: {
    totalMs: 'number',
    bytesSent: 'number',
    bytesReceived: 'number',
    checks: 'number',
    checksPassed: 'number',
  },
  matrix: { totalMs: 'number' },
  crypto: { medianMs: 'number', gbPerSec: 'number' },
  equivalence: { maxAbsDiff: 'number', maxAbsRef: 'number', pass: 'boolean' },
  peer: { oursMs: 'number', torchMs: 'number', ratio: 'number', skipped: 'string' },
};

export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: string };

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function hasType(x: unknown, t: FieldType): boolean {
  return t === 'number' ? typeof x === 'number' && Number.isFinite(x) : typeof x === t;
}

function isNumberMap(x: unknown): boolean {
  return isObject(x) && Object.values(x).every((v) => hasType(v, 'number'));
}

/** Why one record of `experiment` is unusable, or null when it is fine. */
export function recordProblem(experiment: ExperimentName, r: unknown): string | null {
  if (!isObject(r)) return 'not an object';
  for (const [k, t] of Object.entries(REQUIRED[experiment]))
    if (!hasType(r[k], t)) return `'${k}' should be a ${t}`;
  for (const [k, t] of Object.entries(OPTIONAL[experiment]))
    if (r[k] !== undefined && !hasType(r[k], t)) return `'${k}' should be a ${t} when present`;
  if (r.error !== undefined && typeof r.error !== 'string') return "'error' should be a string";
  if (experiment === 'modes' && r.samplesMs !== undefined) {
    if (!Array.isArray(r.samplesMs) || !r.samplesMs.every((v) => hasType(v, 'number')))
      return "'samplesMs' should be an array of numbers";
  }
  if (experiment === 'breakdown') {
    if (
      r.byKind !== undefined &&
      !(
        Array.isArray(r.byKind) &&
        r.byKind.every((k) => isObject(k) && typeof k.kind === 'string' && hasType(k.ms, 'number'))
      )
    )
      return "'byKind' should be an array of { kind, ms }";
    if (
      r.byLayer !== undefined &&
      !(
        Array.isArray(r.byLayer) &&
        r.byLayer.every(
          (l) =>
            isObject(l) &&
            typeof l.layer === 'string' &&
            typeof l.type === 'string' &&
            hasType(l.ms, 'number') &&
            (l.phases === undefined || isNumberMap(l.phases)),
        )
      )
    )
      return "'byLayer' should be an array of { layer, type, ms, phases? }";
  }
  if (experiment === 'matrix' && r.phases !== undefined && !isNumberMap(r.phases))
    return "'phases' should map phase names to numbers";
  return null;
}

export interface CheckedExperiment {
  readonly file: ExperimentFile;
  /** One line per dropped record: 'record 3: 'model' should be a string'. */
  readonly dropped: readonly string[];
}

/** Checks an experiment file; records that fail are dropped (and named), the file fails only as a whole. */
export function checkExperimentFile(raw: unknown): Checked<CheckedExperiment> {
  if (!isObject(raw)) return { ok: false, reason: 'not a JSON object' };
  if (raw.schema !== EXPERIMENT_SCHEMA)
    return { ok: false, reason: `schema is ${JSON.stringify(raw.schema)}, expected '${EXPERIMENT_SCHEMA}'` };
  const experiment = raw.experiment;
  if (typeof experiment !== 'string' || !(EXPERIMENT_NAMES as readonly string[]).includes(experiment))
    return { ok: false, reason: `unknown experiment ${JSON.stringify(experiment)}` };
  const name = experiment as ExperimentName;
  for (const k of ['startedAt', 'finishedAt', 'command'])
    if (typeof raw[k] !== 'string') return { ok: false, reason: `'${k}' should be a string` };
  if (Number.isNaN(Date.parse(raw.startedAt as string)))
    return { ok: false, reason: `'startedAt' is not a date: ${JSON.stringify(raw.startedAt)}` };
  if (!isObject(raw.machine)) return { ok: false, reason: "'machine' should be an object" };
  if (raw.settings !== undefined && !isObject(raw.settings))
    return { ok: false, reason: "'settings' should be an object" };
  if (!Array.isArray(raw.records)) return { ok: false, reason: "'records' should be an array" };
  const records: unknown[] = [];
  const dropped: string[] = [];
  raw.records.forEach((r, i) => {
    const problem = recordProblem(name, r);
    if (problem === null) records.push(r);
    else dropped.push(`record ${i}: ${problem}`);
  });
  const file = { ...raw, settings: raw.settings ?? {}, records } as unknown as ExperimentFile;
  return { ok: true, value: { file, dropped } };
}

/** Checks a `bench kernels` file; workloads without an id and label are dropped. */
export function checkBenchReport(raw: unknown): Checked<{ file: BenchReport; dropped: readonly string[] }> {
  if (!isObject(raw)) return { ok: false, reason: 'not a JSON object' };
  if (raw.kind !== 'tee-offload/bench-kernels')
    return { ok: false, reason: `kind is ${JSON.stringify(raw.kind)}, expected 'tee-offload/bench-kernels'` };
  if (typeof raw.startedAt !== 'string' || Number.isNaN(Date.parse(raw.startedAt)))
    return { ok: false, reason: "'startedAt' should be a date string" };
  if (!isObject(raw.settings) || !hasType(raw.settings.threads, 'number'))
    return { ok: false, reason: "'settings.threads' should be a number" };
  if (!isObject(raw.machine)) return { ok: false, reason: "'machine' should be an object" };
  if (!Array.isArray(raw.workloads)) return { ok: false, reason: "'workloads' should be an array" };
  const workloads: unknown[] = [];
  const dropped: string[] = [];
  raw.workloads.forEach((w, i) => {
    if (!isObject(w) || typeof w.id !== 'string' || typeof w.label !== 'string')
      dropped.push(`workload ${i}: needs a string 'id' and 'label'`);
    else if (w.ratio !== null && w.ratio !== undefined && !hasType(w.ratio, 'number'))
      dropped.push(`workload ${i}: 'ratio' should be a number or null`);
    else workloads.push(w);
  });
  return { ok: true, value: { file: { ...raw, workloads } as unknown as BenchReport, dropped } };
}
