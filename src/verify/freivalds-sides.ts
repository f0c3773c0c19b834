// Both sides of a Freivalds check, Y·r = A·(B·r) (Freivalds 1977), for each of the six products, over
// any arithmetic that offers the five primitives (exact mod p, or float64). r holds `reps` random vectors
// of length foldLength(g); a convolution is checked by folding the result's channels with r:
//   conv2d            Σ_o r_o·Y_o  = conv(X, Σ_o r_o·W_o)          (cost ≈ 1/O of the conv)
//   conv2dGradInput   Σ_c r_c·dX_c = convT(dY, Σ_c r_c·W[:,c])
//   conv2dGradWeight  Σ_o r_o·dW_o = corr(Σ_o r_o·dY_o, X)
// lhs and rhs come back in one layout [batch, reps, inner] so that they compare element by element. (The
// wide field checks convolutions with structured vectors instead: freivalds-wide.ts.)
import type { CheckConvDims } from './native-modp.js';
import type { ProductGeometry } from './product-geometry.js';

export interface SideKernels<Op, Vec> {
  fold(batch: number, rows: number, cols: number, reps: number, a: Op, r: Vec): Vec;
  matvecs(m: number, kk: number, reps: number, a: Op, u: Vec): Vec;
  conv(g: CheckConvDims, reps: number, x: Op, wf: Vec): Vec;
  convT(g: CheckConvDims, reps: number, dy: Op, wg: Vec): Vec;
  convW(g: CheckConvDims, reps: number, dyf: Vec, x: Op): Vec;
}

export interface Sides<Vec> {
  /** Y folded with r. */
  readonly lhs: Vec;
  /** A·(B·r). */
  readonly rhs: Vec;
  /** Layout of both: [batch, reps, inner]. */
  readonly batch: number;
  readonly inner: number;
}

/**
 * The operand side of a check, computed now (before the result need exist), and the result side as a
 * function of the result: rhs = A·(B·r) from the operands alone, lhs(y) = Y folded with r.
 */
export interface PendingSides<Op, Vec> {
  readonly rhs: Vec;
  lhs(y: Op): Vec;
  readonly batch: number;
  readonly inner: number;
}

export function evaluateSides<Op, Vec>(
  kern: SideKernels<Op, Vec>,
  g: ProductGeometry,
  a: Op,
  b: Op,
  y: Op,
  r: Vec,
  reps: number,
): Sides<Vec> {
  const s = operandSides(kern, g, a, b, r, reps);
  return { rhs: s.rhs, lhs: s.lhs(y), batch: s.batch, inner: s.inner };
}

export function operandSides<Op, Vec>(
  kern: SideKernels<Op, Vec>,
  g: ProductGeometry,
  a: Op,
  b: Op,
  r: Vec,
  reps: number,
): PendingSides<Op, Vec> {
  switch (g.op) {
    case 'dense': {
      // x [n,i], w [o,i], y [n,o]; r [reps,o]: y·r = x·(wᵀ·r)
      const u = kern.fold(1, g.o, g.i, reps, b, r);
      return {
        rhs: kern.matvecs(g.n, g.i, reps, a, u),
        lhs: (y) => kern.matvecs(g.n, g.o, reps, y, r),
        batch: 1,
        inner: g.n,
      };
    }
    case 'denseGradInput': {
      // dy [n,o], w [o,i], dx [n,i]; r [reps,i]: dx·r = dy·(w·r)
      const u = kern.matvecs(g.o, g.i, reps, b, r);
      return {
        rhs: kern.matvecs(g.n, g.o, reps, a, u),
        lhs: (y) => kern.matvecs(g.n, g.i, reps, y, r),
        batch: 1,
        inner: g.n,
      };
    }
    case 'denseGradWeight': {
      // dy [n,o], x [n,i], dw [o,i]; r [reps,i]: dw·r = dyᵀ·(x·r)
      const u = kern.matvecs(g.n, g.i, reps, b, r);
      return {
        rhs: kern.fold(1, g.n, g.o, reps, a, u),
        lhs: (y) => kern.matvecs(g.o, g.i, reps, y, r),
        batch: 1,
        inner: g.o,
      };
    }
    case 'conv2d': {
      // x [n,c,h,w], w [o,c,k,k], y [n,o,oh,ow]; r [reps,o]
      const kk = g.c * g.k * g.k;
      const wf = kern.fold(1, g.o, kk, reps, b, r);
      const dims = { n: g.n, c: g.c, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
      const plane = g.oh * g.ow;
      return {
        rhs: kern.conv(dims, reps, a, wf),
        lhs: (y) => kern.fold(g.n, g.o, plane, reps, y, r),
        batch: g.n,
        inner: plane,
      };
    }
    case 'conv2dGradInput': {
      // dy [n,o,oh,ow], w [o,c,k,k], dx [n,c,h,w]; r [reps,c]
      const wg = kern.fold(g.o, g.c, g.k * g.k, reps, b, r);
      const dims = { n: g.n, c: g.o, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
      const plane = g.h * g.w;
      return {
        rhs: kern.convT(dims, reps, a, wg),
        lhs: (y) => kern.fold(g.n, g.c, plane, reps, y, r),
        batch: g.n,
        inner: plane,
      };
    }
    case 'conv2dGradWeight': {
      // dy [n,o,oh,ow], x [n,c,h,w], dw [o,c,k,k]; r [reps,o]
      const dyf = kern.fold(g.n, g.o, g.oh * g.ow, reps, a, r);
      const dims = { n: g.n, c: g.c, h: g.h, w: g.w, k: g.k, stride: g.stride, padding: g.padding };
      const kk = g.c * g.k * g.k;
      return {
        rhs: kern.convW(dims, reps, dyf, b),
        lhs: (y) => kern.fold(1, g.o, kk, reps, y, r),
        batch: 1,
        inner: kk,
      };
    }
  }
}
