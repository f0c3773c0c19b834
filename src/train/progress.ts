// How a run reports itself: a redrawn progress bar with ETA and images/s on a terminal, plain lines
// otherwise (CI, pipes), and with --json one JSON object per line on stdout for machines. A resumed
// run's `done` says which steps it ran, and one with nothing left to run says so.

export type ProgressEvent =
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      epoch: number;
      loss: number;
      lr: number;
      imagesPerSec: number;
      elapsedSec: number;
    }
  | { type: 'eval'; step: number; epoch: number; loss: number; accuracy: number; samples: number }
  | { type: 'checkpoint'; step: number; path: string }
  | {
      type: 'done';
      /** The step the run ended at (a resumed run counts the checkpoint's steps). */
      step: number;
      elapsedSec: number;
      imagesPerSec: number;
      /** The last step's loss; NaN when no step ran. */
      finalLoss: number;
      // Added later, so optional: the step the run started from (0, or its checkpoint's), the run's
      // length and the steps this run took. withRunTotals fills them in where a trusted process's
      // session codec dropped them.
      startStep?: number;
      totalSteps?: number;
      stepsRun?: number;
    };

export interface Reporter {
  event(e: ProgressEvent): void;
  close(): void;
}

function fmtTime(sec: number): string {
  if (!Number.isFinite(sec)) return '--:--';
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(r).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

export function describeEvent(e: ProgressEvent): string {
  switch (e.type) {
    case 'step':
      return `step ${e.step}/${e.totalSteps} epoch ${e.epoch} loss ${e.loss.toFixed(4)} lr ${e.lr.toPrecision(3)} ${e.imagesPerSec.toFixed(1)} img/s`;
    case 'eval':
      return `eval after step ${e.step} (epoch ${e.epoch}): loss ${e.loss.toFixed(4)} accuracy ${(100 * e.accuracy).toFixed(2)}% on ${e.samples} images`;
    case 'checkpoint':
      return `checkpoint at step ${e.step}: ${e.path}`;
    case 'done': {
      const of = e.totalSteps === undefined ? '' : ` of ${e.totalSteps}`;
      // No step ran (finalLoss is NaN exactly then: a step with a NaN loss stops the run).
      if (e.stepsRun === 0 || (e.stepsRun === undefined && Number.isNaN(e.finalLoss)))
        return `nothing to run: the checkpoint is at step ${e.step}${of}`;
      const rate = `in ${e.elapsedSec.toFixed(1)} s, ${e.imagesPerSec.toFixed(1)} img/s, final loss ${e.finalLoss.toFixed(4)}`;
      if (e.startStep === undefined || e.stepsRun === undefined || e.startStep === 0)
        return `done: ${e.step} steps ${rate}`;
      return `done: steps ${e.startStep + 1}–${e.step}${of} (${e.stepsRun} run) ${rate}`;
    }
  }
}

/**
 * Fills in a `done` event's startStep/stepsRun/totalSteps from the step events before it, where they
 * are missing (a trusted process sends `done` without them); events that carry them pass unchanged.
 */
export function withRunTotals(inner: Reporter): Reporter {
  let first: { step: number; totalSteps: number } | undefined;
  let run = 0;
  return {
    event: (e) => {
      if (e.type === 'step') {
        first ??= { step: e.step, totalSteps: e.totalSteps };
        run++;
      } else if (e.type === 'done' && e.stepsRun === undefined) {
        const totalSteps = e.totalSteps ?? first?.totalSteps;
        e = {
          ...e,
          startStep: e.startStep ?? (first === undefined ? e.step : first.step - 1),
          stepsRun: run,
          ...(totalSteps === undefined ? {} : { totalSteps }),
        };
      }
      inner.event(e);
    },
    close: () => inner.close(),
  };
}

/** JSON lines on `out` (stdout by default). */
export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    event: (e) => out.write(`${JSON.stringify(e)}\n`),
    close: () => {},
  };
}

/** Plain lines: the run's first step, every `every` steps, the last, and every eval/checkpoint/done. */
export function lineReporter(out: NodeJS.WritableStream = process.stderr, every = 10): Reporter {
  // The first step this run takes is always shown (step 1, or a resumed run's first).
  let seen = false;
  return {
    event: (e) => {
      if (e.type === 'step') {
        const first = !seen;
        seen = true;
        if (!first && e.step % every !== 0 && e.step !== e.totalSteps) return;
      }
      out.write(`${describeEvent(e)}\n`);
    },
    close: () => {},
  };
}

/** A bar redrawn in place on a TTY: [#####.....] step/total loss img/s ETA. */
export function barReporter(out: NodeJS.WriteStream = process.stderr): Reporter {
  let drawn = false;
  // The first step this process ran: a resumed run's rate covers only the steps since then.
  let first: number | undefined;
  const clear = () => {
    if (drawn) out.write('\r\x1b[2K');
    drawn = false;
  };
  return {
    event: (e) => {
      if (e.type !== 'step') {
        clear();
        out.write(`${describeEvent(e)}\n`);
        return;
      }
      const width = Math.max(10, Math.min(40, (out.columns ?? 80) - 60));
      const frac = e.totalSteps > 0 ? e.step / e.totalSteps : 0;
      const fill = Math.round(frac * width);
      first ??= e.step;
      const ran = e.step - first + 1;
      const eta = ran > 0 ? (e.elapsedSec / ran) * (e.totalSteps - e.step) : Number.NaN;
      clear();
      out.write(
        `[${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${e.step}/${e.totalSteps} loss ${e.loss.toFixed(4)} ${e.imagesPerSec.toFixed(1)} img/s ETA ${fmtTime(eta)}`,
      );
      drawn = true;
    },
    close: () => {
      if (drawn) out.write('\n');
      drawn = false;
    },
  };
}

/** The reporter for a command: JSON lines when asked, a bar on a terminal, plain lines otherwise. */
export function chooseReporter(opts: { json?: boolean; quiet?: boolean }): Reporter {
  if (opts.quiet) return { event: () => {}, close: () => {} };
  if (opts.json) return withRunTotals(jsonReporter());
  return withRunTotals(process.stderr.isTTY ? barReporter() : lineReporter());
}
