import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SyntheticDataset } from '../../src/data/synthetic.js';
import { isTeeError } from '../../src/errors.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/safetensors.js';
import { kernels } from '../../src/kernels/index.js';
import { createModel } from '../../src/models/index.js';
import type { Module } from '../../src/nn/module.js';
import { SGD } from '../../src/nn/sgd.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { describeEvent, lineReporter, type ProgressEvent, type Reporter } from '../../src/train/progress.js';
import { runTraining, type TrainSettings } from '../../src/train/trainer.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-resume-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const quiet: Reporter = { event: () => {}, close: () => {} };

// A constant schedule: a cosine or step schedule is a function of the run's total steps, so a run of 2
// steps and one of 4 differ by design (resume with the same --steps to keep a schedule).
function settings(steps: number): TrainSettings {
  return {
    model: 'alexnet',
    numClasses: 10,
    inputSize: 63,
    batchSize: 4,
    steps,
    lr: 0.01,
    momentum: 0.9,
    weightDecay: 5e-4,
    nesterov: false,
    schedule: 'constant',
    seed: 3,
    augment: true,
  };
}

// AlexNet keeps dropout on (p = 0.5) so that the dropout RNG state must travel in the checkpoint too;
// 10 samples in batches of 4 cross an epoch boundary (reshuffle) between steps 2 and 4.
function data(length = 10): SyntheticDataset {
  return new SyntheticDataset({ length, height: 63, width: 63, seed: 5 });
}

function model(dropout = 0.5): Module {
  return createModel('alexnet', { numClasses: 10, seed: 3, dropout });
}

function cosine(steps: number): TrainSettings {
  return { ...settings(steps), schedule: 'cosine' };
}

/** `s` run for `epochs` epochs instead of its steps. */
function byEpochs(s: TrainSettings, epochs: number): TrainSettings {
  const { steps: _, ...rest } = s;
  return { ...rest, epochs };
}

function collect(events: ProgressEvent[]): Reporter {
  return { event: (e) => events.push(e), close: () => {} };
}

const usage = (ck: string, message: string) => (e: unknown) => {
  assert.ok(isTeeError(e, 'E_USAGE'), String(e));
  assert.equal(e.message, `${ck} ${message}`);
  return true;
};

function state(m: Module): Float32Array[] {
  return m.stateEntries().map((e) => (e.data instanceof Float32Array ? e.data.slice() : new Float32Array()));
}

test('4 steps straight and 2 steps + resume + 2 steps give bit-identical weights', async () => {
  const straight = model();
  const s4 = await runTraining({ settings: settings(4), model: straight, train: data(), reporter: quiet });

  const ck2 = join(dir, 'step2.ckpt');
  const firstHalf = model();
  await runTraining({
    settings: settings(2),
    model: firstHalf,
    train: data(),
    reporter: quiet,
    checkpoint: ck2,
  });
  // A fresh process rebuilds the model from scratch: a differently seeded model must not matter.
  const resumed = createModel('alexnet', { numClasses: 10, seed: 99, dropout: 0.5 });
  const rest = await runTraining({
    settings: settings(4),
    model: resumed,
    train: data(),
    reporter: quiet,
    resume: ck2,
  });

  assert.equal(rest.steps, 4);
  assert.deepEqual(rest.losses, s4.losses.slice(2), 'the resumed run sees the same batches and losses');
  const a = state(straight);
  const b = state(resumed);
  assert.equal(a.length, b.length);
  a.forEach((t, i) => {
    assert.deepEqual(b[i], t, `state entry ${i} differs`);
  });
});

test('a run that crashes after its step-2 checkpoint resumes to the same weights (cosine schedule)', async () => {
  const cosine = { ...settings(4), schedule: 'cosine' as const };
  const straight = model();
  await runTraining({ settings: cosine, model: straight, train: data(), reporter: quiet });

  const ck = join(dir, 'crash.ckpt');
  const crashing: Reporter = {
    event: (e) => {
      if (e.type === 'step' && e.step === 3) throw new Error('simulated crash');
    },
    close: () => {},
  };
  await assert.rejects(
    runTraining({
      settings: cosine,
      model: model(),
      train: data(),
      reporter: crashing,
      checkpoint: ck,
      checkpointEvery: 2,
    }),
    /simulated crash/,
  );
  const resumed = model();
  const events: ProgressEvent[] = [];
  const rest = await runTraining({
    settings: cosine,
    model: resumed,
    train: data(),
    reporter: collect(events),
    resume: ck,
  });
  assert.equal(rest.losses.length, 2, 'only steps 3 and 4 were run again');
  const done = events.at(-1)!;
  assert.ok(done.type === 'done');
  assert.deepEqual([done.step, done.startStep, done.totalSteps, done.stepsRun], [4, 2, 4, 2]);
  assert.match(
    describeEvent(done),
    /^done: steps 3–4 of 4 \(2 run\) in \d+\.\d s, \d+\.\d img\/s, final loss \d+\.\d{4}$/,
  );
  const a = state(straight);
  state(resumed).forEach((t, i) => {
    assert.deepEqual(t, a[i]);
  });
});

