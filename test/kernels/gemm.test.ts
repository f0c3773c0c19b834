import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { nativeInternals, nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, assertIdentical, randomF32, randomF64, randomInt, SeededRng } from './helpers.js';

const info = nativeKernels.info();
after(() => nativeKernels.setThreads(info.maxThreads));

// [m, n, kk]: odd sizes, vectors, one larger than the built-in kernel's blocks (KC = 256, MC = 120).
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 17, 5],
  [13, 1, 9],
  [7, 11, 1],
  [31, 29, 37],
  [64, 48, 300],
  [130, 97, 261],
];
const TRANS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

type Gemm32 = typeof nativeKernels.sgemm;

function checkSgemm(name: string, gemm: Gemm32, rng: SeededRng): void {
  for (const [m, n, kk] of SHAPES) {
    for (const [ta, tb] of TRANS) {
      for (const beta of [0, 1]) {
        const a = randomF32(rng, m * kk);
        const b = randomF32(rng, kk * n);
        const c0 = randomF32(rng, m * n);
        const expected = c0.slice();
        referenceKernels.sgemm(ta, tb, m, n, kk, a, b, beta, expected);
        const c = c0.slice();
        gemm(ta, tb, m, n, kk, a, b, beta, c);
        assertClose(c, expected, 1e-5, `${name} ${m}x${n}x${kk} transA=${ta} transB=${tb} beta=${beta}`);
      }
    }
  }
}

