// TypeScript face of native/quantize.cc: the scale-selection norms (with max |v| from the same pass),
// quantization (nearest or stochastic, with random bytes the caller drew from the crypto RNG) and
// dequantization of exact mode.
// Bit-identical to the TypeScript reference (operand-norms.ts, quantize.ts's `impl: 'reference'`): the
// tests cross-check the two. Loads the addon through native-modp.ts (E_NATIVE when missing or stale).
import { TeeError } from '../errors.js';
import { verifyAddonModule } from './native-modp.js';
import type { NormMax } from './operand-norms.js';
import type { ProductGeometry } from './product-geometry.js';

type Norms7 = [number, number, number, number, number, number, number];

interface QuantAddon {
  quantNorms(kind: number, ...rest: [...Norms7, Float32Array | Int32Array, Float64Array]): void;
  quantQuantize(
    v: Float32Array,
    bits: number,
    half: number,
    random: Uint8Array | null,
    out: Int32Array,
  ): number;
  quantDequantize(y: Int32Array | Float64Array, bits: number, out: Float32Array): void;
}

let addon: QuantAddon | null = null;

function load(): QuantAddon {
  if (addon !== null) return addon;
  const a = verifyAddonModule() as Partial<QuantAddon>;
  if (typeof a.quantNorms !== 'function' || typeof a.quantQuantize !== 'function') {
    throw new TeeError('E_NATIVE', 'the native addon has no quantization kernels: run `npm run build`');
  }
  addon = a as QuantAddon;
  return addon;
}

const ROWS = 0;
const COLS = 1;
const CHANNELS = 2;
const PATCHES = 3;
const WINDOWS = 4;
const FILTER_COLS = 5;

function norms(kind: number, d: number[], data: Float32Array | Int32Array, len: number): NormMax {
  const out = new Float64Array(3);
  const dims = [...d, 0, 0, 0, 0, 0, 0, 0].slice(0, 7) as Norms7;
  load().quantNorms(kind, ...dims, data, out);
  return { l2sq: out[0]!, l1: out[1]!, len, max: out[2]! };
}

export const quantKernels = {
  /** operand-norms.ts aNorms, natively. */
  aNorms(g: ProductGeometry, a: Float32Array | Int32Array): NormMax {
    switch (g.op) {
      case 'dense':
        return norms(ROWS, [g.n, g.i], a, g.i);
      case 'denseGradInput':
        return norms(ROWS, [g.n, g.o], a, g.o);
      case 'denseGradWeight':
        return norms(COLS, [g.n, g.o], a, g.n);
      case 'conv2d':
        return norms(PATCHES, [g.n, g.c, g.h, g.w, g.k, g.stride, g.padding], a, g.c * g.k * g.k);
      case 'conv2dGradInput': {
        const mh = Math.min(Math.ceil(g.k / g.stride), g.oh);
        const mw = Math.min(Math.ceil(g.k / g.stride), g.ow);
        return norms(WINDOWS, [g.n, g.o, g.oh, g.ow, mh, mw], a, g.o * mh * mw);
      }
      case 'conv2dGradWeight':
        return norms(CHANNELS, [g.n, g.o, g.oh * g.ow], a, g.n * g.oh * g.ow);
    }
  },
  /** operand-norms.ts bNorms, natively. */
  bNorms(g: ProductGeometry, b: Float32Array | Int32Array): NormMax {
    switch (g.op) {
      case 'dense':
        return norms(ROWS, [g.o, g.i], b, g.i);
      case 'denseGradInput':
        return norms(COLS, [g.o, g.i], b, g.o);
      case 'denseGradWeight':
        return norms(COLS, [g.n, g.i], b, g.n);
      case 'conv2d':
        return norms(ROWS, [g.o, g.c * g.k * g.k], b, g.c * g.k * g.k);
      case 'conv2dGradInput':
        return norms(FILTER_COLS, [g.o, g.c, g.k * g.k], b, g.o * g.k * g.k);
      case 'conv2dGradWeight':
        return norms(CHANNELS, [g.n, g.c, g.h * g.w], b, g.n * g.h * g.w);
    }
  },
  /**
   * q = round(v·2^bits) (random null) or ⌊v·2^bits + u⌋ with u = uint16(random[2i..2i+1])/2^16; returns
   * the integers (into `into` when given: same length) and the index of the first element that does not
   * fit [−half, half] (−1 when all fit).
   */
  quantize(
    v: Float32Array,
    bits: number,
    half: number,
    random: Uint8Array | null,
    into?: Int32Array,
  ): { q: Int32Array; bad: number } {
    const q = into ?? new Int32Array(v.length);
    const bad = load().quantQuantize(v, bits, half, random, q);
    return { q, bad };
  },
  /** y·2^-bits as float32 (y: field integers, or a wide product's exact integers in float64). */
  dequantize(y: Int32Array | Float64Array, bits: number, into?: Float32Array): Float32Array {
    const out = into ?? new Float32Array(y.length);
    load().quantDequantize(y, bits, out);
    return out;
  },
};
