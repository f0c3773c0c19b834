// Memory stability: many training steps of one model with the RSS sampled every `every` steps. A step
// that leaks (saved activations never released, buffers reallocated and kept) shows as growth between
// the first settled sample and the last; more than `threshold` is flagged.
import type { MemoryCheck } from './results.js';
import { collectGarbage, rssKiB } from './rss.js';
import type { Prepared } from './sampler.js';
import type { TorchSide } from './torch-side.js';
import type { TrainSpec } from './workloads.js';

export interface MemorySettings {
  readonly spec: TrainSpec;
  readonly steps: number;
  readonly every: number;
  /** The step whose sample is the baseline (the first steps allocate for good: buffers, momentum). */
  readonly from: number;
  readonly threshold: number;
}

type Point = { step: number; rssMiB: number; loss: number };

function growth(points: readonly Point[], from: number, to: number): number {
  const a = points.find((p) => p.step === from);
  const b = points.find((p) => p.step === to);
  return a && b ? (b.rssMiB - a.rssMiB) / a.rssMiB : Number.NaN;
}

export async function memoryCheck(
  m: MemorySettings,
  prepareTrain: (spec: TrainSpec) => Promise<Prepared>,
  torch: TorchSide | null,
  log: (line: string) => void,
): Promise<MemoryCheck> {
  collectGarbage();
  const p = await prepareTrain(m.spec);
  const ours: Point[] = [];
  for (let step = 1; step <= m.steps; step++) {
    await p.run();
    if (step % m.every === 0) {
      const pt = { step, rssMiB: Math.round(rssKiB() / 1024), loss: p.lastLoss?.() ?? Number.NaN };
      ours.push(pt);
      log(`  ours step ${step}/${m.steps}: RSS ${pt.rssMiB} MiB, loss ${pt.loss.toFixed(4)}`);
    }
  }
  let theirs: Point[] | null = null;
  if (torch) {
    const a = await torch.request({ op: 'memory', ...m.spec, steps: m.steps, every: m.every });
    theirs = (a.samples as { step: number; rssKiB: number; loss: number }[]).map((s) => ({
      step: s.step,
      rssMiB: Math.round(s.rssKiB / 1024),
      loss: s.loss,
    }));
    log(`  torch: RSS ${theirs.map((s) => s.rssMiB).join(' → ')} MiB`);
  }
  const oursGrowth = growth(ours, m.from, m.steps);
  return {
    model: m.spec.model,
    batch: m.spec.batch,
    size: m.spec.size,
    steps: m.steps,
    every: m.every,
    ours,
    torch: theirs,
    from: m.from,
    to: m.steps,
    oursGrowth,
    torchGrowth: theirs ? growth(theirs, m.from, m.steps) : null,
    flagged: !(oursGrowth <= m.threshold),
    threshold: m.threshold,
  };
}
