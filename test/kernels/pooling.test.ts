import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { AdaptiveGeom, PoolGeom } from '../../src/kernels/api.js';
import { convOutSize } from '../../src/kernels/api.js';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, assertIdentical, randomF32, randomInt, randomInts, SeededRng } from './helpers.js';

const info = nativeKernels.info();
after(() => nativeKernels.setThreads(info.maxThreads));

function pool(
  n: number,
  c: number,
  h: number,
  w: number,
  k: number,
  stride: number,
  padding: number,
): PoolGeom {
  return { n, c, h, w, k, stride, padding };
}

const POOLS: PoolGeom[] = [
  pool(2, 3, 8, 8, 2, 2, 0), // VGG
  pool(1, 4, 13, 13, 3, 2, 0), // AlexNet
  pool(2, 2, 9, 7, 3, 2, 1), // ResNet's stem pool, non-square
  pool(1, 1, 5, 5, 2, 3, 0), // stride > kernel
  pool(1, 2, 4, 6, 4, 1, 2), // padding = k/2
  pool(3, 1, 1, 1, 1, 1, 0),
  pool(8, 32, 32, 32, 2, 2, 0), // large enough for several threads
  // Wide enough for the eight-output stride-2 path (AVX2 builds), with a scalar tail and edges:
  pool(1, 3, 40, 37, 2, 2, 0),
  pool(2, 2, 35, 35, 3, 2, 1), // ResNet's stem pool: padded left edge and top row
  pool(1, 2, 41, 40, 3, 2, 0), // AlexNet's
  pool(1, 1, 20, 35, 2, 2, 1),
];

function randomPool(rng: SeededRng): PoolGeom {
  const k = randomInt(rng, 1, 4);
  const geom = pool(
    randomInt(rng, 1, 3),
    randomInt(rng, 1, 4),
    randomInt(rng, k, 11),
    randomInt(rng, k, 11),
    k,
    randomInt(rng, 1, 3),
    randomInt(rng, 0, Math.floor(k / 2)),
  );
  return geom;
}

