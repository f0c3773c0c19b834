// The native addon's face: loads build/Release/tee_offload.node lazily (first use), checks every array's
// type and length against the geometry before a pointer reaches C++ (TeeError E_SHAPE with the exact
// sizes), and implements `Kernels`. A missing addon throws E_NATIVE on first use, not at import, so
// that commands which never compute still run. Typed arrays are passed zero-copy.
import { TeeError } from '../errors.js';
import { requireAddon } from '../native-addon.js';
import type { AdaptiveGeom, ChannelGeom, ConvGeom, KernelInfo, Kernels, PoolGeom } from './api.js';
import { convOutSize } from './api.js';

/** Where a convolution runs: oneDNN primitives, or im2col + GEMM on our own threads. */
export type ConvBackend = 'onednn' | 'im2col';

/** info() of the native kernels, with how the addon was built. */
export interface NativeKernelInfo extends KernelInfo {
  readonly onednnBuilt: boolean;
  readonly openblasBuilt: boolean;
  readonly openmp: boolean;
  /** 'avx2+fma' or 'portable': the instruction set the addon was compiled for. */
  readonly simd: string;
}

type F32 = Float32Array;
type F64 = Float64Array;

// The C++ functions, argument for argument (geometries flattened into numbers).
interface Addon {
  info(): NativeKernelInfo;
  setThreads(n: number): void;
  setDeterministic(on: boolean): void;
  setConvBackend(name: string): void;
  clearConvCache(): void;
  sgemm(
    ta: boolean,
    tb: boolean,
    m: number,
    n: number,
    k: number,
    a: F32,
    b: F32,
    beta: number,
    c: F32,
    builtin?: boolean,
  ): void;
  dgemm(
    ta: boolean,
    tb: boolean,
    m: number,
    n: number,
    k: number,
    a: F64,
    b: F64,
    beta: number,
    c: F64,
    builtin?: boolean,
  ): void;
  conv2dForward(...args: [...ConvArgs, F32, F32, F32]): void;
  conv2dBackwardInput(...args: [...ConvArgs, F32, F32, F32]): void;
  conv2dBackwardWeight(...args: [...ConvArgs, F32, F32, F32]): void;
  maxPool2dForward(...args: [...PoolArgs, F32, F32, Int32Array]): void;
  maxPool2dBackward(...args: [...PoolArgs, F32, Int32Array, F32]): void;
  adaptiveAvgPool2dForward(...args: [...AdaptiveArgs, F32, F32]): void;
  adaptiveAvgPool2dBackward(...args: [...AdaptiveArgs, F32, F32]): void;
  batchNorm2dForwardTrain(
    ...args: [...ChannelArgs, F32, F32 | null, F32 | null, number, F32, F32, F32, F32]
  ): void;
  batchNorm2dForwardEval(...args: [...ChannelArgs, F32, F32 | null, F32 | null, F32, F32, number, F32]): void;
  batchNorm2dBackward(
    ...args: [...ChannelArgs, F32, F32, F32 | null, F32, F32, F32, F32 | null, F32 | null]
  ): void;
  reluForward(x: F32, y: F32): void;
  reluBackward(dy: F32, x: F32, dx: F32): void;
  crossEntropyForward(n: number, k: number, logits: F32, labels: Int32Array, probs: F32): number;
  crossEntropyBackward(n: number, k: number, probs: F32, labels: Int32Array, scale: number, dl: F32): void;
  addChannelBias(...args: [...ChannelArgs, F32, F32]): void;
  sumChannels(...args: [...ChannelArgs, F32, F32]): void;
  axpy(a: number, x: F32, y: F32): void;
  sgdStep(
    p: F32,
    g: F32,
    buf: F32 | null,
    lr: number,
    m: number,
    wd: number,
    nesterov: boolean,
    first: boolean,
  ): void;
}
type ConvArgs = [number, number, number, number, number, number, number, number];
type PoolArgs = [number, number, number, number, number, number, number];
type AdaptiveArgs = [number, number, number, number, number, number];
type ChannelArgs = [number, number, number];

let addon: Addon | null = null;

/** The environment variable that picks the convolution backend at run time ('onednn' or 'im2col'). */
export const CONV_BACKEND_ENV = 'TEE_OFFLOAD_CONV';

