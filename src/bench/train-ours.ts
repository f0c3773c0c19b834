// Our side of a training step: torchvision-shaped model, CrossEntropyLoss, SGD (momentum 0.9, weight
// decay 5e-4) through trainStep. Before timing, one forward/backward at a small input is compared with
// the same model on the naive reference kernels (loss and every weight gradient); the timed steps at
// 224² only have to keep the loss finite.
import type { Kernels } from '../kernels/api.js';
import { kernels as engineKernels, referenceKernels } from '../kernels/index.js';
import { createModel } from '../models/index.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import { SGD } from '../nn/sgd.js';
import { trainStep } from '../nn/train-step.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import { type CheckResult, compare, fillUniform, requirePassed } from './check.js';
import type { Prepared } from './sampler.js';
import type { TrainSpec } from './workloads.js';

const CHECK_TOL = 2e-3;
// Small enough for the naive kernels, large enough that every BatchNorm sees ≥ 4 values per channel:
// with 2, the gradient through it is 0 in exact arithmetic and what comes out is rounding noise.
const CHECK_SIZE: Record<string, number> = { alexnet: 63 };
const CHECK_BATCH: Record<string, number> = { resnet18: 4, resnet34: 4 };
// A gradient that is 0 in exact arithmetic (a conv bias right before a BatchNorm) is compared against
// this fraction of the largest gradient of the model instead of against its own rounding noise.
const FLOOR = 1e-3;

function batch(spec: { batch: number; size: number; numClasses: number }, seed: number) {
  const rng = new SeededRng(seed);
  const x = new Tensor([spec.batch, 3, spec.size, spec.size]);
  fillUniform(rng, x.data);
  const labels = new Int32Array(spec.batch);
  for (let i = 0; i < labels.length; i++) labels[i] = rng.nextInt(spec.numClasses);
  return { x, labels };
}

async function gradients(
  model: string,
  k: Kernels,
  spec: { batch: number; size: number; numClasses: number },
) {
  const m = createModel(model, { numClasses: spec.numClasses, seed: 7, kernels: k });
  const loss = new CrossEntropyLoss({ kernels: k });
  const { x, labels } = batch(spec, 11);
  m.train();
  const value = await loss.forward(await m.forward(x), labels);
  await m.backward(await loss.backward());
  return { value, grads: m.namedParameters().map(([name, p]) => [name, p.grad] as const) };
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const v of a) m = Math.max(m, Math.abs(v));
  return m;
}

const checked = new Map<string, readonly CheckResult[]>();

/** Our step against the reference kernels at a small input (once per model and kernel set). */
export async function checkTrainStep(model: string, numClasses: number): Promise<readonly CheckResult[]> {
  const key = `${model}/${numClasses}`;
  const cached = checked.get(key);
  if (cached) return cached;
  const spec = { batch: CHECK_BATCH[model] ?? 2, size: CHECK_SIZE[model] ?? 32, numClasses };
  const ours = await gradients(model, engineKernels, spec);
  const ref = await gradients(model, referenceKernels, spec);
  const at = `${model} ${spec.size}² b${spec.batch}`;
  const checks: CheckResult[] = [compare(`${at} loss`, [ours.value], [ref.value], CHECK_TOL)];
  const floor = FLOOR * Math.max(...ref.grads.map(([, g]) => maxAbs(g)));
  let worst: CheckResult | null = null;
  for (let i = 0; i < ours.grads.length; i++) {
    const [name, g] = ours.grads[i]!;
    const c = compare(`${at} grad ${name}`, g, ref.grads[i]![1], CHECK_TOL, floor);
    if (worst === null || !(c.relErr <= worst.relErr)) worst = c;
  }
  if (worst) checks.push(worst);
  checked.set(key, requirePassed(checks));
  return checks;
}

export async function prepareTrain(spec: TrainSpec, opts: { check?: boolean } = {}): Promise<Prepared> {
  const checks = opts.check === false ? [] : await checkTrainStep(spec.model, spec.numClasses);
  const model = createModel(spec.model, { numClasses: spec.numClasses, seed: 0 });
  const loss = new CrossEntropyLoss();
  const optimizer = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const { x, labels } = batch(spec, 3);
  let last = Number.NaN;
  return {
    run: async () => {
      last = (await trainStep(model, loss, optimizer, x, labels)).loss;
    },
    checks,
    lastLoss: () => last,
  };
}
