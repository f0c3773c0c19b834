// Learning-rate schedules, as functions of the step index (0-based) over a run of `totalSteps`:
// constant; step (×gamma every `stepSize` steps, torch's StepLR applied per step); cosine
// (torch's CosineAnnealingLR closed form with eta_min = minLr, T_max = totalSteps).

export type ScheduleKind = 'constant' | 'step' | 'cosine';

export interface ScheduleOptions {
  readonly kind: ScheduleKind;
  readonly lr: number;
  readonly totalSteps: number;
  /** step: decay every this many steps (default: a third of the run). */
  readonly stepSize?: number;
  /** step: multiplier (default 0.1). */
  readonly gamma?: number;
  /** cosine: floor (default 0). */
  readonly minLr?: number;
}

export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['constant', 'step', 'cosine'];

/** Whether the learning rate of a step depends on the run's length (so a resumed run must keep it). */
export function scheduleDependsOnLength(kind: ScheduleKind): boolean {
  return kind !== 'constant';
}

export function learningRate(o: ScheduleOptions, step: number): number {
  if (!(o.lr >= 0)) throw new RangeError(`lr must be non-negative, got ${o.lr}`);
  switch (o.kind) {
    case 'constant':
      return o.lr;
    case 'step': {
      const size = o.stepSize ?? Math.max(1, Math.floor(o.totalSteps / 3));
      return o.lr * (o.gamma ?? 0.1) ** Math.floor(step / size);
    }
    case 'cosine': {
      const minLr = o.minLr ?? 0;
      const t = Math.min(step, o.totalSteps) / Math.max(1, o.totalSteps);
      return minLr + ((o.lr - minLr) * (1 + Math.cos(Math.PI * t))) / 2;
    }
    default:
      throw new RangeError(
        `unknown schedule '${(o as { kind: string }).kind}' (known: ${SCHEDULE_KINDS.join(', ')})`,
      );
  }
}
