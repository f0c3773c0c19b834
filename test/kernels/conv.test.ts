import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { ConvGeom } from '../../src/kernels/api.js';
import { convOutSize } from '../../src/kernels/api.js';
import type { ConvBackend } from '../../src/kernels/native.js';
import { nativeInternals, nativeKernels, setConvBackend } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, assertIdentical, randomF32, randomInt, SeededRng } from './helpers.js';

const info = nativeKernels.info() as ReturnType<typeof nativeKernels.info> & { onednnBuilt: boolean };
const BACKENDS: ConvBackend[] = info.onednnBuilt ? ['onednn', 'im2col'] : ['im2col'];
const THREADS = [1, 2];

function g(
  n: number,
  c: number,
  h: number,
  w: number,
  o: number,
  k: number,
  stride: number,
  padding: number,
): ConvGeom {
  return { n, c, h, w, o, k, stride, padding };
}

// Edge cases named in the contract, then shapes big enough to run on several threads (image split,
// channel-group split, column split).
const FIXED: ConvGeom[] = [
  g(1, 1, 5, 7, 1, 3, 1, 1), // C=1, O=1, batch 1, non-square
  g(2, 3, 9, 11, 4, 2, 3, 0), // stride > kernel: some input cells unused
  g(1, 2, 4, 4, 3, 3, 1, 2), // padding ≥ k/2
  g(3, 5, 6, 13, 2, 5, 2, 2), // non-square, stride 2
  g(2, 8, 5, 5, 6, 1, 1, 0), // 1×1 (pointwise path)
  g(2, 4, 7, 6, 3, 1, 2, 0), // 1×1 with stride
  g(1, 3, 23, 27, 4, 11, 4, 2), // AlexNet's first layer, small
  g(1, 2, 3, 3, 2, 3, 1, 0), // output 1×1
  g(4, 16, 16, 16, 16, 3, 1, 1), // threads: by image
  g(1, 8, 20, 20, 8, 3, 1, 1), // threads: one image
  g(3, 6, 24, 24, 8, 3, 1, 1), // threads: 3 images on 2 threads
  g(2, 17, 12, 10, 9, 4, 2, 1), // even kernel, odd channels
];

function randomGeom(rng: SeededRng): ConvGeom {
  for (;;) {
    const k = randomInt(rng, 1, 5);
    const geom = g(
      randomInt(rng, 1, 3),
      randomInt(rng, 1, 6),
      randomInt(rng, 1, 12),
      randomInt(rng, 1, 12),
      randomInt(rng, 1, 6),
      k,
      randomInt(rng, 1, 4),
      randomInt(rng, 0, k),
    );
    if (
      convOutSize(geom.h, k, geom.stride, geom.padding) >= 1 &&
      convOutSize(geom.w, k, geom.stride, geom.padding) >= 1
    ) {
      return geom;
    }
  }
}

function sizes(geom: ConvGeom): { xs: number; ws: number; ys: number } {
  const oh = convOutSize(geom.h, geom.k, geom.stride, geom.padding);
  const ow = convOutSize(geom.w, geom.k, geom.stride, geom.padding);
  return {
    xs: geom.n * geom.c * geom.h * geom.w,
    ws: geom.o * geom.c * geom.k * geom.k,
    ys: geom.n * geom.o * oh * ow,
  };
}

const rng0 = new SeededRng(20240601);
const RANDOM: ConvGeom[] = Array.from({ length: 14 }, () => randomGeom(rng0));

// Reference results, computed once per geometry (the reference is slow).
interface Case {
  geom: ConvGeom;
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  y: Float32Array;
  dx: Float32Array;
  dw: Float32Array;
}
const rng = new SeededRng(7);
const CASES: Case[] = [...FIXED, ...RANDOM].map((geom) => {
  const { xs, ws, ys } = sizes(geom);
  const c: Case = {
    geom,
    x: randomF32(rng, xs),
    w: randomF32(rng, ws),
    dy: randomF32(rng, ys),
    y: new Float32Array(ys),
    dx: new Float32Array(xs),
    dw: new Float32Array(ws),
  };
  referenceKernels.conv2dForward(geom, c.x, c.w, c.y);
  referenceKernels.conv2dBackwardInput(geom, c.dy, c.w, c.dx);
  referenceKernels.conv2dBackwardWeight(geom, c.dy, c.x, c.dw);
  return c;
});

