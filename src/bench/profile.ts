// `tee-offload bench profile`: where one training step's time goes, ours against PyTorch's. Our step
// runs on timed kernels (per method and per shape); PyTorch's under its autograd profiler; then every
// distinct convolution (geometry × pass) of the model is timed alone on both sides, so that a slow
// kernel shows as one line with our ms and PyTorch's ms.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { TeeError } from '../errors.js';
import { kernels } from '../kernels/index.js';
import { createModel } from '../models/index.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import { enableBufferReuse } from '../nn/layer.js';
import { SGD } from '../nn/sgd.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import { fillUniform } from './check.js';
import { prepareConv } from './kernel-ours.js';
import { machineInfo } from './machine.js';
import { CATEGORIES, categoryOfMethod, categoryOfTorchOp } from './profile-categories.js';
import { type ConvLine, PHASES, type Phase, type ProfileReport } from './profile-report.js';
import { formatProfile } from './profile-table.js';
import { itersFor, sampleOnce } from './sampler.js';
import { median, sig } from './stats.js';
import { timedKernels } from './timed-kernels.js';
import { TorchSide } from './torch-side.js';
import type { ConvPass, ConvSpec } from './workloads.js';

export interface ProfileOptions {
  readonly model: string;
  readonly batch: number;
  readonly size: number;
  readonly numClasses: number;
  readonly steps: number;
  readonly threads: number;
  readonly torch: boolean;
  readonly outDir: string;
  readonly env: NodeJS.ProcessEnv;
  readonly log: (line: string) => void;
  readonly print: (text: string) => void;
}

// perf_hooks.constants.NODE_PERFORMANCE_GC_*: what each 'gc' entry's detail.kind means.
const GC_KINDS: Record<number, string> = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weak callbacks' };

const PASS_OF: Record<string, ConvPass> = {
  conv2dForward: 'forward',
  conv2dBackwardInput: 'input',
  conv2dBackwardWeight: 'weight',
};

async function profileOurs(o: ProfileOptions) {
  const timed = timedKernels(kernels);
  const k = timed.kernels;
  const model = createModel(o.model, { numClasses: o.numClasses, seed: 0, kernels: k });
  enableBufferReuse(model); // as trainStep does
  const loss = new CrossEntropyLoss({ kernels: k });
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4, kernels: k });
  const rng = new SeededRng(3);
  const x = new Tensor([o.batch, 3, o.size, o.size]);
  fillUniform(rng, x.data);
  const labels = Int32Array.from({ length: o.batch }, () => rng.nextInt(o.numClasses));
  const phases: Record<Phase, number[]> = { zeroGrad: [], forward: [], loss: [], backward: [], step: [] };
  const steps: number[] = [];
  const step = async (record: boolean) => {
    model.train();
    const t = [performance.now()];
    opt.zeroGrad();
    t.push(performance.now());
    const logits = await model.forward(x);
    t.push(performance.now());
    const value = await loss.forward(logits, labels);
    const grad = await loss.backward();
    t.push(performance.now());
    await model.backward(grad);
    t.push(performance.now());
    opt.step();
    t.push(performance.now());
    if (!Number.isFinite(value)) throw new TeeError('E_NATIVE', `${o.model}: training loss is ${value}`);
    if (!record) return;
    PHASES.forEach((p, i) => {
      phases[p].push(t[i + 1]! - t[i]!);
    });
    steps.push(t[5]! - t[0]!);
  };
  await step(false);
  timed.reset();
  // GC pauses of the main thread during the recorded steps (V8 reports each as a 'gc' entry).
  let gcMs = 0;
  const gcKinds: Record<string, { count: number; ms: number }> = {};
  const gc = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcMs += e.duration;
      const detail = (e as PerformanceEntry & { detail?: { kind?: number } }).detail;
      const kind = GC_KINDS[detail?.kind ?? 0] ?? 'other';
      gcKinds[kind] ??= { count: 0, ms: 0 };
      gcKinds[kind].count += 1 / o.steps;
      gcKinds[kind].ms += e.duration / o.steps;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < o.steps; i++) await step(true);
  // GC entries are delivered on a later turn of the event loop, not to takeRecords().
  await sleep(20);
  gc.disconnect();
  const perStep = (v: number) => sig(v / o.steps);
  const methods = [...timed.byMethod].map(([method, s]) => ({
    method,
    callsPerStep: perStep(s.calls),
    msPerStep: perStep(s.ms),
  }));
  methods.sort((a, b) => b.msPerStep - a.msPerStep);
  const shapes = [...timed.byShape].map(([shape, s]) => ({
    shape,
    callsPerStep: perStep(s.calls),
    msPerStep: perStep(s.ms),
  }));
  shapes.sort((a, b) => b.msPerStep - a.msPerStep);
  const stepMs = sig(median(steps));
  const inKernels = methods.reduce((a, m) => a + m.msPerStep, 0);
  return {
    summary: {
      stepMs,
      phasesMs: Object.fromEntries(PHASES.map((p) => [p, sig(median(phases[p]))])) as Record<Phase, number>,
      outsideKernelsMs: sig(stepMs - inKernels),
      gcMs: perStep(gcMs),
      gcKinds: Object.fromEntries(
        Object.entries(gcKinds).map(([k, v]) => [k, { count: sig(v.count, 3), ms: sig(v.ms, 3) }]),
      ),
      methods,
      shapes,
    },
    convShapes: [...timed.byShape.values()].filter((s) => s.geom !== undefined),
  };
}

