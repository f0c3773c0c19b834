import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { nativeKernels } from '../../src/kernels/native.js';
import { referenceKernels } from '../../src/kernels/reference.js';
import { assertClose, assertIdentical, randomF32, SeededRng } from './helpers.js';

const info = nativeKernels.info();
after(() => nativeKernels.setThreads(info.maxThreads));

// Sizes below and above the size at which the addon starts using threads (2^15 elements).
const SIZES = [1, 7, 1000, 100_003];

for (const threads of [1, 2]) {
  test(`relu forward and backward match the reference, with 0 and NaN, in place too (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(31);
    for (const n of SIZES) {
      const x = randomF32(rng, n);
      x[0] = 0;
      if (n > 2) x[1] = Number.NaN;
      if (n > 3) x[2] = -0;
      const [y, ey] = [new Float32Array(n), new Float32Array(n)];
      nativeKernels.reluForward(x, y);
      referenceKernels.reluForward(x, ey);
      assertIdentical(y, ey, `relu y n=${n}`);
      const inPlace = x.slice();
      nativeKernels.reluForward(inPlace, inPlace);
      assertIdentical(inPlace, ey, `relu in place n=${n}`);
      const dy = randomF32(rng, n);
      const [dx, edx] = [new Float32Array(n), new Float32Array(n)];
      nativeKernels.reluBackward(dy, x, dx);
      referenceKernels.reluBackward(dy, x, edx);
      assertIdentical(dx, edx, `relu dx n=${n}`);
      assert.equal(dx[0], 0, 'the gradient at 0 is 0');
      nativeKernels.reluBackward(dy, x, dy);
      assertIdentical(dy, edx, `relu dx aliasing dy n=${n}`);
    }
  });

  test(`relu kernels match the reference on odd and empty lengths, unaligned views and special values (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(34);
    const specials = [0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-45, -1e-45];
    // 0, lengths around the 8-wide vector body and its tail, and odd lengths above the threading grain.
    for (const n of [0, 1, 3, 7, 8, 9, 15, 17, 31, 33, 65, 32_767, 32_769, 65_537, 131_075]) {
      // A view starting one element into its buffer: not 32-byte aligned.
      const x = randomF32(rng, n + 1).subarray(1);
      const dy = randomF32(rng, n + 1).subarray(1);
      for (let i = 0; i < Math.min(n, 3 * specials.length); i++) {
        x[(i * 7919) % n] = specials[i % specials.length]!;
        if (i % 3 === 0) dy[(i * 104_729) % n] = specials[(i + 2) % specials.length]!;
      }
      const [y, ey] = [new Float32Array(n), new Float32Array(n)];
      nativeKernels.reluForward(x, y);
      referenceKernels.reluForward(x, ey);
      assertIdentical(y, ey, `relu y n=${n}`);
      const inPlace = x.slice();
      nativeKernels.reluForward(inPlace, inPlace);
      assertIdentical(inPlace, ey, `relu in place n=${n}`);
      const [dx, edx] = [new Float32Array(n), new Float32Array(n)];
      nativeKernels.reluBackward(dy, x, dx);
      referenceKernels.reluBackward(dy, x, edx);
      assertIdentical(dx, edx, `relu dx n=${n}`);
      for (let i = 0; i < n; i++) {
        const xi = x[i]!;
        // torch's threshold_backward: 0 where x <= 0 (x = ±0 included), dy elsewhere (x = NaN included).
        const want = xi <= 0 ? 0 : dy[i]!;
        if (!Object.is(dx[i], want)) assert.fail(`relu dx n=${n} at ${i}: x=${xi} dy=${dy[i]} → ${dx[i]}`);
      }
      const aliased = dy.slice();
      nativeKernels.reluBackward(aliased, x, aliased);
      assertIdentical(aliased, edx, `relu dx aliasing dy n=${n}`);
    }
  });

  test(`addChannelBias, sumChannels and axpy match the reference (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(32);
    for (const g of [
      { n: 1, c: 1, hw: 1 },
      { n: 3, c: 5, hw: 7 },
      { n: 16, c: 10, hw: 1 },
      { n: 8, c: 64, hw: 196 },
    ]) {
      const total = g.n * g.c * g.hw;
      const y0 = randomF32(rng, total);
      const bias = randomF32(rng, g.c);
      const [y, ey] = [y0.slice(), y0.slice()];
      nativeKernels.addChannelBias(g, y, bias);
      referenceKernels.addChannelBias(g, ey, bias);
      assertIdentical(y, ey, `addChannelBias ${JSON.stringify(g)}`);
      const out0 = randomF32(rng, g.c);
      const [out, eout] = [out0.slice(), out0.slice()];
      nativeKernels.sumChannels(g, y0, out);
      referenceKernels.sumChannels(g, y0, eout);
      assertClose(out, eout, 1e-6, `sumChannels ${JSON.stringify(g)}`);
    }
    for (const n of SIZES) {
      const x = randomF32(rng, n);
      const y0 = randomF32(rng, n);
      const [y, ey] = [y0.slice(), y0.slice()];
      nativeKernels.axpy(-0.375, x, y);
      referenceKernels.axpy(-0.375, x, ey);
      assertClose(y, ey, 1e-7, `axpy n=${n}`);
    }
  });

  test(`sgdStep matches torch.optim.SGD semantics bit for bit in every mode (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(33);
    for (const n of [5, 100_003]) {
      for (const momentum of [0, 0.9]) {
        for (const weightDecay of [0, 5e-4]) {
          for (const nesterov of momentum === 0 ? [false] : [false, true]) {
            const p0 = randomF32(rng, n);
            const [p, ep] = [p0.slice(), p0.slice()];
            const buf = momentum === 0 ? null : new Float32Array(n);
            const ebuf = momentum === 0 ? null : new Float32Array(n);
            for (let step = 0; step < 3; step++) {
              const grad = randomF32(rng, n);
              nativeKernels.sgdStep(p, grad, buf, 0.05, momentum, weightDecay, nesterov, step === 0);
              referenceKernels.sgdStep(ep, grad, ebuf, 0.05, momentum, weightDecay, nesterov, step === 0);
            }
            const label = `n=${n} momentum=${momentum} wd=${weightDecay} nesterov=${nesterov}`;
            assertIdentical(p, ep, `p ${label}`);
            if (buf) assertIdentical(buf, ebuf!, `buf ${label}`);
          }
        }
      }
    }
  });

  test(`crossEntropy forward and backward match the reference and stay finite for huge logits (${threads} thread(s))`, () => {
    nativeKernels.setThreads(threads);
    const rng = new SeededRng(34);
    for (const [n, k] of [
      [1, 1],
      [3, 10],
      [64, 1000],
      [17, 3],
    ] as const) {
      const logits = randomF32(rng, n * k, 5);
      logits[0] = 1000; // exp(1000) overflows without the max subtraction
      if (n * k > 1) logits[1] = -1000;
      const labels = Int32Array.from({ length: n }, () => rng.nextInt(k));
      const [probs, eprobs] = [new Float32Array(n * k), new Float32Array(n * k)];
      const loss = nativeKernels.crossEntropyForward(n, k, logits, labels, probs);
      const eloss = referenceKernels.crossEntropyForward(n, k, logits, labels, eprobs);
      assert.ok(Number.isFinite(loss), `loss is finite (${loss})`);
      assert.ok(Math.abs(loss - eloss) <= 1e-9 * Math.max(1, Math.abs(eloss)), `loss ${loss} vs ${eloss}`);
      assertClose(probs, eprobs, 1e-7, `probs ${n}x${k}`);
      const [dl, edl] = [new Float32Array(n * k), new Float32Array(n * k)];
      nativeKernels.crossEntropyBackward(n, k, probs, labels, 2.5, dl);
      referenceKernels.crossEntropyBackward(n, k, eprobs, labels, 2.5, edl);
      assertClose(dl, edl, 1e-7, `dlogits ${n}x${k}`);
    }
  });
}

