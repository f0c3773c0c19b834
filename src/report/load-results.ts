// Reads a results directory: every `*.json` in it (not recursive) is an experiment file
// (`<experiment>-<timestamp>.json`), a `bench kernels` file (`bench-kernels-t<T>-*.json`), or gets a
// warning naming it. Of several runs of one experiment (or of one bench thread count) the newest by
// startedAt is used and the others are listed. Only a directory with nothing usable is an error.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentFile, ExperimentName } from '../bench/experiments/schema.js';
import type { BenchReport } from '../bench/results.js';
import { TeeError } from '../errors.js';
import { checkBenchReport, checkExperimentFile, EXPERIMENT_NAMES } from './validate-results.js';

/** Larger files are not read (no result file comes near it). */
export const MAX_RESULT_BYTES = 64 * 2 ** 20;

export interface LoadedExperiment<E extends ExperimentName = ExperimentName> {
  /** File name within the results directory. */
  readonly name: string;
  readonly data: ExperimentFile<E>;
  /** Older runs of the same experiment, not used. */
  readonly older: readonly string[];
}

export interface LoadedBench {
  readonly name: string;
  readonly data: BenchReport;
  readonly older: readonly string[];
}

export interface LoadedResults {
  readonly experiments: { readonly [E in ExperimentName]?: LoadedExperiment<E> };
  /** Newest `bench kernels` file per thread count, fewest threads first. */
  readonly benches: readonly LoadedBench[];
  readonly warnings: readonly string[];
}

interface Candidate<T> {
  readonly name: string;
  readonly startedAt: number;
  readonly data: T;
}

function newestFirst<T>(a: Candidate<T>, b: Candidate<T>): number {
  return b.startedAt - a.startedAt || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);
}

function readJson(dir: string, name: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  const path = join(dir, name);
  try {
    const st = statSync(path);
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    if (st.size > MAX_RESULT_BYTES) return { ok: false, reason: `larger than ${MAX_RESULT_BYTES} bytes` };
    return { ok: true, value: JSON.parse(readFileSync(path, 'utf8')) };
  } catch (e) {
    const reason = e instanceof SyntaxError ? `not valid JSON (${e.message})` : (e as Error).message;
    return { ok: false, reason };
  }
}

export function loadResults(dir: string): LoadedResults {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new TeeError('E_IO', `${dir} is not a directory`);
    names = readdirSync(dir)
      .filter((n) => n.toLowerCase().endsWith('.json'))
      .sort();
  } catch (e) {
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_IO', `cannot read the results directory ${dir}: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const warnings: string[] = [];
  const byExperiment = new Map<ExperimentName, Candidate<ExperimentFile>[]>();
  const byThreads = new Map<number, Candidate<BenchReport>[]>();
  for (const name of names) {
    const json = readJson(dir, name);
    if (!json.ok) {
      warnings.push(`${name}: ignored: ${json.reason}`);
      continue;
    }
    const raw = json.value as { kind?: unknown };
    if (name.startsWith('bench-kernels-') || raw?.kind === 'tee-offload/bench-kernels') {
      const r = checkBenchReport(raw);
      if (!r.ok) {
        warnings.push(`${name}: ignored: not a usable bench-kernels file (${r.reason})`);
        continue;
      }
      for (const d of r.value.dropped) warnings.push(`${name}: ${d} (dropped)`);
      const t = r.value.file.settings.threads;
      const list = byThreads.get(t) ?? [];
      list.push({ name, startedAt: Date.parse(r.value.file.startedAt), data: r.value.file });
      byThreads.set(t, list);
      continue;
    }
    const r = checkExperimentFile(raw);
    if (!r.ok) {
      warnings.push(`${name}: ignored: not a usable experiment file (${r.reason})`);
      continue;
    }
    const file = r.value.file;
    for (const d of r.value.dropped) warnings.push(`${name}: ${d} (dropped)`);
    if (!name.startsWith(`${file.experiment}-`))
      warnings.push(`${name}: holds experiment '${file.experiment}' (the name suggests otherwise)`);
    const list = byExperiment.get(file.experiment) ?? [];
    list.push({ name, startedAt: Date.parse(file.startedAt), data: file });
    byExperiment.set(file.experiment, list);
  }

  const experiments: Partial<Record<ExperimentName, LoadedExperiment>> = {};
  for (const e of EXPERIMENT_NAMES) {
    const list = byExperiment.get(e)?.sort(newestFirst);
    if (!list?.length) continue;
    const [newest, ...rest] = list;
    experiments[e] = { name: newest!.name, data: newest!.data, older: rest.map((c) => c.name) };
  }
  const benches = [...byThreads.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, list]) => {
      const [newest, ...rest] = list.sort(newestFirst);
      return { name: newest!.name, data: newest!.data, older: rest.map((c) => c.name) };
    });
  if (Object.keys(experiments).length === 0 && benches.length === 0) {
    const why =
      names.length === 0 ? 'it has no .json files' : `none of its ${names.length} .json files is usable`;
    throw new TeeError(
      'E_FORMAT',
      `no experiment results in ${dir}: ${why}${warnings.length ? ` (${warnings.join('; ')})` : ''}`,
    );
  }
  return { experiments: experiments as LoadedResults['experiments'], benches, warnings };
}