for (const threads of [1, 2]) {
  test(`maxPool2d forward and backward match the reference, ties to the first maximum (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(11);
    const geoms = [...POOLS, ...Array.from({ length: 12 }, () => randomPool(rng))];
    for (const g of geoms) {
      const oh = convOutSize(g.h, g.k, g.stride, g.padding);
      const ow = convOutSize(g.w, g.k, g.stride, g.padding);
      const label = JSON.stringify(g);
      // Small integers make ties common; all-negative inputs check that padding is -inf, not 0.
      for (const x of [
        randomInts(rng, g.n * g.c * g.h * g.w, 2),
        randomF32(rng, g.n * g.c * g.h * g.w).map((v) => v - 2),
      ]) {
        const ys = g.n * g.c * oh * ow;
        const [y, ey] = [new Float32Array(ys), new Float32Array(ys)];
        const [am, eam] = [new Int32Array(ys), new Int32Array(ys)];
        nativeKernels.maxPool2dForward(g, x, y, am);
        referenceKernels.maxPool2dForward(g, x, ey, eam);
        assertIdentical(y, ey, `y ${label}`);
        assertIdentical(am, eam, `argmax ${label}`);
        const dy = randomF32(rng, ys);
        const [dx, edx] = [new Float32Array(x.length).fill(Number.NaN), new Float32Array(x.length)];
        nativeKernels.maxPool2dBackward(g, dy, am, dx);
        referenceKernels.maxPool2dBackward(g, dy, eam, edx);
        assertClose(dx, edx, 1e-6, `dx ${label}`);
      }
    }
  });
}

test('maxPool2d propagates NaN as PyTorch does', () => {
  const g = pool(1, 1, 2, 2, 2, 2, 0);
  const y = new Float32Array(1);
  const am = new Int32Array(1);
  nativeKernels.maxPool2dForward(g, new Float32Array([1, Number.NaN, 3, 2]), y, am);
  assert.ok(Number.isNaN(y[0]));
  assert.equal(am[0], 1);
});

test('maxPool2d: NaN, −∞ and ties in wide planes (the vector path) give the reference values and argmax', () => {
  const rng = new SeededRng(13);
  for (const g of [pool(2, 3, 24, 53, 2, 2, 0), pool(1, 2, 23, 49, 3, 2, 1), pool(1, 2, 27, 51, 3, 2, 0)]) {
    const x = randomInts(rng, g.n * g.c * g.h * g.w, 3);
    for (let i = 0; i < x.length; i++) {
      const u = rng.nextFloat();
      if (u < 0.03) x[i] = Number.NaN;
      else if (u < 0.06) x[i] = Number.NEGATIVE_INFINITY;
    }
    // One window all −∞, one with two NaNs (the later one is the argmax, as in the scalar scan).
    x.fill(Number.NEGATIVE_INFINITY, 0, 4);
    x[g.w + 2] = Number.NaN;
    x[g.w + 3] = Number.NaN;
    const ys =
      g.n * g.c * convOutSize(g.h, g.k, g.stride, g.padding) * convOutSize(g.w, g.k, g.stride, g.padding);
    const [y, ey] = [new Float32Array(ys), new Float32Array(ys)];
    const [am, eam] = [new Int32Array(ys), new Int32Array(ys)];
    for (const threads of [1, 2]) {
      nativeKernels.setThreads(threads);
      nativeKernels.maxPool2dForward(g, x, y, am);
      referenceKernels.maxPool2dForward(g, x, ey, eam);
      assertIdentical(y, ey, `y ${JSON.stringify(g)}`);
      assertIdentical(am, eam, `argmax ${JSON.stringify(g)}`);
    }
  }
});

test('maxPool2d backward rejects an argmax outside its plane', () => {
  const g = pool(1, 1, 2, 2, 2, 2, 0);
  assert.throws(
    () => nativeKernels.maxPool2dBackward(g, new Float32Array(1), new Int32Array([4]), new Float32Array(4)),
    RangeError,
  );
});

function adaptive(n: number, c: number, h: number, w: number, oh: number, ow: number): AdaptiveGeom {
  return { n, c, h, w, oh, ow };
}

for (const threads of [1, 2]) {
  test(`adaptiveAvgPool2d matches the reference, including up-sampling 1→7 and 3→6 (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(12);
    const geoms = [
      adaptive(2, 3, 1, 1, 7, 7),
      adaptive(1, 2, 3, 3, 6, 6),
      adaptive(2, 4, 7, 7, 7, 7),
      adaptive(1, 3, 13, 10, 5, 3),
      adaptive(3, 2, 6, 9, 4, 4),
      adaptive(2, 5, 8, 8, 1, 1),
      adaptive(16, 64, 14, 14, 7, 7),
    ];
    for (let i = 0; i < 8; i++) {
      geoms.push(
        adaptive(
          randomInt(rng, 1, 3),
          randomInt(rng, 1, 4),
          randomInt(rng, 1, 12),
          randomInt(rng, 1, 12),
          randomInt(rng, 1, 8),
          randomInt(rng, 1, 8),
        ),
      );
    }
    for (const g of geoms) {
      const label = JSON.stringify(g);
      const x = randomF32(rng, g.n * g.c * g.h * g.w);
      const ys = g.n * g.c * g.oh * g.ow;
      const [y, ey] = [new Float32Array(ys), new Float32Array(ys)];
      nativeKernels.adaptiveAvgPool2dForward(g, x, y);
      referenceKernels.adaptiveAvgPool2dForward(g, x, ey);
      assertClose(y, ey, 1e-6, `y ${label}`);
      const dy = randomF32(rng, ys);
      const [dx, edx] = [new Float32Array(x.length).fill(Number.NaN), new Float32Array(x.length)];
      nativeKernels.adaptiveAvgPool2dBackward(g, dy, dx);
      referenceKernels.adaptiveAvgPool2dBackward(g, dy, edx);
      assertClose(dx, edx, 1e-6, `dx ${label}`);
    }
  });
}

test('adaptiveAvgPool2d uses PyTorch bins: 3→2 averages rows {0,1} and {1,2}', () => {
  const y = new Float32Array(2);
  nativeKernels.adaptiveAvgPool2dForward(adaptive(1, 1, 3, 1, 2, 1), new Float32Array([1, 2, 4]), y);
  assert.deepEqual([...y], [1.5, 3]);
});
