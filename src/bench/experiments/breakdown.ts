// `bench breakdown`: where one split-mode training step goes, by kind and by layer (the prototype's VGG19
// table). This process plays the trusted side: the model's products go through RemoteLinearOps to the
// experiment's accelerator, each layer through its labelled view, so RemoteStats.byLayer gives each
// layer's quantize/send/accelerator/receive/verify/unblind time; every leaf layer's forward+backward wall
// time is taken by wrapping it from outside (layer-timer.ts); what a conv/linear layer spends outside the
// protocol phases (bias, im2col of the checks' folding, waiting) is its own kind. Loss and optimizer are
// timed around their calls; 'other' is the rest of the step (Flatten, Dropout, residual additions, glue).
import { AcceleratorPool } from '../../enclave/accelerator-pool.js';
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from '../../enclave/placement.js';
import { useRemoteLinearOps } from '../../enclave/remote-layer-labels.js';
import { RemoteLinearOps } from '../../enclave/remote-linear-ops.js';
import type { PhaseTotals } from '../../enclave/remote-stats.js';
import { kernels } from '../../kernels/index.js';
import { createModel } from '../../models/index.js';
import { CrossEntropyLoss } from '../../nn/cross-entropy.js';
import { SGD } from '../../nn/sgd.js';
import { SeededRng } from '../../tensor/seeded-rng.js';
import { Tensor } from '../../tensor/tensor.js';
import { fillUniform } from '../check.js';
import { median, sig } from '../stats.js';
import { kindOfLayerType, timeLayers } from './layer-timer.js';
import { DEFAULT_MODELS, type ExperimentContext, errorText, NUM_CLASSES, sizesOf } from './options.js';
import type { BreakdownKind, BreakdownRecord, RunMode } from './schema.js';
import { isSplitMode, remoteChoice } from './split-modes.js';
import { checkModelName } from './train-run.js';
import { BREAKDOWN_KINDS } from './validate.js';

type Phases = Partial<Record<BreakdownKind, number>>;

/** RemoteStats phase totals as breakdown kinds (compute is what the accelerator reports). */
export function phasesOf(t: PhaseTotals | undefined): Phases {
  if (t === undefined) return {};
  return {
    quantize: t.quantizeMs,
    send: t.sendMs,
    accelerator: t.computeMs,
    receive: t.receiveMs,
    verify: t.verifyMs,
    unblind: t.dequantizeMs,
  };
}

interface StepSample {
  totalMs: number;
  byKind: Map<BreakdownKind, number>;
  byLayer: Map<string, { type: string; ms: number; phases: Phases }>;
  bytesSent: number;
  bytesReceived: number;
  checks: number;
  checksPassed: number;
}