test('checkpoints written along the way do not change the run', async () => {
  const plain = model();
  await runTraining({ settings: settings(3), model: plain, train: data(), reporter: quiet });
  const ck = model();
  await runTraining({
    settings: settings(3),
    model: ck,
    train: data(),
    reporter: quiet,
    checkpoint: join(dir, 'every.ckpt'),
    checkpointEvery: 1,
  });
  const a = state(plain);
  state(ck).forEach((t, i) => {
    assert.deepEqual(t, a[i]);
  });
});

test('a checkpoint of another model is refused with E_STATE and leaves the model untouched', async () => {
  const m = model();
  const opt = new SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
  const path = join(dir, 'alex.ckpt');
  saveCheckpoint(path, m, opt, { step: 0, loader: {}, settings: {} });
  const other = createModel('resnet18', { numClasses: 10, seed: 1 });
  const before = state(other);
  assert.throws(
    () => loadCheckpoint(path, other, new SGD(other.parameters(), { lr: 0.1 })),
    (e: unknown) => isTeeError(e, 'E_STATE'),
  );
  state(other).forEach((t, i) => {
    assert.deepEqual(t, before[i]);
  });
});

test('a file that is not a checkpoint is refused with E_FORMAT', () => {
  const path = join(dir, 'junk.ckpt');
  writeFileSync(path, 'not a checkpoint at all');
  const m = model();
  assert.throws(
    () => loadCheckpoint(path, m, new SGD(m.parameters(), { lr: 0.1 })),
    (e: unknown) => isTeeError(e, 'E_FORMAT'),
  );
});

test('a resume with other settings is refused (E_USAGE, naming the flag and both values) before anything is restored', async () => {
  const ck = join(dir, 'cosine2.ckpt');
  const trained = model();
  await runTraining({ settings: cosine(2), model: trained, train: data(), reporter: quiet, checkpoint: ck });
  const repeat = ': a resumed run must repeat the checkpoint’s settings';
  const cases: [TrainSettings, string][] = [
    [
      cosine(3),
      'was written with --steps 2, this run has --steps 3: a cosine schedule is a function of the run’s length (give --steps 2)',
    ],
    [
      byEpochs(cosine(2), 1),
      'was written with --steps 2, this run has --epochs 1: a cosine schedule is a function of the run’s length (give --steps 2)',
    ],
    [settings(2), `was written with --schedule cosine, this run has --schedule constant${repeat}`],
    [{ ...cosine(2), lr: 0.02 }, `was written with --lr 0.01, this run has --lr 0.02${repeat}`],
    [
      { ...cosine(2), momentum: 0.8 },
      `was written with --momentum 0.9, this run has --momentum 0.8${repeat}`,
    ],
    [
      { ...cosine(2), weightDecay: 0 },
      `was written with --weight-decay 0.0005, this run has --weight-decay 0${repeat}`,
    ],
    [{ ...cosine(2), nesterov: true }, `was written with no --nesterov, this run has --nesterov${repeat}`],
    [
      { ...cosine(2), augment: false },
      `was written with no --no-augment, this run has --no-augment${repeat}`,
    ],
    [{ ...cosine(2), batchSize: 2 }, `was written with --batch-size 4, this run has --batch-size 2${repeat}`],
    [{ ...cosine(2), seed: 4 }, `was written with --seed 3, this run has --seed 4${repeat}`],
    [
      { ...cosine(2), model: 'vgg11' },
      `was written with --model alexnet, this run has --model vgg11${repeat}`,
    ],
  ];
  // One model for every refusal: none of them may write into it.
  const m = model();
  const before = state(m);
  for (const [s, message] of cases) {
    await assert.rejects(
      runTraining({ settings: s, model: m, train: data(), reporter: quiet, resume: ck }),
      usage(ck, message),
    );
  }
  state(m).forEach((t, i) => {
    assert.deepEqual(t, before[i], 'a refused checkpoint left the model untouched');
  });
  await assert.rejects(
    runTraining({ settings: cosine(2), model: model(0.3), train: data(), reporter: quiet, resume: ck }),
    usage(
      ck,
      'was written with --dropout 0.5, this run has --dropout 0.3: a resumed run must repeat the checkpoint’s settings',
    ),
  );
  // The same settings: nothing is left to run, and the done event says so instead of a NaN loss.
  const events: ProgressEvent[] = [];
  const same = model();
  const r = await runTraining({
    settings: cosine(2),
    model: same,
    train: data(),
    reporter: collect(events),
    resume: ck,
  });
  assert.deepEqual([r.steps, r.startStep, r.losses.length], [2, 2, 0]);
  const done = events.at(-1)!;
  assert.ok(done.type === 'done' && done.stepsRun === 0 && done.totalSteps === 2);
  const printed: string[] = [];
  const out = { write: (line: string) => printed.push(line) } as unknown as NodeJS.WritableStream;
  lineReporter(out).event(done);
  assert.deepEqual(printed, ['nothing to run: the checkpoint is at step 2 of 2\n']);
  const a = state(trained);
  state(same).forEach((t, i) => {
    assert.deepEqual(t, a[i]);
  });
});

