// The kernel backends every layer test runs on: the naive reference and the engine's kernels (the
// native addon once built). Linear products run locally on the same backend.
import type { Kernels } from '../../src/kernels/api.js';
import { kernels } from '../../src/kernels/index.js';
import type { LinearOps } from '../../src/kernels/linear-ops.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { referenceKernels } from '../../src/kernels/reference.js';

export interface Backend {
  readonly label: string;
  readonly kernels: Kernels;
  readonly linearOps: LinearOps;
}

export const BACKENDS: readonly Backend[] = [
  { label: 'reference', kernels: referenceKernels, linearOps: new LocalLinearOps(referenceKernels) },
  { label: `engine (${kernels.name})`, kernels, linearOps: new LocalLinearOps(kernels) },
];
