// Arith wide end to end: exact integer products (far beyond p, below 2^53) from a live accelerator through
// AcceleratorClient, an AcceleratorPool and the operand cache, equal to a BigInt reference; a peer that
// cannot serve wide is refused before any request; a result past 2^53 comes through the client (wide
// values are the check's to validate) and the check's pass refuses it; a result over the client's frame
// limit (8 bytes per element) is refused with E_FRAME.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { AcceleratorPool } from '../../src/enclave/accelerator-pool.js';
import { isTeeError } from '../../src/errors.js';
import { CAP_F32, CAP_MODP, encodeHello, FrameType } from '../../src/protocol/frame.js';
import { MAX_DIM, MAX_RANK, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { encodeRequest, HALF_P } from '../../src/protocol/linear-codec.js';
import type { LinearRequest, WireTensor } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { FIELDS, WIDE_MODULUS } from '../../src/verify/field.js';
import { wideKernels } from '../../src/verify/native-wide.js';
import { concat } from '../protocol/requests.js';
import { rawExchange, startServer, type TestServer } from './harness.js';
import { largestAbsSum, referenceWide } from './modp-reference.js';

/** Int32 values in [−bound, bound], a fraction `extremes` of them at ±bound. */
function ints(rng: SeededRng, shape: number[], bound: number, extremes = 0.3): WireTensor {
  const data = new Int32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) {
    const v = rng.nextFloat() < extremes ? bound : rng.nextInt(bound + 1);
    data[i] = rng.nextInt(2) === 0 ? v : -v;
  }
  return { shape, data };
}

// conv2d: x [4,16,12,12], w [8,16,3,3] → y [4,8,12,12]; C·k² = 144 terms of at most 980 000² < 2^47 / 144.
function conv(rng: SeededRng): LinearRequest {
  const bound = 980_000;
  return {
    op: 'conv2d',
    arith: 'wide',
    a: ints(rng, [4, 16, 12, 12], bound),
    b: ints(rng, [8, 16, 3, 3], bound),
    stride: 1,
    padding: 1,
  };
}

// dense: x [5,1000], w [7,1000] → y [5,7]; 1000 terms of at most 375 000² < 2^47 / 1000.
function dense(rng: SeededRng): LinearRequest {
  return { op: 'dense', arith: 'wide', a: ints(rng, [5, 1000], 375_000), b: ints(rng, [7, 1000], 375_000) };
}

function isFrameError(message: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(isTeeError(e, 'E_FRAME'), `expected E_FRAME, got ${String(e)}`);
    assert.match(e.message, message);
    return true;
  };
}

/** The reply is a Float64Array equal to the BigInt reference, with values well beyond p (unreduced). */
function assertExact(got: WireTensor, req: LinearRequest): void {
  assert.ok(largestAbsSum(req) <= 2n ** 47n, 'the operands keep every sum within the honest bound');
  assert.ok(got.data instanceof Float64Array);
  assert.deepEqual(got.data, referenceWide(req));
  let most = 0;
  for (const v of got.data) most = Math.max(most, Math.abs(v));
  assert.ok(most > 2 ** 40, `largest |y| = ${most}`);
}

