// The three model fixtures of ../shared/fixtures/models (PyTorch 1.13 / torchvision 0.14, float64
// truth): fixture-init the torchvision structure, then eval logits, one train step (logits, loss,
// sampled gradients and their norms), a second step's loss, parameters and BatchNorm buffers after the
// two steps, and eval logits after — with the README's tolerances. Runs on the engine's kernels.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createModel } from '../../src/models/registry.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { SGD } from '../../src/nn/sgd.js';
import { predict, trainStep } from '../../src/nn/train-step.js';
import { fixtureInit, fixtureInitModel } from '../../src/tensor/fixture-init.js';
import { Tensor } from '../../src/tensor/tensor.js';
import {
  assertClose,
  assertFixtureGrads,
  assertRelative,
  Fixture,
  fixtureFiles,
  maxAbs,
  suffixes,
} from '../fixtures-util.js';

const ALL = ['alexnet_64_b2_s1', 'resnet18_64_b4_s1', 'vgg19_bn_32_b2_s1'];

async function runFixture(f: Fixture): Promise<void> {
  const seed = f.num('seed');
  const model = createModel(f.meta.model!, { numClasses: f.num('num_classes'), dropout: f.num('dropout') });
  const entries = model.stateEntries();
  const byName = new Map(entries.map((e) => [e.name, e]));
  const params = new Map(model.namedParameters());
  fixtureInitModel(entries, seed);

  // The input is fixture-initialised too: it must come out bit for bit as stored.
  const inputShape = f.shape('input');
  const input = new Tensor(inputShape, fixtureInit('input', f.f32('input').length, 1, seed));
  assert.deepEqual(
    new Uint32Array(input.data.buffer),
    new Uint32Array(f.f32('input').buffer),
    'fixture-init input differs from the stored one',
  );
  const labels = f.i64('labels');

  const logitsBefore = await predict(model, input);
  assertRelative(logitsBefore.data, f.f32('logits_eval_before'), 1e-3, 'logits_eval_before');

  const loss = new CrossEntropyLoss();
  const opt = new SGD(model.parameters(), {
    lr: f.num('lr'),
    momentum: f.num('momentum'),
    weightDecay: f.num('weight_decay'),
  });
  const step0 = await trainStep(model, loss, opt, input, labels);
  assertRelative(step0.logits.data, f.f32('logits_train_step0'), 1e-3, 'logits_train_step0');
  assertRelative([step0.loss], f.f32('loss_step0'), 1e-3, 'loss_step0');

  // Gradients of the first step (step() does not clear them).
  assertFixtureGrads(f, params);

  const step1 = await trainStep(model, loss, opt, input, labels);
  assertRelative([step1.loss], f.f32('loss_step1'), 1e-3, 'loss_step1');

  // Parameters and buffers after the two steps: relative 1e-4 of the tensor's largest value.
  for (const name of suffixes(f, 'param_idx.')) {
    const e = byName.get(name);
    assert.ok(e && e.data instanceof Float32Array, `model has no float state ${name}`);
    const data = e.data;
    const expected = f.f32(`param_sample_after.${name}`);
    const got = Array.from(f.i64(`param_idx.${name}`), (i) => data[Number(i)]!);
    assertClose(got, expected, 1e-4 * maxAbs(expected), `param_sample_after.${name}`);
  }
  for (const name of suffixes(f, 'buffer_after.')) {
    const e = byName.get(name);
    assert.ok(e, `model has no buffer ${name}`);
    if (e.data instanceof BigInt64Array) {
      assert.deepEqual(e.data, f.i64(`buffer_after.${name}`), `buffer_after.${name}`);
    } else {
      const expected = f.f32(`buffer_after.${name}`);
      assertClose(e.data, expected, 1e-4 * maxAbs(expected), `buffer_after.${name}`);
    }
  }

  const logitsAfter = await predict(model, input);
  assertRelative(logitsAfter.data, f.f32('logits_eval_after'), 1e-3, 'logits_eval_after');
}

describe('model fixtures (torchvision, fixture init, two SGD steps)', () => {
  const files = fixtureFiles('models');

  it('finds the three model fixtures', () => {
    assert.deepEqual(
      files.map((p) => new Fixture(p).name),
      ALL,
    );
  });

  for (const path of files) {
    const f = new Fixture(path);
    it(`matches PyTorch on ${f.name}`, async () => {
      await runFixture(f);
    });
  }
});
