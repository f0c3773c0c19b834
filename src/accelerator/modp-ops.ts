// The six linear products computed exactly modulo p = 2^24 − 3 (DESIGN.md, "Integrity: exact mode").
// Operands are centered representatives |v| ≤ (p−1)/2 < 2^23, so each product |a·b| < 2^46 and a sum of
// CHUNK = 128 of them (plus a reduced accumulator < 2^23) stays below 2^53: float64 GEMM is exact on
// such chunks whatever order the BLAS sums in. Every GEMM here therefore runs over the inner dimension
// in chunks of at most 128 terms, accumulating into a float64 buffer that is reduced mod p after each
// chunk. Inputs come off the wire: each value is checked against the bound before it is used.
// Arith wide runs the same code with no reduction (one chunk over the whole inner dimension) and returns
// the float64 sums: exact integers when every partial sum Σ|a_i·b_i| ≤ 2^47, which the trusted side
// guarantees for the operands it sends (a hostile client only gets a rounded, wrong answer).
import { TeeError } from '../errors.js';
import type { Kernels } from '../kernels/api.js';
import { HALF_P } from '../protocol/linear-codec.js';
import { MODULUS_P } from '../protocol/linear-request.js';
import type { ConvShape } from '../protocol/linear-shapes.js';

/** Where an exact product ends: reduced mod p to centered int32 ('modp'), or the exact integer ('wide'). */
export type ExactArith = 'modp' | 'wide';
/** The result array of each exact arith. */
export type ExactData<E extends ExactArith> = E extends 'wide' ? Float64Array : Int32Array;

/** Most terms one float64 dot product may sum exactly: 128·((p−1)/2)² + (p−1)/2 < 2^53. */
export const CHUNK = 128;
const P = MODULUS_P;

// The bound the chunk size rests on, asserted once at load rather than trusted.
if (CHUNK * HALF_P * HALF_P + HALF_P >= 2 ** 53) throw new Error('modp-ops: CHUNK breaks the 2^53 bound');

function outOfRange(what: string, v: number, i: number): TeeError {
  return new TeeError(
    'E_FRAME',
    `${what}: value ${v} at index ${i} is outside the centered range [${-HALF_P}, ${HALF_P}]`,
  );
}

/** Checks every value of a modp operand (hostile input: the exactness argument needs the bound). */
export function assertCentered(x: Int32Array, what: string): void {
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > HALF_P || v < -HALF_P) throw outOfRange(what, v, i);
  }
}

/** Reduces exact integers |v| < 2^53 to centered representatives, in place. */
export function reduceCentered(c: Float64Array): void {
  for (let i = 0; i < c.length; i++) {
    const v = c[i]!;
    // v/P is within one ulp of the true quotient, so q is off by at most one: one fix-up step suffices.
    // q·P < 2^53 and v − q·P are exact.
    let r = v - Math.round(v / P) * P;
    if (r > HALF_P) r -= P;
    else if (r < -HALF_P) r += P;
    c[i] = r;
  }
}

/**
 * c [m,n] ← c + aᵀ·b mod p, with a stored [kk,m] and b stored [kk,n] ("K-major": any range of the inner
 * dimension is a contiguous block of rows of both). c must hold centered values on entry; it holds
 * centered values on return. reduce = false (arith wide): c ← c + aᵀ·b in one GEMM, not reduced.
 */
export function gemmKMajorModp(
  kernels: Kernels,
  m: number,
  n: number,
  kk: number,
  a: Float64Array,
  b: Float64Array,
  c: Float64Array,
  reduce = true,
): void {
  if (m === 0 || n === 0) return;
  const chunk = reduce ? CHUNK : Math.max(kk, 1);
  for (let k0 = 0; k0 < kk; k0 += chunk) {
    const kc = Math.min(chunk, kk - k0);
    kernels.dgemm(
      true,
      false,
      m,
      n,
      kc,
      a.subarray(k0 * m, (k0 + kc) * m),
      b.subarray(k0 * n, (k0 + kc) * n),
      1,
      c,
    );
    if (reduce) reduceCentered(c);
  }
}

/** x [r,c] int32 → float64 (checked). */
function toF64(x: Int32Array, what: string): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]!;
    if (v > HALF_P || v < -HALF_P) throw outOfRange(what, v, i);
    out[i] = v;
  }
  return out;
}

/** x [r,c] int32 → xᵀ [c,r] float64 (checked). */
function toF64T(x: Int32Array, rows: number, cols: number, what: string): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < rows; i++) {
    const row = i * cols;
    for (let j = 0; j < cols; j++) {
      const v = x[row + j]!;
      if (v > HALF_P || v < -HALF_P) throw outOfRange(what, v, row + j);
      out[j * rows + i] = v;
    }
  }
  return out;
}

function toInt32(c: Float64Array): Int32Array {
  const out = new Int32Array(c.length);
  for (let i = 0; i < c.length; i++) out[i] = c[i]!;
  return out;
}

/** The result of an arith from its float64 sums: reduced values as int32 (modp), or the sums (wide). */
function finish<E extends ExactArith>(arith: E, c: Float64Array): ExactData<E> {
  return (arith === 'wide' ? c : toInt32(c)) as ExactData<E>;
}