for (const threads of [1, 2]) {
  test(`sgemm matches the reference for all four transposes and beta 0 and 1 (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    checkSgemm('sgemm', nativeKernels.sgemm, new SeededRng(1));
  });

  test(`the built-in sgemm matches the reference for all four transposes and beta 0 and 1 (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    checkSgemm('builtin sgemm', nativeInternals.sgemmBuiltin, new SeededRng(2));
  });

  test(`dgemm, native and built-in, matches the reference to double precision (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(3);
    for (const [m, n, kk] of SHAPES) {
      for (const [ta, tb] of TRANS) {
        for (const beta of [0, 1]) {
          const a = randomF64(rng, m * kk);
          const b = randomF64(rng, kk * n);
          const c0 = randomF64(rng, m * n);
          const expected = c0.slice();
          referenceKernels.dgemm(ta, tb, m, n, kk, a, b, beta, expected);
          for (const [name, gemm] of [
            ['dgemm', nativeKernels.dgemm],
            ['builtin dgemm', nativeInternals.dgemmBuiltin],
          ] as const) {
            const c = c0.slice();
            gemm(ta, tb, m, n, kk, a, b, beta, c);
            assertClose(c, expected, 1e-13, `${name} ${m}x${n}x${kk} transA=${ta} transB=${tb} beta=${beta}`);
          }
        }
      }
    }
  });
}

test('sgemm with beta 0 overwrites NaN in c, and kk = 0 gives beta·c', () => {
  for (const gemm of [nativeKernels.sgemm, nativeInternals.sgemmBuiltin]) {
    const c = new Float32Array(6).fill(Number.NaN);
    gemm(false, false, 2, 3, 2, new Float32Array([1, 2, 3, 4]), new Float32Array([1, 0, 0, 0, 1, 0]), 0, c);
    assert.deepEqual([...c], [1, 2, 0, 3, 4, 0]);
    const d = new Float32Array([1, 2, 3, 4]);
    gemm(false, false, 2, 2, 0, new Float32Array(0), new Float32Array(0), 1, d);
    assert.deepEqual([...d], [1, 2, 3, 4]);
    gemm(false, false, 2, 2, 0, new Float32Array(0), new Float32Array(0), 0, d);
    assert.deepEqual([...d], [0, 0, 0, 0]);
  }
});

test('the built-in sgemm gives the same bits on 1 and 2 threads', () => {
  const rng = new SeededRng(4);
  const [m, n, kk] = [randomInt(rng, 100, 140), randomInt(rng, 100, 140), 300];
  const a = randomF32(rng, m * kk);
  const b = randomF32(rng, kk * n);
  const out = [1, 2].map((t) => {
    nativeKernels.setThreads(t);
    const c = new Float32Array(m * n);
    nativeInternals.sgemmBuiltin(false, true, m, n, kk, a, b, 0, c);
    return c;
  });
  assertIdentical(out[1]!, out[0]!, 'threads 2 vs 1');
});

test('sgemm and dgemm reject arrays whose lengths do not fit m, n, kk (E_SHAPE)', () => {
  const f = (n: number): Float32Array => new Float32Array(n);
  assert.throws(() => nativeKernels.sgemm(false, false, 2, 3, 4, f(7), f(12), 0, f(6)), {
    code: 'E_SHAPE',
    message: 'sgemm: a has 7 elements, expected 8',
  });
  assert.throws(() => nativeKernels.sgemm(true, true, 2, 3, 4, f(8), f(11), 0, f(6)), {
    code: 'E_SHAPE',
    message: 'sgemm: b has 11 elements, expected 12',
  });
  assert.throws(() => nativeKernels.sgemm(false, false, 2, 3, 4, f(8), f(12), 0, f(5)), {
    code: 'E_SHAPE',
    message: 'sgemm: c has 5 elements, expected 6',
  });
  assert.throws(
    () =>
      nativeKernels.dgemm(
        false,
        false,
        2,
        3,
        4,
        new Float64Array(8),
        new Float64Array(12),
        0,
        new Float64Array(7),
      ),
    {
      code: 'E_SHAPE',
      message: 'dgemm: c has 7 elements, expected 6',
    },
  );
  assert.throws(() => nativeKernels.sgemm(false, false, -1, 3, 4, f(0), f(12), 0, f(0)), { code: 'E_SHAPE' });
  assert.throws(
    () =>
      nativeKernels.dgemm(
        false,
        false,
        1,
        1,
        1,
        f(1) as unknown as Float64Array,
        new Float64Array(1),
        0,
        new Float64Array(1),
      ),
    TypeError,
  );
});

test('sgemm of a small batch in a fully-connected layer (k ≤ 8 weight gradient, m = 1 input gradient): right, and the same bits at 1, 2 and 3 threads', () => {
  const rng = new SeededRng(77);
  // Weight gradients past the 8 MiB streaming-store size with rows that start unaligned (n odd), a = dy
  // transposed (as dense layers call it) or not, k = 1 … 8, and a small one; row products past the
  // 64-column split units with ragged tails and k not a multiple of 4.
  const cases: [number, number, number, boolean, boolean][] = [
    [1025, 2049, 1, false, false],
    [1025, 2049, 1, true, true],
    [300, 130, 1, true, false],
    [1025, 2049, 4, true, false],
    [517, 3001, 3, false, false],
    [257, 4099, 8, true, false],
    [64, 1031, 2, false, false],
    [1, 25_091, 403, false, false],
    [1, 4096, 4096, false, false],
    [1, 70_001, 7, false, false],
  ];
  for (const [m, n, kk, ta, tb] of cases) {
    const a = randomF32(rng, m * kk);
    const b = randomF32(rng, kk * n);
    const expected = new Float32Array(m * n);
    referenceKernels.sgemm(ta, tb, m, n, kk, a, b, 0, expected);
    let first: Float32Array | null = null;
    for (const t of [1, 2, 3]) {
      nativeKernels.setThreads(t);
      const c = randomF32(rng, m * n); // overwritten (beta 0), never read
      nativeKernels.sgemm(ta, tb, m, n, kk, a, b, 0, c);
      assertClose(c, expected, 1e-5, `${m}x${n}x${kk} transA=${ta} transB=${tb} at ${t} threads`);
      if (first === null) first = c;
      else assertIdentical(c, first, `${m}x${n}x${kk} at ${t} threads against 1`);
    }
    // beta 1 accumulates (the streamed paths are for beta 0 only).
    const c0 = randomF32(rng, m * n);
    const acc = c0.slice();
    referenceKernels.sgemm(ta, tb, m, n, kk, a, b, 1, acc);
    const c = c0.slice();
    nativeKernels.sgemm(ta, tb, m, n, kk, a, b, 1, c);
    assertClose(c, acc, 1e-5, `${m}x${n}x${kk} beta 1`);
  }
  nativeKernels.setThreads(info.maxThreads);
});
