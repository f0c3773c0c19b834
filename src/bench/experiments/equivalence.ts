// `bench equivalence`: the same inference (eval-mode logits) and the same training step (loss and every
// weight gradient) in every mode and thread count, against native at the first thread count; max |Δ| per
// quantity, judged against the tolerance the design gives that mode:
//   native, any threads    bit-identical (deterministic kernels are the default): tolerance 0;
//   enclave                bit-identical (the same engine in the trusted process): tolerance 0. The session
//                          returns the loss and the final weights, not logits or gradients, so enclave mode
//                          is compared on 'loss' and 'weights' (worst parameter after one SGD step);
//   split-float, accelerator  float32 products in another process: the fixtures' model tolerances
//                          (../shared/fixtures/README.md): logits and loss 1e-3 relative, each gradient
//                          1e-2·max(max|ref|, 1e-5·G), G the largest gradient L2 norm;
//   split-exact            fixed point mod p (docs/integrity.md): the per-product error bound is ~K·2^-s
//                          relative and typically √K smaller; end to end that is ~1e-2 of the largest logit,
//                          so logits and loss 5e-2 relative, gradients 0.25·max(max|ref|, 1e-3·G).
// Inputs: the trainer's own first batch of seeded synthetic images (what the trusted process trains on).
import { DataLoader } from '../../data/data-loader.js';
import { defaultTransforms } from '../../data/default-transforms.js';
import { openDataset } from '../../data/open-dataset.js';
import { AcceleratorPool } from '../../enclave/accelerator-pool.js';
import { useRemoteLinearOps } from '../../enclave/remote-layer-labels.js';
import { RemoteLinearOps } from '../../enclave/remote-linear-ops.js';
import { parseSafetensors } from '../../io/safetensors.js';
import { kernels } from '../../kernels/index.js';
import { createModel } from '../../models/index.js';
import { CrossEntropyLoss } from '../../nn/cross-entropy.js';
import { predict } from '../../nn/train-step.js';
import { sig } from '../stats.js';
import { type ExperimentContext, errorText, NUM_CLASSES } from './options.js';
import type { EquivalenceRecord, RunMode } from './schema.js';
import { remoteChoice } from './split-modes.js';
import { checkModelName, type TrainSpec, trainInMode } from './train-run.js';
import { RUN_MODES } from './validate.js';

export const EQUIVALENCE_DEFAULTS = { model: 'resnet18', size: 32, batch: 4, threadCounts: [1, 2] } as const;

/** Relative tolerances per mode (see the file comment); 0 where bit identity is promised. */
export const TOLERANCE: Record<RunMode, { value: number; grad: number; gradFloor: number }> = {
  native: { value: 0, grad: 0, gradFloor: 0 },
  enclave: { value: 0, grad: 0, gradFloor: 0 },
  'split-float': { value: 1e-3, grad: 1e-2, gradFloor: 1e-5 },
  accelerator: { value: 1e-3, grad: 1e-2, gradFloor: 1e-5 },
  'split-exact': { value: 5e-2, grad: 0.25, gradFloor: 1e-3 },
  'split-exact-p24': { value: 5e-2, grad: 0.25, gradFloor: 1e-3 },
};

export function bitIdenticalExpected(mode: RunMode): boolean {
  return mode === 'native' || mode === 'enclave';
}