function load(): Addon {
  if (addon !== null) return addon;
  const wanted = process.env[CONV_BACKEND_ENV];
  if (wanted !== undefined && wanted !== '' && wanted !== 'onednn' && wanted !== 'im2col') {
    throw new TeeError('E_USAGE', `${CONV_BACKEND_ENV}=${wanted}: expected 'onednn' or 'im2col'`);
  }
  addon = requireAddon() as Addon;
  if (wanted === 'onednn' || wanted === 'im2col') {
    try {
      setConvBackend(wanted);
    } catch (e) {
      addon = null; // refused for every later call too, not silently ignored
      throw e;
    }
  }
  const info = addon.info();
  const missing = [info.openblasBuilt ? '' : 'OpenBLAS', info.onednnBuilt ? '' : 'oneDNN'].filter(
    (s) => s !== '',
  );
  if (missing.length > 0) {
    // One line, once per process: the slow fallbacks work but are several times slower.
    process.stderr.write(
      `tee-offload: warning: native kernels built without ${missing.join(' and ')}; using slower fallbacks ` +
        '(install libopenblas-dev / libdnnl-dev and run `npm run build`)\n',
    );
  }
  return addon;
}

/** True when the addon is built and loads. */
export function nativeAvailable(): boolean {
  try {
    load();
    return true;
  } catch {
    return false;
  }
}

/** Chooses the convolution implementation for the whole process (oneDNN is the default when built). */
export function setConvBackend(backend: ConvBackend): void {
  if (backend !== 'onednn' && backend !== 'im2col')
    throw new RangeError(`unknown conv backend '${String(backend)}'`);
  const a = load();
  if (backend === 'onednn' && !a.info().onednnBuilt) {
    throw new TeeError('E_NATIVE', 'oneDNN was not available when the native addon was built');
  }
  a.setConvBackend(backend);
}

/** Test hooks: the built-in GEMM even when OpenBLAS is built in, and dropping oneDNN's caches. */
export const nativeInternals = {
  sgemmBuiltin(
    ta: boolean,
    tb: boolean,
    m: number,
    n: number,
    kk: number,
    a: F32,
    b: F32,
    beta: number,
    c: F32,
  ): void {
    checkGemm('sgemm', Float32Array, m, n, kk, a, b, beta, c, ta, tb);
    load().sgemm(ta, tb, m, n, kk, a, b, beta, c, true);
  },
  dgemmBuiltin(
    ta: boolean,
    tb: boolean,
    m: number,
    n: number,
    kk: number,
    a: F64,
    b: F64,
    beta: number,
    c: F64,
  ): void {
    checkGemm('dgemm', Float64Array, m, n, kk, a, b, beta, c, ta, tb);
    load().dgemm(ta, tb, m, n, kk, a, b, beta, c, true);
  },
  clearConvCache(): void {
    load().clearConvCache();
  },
};

// ---- validation: every message names the function, the argument and both sizes ----

type ArrayCtor = Float32ArrayConstructor | Float64ArrayConstructor | Int32ArrayConstructor;

function checkArray(fn: string, what: string, a: unknown, ctor: ArrayCtor, need: number): void {
  if (!(a instanceof ctor)) throw new TypeError(`${fn}: ${what} must be a ${ctor.name}`);
  if (a.length !== need) {
    throw new TeeError('E_SHAPE', `${fn}: ${what} has ${a.length} elements, expected ${need}`);
  }
}

function checkOptional(fn: string, what: string, a: unknown, need: number): void {
  if (a !== null) checkArray(fn, what, a, Float32Array, need);
}

function checkSameLength(fn: string, what: string, a: unknown, ref: F32): void {
  checkArray(fn, what, a, Float32Array, ref.length);
}

function checkDims(fn: string, g: object, fields: readonly string[]): void {
  for (const f of fields) {
    const v = (g as Record<string, unknown>)[f];
    const min = f === 'padding' ? 0 : 1;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > 2 ** 31 - 1) {
      throw new TeeError('E_SHAPE', `${fn}: geometry ${f} must be an integer >= ${min}, got ${String(v)}`);
    }
  }
}

function checkNumber(fn: string, what: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new TypeError(`${fn}: ${what} must be a finite number`);
}

function checkGemm(
  fn: string,
  ctor: ArrayCtor,
  m: number,
  n: number,
  kk: number,
  a: unknown,
  b: unknown,
  beta: number,
  c: unknown,
  ta: boolean,
  tb: boolean,
): void {
  if (typeof ta !== 'boolean' || typeof tb !== 'boolean')
    throw new TypeError(`${fn}: transA and transB must be booleans`);
  for (const [name, v] of [
    ['m', m],
    ['n', n],
    ['kk', kk],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) {
      throw new TeeError('E_SHAPE', `${fn}: ${name} must be an integer >= 0, got ${v}`);
    }
  }
  checkNumber(fn, 'beta', beta);
  checkArray(fn, 'a', a, ctor, m * kk);
  checkArray(fn, 'b', b, ctor, kk * n);
  checkArray(fn, 'c', c, ctor, m * n);
}

