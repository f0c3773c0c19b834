// The crypto RNG: a type of its own (never a SeededRng), fresh bytes on every call, uniform field
// elements without modulo bias, floats in their ranges.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CryptoRng as EnclaveCryptoRng } from '../../src/enclave/crypto-rng.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { CryptoRng, isCryptoRng } from '../../src/verify/crypto-rng.js';

function takesCrypto(rng: CryptoRng): string {
  return rng.kind;
}

describe('CryptoRng', () => {
  it('is a different type from SeededRng: the type checker and isCryptoRng both refuse a seeded one', () => {
    const seeded = new SeededRng(1);
    // @ts-expect-error a SeededRng is not a CryptoRng (tsc fails the build if this line type-checks)
    assert.equal(takesCrypto(seeded), 'seeded');
    assert.equal(isCryptoRng(seeded), false);
    assert.equal(isCryptoRng({ kind: 'crypto', fieldElements: () => new Int32Array(0) }), false);
    assert.equal(isCryptoRng(new CryptoRng()), true);
    assert.equal(EnclaveCryptoRng, CryptoRng, 'enclave/ re-exports the same class');
  });

  it('draws fresh values on every call (two draws of 64 field elements differ)', () => {
    const rng = new CryptoRng();
    const a = rng.fieldElements(64, 16777213);
    const b = rng.fieldElements(64, 16777213);
    assert.notDeepEqual(a, b);
  });

  it('gives field elements in [0, p) for several moduli, including p = 2 and p just above a power of two', () => {
    const rng = new CryptoRng();
    for (const p of [2, 3, 101, 65521, 65537, 16777213, 2 ** 24]) {
      const v = rng.fieldElements(2000, p);
      assert.equal(v.length, 2000);
      for (const x of v) assert.ok(x >= 0 && x < p, `${x} outside [0, ${p})`);
    }
  });

  it('has no modulo bias: p = 3·2^21 (rejection rate 1/4) gives a uniform histogram over four quarters', () => {
    // With `v % p` on 23-bit draws the first third of the range would be twice as likely as the rest.
    const rng = new CryptoRng();
    const p = 3 * 2 ** 21;
    const n = 60000;
    const bins = [0, 0, 0];
    for (const x of rng.fieldElements(n, p)) bins[Math.floor((3 * x) / p)]!++;
    const expected = n / 3;
    const chi2 = bins.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    assert.ok(chi2 < 20, `chi-square ${chi2.toFixed(1)} for bins ${bins}`);
  });

  it('gives wide field elements in [0, p) for p < 2^53, integers, no modulo bias, fresh each call', () => {
    const rng = new CryptoRng();
    for (const p of [2, 251, 2 ** 31 + 11, 2 ** 32 + 15, 2 ** 50 - 27, 2 ** 53 - 1]) {
      const v = rng.wideFieldElements(3000, p);
      assert.equal(v.length, 3000);
      for (const x of v) assert.ok(Number.isInteger(x) && x >= 0 && x < p, `${x} outside [0, ${p})`);
    }
    // p = 3·2^48: candidates have 50 bits, a quarter rejected; `v % p` would make the first third twice as likely.
    const p = 3 * 2 ** 48;
    const bins = [0, 0, 0];
    for (const x of rng.wideFieldElements(60000, p)) bins[Math.floor((3 * x) / p)]!++;
    const chi2 = bins.reduce((s, c) => s + (c - 20000) ** 2 / 20000, 0);
    assert.ok(chi2 < 20, `chi-square ${chi2.toFixed(1)} for bins ${bins}`);
    // The high bits are really random: the top half of P's range is reached.
    const big = rng.wideFieldElements(1000, 2 ** 50 - 27);
    assert.ok(big.some((x) => x >= 2 ** 49));
    assert.notDeepEqual(rng.wideFieldElements(16, 2 ** 50 - 27), rng.wideFieldElements(16, 2 ** 50 - 27));
    assert.throws(() => rng.wideFieldElements(4, 1), RangeError);
    assert.throws(() => rng.wideFieldElements(4, 2 ** 53 + 2), RangeError);
    assert.throws(() => rng.wideFieldElements(4, 1.5), RangeError);
  });

  it('gives uniform floats in [0,1), [−1,1) and signs ±1 with about equal counts', () => {
    const rng = new CryptoRng();
    const u = rng.unit(10000);
    const s = rng.uniformSigned(10000);
    const g = rng.signs(10000);
    assert.ok(u.every((x) => x >= 0 && x < 1));
    assert.ok(s.every((x) => x >= -1 && x < 1));
    assert.ok(g.every((x) => x === 1 || x === -1));
    const mean = (a: Float64Array): number => a.reduce((x, y) => x + y, 0) / a.length;
    assert.ok(Math.abs(mean(u) - 0.5) < 0.02);
    assert.ok(Math.abs(mean(s)) < 0.04);
    assert.ok(Math.abs(mean(g)) < 0.05);
  });

  it('refuses bad counts and moduli with RangeError', () => {
    const rng = new CryptoRng();
    assert.throws(() => rng.fieldElements(-1, 101), RangeError);
    assert.throws(() => rng.fieldElements(4, 1), RangeError);
    assert.throws(() => rng.fieldElements(4, 2 ** 31 + 1), RangeError);
    assert.throws(() => rng.unit(1.5), RangeError);
  });
});