interface Outputs {
  logits: Float32Array;
  loss: number;
  grads: [string, Float32Array][];
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`lengths differ: ${a.length} and ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN wins
  }
  return m;
}

function l2(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return Math.sqrt(s);
}

/** The trainer's first batch: same loader, seed and transform as runTraining (train-run.ts settings). */
function firstBatch(size: number, batch: number) {
  const ds = openDataset(`synthetic:${batch}`, { split: 'train', channels: 3, numClasses: NUM_CLASSES });
  const loader = new DataLoader(ds, {
    batchSize: batch,
    seed: 0,
    shuffle: true,
    transform: defaultTransforms(ds, { augment: false, imageSize: size }),
  });
  return loader.next()!;
}

async function inProcess(
  ctx: ExperimentContext,
  model: string,
  size: number,
  batch: number,
  mode: RunMode,
  threads: number,
): Promise<Outputs> {
  checkModelName(model);
  kernels.setThreads(threads);
  const net = createModel(model, { numClasses: NUM_CLASSES, seed: 0, dropout: 0 });
  const choice = remoteChoice(mode) ?? { integrity: 'off' };
  const pool = mode === 'native' ? null : await AcceleratorPool.connect([await ctx.servers.accelerator()]);
  try {
    if (pool) useRemoteLinearOps(net, new RemoteLinearOps(pool, { ...choice, warn: () => {} }));
    const b = firstBatch(size, batch);
    const logits = (await predict(net, b.input)).data.slice();
    const loss = new CrossEntropyLoss();
    net.train();
    net.zeroGrad();
    const value = await loss.forward(await net.forward(b.input), b.labels);
    await net.backward(await loss.backward());
    return { logits, loss: value, grads: net.namedParameters().map(([n, p]) => [n, p.grad.slice()]) };
  } finally {
    await pool?.close();
  }
}

/** Weights after one trainer step: in this process (native) or from the trusted process's final state. */
async function weightsAfterStep(
  ctx: ExperimentContext,
  spec: TrainSpec,
  mode: 'native' | 'enclave',
): Promise<{ loss: number; weights: Map<string, Float32Array> }> {
  const r = await trainInMode(spec, mode, ctx.servers);
  const weights = new Map<string, Float32Array>();
  if (r.model) {
    for (const [n, p] of r.model.namedParameters()) weights.set(n, p.data.slice());
  } else if (r.state) {
    for (const [n, t] of parseSafetensors(r.state, 'the trusted process’s final model').tensors) {
      if (t.dtype === 'F32') weights.set(n, new Float32Array(t.data.slice().buffer));
    }
  } else throw new Error('the run returned no model');
  return { loss: r.losses[0] ?? Number.NaN, weights };
}

export async function runEquivalence(ctx: ExperimentContext) {
  const o = ctx.options;
  const model = o.models?.[0] ?? EQUIVALENCE_DEFAULTS.model;
  const size = o.sizes?.[0] ?? EQUIVALENCE_DEFAULTS.size;
  const batch = o.batches?.[0] ?? EQUIVALENCE_DEFAULTS.batch;
  const threadCounts = o.threadCounts ?? EQUIVALENCE_DEFAULTS.threadCounts;
  const modes = o.modes ?? RUN_MODES;
  const refThreads = threadCounts[0]!;
  const records: EquivalenceRecord[] = [];
  const fail = (
    mode: RunMode,
    threads: number,
    phase: EquivalenceRecord['phase'],
    quantity: string,
    e: unknown,
  ) => {
    records.push({
      model,
      mode,
      threads,
      phase,
      quantity,
      tolerance: 0,
      bitIdenticalExpected: bitIdenticalExpected(mode),
      error: errorText(e),
    });
  };
  const compare = (
    mode: RunMode,
    threads: number,
    phase: EquivalenceRecord['phase'],
    quantity: string,
    got: ArrayLike<number>,
    ref: ArrayLike<number>,
    tolerance: number,
  ): EquivalenceRecord => {
    const d = maxAbsDiff(got, ref);
    return {
      model,
      mode,
      threads,
      phase,
      quantity,
      maxAbsDiff: Number.isNaN(d) ? Number.MAX_VALUE : d,
      maxAbsRef: maxAbs(ref),
      tolerance: sig(tolerance, 3),
      bitIdenticalExpected: bitIdenticalExpected(mode),
      pass: d <= tolerance,
    };
  };

  ctx.log(`${model} ${size}² b${batch}: reference native, ${refThreads} thread(s)`);
  let ref: Outputs;
  try {
    ref = await inProcess(ctx, model, size, batch, 'native', refThreads);
  } catch (e) {
    ctx.log(`reference failed: ${errorText(e)}`);
    for (const mode of modes) for (const t of threadCounts) fail(mode, t, 'train-step', 'loss', e);
    return {
      settings: { model, size, batch, threadCounts, modes, reference: `native@${refThreads}` },
      records,
    };
  }
  let gNorm = 0;
  for (const [, g] of ref.grads) gNorm = Math.max(gNorm, l2(g));
  const spec: TrainSpec = { model, size, batch, images: batch, threads: refThreads, dropout: 0, seed: 0 };
  let refStep: { loss: number; weights: Map<string, Float32Array> } | Error | null = null;

  const total = modes.length * threadCounts.length;
  let n = 0;
  for (const mode of modes) {
    for (const threads of threadCounts) {
      n++;
      ctx.log(`${model} ${size}² b${batch} ${mode}, ${threads} thread(s) (${n}/${total})`);
      const tol = TOLERANCE[mode];
      if (mode === 'enclave') {
        try {
          refStep ??= await weightsAfterStep(ctx, spec, 'native').catch((e: unknown) => e as Error);
          if (refStep instanceof Error) throw refStep;
          const got = await weightsAfterStep(ctx, { ...spec, threads }, 'enclave');
          records.push(compare(mode, threads, 'train-step', 'loss', [got.loss], [refStep.loss], 0));
          let worst: EquivalenceRecord | null = null;
          for (const [name, w] of refStep.weights) {
            const g = got.weights.get(name);
            if (g === undefined) throw new Error(`the trusted process's final model has no '${name}'`);
            const r = compare(mode, threads, 'train-step', 'weights', g, w, 0);
            if (worst === null || r.maxAbsDiff! > worst.maxAbsDiff!) worst = r;
          }
          if (worst) records.push(worst);
        } catch (e) {
          ctx.log(`  failed: ${errorText(e)}`);
          fail(mode, threads, 'train-step', 'loss', e);
        }
        continue;
      }
      let out: Outputs;
      try {
        out = await inProcess(ctx, model, size, batch, mode, threads);
      } catch (e) {
        ctx.log(`  failed: ${errorText(e)}`);
        fail(mode, threads, 'inference', 'logits', e);
        fail(mode, threads, 'train-step', 'loss', e);
        continue;
      }
      records.push(
        compare(mode, threads, 'inference', 'logits', out.logits, ref.logits, tol.value * maxAbs(ref.logits)),
      );
      records.push(
        compare(mode, threads, 'train-step', 'loss', [out.loss], [ref.loss], tol.value * Math.abs(ref.loss)),
      );
      let worst: EquivalenceRecord | null = null;
      const refGrads = new Map(ref.grads);
      for (const [name, g] of out.grads) {
        const r0 = refGrads.get(name)!;
        const t = tol.grad * Math.max(maxAbs(r0), tol.gradFloor * gNorm);
        const r = compare(mode, threads, 'train-step', `grad:${name}`, g, r0, t);
        records.push(r);
        // The worst gradient: the largest share of its tolerance (or of its scale, at tolerance 0).
        const share = (x: EquivalenceRecord) =>
          x.maxAbsDiff! / (x.tolerance > 0 ? x.tolerance : Math.max(x.maxAbsRef!, 1e-30));
        if (worst === null || share(r) > share(worst)) worst = r;
      }
      if (worst) records.push({ ...worst, quantity: 'grads' });
      const bad = records.filter((r) => r.mode === mode && r.threads === threads && r.pass === false).length;
      ctx.log(`  ${bad === 0 ? 'all within tolerance' : `${bad} quantities outside tolerance`}`);
    }
  }
  return {
    settings: {
      model,
      size,
      batch,
      threadCounts,
      modes,
      reference: `native@${refThreads}`,
      tolerances: TOLERANCE,
    },
    records,
  };
}
