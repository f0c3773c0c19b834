// One-time pads for blinded inference: X+R hides X, unblinding recovers X·W exactly, a pad is never
// handed out twice (in memory or across serialization), a tampered or truncated pad file is refused
// before anything in it is used, and a corrupted unblinding factor is caught by its Freivalds check.
import assert from 'node:assert/strict';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { describe, it } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { blind, type MacHook, PadSet, type PadSpec, unblind } from '../../src/verify/blinding.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { DEFAULT_MODULUS } from '../../src/verify/field.js';
import { randomField } from './cases.js';
import { modpReference } from './modp-reference.js';

const P = DEFAULT_MODULUS;

function hmac(key: Buffer): MacHook {
  return {
    tagLength: 32,
    tag: (data) => createHmac('sha256', key).update(data).digest(),
    verify: (data, tag) => {
      const want = createHmac('sha256', key).update(data).digest();
      return tag.length === want.length && timingSafeEqual(want, tag);
    },
  };
}

const DENSE: PadSpec = {
  label: 'fc',
  op: 'dense',
  inputShape: [2, 16],
  weightShape: [8, 16],
  stride: 1,
  padding: 0,
  weightBits: 8,
  p: P,
};
const CONV: PadSpec = {
  label: 'conv1',
  op: 'conv2d',
  inputShape: [1, 3, 6, 6],
  weightShape: [4, 3, 3, 3],
  stride: 2,
  padding: 1,
  weightBits: 8,
  p: P,
};

function code(e: unknown, c: string): boolean {
  return isTeeError(e) && e.code === c;
}

