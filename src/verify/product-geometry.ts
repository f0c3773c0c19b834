// The six linear products of DESIGN.md as geometry: operand and result shapes, the length of the
// longest inner product (K, for rounding and overflow bounds), the random-vector length of a check, and
// which operand is a weight, an activation or a gradient. Shapes that do not fit are E_SHAPE, with the
// shapes in the message. (The same six names as protocol/'s LINEAR_OPS; verify/ is a leaf, so it keeps
// its own list and a test keeps the two equal.)
import { TeeError } from '../errors.js';

export const LINEAR_OP_KINDS = [
  'dense',
  'denseGradInput',
  'denseGradWeight',
  'conv2d',
  'conv2dGradInput',
  'conv2dGradWeight',
] as const;
export type LinearOpKind = (typeof LINEAR_OP_KINDS)[number];

export type OperandRole = 'weight' | 'activation' | 'gradient';

/** Conv hyper-parameters; inputHW for conv2dGradInput, k for conv2dGradWeight. */
export interface ProductParams {
  readonly stride?: number;
  readonly padding?: number;
  readonly inputHW?: readonly [number, number];
  readonly k?: number;
}

/**
 * dense:           a = x [n,i],  b = w [o,i] → [n,o]
 * denseGradInput:  a = dy [n,o], b = w [o,i] → [n,i]
 * denseGradWeight: a = dy [n,o], b = x [n,i] → [o,i]
 */
export interface DenseGeometry {
  readonly op: 'dense' | 'denseGradInput' | 'denseGradWeight';
  readonly n: number;
  readonly i: number;
  readonly o: number;
}

/**
 * conv2d:           a = x [n,c,h,w],   b = w [o,c,k,k] → [n,o,oh,ow]
 * conv2dGradInput:  a = dy [n,o,oh,ow], b = w [o,c,k,k] → [n,c,h,w]
 * conv2dGradWeight: a = dy [n,o,oh,ow], b = x [n,c,h,w] → [o,c,k,k]
 */
export interface ConvGeometry {
  readonly op: 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight';
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly o: number;
  readonly k: number;
  readonly stride: number;
  readonly padding: number;
  readonly oh: number;
  readonly ow: number;
}

export type ProductGeometry = DenseGeometry | ConvGeometry;

export function isConv(g: ProductGeometry): g is ConvGeometry {
  return g.op === 'conv2d' || g.op === 'conv2dGradInput' || g.op === 'conv2dGradWeight';
}

export function convOut(size: number, k: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - k) / stride) + 1;
}

function shapeError(message: string): TeeError {
  return new TeeError('E_SHAPE', message);
}

function str(s: readonly number[]): string {
  return `[${s.join(',')}]`;
}

function dimsOf(op: string, what: string, s: readonly number[], rank: number): number[] {
  if (s.length !== rank || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw shapeError(`${op}: ${what}: expected a rank-${rank} shape, got ${str(s)}`);
  }
  return [...s];
}

function convParams(op: string, params: ProductParams): { stride: number; padding: number } {
  const stride = params.stride ?? 1;
  const padding = params.padding ?? 0;
  if (!Number.isInteger(stride) || stride < 1 || !Number.isInteger(padding) || padding < 0) {
    throw shapeError(
      `${op}: stride must be an integer >= 1 and padding an integer >= 0, got ${stride}, ${padding}`,
    );
  }
  return { stride, padding };
}

function fits(
  op: string,
  h: number,
  w: number,
  k: number,
  stride: number,
  padding: number,
): [number, number] {
  const oh = convOut(h, k, stride, padding);
  const ow = convOut(w, k, stride, padding);
  if (h < 1 || w < 1 || k < 1 || oh < 1 || ow < 1) {
    throw shapeError(`${op}: a ${k}x${k} kernel with padding ${padding} does not fit a ${h}x${w} input`);
  }
  return [oh, ow];
}

