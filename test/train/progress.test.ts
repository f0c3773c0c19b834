import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeEvent, lineReporter, type ProgressEvent, withRunTotals } from '../../src/train/progress.js';

const step = (n: number, totalSteps: number): ProgressEvent => ({
  type: 'step',
  step: n,
  totalSteps,
  epoch: 0,
  loss: 2,
  lr: 0.01,
  imagesPerSec: 10,
  elapsedSec: 1,
});

const done = (s: number, finalLoss: number): ProgressEvent => ({
  type: 'done',
  step: s,
  elapsedSec: 2,
  imagesPerSec: 12.5,
  finalLoss,
});

function through(events: ProgressEvent[]): ProgressEvent[] {
  const out: ProgressEvent[] = [];
  const r = withRunTotals({ event: (e) => out.push(e), close: () => {} });
  for (const e of events) r.event(e);
  return out;
}

test('a fresh run’s done line is unchanged; a resumed one names the steps it ran', () => {
  const fresh = { ...done(40, 0.5), startStep: 0, totalSteps: 40, stepsRun: 40 };
  assert.equal(describeEvent(fresh), 'done: 40 steps in 2.0 s, 12.5 img/s, final loss 0.5000');
  const resumed = { ...done(40, 0.5), startStep: 9, totalSteps: 40, stepsRun: 31 };
  assert.equal(
    describeEvent(resumed),
    'done: steps 10–40 of 40 (31 run) in 2.0 s, 12.5 img/s, final loss 0.5000',
  );
});

test('a run with nothing left to run says so, without a NaN loss', () => {
  const e = { ...done(6, Number.NaN), startStep: 6, totalSteps: 6, stepsRun: 0 };
  assert.equal(describeEvent(e), 'nothing to run: the checkpoint is at step 6 of 6');
  // A done event of the original shape (no stepsRun) with no step run.
  assert.equal(describeEvent(done(6, Number.NaN)), 'nothing to run: the checkpoint is at step 6');
});

test('withRunTotals works out a done event’s missing fields from the steps it saw', () => {
  const [, , d] = through([step(3, 4), step(4, 4), done(4, 1.25)]);
  assert.deepEqual(d, { ...done(4, 1.25), startStep: 2, stepsRun: 2, totalSteps: 4 });
  assert.match(describeEvent(d!), /^done: steps 3–4 of 4 \(2 run\) in /);
  const [nothing] = through([done(6, Number.NaN)]);
  assert.deepEqual(nothing, { ...done(6, Number.NaN), startStep: 6, stepsRun: 0 });
});

test('withRunTotals passes a complete done event unchanged', () => {
  const full = { ...done(4, 1), startStep: 0, totalSteps: 4, stepsRun: 4 };
  const [, e] = through([step(4, 8), full]);
  assert.equal(e, full);
});

test('plain lines show the run’s first step (a resumed run’s too), every tenth and the last', () => {
  const lines = (from: number, to: number): number[] => {
    let text = '';
    const sink = {
      write: (s: string) => {
        text += s;
        return true;
      },
    };
    const r = lineReporter(sink as unknown as NodeJS.WritableStream);
    for (let i = from; i <= to; i++) r.event(step(i, to));
    return [...text.matchAll(/^step (\d+)\//gm)].map((m) => Number(m[1]));
  };
  assert.deepEqual(lines(1, 25), [1, 10, 20, 25]);
  assert.deepEqual(lines(14, 25), [14, 20, 25]);
});