describe('blinding pads', () => {
  const crng = new CryptoRng();
  const rng = new SeededRng(41);

  for (const spec of [DENSE, CONV]) {
    it(`recovers the exact ${spec.op} product from the blinded one: (X+R)·W − U = X·W`, () => {
      const wq = randomField(
        spec.weightShape.reduce((x, y) => x * y),
        P,
        rng,
        200,
      );
      const set = PadSet.generate(spec, wq, 3, crng);
      const params = { stride: spec.stride, padding: spec.padding };
      for (let t = 0; t < 3; t++) {
        const xq = randomField(
          spec.inputShape.reduce((x, y) => x * y),
          P,
          rng,
          100,
        );
        const pad = set.take();
        const xb = blind(xq, pad.r, P);
        assert.notDeepEqual(xb, xq);
        const yb = modpReference(
          spec.op,
          { shape: spec.inputShape, data: xb },
          { shape: spec.weightShape, data: wq },
          params,
          P,
        );
        const y = modpReference(
          spec.op,
          { shape: spec.inputShape, data: xq },
          { shape: spec.weightShape, data: wq },
          params,
          P,
        );
        assert.deepEqual(unblind(yb.data, pad.u, P), y.data);
      }
    });
  }

  it('makes the blinded input uniform: one X under 4 000 pads spreads evenly over the field', () => {
    const spec = { ...DENSE, inputShape: [1, 16] };
    const wq = randomField(8 * 16, P, rng, 200);
    const set = PadSet.generate(spec, wq, 4000, crng);
    const xq = new Int32Array(16).fill(7);
    const bins = [0, 0, 0, 0];
    for (let t = 0; t < 4000; t++) {
      const v = blind(xq, set.take().r, P)[0]!;
      bins[Math.min(3, Math.floor(((v + (P - 1) / 2) / P) * 4))]!++;
    }
    const chi2 = bins.reduce((s, c) => s + (c - 1000) ** 2 / 1000, 0);
    assert.ok(chi2 < 20, `chi-square ${chi2.toFixed(1)}, bins ${bins}`);
  });

  it('never hands out a pad twice: ids go up, a used id is refused, an exhausted set is refused (E_STATE)', () => {
    const set = PadSet.generate(DENSE, randomField(128, P, rng, 100), 3, crng);
    assert.equal(set.take().id, 0);
    assert.equal(set.take().id, 1);
    assert.throws(
      () => set.takeId(0),
      (e) => code(e, 'E_STATE') && /already used; a one-time pad is never reused/.test(String(e)),
    );
    assert.throws(() => set.takeId(1), /already used/);
    assert.equal(set.remaining, 1);
    assert.equal(set.take().id, 2);
    assert.throws(
      () => set.take(),
      (e) => code(e, 'E_STATE') && /no pad 3/.test(String(e)),
    );
    assert.equal(set.remaining, 0);
  });

  it('keeps used pads used across serialize and deserialize, and round-trips the unused ones', () => {
    const mac = hmac(randomBytes(32));
    const wq = randomField(4 * 27, P, rng, 100);
    const set = PadSet.generate(CONV, wq, 4, crng);
    set.take();
    const bytes = set.serialize(mac);
    const back = PadSet.deserialize(bytes, mac);
    assert.equal(back.nextId, 1);
    assert.equal(back.remaining, 3);
    assert.throws(() => back.takeId(0), /already used/);
    assert.ok(back.matches(wq, 8));
    assert.equal(back.matches(wq, 9), false);
    const changed = wq.slice();
    changed[0]! += 1;
    assert.equal(back.matches(changed, 8), false, 'other weights');
    const p1 = set.take();
    const q1 = back.take();
    assert.equal(q1.id, 1);
    assert.deepEqual(q1.r, p1.r);
    assert.deepEqual(q1.u, p1.u);
    assert.ok(back.verifyFactors(wq, crng).ok);
  });

  it('refuses a pad file with any byte changed, truncated, extended or under another key (E_AUTH), before parsing', () => {
    const mac = hmac(randomBytes(32));
    const bytes = PadSet.generate(DENSE, randomField(128, P, rng, 100), 2, crng).serialize(mac);
    for (const at of [0, 5, 12, 40, bytes.length >> 1, bytes.length - 40, bytes.length - 1]) {
      const bad = bytes.slice();
      bad[at]! ^= 0x01;
      assert.throws(
        () => PadSet.deserialize(bad, mac),
        (e) => code(e, 'E_AUTH'),
        `byte ${at}`,
      );
    }
    assert.throws(
      () => PadSet.deserialize(bytes.subarray(0, bytes.length - 1), mac),
      (e) => code(e, 'E_AUTH'),
    );
    assert.throws(
      () => PadSet.deserialize(bytes.subarray(0, 20), mac),
      (e) => code(e, 'E_FORMAT') || code(e, 'E_AUTH'),
    );
    const longer = new Uint8Array(bytes.length + 4);
    longer.set(bytes);
    assert.throws(
      () => PadSet.deserialize(longer, mac),
      (e) => code(e, 'E_AUTH'),
    );
    assert.throws(
      () => PadSet.deserialize(bytes, hmac(randomBytes(32))),
      (e) => code(e, 'E_AUTH'),
    );
  });

  it('refuses a correctly tagged file whose content is malformed (E_FORMAT)', () => {
    const mac = hmac(randomBytes(32));
    const bytes = PadSet.generate(DENSE, randomField(128, P, rng, 100), 1, crng).serialize(mac);
    const body = bytes.subarray(0, bytes.length - 32);
    const retag = (b: Uint8Array): Uint8Array => {
      const out = new Uint8Array(b.length + 32);
      out.set(b);
      out.set(mac.tag(b), b.length);
      return out;
    };
    const badMagic = body.slice();
    badMagic[0] = 0x58;
    assert.throws(() => PadSet.deserialize(retag(badMagic), mac), /bad magic/);
    assert.throws(() => PadSet.deserialize(retag(body.subarray(0, body.length - 4)), mac), /body length/);
    // A value outside the field inside an otherwise valid file.
    const outside = body.slice();
    new DataView(outside.buffer).setInt32(outside.length - 4, P, true);
    assert.throws(() => PadSet.deserialize(retag(outside), mac), /outside the field/);
  });

  it('catches a corrupted unblinding factor with its Freivalds check (even under a valid tag)', () => {
    const mac = hmac(randomBytes(32));
    const wq = randomField(128, P, rng, 100);
    const body = PadSet.generate(DENSE, wq, 2, crng).serialize(mac).subarray(0, -32).slice();
    // The last int32 belongs to the last pad's U.
    const view = new DataView(body.buffer);
    view.setInt32(body.length - 4, view.getInt32(body.length - 4, true) + 1, true);
    const tagged = new Uint8Array(body.length + 32);
    tagged.set(body);
    tagged.set(mac.tag(body), body.length);
    const set = PadSet.deserialize(tagged, mac);
    const out = set.verifyFactors(wq, crng);
    assert.equal(out.ok, false);
    assert.match(out.reason, /pad 1/);
  });

  it('refuses a seeded RNG for making pads', () => {
    assert.throws(
      () => PadSet.generate(DENSE, new Int32Array(128), 1, new SeededRng(1) as unknown as CryptoRng),
      TypeError,
    );
  });
});