async function breakdownOne(
  ctx: ExperimentContext,
  model: string,
  size: number,
  batch: number,
  mode: RunMode,
  what: string,
): Promise<BreakdownRecord> {
  checkModelName(model);
  if (mode === 'enclave')
    throw new RangeError(
      'enclave mode runs inside the trusted process: its layers cannot be timed from here',
    );
  const choice = remoteChoice(mode);
  // Split modes share the cores between this (trusted) process and the accelerator, as `demo` does.
  const threads = isSplitMode(mode) ? ctx.splitThreads : { trusted: ctx.threads, accelerator: ctx.threads };
  kernels.setThreads(threads.trusted);
  const pool =
    choice === undefined
      ? null
      : await AcceleratorPool.connect([await ctx.servers.accelerator(threads.accelerator)]);
  try {
    const net = createModel(model, { numClasses: NUM_CLASSES, seed: 0 });
    // Split modes place products as a split job does (job-setup.ts): below the default intensity a product
    // stays inside. Accelerator mode (the unprotected baseline) sends every product.
    const placement = isSplitMode(mode) ? { offloadMinIntensity: DEFAULT_OFFLOAD_MIN_INTENSITY } : {};
    const remote =
      pool === null || choice === undefined
        ? null
        : new RemoteLinearOps(pool, { ...choice, ...placement, warn: () => {} });
    if (remote) useRemoteLinearOps(net, remote);
    const timer = timeLayers(net);
    const loss = new CrossEntropyLoss();
    const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
    const rng = new SeededRng(3);
    const x = new Tensor([batch, 3, size, size]);
    fillUniform(rng, x.data);
    const labels = Int32Array.from({ length: batch }, () => rng.nextInt(NUM_CLASSES));
    const step = async (): Promise<StepSample> => {
      remote?.resetStats();
      timer.reset();
      const t0 = performance.now();
      net.train();
      opt.zeroGrad();
      const t1 = performance.now();
      const logits = await net.forward(x);
      const t2 = performance.now();
      const value = await loss.forward(logits, labels);
      const grad = await loss.backward();
      const t3 = performance.now();
      await net.backward(grad);
      const t4 = performance.now();
      opt.step();
      const t5 = performance.now();
      if (!Number.isFinite(value)) throw new RangeError(`the training loss is ${value}`);
      const stats = remote?.stats();
      const byKind = new Map<BreakdownKind, number>(BREAKDOWN_KINDS.map((k) => [k, 0]));
      const add = (k: BreakdownKind, ms: number) => byKind.set(k, byKind.get(k)! + ms);
      const byLayer = new Map<string, { type: string; ms: number; phases: Phases }>();
      for (const l of timer.layers) {
        const phases = phasesOf(stats?.byLayer[l.layer]);
        let inPhases = 0;
        for (const [k, ms] of Object.entries(phases) as [BreakdownKind, number][]) {
          add(k, ms);
          inPhases += ms;
        }
        const own = Math.max(0, l.ms - inPhases);
        if (l.composite) {
          // e.g. a BasicBlock's own work: its second ReLU, and the residual addition ('other').
          const relu = Math.min(own, l.reluMs);
          add('relu', relu);
          add('other', own - relu);
          byLayer.set(l.layer, { type: l.type, ms: l.ms, phases: { ...phases, relu, other: own - relu } });
        } else {
          const kind = kindOfLayerType(l.type);
          add(kind, own);
          byLayer.set(l.layer, { type: l.type, ms: l.ms, phases: { ...phases, [kind]: own } });
        }
      }
      add('loss', t3 - t2);
      add('optimizer', t1 - t0 + (t5 - t4));
      const totalMs = t5 - t0;
      let accounted = 0;
      for (const v of byKind.values()) accounted += v;
      add('other', Math.max(0, totalMs - accounted));
      const t = stats?.total;
      return {
        totalMs,
        byKind,
        byLayer,
        bytesSent: t?.bytesSent ?? 0,
        bytesReceived: t?.bytesReceived ?? 0,
        checks: choice?.integrity === 'off' || t === undefined ? 0 : t.calls + t.failures,
        checksPassed: choice?.integrity === 'off' || t === undefined ? 0 : t.calls,
      };
    };
    try {
      for (let i = 0; i < ctx.warmup; i++) {
        ctx.log(`${what}: warm-up ${i + 1}/${ctx.warmup}`);
        await step();
      }
      const samples: StepSample[] = [];
      for (let i = 0; i < ctx.repeats; i++) {
        samples.push(await step());
        ctx.log(`${what}: sample ${i + 1}/${ctx.repeats} ${samples.at(-1)!.totalMs.toFixed(0)} ms`);
      }
      const med = (f: (s: StepSample) => number) => sig(median(samples.map(f)));
      const last = samples.at(-1)!;
      return {
        model,
        size,
        batch,
        mode,
        totalMs: med((s) => s.totalMs),
        byKind: BREAKDOWN_KINDS.map((kind) => ({ kind, ms: med((s) => s.byKind.get(kind)!) })),
        byLayer: [...last.byLayer].map(([layer, l]) => ({
          layer,
          type: l.type,
          ms: med((s) => s.byLayer.get(layer)!.ms),
          phases: Object.fromEntries(
            Object.keys(l.phases).map((k) => [
              k,
              med((s) => s.byLayer.get(layer)!.phases[k as BreakdownKind] ?? 0),
            ]),
          ),
        })),
        ...(remote
          ? {
              bytesSent: last.bytesSent,
              bytesReceived: last.bytesReceived,
              checks: last.checks,
              checksPassed: last.checksPassed,
            }
          : {}),
      };
    } finally {
      timer.restore();
    }
  } finally {
    await pool?.close();
  }
}

export async function runBreakdown(ctx: ExperimentContext) {
  const o = ctx.options;
  const models = o.models ?? DEFAULT_MODELS;
  const size = sizesOf(ctx, 224, 64)[0]!;
  const batch = o.batches?.[0] ?? 1;
  const modes = o.modes ?? (['split-exact', 'split-float'] as const);
  const records: BreakdownRecord[] = [];
  const total = models.length * modes.length;
  let n = 0;
  for (const model of models) {
    for (const mode of modes) {
      n++;
      const what = `${model} ${size}² b${batch} ${mode} (${n}/${total})`;
      try {
        records.push(await breakdownOne(ctx, model, size, batch, mode, what));
      } catch (e) {
        ctx.log(`${what}: failed: ${errorText(e)}`);
        records.push({ model, size, batch, mode, error: errorText(e) });
      }
    }
  }
  return { settings: { models, size, batch, modes }, records };
}
