// Runs one workload on both sides, interleaved: warm-up and calibration on each, then R rounds of one
// sample each, alternating which side goes first (ABBA) so that drift on a shared machine hits both
// alike. Our side is checked against the reference before any timing (Prepared does it).
import { setTimeout as sleep } from 'node:timers/promises';
import { TeeError } from '../errors.js';
import type { CheckResult } from './check.js';
import { foreignCores, machineBusyMs, waitQuiet } from './interference.js';
import { isSide, type SideResult, type WorkloadResult } from './results.js';
import { collectGarbage, peakRssKiB, resetPeakRss } from './rss.js';
import { calibrate, type Prepared, type Sample, sampleOnce } from './sampler.js';
import { median, sig } from './stats.js';
import type { TorchSide } from './torch-side.js';
import type { Workload } from './workloads.js';

export interface RunSettings {
  readonly repeats: number;
  readonly minSampleMs: number;
  /** Pause before each interleaved sample. */
  readonly settleMs: number;
  /** How many times one sample may be retaken because other processes ran during it. */
  readonly retakes: number;
  /** Longest wait for a quiet machine before a workload (0: do not wait). */
  readonly quietWaitMs: number;
}

interface Side {
  iters: number;
  /** Samples thrown away because other processes ran during them. */
  retakes: number;
  readonly samples: Sample[];
  readonly losses: number[];
  /** One sample of `iters` calls (default: the calibrated count), kept in `samples`. */
  sample(iters?: number): Promise<Sample>;
}

function summary(w: Workload, s: Side, peakKiB: number | null): SideResult {
  const ms = median(s.samples.map((x) => x.ms));
  const batch = w.spec.kind === 'train' ? w.spec.batch : 0;
  return {
    iters: s.iters,
    samplesMs: s.samples.map((x) => sig(x.ms, 5)),
    cpuPerWall: s.samples.map((x) => sig(x.cpuPerWall, 3)),
    medianMs: sig(ms, 5),
    cpuMedianMs: sig(median(s.samples.map((x) => x.ms * x.cpuPerWall)), 5),
    foreignCores: s.samples.map((x) => sig(x.foreign ?? 0, 2)),
    retakes: s.retakes,
    ...(w.flops ? { gflops: sig(w.flops / ms / 1e6) } : {}),
    ...(batch ? { imagesPerSec: sig((batch * 1000) / ms), losses: s.losses.map((l) => sig(l, 6)) } : {}),
    peakRssMiB: peakKiB === null ? null : Math.round(peakKiB / 1024),
  };
}

/** Measures what other processes did on the machine while `take` ran (Sample.foreign). */
async function watched(take: () => Promise<Sample & { loss?: number }>): Promise<Sample & { loss?: number }> {
  const b0 = machineBusyMs();
  const s = await take();
  const b1 = machineBusyMs();
  return { ...s, foreign: foreignCores(b0, b1, s.ms * s.cpuPerWall * s.iters!, s.ms * s.iters!) };
}

