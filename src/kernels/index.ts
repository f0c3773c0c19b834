// The kernels the engine runs on. Temporarily the naive reference while the native addon is built;
// `referenceKernels` stays exported for tests.
import type { Kernels } from './api.js';
import { referenceKernels } from './reference.js';

export const kernels: Kernels = referenceKernels;
export { referenceKernels };
