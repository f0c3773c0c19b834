// Times one side of a workload: `iters` back-to-back calls form one sample (ms per call), with the
// process CPU time over wall time alongside, which shows how many cores the side really kept busy.
import { performance } from 'node:perf_hooks';
import type { CheckResult } from './check.js';

export interface Sample {
  /** Wall milliseconds per call. */
  readonly ms: number;
  /** Process CPU time / wall time over the sample (≈ threads kept busy). */
  readonly cpuPerWall: number;
  /** Cores kept busy by other processes during the sample (see interference.ts); 0 when unknown. */
  readonly foreign?: number;
  /** Calls in the sample. */
  readonly iters?: number;
}

export type Body = () => void | Promise<void>;

export async function sampleOnce(body: Body, iters: number): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < iters; i++) await body();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { ms: wall / iters, cpuPerWall: (c.user + c.system) / 1000 / wall };
}

/**
 * Calls per sample: doubles a trial loop until it lasts a fifth of `minSampleMs` (one slow call is
 * enough), so that one call disturbed by noise does not set the count.
 */
export async function calibrate(
  sample: (iters: number) => Promise<Sample>,
  minSampleMs: number,
): Promise<number> {
  let iters = 1;
  for (;;) {
    const s = await sample(iters);
    if (s.ms * iters >= minSampleMs / 5 || iters >= 10_000) return itersFor(s.ms, minSampleMs);
    iters *= 2;
  }
}

/** How many calls make a sample of at least `minSampleMs`, given one call's time (1 for slow calls). */
export function itersFor(msPerCall: number, minSampleMs: number): number {
  if (!(msPerCall > 0)) return 1;
  return Math.max(1, Math.min(10_000, Math.ceil(minSampleMs / msPerCall)));
}

/** Our side of a workload, ready to time: checked against the reference before it is returned. */
export interface Prepared {
  readonly run: Body;
  readonly checks: readonly CheckResult[];
  /** The last training loss (training steps only); must stay finite. */
  readonly lastLoss?: () => number;
}
