// The demo's measurements as experiment files (src/bench/experiments/schema.ts), so that the same
// report renders them: modes (the three trainings), breakdown (the split run's phases), crypto (the
// client-side encryption), equivalence (enclave and split against native).

import { writeExperimentFile } from '../bench/experiments/run-experiment.js';
import {
  type BreakdownKind,
  type BreakdownRecord,
  type CryptoRecord,
  type EquivalenceRecord,
  EXPERIMENT_SCHEMA,
  type ExperimentName,
  type ModesRecord,
  type RecordByExperiment,
  type RunMode,
} from '../bench/experiments/schema.js';
import { validateExperimentFile } from '../bench/experiments/validate.js';
import { machineInfo } from '../bench/machine.js';
import { kernels } from '../kernels/index.js';
import type { DemoOutcome, ModeRun } from './run-demo.js';

/**
 * How far split mode's first loss may be from native's: that loss comes from the same weights and images,
 * so it differs only by the forward products' quantization (exact) or rounding (float) error. Later steps
 * start from weights that already differ, and the trajectories drift apart (shown, not bounded).
 */
export const SPLIT_FIRST_LOSS_TOLERANCE = 0.02;

/**
 * The same, per split run: 0.02 for the single-prime field (~8 bits per operand; measured 3.6e-3), 1e-4
 * for the wide field (~20 bits; measured 4.8e-7) and for float (float32 products; bit-identical here).
 */
export function splitFirstLossTolerance(o: Pick<DemoOutcome, 'integrity' | 'field'>): number {
  return o.integrity === 'exact' && o.field === 'p24' ? SPLIT_FIRST_LOSS_TOLERANCE : 1e-4;
}

/** The experiments' name of the demo's split run: split-float, split-exact or split-exact-p24. */
export function splitRunMode(o: Pick<DemoOutcome, 'integrity' | 'field'>): RunMode {
  if (o.integrity === 'float') return 'split-float';
  return o.field === 'p24' ? 'split-exact-p24' : 'split-exact';
}

function runMode(r: ModeRun, o: DemoOutcome): RunMode {
  return r.mode === 'split' ? splitRunMode(o) : r.mode;
}

export function modesRecords(o: DemoOutcome): ModesRecord[] {
  return o.runs.map((r) => ({
    model: o.settings.model,
    size: o.settings.inputSize,
    batch: o.settings.batchSize,
    workload: 'train' as const,
    mode: runMode(r, o),
    images: r.steps * o.settings.batchSize,
    samplesMs: [r.seconds * 1000],
    medianMs: r.seconds * 1000,
    imagesPerSec: r.imagesPerSec,
  }));
}

/** Per-step ms of the split run: the remote phases, and the rest of the step (trusted layers, loss, SGD). */
export function breakdownRecord(o: DemoOutcome): BreakdownRecord | null {
  const split = o.runs.find((r) => r.mode === 'split');
  const p = split?.remote?.phases;
  if (!split || !p || split.steps === 0) return null;
  const per = (ms: number) => ms / split.steps;
  const totalMs = (o.settings.batchSize * 1000) / split.imagesPerSec;
  const phases: [BreakdownKind, number][] = [
    ['quantize', per(p.quantizeMs)],
    ['send', per(p.sendMs)],
    ['accelerator', per(p.computeMs)],
    ['receive', per(p.receiveMs)],
    ['verify', per(p.verifyMs)],
    ['unblind', per(p.dequantizeMs)],
  ];
  const remote = phases.reduce((a, [, ms]) => a + ms, 0);
  return {
    model: o.settings.model,
    size: o.settings.inputSize,
    batch: o.settings.batchSize,
    mode: runMode(split, o),
    totalMs,
    byKind: [
      ...phases.map(([kind, ms]) => ({ kind, ms })),
      { kind: 'other' as const, ms: Math.max(0, totalMs - remote) },
    ],
    // Only the totals travel back from the trusted process; `bench breakdown` times each layer.
    byLayer: [],
    bytesSent: split.remote!.bytesSent / split.steps,
    bytesReceived: split.remote!.bytesReceived / split.steps,
    checks: split.remote!.calls,
    checksPassed: split.remote!.calls,
  };
}

export function equivalenceRecords(o: DemoOutcome): EquivalenceRecord[] {
  const out: EquivalenceRecord[] = [];
  for (const a of o.agreement) {
    const run = o.runs.find((r) => r.mode === a.mode)!;
    const bit = a.mode === 'enclave';
    const mode = runMode(run, o);
    out.push({
      model: o.settings.model,
      mode,
      threads: kernels.info().threads,
      phase: 'train-step',
      quantity: bit ? 'loss, every step' : 'loss, first step',
      maxAbsDiff: bit ? a.maxLossDiff : a.firstLossDiff,
      tolerance: bit ? 0 : splitFirstLossTolerance(o),
      bitIdenticalExpected: bit,
      pass: bit ? a.maxLossDiff === 0 : a.firstLossDiff <= splitFirstLossTolerance(o),
    });
    // Bit identity is a claim about the weights too; split's weights drift with quantization and have no
    // tolerance of their own (their agreement is the loss curve's, above).
    if (bit)
      out.push({
        model: o.settings.model,
        mode,
        threads: kernels.info().threads,
        phase: 'train-step',
        quantity: 'weights',
        maxAbsDiff: a.state.maxAbsDiff,
        maxAbsRef: a.state.worstRefMax,
        tolerance: 0,
        bitIdenticalExpected: true,
        pass: a.state.identical === a.state.tensors,
      });
  }
  return out;
}

export function cryptoRecords(o: DemoOutcome): CryptoRecord[] {
  return [
    {
      where: 'client',
      op: 'encrypt',
      bytes: o.encryption.bytes,
      medianMs: o.encryption.ms,
      gbPerSec: o.encryption.bytes / 1e9 / (o.encryption.ms / 1000),
    },
  ];
}

/** Writes one experiment file per kind into `dir` (breakdown only when `ownBreakdown`); returns their paths. */
export function writeDemoResults(
  o: DemoOutcome,
  dir: string,
  command: string,
  startedAt: string,
  ownBreakdown = true,
): string[] {
  const machine = machineInfo(kernels.name, kernels.info(), process.env);
  const finishedAt = new Date().toISOString();
  const settings = {
    ...o.settings,
    integrity: o.integrity,
    ...(o.field === null ? {} : { field: o.field }),
    data: o.data.description,
    trainImages: o.runs[0]!.steps * o.settings.batchSize,
  };
  const files: string[] = [];
  const write = <E extends ExperimentName>(experiment: E, records: RecordByExperiment[E][]) => {
    if (records.length === 0) return;
    const file = validateExperimentFile(
      { schema: EXPERIMENT_SCHEMA, experiment, startedAt, finishedAt, command, machine, settings, records },
      `the demo's ${experiment} results`,
    );
    files.push(writeExperimentFile(dir, file));
  };
  write('modes', modesRecords(o));
  const b = ownBreakdown ? breakdownRecord(o) : null;
  write('breakdown', b ? [b] : []);
  write('crypto', cryptoRecords(o));
  write('equivalence', equivalenceRecords(o));
  return files;
}
