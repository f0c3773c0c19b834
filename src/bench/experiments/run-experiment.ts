// The programmatic face of the experiments: runExperiment(name, options) runs one and returns its
// ExperimentFile (schema.ts) — every failed measurement is a record with `error`, never a throw — and
// writeExperimentFile puts it in a folder as `<experiment>-<timestamp>.json`. The servers an experiment
// starts are stopped before it returns, whatever happened.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { TeeError } from '../../errors.js';
import { kernels } from '../../kernels/index.js';
import { machineInfo } from '../machine.js';
import { runBreakdown } from './breakdown.js';
import { runCryptoExperiment } from './crypto-experiment.js';
import { runEquivalence } from './equivalence.js';
import { runMatrix } from './matrix.js';
import { runModes } from './modes.js';
import type { ExperimentContext, ExperimentOptions } from './options.js';
import { runPeer } from './peer.js';
import { EXPERIMENT_SCHEMA, type ExperimentFile, type ExperimentName } from './schema.js';
import { ExperimentServers, splitCores } from './servers.js';
import { EXPERIMENT_NAMES, validateExperimentFile } from './validate.js';

type Runner = (ctx: ExperimentContext) => Promise<{ settings: object; records: readonly object[] }>;

const RUNNERS: Record<ExperimentName, Runner> = {
  modes: runModes,
  breakdown: runBreakdown,
  matrix: runMatrix,
  crypto: runCryptoExperiment,
  equivalence: runEquivalence,
  peer: runPeer,
};

export function isExperimentName(name: string): name is ExperimentName {
  return (EXPERIMENT_NAMES as readonly string[]).includes(name);
}

export async function runExperiment<E extends ExperimentName>(
  name: E,
  options: ExperimentOptions = {},
): Promise<ExperimentFile<E>> {
  if (!isExperimentName(name))
    throw new RangeError(`unknown experiment '${String(name)}' (known: ${EXPERIMENT_NAMES.join(', ')})`);
  const quick = options.quick === true;
  const threads = options.threads ?? availableParallelism();
  const repeats = options.repeats ?? (quick ? 2 : 3);
  const warmup = options.warmup ?? (quick ? 0 : 1);
  for (const [k, v, min] of [
    ['threads', threads, 1],
    ['repeats', repeats, 1],
    ['warmup', warmup, 0],
  ] as const) {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`${k} must be an integer ≥ ${min}, got ${v}`);
  }
  const log = options.log ?? (() => {});
  const env = options.env ?? process.env;
  const acceleratorBackend = options.acceleratorBackend ?? 'cpu';
  const splitThreads = splitCores(availableParallelism(), acceleratorBackend === 'cuda', options.threads);
  const servers = new ExperimentServers(threads, (l) => log(`[${name}] ${l}`), acceleratorBackend);
  const ctx: ExperimentContext = {
    options,
    threads,
    splitThreads,
    repeats,
    warmup,
    quick,
    servers,
    env,
    log: (l) => log(`[${name}] ${l}`),
  };
  const previousThreads = kernels.info().threads;
  const startedAt = new Date().toISOString();
  const machine = machineInfo(kernels.name, kernels.info(), env);
  try {
    const r = await RUNNERS[name](ctx);
    const file = {
      schema: EXPERIMENT_SCHEMA,
      experiment: name,
      startedAt,
      finishedAt: new Date().toISOString(),
      command: options.command ?? process.argv.slice(1).join(' '),
      machine: { ...machine, kernels: { ...machine.kernels, threads } },
      settings: { ...r.settings, threads, splitThreads, repeats, warmup, quick, acceleratorBackend },
      records: r.records,
    };
    // What we write is what the report reads: check it here, where a mistake is ours.
    return validateExperimentFile(file, `the ${name} results`) as ExperimentFile<E>;
  } finally {
    await servers.close();
    kernels.setThreads(previousThreads);
  }
}

/** `<dir>/<experiment>-<ISO time with '-' for ':'>.json`; returns the path. */
export function writeExperimentFile(dir: string, file: ExperimentFile): string {
  const stamp = file.startedAt.replace(/:/g, '-');
  const path = join(dir, `${file.experiment}-${stamp}.json`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
  } catch (e) {
    throw new TeeError('E_IO', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
  return path;
}
