// Deterministic mode (api.ts, setDeterministic): every kernel gives the same bits at 1, 2 and 3 threads —
// GEMM on fully-connected shapes (AlexNet's 4×4096×9216 among them), convolution on every layer shape of
// ResNet-18, VGG-16 and AlexNet at 224² and batch 1–4, on each backend, and the kernels that never split
// a sum across threads — and its results stay close to the reference kernels and to the faster,
// thread-dependent paths used when the mode is off.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConvGeom } from '../../src/kernels/api.js';
import { convOutSize } from '../../src/kernels/api.js';
import type { ConvBackend, NativeKernelInfo } from '../../src/kernels/native.js';
import { nativeInternals, nativeKernels, setConvBackend } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, assertIdentical, randomF32, randomF64, SeededRng } from './helpers.js';

const info = nativeKernels.info() as NativeKernelInfo;
const BACKENDS: ConvBackend[] = info.onednnBuilt ? ['onednn', 'im2col'] : ['im2col'];
const THREADS = [1, 2, 3];

before(() => nativeKernels.setDeterministic(true));
after(() => {
  nativeKernels.setThreads(info.maxThreads);
  nativeKernels.setDeterministic(info.deterministic);
  setConvBackend(BACKENDS[0]!);
});

type Outputs = ArrayLike<number>[];

/** Runs `run` at 1, 2 and 3 threads; every output must equal the 1-thread one bit for bit. */
function sameAtEveryThreadCount(label: string, run: () => Outputs): Outputs {
  let first: Outputs | null = null;
  for (const t of THREADS) {
    nativeKernels.setThreads(t);
    const out = run();
    if (first === null) {
      first = out;
      continue;
    }
    for (let i = 0; i < out.length; i++) {
      assertIdentical(out[i]!, first[i]!, `${label}: output ${i} at ${t} threads vs 1`);
    }
  }
  return first!;
}

/** `run` with deterministic mode off (at 2 threads), then back on. */
function withModeOff<T>(run: () => T): T {
  nativeKernels.setDeterministic(false);
  nativeKernels.setThreads(2);
  try {
    return run();
  } finally {
    nativeKernels.setDeterministic(true);
  }
}

describe('the deterministic switch', () => {
  test('is on by default and reported by info()', () => {
    assert.equal(info.deterministic, true);
    nativeKernels.setDeterministic(false);
    assert.equal(nativeKernels.info().deterministic, false);
    nativeKernels.setDeterministic(true);
    assert.equal(nativeKernels.info().deterministic, true);
  });

  test('rejects anything but a boolean (TypeError)', () => {
    for (const bad of [1, 'yes', null, undefined]) {
      assert.throws(() => nativeKernels.setDeterministic(bad as unknown as boolean), {
        name: 'TypeError',
        message: 'setDeterministic: on must be a boolean',
      });
    }
  });

  test('the reference kernels accept it and are always deterministic', () => {
    referenceKernels.setDeterministic(false);
    assert.equal(referenceKernels.info().deterministic, true);
  });
});

// [m, n, kk]: AlexNet's fc6 forward (batch 4 and 1), fc backward shapes, squares, odd and degenerate ones.
const GEMM_SHAPES: [number, number, number][] = [
  [4, 4096, 9216],
  [1, 4096, 9216],
  [4, 1000, 512],
  [1000, 512, 4],
  [4, 512, 1000],
  [4096, 1000, 4],
  [256, 256, 256],
  [33, 1000, 777],
  [130, 97, 261],
  [7, 11, 1],
  [1, 1, 1],
  [3, 5, 0],
];
const TRANS: [boolean, boolean][] = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