test('a --epochs run resumed with other --epochs, or over another data set, is refused (E_USAGE)', async () => {
  // 4 images in batches of 4: one step an epoch.
  const ck = join(dir, 'epochs.ckpt');
  const stepped = byEpochs({ ...settings(1), schedule: 'step' }, 1);
  await runTraining({ settings: stepped, model: model(), train: data(4), reporter: quiet, checkpoint: ck });
  await assert.rejects(
    runTraining({
      settings: byEpochs(stepped, 2),
      model: model(),
      train: data(4),
      reporter: quiet,
      resume: ck,
    }),
    usage(
      ck,
      'was written with --epochs 1, this run has --epochs 2: a step schedule is a function of the run’s length (give --epochs 1)',
    ),
  );
  await assert.rejects(
    runTraining({ settings: stepped, model: model(), train: data(8), reporter: quiet, resume: ck }),
    usage(
      ck,
      'was written by a run of 1 step, this run has 2 steps: a step schedule is a function of the run’s length',
    ),
  );
});

test('under a constant schedule a run may be resumed longer, but not shorter than its checkpoint (E_USAGE)', async () => {
  const ck = join(dir, 'constant2.ckpt');
  await runTraining({
    settings: settings(2),
    model: model(),
    train: data(),
    reporter: quiet,
    checkpoint: ck,
  });
  await assert.rejects(
    runTraining({ settings: settings(1), model: model(), train: data(), reporter: quiet, resume: ck }),
    usage(
      ck,
      'is at step 2, past the end of this run (--steps 1: 1 step): a resumed run cannot end before its checkpoint',
    ),
  );
  // Longer is what the first test does (2 steps + resume to 4 = 4 straight).
});

test('a checkpoint written before the dropout and the run length were recorded is still resumed', async () => {
  const ck = join(dir, 'old.ckpt');
  await runTraining({ settings: cosine(1), model: model(), train: data(), reporter: quiet, checkpoint: ck });
  const { tensors, metadata } = readSafetensorsFile(ck);
  assert.deepEqual(JSON.parse(metadata.dropout_p!), [0.5, 0.5]);
  const recorded = JSON.parse(metadata.settings!) as Record<string, unknown>;
  assert.equal(recorded.totalSteps, 1);
  const { dropout_p: _, ...older } = metadata;
  const { totalSteps: __, ...olderSettings } = recorded;
  writeSafetensorsFile(ck, tensors, { ...older, settings: JSON.stringify(olderSettings) });
  const r = await runTraining({
    settings: cosine(1),
    model: model(),
    train: data(),
    reporter: quiet,
    resume: ck,
  });
  assert.deepEqual([r.startStep, r.steps], [1, 1]);
});

test('training is bit-identical run to run and with 1 or 2 kernel threads', async () => {
  const run = async (threads: number) => {
    kernels.setThreads(threads);
    const m = model();
    const events: ProgressEvent[] = [];
    await runTraining({
      settings: settings(2),
      model: m,
      train: data(),
      reporter: { event: (e) => events.push(e), close: () => {} },
    });
    return { state: state(m), steps: events.filter((e) => e.type === 'step').length };
  };
  const max = kernels.info().maxThreads;
  try {
    const a = await run(1);
    const b = await run(1);
    const c = await run(Math.max(2, Math.min(2, max)));
    assert.equal(a.steps, 2);
    a.state.forEach((t, i) => {
      assert.deepEqual(b.state[i], t, 'run to run');
    });
    a.state.forEach((t, i) => {
      assert.deepEqual(c.state[i], t, '1 vs 2 threads');
    });
  } finally {
    kernels.setThreads(max);
  }
});
