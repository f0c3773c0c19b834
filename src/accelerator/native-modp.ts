// TypeScript face of native/modp_gemm.cc: the exact mod-p products in C++ (chunked float64 GEMM,
// im2col/col2im, OpenMP). Loads the same addon file as kernels/native.ts, lazily; when the addon is
// missing or was built before modp_gemm.cc, nativeModpAvailable() is false and the accelerator uses the
// TypeScript twin (modp-ops.ts). An operand outside the centered range is E_FRAME, as in the twin.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TeeError } from '../errors.js';
import type { ConvShape } from '../protocol/linear-shapes.js';

type I32 = Int32Array;
type Dims8 = [number, number, number, number, number, number, number, number];

interface ModpAddon {
  modpGemm(ta: boolean, tb: boolean, m: number, n: number, kk: number, a: I32, b: I32, c: I32): void;
  modpConv2d(...args: [...Dims8, I32, I32, I32]): void;
  modpConv2dGradInput(...args: [...Dims8, I32, I32, I32]): void;
  modpConv2dGradWeight(...args: [...Dims8, I32, I32, I32]): void;
  modpFirstOutOfRange(a: I32): number;
}

let addon: ModpAddon | null | undefined;

function load(): ModpAddon | null {
  if (addon !== undefined) return addon;
  // dist/src/accelerator/native-modp.js → <root>/build/Release (also from src/accelerator as TS).
  const here = dirname(fileURLToPath(import.meta.url));
  const found = [resolve(here, '..', '..', '..'), resolve(here, '..', '..')]
    .flatMap((r) => [
      resolve(r, 'build', 'Release', 'tee_offload.node'),
      resolve(r, 'build', 'Debug', 'tee_offload.node'),
    ])
    .find((p) => existsSync(p));
  addon = null;
  if (found === undefined) return null;
  try {
    const a = createRequire(import.meta.url)(found) as Partial<ModpAddon>;
    if (typeof a.modpGemm === 'function' && typeof a.modpConv2dGradWeight === 'function')
      addon = a as ModpAddon;
  } catch {
    // A broken addon: the compute path reports E_NATIVE through kernels/ when it needs the kernels.
  }
  return addon;
}

/** True when the addon has the native exact products (built with native/modp_gemm.cc). */
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

// x [N,I], w [O,I] → y [N,O] = x·wᵀ mod p
export function denseModpNative(x: I32, w: I32, n: number, i: number, o: number): I32 {
  const y = new Int32Array(n * o);
  run('dense', () => need().modpGemm(false, true, n, o, i, x, w, y));
  return y;
}

// dy [N,O], w [O,I] → dx [N,I] = dy·w mod p
export function denseGradInputModpNative(dy: I32, w: I32, n: number, o: number, i: number): I32 {
  const dx = new Int32Array(n * i);
  run('denseGradInput', () => need().modpGemm(false, false, n, i, o, dy, w, dx));
  return dx;
}

// dy [N,O], x [N,I] → dw [O,I] = dyᵀ·x mod p
export function denseGradWeightModpNative(dy: I32, x: I32, n: number, o: number, i: number): I32 {
  const dw = new Int32Array(o * i);
  run('denseGradWeight', () => need().modpGemm(true, false, o, i, n, dy, x, dw));
  return dw;
}

// x [N,C,H,W], w [O,C,k,k] → y [N,O,OH,OW]
export function conv2dModpNative(g: ConvShape, x: I32, w: I32): I32 {
  const y = new Int32Array(g.n * g.o * g.oh * g.ow);
  run('conv2d', () => need().modpConv2d(...dims(g), x, w, y));
  return y;
}

// dy [N,O,OH,OW], w [O,C,k,k] → dx [N,C,H,W]
export function conv2dGradInputModpNative(g: ConvShape, dy: I32, w: I32): I32 {
  const dx = new Int32Array(g.n * g.c * g.h * g.w);
  run('conv2dGradInput', () => need().modpConv2dGradInput(...dims(g), dy, w, dx));
  return dx;
}

// dy [N,O,OH,OW], x [N,C,H,W] → dw [O,C,k,k]
export function conv2dGradWeightModpNative(g: ConvShape, dy: I32, x: I32): I32 {
  const dw = new Int32Array(g.o * g.c * g.k * g.k);
  run('conv2dGradWeight', () => need().modpConv2dGradWeight(...dims(g), dy, x, dw));
  return dw;
}