describe('sgemm and dgemm in deterministic mode', () => {
  test('sgemm gives the same bits at 1, 2 and 3 threads and matches the reference', () => {
    const rng = new SeededRng(101);
    for (const [m, n, kk] of GEMM_SHAPES) {
      for (const [ta, tb] of TRANS) {
        // The largest shapes with one transpose pair and beta 1 only: the reference takes a while on them.
        const large = m * n * kk > 1e7;
        if (large && (ta || !tb)) continue;
        for (const beta of large ? [1] : [0, 1]) {
          const a = randomF32(rng, m * kk);
          const b = randomF32(rng, kk * n);
          const c0 = randomF32(rng, m * n);
          const label = `sgemm ${m}x${n}x${kk} transA=${ta} transB=${tb} beta=${beta}`;
          const [c] = sameAtEveryThreadCount(label, () => {
            const c = c0.slice();
            nativeKernels.sgemm(ta, tb, m, n, kk, a, b, beta, c);
            return [c];
          });
          const expected = c0.slice();
          referenceKernels.sgemm(ta, tb, m, n, kk, a, b, beta, expected);
          assertClose(c!, expected, 1e-5, label);
        }
      }
    }
  });

  test('dgemm gives the same bits at 1, 2 and 3 threads and matches the reference', () => {
    const rng = new SeededRng(102);
    for (const [m, n, kk] of GEMM_SHAPES) {
      if (m * n * kk > 1e7) continue;
      for (const [ta, tb] of TRANS) {
        const a = randomF64(rng, m * kk);
        const b = randomF64(rng, kk * n);
        const c0 = randomF64(rng, m * n);
        const label = `dgemm ${m}x${n}x${kk} transA=${ta} transB=${tb}`;
        const [c] = sameAtEveryThreadCount(label, () => {
          const c = c0.slice();
          nativeKernels.dgemm(ta, tb, m, n, kk, a, b, 1, c);
          return [c];
        });
        const expected = c0.slice();
        referenceKernels.dgemm(ta, tb, m, n, kk, a, b, 1, expected);
        assertClose(c!, expected, 1e-13, label);
      }
    }
  });

  test('the built-in sgemm gives the same bits at 1, 2 and 3 threads in either mode', () => {
    const rng = new SeededRng(103);
    for (const [m, n, kk] of [
      [4, 4096, 1024],
      [300, 200, 300],
      [130, 97, 261],
    ] as const) {
      const a = randomF32(rng, m * kk);
      const b = randomF32(rng, kk * n);
      const run = (): Outputs => {
        const c = new Float32Array(m * n);
        nativeInternals.sgemmBuiltin(false, true, m, n, kk, a, b, 0, c);
        return [c];
      };
      const [det] = sameAtEveryThreadCount(`builtin sgemm ${m}x${n}x${kk}`, run);
      nativeKernels.setDeterministic(false);
      try {
        sameAtEveryThreadCount(`builtin sgemm ${m}x${n}x${kk}, mode off`, () => {
          const out = run();
          assertIdentical(out[0]!, det!, `builtin sgemm ${m}x${n}x${kk}: mode off vs on`);
          return out;
        });
      } finally {
        nativeKernels.setDeterministic(true);
      }
    }
  });

  test('deterministic sgemm stays close to the thread-split one on the large shapes', () => {
    const rng = new SeededRng(104);
    for (const [m, n, kk] of [
      [4, 4096, 9216],
      [512, 512, 512],
      [25088, 64, 4],
    ] as const) {
      const a = randomF32(rng, m * kk);
      const b = randomF32(rng, kk * n);
      const det = new Float32Array(m * n);
      nativeKernels.setThreads(2);
      nativeKernels.sgemm(false, false, m, n, kk, a, b, 0, det);
      const off = new Float32Array(m * n);
      withModeOff(() => nativeKernels.sgemm(false, false, m, n, kk, a, b, 0, off));
      assertClose(det, off, 1e-5, `sgemm ${m}x${n}x${kk}: deterministic vs mode off`);
    }
  });
});

