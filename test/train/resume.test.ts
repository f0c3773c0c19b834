import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { SyntheticDataset } from '../../src/data/synthetic.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { createModel } from '../../src/models/index.js';
import type { Module } from '../../src/nn/module.js';
import { SGD } from '../../src/nn/sgd.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import type { ProgressEvent, Reporter } from '../../src/train/progress.js';
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
function data(): SyntheticDataset {
  return new SyntheticDataset({ length: 10, height: 63, width: 63, seed: 5 });
}

function model(): Module {
  return createModel('alexnet', { numClasses: 10, seed: 3, dropout: 0.5 });
}

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
  const rest = await runTraining({
    settings: cosine,
    model: resumed,
    train: data(),
    reporter: quiet,
    resume: ck,
  });
  assert.equal(rest.losses.length, 2, 'only steps 3 and 4 were run again');
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

test('resuming with other settings is refused with E_STATE', async () => {
  const ck = join(dir, 'settings.ckpt');
  await runTraining({
    settings: settings(1),
    model: model(),
    train: data(),
    reporter: quiet,
    checkpoint: ck,
  });
  await assert.rejects(
    runTraining({
      settings: { ...settings(2), batchSize: 2 },
      model: model(),
      train: data(),
      reporter: quiet,
      resume: ck,
    }),
    (e: unknown) => isTeeError(e, 'E_STATE'),
  );
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
