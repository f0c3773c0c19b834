// Where a layer's arithmetic runs: `kernels` for the cheap, non-linear work that always stays in the
// trusted process, `linearOps` for the six linear products that may leave it (DESIGN.md, the seam).
// Both default to one shared pair over the engine's kernels; setLinearOps swaps a whole model's.
import type { Kernels } from '../kernels/api.js';
import { kernels as engineKernels } from '../kernels/index.js';
import type { LinearOps } from '../kernels/linear-ops.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';

export interface BackendOptions {
  /** Runs the linear products (default: a shared LocalLinearOps over the engine's kernels). */
  readonly linearOps?: LinearOps;
  /** Runs everything else: bias, batch-norm, pooling, relu, loss, optimizer (default: the engine's). */
  readonly kernels?: Kernels;
}

// One LocalLinearOps per kernels object, shared by every layer that runs on it.
const localOps = new WeakMap<Kernels, LinearOps>();

/** LocalLinearOps over `kernels`, shared (default: the engine's kernels). */
export function defaultLinearOps(kernels: Kernels = engineKernels): LinearOps {
  let ops = localOps.get(kernels);
  if (ops === undefined) {
    ops = new LocalLinearOps(kernels);
    localOps.set(kernels, ops);
  }
  return ops;
}

export function defaultKernels(): Kernels {
  return engineKernels;
}

/**
 * The pair a layer runs on. Given only `kernels`, linear ops run locally on those same kernels, so
 * that a layer built over the reference kernels is reference all the way through.
 */
export function resolveBackend(opts: BackendOptions = {}): { kernels: Kernels; linearOps: LinearOps } {
  const kernels = opts.kernels ?? engineKernels;
  return { kernels, linearOps: opts.linearOps ?? defaultLinearOps(kernels) };
}
