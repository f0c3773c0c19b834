// The shape rules of the six linear products (DESIGN.md, "The seam"), as both sides of the wire apply
// them: the client before it sends, the accelerator before it computes, the client again on the reply.
// A request that breaks them is E_FRAME (the same exact messages everywhere, docs/protocol.md).
import { shapeStr } from '../tensor/tensor.js';
import { frameError } from './frame.js';
import { MAX_DIM } from './limits.js';
import type { LinearRequest, WireTensor } from './linear-request.js';

/** Conv geometry derived from a valid conv request (the names of kernels/api.ts ConvGeom). */
export interface ConvShape {
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

function rank(t: WireTensor, r: number, what: string): void {
  if (t.shape.length !== r)
    throw frameError(`${what}: expected a rank-${r} tensor, got ${shapeStr(t.shape)}`);
}

function param(v: number | undefined, min: number, what: string, op: string): number {
  if (v === undefined || !Number.isInteger(v) || v < min || v > MAX_DIM) {
    throw frameError(`${op}: ${what} must be an integer in [${min}, ${MAX_DIM}], got ${v}`);
  }
  return v;
}

function unused(req: LinearRequest, names: readonly ('stride' | 'padding' | 'inputHW' | 'k')[]): void {
  for (const name of names) {
    const v = req[name];
    if (v !== undefined && v !== 0) throw frameError(`${req.op}: takes no ${name}, got ${String(v)}`);
  }
}

function outSize(size: number, k: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - k) / stride) + 1;
}

function fit(
  req: LinearRequest,
  h: number,
  w: number,
  k: number,
  stride: number,
  padding: number,
): [number, number] {
  const oh = outSize(h, k, stride, padding);
  const ow = outSize(w, k, stride, padding);
  if (h < 1 || w < 1 || oh < 1 || ow < 1) {
    throw frameError(`${req.op}: a ${k}x${k} kernel with padding ${padding} does not fit a ${h}x${w} input`);
  }
  if (oh > MAX_DIM || ow > MAX_DIM) throw frameError(`${req.op}: output ${oh}x${ow} exceeds ${MAX_DIM}`);
  return [oh, ow];
}

function mismatch(req: LinearRequest, extra = ''): never {
  throw frameError(`${req.op}: a ${shapeStr(req.a.shape)} does not fit b ${shapeStr(req.b.shape)}${extra}`);
}

/** The conv geometry of a conv request; E_FRAME when the operands or parameters do not fit. */
export function convShape(req: LinearRequest): ConvShape {
  const op = req.op;
  rank(req.a, 4, `${op}: a`);
  rank(req.b, 4, `${op}: b`);
  const stride = param(req.stride, 1, 'stride', op);
  const padding = param(req.padding, 0, 'padding', op);
  const [a0, a1, a2, a3] = req.a.shape as [number, number, number, number];
  const [b0, b1, b2, b3] = req.b.shape as [number, number, number, number];
  if (op === 'conv2d') {
    unused(req, ['inputHW', 'k']);
    if (b2 !== b3) throw frameError(`${op}: b ${shapeStr(req.b.shape)} must have a square kernel`);
    if (b2 < 1) throw frameError(`${op}: b ${shapeStr(req.b.shape)} has an empty kernel`);
    if (b1 !== a1) mismatch(req);
    const [oh, ow] = fit(req, a2, a3, b2, stride, padding);
    return { n: a0, c: a1, h: a2, w: a3, o: b0, k: b2, stride, padding, oh, ow };
  }
  if (op === 'conv2dGradInput') {
    unused(req, ['k']);
    if (req.inputHW === undefined || req.inputHW.length !== 2) {
      throw frameError(`${op}: inputHW must be [H, W], got ${String(req.inputHW)}`);
    }
    const h = param(req.inputHW[0], 1, 'inputHW[0]', op);
    const w = param(req.inputHW[1], 1, 'inputHW[1]', op);
    if (b2 !== b3) throw frameError(`${op}: b ${shapeStr(req.b.shape)} must have a square kernel`);
    if (b2 < 1) throw frameError(`${op}: b ${shapeStr(req.b.shape)} has an empty kernel`);
    const [oh, ow] = fit(req, h, w, b2, stride, padding);
    if (a1 !== b0 || a2 !== oh || a3 !== ow)
      mismatch(req, ` on a ${h}x${w} input (expected a [${a0},${b0},${oh},${ow}])`);
    return { n: a0, c: b1, h, w, o: b0, k: b2, stride, padding, oh, ow };
  }
  if (op === 'conv2dGradWeight') {
    unused(req, ['inputHW']);
    const k = param(req.k, 1, 'k', op);
    const [oh, ow] = fit(req, b2, b3, k, stride, padding);
    if (a0 !== b0 || a2 !== oh || a3 !== ow) {
      mismatch(req, ` with a ${k}x${k} kernel (expected a [${b0},${a1},${oh},${ow}])`);
    }
    return { n: a0, c: b1, h: b2, w: b3, o: a1, k, stride, padding, oh, ow };
  }
  throw frameError(`${op} is not a convolution`);
}

/** The shape of the product a request asks for; E_FRAME when the request is inconsistent. */
export function outputShape(req: LinearRequest): number[] {
  switch (req.op) {
    case 'dense':
    case 'denseGradInput':
    case 'denseGradWeight': {
      unused(req, ['stride', 'padding', 'inputHW', 'k']);
      rank(req.a, 2, `${req.op}: a`);
      rank(req.b, 2, `${req.op}: b`);
      const [a0, a1] = req.a.shape as [number, number];
      const [b0, b1] = req.b.shape as [number, number];
      if (req.op === 'dense') {
        if (a1 !== b1) mismatch(req);
        return [a0, b0];
      }
      if (req.op === 'denseGradInput') {
        if (a1 !== b0) mismatch(req);
        return [a0, b1];
      }
      if (a0 !== b0) mismatch(req);
      return [a1, b1];
    }
    case 'conv2d': {
      const g = convShape(req);
      return [g.n, g.o, g.oh, g.ow];
    }
    case 'conv2dGradInput': {
      const g = convShape(req);
      return [g.n, g.c, g.h, g.w];
    }
    case 'conv2dGradWeight': {
      const g = convShape(req);
      return [g.o, g.c, g.k, g.k];
    }
    default:
      throw frameError(`unknown op '${String((req as { op: unknown }).op)}'`);
  }
}
