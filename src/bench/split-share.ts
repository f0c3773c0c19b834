// Benchmark (not a test): how much of a split-mode training step stays on the trusted side. One SGD
// step of a model at 224², natively and in split mode against an accelerator in another process on
// loopback; reports the trusted process's CPU time per split step as a share of a native step, and
// RemoteLinearOps' phase totals (quantize, send, receive, verify, dequantize) per measured step (the
// warm-up step is left out of both), and on Linux the accelerator process's own CPU time per step. The native step also times its six linear products: what is left
// (BatchNorm, ReLU, pooling, the loss, SGD) stays inside in split mode whatever the protocol costs — the
// floor of the trusted share in this design.
// Run: node dist/src/bench/split-share.js [model ...] [--batch B] [--integrity exact|float] [--field wide|p24] [--threads T]
//        [--steps S] [--offload-min-intensity X (default 4; 0 offloads everything)] [--max-inner K]
//        [--no-cache-gradients (each layer's dy quantized and sent for both backward products)]
//        [--accelerator-backend cpu|cuda (where the accelerator computes; default cpu)]
//        [--accelerator-threads T (the accelerator's CPU threads; default --threads)]
//        [--no-ifma (the wide check's AVX2 kernels even on a CPU with AVX-512 IFMA)]

import { readFileSync } from 'node:fs';
import { AcceleratorClient } from '../enclave/accelerator-client.js';
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from '../enclave/placement.js';
import { useRemoteLinearOps } from '../enclave/remote-layer-labels.js';
import { type IntegrityMode, RemoteLinearOps } from '../enclave/remote-linear-ops.js';
import { kernels } from '../kernels/index.js';
import type { LinearOps } from '../kernels/linear-ops.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';
import { createModel } from '../models/index.js';
import { CrossEntropyLoss } from '../nn/cross-entropy.js';
import { setLinearOps } from '../nn/layer.js';
import { SGD } from '../nn/sgd.js';
import { trainStep } from '../nn/train-step.js';
import { SeededRng } from '../tensor/seeded-rng.js';
import { Tensor } from '../tensor/tensor.js';
import { exactField } from '../verify/field.js';
import { wideKernels } from '../verify/native-wide.js';
import { startAcceleratorServer } from './experiments/servers.js';
import { flagReader } from './script-flags.js';

/** CPU time (user + system) of process `pid` so far, in ms; undefined where /proc cannot say (not Linux). */
function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    // Fields after the command name: state is field 3, utime and stime fields 14 and 15 (clock ticks).
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

// sysconf(_SC_CLK_TCK): 100 on every Linux this runs on.
const CLOCK_TICKS = 100;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** LocalLinearOps whose products add their time to `spent.ms` (they compute before they return). */
function timedLocalOps(spent: { ms: number }): LinearOps {
  const local = new LocalLinearOps(kernels);
  const timed = <A extends unknown[]>(f: (...a: A) => Promise<Tensor>) => {
    return (...a: A): Promise<Tensor> => {
      const t0 = performance.now();
      const r = f.apply(local, a);
      spent.ms += performance.now() - t0;
      return r;
    };
  };
  return {
    name: 'local (timed)',
    writesOut: local.writesOut,
    dense: timed(local.dense),
    denseGradInput: timed(local.denseGradInput),
    denseGradWeight: timed(local.denseGradWeight),
    conv2d: timed(local.conv2d),
    conv2dGradInput: timed(local.conv2dGradInput),
    conv2dGradWeight: timed(local.conv2dGradWeight),
  };
}

