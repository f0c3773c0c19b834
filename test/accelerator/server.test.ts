import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { AcceleratorServer } from '../../src/accelerator/server.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { AcceleratorPool } from '../../src/enclave/accelerator-pool.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { resultPayloadBytes } from '../../src/protocol/linear-codec.js';
import { LINEAR_OPS, type LinearRequest, type WireTensor } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ARITHS, makeRequest, randomRequest } from '../protocol/requests.js';
import { startServer, type TestServer } from './harness.js';
import { referenceModp, referenceWide } from './modp-reference.js';

const DIMS = { n: 2, c: 3, h: 7, w: 6, o: 4, k: 3, stride: 2, padding: 1, i: 5 };

/** What the accelerator must answer: LocalLinearOps for f32, the BigInt references for modp and wide. */
async function expected(req: LinearRequest): Promise<WireTensor['data']> {
  if (req.arith === 'modp') return referenceModp(req);
  if (req.arith === 'wide') return referenceWide(req);
  const ops = new LocalLinearOps(kernels);
  const a = new Tensor(req.a.shape, (req.a.data as Float32Array).slice());
  const b = new Tensor(req.b.shape, (req.b.data as Float32Array).slice());
  const p = { stride: req.stride ?? 1, padding: req.padding ?? 0 };
  switch (req.op) {
    case 'dense':
      return (await ops.dense(a, b)).data;
    case 'denseGradInput':
      return (await ops.denseGradInput(a, b)).data;
    case 'denseGradWeight':
      return (await ops.denseGradWeight(a, b)).data;
    case 'conv2d':
      return (await ops.conv2d(a, b, p)).data;
    case 'conv2dGradInput':
      return (await ops.conv2dGradInput(a, b, p, req.inputHW!)).data;
    case 'conv2dGradWeight':
      return (await ops.conv2dGradWeight(a, b, p, req.k!)).data;
  }
}

describe('accelerator server and client', { timeout: 60_000 }, () => {
  let s: TestServer;
  let client: AcceleratorClient;

  before(async () => {
    s = await startServer({ threads: 1 });
    client = await AcceleratorClient.connect(s.address, { deadlineMs: 10_000 });
  });
  after(async () => {
    await client.close();
    await s.server.close();
  });

  for (const arith of ARITHS) {
    for (const op of LINEAR_OPS) {
      const what = {
        f32: 'the same floats as LocalLinearOps',
        modp: 'the exact residues of the BigInt reference',
        wide: 'the exact integers of the BigInt reference',
      }[arith];
      test(`serves ${arith} ${op}: ${what}`, async () => {
        const req = makeRequest(new SeededRng(7), op, arith, DIMS, 0.3);
        const want = await expected(req);
        const reply = await client.call(req);
        assert.deepEqual(reply.result.data, want);
        assert.ok(
          reply.result.data instanceof { f32: Float32Array, modp: Int32Array, wide: Float64Array }[arith],
        );
        const st = reply.stats;
        assert.ok(st.sendMs >= 0 && st.receiveMs >= 0 && st.computeMs >= 0);
        assert.equal(st.bytesReceived, 16 + resultPayloadBytes(reply.result.shape, arith));
        const elementBytes = arith === 'wide' ? 8 : 4;
        assert.ok(
          st.bytesReceived >= 16 + 8 + 12 + 4 * reply.result.shape.length + elementBytes * want.length,
        );
        assert.ok(st.bytesSent > req.a.data.byteLength + req.b.data.byteLength);
      });
    }
  }

  test('answers many pipelined calls on one connection in order', async () => {
    const rng = new SeededRng(21);
    const reqs = Array.from({ length: 30 }, () => randomRequest(rng));
    const wants = await Promise.all(reqs.map((r) => expected(r)));
    const replies = await Promise.all(reqs.map((r) => client.call(r)));
    for (const [i, r] of replies.entries()) assert.deepEqual(r.result.data, wants[i], `call ${i}`);
  });

  test('serves concurrent clients independently', async () => {
    const clients = await Promise.all(Array.from({ length: 8 }, () => AcceleratorClient.connect(s.address)));
    try {
      await Promise.all(
        clients.map(async (c, ci) => {
          const rng = new SeededRng(300 + ci);
          for (let j = 0; j < 8; j++) {
            const req = randomRequest(rng);
            const want = await expected(req);
            assert.deepEqual((await c.call(req)).result.data, want);
          }
        }),
      );
    } finally {
      await Promise.all(clients.map((c) => c.close()));
    }
    const st = s.server.stats();
    assert.equal(st.inFlightBytes, 0);
  });

  test('counts bytes and times in the client stats', () => {
    const st = client.stats();
    assert.ok(st.calls >= 12);
    assert.equal(st.failures, 0);
    assert.ok(st.bytesSent > 0 && st.bytesReceived > st.calls * 40);
    assert.ok(st.sendMs > 0 && st.computeMs > 0);
  });
});

