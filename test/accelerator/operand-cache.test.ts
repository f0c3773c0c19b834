// The operand cache (protocol 2, a's side protocol 4): the shared LRU policy; the codec's flags and keys;
// end to end, a grad-input product reuses its forward's weights instead of receiving them again (float and
// exact), a layer's grad-weight product reuses the dy of its grad-input product (exact: the same integers,
// quantized once), the results still match the local engine, and weights changed behind the cache are
// caught by the check and sent again on the retry — a stale cached operand never becomes a result.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import {
  type IntegrityMode,
  type ProductTrace,
  RemoteLinearOps,
} from '../../src/enclave/remote-linear-ops.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { decodeRequest, encodeRequest } from '../../src/protocol/linear-codec.js';
import type { AcceleratorTransport, LinearReply, LinearRequest } from '../../src/protocol/linear-request.js';
import { MAX_CACHE_ENTRIES, OperandCache } from '../../src/protocol/operand-cache.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../fixtures-util.js';
import { startServer } from './harness.js';

function rand(rng: SeededRng, shape: number[], scale = 1): Tensor {
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = (2 * rng.nextFloat() - 1) * scale;
  return t;
}

function payloadOf(parts: Buffer[]): Buffer {
  const all = Buffer.concat(parts);
  return Buffer.from(all.subarray(16)); // a fresh, 4-byte aligned copy without the frame header
}

describe('OperandCache policy', () => {
  it('evicts the least recently stored-or-used entries to stay within its capacity, and never stores what cannot fit', () => {
    const c = new OperandCache<string>(100);
    assert.ok(c.store(1, [10], 40, 'a'));
    assert.ok(c.store(2, [10], 40, 'b'));
    assert.equal(c.use(1, [10])?.value, 'a'); // 1 is now the most recent
    assert.equal(c.use(1, [11]), undefined, 'another shape is a miss');
    assert.ok(c.store(3, [10], 40, 'c')); // evicts 2
    assert.equal(c.use(2, [10]), undefined);
    assert.equal(c.use(1, [10])?.value, 'a');
    assert.equal(c.bytes, 80);
    assert.equal(c.store(4, [30], 101, 'd'), false);
    assert.equal(c.size, 2);
    assert.ok(c.store(1, [5], 20, 'a2'), 'a store replaces');
    assert.equal(c.bytes, 60);
    c.clear();
    assert.equal(c.size, 0);
    const many = new OperandCache<number>(2 ** 30);
    for (let k = 1; k <= MAX_CACHE_ENTRIES + 5; k++) many.store(k, [1], 4, k);
    assert.equal(many.size, MAX_CACHE_ENTRIES);
    assert.throws(() => new OperandCache(-1), RangeError);
  });
});