function label(c: Case): string {
  const q = c.geom;
  return `[n${q.n} c${q.c} ${q.h}x${q.w} → o${q.o} k${q.k} s${q.stride} p${q.padding}]`;
}

after(() => {
  nativeKernels.setThreads(info.maxThreads);
  setConvBackend(BACKENDS[0]!);
});

for (const backend of BACKENDS) {
  for (const threads of THREADS) {
    describe(`conv2d on ${backend} with ${threads} thread(s)`, () => {
      const setup = (): void => {
        setConvBackend(backend);
        nativeKernels.setThreads(threads);
      };

      test('forward matches the reference on edge-case and random shapes', () => {
        setup();
        for (const c of CASES) {
          const y = new Float32Array(c.y.length).fill(Number.NaN);
          nativeKernels.conv2dForward(c.geom, c.x, c.w, y);
          assertClose(y, c.y, 1e-5, `forward ${label(c)}`);
        }
      });

      test('backward-input matches the reference on edge-case and random shapes', () => {
        setup();
        for (const c of CASES) {
          const dx = new Float32Array(c.dx.length).fill(Number.NaN);
          nativeKernels.conv2dBackwardInput(c.geom, c.dy, c.w, dx);
          assertClose(dx, c.dx, 1e-5, `backward-input ${label(c)}`);
        }
      });

      test('backward-weight matches the reference on odd shapes', () => {
        setup();
        for (const c of CASES) {
          const dw = new Float32Array(c.dw.length).fill(Number.NaN);
          nativeKernels.conv2dBackwardWeight(c.geom, c.dy, c.x, dw);
          assertClose(dw, c.dw, 1e-5, `backward-weight ${label(c)}`);
        }
      });

      test('gives bit-identical results when run twice', () => {
        setup();
        const c = CASES.find((k) => k.geom.n === 4 && k.geom.c === 16)!;
        const run = (): Float32Array[] => {
          const y = new Float32Array(c.y.length);
          const dx = new Float32Array(c.dx.length);
          const dw = new Float32Array(c.dw.length);
          nativeKernels.conv2dForward(c.geom, c.x, c.w, y);
          nativeKernels.conv2dBackwardInput(c.geom, c.dy, c.w, dx);
          nativeKernels.conv2dBackwardWeight(c.geom, c.dy, c.x, dw);
          return [y, dx, dw];
        };
        const first = run();
        nativeInternals.clearConvCache(); // a freshly created primitive must give the same bits
        const second = run();
        for (let i = 0; i < 3; i++) assertIdentical(second[i]!, first[i]!, `run ${i}`);
      });
    });
  }
}

test('the conv backend can be switched at run time and is reported by info()', () => {
  setConvBackend('im2col');
  assert.equal(nativeKernels.info().conv, 'im2col');
  if (info.onednnBuilt) {
    setConvBackend('onednn');
    assert.equal(nativeKernels.info().conv, 'onednn');
  } else {
    assert.throws(() => setConvBackend('onednn'), { code: 'E_NATIVE' });
  }
  assert.throws(() => setConvBackend('winograd' as ConvBackend), RangeError);
});

test('conv2d on a realistic layer agrees between oneDNN and im2col', () => {
  const geom = g(2, 32, 16, 16, 48, 3, 1, 1);
  const r = new SeededRng(99);
  const { xs, ws, ys } = sizes(geom);
  const x = randomF32(r, xs);
  const w = randomF32(r, ws);
  const dy = randomF32(r, ys);
  const results = BACKENDS.map((b) => {
    setConvBackend(b);
    const y = new Float32Array(ys);
    const dx = new Float32Array(xs);
    const dw = new Float32Array(ws);
    nativeKernels.conv2dForward(geom, x, w, y);
    nativeKernels.conv2dBackwardInput(geom, dy, w, dx);
    nativeKernels.conv2dBackwardWeight(geom, dy, x, dw);
    return [y, dx, dw];
  });
  for (let i = 1; i < results.length; i++) {
    for (let j = 0; j < 3; j++) assertClose(results[i]![j]!, results[0]![j]!, 1e-5, `output ${j}`);
  }
});