describe('accelerator limits and logs', { timeout: 60_000 }, () => {
  test('bounds admitted request bytes by the connection and total caps while pipelining large frames', async () => {
    const frame = 64 * 1024;
    const s = await startServer({
      maxFrameBytes: frame,
      maxConnectionBytes: frame,
      maxTotalBytes: 2 * frame,
    });
    const clients = await Promise.all([1, 2, 3].map(() => AcceleratorClient.connect(s.address)));
    try {
      const rng = new SeededRng(5);
      // dense x [10,1300] + w [2,1300] (62 400 bytes): at most one such request per connection and two overall.
      const jobs = clients.flatMap((c) =>
        Array.from({ length: 6 }, () => {
          const req = makeRequest(rng, 'dense', 'modp', { ...DIMS, n: 10, i: 1300, o: 2 });
          return { c, req, want: referenceModp(req) };
        }),
      );
      const replies = await Promise.all(jobs.map((j) => j.c.call(j.req)));
      for (const [i, r] of replies.entries()) assert.deepEqual(r.result.data, jobs[i]!.want);
      const st = s.server.stats();
      assert.ok(st.peakInFlightBytes <= 2 * frame, `peak ${st.peakInFlightBytes}`);
      assert.ok(st.peakInFlightBytes > frame, 'two connections were admitted at once');
      assert.equal(st.inFlightBytes, 0);
    } finally {
      await Promise.all(clients.map((c) => c.close()));
      await s.server.close();
    }
  });

  test('logs one line per connection with peer, ops, bytes, duration and close reason', async () => {
    const s = await startServer();
    const c = await AcceleratorClient.connect(s.address);
    await c.call(makeRequest(new SeededRng(1), 'dense', 'f32', DIMS));
    await c.close();
    await s.server.close();
    assert.equal(s.logs.length, 1);
    assert.match(
      s.logs[0]!,
      /^accelerator: peer=127\.0\.0\.1:\d+ ops=1 bytes_in=\d+ bytes_out=\d+ duration_ms=\d+ close="(client closed|server shutdown)"$/,
    );
  });

  test('reports a failure of its own as a compute error and keeps the connection (E_NETWORK on the client)', async () => {
    const s = await startServer({ compute: 'inline' });
    const backend = s.server.backend as { run: (r: LinearRequest) => Promise<unknown> };
    const real = backend.run.bind(backend);
    let fail = true;
    backend.run = (r) => (fail ? Promise.reject(new Error('out of device memory')) : real(r));
    const c = await AcceleratorClient.connect(s.address);
    try {
      const req = makeRequest(new SeededRng(1), 'dense', 'f32', DIMS);
      await assert.rejects(
        c.call(req),
        (e) =>
          isTeeError(e, 'E_NETWORK') &&
          e.message === `accelerator ${s.address} failed dense #1: out of device memory`,
      );
      fail = false;
      assert.deepEqual((await c.call(req)).result.data, await expected(req));
      assert.equal(c.stats().connects, 1);
    } finally {
      await c.close();
      await s.server.close();
    }
  });

  test('refuses a product larger than the client accepts before sending (E_FRAME)', async () => {
    const s = await startServer();
    const c = await AcceleratorClient.connect(s.address, { maxFrameBytes: 4096 });
    try {
      const req = makeRequest(new SeededRng(1), 'dense', 'f32', { ...DIMS, n: 40, o: 40 });
      await assert.rejects(
        c.call(req),
        (e) =>
          isTeeError(e, 'E_FRAME') &&
          e.message === "the result would be a 6428-byte frame, over this client's limit of 4096 bytes",
      );
    } finally {
      await c.close();
      await s.server.close();
    }
  });
});

describe('accelerator pool', { timeout: 60_000 }, () => {
  const servers: TestServer[] = [];
  after(async () => {
    await Promise.all(servers.map((s) => s.server.close()));
  });

  test('spreads calls round-robin over its accelerators', async () => {
    servers.push(await startServer(), await startServer(), await startServer());
    const pool = await AcceleratorPool.connect(servers.map((s) => s.address));
    try {
      const rng = new SeededRng(9);
      for (let i = 0; i < 9; i++) {
        const req = randomRequest(rng);
        assert.deepEqual((await pool.call(req)).result.data, await expected(req));
      }
      assert.deepEqual(
        pool.stats().map((st) => st.calls),
        [3, 3, 3],
      );
      await pool.reconnect();
      assert.deepEqual(
        pool.stats().map((st) => st.connects),
        [1, 1, 2],
      );
    } finally {
      await pool.close();
    }
    const served = (srv: AcceleratorServer) => srv.stats().ops;
    assert.deepEqual(
      servers.map((s) => served(s.server)),
      [3, 3, 3],
    );
  });

  test('retries land on the next accelerator when one is down, and reconnect() does not fail the pool', async () => {
    const down = await startServer();
    const downAddress = down.address;
    await down.server.close();
    const pool = new AcceleratorPool([downAddress, servers[0]!.address], { connectTimeoutMs: 2000 });
    try {
      const req = makeRequest(new SeededRng(2), 'dense', 'modp', DIMS);
      await assert.rejects(pool.call(req), (e) => isTeeError(e, 'E_NETWORK'));
      await pool.reconnect(); // the unreachable one: tolerated
      const reply = await pool.call(req);
      assert.deepEqual(reply.result.data, referenceModp(req));
      pool.release(reply);
    } finally {
      await pool.close();
    }
  });

  test('fails to connect with E_NETWORK naming the address that refused', async () => {
    const dead = await startServer();
    const port = dead.port;
    await dead.server.close();
    await assert.rejects(
      AcceleratorPool.connect([servers[0]!.address, `127.0.0.1:${port}`]),
      (e) =>
        isTeeError(e, 'E_NETWORK') &&
        e.message.startsWith(`cannot connect to accelerator 127.0.0.1:${port}: ECONNREFUSED`),
    );
  });
});
