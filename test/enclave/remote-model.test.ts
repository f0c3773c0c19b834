// Whole layers and a whole model through RemoteLinearOps over the in-process transport: the PyTorch layer
// fixtures (conv, linear) match within the fixtures' tolerances in float mode and within the documented
// quantization bound in exact mode; ResNet-18 (fixture init, 64×64, batch 4) trains two SGD steps in float
// mode exactly as the native run is judged; and in exact mode every product of a ResNet-18 training step
// stays within its own documented bound of the exact float product.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useRemoteLinearOps } from '../../src/enclave/remote-layer-labels.js';
import { type ProductTrace, RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import type { ConvParams, LinearOps } from '../../src/kernels/linear-ops.js';
import { createModel } from '../../src/models/registry.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { CrossEntropyLoss } from '../../src/nn/cross-entropy.js';
import { setLinearOps } from '../../src/nn/layer.js';
import { Linear } from '../../src/nn/linear.js';
import { SGD } from '../../src/nn/sgd.js';
import { predict, trainStep } from '../../src/nn/train-step.js';
import { fixtureInit, fixtureInitModel } from '../../src/tensor/fixture-init.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { LinearOpKind, ProductParams } from '../../src/verify/product-geometry.js';
import {
  assertClose,
  assertFixtureGrads,
  assertRelative,
  Fixture,
  fixtureFiles,
  fixturePath,
  layerTolerance,
  maxAbs,
} from '../fixtures-util.js';
import { randomFloats } from '../verify/cases.js';
import { floatReference } from '../verify/modp-reference.js';
import { InProcessTransport } from './remote-test-transport.js';

type Mode = 'float' | 'exact';

/** Runs a conv or linear fixture on `ops`; `slack(name)` widens the tolerance of each checked tensor. */
async function runLayerFixture(f: Fixture, ops: LinearOps, slack: (tensor: string) => number): Promise<void> {
  const hasBias = f.num('bias') === 1;
  let layer: Conv2d | Linear;
  if (f.meta.op === 'conv2d') {
    const [o, c, k] = f.shape('weight') as [number, number, number];
    layer = new Conv2d(c, o, k, {
      linearOps: ops,
      stride: f.num('stride'),
      padding: f.num('padding'),
      bias: hasBias,
    });
  } else {
    const [o, i] = f.shape('weight') as [number, number];
    layer = new Linear(i, o, { linearOps: ops, bias: hasBias });
  }
  layer.weight.data.set(f.f32('weight'));
  if (hasBias) layer.bias!.data.set(f.f32('bias'));
  const check = (got: ArrayLike<number>, name: string, product: string): void => {
    const expected = f.f32(name);
    assertClose(got, expected, layerTolerance(f, expected) + slack(product), `${f.name} ${name}`);
  };
  const y = await layer.forward(f.tensor('input'));
  check(y.data, 'expected.output', 'forward');
  const dx = await layer.backward(f.tensor('grad_output'));
  check(dx.data, 'expected.grad_input', 'gradInput');
  check(layer.weight.grad, 'expected.grad_weight', 'gradWeight');
  if (hasBias) check(layer.bias!.grad, 'expected.grad_bias', 'none');
}

function productKind(op: LinearOpKind): string {
  return op === 'dense' || op === 'conv2d'
    ? 'forward'
    : op.endsWith('GradInput')
      ? 'gradInput'
      : 'gradWeight';
}

describe('layer fixtures through RemoteLinearOps', () => {
  const files = fixtureFiles('layers').filter((p) => /\/(conv_|linear_)/.test(p));

  it('finds the conv and linear fixtures', () => {
    assert.ok(files.length >= 8, `${files.length} fixtures`);
  });

  for (const [mode, gpu] of [
    ['float', false],
    ['exact', false],
    ['float', true],
    ['exact', true],
  ] as [Mode, boolean][]) {
    for (const path of files) {
      const f = new Fixture(path);
      it(`matches PyTorch on ${f.name} in ${mode} mode (${mode === 'float' ? 'fixture tolerance' : 'plus the quantization bound'})${gpu ? ', products on the GPU backend (emulated)' : ''}`, async () => {
        const bounds = new Map<string, number>();
        const remote = new RemoteLinearOps(new InProcessTransport(gpu ? { gpu: 'emulated' } : {}), {
          integrity: mode,
          onProduct: (t) => bounds.set(productKind(t.op), t.errorBound ?? 0),
        });
        await runLayerFixture(f, remote, (product) => (mode === 'float' ? 0 : (bounds.get(product) ?? 0)));
        assert.equal(remote.stats().total.failures, 0);
      });
    }
  }
});

describe('ResNet-18 through RemoteLinearOps', () => {
  for (const gpu of [false, true])
    it(`float mode reproduces the PyTorch fixture resnet18_64_b4_s1: eval logits, two SGD steps, gradients${gpu ? ' (products on the GPU backend, emulated)' : ''}`, async () => {
      const f = new Fixture(fixturePath('models', 'resnet18_64_b4_s1.safetensors'));
      const seed = f.num('seed');
      const model = createModel(f.meta.model!, {
        numClasses: f.num('num_classes'),
        dropout: f.num('dropout'),
      });
      fixtureInitModel(model.stateEntries(), seed);
      const remote = new RemoteLinearOps(new InProcessTransport(gpu ? { gpu: 'emulated' } : {}), {
        integrity: 'float',
      });
      useRemoteLinearOps(model, remote);
      const input = new Tensor(f.shape('input'), fixtureInit('input', f.f32('input').length, 1, seed));
      const labels = f.i64('labels');

      assertRelative(
        (await predict(model, input)).data,
        f.f32('logits_eval_before'),
        1e-3,
        'logits_eval_before',
      );
      const loss = new CrossEntropyLoss();
      const opt = new SGD(model.parameters(), {
        lr: f.num('lr'),
        momentum: f.num('momentum'),
        weightDecay: f.num('weight_decay'),
      });
      const step0 = await trainStep(model, loss, opt, input, labels);
      assertRelative(step0.logits.data, f.f32('logits_train_step0'), 1e-3, 'logits_train_step0');
      assertRelative([step0.loss], f.f32('loss_step0'), 1e-3, 'loss_step0');
      assertFixtureGrads(f, new Map(model.namedParameters()));
      const step1 = await trainStep(model, loss, opt, input, labels);
      assertRelative([step1.loss], f.f32('loss_step1'), 1e-3, 'loss_step1');
      assertRelative(
        (await predict(model, input)).data,
        f.f32('logits_eval_after'),
        1e-3,
        'logits_eval_after',
      );

      const s = remote.stats();
      assert.equal(s.total.failures, 0);
      assert.ok(
        s.byLayer.conv1 && s.byLayer['layer4.1.conv2'] && s.byLayer.fc,
        'per-layer stats under torchvision names',
      );
      assert.equal(s.byLayer.fc!.calls, 2 + 2 * 3, 'fc: 2 eval forwards + 2 steps × 3 products');
    });

  for (const gpu of [false, true])
    it(`exact mode keeps every product of a ResNet-18 training step within its documented bound${gpu ? ' (products on the GPU backend, emulated)' : ''}`, async (t) => {
      // Every product the model asks for is also computed here in float64 from the same operands, and the
      // dequantized exact-mode result must lie within that product's errorBound (docs/integrity.md).
      const rng = new SeededRng(61);
      const model = createModel('resnet18', { numClasses: 10 });
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(new InProcessTransport(gpu ? { gpu: 'emulated' } : {}), {
        onProduct: (tr) => traces.push(tr),
      });
      let checked = 0;
      let worst = 0;
      const checkedOps = checking(remote, (op, a, b, params, got) => {
        // A layer's two backward products run concurrently: take this op's own trace.
        const tr = traces.filter((x) => x.op === op).at(-1)!;
        const want = floatReference(
          op,
          { shape: a.shape, data: a.data },
          { shape: b.shape, data: b.data },
          params,
        ).data;
        for (let i = 0; i < got.size; i++) {
          const err = Math.abs(got.data[i]! - want[i]!);
          worst = Math.max(worst, err / tr.errorBound!);
          assert.ok(err <= tr.errorBound!, `${op}: |${got.data[i]} − ${want[i]}| > ${tr.errorBound}`);
        }
        checked++;
      });
      setLinearOps(model, checkedOps);
      const input = new Tensor([2, 3, 32, 32], randomFloats(2 * 3 * 32 * 32, rng, 2));
      const labels = new BigInt64Array([3n, 7n]);
      const loss = new CrossEntropyLoss();
      const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9 });
      const step = await trainStep(model, loss, opt, input, labels);
      assert.ok(Number.isFinite(step.loss));
      // 20 convolutions and fc, three products each, less the stem's input gradient (nobody needs it).
      assert.equal(checked, 21 * 3 - 1);
      t.diagnostic(`worst error / bound over ${checked} products: ${worst.toFixed(4)}`);
      const bits = traces.map((tr) => `${tr.aBits}+${tr.bBits}`);
      t.diagnostic(`scale bits (a+b) of the first products: ${bits.slice(0, 6).join(' ')}`);
    });

  it('exact-mode ResNet-18 logits stay close to the native float32 model (reported)', async (t) => {
    const rng = new SeededRng(62);
    const model = createModel('resnet18', { numClasses: 10 });
    const input = new Tensor([2, 3, 32, 32], randomFloats(2 * 3 * 32 * 32, rng, 2));
    const native = await predict(model, input);
    const remote = new RemoteLinearOps(new InProcessTransport());
    setLinearOps(model, remote);
    const exact = await predict(model, input);
    let diff = 0;
    for (let i = 0; i < native.size; i++) diff = Math.max(diff, Math.abs(native.data[i]! - exact.data[i]!));
    const rel = diff / maxAbs(native.data);
    t.diagnostic(`max |exact − native| / max |native| on the logits: ${rel.toExponential(2)}`);
    assert.ok(rel < 5e-2, `relative logit deviation ${rel}`);
  });
});

