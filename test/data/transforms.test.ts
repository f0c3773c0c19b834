// Golden values for the bilinear resize come from PyTorch 1.13 (Debian python3-torch):
//   x = torch.tensor([((i*37) % 101) / 100 for i in range(C*H*W)]).reshape(1, C, H, W)
//   torch.nn.functional.interpolate(x, size=(oh, ow), mode='bilinear', align_corners=False, antialias=False)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageShape } from '../../src/data/image.js';
import { CIFAR10_NORMALIZATION, Normalize, normalize } from '../../src/data/normalize.js';
import { padCrop, RandomCrop } from '../../src/data/random-crop.js';
import { flipHorizontal, RandomHorizontalFlip } from '../../src/data/random-horizontal-flip.js';
import { Resize, resizeBilinear } from '../../src/data/resize-bilinear.js';
import { Compose } from '../../src/data/transform.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';

function pattern(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 37) % 101) / 100);
}

/** Within 2 float32 ulps of 1 (torch vectorises the blend, so the last bit may differ). */
function assertClose(actual: number, expected: number, what: string, tol = 2.5e-7): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs torch ${expected}`);
}

const UP_2x3x4_TO_5x7 = [
  0.0, 0.132142872, 0.343571454, 0.555000067, 0.694285691, 0.32857132, 0.100000001, 0.188000023, 0.320142865,
  0.531571448, 0.541000009, 0.507142842, 0.372285694, 0.288000017, 0.470000029, 0.602142811, 0.813571453,
  0.519999921, 0.226428658, 0.437857211, 0.569999933, 0.752000034, 0.667714238, 0.53285712, 0.499000013,
  0.465142906, 0.330285668, 0.245999947, 0.939999998, 0.711428523, 0.345714271, 0.485000074, 0.624285698,
  0.258571327, 0.0299999993, 0.400000006, 0.532142878, 0.74357146, 0.449999899, 0.15642862, 0.367857218, 0.5,
  0.588, 0.575857162, 0.556428552, 0.43599996, 0.344428658, 0.555857241, 0.688000023, 0.869999945, 0.64142853,
  0.275714308, 0.415000051, 0.626428604, 0.837857187, 0.969999969, 0.545999944, 0.533857107, 0.514428616,
  0.393999964, 0.302428573, 0.513857186, 0.645999968, 0.330000013, 0.462142885, 0.673571467, 0.379999906,
  0.0864286125, 0.297857195, 0.430000007,
];
const DOWN_2x3x4_TO_2x3 = [
  0.179166675, 0.546249986, 0.282083303, 0.757916689, 0.493750006, 0.229583308, 0.537083328, 0.441249967,
  0.555833399, 0.484583348, 0.388749957, 0.50333339,
];
const UP_3x32x32_TO_224: [number, number][] = [
  [0, 0.0],
  [1, 0.0],
  [7, 0.211428583],
  [223, 0.360000014],
  [224, 0.0],
  [1000, 0.331020564],
  [12345, 0.463877738],
  [50175, 0.769999862],
  [50176, 0.129999995],
  [77777, 0.791428506],
  [100351, 0.899999976],
  [150527, 0.0199999996],
];
const UP_1x28x28_TO_224: [number, number][] = [
  [0, 0.0],
  [3, 0.0],
  [100, 0.423124999],
  [1129, 0.303124994],
  [25000, 0.531875014],
  [50175, 0.850000024],
];

test('bilinear resize matches torch interpolate (align_corners=False) when upsampling 3x4 to 5x7', () => {
  const out = new Float32Array(2 * 5 * 7);
  resizeBilinear(pattern(24), { c: 2, h: 3, w: 4 }, 5, 7, out);
  for (const [i, v] of UP_2x3x4_TO_5x7.entries()) assertClose(out[i]!, v, `out[${i}]`);
});

test('bilinear resize matches torch interpolate without antialiasing when downsampling 3x4 to 2x3', () => {
  const out = new Float32Array(2 * 2 * 3);
  resizeBilinear(pattern(24), { c: 2, h: 3, w: 4 }, 2, 3, out);
  for (const [i, v] of DOWN_2x3x4_TO_2x3.entries()) assertClose(out[i]!, v, `out[${i}]`);
});

test('Resize matches torch for CIFAR-10 (32→224) and Fashion-MNIST (28→224) images', () => {
  const rng = new SeededRng(1);
  const r = new Resize(224);
  const a = new Float32Array(3 * 224 * 224);
  r.apply(pattern(3 * 32 * 32), { c: 3, h: 32, w: 32 }, a, rng);
  for (const [i, v] of UP_3x32x32_TO_224) assertClose(a[i]!, v, `32→224 out[${i}]`);
  const b = new Float32Array(224 * 224);
  r.apply(pattern(28 * 28), { c: 1, h: 28, w: 28 }, b, rng);
  for (const [i, v] of UP_1x28x28_TO_224) assertClose(b[i]!, v, `28→224 out[${i}]`);
  assert.deepEqual(r.outShape({ c: 3, h: 32, w: 32 }), { c: 3, h: 224, w: 224 });
});

test('resizing to the same size is the identity', () => {
  const x = pattern(3 * 5 * 6);
  const out = new Float32Array(x.length);
  resizeBilinear(x, { c: 3, h: 5, w: 6 }, 5, 6, out);
  assert.deepEqual(out, x);
});

test('normalize subtracts the channel mean and divides by the channel std', () => {
  const s: ImageShape = { c: 3, h: 1, w: 2 };
  const x = Float32Array.from([0, 1, 0.5, 0.25, 1, 0]);
  const out = new Float32Array(6);
  normalize(x, s, CIFAR10_NORMALIZATION.mean, CIFAR10_NORMALIZATION.std, out);
  const expected = [
    (0 - 0.4914) / 0.247,
    (1 - 0.4914) / 0.247,
    (0.5 - 0.4822) / 0.2435,
    (0.25 - 0.4822) / 0.2435,
    (1 - 0.4465) / 0.2616,
    (0 - 0.4465) / 0.2616,
  ];
  for (const [i, v] of expected.entries()) assert.equal(out[i], Math.fround(v));
  assert.throws(() => new Normalize({ mean: [0.5], std: [0] }), RangeError);
  assert.throws(
    () => new Normalize({ mean: [0.5], std: [0.5] }).outShape(s),
    /1 channel constants for a 3-channel image/,
  );
});

test('padCrop cuts a window of the zero-padded image', () => {
  // x [1,2,3] = [[1,2,3],[4,5,6]], pad 1 → 4x5 padded; window at (0,0) of size 3x3.
  const x = Float32Array.from([1, 2, 3, 4, 5, 6]);
  const out = new Float32Array(9);
  padCrop(x, { c: 1, h: 2, w: 3 }, 1, 0, 0, 3, 3, out);
  assert.deepEqual([...out], [0, 0, 0, 0, 1, 2, 0, 4, 5]);
  padCrop(x, { c: 1, h: 2, w: 3 }, 1, 1, 2, 3, 3, out);
  assert.deepEqual([...out], [2, 3, 0, 5, 6, 0, 0, 0, 0]);
  padCrop(x, { c: 1, h: 2, w: 3 }, 0, 0, 0, 2, 3, out.subarray(0, 6));
  assert.deepEqual([...out.subarray(0, 6)], [1, 2, 3, 4, 5, 6]);
});

test('flipHorizontal mirrors every row of every channel', () => {
  const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const out = new Float32Array(12);
  flipHorizontal(x, { c: 2, h: 2, w: 3 }, out);
  assert.deepEqual([...out], [3, 2, 1, 6, 5, 4, 9, 8, 7, 12, 11, 10]);
});

test('RandomCrop draws top then left from the rng, so the same seed gives the same crops', () => {
  const s: ImageShape = { c: 3, h: 8, w: 8 };
  const x = pattern(3 * 64);
  const crop = new RandomCrop(8, 2);
  const run = (seed: number): Float32Array[] => {
    const rng = new SeededRng(seed);
    return Array.from({ length: 5 }, () => {
      const out = new Float32Array(3 * 64);
      crop.apply(x, s, out, rng);
      return out;
    });
  };
  assert.deepEqual(run(7), run(7));
  assert.notDeepEqual(run(7), run(8));
  const rng = new SeededRng(7);
  const probe = new SeededRng(7);
  const top = probe.nextInt(5);
  const left = probe.nextInt(5);
  const expected = new Float32Array(3 * 64);
  padCrop(x, s, 2, top, left, 8, 8, expected);
  const out = new Float32Array(3 * 64);
  crop.apply(x, s, out, rng);
  assert.deepEqual(out, expected);
});

test('RandomHorizontalFlip flips with probability p using one draw per image', () => {
  const s: ImageShape = { c: 1, h: 1, w: 3 };
  const x = Float32Array.from([1, 2, 3]);
  const out = new Float32Array(3);
  const always = new RandomHorizontalFlip(1);
  always.apply(x, s, out, new SeededRng(0));
  assert.deepEqual([...out], [3, 2, 1]);
  new RandomHorizontalFlip(0).apply(x, s, out, new SeededRng(0));
  assert.deepEqual([...out], [1, 2, 3]);
  const half = new RandomHorizontalFlip(0.5);
  const rng = new SeededRng(3);
  let flips = 0;
  for (let i = 0; i < 1000; i++) {
    half.apply(x, s, out, rng);
    if (out[0] === 3) flips++;
  }
  assert.ok(flips > 430 && flips < 570, `${flips} flips out of 1000`);
});

test('Compose chains shapes and applies each transform in order', () => {
  const s: ImageShape = { c: 3, h: 4, w: 4 };
  const x = pattern(48);
  const norm = new Normalize({ mean: [0.1, 0.2, 0.3], std: [0.5, 0.5, 0.5] });
  const t = new Compose([new RandomHorizontalFlip(1), new Resize(6), norm]);
  assert.deepEqual(t.outShape(s), { c: 3, h: 6, w: 6 });
  assert.equal(t.random, true);
  const got = new Float32Array(3 * 36);
  t.apply(x, s, got, new SeededRng(0));
  const flipped = new Float32Array(48);
  flipHorizontal(x, s, flipped);
  const resized = new Float32Array(3 * 36);
  resizeBilinear(flipped, s, 6, 6, resized);
  const expected = new Float32Array(3 * 36);
  normalize(resized, { c: 3, h: 6, w: 6 }, norm.mean, norm.std, expected);
  assert.deepEqual(got, expected);
  const empty = new Compose([]);
  const copy = new Float32Array(48);
  empty.apply(x, s, copy, new SeededRng(0));
  assert.deepEqual(copy, x);
});
