// What an experiment run is told (ExperimentOptions, from the CLI or a caller such as `demo`) and what each
// experiment gets to run with (ExperimentContext: the options, its lazily started servers, progress).
// Absent options take each experiment's own defaults; --quick shrinks sizes and repeats.
import { isTeeError } from '../../errors.js';
import type { RunMode } from './schema.js';
import type { ExperimentServers, SplitThreads } from './servers.js';

export type Workload = 'step' | 'epoch64';

export interface ExperimentOptions {
  /** Models to run (modes, breakdown, equivalence, peer). An unknown name becomes an error record. */
  readonly models?: readonly string[];
  /** Square input sides (default 224; --quick 64; equivalence 32). */
  readonly sizes?: readonly number[];
  /** modes/peer: the step's batch and the epoch's batch (default 1,4); breakdown/equivalence: the first. */
  readonly batches?: readonly number[];
  /** Which modes (each experiment keeps those it can run). */
  readonly modes?: readonly RunMode[];
  /** modes: step and/or epoch64 (default both). */
  readonly workloads?: readonly Workload[];
  /** Timed samples per measurement; medians reported (default 3; --quick 2). */
  readonly repeats?: number;
  /** Untimed runs before the samples (default 1; --quick 0). */
  readonly warmup?: number;
  /** Kernel threads of every side (default: all cores). */
  readonly threads?: number;
  /** equivalence: the thread counts compared (default 1,2); the reference is native at the first. */
  readonly threadCounts?: readonly number[];
  /** matrix: the rows of the input (default 2304, 4608, 9216, 18432, 23040). */
  readonly rows?: readonly number[];
  /** crypto: bytes encrypted (default the prototype's 184,442,413). */
  readonly bytes?: number;
  readonly quick?: boolean;
  /** Where the started accelerator computes (`tee-offload accelerator --backend`; default 'cpu'). */
  readonly acceleratorBackend?: 'cpu' | 'cuda';
  /** peer: false skips PyTorch (records carry `skipped`). */
  readonly torch?: boolean;
  /** The command line, for the file (default: this process's argv). */
  readonly command?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

export interface ExperimentContext {
  readonly options: ExperimentOptions;
  readonly threads: number;
  /**
   * Split modes' threads: the trusted side's and its accelerator's share of the cores (splitCores), both
   * `threads` when --threads was given; the other modes use `threads`.
   */
  readonly splitThreads: SplitThreads;
  readonly repeats: number;
  readonly warmup: number;
  readonly quick: boolean;
  readonly servers: ExperimentServers;
  readonly env: NodeJS.ProcessEnv;
  /** A progress line, prefixed with the experiment's name. */
  log(line: string): void;
}

/** One line for a failed measurement: `E_CODE: message` for our errors, the message otherwise. */
export function errorText(e: unknown): string {
  if (isTeeError(e)) return `${e.code}: ${e.message}`;
  if (e instanceof Error) return `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}`;
  return String(e);
}

/** The sizes an experiment uses: given ones, else its default (quick or not). */
export function sizesOf(ctx: ExperimentContext, full: number, quick: number): readonly number[] {
  return ctx.options.sizes ?? [ctx.quick ? quick : full];
}

export const DEFAULT_MODELS: readonly string[] = ['alexnet', 'resnet18', 'vgg19_bn'];
export const NUM_CLASSES = 10;
