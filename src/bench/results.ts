// The JSON a `bench kernels` run writes: one file per thread count, read by the report and plots.
import type { CheckResult } from './check.js';
import type { MachineInfo } from './machine.js';
import type { TorchVersions } from './torch-side.js';
import type { Spec, Workload } from './workloads.js';

export interface SideResult {
  /** Calls per sample. */
  readonly iters: number;
  /** Wall ms per call, one per repeat, in the order measured. */
  readonly samplesMs: readonly number[];
  readonly cpuPerWall: readonly number[];
  readonly medianMs: number;
  /** Median process CPU ms per call (all threads): less sensitive than wall time to other processes. */
  readonly cpuMedianMs: number;
  /** Cores kept busy by other processes during each kept sample. */
  readonly foreignCores: readonly number[];
  /** Samples retaken because other processes took more than 10% of a core during them. */
  readonly retakes: number;
  /** GEMM and conv workloads. */
  readonly gflops?: number;
  /** Training steps. */
  readonly imagesPerSec?: number;
  readonly losses?: readonly number[];
  readonly peakRssMiB: number | null;
}

export interface WorkloadResult {
  readonly id: string;
  readonly group: Workload['group'];
  readonly label: string;
  readonly spec: Spec;
  readonly flops: number | null;
  readonly checks: readonly CheckResult[];
  readonly ours: SideResult | { readonly error: string };
  readonly torch: SideResult | { readonly error: string } | { readonly skipped: string };
  /** Our speed / PyTorch's speed (= torch median ms / our median ms); null without both sides. */
  readonly ratio: number | null;
  /** The same from CPU time (torch CPU ms / ours): a cross-check when the machine was busy. */
  readonly cpuRatio: number | null;
}

export interface MemoryCheck {
  readonly model: string;
  readonly batch: number;
  readonly size: number;
  readonly steps: number;
  readonly every: number;
  readonly ours: readonly { step: number; rssMiB: number; loss: number }[];
  readonly torch: readonly { step: number; rssMiB: number; loss: number }[] | null;
  /** RSS growth between the `from` and `to` samples, as a fraction, for each side. */
  readonly from: number;
  readonly to: number;
  readonly oursGrowth: number;
  readonly torchGrowth: number | null;
  readonly flagged: boolean;
  readonly threshold: number;
}

export interface BenchSettings {
  readonly threads: number;
  readonly repeats: number;
  readonly quick: boolean;
  readonly only: readonly string[];
  readonly minSampleMs: number;
  readonly settleMs: number;
  readonly retakes: number;
  readonly quietWaitMs: number;
}

export interface BenchReport {
  readonly kind: 'tee-offload/bench-kernels';
  readonly version: 1;
  readonly startedAt: string;
  readonly loadAverageAtStart: readonly number[];
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly torch: TorchVersions | { readonly skipped: string };
  readonly settings: BenchSettings;
  readonly workloads: readonly WorkloadResult[];
  readonly memory: MemoryCheck | null;
}

export function isSide(x: unknown): x is SideResult {
  return typeof x === 'object' && x !== null && 'medianMs' in x;
}
