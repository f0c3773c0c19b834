// AcceleratorPool over two real accelerator servers: products without a cache hint alternate; a
// grad-input product that reuses its forward's weights goes to the accelerator that stored them (a cache
// hit); a reuse whose holder lost its cache, or is no longer known, sends the weights in full; and a
// refused result is retried on a fresh connection and still gives the right answer; a layer's backward
// pair follows its weights, and its grad-weight product finds dy there.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcceleratorPool } from '../../src/enclave/accelerator-pool.js';
import { type ProductTrace, RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import type { LinearRequest } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { startServer, type TestServer } from '../accelerator/harness.js';

const p = { stride: 1, padding: 1 };
const local = new LocalLinearOps(kernels);

function rand(rng: SeededRng, shape: number[], scale = 1): Tensor {
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = (2 * rng.nextFloat() - 1) * scale;
  return t;
}

function assertClose(got: Tensor, want: Tensor, tol: number): void {
  assert.deepEqual(got.shape, want.shape);
  for (let i = 0; i < want.size; i++) assert.ok(Math.abs(got.data[i]! - want.data[i]!) <= tol, `[${i}]`);
}

describe('AcceleratorPool with two accelerators', { timeout: 60_000 }, () => {
  let servers: TestServer[] = [];
  let pool: AcceleratorPool;
  /** Requests each server has answered since the test began. */
  let base: number[] = [];
  const served = () => servers.map((s, i) => s.server.stats().ops - base[i]!);

  before(async () => {
    servers = [await startServer({ threads: 1 }), await startServer({ threads: 1 })];
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.server.close()));
  });

  async function freshPool(): Promise<AcceleratorPool> {
    pool = await AcceleratorPool.connect(servers.map((s) => s.address));
    base = servers.map((s) => s.server.stats().ops);
    return pool;
  }

  it('sends products without a cache hint round robin', async () => {
    await freshPool();
    try {
      const rng = new SeededRng(1);
      const req: LinearRequest = {
        op: 'dense',
        arith: 'f32',
        a: { shape: [2, 3], data: rand(rng, [2, 3]).data },
        b: { shape: [4, 3], data: rand(rng, [4, 3]).data },
      };
      for (let i = 0; i < 4; i++) await pool.call(req);
      assert.deepEqual(served(), [2, 2]);
    } finally {
      await pool.close();
    }
  });

  for (const integrity of ['float', 'exact'] as const) {
    it(`${integrity}: a grad-input product goes where its forward stored the weights (cache hit)`, async () => {
      await freshPool();
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(pool, { integrity, onProduct: (t) => traces.push(t) });
      try {
        const rng = new SeededRng(2);
        const x = rand(rng, [1, 4, 8, 8]);
        const w1 = rand(rng, [6, 4, 3, 3], 0.2);
        const w2 = rand(rng, [5, 6, 3, 3], 0.2);
        const h = await remote.conv2d(x, w1, p); // accelerator 0 stores w1
        await remote.conv2d(h, w2, p); // accelerator 1 stores w2
        assert.deepEqual(served(), [1, 1]);
        const dy2 = rand(rng, [1, 5, 8, 8], 0.01);
        const dh = await remote.conv2dGradInput(dy2, w2, p, [8, 8]); // back to 1
        const dx = await remote.conv2dGradInput(dh, w1, p, [8, 8]); // back to 0
        assert.deepEqual(served(), [2, 2]);
        const t = remote.stats().total;
        assert.equal(t.bytesCached, (w1.size + w2.size) * 4, 'both layers hit the cache');
        assert.equal(t.retries, 0);
        const tol = (traces.at(-1)!.errorBound ?? 0) + 1e-6;
        assertClose(dx, await local.conv2dGradInput(dh, w1, p, [8, 8]), tol);
      } finally {
        await pool.close();
      }
    });
  }

  for (const integrity of ['float', 'exact'] as const) {
    it(`${integrity}: a backward pair goes where the forward stored the weights, dy kept there for the grad-weight product`, async () => {
      await freshPool();
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(pool, { integrity, onProduct: (t) => traces.push(t) });
      try {
        const rng = new SeededRng(6);
        const x = rand(rng, [1, 4, 8, 8]);
        const w = rand(rng, [6, 4, 3, 3], 0.2);
        await remote.conv2d(rand(rng, [1, 4, 8, 8]), rand(rng, [6, 4, 3, 3]), p); // accelerator 0
        await remote.conv2d(x, w, p); // accelerator 1 stores w
        const dy = rand(rng, [1, 6, 8, 8], 0.01);
        const [dx, dw] = await remote.conv2dBackward(dy, w, x, p, 3);
        assert.deepEqual(served(), [1, 3], 'both backward products on the accelerator holding w');
        const t = remote.stats().total;
        assert.equal(t.bytesCached, (w.size + dy.size) * 4, 'w and dy from the cache');
        assert.equal(t.retries, 0);
        const [tGi, tGw] = traces.slice(-2);
        assertClose(dx, await local.conv2dGradInput(dy, w, p, [8, 8]), (tGi!.errorBound ?? 0) + 1e-6);
        assertClose(dw, await local.conv2dGradWeight(dy, x, p, 3), (tGw!.errorBound ?? 0) + 1e-6);
      } finally {
        await pool.close();
      }
    });
  }

  it('a routed reuse whose accelerator lost its cache (a new connection) sends the weights in full', async () => {
    await freshPool();
    const remote = new RemoteLinearOps(pool, { integrity: 'float' });
    try {
      const rng = new SeededRng(3);
      const w = rand(rng, [6, 4, 3, 3], 0.2);
      await remote.conv2d(rand(rng, [1, 4, 8, 8]), w, p); // accelerator 0 stores w
      await pool.clients[0]!.reconnect(); // behind the pool's back: the pool still routes to 0
      const dy = rand(rng, [1, 6, 8, 8], 0.01);
      const before = remote.stats().total.bytesSent;
      const got = await remote.conv2dGradInput(dy, w, p, [8, 8]);
      const t = remote.stats().total;
      assert.deepEqual(served(), [2, 0], 'routed to the accelerator that stored w');
      assert.equal(t.bytesCached, 0);
      assert.ok(t.bytesSent - before >= (dy.size + w.size) * 4, 'the weights went in full');
      assert.equal(t.retries, 0);
      assertClose(got, await local.conv2dGradInput(dy, w, p, [8, 8]), 1e-4);
    } finally {
      await pool.close();
    }
  });

  it('weights changed behind the cache: refused, retried on the other accelerator, right answer', async () => {
    await freshPool();
    const traces: ProductTrace[] = [];
    const remote = new RemoteLinearOps(pool, { integrity: 'float', onProduct: (t) => traces.push(t) });
    try {
      const rng = new SeededRng(4);
      const x = rand(rng, [1, 4, 8, 8]);
      const w = rand(rng, [6, 4, 3, 3], 0.2);
      const dy = rand(rng, [1, 6, 8, 8], 0.01);
      await remote.conv2d(x, w, p); // accelerator 0 stores w
      await remote.conv2dGradWeight(dy, x, p, 3); // no hint: accelerator 1, the round robin is back at 0
      for (let i = 0; i < w.size; i++) w.data[i] = -w.data[i]! + 0.01; // an out-of-order optimizer step
      const got = await remote.conv2dGradInput(dy, w, p, [8, 8]); // routed to 0, refused, retried
      assert.equal(remote.stats().total.retries, 1, 'the stale copy was refused once');
      assert.deepEqual(served(), [2, 2], 'the retry went to the other accelerator, with w in full');
      const tol = (traces.at(-1)!.errorBound ?? 0) + 1e-6;
      assertClose(got, await local.conv2dGradInput(dy, w, p, [8, 8]), tol);
    } finally {
      await pool.close();
    }
  });

  it('never offers an older copy held by another accelerator: an unroutable reuse is sent as a store', async () => {
    await freshPool();
    const remote = new RemoteLinearOps(pool, { integrity: 'float' });
    try {
      const rng = new SeededRng(5);
      const w = rand(rng, [6, 4, 3, 3], 0.2);
      await remote.conv2d(rand(rng, [1, 4, 8, 8]), w, p); // step 1: accelerator 0 stores w
      for (let i = 0; i < w.size; i++) w.data[i] = w.data[i]! * 0.5; // the optimizer step
      await remote.conv2d(rand(rng, [1, 4, 8, 8]), w, p); // step 2: accelerator 1 stores the new w
      await pool.reconnect(); // accelerator 1 (the latest) loses its cache; the pool forgets its keys
      const dy = rand(rng, [1, 6, 8, 8], 0.01);
      const got = await remote.conv2dGradInput(dy, w, p, [8, 8]); // round robin: accelerator 0
      const t = remote.stats().total;
      assert.deepEqual(served(), [2, 1]);
      assert.equal(t.retries, 0, "accelerator 0's step-1 copy was not used");
      assert.equal(t.bytesCached, 0);
      assertClose(got, await local.conv2dGradInput(dy, w, p, [8, 8]), 1e-4);
    } finally {
      await pool.close();
    }
  });
});

