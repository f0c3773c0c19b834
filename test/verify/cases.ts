// Random small products for the verification tests: every op, odd geometries (stride 2, padding, 1×1
// and rectangular inputs), operands drawn from the seeded RNG (test data, not check randomness).
import type { SeededRng } from '../../src/tensor/seeded-rng.js';
import { halfModulus } from '../../src/verify/field.js';
import {
  aShapeOf,
  bShapeOf,
  convOut,
  LINEAR_OP_KINDS,
  type LinearOpKind,
  numelOf,
  type ProductGeometry,
  type ProductParams,
  productGeometry,
} from '../../src/verify/product-geometry.js';

export interface ProductCase {
  readonly op: LinearOpKind;
  readonly g: ProductGeometry;
  readonly aShape: number[];
  readonly bShape: number[];
  readonly params: ProductParams;
}

/** A random geometry for `op` (dims 1..max). */
export function randomCase(op: LinearOpKind, rng: SeededRng, max = 5): ProductCase {
  const d = (lo: number, hi: number): number => lo + rng.nextInt(hi - lo + 1);
  if (op === 'dense' || op === 'denseGradInput' || op === 'denseGradWeight') {
    const n = d(1, max);
    const i = d(1, max + 2);
    const o = d(1, max);
    const aShape = op === 'dense' ? [n, i] : [n, o];
    const bShape = op === 'denseGradWeight' ? [n, i] : [o, i];
    return { op, g: productGeometry(op, aShape, bShape), aShape, bShape, params: {} };
  }
  for (;;) {
    const n = d(1, 2);
    const c = d(1, 3);
    const o = d(1, 3);
    const k = d(1, 3);
    const stride = d(1, 2);
    const padding = d(0, Math.min(1, k - 1));
    const h = d(k, k + 4);
    const w = d(k, k + 5);
    const oh = convOut(h, k, stride, padding);
    const ow = convOut(w, k, stride, padding);
    if (oh < 1 || ow < 1) continue;
    const params: ProductParams =
      op === 'conv2d'
        ? { stride, padding }
        : op === 'conv2dGradInput'
          ? { stride, padding, inputHW: [h, w] }
          : { stride, padding, k };
    const aShape = op === 'conv2d' ? [n, c, h, w] : [n, o, oh, ow];
    const bShape = op === 'conv2dGradWeight' ? [n, c, h, w] : [o, c, k, k];
    const g = productGeometry(op, aShape, bShape, params);
    return { op, g, aShape: aShapeOf(g), bShape: bShapeOf(g), params };
  }
}

/** Centered field elements: uniform over the whole range (the hardest case for overflow) or small. */
export function randomField(count: number, p: number, rng: SeededRng, bound = halfModulus(p)): Int32Array {
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) out[i] = rng.nextInt(2 * bound + 1) - bound;
  return out;
}

export function randomFloats(count: number, rng: SeededRng, scale = 1): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (2 * rng.nextFloat() - 1) * scale;
  return out;
}

export { LINEAR_OP_KINDS, numelOf };