/** Other processes took more than 10% of a core (plus two jiffies of slack) during the sample. */
function disturbed(s: Sample): boolean {
  const wall = s.ms * (s.iters ?? 1);
  return (s.foreign ?? 0) * wall > 0.1 * wall + 20;
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function requireFinite(what: string, loss: number | undefined): void {
  if (loss !== undefined && !Number.isFinite(loss)) {
    throw new TeeError('E_NATIVE', `${what}: training loss is ${loss}`);
  }
}

export async function runWorkload(
  w: Workload,
  prepareOurs: () => Promise<Prepared>,
  torch: TorchSide | { skipped: string },
  settings: RunSettings,
  log: (line: string) => void,
): Promise<WorkloadResult> {
  const base = { id: w.id, group: w.group, label: w.label, spec: w.spec, flops: w.flops ?? null };
  if (settings.quietWaitMs > 0) {
    const waited = await waitQuiet(settings.quietWaitMs);
    if (waited < 0) log(`  the machine stayed busy for ${settings.quietWaitMs / 1000} s: going on`);
    else if (waited > 2000) log(`  waited ${(waited / 1000).toFixed(0)} s for a quiet machine`);
  }
  collectGarbage();
  resetPeakRss();
  let prepared: Prepared;
  try {
    prepared = await prepareOurs();
  } catch (e) {
    // A failed check (or a missing model) fails this workload, not the whole run.
    log(`  ours: ${errorText(e)}`);
    return {
      ...base,
      checks: [],
      ours: { error: errorText(e) },
      torch: { skipped: 'our side failed' },
      ratio: null,
      cpuRatio: null,
    };
  }
  // The reference check's models and buffers are garbage now: the peak counts from here (our
  // model's weights stay resident, so they are in it).
  collectGarbage();
  resetPeakRss();
  const checks: readonly CheckResult[] = prepared.checks;
  const ours: Side = {
    iters: 1,
    retakes: 0,
    samples: [],
    losses: [],
    async sample(iters?: number) {
      const n = iters ?? this.iters;
      const s = await watched(async () => ({ ...(await sampleOnce(prepared.run, n)), iters: n }));
      const loss = prepared.lastLoss?.();
      requireFinite(`${w.label} (ours)`, loss);
      if (loss !== undefined) this.losses.push(loss);
      this.samples.push(s);
      return s;
    },
  };
  let theirs: Side | null = null;
  let torchError = 'unknown';
  if (!('skipped' in torch)) {
    try {
      await torch.prepare(w.spec as unknown as Record<string, unknown>);
      theirs = {
        iters: 1,
        retakes: 0,
        samples: [],
        losses: [],
        async sample(iters?: number) {
          const n = iters ?? this.iters;
          const s = await watched(async () => ({ ...(await torch.sample(n)), iters: n }));
          requireFinite(`${w.label} (torch)`, s.loss);
          if (s.loss !== undefined) this.losses.push(s.loss);
          this.samples.push(s);
          return s;
        },
      };
    } catch (e) {
      torchError = errorText(e);
      log(`  torch: ${torchError}`);
    }
  }
  const sides = theirs ? [ours, theirs] : [ours];
  try {
    // Warm-up (the first call allocates and faults pages in), then calibration; neither is kept.
    for (const s of sides) {
      await s.sample(1);
      s.iters = await calibrate((n) => s.sample(n), settings.minSampleMs);
      s.samples.length = 0;
      s.losses.length = 0;
    }
    for (let r = 0; r < settings.repeats; r++) {
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) {
        for (let attempt = 0; ; attempt++) {
          // Lets the other side's idle BLAS/OpenMP threads stop spinning before this side is timed.
          if (theirs) await sleep(settings.settleMs);
          const x = await s.sample();
          if (!disturbed(x) || attempt >= settings.retakes) break;
          s.samples.pop();
          if (s.losses.length > s.samples.length) s.losses.pop();
          s.retakes++;
        }
      }
    }
  } catch (e) {
    log(`  ${errorText(e)}`);
    if (theirs) await (torch as TorchSide).finish().catch(() => undefined);
    return {
      ...base,
      checks,
      ours: { error: errorText(e) },
      torch: { error: errorText(e) },
      ratio: null,
      cpuRatio: null,
    };
  }
  const oursResult = summary(w, ours, peakRssKiB());
  let torchResult: WorkloadResult['torch'];
  if ('skipped' in torch) torchResult = { skipped: torch.skipped };
  else if (!theirs) torchResult = { error: torchError };
  else torchResult = summary(w, theirs, (await (torch as TorchSide).finish()).peakRssKiB);
  const both = isSide(torchResult) ? torchResult : null;
  const ratio = both ? sig(both.medianMs / oursResult.medianMs, 3) : null;
  const cpuRatio = both ? sig(both.cpuMedianMs / oursResult.cpuMedianMs, 3) : null;
  return { ...base, checks, ours: oursResult, torch: torchResult, ratio, cpuRatio };
}
