// TypeScript face of the accelerator's GPU backend (native/gpu/): the six linear products in float32,
// mod p and as exact integers on a CUDA GPU, or on the CPU emulation of the same code (tests). The addon
// loads CUDA's libraries only when a CUDA device is opened, so it builds and loads on any machine;
// openGpu('cuda') fails with E_NATIVE naming what is missing (driver, GPU, NVRTC or cuBLAS). The kernels
// (native/gpu/kernels.cuh) are compiled by NVRTC for the device's own architecture when it is opened.
import { readFileSync } from 'node:fs';
import { TeeError } from '../errors.js';
import { packageFile, requireAddon } from '../native-addon.js';
import type { Arith, LinearOpName, LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { convShape, outputShape } from '../protocol/linear-shapes.js';

/** Where the GPU backend runs: a CUDA GPU, or the CPU emulation of the same code (tests, debugging). */
export type GpuKind = 'cuda' | 'emulated';

export interface GpuInfo {
  readonly kind: GpuKind;
  readonly name: string;
  readonly memoryBytes: number;
  /** "major.minor" ("0.0" for the emulation). */
  readonly computeCapability: string;
}

export interface GpuOpenOptions {
  /** Folders searched for libcuda, libnvrtc and libcublas before the dynamic loader's own path. */
  readonly libDirs?: readonly string[];
  /** Most bytes of im2col columns a convolution builds at once, over a group of images (default 1 GiB). */
  readonly columnBytes?: number;
  /** CUDA: large copies through page-locked staging buffers (default true; false for A/B measurements). */
  readonly staging?: boolean;
}

/** Which GPU a compute backend uses (structured-clonable: it travels to the compute worker). */
export interface GpuSpec extends GpuOpenOptions {
  readonly kind: GpuKind;
}

type Out = Float32Array | Int32Array | Float64Array;

interface GpuAddon {
  gpuOpen(
    kind: GpuKind,
    kernelSource: string,
    libDirs: string[],
    columnBytes: number,
    staging: boolean,
  ): GpuInfo;
  gpuLinear(op: number, arith: number, dims: number[], a: Out, b: Out, out: Out): void;
}

const OP_ID: Record<LinearOpName, number> = {
  dense: 0,
  denseGradInput: 1,
  denseGradWeight: 2,
  conv2d: 3,
  conv2dGradInput: 4,
  conv2dGradWeight: 5,
};
const ARITH_ID: Record<Arith, number> = { f32: 0, modp: 1, wide: 2 };

function loadAddon(): GpuAddon {
  const a = requireAddon() as Partial<GpuAddon>;
  if (typeof a.gpuOpen !== 'function' || typeof a.gpuLinear !== 'function')
    throw new TeeError('E_NATIVE', 'the native addon predates the GPU backend: run `npm run build`');
  return a as GpuAddon;
}

function kernelSource(): string {
  const path = packageFile('native', 'gpu', 'kernels.cuh');
  if (path === undefined)
    throw new TeeError('E_NATIVE', 'native/gpu/kernels.cuh is missing from the package');
  return readFileSync(path, 'utf8');
}

let addon: GpuAddon | null = null;
let opened: GpuInfo | null = null;

/**
 * Opens the process's GPU (the addon holds one: opening another kind replaces it; the same kind again
 * only applies columnBytes).
 */
export function openGpu(kind: GpuKind, opts: GpuOpenOptions = {}): GpuInfo {
  addon ??= loadAddon();
  const columnBytes = opts.columnBytes ?? 2 ** 30;
  if (!Number.isSafeInteger(columnBytes) || columnBytes < 1)
    throw new RangeError(`columnBytes must be a positive integer, got ${columnBytes}`);
  try {
    opened = addon.gpuOpen(
      kind,
      kind === 'cuda' ? kernelSource() : '',
      [...(opts.libDirs ?? [])],
      columnBytes,
      opts.staging ?? true,
    );
  } catch (e) {
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_NATIVE', `cannot open the ${kind} GPU backend: ${(e as Error).message}`);
  }
  return opened;
}

/** The device openGpu opened, or null. */
export function openedGpu(): GpuInfo | null {
  return opened;
}

/** The dims gpuLinear takes: dense [n, i, o], the dense gradients [n, o, i], convolutions ConvShape's eight. */
function dims(req: LinearRequest): number[] {
  const [a0 = 0, a1 = 0] = req.a.shape;
  const [b0 = 0, b1 = 0] = req.b.shape;
  switch (req.op) {
    case 'dense':
      return [a0, a1, b0];
    case 'denseGradInput':
    case 'denseGradWeight':
      return [a0, a1, b1];
    default: {
      const g = convShape(req);
      return [g.n, g.c, g.h, g.w, g.o, g.k, g.stride, g.padding];
    }
  }
}

function output(arith: Arith, n: number): Out {
  if (arith === 'f32') return new Float32Array(n);
  return arith === 'wide' ? new Float64Array(n) : new Int32Array(n);
}

/**
 * One request's product on the opened GPU: the same shapes, layouts and results as computeLinear on the
 * CPU (exact ariths bit for bit; float32 within its rounding). An operand outside the centered range is
 * E_FRAME, as on the CPU; a failure of the device is E_NATIVE.
 */
export function computeLinearGpu(req: LinearRequest): WireTensor {
  if (addon === null || opened === null) throw new TeeError('E_STATE', 'no GPU is open (openGpu first)');
  const shape = outputShape(req);
  const data = output(
    req.arith,
    shape.reduce((p, d) => p * d, 1),
  );
  try {
    addon.gpuLinear(
      OP_ID[req.op],
      ARITH_ID[req.arith],
      dims(req),
      req.a.data as Out,
      req.b.data as Out,
      data,
    );
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof RangeError && msg.includes('outside the centered range'))
      throw new TeeError('E_FRAME', msg);
    throw new TeeError('E_NATIVE', `GPU ${req.op}: ${msg}`);
  }
  return { shape, data };
}