describe('arith wide through a live accelerator', { timeout: 60_000 }, () => {
  let s: TestServer;
  let client: AcceleratorClient;
  before(async () => {
    s = await startServer({ threads: 2 });
    client = await AcceleratorClient.connect(s.address, { deadlineMs: 20_000 });
  });
  after(async () => {
    await client.close();
    await s.server.close();
  });

  test('the accelerator announces wide; conv2d and dense come back as exact integers', async () => {
    assert.ok(((client.serverHello?.capabilities ?? 0) & 4) !== 0);
    for (const make of [conv, dense]) {
      const req = make(new SeededRng(11));
      const reply = await client.call(req);
      assertExact(reply.result, req);
      assert.deepEqual(reply.result.shape, req.op === 'dense' ? [5, 7] : [4, 8, 12, 12]);
    }
  });

  test('the grad-input product reuses the forward weights from the operand cache, still exact', async () => {
    const rng = new SeededRng(12);
    const fwd = conv(rng);
    const w = fwd.b;
    const y = await client.call({ ...fwd, bCacheHint: { key: 41, reuse: false } });
    assertExact(y.result, fwd);
    const back: LinearRequest = {
      op: 'conv2dGradInput',
      arith: 'wide',
      a: ints(rng, [4, 8, 12, 12], 300_000),
      b: w,
      stride: 1,
      padding: 1,
      inputHW: [12, 12],
    };
    const dx = await client.call({ ...back, bCacheHint: { key: 41, reuse: true } });
    assert.equal(dx.stats.bytesCached, w.data.byteLength);
    assertExact(dx.result, back);
    // The same key under another arith is not taken from the cache: b is sent again.
    const modp = await client.call({ ...fwd, arith: 'modp', bCacheHint: { key: 41, reuse: true } });
    assert.equal(modp.stats.bytesCached, 0);
  });

  test('a product whose sums pass 2^53 is computed and passed on, and the pass of its check over it refuses it', async () => {
    const n = 300;
    const req: LinearRequest = {
      op: 'dense',
      arith: 'wide',
      a: { shape: [1, n], data: new Int32Array(n).fill(HALF_P) },
      b: { shape: [1, n], data: new Int32Array(n).fill(-HALF_P) },
    };
    const y = (await client.call(req)).result.data as Float64Array;
    assert.ok(Math.abs(y[0]!) >= 2 ** 53, `${y[0]}`);
    // What the check does with it: the fold over the result names element 0 as no admissible value.
    const { bad } = wideKernels.foldResult(
      1,
      1,
      1,
      1,
      y,
      new Float64Array([1]),
      FIELDS.wide.outputHalf,
      WIDE_MODULUS,
    );
    assert.equal(bad, 0);
    const ok = conv(new SeededRng(13));
    assertExact((await client.call(ok)).result, ok);
  });

  test('the accelerator refuses a wide request whose 8-byte result would exceed the client limit', async () => {
    const hello = encodeHello({
      version: PROTOCOL_VERSION,
      role: 'client',
      maxFrameBytes: 4096,
      maxRank: MAX_RANK,
      maxDim: MAX_DIM,
      capabilities: 0,
    });
    // y [20,30]: 600 elements, 2 432 bytes as modp (accepted), 4 832 as wide (refused).
    const rng = new SeededRng(14);
    const req: LinearRequest = {
      op: 'dense',
      arith: 'modp',
      a: ints(rng, [20, 3], 9),
      b: ints(rng, [30, 3], 9),
    };
    const modp = concat(encodeRequest(1, req));
    const wide = concat(encodeRequest(2, { ...req, arith: 'wide' }));
    const r = await rawExchange(s.port, Buffer.concat([hello, modp, wide]));
    assert.deepEqual(
      r.frames.map((f) => [f.type, f.id, f.length]),
      [
        [FrameType.result, 1, 8 + 20 + 4 * 600],
        [FrameType.error, 2, r.frames[1]?.length],
      ],
    );
    assert.deepEqual(r.frames[1]!.error, {
      kind: 'frame',
      message: 'the result would be a 4832-byte frame, over the limit of 4096 bytes',
    });
  });
});

describe('arith wide through an accelerator pool', { timeout: 60_000 }, () => {
  test('round robin over two accelerators, each answer exact', async () => {
    const servers = [await startServer(), await startServer()];
    const pool = await AcceleratorPool.connect(servers.map((s) => s.address));
    try {
      const rng = new SeededRng(15);
      const reqs = [conv(rng), dense(rng), conv(rng), dense(rng)];
      const replies = await Promise.all(reqs.map((r) => pool.call(r)));
      replies.forEach((reply, i) => {
        assertExact(reply.result, reqs[i]!);
      });
      assert.deepEqual(
        pool.stats().map((st) => st.calls),
        [2, 2],
      );
    } finally {
      await pool.close();
      for (const s of servers) await s.server.close();
    }
  });
});

describe('peers that cannot serve wide', { timeout: 30_000 }, () => {
  /** A fake accelerator that only sends this hello. */
  async function fakeAccelerator(
    version: number,
    capabilities: number,
  ): Promise<{ server: Server; port: number }> {
    const server = createServer((socket) => {
      socket.on('error', () => {});
      socket.write(
        encodeHello({
          version,
          role: 'accelerator',
          maxFrameBytes: 1 << 20,
          maxRank: MAX_RANK,
          maxDim: MAX_DIM,
          capabilities,
          cacheMiB: 0,
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    return { server, port: typeof a === 'object' && a !== null ? a.port : 0 };
  }

  test('a protocol-2 accelerator is refused at its hello, before any request (E_FRAME)', async () => {
    const f = await fakeAccelerator(2, CAP_F32 | CAP_MODP);
    try {
      await assert.rejects(
        AcceleratorClient.connect(`127.0.0.1:${f.port}`),
        isFrameError(new RegExp(`^peer speaks protocol version 2, this side speaks ${PROTOCOL_VERSION}$`)),
      );
    } finally {
      f.server.close();
    }
  });

  test('an accelerator without the wide capability is not sent a wide request (E_FRAME)', async () => {
    const f = await fakeAccelerator(PROTOCOL_VERSION, CAP_F32 | CAP_MODP);
    const c = await AcceleratorClient.connect(`127.0.0.1:${f.port}`);
    try {
      await assert.rejects(
        c.call(dense(new SeededRng(16))),
        isFrameError(/^accelerator 127\.0\.0\.1:\d+ does not serve arith wide$/),
      );
    } finally {
      await c.close();
      f.server.close();
    }
  });
});
