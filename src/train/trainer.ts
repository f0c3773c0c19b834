// The training loop a user drives from `tee-offload train` or the library: data → model → SGD with a
// schedule, eval after each epoch, checkpoints every N steps and at the end (atomic), resume that
// continues bit-identically. Mode-agnostic: the model's LinearOps decide where the products run.
import { DataLoader, type LoaderState } from '../data/data-loader.js';
import type { Dataset } from '../data/dataset.js';
import { defaultTransforms } from '../data/default-transforms.js';
import { TeeError } from '../errors.js';
import { saveStateDict } from '../io/state-dict.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import type { Module } from '../nn/module.js';
import { SGD } from '../nn/sgd.js';
import { evaluate, trainStep } from '../nn/train-step.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { learningRate, type ScheduleKind } from './lr-schedule.js';
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
  /** Write a checkpoint here every `checkpointEvery` steps and at the end. */
  readonly checkpoint?: string;
  readonly checkpointEvery?: number;
  /** Write the final model state (torchvision names) here. */
  readonly save?: string;
  readonly reporter: Reporter;
}

export interface TrainSummary {
  readonly steps: number;
  readonly finalLoss: number;
  readonly losses: number[];
  readonly elapsedSec: number;
  readonly imagesPerSec: number;
  readonly lastEval?: { loss: number; accuracy: number };
}

/** The settings a checkpoint must agree with to be resumed (the rest may change, e.g. threads). */
const RESUME_KEYS: readonly (keyof TrainSettings)[] = [
  'model',
  'numClasses',
  'inputSize',
  'batchSize',
  'seed',
  'augment',
];

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
    const ck = loadCheckpoint(run.resume, model, optimizer);
    for (const k of RESUME_KEYS) {
      if (ck.settings[k] !== s[k]) {
        throw new TeeError(
          'E_STATE',
          `${run.resume}: checkpoint was written with ${k}=${JSON.stringify(ck.settings[k])}, this run has ${JSON.stringify(s[k])}`,
        );
      }
    }
    loader.restore(ck.loader as LoaderState);
    step = ck.step;
  }
  const writeCheckpoint = () => {
    if (run.checkpoint === undefined) return;
    saveCheckpoint(run.checkpoint, model, optimizer, { step, loader: loader.state(), settings: { ...s } });
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
  });
  return summary;
}
