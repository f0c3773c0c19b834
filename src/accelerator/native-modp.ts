// TypeScript face of native/modp_gemm.cc: the exact products in C++ (float64 GEMM, im2col/col2im,
// OpenMP), reduced mod p in 128-term chunks (arith modp, Int32Array out) or exact over the whole inner
// dimension (arith wide, Float64Array out). Loads the same addon file as kernels/native.ts, lazily; when
// the addon is missing or was built before these products, nativeModpAvailable() is false and the
// accelerator uses the TypeScript twin (modp-ops.ts). An operand outside the centered range is E_FRAME,
// as in the twin.
import { TeeError } from '../errors.js';
import { requireAddon } from '../native-addon.js';
import type { ConvShape } from '../protocol/linear-shapes.js';
import type { ExactArith, ExactData } from './modp-ops.js';

type I32 = Int32Array;
type F64 = Float64Array;
type Dims8 = [number, number, number, number, number, number, number, number];

interface ModpAddon {
  modpGemm(ta: boolean, tb: boolean, m: number, n: number, kk: number, a: I32, b: I32, c: I32): void;
  modpConv2d(...args: [...Dims8, I32, I32, I32]): void;
  modpConv2dGradInput(...args: [...Dims8, I32, I32, I32]): void;
  modpConv2dGradWeight(...args: [...Dims8, I32, I32, I32]): void;
  wideGemm(ta: boolean, tb: boolean, m: number, n: number, kk: number, a: I32, b: I32, c: F64): void;
  wideConv2d(...args: [...Dims8, I32, I32, F64]): void;
  wideConv2dGradInput(...args: [...Dims8, I32, I32, F64]): void;
  wideConv2dGradWeight(...args: [...Dims8, I32, I32, F64]): void;
  modpFirstOutOfRange(a: I32): number;
}

let addon: ModpAddon | null | undefined;

function load(): ModpAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  try {
    const a = requireAddon() as Partial<ModpAddon>;
    if (typeof a.modpGemm === 'function' && typeof a.wideConv2dGradWeight === 'function')
      addon = a as ModpAddon;
  } catch {
    // Not built, or broken: the compute path reports E_NATIVE through kernels/ when it needs the kernels.
  }
  return addon;
}

/** True when the addon has the native exact products of both ariths (built with native/modp_gemm.cc). */
export function nativeModpAvailable(): boolean {
  return load() !== null;
}

function need(): ModpAddon {
  const a = load();
  if (a === null)
    throw new TeeError('E_NATIVE', 'the native addon has no exact mod-p products: run `npm run build`');
  return a;
}

/** Runs a native call, turning its operand-range RangeError into E_FRAME with the op's name. */
function run(op: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (e instanceof RangeError && e.message.includes('outside the centered range')) {
      throw new TeeError('E_FRAME', `${op}: ${e.message}`);
    }
    throw e;
  }
}

function dims(g: ConvShape): Dims8 {
  return [g.n, g.c, g.h, g.w, g.o, g.k, g.stride, g.padding];
}

/**
 * An output of n elements in the arith's result type (Int32Array for modp, Float64Array for wide): a view
 * of `out` at offset 0 when given (the kernels overwrite every element; they never read it), else new.
 */
function output<E extends ExactArith>(arith: E, n: number, out?: ArrayBufferLike): ExactData<E> {
  if (out === undefined) return (arith === 'wide' ? new Float64Array(n) : new Int32Array(n)) as ExactData<E>;
  return (arith === 'wide' ? new Float64Array(out, 0, n) : new Int32Array(out, 0, n)) as ExactData<E>;
}

/** c [m,n] = op(a)·op(b) (dgemm's layouts), mod p into an Int32Array or exact into a Float64Array. */
function gemm(
  ta: boolean,
  tb: boolean,
  m: number,
  n: number,
  kk: number,
  a: I32,
  b: I32,
  c: I32 | F64,
): void {
  if (c instanceof Float64Array) need().wideGemm(ta, tb, m, n, kk, a, b, c);
  else need().modpGemm(ta, tb, m, n, kk, a, b, c);
}

type ConvFn = 'Conv2d' | 'Conv2dGradInput' | 'Conv2dGradWeight';

function conv(fn: ConvFn, g: ConvShape, a: I32, b: I32, out: I32 | F64): void {
  const addon = need();
  if (out instanceof Float64Array) addon[`wide${fn}`](...dims(g), a, b, out);
  else addon[`modp${fn}`](...dims(g), a, b, out);
}

// x [N,I], w [O,I] → y [N,O] = x·wᵀ
export function denseExactNative<E extends ExactArith>(
  arith: E,
  x: I32,
  w: I32,
  n: number,
  i: number,
  o: number,
  out?: ArrayBufferLike,
): ExactData<E> {
  const y = output(arith, n * o, out);
  run('dense', () => gemm(false, true, n, o, i, x, w, y));
  return y;
}

// dy [N,O], w [O,I] → dx [N,I] = dy·w
export function denseGradInputExactNative<E extends ExactArith>(
  arith: E,
  dy: I32,
  w: I32,
  n: number,
  o: number,
  i: number,
  out?: ArrayBufferLike,
): ExactData<E> {
  const dx = output(arith, n * i, out);
  run('denseGradInput', () => gemm(false, false, n, i, o, dy, w, dx));
  return dx;
}

// dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x
export function denseGradWeightExactNative<E extends ExactArith>(
  arith: E,
  dy: I32,
  x: I32,
  n: number,
  o: number,
  i: number,
  out?: ArrayBufferLike,
): ExactData<E> {
  const dw = output(arith, o * i, out);
  run('denseGradWeight', () => gemm(true, false, o, i, n, dy, x, dw));
  return dw;
}

// x [N,C,H,W], w [O,C,k,k] → y [N,O,OH,OW]
export function conv2dExactNative<E extends ExactArith>(
  arith: E,
  g: ConvShape,
  x: I32,
  w: I32,
  out?: ArrayBufferLike,
): ExactData<E> {
  const y = output(arith, g.n * g.o * g.oh * g.ow, out);
  run('conv2d', () => conv('Conv2d', g, x, w, y));
  return y;
}

// dy [N,O,OH,OW], w [O,C,k,k] → dx [N,C,H,W]
export function conv2dGradInputExactNative<E extends ExactArith>(
  arith: E,
  g: ConvShape,
  dy: I32,
  w: I32,
  out?: ArrayBufferLike,
): ExactData<E> {
  const dx = output(arith, g.n * g.c * g.h * g.w, out);
  run('conv2dGradInput', () => conv('Conv2dGradInput', g, dy, w, dx));
  return dx;
}

// dy [N,O,OH,OW], x [N,C,H,W] → dw [O,C,k,k]
export function conv2dGradWeightExactNative<E extends ExactArith>(
  arith: E,
  g: ConvShape,
  dy: I32,
  x: I32,
  out?: ArrayBufferLike,
): ExactData<E> {
  const dw = output(arith, g.o * g.c * g.k * g.k, out);
  run('conv2dGradWeight', () => conv('Conv2dGradWeight', g, dy, x, dw));
  return dw;
}
