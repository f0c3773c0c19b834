// `tee-offload bench split-share` (and `node dist/src/bench/split-share.js`): how much of a split-mode
// training step stays on the trusted side. One SGD step of each model, natively and in split mode against
// an accelerator in another process on loopback; reports the trusted process's CPU time per split step as
// a share of a native step, RemoteLinearOps' phase totals (quantize, send, receive, verify, dequantize)
// per measured step (the warm-up step is left out of both), and on Linux the accelerator process's own
// CPU time per step. The native step also times its six linear products: what is left (BatchNorm, ReLU,
// pooling, the loss, SGD) stays inside in split mode whatever the protocol costs — the floor of the
// trusted share in this design. One line per model and one per product type on stdout; the whole
// report as JSON (schema tee-offload/split-share@1) in the output folder.
import { readFileSync } from 'node:fs';
import { AcceleratorClient } from '../enclave/accelerator-client.js';
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
import type { ExactFieldName } from '../verify/field.js';
import { wideKernels } from '../verify/native-wide.js';
import { startAcceleratorServer } from './experiments/servers.js';
import { type MachineInfo, machineInfo } from './machine.js';
import { writeJson } from './side-suites.js';

export interface SplitShareOptions {
  readonly models: readonly string[];
  readonly batch: number;
  /** Input side (default 224). */
  readonly size: number;
  readonly integrity: IntegrityMode;
  /** exact integrity's field. */
  readonly field: ExactFieldName;
  /** Kernel threads of the trusted side (this process). */
  readonly threads: number;
  /** Measured steps after one warm-up step, per side. */
  readonly steps: number;
  readonly offloadMinIntensity: number;
  readonly maxInnerLength?: number;
  /** false: each layer's dy quantized and sent for both backward products. */
  readonly cacheGradients: boolean;
  readonly acceleratorBackend: 'cpu' | 'cuda' | 'emulated';
  readonly acceleratorThreads: number;
  /** false: the wide check's AVX2 limb kernels even on a CPU with AVX-512 IFMA. */
  readonly ifma: boolean;
  /** Where the JSON goes; none written when undefined. */
  readonly outDir?: string;
  readonly log: (line: string) => void;
  readonly print: (text: string) => void;
}

/** Per product type, per measured step (ms, MiB). */
export interface SplitShareOp {
  readonly op: string;
  readonly products: number;
  readonly requests: number;
  readonly verifyMs: number;
  readonly quantizeMs: number;
  readonly dequantizeMs: number;
  readonly computeMs: number;
  readonly sentMiB: number;
  readonly cachedMiB: number;
}

/** One model's figures: medians of the measured steps (ms) and the phase totals per step. */
export interface SplitShareRow {
  readonly model: string;
  readonly nativeMs: number;
  readonly splitWallMs: number;
  readonly trustedCpuMs: number;
  /** trustedCpuMs / nativeMs. */
  readonly trustedShare: number;
  readonly trustedSystemMs: number;
  readonly trustedPageFaults: number;
  readonly nativeSystemMs: number;
  readonly nativePageFaults: number;
  /** The native step's CPU time less its linear products: what stays inside in any split. */
  readonly floorMs: number;
  readonly quantizeMs: number;
  readonly verifyMs: number;
  readonly dequantizeMs: number;
  readonly keptInsideProducts: number;
  readonly keptInsideMs: number;
  readonly sendMs: number;
  readonly receiveMs: number;
  readonly computeMs: number;
  /** The accelerator process's CPU time per step (Linux; null elsewhere). */
  readonly acceleratorCpuMs: number | null;
  readonly sentMiB: number;
  readonly receivedMiB: number;
  readonly ops: readonly SplitShareOp[];
}

export interface SplitShareReport {
  readonly schema: 'tee-offload/split-share@1';
  readonly date: string;
  readonly machine: MachineInfo;
  readonly settings: Omit<SplitShareOptions, 'log' | 'print' | 'outDir'> & {
    readonly wideKernels: 'IFMA' | 'AVX2';
  };
  readonly rows: readonly SplitShareRow[];
}

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

