// The training loop a user drives from `tee-offload train` or the library: data → model → SGD with a
// schedule, eval after each epoch, checkpoints every N steps and at the end (atomic), resume that
// continues bit-identically — a checkpoint whose settings differ from the run's is refused (E_USAGE,
// naming the flag) before anything is restored. Mode-agnostic: the model's LinearOps decide where the
// products run.
import { DataLoader, type LoaderState } from '../data/data-loader.js';
import type { Dataset } from '../data/dataset.js';
import { defaultTransforms } from '../data/default-transforms.js';
import { TeeError } from '../errors.js';
import { saveStateDict } from '../io/state-dict.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import type { Module } from '../nn/module.js';
import { SGD } from '../nn/sgd.js';
import { evaluate, trainStep } from '../nn/train-step.js';
import { dropoutProbabilities, type LoadedCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { learningRate, type ScheduleKind, scheduleDependsOnLength } from './lr-schedule.js';
import type { Reporter } from './progress.js';

export interface TrainSettings {
  readonly model: string;
  readonly numClasses: number;
  readonly inputSize: number;
  readonly batchSize: number;
  /** Exactly one of epochs and steps. */
  readonly epochs?: number;
  readonly steps?: number;
  readonly lr: number;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  readonly schedule: ScheduleKind;
  readonly seed: number;
  readonly augment: boolean;
}

export interface TrainRun {
  readonly settings: TrainSettings;
  readonly model: Module;
  readonly train: Dataset;
  /** Evaluated after every epoch when given. */
  readonly test?: Dataset;
  /** Continue from this checkpoint. */
  readonly resume?: string;
  /** How errors name the checkpoint (default: `resume`; the trusted process gives the sealed name). */
  readonly resumeName?: string;
  /** Write a checkpoint here every `checkpointEvery` steps and at the end. */
  readonly checkpoint?: string;
  readonly checkpointEvery?: number;
  /** Write the final model state (torchvision names) here. */
  readonly save?: string;
  readonly reporter: Reporter;
}

export interface TrainSummary {
  /** The step the run ended at (counting the steps of the checkpoint it resumed from). */
  readonly steps: number;
  /** The step it started from: 0, or the resumed checkpoint's step. */
  readonly startStep: number;
  readonly totalSteps: number;
  readonly finalLoss: number;
  /** One per step run by this call (steps − startStep of them). */
  readonly losses: number[];
  readonly elapsedSec: number;
  readonly imagesPerSec: number;
  readonly lastEval?: { loss: number; accuracy: number };
}

/**
 * The settings a resumed run must repeat, with their flags (the rest may change, e.g. threads). The
 * length (--steps/--epochs) is checked apart: it may grow under a constant schedule.
 */
const RESUME_FLAGS: readonly (readonly [keyof TrainSettings, string])[] = [
  ['model', '--model'],
  ['numClasses', '--num-classes'],
  ['inputSize', '--input-size'],
  ['batchSize', '--batch-size'],
  ['seed', '--seed'],
  ['augment', '--no-augment'],
  ['schedule', '--schedule'],
  ['lr', '--lr'],
  ['momentum', '--momentum'],
  ['weightDecay', '--weight-decay'],
  ['nesterov', '--nesterov'],
];

function flagText(key: keyof TrainSettings, flag: string, v: unknown): string {
  if (key === 'augment') return v === false ? '--no-augment' : 'no --no-augment';
  if (key === 'nesterov') return v === true ? '--nesterov' : 'no --nesterov';
  return `${flag} ${typeof v === 'string' ? v : JSON.stringify(v)}`;
}

const stepsText = (n: unknown) => `${n} step${n === 1 ? '' : 's'}`;

function lengthText(x: { steps?: unknown; epochs?: unknown }): string | undefined {
  if (x.steps !== undefined) return `--steps ${JSON.stringify(x.steps)}`;
  if (x.epochs !== undefined) return `--epochs ${JSON.stringify(x.epochs)}`;
  return undefined;
}

/**
 * Refuses (E_USAGE, one line naming the flag and both values) a checkpoint the run `s` of `totalSteps`
 * steps would not continue bit-identically: any setting of RESUME_FLAGS or the dropout probability
 * differs; the length differs under a schedule that depends on it; or the checkpoint is past the end.
 * Checkpoints written before `dropout_p`/`totalSteps` were recorded are accepted on the rest, which
 * they do record.
 */
export function checkResume(
  ck: LoadedCheckpoint,
  s: TrainSettings,
  totalSteps: number,
  dropout: readonly number[],
  name: string,
): void {
  const refuse = (what: string, why = 'a resumed run must repeat the checkpoint’s settings'): never => {
    throw new TeeError('E_USAGE', `${name} ${what}: ${why}`);
  };
  const c = ck.settings;
  for (const [k, flag] of RESUME_FLAGS) {
    if (!(k in c)) refuse(`does not record ${flag}`, 'it was not written by tee-offload train');
    if (c[k] !== s[k])
      refuse(`was written with ${flagText(k, flag, c[k])}, this run has ${flagText(k, flag, s[k])}`);
  }
  const d = ck.dropout;
  if (d !== undefined && (d.length !== dropout.length || d.some((p, i) => p !== dropout[i]))) {
    const p = (v: readonly number[]) => (v.length === 0 ? 'no dropout' : `--dropout ${v[0]}`);
    refuse(`was written with ${p(d)}, this run has ${p(dropout)}`);
  }
  if (scheduleDependsOnLength(s.schedule)) {
    const why = `a ${s.schedule} schedule is a function of the run’s length`;
    const had = lengthText(c);
    const has = lengthText(s)!;
    if (had === undefined) refuse('does not record --steps or --epochs', why);
    if (had !== has) refuse(`was written with ${had}, this run has ${has}`, `${why} (give ${had})`);
    const t = c.totalSteps;
    if (typeof t === 'number' && t !== totalSteps)
      refuse(`was written by a run of ${stepsText(t)}, this run has ${stepsText(totalSteps)}`, why);
  }
  if (ck.step > totalSteps) {
    refuse(
      `is at step ${ck.step}, past the end of this run (${lengthText(s)}: ${stepsText(totalSteps)})`,
      'a resumed run cannot end before its checkpoint',
    );
  }
}

export async function evaluateDataset(
  model: Module,
  ds: Dataset,
  inputSize: number,
  batchSize: number,
): Promise<{ loss: number; accuracy: number; samples: number }> {
  const loader = new DataLoader(ds, {
    batchSize,
    shuffle: false,
    transform: defaultTransforms(ds, { augment: false, imageSize: inputSize }),
  });
  const loss = new CrossEntropyLoss();
  let total = 0;
  let correct = 0;
  let lossSum = 0;
  for (const b of loader.epochBatches()) {
    const r = await evaluate(model, loss, b.input, b.labels);
    const n = b.labels.length;
    total += n;
    correct += r.correct;
    lossSum += r.loss * n;
  }
  return {
    loss: total > 0 ? lossSum / total : Number.NaN,
    accuracy: total > 0 ? correct / total : 0,
    samples: total,
  };
}

export async function runTraining(run: TrainRun): Promise<TrainSummary> {
  const s = run.settings;
  const { model, reporter } = run;
  if ((s.epochs === undefined) === (s.steps === undefined)) {
    throw new TeeError('E_USAGE', 'give exactly one of --epochs and --steps');
  }
  if (run.train.numClasses > s.numClasses) {
    throw new TeeError(
      'E_USAGE',
      `the data has ${run.train.numClasses} classes but the model only ${s.numClasses} (--num-classes)`,
    );
  }
  const loader = new DataLoader(run.train, {
    batchSize: s.batchSize,
    seed: s.seed,
    ...(run.train.asGiven ? {} : { shuffle: true }),
    transform: defaultTransforms(run.train, { augment: s.augment, imageSize: s.inputSize }),
  });
  const perEpoch = loader.batchesPerEpoch;
  if (perEpoch === 0) throw new TeeError('E_USAGE', 'the data set holds no complete batch');
  const totalSteps = s.steps ?? (s.epochs ?? 0) * perEpoch;
  const optimizer = new SGD(model.parameters(), {
    lr: s.lr,
    momentum: s.momentum,
    weightDecay: s.weightDecay,
    nesterov: s.nesterov,
  });
  const loss = new CrossEntropyLoss();
  let step = 0;
  if (run.resume !== undefined) {
    const name = run.resumeName ?? run.resume;
    const dropout = dropoutProbabilities(model);
    const ck = loadCheckpoint(run.resume, model, optimizer, (c) =>
      checkResume(c, s, totalSteps, dropout, name),
    );
    loader.restore(ck.loader as LoaderState);
    step = ck.step;
  }
  const startStep = step;
  const writeCheckpoint = () => {
    if (run.checkpoint === undefined) return;
    // totalSteps beside the flags: an --epochs run's length also depends on the data set.
    const settings = { ...s, totalSteps };
    saveCheckpoint(run.checkpoint, model, optimizer, { step, loader: loader.state(), settings });
    reporter.event({ type: 'checkpoint', step, path: run.checkpoint });
  };
  const losses: number[] = [];
  let lastEval: { loss: number; accuracy: number } | undefined;
  let images = 0;
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  while (step < totalSteps) {
    let batch = loader.next();
    if (batch === null) {
      // An epoch ended: evaluate, then continue with the next epoch's first batch.
      if (run.test !== undefined) {
        const ev = await evaluateDataset(model, run.test, s.inputSize, s.batchSize);
        lastEval = { loss: ev.loss, accuracy: ev.accuracy };
        reporter.event({ type: 'eval', step, epoch: loader.epoch - 1, ...ev });
      }
      batch = loader.next();
      if (batch === null) throw new TeeError('E_USAGE', 'the data set holds no complete batch');
    }
    optimizer.lr = learningRate({ kind: s.schedule, lr: s.lr, totalSteps }, step);
    const r = await trainStep(model, loss, optimizer, batch.input, batch.labels);
    if (!Number.isFinite(r.loss)) {
      throw new TeeError('E_NUMERIC', `the loss became ${r.loss} at step ${step + 1}; lower --lr`);
    }
    step++;
    images += batch.labels.length;
    losses.push(r.loss);
    reporter.event({
      type: 'step',
      step,
      totalSteps,
      epoch: loader.epoch,
      loss: r.loss,
      lr: optimizer.lr,
      imagesPerSec: images / Math.max(elapsed(), 1e-9),
      elapsedSec: elapsed(),
    });
    if (run.checkpointEvery !== undefined && step % run.checkpointEvery === 0 && step < totalSteps)
      writeCheckpoint();
  }
  // The last epoch's eval, when the run ended exactly at an epoch boundary.
  if (run.test !== undefined && s.epochs !== undefined && losses.length > 0) {
    const ev = await evaluateDataset(model, run.test, s.inputSize, s.batchSize);
    lastEval = { loss: ev.loss, accuracy: ev.accuracy };
    reporter.event({ type: 'eval', step, epoch: loader.epoch, ...ev });
  }
  writeCheckpoint();
  if (run.save !== undefined)
    saveStateDict(model, run.save, {
      model: s.model,
      num_classes: String(s.numClasses),
      steps: String(step),
    });
  const finalLoss = losses.at(-1) ?? Number.NaN;
  const summary: TrainSummary = {
    steps: step,
    startStep,
    totalSteps,
    finalLoss,
    losses,
    elapsedSec: elapsed(),
    imagesPerSec: images / Math.max(elapsed(), 1e-9),
    ...(lastEval ? { lastEval } : {}),
  };
  reporter.event({
    type: 'done',
    step,
    elapsedSec: summary.elapsedSec,
    imagesPerSec: summary.imagesPerSec,
    finalLoss,
    startStep,
    totalSteps,
    stepsRun: losses.length,
  });
  return summary;
}