/** One conv pass alone: median of 3 interleaved samples of ≈100 ms per side. */
async function convAlone(
  spec: ConvSpec,
  torch: TorchSide | null,
): Promise<{ ours: number; torch: number | null }> {
  const p = prepareConv(spec, kernels, null);
  await p.run();
  const iters = itersFor((await sampleOnce(p.run, 1)).ms, 100);
  let tIters = 0;
  if (torch) {
    await torch.prepare(spec as unknown as Record<string, unknown>);
    await torch.sample(1);
    tIters = itersFor((await torch.sample(1)).ms, 100);
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < 3; r++) {
    ours.push((await sampleOnce(p.run, iters)).ms);
    if (torch) theirs.push((await torch.sample(tIters)).ms);
  }
  if (torch) await torch.finish();
  return { ours: median(ours), torch: torch ? median(theirs) : null };
}

export async function runProfile(o: ProfileOptions): Promise<string> {
  kernels.setThreads(o.threads);
  o.log(`profiling our ${o.model} ${o.size}² b${o.batch}, ${o.steps} steps, ${o.threads} threads`);
  const ours = await profileOurs(o);
  const started = o.torch ? await TorchSide.start(o.threads, o.env) : { skipped: 'disabled by --no-torch' };
  const torch = 'skipped' in started ? null : started;
  if (!torch) o.log(`PyTorch side skipped: ${(started as { skipped: string }).skipped}`);
  try {
    let torchProfile: ProfileReport['torch'] = null;
    if (torch) {
      o.log('profiling the PyTorch step');
      const a = await torch.request({
        op: 'profile',
        model: o.model,
        batch: o.batch,
        size: o.size,
        numClasses: o.numClasses,
        steps: o.steps,
      });
      const phasesMs = a.phasesMs as Record<Phase, number>;
      torchProfile = {
        stepMs: sig(PHASES.reduce((s, p) => s + phasesMs[p], 0)),
        phasesMs,
        ops: a.ops as { name: string; selfMs: number; calls: number }[],
      };
    }
    const convs: ConvLine[] = [];
    for (const [i, s] of ours.convShapes.entries()) {
      const pass = PASS_OF[s.method]!;
      const g = s.geom!;
      o.log(`  conv ${i + 1}/${ours.convShapes.length}: ${s.method} n${g.n} c${g.c} ${g.h}² o${g.o} k${g.k}`);
      const alone = await convAlone({ kind: 'conv', pass, ...g }, torch);
      const calls = s.calls / o.steps;
      convs.push({
        shape: `n${g.n} c${g.c} ${g.h}×${g.w} o${g.o} k${g.k} s${g.stride} p${g.padding}`,
        pass,
        callsPerStep: sig(calls),
        oursInStepMs: sig(s.ms / s.calls),
        oursAloneMs: sig(alone.ours),
        torchAloneMs: alone.torch === null ? null : sig(alone.torch),
        lostMsPerStep: alone.torch === null ? null : sig((alone.ours - alone.torch) * calls),
      });
    }
    convs.sort((a, b) => (b.lostMsPerStep ?? 0) - (a.lostMsPerStep ?? 0));
    const categories = CATEGORIES.map((category) => ({
      category,
      oursMs: sig(
        ours.summary.methods
          .filter((m) => categoryOfMethod(m.method) === category)
          .reduce((a, m) => a + m.msPerStep, 0),
      ),
      torchMs: torchProfile
        ? sig(
            category === 'optimizer'
              ? torchProfile.phasesMs.step
              : torchProfile.ops
                  .filter((op) => categoryOfTorchOp(op.name) === category)
                  .reduce((a, op) => a + op.selfMs, 0),
          )
        : null,
    }));
    const report: ProfileReport = {
      kind: 'tee-offload/bench-profile',
      version: 1,
      spec: {
        model: o.model,
        batch: o.batch,
        size: o.size,
        numClasses: o.numClasses,
        steps: o.steps,
        threads: o.threads,
      },
      machine: machineInfo(kernels.name, kernels.info(), o.env),
      ours: ours.summary,
      torch: torchProfile,
      categories,
      convs,
    };
    o.print(formatProfile(report));
    const file = join(
      o.outDir,
      `bench-profile-${o.model}-b${o.batch}-s${o.size}-t${o.threads}-${Date.now()}.json`,
    );
    try {
      mkdirSync(o.outDir, { recursive: true });
      writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    } catch (e) {
      throw new TeeError('E_IO', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
    }
    o.print(`wrote ${file}`);
    return file;
  } finally {
    await torch?.close();
  }
}