const CONV_FIELDS = ['n', 'c', 'h', 'w', 'o', 'k', 'stride', 'padding'] as const;

// → [oh, ow]
function checkConv(fn: string, g: ConvGeom): [number, number] {
  checkDims(fn, g, CONV_FIELDS);
  const oh = convOutSize(g.h, g.k, g.stride, g.padding);
  const ow = convOutSize(g.w, g.k, g.stride, g.padding);
  if (oh < 1 || ow < 1) {
    throw new TeeError(
      'E_SHAPE',
      `${fn}: a ${g.k}x${g.k} kernel with padding ${g.padding} does not fit a ${g.h}x${g.w} input`,
    );
  }
  return [oh, ow];
}

function convArgs(g: ConvGeom): ConvArgs {
  return [g.n, g.c, g.h, g.w, g.o, g.k, g.stride, g.padding];
}

function checkPool(fn: string, g: PoolGeom): [number, number] {
  checkDims(fn, g, ['n', 'c', 'h', 'w', 'k', 'stride', 'padding']);
  if (2 * g.padding > g.k) {
    throw new TeeError('E_SHAPE', `${fn}: padding ${g.padding} must be at most half the kernel size ${g.k}`);
  }
  const oh = convOutSize(g.h, g.k, g.stride, g.padding);
  const ow = convOutSize(g.w, g.k, g.stride, g.padding);
  if (oh < 1 || ow < 1) {
    throw new TeeError(
      'E_SHAPE',
      `${fn}: a ${g.k}x${g.k} window with padding ${g.padding} does not fit a ${g.h}x${g.w} input`,
    );
  }
  return [oh, ow];
}

function poolArgs(g: PoolGeom): PoolArgs {
  return [g.n, g.c, g.h, g.w, g.k, g.stride, g.padding];
}

function channelArgs(fn: string, g: ChannelGeom): ChannelArgs {
  checkDims(fn, g, ['n', 'c', 'hw']);
  return [g.n, g.c, g.hw];
}

// Calls into C++ that can fail for reasons other than arguments (oneDNN) become E_NATIVE.
function guarded<T>(fn: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError || e instanceof TeeError) throw e;
    throw new TeeError('E_NATIVE', `${fn} failed in the native addon: ${(e as Error).message}`, { cause: e });
  }
}