function alloc<E extends ExactArith>(arith: E, n: number): ExactData<E> {
  return (arith === 'wide' ? new Float64Array(n) : new Int32Array(n)) as ExactData<E>;
}

// x [N,I], w [O,I] → y [N,O] = x·wᵀ (mod p, or exact)
export function denseExact<E extends ExactArith>(
  k: Kernels,
  arith: E,
  x: Int32Array,
  w: Int32Array,
  n: number,
  i: number,
  o: number,
): ExactData<E> {
  const y = new Float64Array(n * o);
  const r = arith === 'modp';
  gemmKMajorModp(k, n, o, i, toF64T(x, n, i, 'dense: a'), toF64T(w, o, i, 'dense: b'), y, r);
  return finish(arith, y);
}

// dy [N,O], w [O,I] → dx [N,I] = dy·w (mod p, or exact)
export function denseGradInputExact<E extends ExactArith>(
  k: Kernels,
  arith: E,
  dy: Int32Array,
  w: Int32Array,
  n: number,
  o: number,
  i: number,
): ExactData<E> {
  const dx = new Float64Array(n * i);
  const a = toF64T(dy, n, o, 'denseGradInput: a');
  gemmKMajorModp(k, n, i, o, a, toF64(w, 'denseGradInput: b'), dx, arith === 'modp');
  return finish(arith, dx);
}

// dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x (mod p, or exact)
export function denseGradWeightExact<E extends ExactArith>(
  k: Kernels,
  arith: E,
  dy: Int32Array,
  x: Int32Array,
  n: number,
  o: number,
  i: number,
): ExactData<E> {
  const dw = new Float64Array(o * i);
  const a = toF64(dy, 'denseGradWeight: a');
  gemmKMajorModp(k, o, i, n, a, toF64(x, 'denseGradWeight: b'), dw, arith === 'modp');
  return finish(arith, dw);
}

/** Valid output columns [lo, hi) for kernel offset kj: 0 ≤ ow·s − p + kj < size. */
function validRange(out: number, size: number, s: number, p: number, kj: number): [number, number] {
  const lo = Math.max(0, Math.ceil((p - kj) / s));
  const hi = Math.min(out, Math.floor((size - 1 + p - kj) / s) + 1);
  return [lo, Math.max(lo, hi)];
}

// One image x [C,H,W] (at xOff) → col [C·k·k, OH·OW] (zero padding).
function im2col(g: ConvShape, x: Int32Array, xOff: number, col: Float64Array): void {
  const { c, h, w, k, stride: s, padding: p, oh, ow } = g;
  const plane = oh * ow;
  col.fill(0);
  for (let ch = 0; ch < c; ch++) {
    for (let ki = 0; ki < k; ki++) {
      const [rlo, rhi] = validRange(oh, h, s, p, ki);
      for (let kj = 0; kj < k; kj++) {
        const row = ((ch * k + ki) * k + kj) * plane;
        const [clo, chi] = validRange(ow, w, s, p, kj);
        for (let r = rlo; r < rhi; r++) {
          const src = xOff + (ch * h + r * s - p + ki) * w - p + kj;
          const dst = row + r * ow;
          for (let q = clo; q < chi; q++) col[dst + q] = x[src + q * s]!;
        }
      }
    }
  }
}

// One image x [C,H,W] (at xOff) → colᵀ [OH·OW, C·k·k].
function im2colT(g: ConvShape, x: Int32Array, xOff: number, colT: Float64Array): void {
  const { c, h, w, k, stride: s, padding: p, oh, ow } = g;
  const ckk = c * k * k;
  colT.fill(0);
  for (let ch = 0; ch < c; ch++) {
    for (let ki = 0; ki < k; ki++) {
      const [rlo, rhi] = validRange(oh, h, s, p, ki);
      for (let kj = 0; kj < k; kj++) {
        const j = (ch * k + ki) * k + kj;
        const [clo, chi] = validRange(ow, w, s, p, kj);
        for (let r = rlo; r < rhi; r++) {
          const src = xOff + (ch * h + r * s - p + ki) * w - p + kj;
          for (let q = clo; q < chi; q++) colT[(r * ow + q) * ckk + j] = x[src + q * s]!;
        }
      }
    }
  }
}

// col [C·k·k, OH·OW] → one image dx [C,H,W] (at off), summed over overlapping windows (exact: at most
// k² terms below 2^23 each, k² ≤ 2^30).
function col2im(g: ConvShape, col: Float64Array, dx: Float64Array, off: number): void {
  const { c, h, w, k, stride: s, padding: p, oh, ow } = g;
  const plane = oh * ow;
  for (let ch = 0; ch < c; ch++) {
    for (let ki = 0; ki < k; ki++) {
      const [rlo, rhi] = validRange(oh, h, s, p, ki);
      for (let kj = 0; kj < k; kj++) {
        const row = ((ch * k + ki) * k + kj) * plane;
        const [clo, chi] = validRange(ow, w, s, p, kj);
        for (let r = rlo; r < rhi; r++) {
          const dst = off + (ch * h + r * s - p + ki) * w - p + kj;
          const src = row + r * ow;
          for (let q = clo; q < chi; q++) dx[dst + q * s]! += col[src + q]!;
        }
      }
    }
  }
}

