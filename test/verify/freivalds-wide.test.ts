// Wide-field Freivalds: honest exact integer products (up to the field's ±(p1·p2 − 1)/2) pass for every op;
// every lie is caught — including the one a single check mod p cannot see, adding p to an element — and
// results that are not integers within the bound are refused; the residue kernel agrees with BigInt; and
// wide quantization keeps about 20 bits per operand where p = 2^24 − 3 keeps about 8.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { DEFAULT_MODULUS, exactField, FIELDS, SECOND_MODULUS } from '../../src/verify/field.js';
import { freivaldsExact } from '../../src/verify/freivalds-exact.js';
import { freivaldsWide, wideResultProblem } from '../../src/verify/freivalds-wide.js';
import { modpKernels } from '../../src/verify/native-modp.js';
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
const P1 = DEFAULT_MODULUS;
const P2 = SECOND_MODULUS;

interface Honest {
  cs: ProductCase;
  a: Int32Array;
  b: Int32Array;
  y: Float64Array;
}

// Operands as large as the field allows for this inner length (K·B² ≤ outputHalf): the float64 reference
// is then exact (every partial sum ≤ 2^47).
function honest(cs: ProductCase, rng: SeededRng): Honest {
  const k = innerLength(cs.g);
  const bound = Math.min(WIDE.operandHalf, Math.floor(Math.sqrt(WIDE.outputHalf / Math.max(1, k))));
  const a = randomField(numelOf(cs.aShape), P1, rng, bound);
  const b = randomField(numelOf(cs.bShape), P1, rng, bound);
  const y = floatReference(
    cs.op,
    { shape: cs.aShape, data: a },
    { shape: cs.bShape, data: b },
    cs.params,
  ).data;
  return { cs, a, b, y };
}

function centeredBig(v: bigint, p: bigint): number {
  let r = v % p;
  if (r < 0n) r += p;
  return Number(r > (p - 1n) / 2n ? r - p : r);
}