describe('AcceleratorPool retries with calls in flight on both accelerators', { timeout: 60_000 }, () => {
  it('a refused reply is retried away from the accelerator that sent it, whichever call went out last', async () => {
    // Accelerator 0 lies on every reply, accelerator 1 is honest. Two products go out together (round
    // robin: 0, then 1); the first is refused and must be retried on 1, not on "the latest call's" 0.
    const liar = await startServer({ threads: 1, tamper: { mode: 'flip-element', from: 0, every: 1 } });
    const honest = await startServer({ threads: 1 });
    const pool = await AcceleratorPool.connect([liar.address, honest.address]);
    const traces: ProductTrace[] = [];
    const remote = new RemoteLinearOps(pool, {
      integrity: 'float',
      cacheWeights: false,
      onProduct: (t) => traces.push(t),
    });
    try {
      const rng = new SeededRng(7);
      const x1 = rand(rng, [1, 3, 8, 8]);
      const x2 = rand(rng, [1, 3, 8, 8]);
      const w = rand(rng, [4, 3, 3, 3], 0.3);
      const [y1, y2] = await Promise.all([remote.conv2d(x1, w, p), remote.conv2d(x2, w, p)]);
      assertClose(y1, await local.conv2d(x1, w, p), 1e-4);
      assertClose(y2, await local.conv2d(x2, w, p), 1e-4);
      assert.equal(remote.stats().total.retries, 1);
      assert.deepEqual(traces.map((t) => t.attempts).sort(), [1, 2]);
      assert.equal(liar.server.stats().ops, 1, 'the liar answered once, the retry went elsewhere');
    } finally {
      await pool.close();
      await Promise.all([liar.server.close(), honest.server.close()]);
    }
  });
});