function geom(
  n: number,
  c: number,
  hw: number,
  o: number,
  k: number,
  stride: number,
  padding: number,
): ConvGeom {
  return { n, c, h: hw, w: hw, o, k, stride, padding };
}

// name → [c, h=w, o, k, stride, padding]: every distinct conv layer of the three models at 224².
const LAYERS: Record<string, [number, number, number, number, number, number]> = {
  'resnet18 conv1': [3, 224, 64, 7, 2, 3],
  'resnet18 layer1': [64, 56, 64, 3, 1, 1],
  'resnet18 layer2.0.conv1': [64, 56, 128, 3, 2, 1],
  'resnet18 layer2.0.downsample': [64, 56, 128, 1, 2, 0],
  'resnet18 layer2': [128, 28, 128, 3, 1, 1],
  'resnet18 layer3.0.conv1': [128, 28, 256, 3, 2, 1],
  'resnet18 layer3.0.downsample': [128, 28, 256, 1, 2, 0],
  'resnet18 layer3': [256, 14, 256, 3, 1, 1],
  'resnet18 layer4.0.conv1': [256, 14, 512, 3, 2, 1],
  'resnet18 layer4.0.downsample': [256, 14, 512, 1, 2, 0],
  'resnet18 layer4': [512, 7, 512, 3, 1, 1],
  'vgg16 conv1_1': [3, 224, 64, 3, 1, 1],
  'vgg16 conv1_2': [64, 224, 64, 3, 1, 1],
  'vgg16 conv2_1': [64, 112, 128, 3, 1, 1],
  'vgg16 conv2_2': [128, 112, 128, 3, 1, 1],
  'vgg16 conv3_1': [128, 56, 256, 3, 1, 1],
  'vgg16 conv3_2': [256, 56, 256, 3, 1, 1],
  'vgg16 conv4_1': [256, 28, 512, 3, 1, 1],
  'vgg16 conv4_2': [512, 28, 512, 3, 1, 1],
  'vgg16 conv5': [512, 14, 512, 3, 1, 1],
  'alexnet conv1': [3, 224, 64, 11, 4, 2],
  'alexnet conv2': [64, 27, 192, 5, 1, 2],
  'alexnet conv3': [192, 13, 384, 3, 1, 1],
  'alexnet conv4': [384, 13, 256, 3, 1, 1],
  'alexnet conv5': [256, 13, 256, 3, 1, 1],
};

// Batches per layer: 1–4 in turn, the large VGG layers at 1 and 2 only (they take a while).
function batches(name: string): number[] {
  const [c, hw] = LAYERS[name]!;
  return name.startsWith('vgg16') && c * hw >= 64 * 112 ? [1, 2] : [1, 2, 3, 4];
}

// Shapes aimed at each deterministic im2col path (few or many column blocks, shared col, channel
// groups, partial sums over column groups, pointwise, strided 1×1), small enough for the reference.
const SMALL: ConvGeom[] = [
  geom(1, 16, 7, 64, 3, 1, 1), // forward: output channels grouped over one shared col
  geom(3, 24, 9, 40, 3, 2, 1),
  geom(2, 3, 48, 8, 3, 1, 1), // backward-weight: partial sums over column groups
  geom(1, 3, 40, 16, 7, 2, 3),
  geom(2, 64, 10, 32, 1, 1, 0), // pointwise
  geom(2, 16, 14, 32, 1, 2, 0), // strided 1×1
  geom(4, 32, 6, 48, 3, 1, 1), // channel groups, batch 4
  geom(1, 8, 27, 24, 5, 1, 2),
  geom(2, 5, 13, 7, 4, 3, 2), // odd everything
];

function convSizes(g: ConvGeom): { xs: number; ws: number; ys: number } {
  const oh = convOutSize(g.h, g.k, g.stride, g.padding);
  const ow = convOutSize(g.w, g.k, g.stride, g.padding);
  return { xs: g.n * g.c * g.h * g.w, ws: g.o * g.c * g.k * g.k, ys: g.n * g.o * oh * ow };
}

