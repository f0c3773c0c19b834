// LinearOps computed in this process on a Kernels backend (the native addon, or the reference in tests):
// writes each result into the offered `out` tensor (which must have the result's shape) or a new one,
// and checks that the operands' shapes fit before any kernel runs
// (TeeError E_SHAPE with the shapes in the message).
import { TeeError } from '../errors.js';
import { expectRank, shapeStr, Tensor } from '../tensor/tensor.js';
import type { ConvGeom, Kernels } from './api.js';
import { convOutSize } from './api.js';
import type { ConvParams, LinearOps } from './linear-ops.js';

function shapeError(message: string): TeeError {
  return new TeeError('E_SHAPE', message);
}

function checkParams(op: string, p: ConvParams): void {
  if (!Number.isInteger(p.stride) || p.stride < 1 || !Number.isInteger(p.padding) || p.padding < 0) {
    throw shapeError(
      `${op}: stride must be an integer >= 1 and padding an integer >= 0, got ${p.stride}, ${p.padding}`,
    );
  }
}

// w [O,C,k,k] → { o, c, k }
function kernelDims(op: string, w: Tensor): { o: number; c: number; k: number } {
  expectRank(w, 4, `${op}: w`);
  const [o, c, kh, kw] = w.shape as [number, number, number, number];
  if (kh !== kw) throw shapeError(`${op}: w ${shapeStr(w.shape)} must have a square kernel`);
  return { o, c, k: kh };
}

function outDims(op: string, h: number, w: number, k: number, p: ConvParams): [number, number] {
  const oh = convOutSize(h, k, p.stride, p.padding);
  const ow = convOutSize(w, k, p.stride, p.padding);
  if (h < 1 || w < 1 || oh < 1 || ow < 1) {
    throw shapeError(`${op}: a ${k}x${k} kernel with padding ${p.padding} does not fit a ${h}x${w} input`);
  }
  return [oh, ow];
}

// `out` when offered (its shape must be the result's), else a new zeroed tensor.
function resultTensor(op: string, shape: readonly number[], out: Tensor | undefined): Tensor {
  if (out === undefined) return new Tensor(shape);
  if (out.rank !== shape.length || out.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(`${op}: out ${shapeStr(out.shape)} does not match the result ${shapeStr(shape)}`);
  }
  return out;
}

export class LocalLinearOps implements LinearOps {
  readonly name: string;
  readonly writesOut = true;
  private readonly k: Kernels;

  constructor(kernels: Kernels) {
    this.k = kernels;
    this.name = `local(${kernels.name})`;
  }

  // x [N,I], w [O,I] → y [N,O] = x·wᵀ
  async dense(x: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    expectRank(x, 2, 'dense: x');
    expectRank(w, 2, 'dense: w');
    const [n, i] = x.shape as [number, number];
    const [o, wi] = w.shape as [number, number];
    if (wi !== i) throw shapeError(`dense: x ${shapeStr(x.shape)} does not fit w ${shapeStr(w.shape)}`);
    const y = resultTensor('dense', [n, o], out);
    this.k.sgemm(false, true, n, o, i, x.data, w.data, 0, y.data);
    return y;
  }

  // dy [N,O], w [O,I] → dx [N,I] = dy·w
  async denseGradInput(dy: Tensor, w: Tensor, out?: Tensor): Promise<Tensor> {
    expectRank(dy, 2, 'denseGradInput: dy');
    expectRank(w, 2, 'denseGradInput: w');
    const [n, o] = dy.shape as [number, number];
    const [wo, i] = w.shape as [number, number];
    if (wo !== o)
      throw shapeError(`denseGradInput: dy ${shapeStr(dy.shape)} does not fit w ${shapeStr(w.shape)}`);
    const dx = resultTensor('denseGradInput', [n, i], out);
    this.k.sgemm(false, false, n, i, o, dy.data, w.data, 0, dx.data);
    return dx;
  }

  // dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x
  async denseGradWeight(dy: Tensor, x: Tensor, out?: Tensor): Promise<Tensor> {
    expectRank(dy, 2, 'denseGradWeight: dy');
    expectRank(x, 2, 'denseGradWeight: x');
    const [n, o] = dy.shape as [number, number];
    const [xn, i] = x.shape as [number, number];
    if (xn !== n)
      throw shapeError(`denseGradWeight: dy ${shapeStr(dy.shape)} does not fit x ${shapeStr(x.shape)}`);
    const dw = resultTensor('denseGradWeight', [o, i], out);
    this.k.sgemm(true, false, o, i, n, dy.data, x.data, 0, dw.data);
    return dw;
  }