export const nativeKernels: Kernels = {
  name: 'native',

  sgemm(transA, transB, m, n, kk, a, b, beta, c) {
    checkGemm('sgemm', Float32Array, m, n, kk, a, b, beta, c, transA, transB);
    load().sgemm(transA, transB, m, n, kk, a, b, beta, c);
  },

  dgemm(transA, transB, m, n, kk, a, b, beta, c) {
    checkGemm('dgemm', Float64Array, m, n, kk, a, b, beta, c, transA, transB);
    load().dgemm(transA, transB, m, n, kk, a, b, beta, c);
  },

  // x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow]
  conv2dForward(g, x, w, y) {
    const fn = 'conv2dForward';
    const [oh, ow] = checkConv(fn, g);
    checkArray(fn, 'x', x, Float32Array, g.n * g.c * g.h * g.w);
    checkArray(fn, 'w', w, Float32Array, g.o * g.c * g.k * g.k);
    checkArray(fn, 'y', y, Float32Array, g.n * g.o * oh * ow);
    const a = load();
    guarded(fn, () => a.conv2dForward(...convArgs(g), x, w, y));
  },

  // dy [n,o,oh,ow], w [o,c,k,k] → dx [n,c,h,w]
  conv2dBackwardInput(g, dy, w, dx) {
    const fn = 'conv2dBackwardInput';
    const [oh, ow] = checkConv(fn, g);
    checkArray(fn, 'dy', dy, Float32Array, g.n * g.o * oh * ow);
    checkArray(fn, 'w', w, Float32Array, g.o * g.c * g.k * g.k);
    checkArray(fn, 'dx', dx, Float32Array, g.n * g.c * g.h * g.w);
    const a = load();
    guarded(fn, () => a.conv2dBackwardInput(...convArgs(g), dy, w, dx));
  },

  // dy [n,o,oh,ow], x [n,c,h,w] → dw [o,c,k,k]
  conv2dBackwardWeight(g, dy, x, dw) {
    const fn = 'conv2dBackwardWeight';
    const [oh, ow] = checkConv(fn, g);
    checkArray(fn, 'dy', dy, Float32Array, g.n * g.o * oh * ow);
    checkArray(fn, 'x', x, Float32Array, g.n * g.c * g.h * g.w);
    checkArray(fn, 'dw', dw, Float32Array, g.o * g.c * g.k * g.k);
    const a = load();
    guarded(fn, () => a.conv2dBackwardWeight(...convArgs(g), dy, x, dw));
  },

  // x [n,c,h,w] → y, argmax [n,c,oh,ow]
  maxPool2dForward(g, x, y, argmax) {
    const fn = 'maxPool2dForward';
    const [oh, ow] = checkPool(fn, g);
    checkArray(fn, 'x', x, Float32Array, g.n * g.c * g.h * g.w);
    checkArray(fn, 'y', y, Float32Array, g.n * g.c * oh * ow);
    checkArray(fn, 'argmax', argmax, Int32Array, g.n * g.c * oh * ow);
    load().maxPool2dForward(...poolArgs(g), x, y, argmax);
  },

  // dy, argmax [n,c,oh,ow] → dx [n,c,h,w]
  maxPool2dBackward(g, dy, argmax, dx) {
    const fn = 'maxPool2dBackward';
    const [oh, ow] = checkPool(fn, g);
    checkArray(fn, 'dy', dy, Float32Array, g.n * g.c * oh * ow);
    checkArray(fn, 'argmax', argmax, Int32Array, g.n * g.c * oh * ow);
    checkArray(fn, 'dx', dx, Float32Array, g.n * g.c * g.h * g.w);
    load().maxPool2dBackward(...poolArgs(g), dy, argmax, dx);
  },

  // x [n,c,h,w] → y [n,c,oh,ow]
  adaptiveAvgPool2dForward(g: AdaptiveGeom, x, y) {
    const fn = 'adaptiveAvgPool2dForward';
    checkDims(fn, g, ['n', 'c', 'h', 'w', 'oh', 'ow']);
    checkArray(fn, 'x', x, Float32Array, g.n * g.c * g.h * g.w);
    checkArray(fn, 'y', y, Float32Array, g.n * g.c * g.oh * g.ow);
    load().adaptiveAvgPool2dForward(g.n, g.c, g.h, g.w, g.oh, g.ow, x, y);
  },

  // dy [n,c,oh,ow] → dx [n,c,h,w]
  adaptiveAvgPool2dBackward(g: AdaptiveGeom, dy, dx) {
    const fn = 'adaptiveAvgPool2dBackward';
    checkDims(fn, g, ['n', 'c', 'h', 'w', 'oh', 'ow']);
    checkArray(fn, 'dy', dy, Float32Array, g.n * g.c * g.oh * g.ow);
    checkArray(fn, 'dx', dx, Float32Array, g.n * g.c * g.h * g.w);
    load().adaptiveAvgPool2dBackward(g.n, g.c, g.h, g.w, g.oh, g.ow, dy, dx);
  },

  batchNorm2dForwardTrain(g, x, weight, bias, eps, y, mean, variance, invstd) {
    const fn = 'batchNorm2dForwardTrain';
    const args = channelArgs(fn, g);
    const total = g.n * g.c * g.hw;
    checkArray(fn, 'x', x, Float32Array, total);
    checkOptional(fn, 'weight', weight, g.c);
    checkOptional(fn, 'bias', bias, g.c);
    checkNumber(fn, 'eps', eps);
    checkArray(fn, 'y', y, Float32Array, total);
    checkArray(fn, 'mean', mean, Float32Array, g.c);
    checkArray(fn, 'variance', variance, Float32Array, g.c);
    checkArray(fn, 'invstd', invstd, Float32Array, g.c);
    load().batchNorm2dForwardTrain(...args, x, weight, bias, eps, y, mean, variance, invstd);
  },

  batchNorm2dForwardEval(g, x, weight, bias, runningMean, runningVar, eps, y) {
    const fn = 'batchNorm2dForwardEval';
    const args = channelArgs(fn, g);
    const total = g.n * g.c * g.hw;
    checkArray(fn, 'x', x, Float32Array, total);
    checkOptional(fn, 'weight', weight, g.c);
    checkOptional(fn, 'bias', bias, g.c);
    checkArray(fn, 'runningMean', runningMean, Float32Array, g.c);
    checkArray(fn, 'runningVar', runningVar, Float32Array, g.c);
    checkNumber(fn, 'eps', eps);
    checkArray(fn, 'y', y, Float32Array, total);
    load().batchNorm2dForwardEval(...args, x, weight, bias, runningMean, runningVar, eps, y);
  },

  batchNorm2dBackward(g, dy, x, weight, mean, invstd, dx, dweight, dbias) {
    const fn = 'batchNorm2dBackward';
    const args = channelArgs(fn, g);
    const total = g.n * g.c * g.hw;
    checkArray(fn, 'dy', dy, Float32Array, total);
    checkArray(fn, 'x', x, Float32Array, total);
    checkOptional(fn, 'weight', weight, g.c);
    checkArray(fn, 'mean', mean, Float32Array, g.c);
    checkArray(fn, 'invstd', invstd, Float32Array, g.c);
    checkArray(fn, 'dx', dx, Float32Array, total);
    checkOptional(fn, 'dweight', dweight, g.c);
    checkOptional(fn, 'dbias', dbias, g.c);
    load().batchNorm2dBackward(...args, dy, x, weight, mean, invstd, dx, dweight, dbias);
  },

  reluForward(x, y) {
    if (!(x instanceof Float32Array)) throw new TypeError('reluForward: x must be a Float32Array');
    checkSameLength('reluForward', 'y', y, x);
    load().reluForward(x, y);
  },

  reluBackward(dy, x, dx) {
    if (!(dy instanceof Float32Array)) throw new TypeError('reluBackward: dy must be a Float32Array');
    checkSameLength('reluBackward', 'x', x, dy);
    checkSameLength('reluBackward', 'dx', dx, dy);
    load().reluBackward(dy, x, dx);
  },

  crossEntropyForward(n, k, logits, labels, probs) {
    const fn = 'crossEntropyForward';
    checkDims(fn, { n, k }, ['n', 'k']);
    checkArray(fn, 'logits', logits, Float32Array, n * k);
    checkArray(fn, 'labels', labels, Int32Array, n);
    checkArray(fn, 'probs', probs, Float32Array, n * k);
    return load().crossEntropyForward(n, k, logits, labels, probs);
  },

  crossEntropyBackward(n, k, probs, labels, scale, dlogits) {
    const fn = 'crossEntropyBackward';
    checkDims(fn, { n, k }, ['n', 'k']);
    checkArray(fn, 'probs', probs, Float32Array, n * k);
    checkArray(fn, 'labels', labels, Int32Array, n);
    checkNumber(fn, 'scale', scale);
    checkArray(fn, 'dlogits', dlogits, Float32Array, n * k);
    load().crossEntropyBackward(n, k, probs, labels, scale, dlogits);
  },

  // y [n,c,hw] += bias[c]
  addChannelBias(g, y, bias) {
    const fn = 'addChannelBias';
    const args = channelArgs(fn, g);
    checkArray(fn, 'y', y, Float32Array, g.n * g.c * g.hw);
    checkArray(fn, 'bias', bias, Float32Array, g.c);
    load().addChannelBias(...args, y, bias);
  },

  // out[c] += Σ dy[n,c,hw]
  sumChannels(g, dy, out) {
    const fn = 'sumChannels';
    const args = channelArgs(fn, g);
    checkArray(fn, 'dy', dy, Float32Array, g.n * g.c * g.hw);
    checkArray(fn, 'out', out, Float32Array, g.c);
    load().sumChannels(...args, dy, out);
  },

  axpy(a, x, y) {
    checkNumber('axpy', 'a', a);
    if (!(x instanceof Float32Array)) throw new TypeError('axpy: x must be a Float32Array');
    checkSameLength('axpy', 'y', y, x);
    load().axpy(a, x, y);
  },

  sgdStep(p, grad, buf, lr, momentum, weightDecay, nesterov, first) {
    const fn = 'sgdStep';
    if (!(p instanceof Float32Array)) throw new TypeError('sgdStep: p must be a Float32Array');
    checkSameLength(fn, 'grad', grad, p);
    checkNumber(fn, 'lr', lr);
    checkNumber(fn, 'momentum', momentum);
    checkNumber(fn, 'weightDecay', weightDecay);
    if (momentum !== 0) {
      if (buf === null) throw new TypeError('sgdStep: a momentum buffer is required when momentum is not 0');
      checkSameLength(fn, 'buf', buf, p);
    } else if (buf !== null) {
      checkSameLength(fn, 'buf', buf, p);
    }
    load().sgdStep(p, grad, buf, lr, momentum, weightDecay, nesterov === true, first === true);
  },

  setThreads(n) {
    if (!Number.isInteger(n) || n < 1 || n > 1024)
      throw new RangeError(`setThreads: n must be an integer in [1, 1024], got ${n}`);
    load().setThreads(n);
  },

  setDeterministic(on) {
    if (typeof on !== 'boolean') throw new TypeError('setDeterministic: on must be a boolean');
    load().setDeterministic(on);
  },

  info(): NativeKernelInfo {
    return load().info();
  },
};
