// The kernels the engine runs on: the native addon (loaded on first use; E_NATIVE if it is not built).
// `referenceKernels` is the naive TypeScript version, for tests only.
import type { Kernels } from './api.js';
import { nativeKernels } from './native.js';
import { referenceKernels } from './reference.js';

export const kernels: Kernels = nativeKernels;
export type { ConvBackend, NativeKernelInfo } from './native.js';
export { nativeAvailable, setConvBackend } from './native.js';
export { referenceKernels };
