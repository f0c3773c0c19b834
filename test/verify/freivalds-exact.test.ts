// Exact-mode Freivalds: honest products pass (no false alarm over 10^4 products at the real p), every
// kind of lie is caught, the detection rate per repetition is 1 − 1/p (measured at small primes where
// misses are countable), every check draws fresh vectors, and malformed results are refused by form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LINEAR_OPS } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { centered, DEFAULT_MODULUS, halfModulus } from '../../src/verify/field.js';
import { freivaldsExact, modpResultProblem } from '../../src/verify/freivalds-exact.js';
import { LINEAR_OP_KINDS, productGeometry, resultShapeOf } from '../../src/verify/product-geometry.js';
import { numelOf, type ProductCase, randomCase, randomField } from './cases.js';
import { modpReference } from './modp-reference.js';

const P = DEFAULT_MODULUS;

interface Honest {
  cs: ProductCase;
  a: Int32Array;
  b: Int32Array;
  y: Int32Array;
}

function honest(cs: ProductCase, p: number, rng: SeededRng): Honest {
  const a = randomField(numelOf(cs.aShape), p, rng);
  const b = randomField(numelOf(cs.bShape), p, rng);
  const y = modpReference(
    cs.op,
    { shape: cs.aShape, data: a },
    { shape: cs.bShape, data: b },
    cs.params,
    p,
  ).data;
  return { cs, a, b, y };
}

/** Records every field vector it hands out (still the crypto source). */
class RecordingRng extends CryptoRng {
  readonly drawn: Int32Array[] = [];
  override fieldElements(count: number, p: number): Int32Array {
    const v = super.fieldElements(count, p);
    this.drawn.push(v.slice());
    return v;
  }
}

