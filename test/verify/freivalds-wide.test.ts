// Wide-field Freivalds: honest exact integer products (up to the field's ±(2^47 − 1)) pass for every op;
// every lie is caught — including the one a check mod 2^24 − 3 cannot see, adding that prime to an
// element — results that are not integers within the bound are refused, a one-element lie is missed at
// the rate 1/P at a small P; and wide quantization keeps about 20 bits per operand where p = 2^24 − 3
// keeps about 8.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import {
  centered,
  DEFAULT_MODULUS,
  type ExactField,
  exactField,
  FIELDS,
  isPrime,
  WIDE_MODULUS,
} from '../../src/verify/field.js';
import { freivaldsExact } from '../../src/verify/freivalds-exact.js';
import {
  freivaldsWide,
  structuredConv,
  wideCheck,
  wideResultProblem,
} from '../../src/verify/freivalds-wide.js';
import { innerLength, productGeometry, resultShapeOf } from '../../src/verify/product-geometry.js';
import { quantConfig, quantizeProduct, WIDE_QUANT_CONFIG } from '../../src/verify/quantize.js';
import {
  LINEAR_OP_KINDS,
  numelOf,
  type ProductCase,
  randomCase,
  randomField,
  randomFloats,
} from './cases.js';
import { floatReference } from './modp-reference.js';

const WIDE = FIELDS.wide;
const CONV_CHECKS = ['structured', 'folded'] as const;
const P1 = DEFAULT_MODULUS;
const P2 = 16777199; // 2^24 − 17: another prime a lie might add

interface Honest {
  cs: ProductCase;
  a: Int32Array;
  b: Int32Array;
  y: Float64Array;
}

// Operands as large as the field allows for this inner length (K·B² ≤ outputHalf): the float64 reference
// is then exact (every partial sum ≤ 2^47).
// (Or operands centered mod p within ±half, for the small-prime tests.)
function honest(cs: ProductCase, rng: SeededRng, p = P1, half?: number): Honest {
  const k = innerLength(cs.g);
  const bound = half ?? Math.min(WIDE.operandHalf, Math.floor(Math.sqrt(WIDE.outputHalf / Math.max(1, k))));
  const a = randomField(numelOf(cs.aShape), p, rng, bound);
  const b = randomField(numelOf(cs.bShape), p, rng, bound);
  const y = floatReference(
    cs.op,
    { shape: cs.aShape, data: a },
    { shape: cs.bShape, data: b },
    cs.params,
  ).data;
  return { cs, a, b, y };
}