function checkKernelSize(g: ConvShape): void {
  if (g.k * g.k > 2 ** 30)
    throw new TeeError('E_FRAME', `kernel size ${g.k} is too large for exact col2im sums`);
}

// x [N,C,H,W], w [O,C,k,k] → y [N,O,OH,OW]: per image, y_n [O, OH·OW] = w [O, Ckk] · col [Ckk, OH·OW]
export function conv2dExact<E extends ExactArith>(
  kern: Kernels,
  arith: E,
  g: ConvShape,
  x: Int32Array,
  w: Int32Array,
): ExactData<E> {
  const { n, c, o, k, oh, ow } = g;
  const ckk = c * k * k;
  const plane = oh * ow;
  assertCentered(x, 'conv2d: a');
  const wT = toF64T(w, o, ckk, 'conv2d: b');
  const y = alloc(arith, n * o * plane);
  const col = new Float64Array(ckk * plane);
  const acc = new Float64Array(o * plane);
  for (let img = 0; img < n; img++) {
    im2col(g, x, img * c * g.h * g.w, col);
    acc.fill(0);
    gemmKMajorModp(kern, o, plane, ckk, wT, col, acc, arith === 'modp');
    y.set(acc, img * o * plane);
  }
  return y;
}

// dy [N,O,OH,OW], w [O,C,k,k] → dx [N,C,H,W]: per image, col [Ckk, OH·OW] = wᵀ · dy_n, then col2im
// (wide: col2im's sums are parts of one output's exact sum, so they are exact too)
export function conv2dGradInputExact<E extends ExactArith>(
  kern: Kernels,
  arith: E,
  g: ConvShape,
  dy: Int32Array,
  w: Int32Array,
): ExactData<E> {
  checkKernelSize(g);
  const { n, c, h, o, k, oh, ow } = g;
  const ckk = c * k * k;
  const plane = oh * ow;
  const reduce = arith === 'modp';
  const wf = toF64(w, 'conv2dGradInput: b');
  const dyf = toF64(dy, 'conv2dGradInput: a');
  const dx = alloc(arith, n * c * h * g.w);
  const col = new Float64Array(ckk * plane);
  const img = new Float64Array(c * h * g.w);
  for (let i = 0; i < n; i++) {
    col.fill(0);
    gemmKMajorModp(kern, ckk, plane, o, wf, dyf.subarray(i * o * plane, (i + 1) * o * plane), col, reduce);
    img.fill(0);
    col2im(g, col, img, 0);
    if (reduce) reduceCentered(img);
    dx.set(img, i * img.length);
  }
  return dx;
}

// dy [N,O,OH,OW], x [N,C,H,W] → dw [O,C,k,k] = Σ_n dy_n [O, OH·OW] · col_nᵀ [OH·OW, Ckk]
export function conv2dGradWeightExact<E extends ExactArith>(
  kern: Kernels,
  arith: E,
  g: ConvShape,
  dy: Int32Array,
  x: Int32Array,
): ExactData<E> {
  const { n, c, h, o, k, oh, ow } = g;
  const ckk = c * k * k;
  const plane = oh * ow;
  assertCentered(x, 'conv2dGradWeight: b');
  const dw = new Float64Array(o * ckk);
  const colT = new Float64Array(plane * ckk);
  for (let i = 0; i < n; i++) {
    const dyT = toF64T(dy.subarray(i * o * plane, (i + 1) * o * plane), o, plane, 'conv2dGradWeight: a');
    im2colT(g, x, i * c * h * g.w, colT);
    gemmKMajorModp(kern, o, ckk, plane, dyT, colT, dw, arith === 'modp');
  }
  return finish(arith, dw);
}

// The mod-p products under their original names (the verification benchmarks call these).
export const denseModp = (k: Kernels, x: Int32Array, w: Int32Array, n: number, i: number, o: number) =>
  denseExact(k, 'modp', x, w, n, i, o);
export const denseGradInputModp = (
  k: Kernels,
  dy: Int32Array,
  w: Int32Array,
  n: number,
  o: number,
  i: number,
) => denseGradInputExact(k, 'modp', dy, w, n, o, i);
export const denseGradWeightModp = (
  k: Kernels,
  dy: Int32Array,
  x: Int32Array,
  n: number,
  o: number,
  i: number,
) => denseGradWeightExact(k, 'modp', dy, x, n, o, i);
export const conv2dModp = (k: Kernels, g: ConvShape, x: Int32Array, w: Int32Array) =>
  conv2dExact(k, 'modp', g, x, w);
export const conv2dGradInputModp = (k: Kernels, g: ConvShape, dy: Int32Array, w: Int32Array) =>
  conv2dGradInputExact(k, 'modp', g, dy, w);
export const conv2dGradWeightModp = (k: Kernels, g: ConvShape, dy: Int32Array, x: Int32Array) =>
  conv2dGradWeightExact(k, 'modp', g, dy, x);
