import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeKernels as k } from '../../src/kernels/native.js';

const f = (n: number): Float32Array => new Float32Array(n);
const conv = { n: 2, c: 3, h: 5, w: 5, o: 4, k: 3, stride: 1, padding: 1 }; // y [2,4,5,5]
const pool = { n: 1, c: 2, h: 4, w: 4, k: 2, stride: 2, padding: 0 }; // y [1,2,2,2]
const ch = { n: 2, c: 3, hw: 4 };

// [what, call, exact message]
const CASES: [string, () => unknown, string][] = [
  [
    'conv2dForward x',
    () => k.conv2dForward(conv, f(149), f(108), f(200)),
    'conv2dForward: x has 149 elements, expected 150',
  ],
  [
    'conv2dForward w',
    () => k.conv2dForward(conv, f(150), f(107), f(200)),
    'conv2dForward: w has 107 elements, expected 108',
  ],
  [
    'conv2dForward y',
    () => k.conv2dForward(conv, f(150), f(108), f(201)),
    'conv2dForward: y has 201 elements, expected 200',
  ],
  [
    'conv2dBackwardInput dy',
    () => k.conv2dBackwardInput(conv, f(150), f(108), f(150)),
    'conv2dBackwardInput: dy has 150 elements, expected 200',
  ],
  [
    'conv2dBackwardWeight dw',
    () => k.conv2dBackwardWeight(conv, f(200), f(150), f(100)),
    'conv2dBackwardWeight: dw has 100 elements, expected 108',
  ],
  [
    'conv2d kernel larger than the padded input',
    () => k.conv2dForward({ ...conv, k: 8 }, f(150), f(4 * 3 * 64), f(0)),
    'conv2dForward: a 8x8 kernel with padding 1 does not fit a 5x5 input',
  ],
  [
    'conv2d zero stride',
    () => k.conv2dForward({ ...conv, stride: 0 }, f(150), f(108), f(200)),
    'conv2dForward: geometry stride must be an integer >= 1, got 0',
  ],
  [
    'conv2d fractional channels',
    () => k.conv2dForward({ ...conv, c: 2.5 }, f(150), f(108), f(200)),
    'conv2dForward: geometry c must be an integer >= 1, got 2.5',
  ],
  [
    'maxPool2dForward argmax',
    () => k.maxPool2dForward(pool, f(32), f(8), new Int32Array(7)),
    'maxPool2dForward: argmax has 7 elements, expected 8',
  ],
  [
    'maxPool2dForward padding over k/2',
    () => k.maxPool2dForward({ ...pool, padding: 2 }, f(32), f(8), new Int32Array(8)),
    'maxPool2dForward: padding 2 must be at most half the kernel size 2',
  ],
  [
    'maxPool2dBackward dx',
    () => k.maxPool2dBackward(pool, f(8), new Int32Array(8), f(31)),
    'maxPool2dBackward: dx has 31 elements, expected 32',
  ],
  [
    'adaptiveAvgPool2dForward y',
    () => k.adaptiveAvgPool2dForward({ n: 1, c: 2, h: 3, w: 3, oh: 7, ow: 7 }, f(18), f(97)),
    'adaptiveAvgPool2dForward: y has 97 elements, expected 98',
  ],
  [
    'batchNorm2dForwardTrain weight',
    () => k.batchNorm2dForwardTrain(ch, f(24), f(2), null, 1e-5, f(24), f(3), f(3), f(3)),
    'batchNorm2dForwardTrain: weight has 2 elements, expected 3',
  ],
  [
    'batchNorm2dForwardEval runningVar',
    () => k.batchNorm2dForwardEval(ch, f(24), null, null, f(3), f(4), 1e-5, f(24)),
    'batchNorm2dForwardEval: runningVar has 4 elements, expected 3',
  ],
  [
    'batchNorm2dBackward dx',
    () => k.batchNorm2dBackward(ch, f(24), f(24), null, f(3), f(3), f(23), null, null),
    'batchNorm2dBackward: dx has 23 elements, expected 24',
  ],
  ['reluForward y', () => k.reluForward(f(5), f(4)), 'reluForward: y has 4 elements, expected 5'],
  ['reluBackward x', () => k.reluBackward(f(5), f(6), f(5)), 'reluBackward: x has 6 elements, expected 5'],
  [
    'crossEntropyForward labels',
    () => k.crossEntropyForward(2, 3, f(6), new Int32Array(3), f(6)),
    'crossEntropyForward: labels has 3 elements, expected 2',
  ],
  [
    'crossEntropyBackward dlogits',
    () => k.crossEntropyBackward(2, 3, f(6), new Int32Array(2), 1, f(5)),
    'crossEntropyBackward: dlogits has 5 elements, expected 6',
  ],
  [
    'addChannelBias bias',
    () => k.addChannelBias(ch, f(24), f(4)),
    'addChannelBias: bias has 4 elements, expected 3',
  ],
  ['sumChannels dy', () => k.sumChannels(ch, f(25), f(3)), 'sumChannels: dy has 25 elements, expected 24'],
  ['axpy y', () => k.axpy(1, f(3), f(2)), 'axpy: y has 2 elements, expected 3'],
  [
    'sgdStep buf',
    () => k.sgdStep(f(3), f(3), f(2), 0.1, 0.9, 0, false, true),
    'sgdStep: buf has 2 elements, expected 3',
  ],
];

for (const [what, call, message] of CASES) {
  test(`${what} of the wrong size is rejected with E_SHAPE before reaching C++`, () => {
    assert.throws(call, { name: 'TeeError', code: 'E_SHAPE', message });
  });
}

test('arrays of the wrong element type are rejected with a TypeError', () => {
  assert.throws(() => k.reluForward(new Float64Array(3) as unknown as Float32Array, f(3)), TypeError);
  assert.throws(
    () => k.maxPool2dForward(pool, f(32), f(8), new Float32Array(8) as unknown as Int32Array),
    TypeError,
  );
  assert.throws(() => k.sgdStep(f(3), f(3), null, 0.1, 0.9, 0, false, true), TypeError);
});