/** The geometry of `op` on operands of these shapes (E_SHAPE when they do not fit). */
export function productGeometry(
  op: LinearOpKind,
  aShape: readonly number[],
  bShape: readonly number[],
  params: ProductParams = {},
): ProductGeometry {
  switch (op) {
    case 'dense': {
      const [n, i] = dimsOf(op, 'x', aShape, 2) as [number, number];
      const [o, wi] = dimsOf(op, 'w', bShape, 2) as [number, number];
      if (wi !== i) throw shapeError(`dense: x ${str(aShape)} does not fit w ${str(bShape)}`);
      return { op, n, i, o };
    }
    case 'denseGradInput': {
      const [n, o] = dimsOf(op, 'dy', aShape, 2) as [number, number];
      const [wo, i] = dimsOf(op, 'w', bShape, 2) as [number, number];
      if (wo !== o) throw shapeError(`denseGradInput: dy ${str(aShape)} does not fit w ${str(bShape)}`);
      return { op, n, i, o };
    }
    case 'denseGradWeight': {
      const [n, o] = dimsOf(op, 'dy', aShape, 2) as [number, number];
      const [xn, i] = dimsOf(op, 'x', bShape, 2) as [number, number];
      if (xn !== n) throw shapeError(`denseGradWeight: dy ${str(aShape)} does not fit x ${str(bShape)}`);
      return { op, n, i, o };
    }
    case 'conv2d': {
      const { stride, padding } = convParams(op, params);
      const [n, c, h, w] = dimsOf(op, 'x', aShape, 4) as [number, number, number, number];
      const [o, wc, k, k2] = dimsOf(op, 'w', bShape, 4) as [number, number, number, number];
      if (k !== k2) throw shapeError(`conv2d: w ${str(bShape)} must have a square kernel`);
      if (wc !== c) throw shapeError(`conv2d: x ${str(aShape)} does not fit w ${str(bShape)}`);
      const [oh, ow] = fits(op, h, w, k, stride, padding);
      return { op, n, c, h, w, o, k, stride, padding, oh, ow };
    }
    case 'conv2dGradInput': {
      const { stride, padding } = convParams(op, params);
      const [n, o, dh, dw] = dimsOf(op, 'dy', aShape, 4) as [number, number, number, number];
      const [wo, c, k, k2] = dimsOf(op, 'w', bShape, 4) as [number, number, number, number];
      if (k !== k2) throw shapeError(`conv2dGradInput: w ${str(bShape)} must have a square kernel`);
      const hw = params.inputHW;
      if (hw === undefined || !Number.isInteger(hw[0]) || !Number.isInteger(hw[1])) {
        throw shapeError('conv2dGradInput: inputHW [H,W] must be two integers');
      }
      const [h, w] = hw;
      const [oh, ow] = fits(op, h, w, k, stride, padding);
      if (wo !== o || dh !== oh || dw !== ow) {
        throw shapeError(
          `conv2dGradInput: dy ${str(aShape)} does not fit w ${str(bShape)} on a ${h}x${w} input ` +
            `(expected [${n},${wo},${oh},${ow}])`,
        );
      }
      return { op, n, c, h, w, o, k, stride, padding, oh, ow };
    }
    case 'conv2dGradWeight': {
      const { stride, padding } = convParams(op, params);
      const k = params.k;
      if (k === undefined || !Number.isInteger(k) || k < 1) {
        throw shapeError(`conv2dGradWeight: kernel size must be an integer >= 1, got ${k}`);
      }
      const [n, o, dh, dw] = dimsOf(op, 'dy', aShape, 4) as [number, number, number, number];
      const [xn, c, h, w] = dimsOf(op, 'x', bShape, 4) as [number, number, number, number];
      const [oh, ow] = fits(op, h, w, k, stride, padding);
      if (xn !== n || dh !== oh || dw !== ow) {
        throw shapeError(
          `conv2dGradWeight: dy ${str(aShape)} does not fit x ${str(bShape)} with a ${k}x${k} kernel ` +
            `(expected [${xn},${o},${oh},${ow}])`,
        );
      }
      return { op, n, c, h, w, o, k, stride, padding, oh, ow };
    }
    default:
      throw new TypeError(`unknown linear op '${String(op)}'`);
  }
}

export function aShapeOf(g: ProductGeometry): number[] {
  switch (g.op) {
    case 'dense':
      return [g.n, g.i];
    case 'denseGradInput':
    case 'denseGradWeight':
      return [g.n, g.o];
    case 'conv2d':
      return [g.n, g.c, g.h, g.w];
    default:
      return [g.n, g.o, g.oh, g.ow];
  }
}

export function bShapeOf(g: ProductGeometry): number[] {
  switch (g.op) {
    case 'dense':
    case 'denseGradInput':
      return [g.o, g.i];
    case 'denseGradWeight':
      return [g.n, g.i];
    case 'conv2d':
    case 'conv2dGradInput':
      return [g.o, g.c, g.k, g.k];
    default:
      return [g.n, g.c, g.h, g.w];
  }
}

export function resultShapeOf(g: ProductGeometry): number[] {
  switch (g.op) {
    case 'dense':
      return [g.n, g.o];
    case 'denseGradInput':
      return [g.n, g.i];
    case 'denseGradWeight':
      return [g.o, g.i];
    case 'conv2d':
      return [g.n, g.o, g.oh, g.ow];
    case 'conv2dGradInput':
      return [g.n, g.c, g.h, g.w];
    default:
      return [g.o, g.c, g.k, g.k];
  }
}

export function numelOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** K: the most terms in any one output's inner product. */
export function innerLength(g: ProductGeometry): number {
  switch (g.op) {
    case 'dense':
      return g.i;
    case 'denseGradInput':
      return g.o;
    case 'denseGradWeight':
      return g.n;
    case 'conv2d':
      return g.c * g.k * g.k;
    case 'conv2dGradInput': {
      // An input pixel receives from at most ceil(k/s) window positions per axis, each with one tap.
      const m = Math.ceil(g.k / g.stride);
      return g.o * Math.min(m, g.oh) * Math.min(m, g.ow);
    }
    default:
      return g.n * g.oh * g.ow;
  }
}

/** Length of a check's random vector: the result dimension it folds. */
export function foldLength(g: ProductGeometry): number {
  switch (g.op) {
    case 'dense':
    case 'conv2d':
    case 'conv2dGradWeight':
      return g.o;
    case 'denseGradInput':
    case 'denseGradWeight':
      return g.i;
    default:
      return g.c;
  }
}

/** What the two operands are, which decides their scale cap and rounding (gradients: stochastic). */
export function operandRoles(op: LinearOpKind): [OperandRole, OperandRole] {
  switch (op) {
    case 'dense':
    case 'conv2d':
      return ['activation', 'weight'];
    case 'denseGradInput':
    case 'conv2dGradInput':
      return ['gradient', 'weight'];
    default:
      return ['gradient', 'activation'];
  }
}