describe('wide-field Freivalds check', () => {
  const crng = new CryptoRng();

  it('defines one prime that covers every difference of two admissible results, one repetition by default', () => {
    assert.equal(exactField('wide'), WIDE);
    assert.equal(WIDE.modulus, WIDE_MODULUS);
    assert.equal(WIDE_MODULUS, 2 ** 50 - 27);
    assert.ok(isPrime(WIDE_MODULUS));
    assert.ok(!isPrime(2 ** 50 - 25) && !isPrime(561) && !isPrime(P1 * P2) && isPrime(P1) && isPrime(P2));
    assert.ok(2 * WIDE.outputHalf < WIDE.modulus);
    assert.ok(WIDE.outputHalf > 2 ** 46.99 && WIDE.outputHalf < 2 ** 47);
    assert.equal(WIDE.repetitions, 1);
    assert.ok(WIDE.modulus > 2 ** 48, 'one repetition must give soundness ≤ 2^-48');
    assert.throws(() => exactField('p48'), /wide, p24/);
  });

  it('accepts 10 200 honest products of all six ops with operands at the bound (no false alarm)', () => {
    const rng = new SeededRng(11);
    let largest = 0;
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 1700; t++) {
        const h = honest(randomCase(op, rng), rng);
        for (const v of h.y) largest = Math.max(largest, Math.abs(v));
        // Both ways of checking a convolution, whichever 'auto' would pick for these small geometries.
        for (const convCheck of CONV_CHECKS) {
          const out = freivaldsWide(h.cs.g, h.a, h.b, h.y, WIDE, { rng: crng, convCheck });
          assert.ok(out.ok, `${op} #${t} (${convCheck}): ${out.reason}`);
        }
      }
    }
    // The honest results really use the room above 2^24 (else this would test nothing new).
    assert.ok(largest > 2 ** 40, `largest |y| ${largest}`);
  });

  it('catches a flipped element, a changed row, a scaled result, a replay, and ±p1, ±p2, ±3·p1 added to one element', () => {
    const rng = new SeededRng(12);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 15; t++) {
        const h = honest(randomCase(op, rng), rng);
        const g = h.cs.g;
        const i = rng.nextInt(h.y.length);
        const lie = (f: (y: Float64Array) => void): Float64Array => {
          const y = h.y.slice();
          f(y);
          return y;
        };
        const lies: [string, Float64Array][] = [
          ['flip', lie((y) => (y[i]! += 1 + rng.nextInt(1000)))],
          ['+p1', lie((y) => (y[i]! += y[i]! > 0 ? -P1 : P1))],
          ['+p2', lie((y) => (y[i]! += y[i]! > 0 ? -P2 : P2))],
          ['+p1·3', lie((y) => (y[i]! += y[i]! > 0 ? -3 * P1 : 3 * P1))],
        ];
        const last = resultShapeOf(g).at(-1)!;
        const r0 = rng.nextInt(h.y.length / last) * last;
        lies.push(['row', lie((y) => y.fill(12345, r0, r0 + last))]);
        if (h.y.some((v) => v !== 0)) lies.push(['scale', h.y.map((v) => 2 * v)]);
        lies.push(['replay', honest(h.cs, rng).y]);
        for (const [kind, y] of lies) {
          if (y.every((v, j) => v === h.y[j])) continue; // the row happened to hold 12345s already
          for (const convCheck of CONV_CHECKS) {
            const out = freivaldsWide(g, h.a, h.b, y, WIDE, { rng: crng, convCheck });
            assert.equal(out.ok, false, `${op}: ${kind} was accepted (${convCheck})`);
          }
        }
      }
    }
  });

  it('sees the lie a check mod 2^24 − 3 cannot: p1 added to an element', () => {
    const rng = new SeededRng(13);
    const h = honest(randomCase('conv2d', rng), rng);
    const y = h.y.slice();
    y[0]! += y[0]! > 0 ? -P1 : P1;
    const r1 = Int32Array.from(y, (v) => centered(v, P1));
    assert.ok(freivaldsExact(h.cs.g, h.a, h.b, r1, { rng: crng, p: P1 }).ok, 'mod p1 alone sees nothing');
    const out = freivaldsWide(h.cs.g, h.a, h.b, y, WIDE, { rng: crng });
    assert.equal(out.ok, false);
    assert.match(out.reason, new RegExp(`mod ${WIDE_MODULUS}`));
  });

  it('misses a one-element lie at the rate of its random coefficient being 0: 1/P dense and folded, 1 − (1 − 1/P)³ structured conv and grad-input, 1 − (1 − 1/P)² weight gradient (P = 251, 16 000 lies)', (t) => {
    // The same check at a small prime, so that misses are countable: adding e ∈ [1, 250] to one element is
    // missed iff that element's random coefficient is 0. A dense product's coefficient, and a folded
    // convolution check's, is one entry of r: probability 1/251. A structured check contracts the forward
    // and grad-input results with r ⊗ u ⊗ v (channel, row, column), the weight gradient's from both sides
    // (r over output, t over input channels), so the coefficient is a product of three or two uniform
    // entries: 1 − (250/251)³ ≈ 3/251 and 1 − (250/251)² ≈ 2/251. Expected 39.8 + 47.6 + 15.9 misses,
    // standard deviation 10.1; the bounds are ±4σ in total and per kind. (The real P exceeds every
    // admissible difference.)
    const small: ExactField = {
      name: 'wide',
      modulus: 251,
      repetitions: 1,
      operandHalf: 125,
      outputHalf: 2 ** 40,
    };
    const kinds = [
      ...LINEAR_OP_KINDS.map((op) => ({ op, convCheck: 'structured' as const })),
      { op: 'conv2d' as const, convCheck: 'folded' as const },
      { op: 'conv2dGradInput' as const, convCheck: 'folded' as const },
    ];
    const rate = (op: string, convCheck: string): number =>
      op === 'conv2dGradWeight'
        ? 1 - (250 / 251) ** 2
        : (op === 'conv2d' || op === 'conv2dGradInput') && convCheck === 'structured'
          ? 1 - (250 / 251) ** 3
          : 1 / 251;
    const rng = new SeededRng(17);
    const perKind = new Map<string, number>();
    let misses = 0;
    let trials = 0;
    let expected = 0;
    let variance = 0;
    for (const { op, convCheck } of kinds) {
      const q = rate(op, convCheck);
      let kindMisses = 0;
      for (let i0 = 0; i0 < 2000; i0++) {
        const { cs, a, b, y } = honest(randomCase(op, rng, 3), rng, 251, 125);
        y[rng.nextInt(y.length)]! += 1 + rng.nextInt(250);
        if (freivaldsWide(cs.g, a, b, y, small, { rng: crng, convCheck }).ok) kindMisses++;
        trials++;
        expected += q;
        variance += q * (1 - q);
      }
      perKind.set(op === 'conv2d' || op === 'conv2dGradInput' ? `${op}/${convCheck}` : op, kindMisses);
      misses += kindMisses;
      const sdKind = Math.sqrt(2000 * q * (1 - q));
      assert.ok(
        Math.abs(kindMisses - 2000 * q) <= 4 * sdKind,
        `${op} (${convCheck}): ${kindMisses} misses in 2000 (expected ${(2000 * q).toFixed(1)})`,
      );
    }
    const sd = Math.sqrt(variance);
    t.diagnostic(
      `P = 251, k = 1: ${misses} misses in ${trials} (expected ${expected.toFixed(1)}); per kind ${JSON.stringify(Object.fromEntries(perKind))}`,
    );
    assert.equal(trials, 16000);
    assert.ok(Math.abs(misses - expected) <= 4 * sd, `${misses} misses in ${trials}`);
  });

  it("picks the cheaper convolution check by geometry ('auto'), and either when asked", () => {
    const conv = (h: number, k: number, stride: number) =>
      productGeometry('conv2d', [1, 8, h, h], [8, 8, k, k], { stride, padding: Math.floor(k / 2) });
    const convT = (h: number, k: number, stride: number) => {
      const oh = Math.floor((h + 2 * Math.floor(k / 2) - k) / stride) + 1;
      return productGeometry('conv2dGradInput', [1, 8, oh, oh], [8, 8, k, k], {
        stride,
        padding: Math.floor(k / 2),
        inputHW: [h, h],
      });
    };
    assert.equal(structuredConv(conv(224, 3, 1)), true, 'long rows');
    assert.equal(structuredConv(conv(28, 3, 1)), true);
    assert.equal(structuredConv(conv(14, 3, 1)), false, 'short rows: the folded check is cheaper');
    assert.equal(structuredConv(conv(56, 1, 1)), false, '1×1 kernels');
    assert.equal(structuredConv(convT(56, 3, 1)), true);
    assert.equal(structuredConv(convT(14, 3, 1)), false);
    assert.equal(structuredConv(convT(14, 3, 2)), true, 'strided grad-input: no fast folded path');
    assert.equal(structuredConv(conv(14, 3, 1), 'structured'), true);
    assert.equal(structuredConv(conv(224, 3, 1), 'folded'), false);
    assert.equal(structuredConv(productGeometry('dense', [2, 3], [4, 3]), 'structured'), false);
  });

  it('refuses values that are not integers within ±outputHalf, and results of the wrong form', () => {
    const g = productGeometry('dense', [2, 3], [4, 3]);
    const a = new Int32Array(6);
    const b = new Int32Array(12);
    const zero = new Float64Array(8);
    assert.ok(freivaldsWide(g, a, b, zero, WIDE, { rng: crng }).ok);
    const bad: [number, RegExp][] = [
      [0.5, /element 5 = 0.5 is not an integer/],
      [Number.NaN, /element 5 = NaN/],
      [Number.POSITIVE_INFINITY, /element 5 = Infinity/],
      [Number.NEGATIVE_INFINITY, /element 5 = -Infinity/],
      [WIDE.outputHalf + 1, /not an integer within/],
      [-(2 ** 47), /not an integer within/],
      [2 ** 60, /not an integer within/],
    ];
    for (const [v, re] of bad) {
      const y = zero.slice();
      y[5] = v;
      const out = freivaldsWide(g, a, b, y, WIDE, { rng: crng });
      assert.equal(out.ok, false, String(v));
      assert.match(out.reason, re);
    }
    assert.equal(wideResultProblem(g, { shape: [2, 4], data: zero }), '');
    assert.match(wideResultProblem(g, { shape: [4, 2], data: zero }), /shape/);
    assert.match(wideResultProblem(g, { shape: [2, 4], data: new Int32Array(8) }), /not a Float64Array/);
    assert.match(wideResultProblem(g, { shape: [2, 4], data: new Float64Array(9) }), /9 elements/);
  });

  it('draws fresh vectors for each check', () => {
    const drawn: Float64Array[] = [];
    const rec = new (class extends CryptoRng {
      override wideFieldElements(count: number, p: number): Float64Array {
        const v = super.wideFieldElements(count, p);
        drawn.push(v.slice());
        return v;
      }
    })();
    const rng = new SeededRng(15);
    const h = honest(randomCase('dense', rng, 8), rng);
    for (let i = 0; i < 3; i++) assert.ok(freivaldsWide(h.cs.g, h.a, h.b, h.y, WIDE, { rng: rec }).ok);
    assert.equal(drawn.length, 3);
    for (let i = 0; i < 3; i++)
      for (let j = i + 1; j < 3; j++) assert.notDeepEqual(drawn[i], drawn[j], `draws ${i} and ${j}`);
  });

  it('does the operand side before the result exists, judges one result per draw and wipes its vectors', () => {
    const drawn: Float64Array[] = [];
    const rec = new (class extends CryptoRng {
      override wideFieldElements(count: number, p: number): Float64Array {
        const v = super.wideFieldElements(count, p);
        drawn.push(v);
        return v;
      }
    })();
    const rng = new SeededRng(16);
    for (const op of LINEAR_OP_KINDS) {
      const h = honest(randomCase(op, rng, 4), rng);
      drawn.length = 0;
      const honestCheck = wideCheck(h.cs.g, h.a, h.b, WIDE, { rng: rec });
      assert.ok(drawn.length >= 1, `${op}: vectors drawn before any result`);
      assert.ok(drawn.some((v) => v.some((x) => x !== 0)));
      assert.ok(honestCheck.finish(h.y).ok, op);
      assert.ok(
        drawn.every((v) => v.every((x) => x === 0)),
        `${op}: vectors wiped after judging`,
      );
      assert.throws(() => honestCheck.finish(h.y), /one result/);
      const lie = h.y.slice();
      lie[rng.nextInt(lie.length)]! += 1;
      assert.equal(wideCheck(h.cs.g, h.a, h.b, WIDE, { rng: rec }).finish(lie).ok, false, `${op}: lie`);
      const dropped = wideCheck(h.cs.g, h.a, h.b, WIDE, { rng: rec });
      dropped.discard();
      assert.throws(() => dropped.finish(h.y), /one result/);
    }
  });

  it('keeps about 20 bits per operand of a 3×3×64 convolution where p = 2^24 − 3 keeps about 8', () => {
    const rng = new SeededRng(16);
    const x = randomFloats(2 * 64 * 10 * 10, rng, 1);
    const w = randomFloats(32 * 64 * 3 * 3, rng, 0.05);
    const g = productGeometry('conv2d', [2, 64, 10, 10], [32, 64, 3, 3], { stride: 1, padding: 1 });
    const narrow = quantizeProduct(g, x, w, { rng: crng });
    const wide = quantizeProduct(g, x, w, {
      rng: crng,
      config: quantConfig({}, WIDE_QUANT_CONFIG),
      outputHalf: WIDE.outputHalf,
    });
    // Bits of the largest element of each operand: log2(max|v|) + scale.
    const top = (v: Float32Array, s: number) => Math.log2(Math.max(...v.map(Math.abs))) + s;
    const narrowBits = top(x, narrow.aBits) + top(w, narrow.bBits);
    const wideBits = top(x, wide.aBits) + top(w, wide.bBits);
    assert.ok(narrowBits < 20, `p24: ${narrowBits.toFixed(1)} bits in all`);
    assert.ok(wideBits > 36, `wide: ${wideBits.toFixed(1)} bits in all`);
    assert.ok(wide.yBound <= WIDE.outputHalf && wide.yBound > narrow.yBound);
    // And the error bound shrinks accordingly (by more than 2^11: the final rounding to float32 stays).
    assert.ok(wide.errorBound * 2 ** 11 < narrow.errorBound, `${wide.errorBound} vs ${narrow.errorBound}`);
  });
});