function median(xs: readonly number[]): number {
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

interface StepTimes {
  wallMs: number[];
  cpuMs: number[];
  sysMs: number[];
  faults: number[];
  productMs: number[];
  acceleratorMs: number[];
}

async function stepTimes(
  o: SplitShareOptions,
  model: string,
  ops: RemoteLinearOps | null,
  acceleratorPid?: number,
): Promise<StepTimes> {
  const net = createModel(model, { numClasses: 10, seed: 1, dropout: 0 });
  const spent = { ms: 0 };
  if (ops) useRemoteLinearOps(net, ops);
  else setLinearOps(net, timedLocalOps(spent));
  const opt = new SGD(net.parameters(), { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 });
  const loss = new CrossEntropyLoss();
  const rng = new SeededRng(3);
  const x = new Tensor([o.batch, 3, o.size, o.size]);
  for (let i = 0; i < x.size; i++) x.data[i] = rng.nextFloat() * 2 - 1;
  const labels = Array.from({ length: o.batch }, (_, i) => i % 10);
  const t: StepTimes = { wallMs: [], cpuMs: [], sysMs: [], faults: [], productMs: [], acceleratorMs: [] };
  for (let s = 0; s <= o.steps; s++) {
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
    t.wallMs.push(performance.now() - t0);
    t.cpuMs.push((c.user + c.system) / 1000);
    t.sysMs.push(c.system / 1000);
    t.faults.push(f1 - f0);
    t.productMs.push(spent.ms);
    if (a0 !== undefined && a1 !== undefined) t.acceleratorMs.push(a1 - a0);
  }
  return t;
}

const MIB = 2 ** 20;

async function measureModel(
  o: SplitShareOptions,
  model: string,
  acc: { address: string; pid?: number },
): Promise<SplitShareRow> {
  o.log(`split-share: ${model}: ${o.steps + 1} native steps (one warm-up)…`);
  const native = await stepTimes(o, model, null);
  o.log(`split-share: ${model}: ${o.steps + 1} split steps against the accelerator at ${acc.address}…`);
  const client = await AcceleratorClient.connect(acc.address, { deadlineMs: 600_000 });
  let split: StepTimes;
  let ops: RemoteLinearOps;
  try {
    ops = new RemoteLinearOps(client, {
      integrity: o.integrity,
      ...(o.integrity === 'exact' ? { field: o.field } : {}),
      offloadMinIntensity: o.offloadMinIntensity,
      cacheGradients: o.cacheGradients,
      ...(o.maxInnerLength === undefined ? {} : { maxInnerLength: o.maxInnerLength }),
    });
    split = await stepTimes(o, model, ops, acc.pid);
  } finally {
    await client.close();
  }
  const stats = ops.stats();
  const t = stats.total;
  const per = (v: number) => v / o.steps;
  const nativeMs = median(native.wallMs);
  const trusted = median(split.cpuMs);
  return {
    model,
    nativeMs,
    splitWallMs: median(split.wallMs),
    trustedCpuMs: trusted,
    trustedShare: trusted / nativeMs,
    trustedSystemMs: median(split.sysMs),
    trustedPageFaults: median(split.faults),
    nativeSystemMs: median(native.sysMs),
    nativePageFaults: median(native.faults),
    floorMs: median(native.cpuMs.map((c, i) => c - native.productMs[i]!)),
    quantizeMs: per(t.quantizeMs),
    verifyMs: per(t.verifyMs),
    dequantizeMs: per(t.dequantizeMs),
    keptInsideProducts: per(t.local),
    keptInsideMs: per(t.localMs),
    sendMs: per(t.sendMs),
    receiveMs: per(t.receiveMs),
    computeMs: per(t.computeMs),
    acceleratorCpuMs: split.acceleratorMs.length > 0 ? median(split.acceleratorMs) : null,
    sentMiB: per(t.bytesSent) / MIB,
    receivedMiB: per(t.bytesReceived) / MIB,
    ops: Object.entries(stats.byOp)
      .filter(([, s]) => s.calls > 0)
      .map(([op, s]) => ({
        op,
        products: per(s.calls),
        requests: per(s.requests),
        verifyMs: per(s.verifyMs),
        quantizeMs: per(s.quantizeMs),
        dequantizeMs: per(s.dequantizeMs),
        computeMs: per(s.computeMs),
        sentMiB: per(s.bytesSent) / MIB,
        cachedMiB: per(s.bytesCached) / MIB,
      })),
  };
}

const fix = (v: number) => v.toFixed(v < 10 ? 1 : 0);
const pct = (v: number) => `${(100 * v).toFixed(1)}%`;

/** The printed lines of one model: a summary, then one per product type that ran on the accelerator. */
export function formatSplitShareRow(row: SplitShareRow, s: SplitShareReport['settings']): string {
  const head =
    `${row.model} ${s.size}² b${s.batch} ${s.integrity} (accelerator: ${s.acceleratorBackend}, ${s.acceleratorThreads} threads)` +
    `${s.integrity === 'exact' ? ` (field ${s.field}${s.field === 'wide' ? `, ${s.wideKernels}` : ''})` : ''}` +
    ` (offload ≥ ${s.offloadMinIntensity} flop/B${s.cacheGradients ? '' : ', dy sent twice'}): ` +
    `native ${row.nativeMs.toFixed(0)} ms/step; split ${row.splitWallMs.toFixed(0)} ms/step wall, ` +
    `trusted-side CPU ${row.trustedCpuMs.toFixed(0)} ms/step = ${pct(row.trustedShare)} of native ` +
    `(system ${row.trustedSystemMs.toFixed(0)} ms, ${row.trustedPageFaults} page faults; native step: system ` +
    `${row.nativeSystemMs.toFixed(0)} ms, ${row.nativePageFaults} faults) ` +
    `(floor: the native step less its linear products, ${row.floorMs.toFixed(0)} ms = ${pct(row.floorMs / row.nativeMs)}); ` +
    `per step: quantize ${fix(row.quantizeMs)} ms, verify ${fix(row.verifyMs)} ms, dequantize ${fix(row.dequantizeMs)} ms, ` +
    `kept inside ${fix(row.keptInsideProducts)} products/step (${fix(row.keptInsideMs)} ms), send ${fix(row.sendMs)} ms, ` +
    `receive ${fix(row.receiveMs)} ms, accelerator compute ${fix(row.computeMs)} ms` +
    `${row.acceleratorCpuMs === null ? '' : ` (its process's CPU ${row.acceleratorCpuMs.toFixed(0)} ms)`}, ` +
    `${row.sentMiB.toFixed(0)} MiB out / ${row.receivedMiB.toFixed(0)} MiB in`;
  // Per product type: the trusted side's check and encoding against the accelerator's own compute time
  // for the same products (its figure is what it reports).
  const lines = row.ops.map((o) => {
    const share = (v: number) => (o.computeMs > 0 ? pct(v / o.computeMs) : '-');
    return (
      `  ${o.op}: ${fix(o.products)} products/step, ${fix(o.requests)} requests; verify ${fix(o.verifyMs)} ms = ` +
      `${share(o.verifyMs)} of accelerator compute ${fix(o.computeMs)} ms; quantize ${fix(o.quantizeMs)} ms = ` +
      `${share(o.quantizeMs)}; dequantize ${fix(o.dequantizeMs)} ms; ${o.sentMiB.toFixed(0)} MiB out ` +
      `(${o.cachedMiB.toFixed(0)} MiB cached)`
    );
  });
  return [head, ...lines].join('\n');
}

/**
 * Runs the benchmark: one accelerator for all models (started here, always stopped), each model's line
 * printed as soon as it is measured, the JSON written at the end (when outDir is given).
 */
export async function runSplitShare(o: SplitShareOptions): Promise<SplitShareReport> {
  kernels.setThreads(o.threads);
  wideKernels.setIfma(o.ifma);
  const settings: SplitShareReport['settings'] = {
    models: o.models,
    batch: o.batch,
    size: o.size,
    integrity: o.integrity,
    field: o.field,
    threads: o.threads,
    steps: o.steps,
    offloadMinIntensity: o.offloadMinIntensity,
    ...(o.maxInnerLength === undefined ? {} : { maxInnerLength: o.maxInnerLength }),
    cacheGradients: o.cacheGradients,
    acceleratorBackend: o.acceleratorBackend,
    acceleratorThreads: o.acceleratorThreads,
    ifma: o.ifma,
    wideKernels: wideKernels.ifmaInUse() ? 'IFMA' : 'AVX2',
  };
  const rows: SplitShareRow[] = [];
  const acc = await startAcceleratorServer(o.acceleratorThreads, ['--backend', o.acceleratorBackend]);
  try {
    for (const model of o.models) {
      const row = await measureModel(o, model, acc);
      rows.push(row);
      o.print(formatSplitShareRow(row, settings));
    }
  } finally {
    await acc.stop();
    wideKernels.setIfma(true);
  }
  const report: SplitShareReport = {
    schema: 'tee-offload/split-share@1',
    date: new Date().toISOString(),
    machine: machineInfo(kernels.name, kernels.info(), process.env),
    settings,
    rows,
  };
  if (o.outDir !== undefined) o.print(`wrote ${writeJson(o.outDir, 'split-share', report)}`);
  return report;
}