test('crossEntropy rejects a label outside [0, k)', () => {
  const probs = new Float32Array(6);
  assert.throws(
    () => nativeKernels.crossEntropyForward(2, 3, new Float32Array(6), new Int32Array([0, 3]), probs),
    { name: 'RangeError', message: 'crossEntropyForward: label 3 at index 1 is outside [0, 3)' },
  );
  assert.throws(
    () => nativeKernels.crossEntropyBackward(2, 3, probs, new Int32Array([-1, 0]), 1, new Float32Array(6)),
    RangeError,
  );
});

test('info() reports the libraries, the thread count and the CPU features', () => {
  nativeKernels.setThreads(1);
  const i = nativeKernels.info();
  assert.equal(i.threads, 1);
  assert.ok(['openblas', 'builtin'].includes(i.blas));
  assert.ok(['onednn', 'im2col'].includes(i.conv));
  assert.ok(i.maxThreads >= 1);
  assert.ok(Array.isArray(i.cpuFeatures) && i.cpuFeatures.includes('sse2'));
  nativeKernels.setThreads(i.maxThreads);
  assert.equal(nativeKernels.info().threads, i.maxThreads);
  assert.throws(() => nativeKernels.setThreads(0), RangeError);
  assert.throws(() => nativeKernels.setThreads(1.5), RangeError);
});