describe('wide-field Freivalds check', () => {
  const crng = new CryptoRng();

  it('defines two coprime primes whose product covers twice the output bound', () => {
    assert.equal(exactField('wide'), WIDE);
    assert.deepEqual(WIDE.moduli, [P1, P2]);
    assert.ok(2 * WIDE.outputHalf < P1 * P2);
    assert.ok(WIDE.outputHalf > 2 ** 46.99);
    assert.ok(WIDE.operandHalf < P2);
    assert.throws(() => exactField('p48'), /wide, p24/);
  });

  it('accepts 10 200 honest products of all six ops with operands at the bound (no false alarm)', () => {
    const rng = new SeededRng(11);
    let largest = 0;
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 1700; t++) {
        const h = honest(randomCase(op, rng), rng);
        for (const v of h.y) largest = Math.max(largest, Math.abs(v));
        const out = freivaldsWide(h.cs.g, h.a, h.b, h.y, WIDE, { rng: crng });
        assert.ok(out.ok, `${op} #${t}: ${out.reason}`);
      }
    }
    // The honest results really use the room above 2^24 (else this would test nothing new).
    assert.ok(largest > 2 ** 40, `largest |y| ${largest}`);
  });

  it('catches a flipped element, a changed row, a scaled result, a replay, and ±p1, ±p2 added to one element', () => {
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
          const out = freivaldsWide(g, h.a, h.b, y, WIDE, { rng: crng });
          assert.equal(out.ok, false, `${op}: ${kind} was accepted`);
        }
      }
    }
  });

  it('needs its second prime: p1 added to an element passes a check mod p1 alone', () => {
    const rng = new SeededRng(13);
    const h = honest(randomCase('conv2d', rng), rng);
    const y = h.y.slice();
    y[0]! += y[0]! > 0 ? -P1 : P1;
    const { r1, bad } = modpKernels.wideResidues(y, WIDE.outputHalf, P1, P2);
    assert.equal(bad, -1);
    assert.ok(freivaldsExact(h.cs.g, h.a, h.b, r1, { rng: crng, p: P1 }).ok, 'mod p1 alone sees nothing');
    const out = freivaldsWide(h.cs.g, h.a, h.b, y, WIDE, { rng: crng });
    assert.equal(out.ok, false);
    assert.match(out.reason, new RegExp(`mod ${P2}`));
  });

  it('misses p1 added to an element at the rate 1/p2 of one repetition mod p2 (small primes, 12 000 lies)', (t) => {
    // A two-prime field of small primes, so that misses are countable: p1 = 251, p2 = 241. Adding p1 to
    // one element is invisible mod p1; mod p2 it is a one-element error, missed iff that element's
    // random coefficient is 0: probability exactly 1/241 with one repetition. Expected 49.8 misses,
    // standard deviation 7.0; the bounds are ±4σ.
    const small = {
      name: 'wide',
      moduli: [251, 241],
      operandHalf: 125,
      outputHalf: (251 * 241 - 1) / 2,
    } as const;
    const rng = new SeededRng(17);
    let misses = 0;
    let trials = 0;
    for (const op of LINEAR_OP_KINDS) {
      for (let i0 = 0; i0 < 2000; i0++) {
        const cs = randomCase(op, rng, 3);
        const k = Math.max(1, innerLength(cs.g));
        const bound = Math.min(small.operandHalf, Math.floor(Math.sqrt(small.outputHalf / k)));
        const a = randomField(numelOf(cs.aShape), 251, rng, bound);
        const b = randomField(numelOf(cs.bShape), 251, rng, bound);
        const y = floatReference(
          cs.op,
          { shape: cs.aShape, data: a },
          { shape: cs.bShape, data: b },
          cs.params,
        ).data;
        const i = rng.nextInt(y.length);
        y[i]! += y[i]! > 0 ? -251 : 251;
        if (freivaldsWide(cs.g, a, b, y, small, { rng: crng, repetitions: 1 }).ok) misses++;
        trials++;
      }
    }
    t.diagnostic(
      `p1 = 251, p2 = 241, k = 1: ${misses} misses in ${trials} (expected ${(trials / 241).toFixed(1)})`,
    );
    assert.equal(trials, 12000);
    assert.ok(misses >= 22 && misses <= 78, `${misses} misses in ${trials}`);
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
      [-(P1 * P2), /not an integer within/],
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

  it('computes the residues mod p1 and p2 exactly (BigInt reference, edge values included)', () => {
    const rng = new SeededRng(14);
    const h = WIDE.outputHalf;
    const values = [0, -0, 1, -1, P1, -P1, P2, -P2, P1 * 12345, h, -h, h - 1, -(h - 1), 2 ** 46, -(2 ** 46)];
    for (let i = 0; i < 5000; i++) values.push(Math.floor((2 * rng.nextFloat() - 1) * h));
    const y = Float64Array.from(values);
    const { r1, r2, bad } = modpKernels.wideResidues(y, h, P1, P2);
    assert.equal(bad, -1);
    for (let i = 0; i < y.length; i++) {
      const v = BigInt(y[i]!);
      assert.equal(r1[i], centeredBig(v, BigInt(P1)), `mod p1 of ${y[i]}`);
      assert.equal(r2[i], centeredBig(v, BigInt(P2)), `mod p2 of ${y[i]}`);
    }
  });

  it('draws fresh vectors for each prime and each check', () => {
    const drawn: Int32Array[] = [];
    const rec = new (class extends CryptoRng {
      override fieldElements(count: number, p: number): Int32Array {
        const v = super.fieldElements(count, p);
        drawn.push(v.slice());
        return v;
      }
    })();
    const rng = new SeededRng(15);
    const h = honest(randomCase('dense', rng, 8), rng);
    assert.ok(freivaldsWide(h.cs.g, h.a, h.b, h.y, WIDE, { rng: rec }).ok);
    assert.ok(freivaldsWide(h.cs.g, h.a, h.b, h.y, WIDE, { rng: rec }).ok);
    assert.equal(drawn.length, 4);
    for (let i = 0; i < 4; i++)
      for (let j = i + 1; j < 4; j++) assert.notDeepEqual(drawn[i], drawn[j], `draws ${i} and ${j}`);
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