describe('exact Freivalds check', () => {
  const crng = new CryptoRng();

  it('uses the same six op names as the protocol', () => {
    assert.deepEqual([...LINEAR_OP_KINDS], [...LINEAR_OPS]);
  });

  it('accepts 10 200 honest products of all six ops at p = 2^24 − 3 with full-range operands (no false alarm)', () => {
    const rng = new SeededRng(1);
    let checked = 0;
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 1700; t++) {
        const h = honest(randomCase(op, rng), P, rng);
        const out = freivaldsExact(h.cs.g, h.a, h.b, h.y, { rng: crng });
        assert.ok(out.ok, `${op} #${t}: ${out.reason}`);
        checked++;
      }
    }
    assert.equal(checked, 10200);
  });

  it('rejects a flipped element, a changed row, a scaled result and a replayed result, for every op', () => {
    const rng = new SeededRng(2);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 20; t++) {
        const h = honest(randomCase(op, rng), P, rng);
        const g = h.cs.g;
        const lies: [string, Int32Array][] = [];
        const flip = h.y.slice();
        const i = rng.nextInt(flip.length);
        flip[i] = centered(flip[i]! + 1 + rng.nextInt(P - 1), P);
        lies.push(['flip', flip]);
        const row = h.y.slice();
        const last = resultShapeOf(g).at(-1)!;
        const r0 = rng.nextInt(row.length / last) * last;
        for (let j = r0; j < r0 + last; j++) row[j] = centered(row[j]! + 12345, P);
        lies.push(['row', row]);
        if (h.y.some((v) => v !== 0)) lies.push(['scale', Int32Array.from(h.y, (v) => centered(2 * v, P))]);
        const other = honest(h.cs, P, rng); // same shapes, other operands
        lies.push(['replay', other.y]);
        for (const [kind, y] of lies) {
          const out = freivaldsExact(g, h.a, h.b, y, { rng: crng });
          assert.equal(out.ok, false, `${op}: ${kind} was accepted`);
          assert.match(out.reason, /Freivalds check failed/);
        }
      }
    }
  });

  it('refuses results of the wrong shape, length, type or range before any arithmetic', () => {
    const g = productGeometry('dense', [2, 3], [4, 3]);
    const h = (P - 1) / 2;
    assert.equal(modpResultProblem(g, { shape: [2, 4], data: new Int32Array(8) }), '');
    assert.match(
      modpResultProblem(g, { shape: [4, 2], data: new Int32Array(8) }),
      /shape \[4,2\], expected \[2,4\]/,
    );
    assert.match(modpResultProblem(g, { shape: [2, 4], data: new Int32Array(9) }), /9 elements/);
    assert.match(modpResultProblem(g, { shape: [2, 4], data: new Float32Array(8) }), /not an Int32Array/);
    assert.match(
      modpResultProblem(g, { shape: [2, 4], data: new Int32Array(8).fill(h + 1, 3, 4) }),
      /element 3 = 8388607 is outside/,
    );
    assert.match(
      modpResultProblem(g, { shape: [2, 4], data: new Int32Array(8).fill(-h - 1, 7) }),
      /element 7/,
    );
    assert.match(
      modpResultProblem(g, { shape: '2,4' as unknown as number[], data: new Int32Array(8) }),
      /shape/,
    );
  });

  it('detects 12 000 tampered products at p = 65521 with one repetition, missing about 1/p of them', (t) => {
    // One wrong element e at column o: the check misses iff r_o = 0, probability exactly 1/p. Expected
    // misses 12000/65521 ≈ 0.18; P(≥ 5 misses) < 10^-6.
    const p = 65521;
    const rng = new SeededRng(3);
    let misses = 0;
    let trials = 0;
    for (const op of LINEAR_OP_KINDS) {
      for (let i0 = 0; i0 < 2000; i0++) {
        const h = honest(randomCase(op, rng, 3), p, rng);
        const y = h.y.slice();
        const i = rng.nextInt(y.length);
        y[i] = centered(y[i]! + 1 + rng.nextInt(p - 1), p);
        if (freivaldsExact(h.cs.g, h.a, h.b, y, { rng: crng, p, repetitions: 1 }).ok) misses++;
        trials++;
      }
    }
    assert.equal(trials, 12000);
    t.diagnostic(`p = 65521, k = 1: ${misses} misses in ${trials} (expected ${(trials / p).toFixed(2)})`);
    assert.ok(misses <= 4, `${misses} misses in ${trials}`);
  });

  it('misses a one-element lie with probability exactly 1/p per repetition at p = 101 (within 4σ over 24 000 trials)', (t) => {
    // Y off in one element e at fold index o: the check sees e·r_o, zero iff r_o = 0 — probability 1/p.
    const p = 101;
    const rng = new SeededRng(4);
    const trials = 24000;
    let misses1 = 0;
    let misses2 = 0;
    for (let i0 = 0; i0 < trials; i0++) {
      const h = honest(randomCase(LINEAR_OP_KINDS[i0 % 6]!, rng, 3), p, rng);
      const y = h.y.slice();
      const i = rng.nextInt(y.length);
      y[i] = centered(y[i]! + 1 + rng.nextInt(p - 1), p);
      if (freivaldsExact(h.cs.g, h.a, h.b, y, { rng: crng, p, repetitions: 1 }).ok) misses1++;
      if (freivaldsExact(h.cs.g, h.a, h.b, y, { rng: crng, p, repetitions: 2 }).ok) misses2++;
    }
    const mean = trials / p;
    const sigma = Math.sqrt(trials * (1 / p) * (1 - 1 / p));
    t.diagnostic(
      `p = 101, one wrong element: k = 1 ${misses1} misses, k = 2 ${misses2} in ${trials} ` +
        `(expected ${mean.toFixed(1)} ± ${sigma.toFixed(1)} and ${(trials / p ** 2).toFixed(1)})`,
    );
    assert.ok(
      Math.abs(misses1 - mean) <= 4 * sigma,
      `k=1: ${misses1} misses, expected ${mean.toFixed(0)} ± ${sigma.toFixed(0)}`,
    );
    assert.ok(misses2 <= 12, `k=2: ${misses2} misses, expected ≈ ${(trials / p ** 2).toFixed(1)}`);
  });

  it('misses a lie spread over many elements with probability at most 1/p per repetition at p = 101', (t) => {
    // A wrong Y with error matrix E passes iff E·r = 0: probability p^-rank(E) ≤ 1/p.
    const p = 101;
    const rng = new SeededRng(6);
    const trials = 24000;
    let misses = 0;
    let lies = 0;
    for (let i0 = 0; i0 < trials; i0++) {
      const h = honest(randomCase(LINEAR_OP_KINDS[i0 % 6]!, rng, 3), p, rng);
      const y = h.y.slice();
      const spread = 2 + rng.nextInt(y.length);
      for (let s = 0; s < spread; s++) {
        const i = rng.nextInt(y.length);
        y[i] = centered(y[i]! + 1 + rng.nextInt(p - 1), p);
      }
      if (y.every((v, i) => v === h.y[i])) continue;
      lies++;
      if (freivaldsExact(h.cs.g, h.a, h.b, y, { rng: crng, p, repetitions: 1 }).ok) misses++;
    }
    const bound = lies / p + 4 * Math.sqrt((lies / p) * (1 - 1 / p));
    t.diagnostic(
      `p = 101, spread lies: ${misses} misses in ${lies} (at most ${(lies / p).toFixed(1)} expected)`,
    );
    assert.ok(misses <= bound, `${misses} misses in ${lies}`);
  });

  it('draws fresh random vectors for each check: two checks of the same product use different vectors', () => {
    const rng = new SeededRng(5);
    const rec = new RecordingRng();
    const h = honest(randomCase('conv2d', rng), P, rng);
    assert.ok(freivaldsExact(h.cs.g, h.a, h.b, h.y, { rng: rec }).ok);
    assert.ok(freivaldsExact(h.cs.g, h.a, h.b, h.y, { rng: rec }).ok);
    assert.equal(rec.drawn.length, 2);
    assert.equal(rec.drawn[0]!.length, 2 * h.cs.g.o, 'two repetitions of length O');
    assert.notDeepEqual(rec.drawn[0], rec.drawn[1]);
  });

  it('refuses a seeded RNG and bad repetition counts', () => {
    const g = productGeometry('dense', [1, 1], [1, 1]);
    const one = new Int32Array([1]);
    assert.throws(
      () => freivaldsExact(g, one, one, one, { rng: new SeededRng(1) as unknown as CryptoRng }),
      /must be a CryptoRng/,
    );
    assert.throws(() => freivaldsExact(g, one, one, one, { rng: crng, repetitions: 0 }), RangeError);
    assert.throws(() => freivaldsExact(g, one, one, one, { rng: crng, p: 100 }), /odd prime/);
  });

  it('accepts only zeros for a product with an empty inner dimension', () => {
    const g = productGeometry('dense', [2, 0], [3, 0]);
    assert.ok(freivaldsExact(g, new Int32Array(0), new Int32Array(0), new Int32Array(6), { rng: crng }).ok);
    const bad = freivaldsExact(g, new Int32Array(0), new Int32Array(0), new Int32Array(6).fill(1, 2, 3), {
      rng: crng,
    });
    assert.equal(bad.ok, false);
  });

  it('checks the largest products exactly: every operand at ±(p−1)/2', () => {
    const h2 = halfModulus(P);
    const g = productGeometry('conv2d', [1, 64, 8, 8], [8, 64, 3, 3], { stride: 1, padding: 1 });
    const a = new Int32Array(64 * 64).fill(h2);
    const b = new Int32Array(8 * 64 * 9).fill(-h2);
    const y = modpReference(
      'conv2d',
      { shape: [1, 64, 8, 8], data: a },
      { shape: [8, 64, 3, 3], data: b },
      { stride: 1, padding: 1 },
      P,
    );
    assert.ok(freivaldsExact(g, a, b, y.data, { rng: crng }).ok);
    y.data[17] = centered(y.data[17]! - 1, P);
    assert.equal(freivaldsExact(g, a, b, y.data, { rng: crng }).ok, false);
  });
});
