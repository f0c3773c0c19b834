// `tee-offload bench kernels`: every workload on our kernels and on PyTorch CPU with the same thread
// count, interleaved in one run; a table on stdout, progress on stderr, one JSON file per thread count.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { TeeError } from '../errors.js';
import { kernels, referenceKernels } from '../kernels/index.js';
import { prepareConv, prepareGemm } from './kernel-ours.js';
import { machineInfo } from './machine.js';
import { type MemorySettings, memoryCheck } from './memory-check.js';
import type { BenchReport, MemoryCheck, WorkloadResult } from './results.js';
import { runWorkload } from './run-workload.js';
import type { Prepared } from './sampler.js';
import { formatMemory, formatTable } from './table.js';
import { TorchSide } from './torch-side.js';
import { prepareTrain } from './train-ours.js';
import { type Group, WORKLOADS, type Workload } from './workloads.js';

export interface KernelsBenchOptions {
  readonly threads: readonly number[];
  readonly repeats: number;
  readonly outDir: string;
  readonly quick: boolean;
  readonly only: readonly Group[];
  readonly minSampleMs: number;
  /** Pause before each interleaved sample (idle threads of the other side stop spinning). */
  readonly settleMs: number;
  /** Retakes allowed per sample when other processes ran during it. */
  readonly retakes: number;
  /** Longest wait for a quiet machine before each workload (0: none). */
  readonly quietWaitMs: number;
  readonly torch: boolean;
  readonly allowReference: boolean;
  /** The environment both sides inherit (BLAS variables are reported). */
  readonly env: NodeJS.ProcessEnv;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
  /** Results (stdout). */
  readonly print: (text: string) => void;
}

export function memorySettings(quick: boolean): MemorySettings {
  return quick
    ? {
        spec: { kind: 'train', model: 'resnet18', batch: 4, size: 64, numClasses: 10 },
        steps: 40,
        every: 10,
        from: 20,
        threshold: 0.1,
      }
    : {
        spec: { kind: 'train', model: 'resnet18', batch: 1, size: 224, numClasses: 10 },
        steps: 100,
        every: 10,
        from: 20,
        threshold: 0.1,
      };
}

function prepareFor(w: Workload): () => Promise<Prepared> {
  const s = w.spec;
  if (s.kind === 'gemm') return async () => prepareGemm(s, kernels, referenceKernels);
  if (s.kind === 'conv') return async () => prepareConv(s, kernels, referenceKernels);
  return () => prepareTrain(s);
}

function stamp(d: Date): string {
  return d
    .toISOString()
    .replace(/:/g, '-')
    .replace(/\.\d+Z$/, 'Z');
}

async function runThreads(
  threads: number,
  o: KernelsBenchOptions,
): Promise<{ report: BenchReport; file: string }> {
  const startedAt = new Date();
  const loadAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  if (loadAtStart[0]! > availableParallelism() * 0.5) {
    o.log(
      `load average ${loadAtStart.join(' ')} on ${availableParallelism()} cores: others are running, expect noise`,
    );
  }
  kernels.setThreads(threads);
  const torch = o.torch ? await TorchSide.start(threads, o.env) : { skipped: 'disabled by --no-torch' };
  if ('skipped' in torch) o.log(`PyTorch side skipped: ${torch.skipped}`);
  else
    o.log(
      `PyTorch ${torch.versions.torch} (${torch.versions.interpreter}), ${torch.versions.threads} threads`,
    );
  const workloads = WORKLOADS.filter((w) => o.only.includes(w.group));
  const results: WorkloadResult[] = [];
  let memory: MemoryCheck | null = null;
  try {
    for (const [i, w] of workloads.entries()) {
      o.log(`[T=${threads} ${i + 1}/${workloads.length}] ${w.label}`);
      const r = await runWorkload(w, prepareFor(w), torch, o, o.log);
      results.push(r);
      o.log(`  → ${formatTable([r], threads).split('\n').pop()}`);
    }
    if (o.only.includes('memory')) {
      const m = memorySettings(o.quick);
      o.log(`[T=${threads}] memory: ${m.steps} steps of ${m.spec.model} ${m.spec.size}² b${m.spec.batch}`);
      // A fresh PyTorch process: the long-lived one still holds what earlier workloads allocated.
      const fresh = 'skipped' in torch ? null : await TorchSide.start(threads, o.env);
      const side = fresh === null || 'skipped' in fresh ? null : fresh;
      try {
        memory = await memoryCheck(m, (s) => prepareTrain(s, { check: false }), side, o.log);
      } catch (e) {
        o.log(`  memory check failed: ${e instanceof Error ? e.message : String(e)}`);
      } finally {
        await side?.close();
      }
    }
  } finally {
    if (!('skipped' in torch)) await torch.close();
  }
  const report: BenchReport = {
    kind: 'tee-offload/bench-kernels',
    version: 1,
    startedAt: startedAt.toISOString(),
    loadAverageAtStart: loadAtStart,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(kernels.name, kernels.info(), o.env),
    torch: 'skipped' in torch ? { skipped: torch.skipped } : torch.versions,
    settings: {
      threads,
      repeats: o.repeats,
      quick: o.quick,
      only: o.only,
      minSampleMs: o.minSampleMs,
      settleMs: o.settleMs,
      retakes: o.retakes,
      quietWaitMs: o.quietWaitMs,
    },
    workloads: results,
    memory,
  };
  const file = join(o.outDir, `bench-kernels-t${threads}-${stamp(startedAt)}.json`);
  try {
    mkdirSync(o.outDir, { recursive: true });
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  } catch (e) {
    throw new TeeError('E_IO', `cannot write ${file}: ${(e as Error).message}`, { cause: e });
  }
  return { report, file };
}

/** Runs the benchmark once per thread count; returns the JSON files written. */
export async function runKernelsBench(o: KernelsBenchOptions): Promise<string[]> {
  if (kernels.name === referenceKernels.name && !o.allowReference) {
    throw new TeeError(
      'E_NATIVE',
      'the engine is running on the naive reference kernels (the native addon is not built): run `npm run build` first',
    );
  }
  const files: string[] = [];
  for (const t of o.threads) {
    const { report, file } = await runThreads(t, o);
    if (report.workloads.length > 0) o.print(formatTable(report.workloads, t));
    if (report.memory) o.print(formatMemory(report.memory));
    o.print(`wrote ${file}\n`);
    files.push(file);
  }
  return files;
}