describe('request codec with the operand cache', () => {
  const rng = new SeededRng(3);
  const base: LinearRequest = {
    op: 'conv2d',
    arith: 'f32',
    a: { shape: [1, 2, 5, 5], data: rand(rng, [1, 2, 5, 5]).data },
    b: { shape: [3, 2, 3, 3], data: rand(rng, [3, 2, 3, 3]).data },
    stride: 1,
    padding: 1,
  };

  it('carries store (with b) and use (b shape only) with their key', () => {
    const store = decodeRequest(payloadOf(encodeRequest(1, { ...base, bCache: { key: 7, mode: 'store' } })));
    assert.deepEqual(store.bCache, { key: 7, mode: 'store' });
    assert.deepEqual(store.b.data, base.b.data);
    const usePayload = payloadOf(encodeRequest(2, { ...base, bCache: { key: 7, mode: 'use' } }));
    const plain = payloadOf(encodeRequest(3, base));
    assert.equal(plain.length - usePayload.length, base.b.data.byteLength);
    const use = decodeRequest(usePayload);
    assert.deepEqual(use.bCache, { key: 7, mode: 'use' });
    assert.deepEqual(use.b.shape, [3, 2, 3, 3]);
    assert.equal(use.b.data.length, 0);
    assert.equal(decodeRequest(plain).bCache, undefined);
  });

  it('refuses unknown flags, a key without a flag, a flag without a key and data bytes under "use" (E_FRAME)', () => {
    const p = payloadOf(encodeRequest(1, { ...base, bCache: { key: 7, mode: 'store' } }));
    const bad = (f: (b: Buffer) => void, re: RegExp) => {
      const b = Buffer.from(p);
      f(b);
      assert.throws(
        () => decodeRequest(b),
        (e: unknown) => (e as { code?: string }).code === 'E_FRAME' && re.test(String(e)),
      );
    };
    bad((b) => b.writeUInt16LE(16, 2), /unknown request flags/);
    bad((b) => b.writeUInt16LE(0, 2), /cache key 7 of b with request flags 0/);
    bad((b) => b.writeUInt32LE(0, 24), /cache key 0/);
    bad((b) => b.writeUInt16LE(2, 2), /cached operand carries/);
    // The same for a (protocol 4): its flags, its own key after b's, no data bytes under USE_A.
    bad((b) => b.writeUInt16LE(1 | 4, 2), /cache key 0 of a with request flags 5/);
    bad((b) => {
      b.writeUInt16LE(1 | 8, 2);
      b.writeUInt32LE(9, 28);
    }, /cached operand carries/);
    assert.throws(() => encodeRequest(1, { ...base, bCache: { key: 0, mode: 'use' } }), /cache key/);
    assert.throws(
      () => encodeRequest(1, { ...base, aCache: { key: 2 ** 32, mode: 'store' } }),
      /cache key of a/,
    );
  });

  it('carries store and use of a (protocol 4) with a key of its own, next to those of b', () => {
    const both = decodeRequest(
      payloadOf(
        encodeRequest(1, { ...base, aCache: { key: 5, mode: 'store' }, bCache: { key: 7, mode: 'use' } }),
      ),
    );
    assert.deepEqual(both.aCache, { key: 5, mode: 'store' });
    assert.deepEqual(both.bCache, { key: 7, mode: 'use' });
    assert.deepEqual(both.a.data, base.a.data);
    assert.equal(both.b.data.length, 0);
    const useA = payloadOf(encodeRequest(2, { ...base, aCache: { key: 5, mode: 'use' } }));
    const plain = payloadOf(encodeRequest(3, base));
    assert.equal(plain.length - useA.length, base.a.data.byteLength);
    const got = decodeRequest(useA);
    assert.deepEqual(got.aCache, { key: 5, mode: 'use' });
    assert.deepEqual(got.a.shape, [1, 2, 5, 5]);
    assert.equal(got.a.data.length, 0);
    assert.deepEqual(got.b.data, base.b.data);
    assert.equal(got.bCache, undefined);
    const neither = payloadOf(
      encodeRequest(4, { ...base, aCache: { key: 5, mode: 'use' }, bCache: { key: 7, mode: 'use' } }),
    );
    assert.equal(plain.length - neither.length, base.a.data.byteLength + base.b.data.byteLength);
  });
});

describe('operand cache end to end', { timeout: 60_000 }, () => {
  const p = { stride: 1, padding: 1 };
  for (const integrity of ['float', 'exact'] as IntegrityMode[]) {
    it(`${integrity}: conv2dGradInput reuses the weights of its conv2d (fewer bytes sent, same results)`, async () => {
      const s = await startServer();
      const client = await AcceleratorClient.connect(s.address);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(client, { integrity, onProduct: (t) => traces.push(t) });
      const local = new LocalLinearOps(kernels);
      try {
        const rng = new SeededRng(11);
        const x = rand(rng, [2, 8, 12, 12]);
        const w = rand(rng, [16, 8, 3, 3], 0.2);
        const dy = rand(rng, [2, 16, 12, 12], 0.01);
        await remote.conv2d(x, w, p);
        const before = remote.stats().total.bytesSent;
        const got = await remote.conv2dGradInput(dy, w, p, [12, 12]);
        const sent = remote.stats().total.bytesSent - before;
        const t = remote.stats().total;
        assert.equal(t.bytesCached, w.size * 4, 'the weights stayed on the accelerator');
        assert.ok(sent < dy.size * 4 + 200, `sent ${sent} bytes: dy and headers only`);
        assert.equal(t.retries, 0);
        const want = await local.conv2dGradInput(dy, w, p, [12, 12]);
        const tol = (traces.at(-1)!.errorBound ?? 0) + 1e-6;
        for (let i = 0; i < want.size; i++)
          assert.ok(Math.abs(got.data[i]! - want.data[i]!) <= tol, `[${i}]`);
      } finally {
        await client.close();
        await s.server.close();
      }
    });

    it(`${integrity}: weights changed behind the cache are refused by the check, then sent in full on the retry`, async () => {
      const s = await startServer();
      const client = await AcceleratorClient.connect(s.address);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(client, { integrity, onProduct: (t) => traces.push(t) });
      const local = new LocalLinearOps(kernels);
      try {
        const rng = new SeededRng(12);
        const x = rand(rng, [1, 4, 9, 9]);
        const w = rand(rng, [6, 4, 3, 3], 0.2);
        const dy = rand(rng, [1, 6, 9, 9], 0.01);
        await remote.conv2d(x, w, p);
        // An optimizer step out of order: the accelerator's cached copy is now stale.
        for (let i = 0; i < w.size; i++) w.data[i] = -w.data[i]! + 0.01;
        const got = await remote.conv2dGradInput(dy, w, p, [9, 9]);
        const t = remote.stats().total;
        assert.equal(t.retries, 1, 'one refused attempt, one retry');
        const want = await local.conv2dGradInput(dy, w, p, [9, 9]);
        const tol = (traces.at(-1)!.errorBound ?? 0) + 1e-6;
        for (let i = 0; i < want.size; i++)
          assert.ok(Math.abs(got.data[i]! - want.data[i]!) <= tol, `[${i}]`);
      } finally {
        await client.close();
        await s.server.close();
      }
    });
  }

  it('sends everything when the accelerator has no cache or caching is off', async () => {
    for (const [cacheBytes, cacheWeights] of [
      [0, true],
      [2 ** 20, false],
    ] as const) {
      const s = await startServer({ cacheBytes });
      const client = await AcceleratorClient.connect(s.address);
      const remote = new RemoteLinearOps(client, { integrity: 'float', cacheWeights });
      try {
        const rng = new SeededRng(13);
        const w = rand(rng, [4, 3, 3, 3]);
        await remote.conv2d(rand(rng, [1, 3, 6, 6]), w, p);
        await remote.conv2dGradInput(rand(rng, [1, 4, 6, 6]), w, p, [6, 6]);
        assert.equal(remote.stats().total.bytesCached, 0);
      } finally {
        await client.close();
        await s.server.close();
      }
    }
  });
});

