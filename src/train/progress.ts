// How a run reports itself: a redrawn progress bar with ETA and images/s on a terminal, plain lines
// otherwise (CI, pipes), and with --json one JSON object per line on stdout for machines.

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
  | { type: 'done'; step: number; elapsedSec: number; imagesPerSec: number; finalLoss: number };

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
    case 'done':
      return `done: ${e.step} steps in ${e.elapsedSec.toFixed(1)} s, ${e.imagesPerSec.toFixed(1)} img/s, final loss ${e.finalLoss.toFixed(4)}`;
  }
}

/** JSON lines on `out` (stdout by default). */
export function jsonReporter(out: NodeJS.WritableStream = process.stdout): Reporter {
  return {
    event: (e) => out.write(`${JSON.stringify(e)}\n`),
    close: () => {},
  };
}

/** Plain lines: every `every` steps, and every eval/checkpoint/done. */
export function lineReporter(out: NodeJS.WritableStream = process.stderr, every = 10): Reporter {
  return {
    event: (e) => {
      if (e.type === 'step' && e.step % every !== 0 && e.step !== e.totalSteps && e.step !== 1) return;
      out.write(`${describeEvent(e)}\n`);
    },
    close: () => {},
  };
}

/** A bar redrawn in place on a TTY: [#####.....] step/total loss img/s ETA. */
export function barReporter(out: NodeJS.WriteStream = process.stderr): Reporter {
  let drawn = false;
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
      const eta = e.step > 0 ? (e.elapsedSec / e.step) * (e.totalSteps - e.step) : Number.NaN;
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
  if (opts.json) return jsonReporter();
  return process.stderr.isTTY ? barReporter() : lineReporter();
}