type Observer = (op: LinearOpKind, a: Tensor, b: Tensor, params: ProductParams, got: Tensor) => void;

/** A LinearOps that forwards to `inner` and shows every product to `see`. */
function checking(inner: LinearOps, see: Observer): LinearOps {
  const cp = (p: ConvParams): ProductParams => ({ stride: p.stride, padding: p.padding });
  const run = async (
    op: LinearOpKind,
    a: Tensor,
    b: Tensor,
    params: ProductParams,
    y: Promise<Tensor>,
  ): Promise<Tensor> => {
    const got = await y;
    see(op, a, b, params, got);
    return got;
  };
  return {
    name: `checking(${inner.name})`,
    dense: (x, w) => run('dense', x, w, {}, inner.dense(x, w)),
    denseGradInput: (dy, w) => run('denseGradInput', dy, w, {}, inner.denseGradInput(dy, w)),
    denseGradWeight: (dy, x) => run('denseGradWeight', dy, x, {}, inner.denseGradWeight(dy, x)),
    conv2d: (x, w, p) => run('conv2d', x, w, cp(p), inner.conv2d(x, w, p)),
    conv2dGradInput: (dy, w, p, hw) =>
      run('conv2dGradInput', dy, w, { ...cp(p), inputHW: hw }, inner.conv2dGradInput(dy, w, p, hw)),
    conv2dGradWeight: (dy, x, p, k) =>
      run('conv2dGradWeight', dy, x, { ...cp(p), k }, inner.conv2dGradWeight(dy, x, p, k)),
  };
}