// Records every request as sent (the very arrays, not copies) on its way to a live accelerator.
class RecordingTransport implements AcceleratorTransport {
  readonly requests: LinearRequest[] = [];
  constructor(readonly inner: AcceleratorClient) {}
  call(req: LinearRequest, opts?: { deadlineMs?: number }): Promise<LinearReply> {
    this.requests.push(req);
    return this.inner.call(req, opts);
  }
  reconnect(): Promise<void> {
    return this.inner.reconnect();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function within(got: Tensor, want: Tensor, bound: number, what: string): void {
  assertClose(got.data, want.data, bound + 1e-6, what);
}

describe("a layer's backward pair shares its dy (protocol 4)", { timeout: 60_000 }, () => {
  const p = { stride: 1, padding: 1 };
  for (const integrity of ['float', 'exact'] as IntegrityMode[]) {
    it(`${integrity}: the grad-weight product takes dy from the cache (dy sent once, the same results)`, async () => {
      const s = await startServer();
      const client = await AcceleratorClient.connect(s.address);
      const spy = new RecordingTransport(client);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(spy, { integrity, onProduct: (t) => traces.push(t) });
      const local = new LocalLinearOps(kernels);
      try {
        const rng = new SeededRng(21);
        const x = rand(rng, [2, 8, 12, 12]);
        const w = rand(rng, [16, 8, 3, 3], 0.2);
        const dy = rand(rng, [2, 16, 12, 12], 0.01);
        await remote.forLayer('conv').conv2d(x, w, p);
        const before = remote.stats().total;
        const [dx, dw] = await remote.forLayer('conv').conv2dBackward!(dy, w, x, p, 3);
        const t = remote.stats().total;
        assert.equal(t.bytesCached - before.bytesCached, (w.size + dy.size) * 4, 'w and dy stayed there');
        const sent = t.bytesSent - before.bytesSent;
        assert.ok(sent < (dy.size + x.size) * 4 + 400, `sent ${sent} bytes: dy and x once, and headers`);
        assert.equal(t.retries, 0);
        const [gi, gw] = spy.requests.slice(-2);
        assert.equal(gi!.op, 'conv2dGradInput');
        assert.deepEqual(gi!.aCacheHint?.reuse, false);
        assert.equal(gw!.op, 'conv2dGradWeight');
        assert.equal(gw!.aCacheHint?.reuse, true);
        assert.equal(gw!.aCacheHint?.key, gi!.aCacheHint?.key);
        if (integrity === 'exact') {
          // One quantization of dy for both, wiped once both are done.
          assert.ok(gi!.a.data === gw!.a.data, 'the same integers');
          assert.ok(
            gi!.a.data.every((v) => v === 0),
            'wiped',
          );
        }
        const [tGi, tGw] = traces.slice(-2);
        within(dx, await local.conv2dGradInput(dy, w, p, [12, 12]), tGi!.errorBound ?? 0, 'dx');
        within(dw, await local.conv2dGradWeight(dy, x, p, 3), tGw!.errorBound ?? 0, 'dw');
        if (integrity === 'exact')
          assert.equal(tGw!.aBits, tGi!.aBits, "dy at the grad-input product's scale");
        // A Linear pair too.
        const xd = rand(rng, [4, 30]);
        const wd = rand(rng, [7, 30], 0.3);
        const dyd = rand(rng, [4, 7], 0.1);
        const [dxd, dwd] = await remote.denseBackward(dyd, wd, xd);
        const [gid, gwd] = spy.requests.slice(-2);
        assert.equal(gwd!.aCacheHint?.reuse, true);
        assert.equal(gwd!.aCacheHint?.key, gid!.aCacheHint?.key);
        const [tGid, tGwd] = traces.slice(-2);
        within(dxd, await local.denseGradInput(dyd, wd), tGid!.errorBound ?? 0, 'dense dx');
        within(dwd, await local.denseGradWeight(dyd, xd), tGwd!.errorBound ?? 0, 'dense dw');
      } finally {
        await client.close();
        await s.server.close();
      }
    });
  }

  it("exact: a grad-weight product whose other operand cannot be fitted to dy's scale quantizes dy afresh", async () => {
    // dy·w has an inner dimension of 1 (dy keeps its largest scale); dyᵀ·x sums 128² positions, where
    // that scale would leave x fewer than the minimum bits: the grad-weight product goes its own way.
    const s = await startServer();
    const client = await AcceleratorClient.connect(s.address);
    const spy = new RecordingTransport(client);
    const traces: ProductTrace[] = [];
    const remote = new RemoteLinearOps(spy, { onProduct: (t) => traces.push(t) });
    const local = new LocalLinearOps(kernels);
    const q = { stride: 1, padding: 0 };
    try {
      const rng = new SeededRng(22);
      const x = rand(rng, [1, 2, 128, 128]);
      const w = rand(rng, [1, 2, 1, 1]);
      const dy = rand(rng, [1, 1, 128, 128]);
      const [dx, dw] = await remote.conv2dBackward(dy, w, x, q, 1);
      const [gi, gw] = spy.requests.slice(-2);
      assert.ok(gi!.a.data !== gw!.a.data, 'dy quantized again for the grad-weight product');
      assert.equal(gw!.aCacheHint, undefined);
      const [tGi, tGw] = traces.slice(-2);
      assert.ok(tGw!.aBits! < tGi!.aBits!, `${tGw!.aBits} < ${tGi!.aBits}`);
      within(dx, await local.conv2dGradInput(dy, w, q, [128, 128]), tGi!.errorBound ?? 0, 'dx');
      within(dw, await local.conv2dGradWeight(dy, x, q, 1), tGw!.errorBound ?? 0, 'dw');
      assert.ok(gi!.a.data.every((v) => v === 0) && gw!.a.data.every((v) => v === 0), 'both wiped');
    } finally {
      await client.close();
      await s.server.close();
    }
  });

  it('a lie in either product of the pair is refused and retried once on a fresh connection; the other keeps its answer', async () => {
    for (const from of [0, 1]) {
      // Reply `from` lies (0: the grad-input product's, 1: the grad-weight product's), the rest are honest.
      const s = await startServer({ tamper: { mode: 'flip-element', from, every: 1000 } });
      const client = await AcceleratorClient.connect(s.address);
      const spy = new RecordingTransport(client);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(spy, { onProduct: (t) => traces.push(t) });
      const local = new LocalLinearOps(kernels);
      try {
        const rng = new SeededRng(23);
        const x = rand(rng, [1, 4, 10, 10]);
        const w = rand(rng, [6, 4, 3, 3], 0.2);
        const dy = rand(rng, [1, 6, 10, 10], 0.01);
        const [dx, dw] = await remote.conv2dBackward(dy, w, x, p, 3);
        assert.equal(remote.stats().total.retries, 1, `reply ${from}: one refused attempt, one retry`);
        assert.deepEqual(traces.map((t) => t.attempts).sort(), [1, 2]);
        const [tGi, tGw] = traces.map((t) => t).sort((a, b) => a.op.localeCompare(b.op));
        within(dx, await local.conv2dGradInput(dy, w, p, [10, 10]), tGi!.errorBound ?? 0, 'dx');
        within(dw, await local.conv2dGradWeight(dy, x, p, 3), tGw!.errorBound ?? 0, 'dw');
      } finally {
        await client.close();
        await s.server.close();
      }
    }
  });

  it('sends dy twice with cacheGradients off, or to an accelerator without a cache', async () => {
    for (const [cacheBytes, cacheGradients] of [
      [0, true],
      [2 ** 20, false],
    ] as const) {
      const s = await startServer({ cacheBytes });
      const client = await AcceleratorClient.connect(s.address);
      const remote = new RemoteLinearOps(client, { cacheGradients, cacheWeights: false });
      try {
        const rng = new SeededRng(24);
        const x = rand(rng, [1, 3, 6, 6]);
        const dy = rand(rng, [1, 4, 6, 6], 0.01);
        await remote.conv2dBackward(dy, rand(rng, [4, 3, 3, 3]), x, p, 3);
        const t = remote.stats().total;
        assert.equal(t.bytesCached, 0);
        assert.ok(t.bytesSent > 2 * dy.size * 4 + x.size * 4, `${t.bytesSent}`);
      } finally {
        await client.close();
        await s.server.close();
      }
    }
  });
});