describe('AcceleratorPool with an accelerator that goes away', { timeout: 60_000 }, () => {
  it('leaves it out of the round robin (one warning) until its back-off ends, then tries it again', async () => {
    const gone = await startServer({ threads: 1 });
    const live = await startServer({ threads: 1 });
    let clock = 0;
    const warnings: string[] = [];
    const pool = await AcceleratorPool.connect([gone.address, live.address], {
      now: () => clock,
      warn: (m) => warnings.push(m),
    });
    const remote = new RemoteLinearOps(pool, { integrity: 'float', cacheWeights: false });
    const rng = new SeededRng(11);
    const w = rand(rng, [4, 3, 3, 3], 0.3);
    const product = async () => {
      const x = rand(rng, [1, 3, 8, 8]);
      assertClose(await remote.conv2d(x, w, p), await local.conv2d(x, w, p), 1e-4);
    };
    try {
      await gone.server.close();
      // Four at once: two go to the dead one (round robin), both fail and are retried on the live one;
      // one warning, whichever failure arrives first.
      await Promise.all([product(), product(), product(), product()]);
      assert.equal(remote.stats().total.retries, 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      // Then the pool sends it nothing: no retry per turn.
      for (let i = 0; i < 6; i++) await product();
      assert.equal(remote.stats().total.retries, 2);
      assert.equal(warnings.length, 1, warnings.join('\n'));
      assert.match(
        warnings[0]!,
        new RegExp(`accelerator ${gone.address} is unreachable .*tried again in 5 s`),
      );
      assert.deepEqual(
        pool.stats().map((s) => s.downs),
        [1, 0],
      );
      // After the back-off it is tried again, still down: left out for twice as long.
      clock += 5_001;
      for (let i = 0; i < 4; i++) await product();
      assert.equal(remote.stats().total.retries, 3);
      assert.equal(warnings.length, 2);
      assert.match(warnings[1]!, /tried again in 10 s/);
    } finally {
      await pool.close();
      await live.server.close();
    }
  });
});