// forward y, backward-input dx, backward-weight dw (outputs pre-filled with NaN: all must be written).
function convAll(g: ConvGeom, x: Float32Array, w: Float32Array, dy: Float32Array): Outputs {
  const { xs, ws, ys } = convSizes(g);
  const y = new Float32Array(ys).fill(Number.NaN);
  const dx = new Float32Array(xs).fill(Number.NaN);
  const dw = new Float32Array(ws).fill(Number.NaN);
  nativeKernels.conv2dForward(g, x, w, y);
  nativeKernels.conv2dBackwardInput(g, dy, w, dx);
  nativeKernels.conv2dBackwardWeight(g, dy, x, dw);
  return [y, dx, dw];
}

const OPS = ['forward', 'backward-input', 'backward-weight'];

for (const backend of BACKENDS) {
  describe(`conv2d on ${backend} in deterministic mode`, () => {
    test('gives the same bits at 1, 2 and 3 threads on every ResNet-18, VGG-16 and AlexNet layer, batch 1–4', () => {
      setConvBackend(backend);
      const rng = new SeededRng(201);
      for (const name of Object.keys(LAYERS)) {
        const [c, hw, o, k, s, p] = LAYERS[name]!;
        for (const n of batches(name)) {
          const g = geom(n, c, hw, o, k, s, p);
          const { xs, ws, ys } = convSizes(g);
          const [x, w, dy] = [randomF32(rng, xs), randomF32(rng, ws), randomF32(rng, ys)];
          const det = sameAtEveryThreadCount(`${backend} ${name} n=${n}`, () => convAll(g, x, w, dy));
          if (n !== 2) continue;
          // The same layer with the mode off (thread-split paths, themselves checked by conv.test.ts).
          const off = withModeOff(() => convAll(g, x, w, dy));
          for (let i = 0; i < 3; i++) {
            assertClose(det[i]!, off[i]!, 1e-5, `${backend} ${name} n=${n} ${OPS[i]}: on vs off`);
          }
        }
      }
    });

    test('matches the reference on shapes aimed at each deterministic path', () => {
      setConvBackend(backend);
      const rng = new SeededRng(202);
      for (const g of SMALL) {
        const { xs, ws, ys } = convSizes(g);
        const [x, w, dy] = [randomF32(rng, xs), randomF32(rng, ws), randomF32(rng, ys)];
        const label = `${backend} ${JSON.stringify(g)}`;
        const got = sameAtEveryThreadCount(label, () => convAll(g, x, w, dy));
        const want = [new Float32Array(ys), new Float32Array(xs), new Float32Array(ws)];
        referenceKernels.conv2dForward(g, x, w, want[0]!);
        referenceKernels.conv2dBackwardInput(g, dy, w, want[1]!);
        referenceKernels.conv2dBackwardWeight(g, dy, x, want[2]!);
        for (let i = 0; i < 3; i++) assertClose(got[i]!, want[i]!, 1e-5, `${label} ${OPS[i]}`);
      }
    });
  });
}

