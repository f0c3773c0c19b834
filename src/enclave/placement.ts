// Placement policy (docs/integrity.md "Placement"): a linear product whose arithmetic intensity — flops
// per byte that would cross the wire (both operands and the result, 4 bytes an element, as if nothing
// were cached) — is below a threshold runs inside, on the local engine, instead of on the accelerator.
// Such products (a VGG/AlexNet classifier Linear at batch 1: 400 MB of weights for 0.2 GFLOP) cost the
// trusted side more to send and to check than to compute: a Freivalds check of a matrix-vector product
// reads the whole matrix, which is the product's own cost. Running inside reveals nothing more to the
// accelerator (it sees less), so the policy is safe for integrity and confidentiality alike.
import {
  aShapeOf,
  bShapeOf,
  numelOf,
  type ProductGeometry,
  resultShapeOf,
} from '../verify/product-geometry.js';

/**
 * Default threshold of `tee-offload` split runs and the split-share benchmark (flop per byte): every
 * convolution of the bundled models goes out (≥ 12 at batch 1, 224²), classifier Linear layers below
 * batch 8 stay inside (≈ 0.5·N). RemoteLinearOps itself defaults to 0: offload everything.
 */
export const DEFAULT_OFFLOAD_MIN_INTENSITY = 4;

/** 2 × multiply-adds of the product. */
export function productFlops(g: ProductGeometry): number {
  switch (g.op) {
    case 'dense':
    case 'denseGradInput':
    case 'denseGradWeight':
      return 2 * g.n * g.i * g.o;
    default:
      return 2 * g.n * g.o * g.c * g.k * g.k * g.oh * g.ow;
  }
}

/** Bytes a remote product moves: both operands out and the result back, 4 bytes an element. */
export function productWireBytes(g: ProductGeometry): number {
  return 4 * (numelOf(aShapeOf(g)) + numelOf(bShapeOf(g)) + numelOf(resultShapeOf(g)));
}

/** Flops per byte that would cross the wire. */
export function arithmeticIntensity(g: ProductGeometry): number {
  const bytes = productWireBytes(g);
  return bytes === 0 ? Number.POSITIVE_INFINITY : productFlops(g) / bytes;
}

/** Throws RangeError unless `x` is a finite number ≥ 0 (0 offloads everything). */
export function checkMinIntensity(x: number): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
    throw new RangeError(`offloadMinIntensity must be a finite number >= 0, got ${x}`);
  }
  return x;
}
