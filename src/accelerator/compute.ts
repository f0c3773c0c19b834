// One decoded request → its product: float32 through LocalLinearOps on the native kernels, exact mod p
// through native/modp_gemm.cc (native-modp.ts) or its TypeScript twin (modp-ops.ts). Synchronous in
// effect: the caller decides which thread runs it (backend.ts: a worker or inline).
import type { Kernels } from '../kernels/api.js';
import { LocalLinearOps } from '../kernels/local-linear-ops.js';
import type { LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { convShape, outputShape } from '../protocol/linear-shapes.js';
import { Tensor } from '../tensor/tensor.js';
import {
  conv2dGradInputModp,
  conv2dGradWeightModp,
  conv2dModp,
  denseGradInputModp,
  denseGradWeightModp,
  denseModp,
} from './modp-ops.js';
import {
  conv2dGradInputModpNative,
  conv2dGradWeightModpNative,
  conv2dModpNative,
  denseGradInputModpNative,
  denseGradWeightModpNative,
  denseModpNative,
  nativeModpAvailable,
} from './native-modp.js';

/** Largest float64 workspace (im2col columns of one image) an exact convolution may need, in bytes. */
export function workspaceBytes(req: LinearRequest): number {
  if (!req.op.startsWith('conv')) return 0;
  const g = convShape(req);
  return 8 * g.c * g.k * g.k * g.oh * g.ow;
}

/** Where exact products run: the C++ of native/modp_gemm.cc, or the TypeScript twin (modp-ops.ts). */
export type ModpEngine = 'native' | 'ts';

/** 'native' when the addon has the exact products, else 'ts'. */
export function defaultModpEngine(): ModpEngine {
  return nativeModpAvailable() ? 'native' : 'ts';
}

export async function computeLinear(
  kernels: Kernels,
  req: LinearRequest,
  modp: ModpEngine = defaultModpEngine(),
): Promise<WireTensor> {
  const shape = outputShape(req);
  if (req.arith === 'modp') {
    const a = req.a.data as Int32Array;
    const b = req.b.data as Int32Array;
    const [a0 = 0, a1 = 0] = req.a.shape;
    const b1 = req.b.shape[1] ?? 0;
    if (modp === 'native') {
      switch (req.op) {
        case 'dense':
          return { shape, data: denseModpNative(a, b, a0, a1, req.b.shape[0]!) };
        case 'denseGradInput':
          return { shape, data: denseGradInputModpNative(a, b, a0, a1, b1) };
        case 'denseGradWeight':
          return { shape, data: denseGradWeightModpNative(a, b, a0, a1, b1) };
        case 'conv2d':
          return { shape, data: conv2dModpNative(convShape(req), a, b) };
        case 'conv2dGradInput':
          return { shape, data: conv2dGradInputModpNative(convShape(req), a, b) };
        case 'conv2dGradWeight':
          return { shape, data: conv2dGradWeightModpNative(convShape(req), a, b) };
      }
    }
    switch (req.op) {
      case 'dense':
        return { shape, data: denseModp(kernels, a, b, a0, a1, req.b.shape[0]!) };
      case 'denseGradInput':
        return { shape, data: denseGradInputModp(kernels, a, b, a0, a1, b1) };
      case 'denseGradWeight':
        return { shape, data: denseGradWeightModp(kernels, a, b, a0, a1, b1) };
      case 'conv2d':
        return { shape, data: conv2dModp(kernels, convShape(req), a, b) };
      case 'conv2dGradInput':
        return { shape, data: conv2dGradInputModp(kernels, convShape(req), a, b) };
      case 'conv2dGradWeight':
        return { shape, data: conv2dGradWeightModp(kernels, convShape(req), a, b) };
    }
  }
  const ops = new LocalLinearOps(kernels);
  const a = new Tensor(req.a.shape, req.a.data as Float32Array);
  const b = new Tensor(req.b.shape, req.b.data as Float32Array);
  const p = { stride: req.stride ?? 1, padding: req.padding ?? 0 };
  let y: Tensor;
  switch (req.op) {
    case 'dense':
      y = await ops.dense(a, b);
      break;
    case 'denseGradInput':
      y = await ops.denseGradInput(a, b);
      break;
    case 'denseGradWeight':
      y = await ops.denseGradWeight(a, b);
      break;
    case 'conv2d':
      y = await ops.conv2d(a, b, p);
      break;
    case 'conv2dGradInput':
      y = await ops.conv2dGradInput(a, b, p, req.inputHW!);
      break;
    case 'conv2dGradWeight':
      y = await ops.conv2dGradWeight(a, b, p, req.k!);
      break;
  }
  return { shape: [...y.shape], data: y.data };
}