// These split channels, planes, rows or elements over threads, never one sum: the same bits at any
// thread count in either mode. Sizes are large enough (≥ 2^15 elements) to run on several threads.
describe('the kernels that never split a sum across threads', () => {
  for (const mode of [true, false]) {
    test(`batch-norm, pooling, cross-entropy, sumChannels, relu, axpy and sgd give the same bits at 1, 2 and 3 threads (deterministic ${mode ? 'on' : 'off'})`, () => {
      nativeKernels.setDeterministic(mode);
      try {
        const rng = new SeededRng(301);
        const cg = { n: 4, c: 64, hw: 56 * 56 };
        const total = cg.n * cg.c * cg.hw;
        const x = randomF32(rng, total).map((v) => 3 + v);
        const dy = randomF32(rng, total);
        const weight = randomF32(rng, cg.c);
        const bias = randomF32(rng, cg.c);
        sameAtEveryThreadCount('batchNorm2d', () => {
          const out = [total, cg.c, cg.c, cg.c].map((len) => new Float32Array(len));
          const [y, mean, variance, invstd] = out as [Float32Array, Float32Array, Float32Array, Float32Array];
          nativeKernels.batchNorm2dForwardTrain(cg, x, weight, bias, 1e-5, y, mean, variance, invstd);
          const yEval = new Float32Array(total);
          nativeKernels.batchNorm2dForwardEval(cg, x, weight, bias, mean, variance, 1e-5, yEval);
          const [dx, dweight, dbias] = [
            new Float32Array(total),
            new Float32Array(cg.c),
            new Float32Array(cg.c),
          ];
          nativeKernels.batchNorm2dBackward(cg, dy, x, weight, mean, invstd, dx, dweight, dbias);
          return [...out, yEval, dx, dweight, dbias];
        });
        sameAtEveryThreadCount('sumChannels, addChannelBias', () => {
          const sums = randomF32(new SeededRng(1), cg.c);
          nativeKernels.sumChannels(cg, dy, sums);
          const y = x.slice();
          nativeKernels.addChannelBias(cg, y, bias);
          return [sums, y];
        });
        const pg = { n: 4, c: 64, h: 112, w: 112, k: 3, stride: 2, padding: 1 };
        const px = randomF32(rng, pg.n * pg.c * pg.h * pg.w);
        const pdy = randomF32(rng, pg.n * pg.c * 56 * 56);
        sameAtEveryThreadCount('maxPool2d, adaptiveAvgPool2d', () => {
          const y = new Float32Array(pdy.length);
          const argmax = new Int32Array(pdy.length);
          nativeKernels.maxPool2dForward(pg, px, y, argmax);
          const dx = new Float32Array(px.length);
          nativeKernels.maxPool2dBackward(pg, pdy, argmax, dx);
          const ag = { n: 4, c: 64, h: 112, w: 112, oh: 7, ow: 7 };
          const ay = new Float32Array(4 * 64 * 49);
          nativeKernels.adaptiveAvgPool2dForward(ag, px, ay);
          const adx = new Float32Array(px.length);
          nativeKernels.adaptiveAvgPool2dBackward(ag, ay, adx);
          return [y, argmax, dx, ay, adx];
        });
        const [n, k] = [64, 1000];
        const logits = randomF32(rng, n * k, 10);
        const labels = Int32Array.from({ length: n }, (_, i) => (i * 37) % k);
        sameAtEveryThreadCount('crossEntropy', () => {
          const probs = new Float32Array(n * k);
          const loss = nativeKernels.crossEntropyForward(n, k, logits, labels, probs);
          const dl = new Float32Array(n * k);
          nativeKernels.crossEntropyBackward(n, k, probs, labels, 1, dl);
          return [[loss], probs, dl];
        });
        const len = 100_003; // odd: ranges split unevenly, vector loops peel differently
        const p0 = randomF32(rng, len);
        const grads = [randomF32(rng, len), randomF32(rng, len)];
        sameAtEveryThreadCount('relu, axpy, sgdStep', () => {
          const r = new Float32Array(len);
          nativeKernels.reluForward(p0, r);
          const rdx = new Float32Array(len);
          nativeKernels.reluBackward(grads[0]!, p0, rdx);
          const y = grads[1]!.slice();
          nativeKernels.axpy(-0.375, p0, y);
          const p = p0.slice();
          const buf = new Float32Array(len);
          grads.forEach((grad, step) => {
            nativeKernels.sgdStep(p, grad, buf, 0.05, 0.9, 5e-4, true, step === 0);
          });
          return [r, rdx, y, p, buf];
        });
      } finally {
        nativeKernels.setDeterministic(true);
      }
    });
  }
});