  // x [N,C,H,W], w [O,C,k,k] → y [N,O,H',W']
  async conv2d(x: Tensor, w: Tensor, p: ConvParams, out?: Tensor): Promise<Tensor> {
    checkParams('conv2d', p);
    expectRank(x, 4, 'conv2d: x');
    const { o, c, k } = kernelDims('conv2d', w);
    const [n, xc, h, wd] = x.shape as [number, number, number, number];
    if (xc !== c) throw shapeError(`conv2d: x ${shapeStr(x.shape)} does not fit w ${shapeStr(w.shape)}`);
    const [oh, ow] = outDims('conv2d', h, wd, k, p);
    const y = resultTensor('conv2d', [n, o, oh, ow], out);
    if (y.size > 0 && c > 0) this.k.conv2dForward(geom(n, c, h, wd, o, k, p), x.data, w.data, y.data);
    else y.data.fill(0); // no input channels
    return y;
  }

  // dy [N,O,H',W'], w [O,C,k,k] → dx [N,C,H,W]
  async conv2dGradInput(
    dy: Tensor,
    w: Tensor,
    p: ConvParams,
    inputHW: readonly [number, number],
    out?: Tensor,
  ): Promise<Tensor> {
    checkParams('conv2dGradInput', p);
    expectRank(dy, 4, 'conv2dGradInput: dy');
    const { o, c, k } = kernelDims('conv2dGradInput', w);
    const [n, dyo, oh, ow] = dy.shape as [number, number, number, number];
    const [h, wd] = inputHW;
    if (!Number.isInteger(h) || !Number.isInteger(wd)) {
      throw shapeError(`conv2dGradInput: inputHW [${h},${wd}] must be integers`);
    }
    const [eh, ew] = outDims('conv2dGradInput', h, wd, k, p);
    if (dyo !== o || eh !== oh || ew !== ow) {
      throw shapeError(
        `conv2dGradInput: dy ${shapeStr(dy.shape)} does not fit w ${shapeStr(w.shape)} on a ${h}x${wd} input ` +
          `(expected [${n},${o},${eh},${ew}])`,
      );
    }
    const dx = resultTensor('conv2dGradInput', [n, c, h, wd], out);
    if (dx.size > 0 && o > 0)
      this.k.conv2dBackwardInput(geom(n, c, h, wd, o, k, p), dy.data, w.data, dx.data);
    else dx.data.fill(0);
    return dx;
  }

  // dy [N,O,H',W'], x [N,C,H,W] → dw [O,C,k,k]
  async conv2dGradWeight(dy: Tensor, x: Tensor, p: ConvParams, k: number, out?: Tensor): Promise<Tensor> {
    checkParams('conv2dGradWeight', p);
    if (!Number.isInteger(k) || k < 1)
      throw shapeError(`conv2dGradWeight: kernel size must be an integer >= 1, got ${k}`);
    expectRank(dy, 4, 'conv2dGradWeight: dy');
    expectRank(x, 4, 'conv2dGradWeight: x');
    const [n, o, oh, ow] = dy.shape as [number, number, number, number];
    const [xn, c, h, wd] = x.shape as [number, number, number, number];
    const [eh, ew] = outDims('conv2dGradWeight', h, wd, k, p);
    if (xn !== n || eh !== oh || ew !== ow) {
      throw shapeError(
        `conv2dGradWeight: dy ${shapeStr(dy.shape)} does not fit x ${shapeStr(x.shape)} with a ${k}x${k} kernel ` +
          `(expected [${xn},${o},${eh},${ew}])`,
      );
    }
    const dw = resultTensor('conv2dGradWeight', [o, c, k, k], out);
    if (dw.size === 0 || n === 0) {
      dw.data.fill(0); // no images: the gradient is zero
      return dw;
    }
    this.k.conv2dBackwardWeight(geom(n, c, h, wd, o, k, p), dy.data, x.data, dw.data);
    return dw;
  }
}

function geom(n: number, c: number, h: number, w: number, o: number, k: number, p: ConvParams): ConvGeom {
  return { n, c, h, w, o, k, stride: p.stride, padding: p.padding };
}