async function stepTimes(
  model: string,
  batch: number,
  steps: number,
  ops: RemoteLinearOps | null,
  acceleratorPid?: number,
): Promise<{
  wallMs: number[];
  cpuMs: number[];
  sysMs: number[];
  faults: number[];
  productMs: number[];
  acceleratorMs: number[];
}> {
  const net = createModel(model, { numClasses: 10, seed: 1, dropout: 0 });
  const spent = { ms: 0 };
  if (ops) useRemoteLinearOps(net, ops);
  else setLinearOps(net, timedLocalOps(spent));
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const loss = new CrossEntropyLoss();
  const rng = new SeededRng(3);
  const x = new Tensor([batch, 3, 224, 224]);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.nextFloat() * 2 - 1;
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const wallMs: number[] = [];
  const cpuMs: number[] = [];
  const sysMs: number[] = [];
  const faults: number[] = [];
  const productMs: number[] = [];
  const acceleratorMs: number[] = [];
  for (let s = 0; s <= steps; s++) {
    spent.ms = 0;
    const a0 = processCpuMs(acceleratorPid);
    const c0 = process.cpuUsage();
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = performance.now();
    await trainStep(net, loss, opt, x, labels);
    const c = process.cpuUsage(c0);
    const f1 = process.resourceUsage().minorPageFault;
    const a1 = processCpuMs(acceleratorPid);
    if (s === 0) {
      // Warm-up (first-touch pages, caches): left out of the step times and of the phase totals.
      ops?.resetStats();
      continue;
    }
    wallMs.push(performance.now() - t0);
    cpuMs.push((c.user + c.system) / 1000);
    sysMs.push(c.system / 1000);
    faults.push(f1 - f0);
    productMs.push(spent.ms);
    if (a0 !== undefined && a1 !== undefined) acceleratorMs.push(a1 - a0);
  }
  return { wallMs, cpuMs, sysMs, faults, productMs, acceleratorMs };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = flagReader(args);
  const batch = Number(flag('batch', '1'));
  const integrity = flag('integrity', 'exact') as IntegrityMode;
  const field = exactField(flag('field', 'wide')).name;
  const threads = Number(flag('threads', '1'));
  const steps = Number(flag('steps', '3'));
  const minIntensity = Number(flag('offload-min-intensity', String(DEFAULT_OFFLOAD_MIN_INTENSITY)));
  const maxInner = flag('max-inner', '');
  const accBackend = flag('accelerator-backend', 'cpu');
  const accThreads = Number(flag('accelerator-threads', String(threads)));
  const noCacheGradients = args.indexOf('--no-cache-gradients');
  if (noCacheGradients >= 0) args.splice(noCacheGradients, 1);
  // --no-ifma: the wide check's AVX2 limb kernels even where the CPU has AVX-512 IFMA (what a CPU without
  // it runs).
  const noIfma = args.indexOf('--no-ifma');
  if (noIfma >= 0) {
    args.splice(noIfma, 1);
    wideKernels.setIfma(false);
  }
  const models = args.length > 0 ? args : ['resnet18', 'alexnet', 'vgg19_bn'];
  kernels.setThreads(threads);
  const acc = await startAcceleratorServer(accThreads, ['--backend', accBackend]);
  try {
    for (const model of models) {
      const native = await stepTimes(model, batch, steps, null);
      const client = await AcceleratorClient.connect(acc.address, { deadlineMs: 600_000 });
      const ops = new RemoteLinearOps(client, {
        integrity,
        ...(integrity === 'exact' ? { field } : {}),
        offloadMinIntensity: minIntensity,
        cacheGradients: noCacheGradients < 0,
        ...(maxInner === '' ? {} : { maxInnerLength: Number(maxInner) }),
      });
      const split = await stepTimes(model, batch, steps, ops, acc.pid);
      const t = ops.stats().total;
      await client.close();
      const n = median(native.wallMs);
      const trusted = median(split.cpuMs);
      // Per step: the native step's CPU time less its products' time.
      const floor = median(native.cpuMs.map((c, i) => c - native.productMs[i]!));
      const per = (v: number) => (v / steps).toFixed(v / steps < 10 ? 1 : 0);
      console.log(
        `${model} 224² b${batch} ${integrity} (accelerator: ${accBackend}, ${accThreads} threads)${integrity === 'exact' ? ` (field ${field}${wideKernels.ifmaInUse() ? ', IFMA' : ', AVX2'})` : ''} (offload ≥ ${minIntensity} flop/B${noCacheGradients >= 0 ? ', dy sent twice' : ''}): native ${n.toFixed(0)} ms/step; split ${median(split.wallMs).toFixed(0)} ms/step wall, ` +
          `trusted-side CPU ${trusted.toFixed(0)} ms/step = ${((100 * trusted) / n).toFixed(1)}% of native ` +
          `(system ${median(split.sysMs).toFixed(0)} ms, ${median(split.faults)} page faults; native step: system ${median(native.sysMs).toFixed(0)} ms, ${median(native.faults)} faults) ` +
          `(floor: the native step less its linear products, ${floor.toFixed(0)} ms = ${((100 * floor) / n).toFixed(1)}%); ` +
          `per step: quantize ${per(t.quantizeMs)} ms, verify ${per(t.verifyMs)} ms, dequantize ${per(t.dequantizeMs)} ms, ` +
          `kept inside ${per(t.local)} products/step (${per(t.localMs)} ms), send ${per(t.sendMs)} ms, receive ${per(t.receiveMs)} ms, accelerator compute ${per(t.computeMs)} ms` +
          `${split.acceleratorMs.length > 0 ? ` (its process's CPU ${median(split.acceleratorMs).toFixed(0)} ms)` : ''}, ` +
          `${(t.bytesSent / steps / 2 ** 20).toFixed(0)} MiB out / ${(t.bytesReceived / steps / 2 ** 20).toFixed(0)} MiB in`,
      );
      // Per product type: the trusted side's check and encoding against the accelerator's own compute
      // time for the same products (same thread count; the accelerator's figure is what it reports).
      for (const [op, o] of Object.entries(ops.stats().byOp)) {
        const share = (v: number) => (o.computeMs > 0 ? `${((100 * v) / o.computeMs).toFixed(1)}%` : '-');
        console.log(
          `  ${op}: ${per(o.calls)} products/step, ${per(o.requests)} requests; verify ${per(o.verifyMs)} ms = ${share(o.verifyMs)} of accelerator compute ${per(o.computeMs)} ms; ` +
            `quantize ${per(o.quantizeMs)} ms = ${share(o.quantizeMs)}; dequantize ${per(o.dequantizeMs)} ms; ` +
            `${(o.bytesSent / steps / 2 ** 20).toFixed(0)} MiB out (${(o.bytesCached / steps / 2 ** 20).toFixed(0)} MiB cached)`,
        );
      }
    }
  } finally {
    await acc.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
