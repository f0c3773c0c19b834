// One decoded request → its product: float32 through LocalLinearOps on the native kernels, exact (mod p,
// or the unreduced integer of arith wide) through native/modp_gemm.cc (native-modp.ts) or its TypeScript
// twin (modp-ops.ts). Synchronous in effect: the caller decides which thread runs it (backend.ts: a
// worker or inline).
import type { Kernels } from '../kernels/api.js';
import { callLinearOp } from '../kernels/linear-ops.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';
import type { LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { convShape, outputShape } from '../protocol/linear-shapes.js';
import { Tensor } from '../tensor/tensor.js';
import { computeLinearGpu } from './gpu-linear.js';
import {
  conv2dExact,
  conv2dGradInputExact,
  conv2dGradWeightExact,
  denseExact,
  denseGradInputExact,
  denseGradWeightExact,
  type ExactArith,
} from './modp-ops.js';
import {
  conv2dExactNative,
  conv2dGradInputExactNative,
  conv2dGradWeightExactNative,
  denseExactNative,
  denseGradInputExactNative,
  denseGradWeightExactNative,
  nativeModpAvailable,
} from './native-modp.js';

/** Largest float64 workspace (im2col columns of one image) an exact convolution may need, in bytes. */
export function workspaceBytes(req: LinearRequest): number {
  if (!req.op.startsWith('conv')) return 0;
  const g = convShape(req);
  return 8 * g.c * g.k * g.k * g.oh * g.ow;
}

/** Multiply-adds of a product (its cost, for the per-request limit). */
export function productMacs(req: LinearRequest): number {
  if (req.op.startsWith('conv')) {
    const g = convShape(req);
    return g.n * g.c * g.o * g.k * g.k * g.oh * g.ow;
  }
  const [a0 = 0, a1 = 0] = req.a.shape;
  const b1 = req.b.shape[1] ?? 0;
  const b0 = req.b.shape[0] ?? 0;
  // dense: x [n,i]·w [o,i]ᵀ; grad-input: dy [n,o]·w [o,i]; grad-weight: dy [n,o]ᵀ·x [n,i].
  return req.op === 'dense' ? a0 * a1 * b0 : a0 * a1 * b1;
}

/** Where exact products (modp, wide) run: the C++ of native/modp_gemm.cc, or the TypeScript twin (modp-ops.ts). */
export type ModpEngine = 'native' | 'ts';

/** 'native' when the addon has the exact products, else 'ts'. */
export function defaultModpEngine(): ModpEngine {
  return nativeModpAvailable() ? 'native' : 'ts';
}

/**
 * One request's product. gpu: on the GPU that openGpu (gpu-linear.ts) opened in this process, instead
 * of the CPU kernels. out: a buffer of at least the result's bytes for the CPU kernels to write the
 * result into (at offset 0; its old contents are overwritten, never read), so that a server can reuse
 * result buffers; the result is then a view of it (the GPU path and the TypeScript engine allocate).
 */
export async function computeLinear(
  kernels: Kernels,
  req: LinearRequest,
  modp: ModpEngine = defaultModpEngine(),
  gpu = false,
  out?: ArrayBufferLike,
): Promise<WireTensor> {
  if (gpu) return computeLinearGpu(req);
  const shape = outputShape(req);
  const n = shape.reduce((x, d) => x * d, 1);
  if (req.arith !== 'f32') {
    const use = modp === 'native' ? fits(out, n, req.arith === 'wide' ? 8 : 4) : undefined;
    return { shape, data: exactProduct(kernels, req, req.arith, modp, use) };
  }
  const a = new Tensor(req.a.shape, req.a.data as Float32Array);
  const b = new Tensor(req.b.shape, req.b.data as Float32Array);
  const buf = fits(out, n, 4);
  const into = buf === undefined ? undefined : new Tensor(shape, new Float32Array(buf, 0, n));
  const y = await callLinearOp(new LocalLinearOps(kernels), req.op, a, b, req, into);
  return { shape: [...y.shape], data: y.data };
}

/** `out` when it holds n elements of `bytes` each, else undefined (then the kernels allocate). */
function fits(out: ArrayBufferLike | undefined, n: number, bytes: number): ArrayBufferLike | undefined {
  return out !== undefined && out.byteLength >= n * bytes ? out : undefined;
}

/** An exact product (operands checked there): Int32Array for modp, Float64Array for wide. */
function exactProduct(
  kernels: Kernels,
  req: LinearRequest,
  arith: ExactArith,
  engine: ModpEngine,
  out?: ArrayBufferLike,
): Int32Array | Float64Array {
  const a = req.a.data as Int32Array;
  const b = req.b.data as Int32Array;
  const [a0 = 0, a1 = 0] = req.a.shape;
  const b0 = req.b.shape[0] ?? 0;
  const b1 = req.b.shape[1] ?? 0;
  if (engine === 'native') {
    switch (req.op) {
      case 'dense':
        return denseExactNative(arith, a, b, a0, a1, b0, out);
      case 'denseGradInput':
        return denseGradInputExactNative(arith, a, b, a0, a1, b1, out);
      case 'denseGradWeight':
        return denseGradWeightExactNative(arith, a, b, a0, a1, b1, out);
      case 'conv2d':
        return conv2dExactNative(arith, convShape(req), a, b, out);
      case 'conv2dGradInput':
        return conv2dGradInputExactNative(arith, convShape(req), a, b, out);
      case 'conv2dGradWeight':
        return conv2dGradWeightExactNative(arith, convShape(req), a, b, out);
    }
  }
  switch (req.op) {
    case 'dense':
      return denseExact(kernels, arith, a, b, a0, a1, b0);
    case 'denseGradInput':
      return denseGradInputExact(kernels, arith, a, b, a0, a1, b1);
    case 'denseGradWeight':
      return denseGradWeightExact(kernels, arith, a, b, a0, a1, b1);
    case 'conv2d':
      return conv2dExact(kernels, arith, convShape(req), a, b);
    case 'conv2dGradInput':
      return conv2dGradInputExact(kernels, arith, convShape(req), a, b);
    case 'conv2dGradWeight':
      return conv2dGradWeightExact(kernels, arith, convShape(req), a, b);
  }
}
