// A lying or broken accelerator, a hostile client: every failure surfaces as E_FRAME or E_NETWORK on the
// side that sees it, closes only the connection concerned, and leaves the server serving.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { computeLinear } from '../../src/accelerator/compute.js';
import type { TamperMode } from '../../src/accelerator/tamper.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { FrameType } from '../../src/protocol/frame.js';
import { PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { encodeRequest, resultPayloadBytes } from '../../src/protocol/linear-codec.js';
import { MODULUS_P } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { concat, makeRequest, rawRequestFrame, rawRequestPayload } from '../protocol/requests.js';
import { CLIENT_HELLO, rawExchange, startServer, type TestServer } from './harness.js';

const DIMS = { n: 2, c: 3, h: 6, w: 6, o: 4, k: 3, stride: 1, padding: 1, i: 5 };

function isCode(code: 'E_FRAME' | 'E_NETWORK', message?: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(isTeeError(e, code), `expected ${code}, got ${String(e)}`);
    if (message !== undefined) assert.match(e.message, message);
    return true;
  };
}

async function withTamper(
  mode: TamperMode,
  fn: (c: AcceleratorClient, s: TestServer) => Promise<void>,
  opts: { from?: number; every?: number; deadlineMs?: number } = {},
): Promise<void> {
  const s = await startServer({ tamper: { mode, from: opts.from ?? 0, every: opts.every ?? 1000 } });
  const c = await AcceleratorClient.connect(s.address, { deadlineMs: opts.deadlineMs ?? 5000 });
  try {
    await fn(c, s);
  } finally {
    await c.close();
    await s.server.close();
  }
}

describe('a tampering accelerator, seen from the client', { timeout: 60_000 }, () => {
  for (const arith of ['f32', 'modp', 'wide'] as const) {
    test(`flip-element, change-row and scale give well-formed ${arith} replies that differ from the truth`, async () => {
      for (const mode of ['flip-element', 'change-row', 'scale'] as const) {
        await withTamper(mode, async (c) => {
          const req = makeRequest(new SeededRng(4), 'conv2d', arith, DIMS);
          const honest = (await computeLinear(kernels, makeRequest(new SeededRng(4), 'conv2d', arith, DIMS)))
            .data;
          const got = (await c.call(req)).result.data;
          assert.equal(got.length, honest.length);
          let diff = 0;
          for (let i = 0; i < got.length; i++) if (got[i] !== honest[i]) diff++;
          const rowLen = DIMS.w;
          if (mode === 'flip-element') assert.equal(diff, 1);
          else if (mode === 'change-row') assert.ok(diff >= 1 && diff <= rowLen, `${diff}`);
          else assert.ok(diff > got.length / 2, `${diff}`);
          if (arith === 'wide') {
            // Still integers, and wrong modulo p wherever they are wrong (×2 of y ≢ 0 is ≢ y).
            for (let i = 0; i < got.length; i++) {
              assert.ok(Number.isSafeInteger(got[i]!));
              if (got[i] !== honest[i]) assert.notEqual((got[i]! - honest[i]!) % MODULUS_P, 0);
            }
            if (mode === 'scale') for (let i = 0; i < got.length; i++) assert.equal(got[i], 2 * honest[i]!);
          }
          // The next reply is honest again (every: 1000).
          const again = makeRequest(new SeededRng(4), 'conv2d', arith, DIMS);
          assert.deepEqual((await c.call(again)).result.data, honest);
        });
      }
    });
  }

  for (const arith of ['modp', 'wide'] as const) {
    test(`replay sends an earlier ${arith} result in place of the current one`, async () => {
      await withTamper(
        'replay',
        async (c) => {
          const first = makeRequest(new SeededRng(1), 'dense', arith, DIMS);
          const second = makeRequest(new SeededRng(2), 'dense', arith, DIMS);
          const r1 = await c.call(first);
          const r2 = await c.call(second);
          assert.deepEqual(r2.result.data, r1.result.data);
        },
        { from: 1 },
      );
    });
  }

  test('add-modulus adds p to one element of a wide result: the same residues mod p, another integer', async () => {
    await withTamper('add-modulus', async (c, s) => {
      const req = () => makeRequest(new SeededRng(4), 'conv2d', 'wide', DIMS);
      const honest = (await computeLinear(kernels, req())).data;
      const got = (await c.call(req())).result.data;
      const diffs: number[] = [];
      for (let i = 0; i < got.length; i++) if (got[i] !== honest[i]) diffs.push(got[i]! - honest[i]!);
      assert.deepEqual(diffs, [MODULUS_P]);
      assert.equal(s.server.tamper?.tampered, 1);
    });
  });

  test('non-integer puts a fraction, NaN, ±Infinity or a value beyond 2^53 in one element of a wide result, passed on to the check', async () => {
    await withTamper(
      'non-integer',
      async (c) => {
        const req = () => makeRequest(new SeededRng(4), 'conv2d', 'wide', DIMS);
        const honest = (await computeLinear(kernels, req())).data;
        const seen: number[] = [];
        for (let k = 0; k < 6; k++) {
          const got = (await c.call(req())).result.data;
          const off: number[] = [];
          for (let i = 0; i < got.length; i++) if (!Object.is(got[i], honest[i])) off.push(got[i]!);
          assert.equal(off.length, 1);
          assert.ok(!Number.isSafeInteger(off[0]!), `${off[0]}`);
          seen.push(off[0]!);
        }
        assert.ok(seen.some(Number.isNaN) && seen.includes(Infinity) && seen.includes(-Infinity));
        assert.ok(seen.some((v) => Number.isFinite(v) && !Number.isInteger(v)));
      },
      { every: 1 },
    );
  });

  for (const mode of ['add-modulus', 'non-integer'] as const) {
    test(`${mode} leaves f32 and modp replies honest (a modp value plus p would be out of range)`, async () => {
      await withTamper(
        mode,
        async (c, s) => {
          for (const arith of ['f32', 'modp'] as const) {
            const honest = (await computeLinear(kernels, makeRequest(new SeededRng(4), 'dense', arith, DIMS)))
              .data;
            assert.deepEqual(
              (await c.call(makeRequest(new SeededRng(4), 'dense', arith, DIMS))).result.data,
              honest,
            );
          }
          assert.equal(s.server.tamper?.tampered, 0);
        },
        { every: 1 },
      );
    });
  }

  test('a reply of the wrong shape is refused from its header, before its payload is read (E_FRAME)', async () => {
    await withTamper('wrong-shape', async (c) => {
      const req = makeRequest(new SeededRng(1), 'dense', 'f32', DIMS);
      await assert.rejects(
        c.call(req),
        isCode('E_FRAME', /^result frame of 76 bytes for dense #1, expected 60 bytes$/),
      );
      // The connection was dropped; the next call opens a fresh one and gets an honest answer.
      const r = await c.call(req);
      assert.equal(r.result.data.length, 8);
      assert.equal(c.stats().connects, 2);
    });
  });

  test('a wide reply of the wrong shape is refused from its header (E_FRAME)', async () => {
    await withTamper('wrong-shape', async (c) => {
      const req = makeRequest(new SeededRng(1), 'dense', 'wide', DIMS);
      const want = resultPayloadBytes([DIMS.n, DIMS.o], 'wide');
      const sent = resultPayloadBytes([DIMS.n + 1, DIMS.o], 'wide');
      await assert.rejects(
        c.call(req),
        isCode('E_FRAME', new RegExp(`^result frame of ${sent} bytes for dense #1, expected ${want} bytes$`)),
      );
    });
  });

  for (const arith of ['f32', 'wide'] as const) {
    test(`garbage bytes in place of a ${arith} reply are E_FRAME`, async () => {
      await withTamper('garbage', async (c) => {
        await assert.rejects(c.call(makeRequest(new SeededRng(1), 'dense', arith, DIMS)), isCode('E_FRAME'));
      });
    });
  }

  test('a wide connection dropped in the middle of a reply is E_NETWORK', async () => {
    await withTamper('drop-mid-frame', async (c) => {
      await assert.rejects(
        c.call(makeRequest(new SeededRng(1), 'conv2dGradInput', 'wide', DIMS)),
        isCode('E_NETWORK', /closed in the middle of a reply$/),
      );
    });
  });

  test('an accelerator that never replies is E_NETWORK at the deadline, and the next call reconnects', async () => {
    await withTamper('never-reply', async (c) => {
      const req = makeRequest(new SeededRng(1), 'denseGradInput', 'modp', DIMS);
      const t0 = Date.now();
      await assert.rejects(
        c.call(req, { deadlineMs: 150 }),
        isCode(
          'E_NETWORK',
          /^no reply from accelerator 127\.0\.0\.1:\d+ to denseGradInput request #1 within 150 ms$/,
        ),
      );
      assert.ok(Date.now() - t0 < 1000);
      assert.equal((await c.call(req)).result.data.length, DIMS.n * DIMS.i);
    });
  });

  test('a timeout fails the other calls pipelined on the same connection with E_NETWORK', async () => {
    await withTamper(
      'never-reply',
      async (c) => {
        const req = makeRequest(new SeededRng(1), 'dense', 'f32', DIMS);
        const stuck = c.call(req, { deadlineMs: 150 });
        const behind = c.call(req, { deadlineMs: 5000 });
        await assert.rejects(stuck, isCode('E_NETWORK', /within 150 ms/));
        await assert.rejects(behind, isCode('E_NETWORK', /dropped after a timeout/));
      },
      { every: 1 },
    );
  });

  test('a reply skipped by the accelerator shows as an out-of-order reply (E_FRAME)', async () => {
    await withTamper('never-reply', async (c) => {
      const req = makeRequest(new SeededRng(1), 'dense', 'f32', DIMS);
      const skipped = c.call(req);
      const next = c.call(req);
      await assert.rejects(
        skipped,
        isCode('E_FRAME', /^reply #2 from accelerator 127\.0\.0\.1:\d+, expected #1$/),
      );
      await assert.rejects(next, isCode('E_NETWORK', /dropped after a malformed reply$/));
    });
  });

  test('a connection dropped in the middle of a reply is E_NETWORK', async () => {
    await withTamper('drop-mid-frame', async (c, s) => {
      await assert.rejects(
        c.call(makeRequest(new SeededRng(1), 'conv2dGradWeight', 'f32', DIMS)),
        isCode('E_NETWORK', /^connection to accelerator 127\.0\.0\.1:\d+ closed in the middle of a reply$/),
      );
      await c.call(makeRequest(new SeededRng(1), 'conv2dGradWeight', 'f32', DIMS));
      assert.match(s.logs[0]!, /close="tamper: dropped mid-frame"/);
    });
  });
});

describe('a hostile client, seen from the server', { timeout: 60_000 }, () => {
  let s: TestServer;
  let good: AcceleratorClient;
  before(async () => {
    s = await startServer({ maxFrameBytes: 4096, helloTimeoutMs: 300 });
    good = await AcceleratorClient.connect(s.address);
  });
  after(async () => {
    await good.close();
    await s.server.close();
  });

  async function goodClientStillServed(): Promise<void> {
    const req = makeRequest(new SeededRng(3), 'dense', 'modp', DIMS);
    assert.equal((await good.call(req)).result.data.length, DIMS.n * DIMS.o);
  }

  test('an over-limit frame gets an E_FRAME error frame and closes that connection only', async () => {
    const h = Buffer.alloc(16);
    h.writeUInt16LE(0x4654, 0);
    h.writeUInt8(PROTOCOL_VERSION, 2);
    h.writeUInt8(FrameType.request, 3);
    h.writeUInt32LE(5, 4);
    h.writeUInt32LE(8192, 8);
    const r = await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, h]));
    assert.equal(r.closed, true);
    assert.equal(r.frames.length, 1);
    assert.deepEqual(r.frames[0]!.error, {
      kind: 'frame',
      message: 'frame payload of 8192 bytes exceeds the limit of 4096 bytes',
    });
    assert.equal(r.frames[0]!.id, 0); // the header itself was refused: an error about the connection
    await goodClientStillServed();
  });

  test('a malformed request gets an E_FRAME error frame naming it, after the good requests before it', async () => {
    const ok = concat(encodeRequest(1, makeRequest(new SeededRng(1), 'dense', 'f32', DIMS)));
    const bad = rawRequestPayload(makeRequest(new SeededRng(1), 'dense', 'f32', DIMS));
    bad.writeUInt8(1, 0); // now a denseGradInput whose operands do not fit
    const r = await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, ok, rawRequestFrame(2, bad), ok]));
    assert.equal(r.closed, true);
    assert.deepEqual(
      r.frames.map((f) => [f.type, f.id]),
      [
        [FrameType.result, 1],
        [FrameType.error, 2],
      ],
    );
    assert.deepEqual(r.frames[1]!.error, {
      kind: 'frame',
      message: 'denseGradInput: a [2,5] does not fit b [4,5]',
    });
    await goodClientStillServed();
  });

  test('a modp operand outside the centered range is refused (E_FRAME) and closes the connection', async () => {
    const req = makeRequest(new SeededRng(1), 'dense', 'modp', DIMS);
    (req.b.data as Int32Array)[3] = 1 << 30;
    const r = await rawExchange(
      s.port,
      Buffer.concat([CLIENT_HELLO, rawRequestFrame(9, rawRequestPayload(req))]),
    );
    assert.equal(r.closed, true);
    assert.deepEqual(r.frames[0]!.error, {
      kind: 'frame',
      message: 'dense: b: value 1073741824 at index 3 is outside the centered range [-8388606, 8388606]',
    });
    await goodClientStillServed();
  });

  test('a result frame sent by a client, a bad hello and a missing hello each close the connection with E_FRAME', async () => {
    const result = Buffer.alloc(16);
    result.writeUInt16LE(0x4654, 0);
    result.writeUInt8(PROTOCOL_VERSION, 2);
    result.writeUInt8(FrameType.result, 3);
    const r1 = await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, result]));
    assert.deepEqual(r1.frames[0]!.error, {
      kind: 'frame',
      message: 'unexpected frame type 2 from a client',
    });
    const r2 = await rawExchange(s.port, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.padEnd(40)));
    assert.equal(r2.closed, true);
    assert.equal(r2.frames[0]!.error?.kind, 'frame');
    assert.match(r2.frames[0]!.error!.message, /^bad hello magic 0x20544547/);
    const r3 = await rawExchange(s.port, Buffer.alloc(0));
    assert.equal(r3.closed, true);
    assert.deepEqual(r3.frames[0]!.error, { kind: 'frame', message: 'no hello from the client in time' });
    await goodClientStillServed();
  });

  test('a client refuses to send a request over the accelerator limit (E_FRAME)', async () => {
    const req = makeRequest(new SeededRng(1), 'dense', 'f32', { ...DIMS, n: 40, i: 40 });
    await assert.rejects(
      good.call(req),
      isCode('E_FRAME', /^request payload of \d+ bytes exceeds the accelerator's limit of 4096 bytes$/),
    );
    await goodClientStillServed();
  });

  test('a connection that stops in the middle of a frame is logged as truncated', async () => {
    const frame = concat(encodeRequest(1, makeRequest(new SeededRng(1), 'dense', 'f32', DIMS)));
    const before = s.logs.length;
    await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, frame.subarray(0, 30)]), 100);
    for (let i = 0; i < 50 && s.logs.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    assert.match(
      s.logs[before]!,
      /close="E_FRAME: truncated frame: the stream ended after 14 of \d+ payload bytes"/,
    );
  });
});

describe('slow and greedy clients', { timeout: 60_000 }, () => {
  test('a client that pipelines many requests without reading its replies is held to a bounded queue', async () => {
    const s = await startServer({ maxQueuedRequests: 4 });
    const socket = connect({ host: '127.0.0.1', port: s.port });
    try {
      // Each reply is 1 MiB (dw [512,512]); the client never reads, so replies back up and the server must
      // stop computing, then stop reading: the remaining requests stay in TCP buffers.
      const req = makeRequest(new SeededRng(1), 'denseGradWeight', 'f32', { ...DIMS, n: 1, o: 512, i: 512 });
      const one = concat(encodeRequest(1, req));
      socket.pause();
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(Buffer.concat([CLIENT_HELLO, ...Array.from({ length: 500 }, () => one)]));
      await new Promise((r) => setTimeout(r, 500));
      const st = s.server.stats();
      assert.ok(st.peakQueuedRequests <= 4, `queue ${st.peakQueuedRequests}`);
      assert.ok(st.ops < 100, `ops ${st.ops}`);
    } finally {
      socket.destroy();
      await s.server.close();
    }
  });

  test('a client silent in the middle of a frame is closed with E_FRAME', async () => {
    const s = await startServer({ idleTimeoutMs: 150 });
    try {
      const frame = concat(encodeRequest(1, makeRequest(new SeededRng(1), 'dense', 'f32', DIMS)));
      const r = await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, frame.subarray(0, 40)]), 3000);
      assert.equal(r.closed, true);
      assert.deepEqual(r.frames[0]!.error, {
        kind: 'frame',
        message: 'no data for 150 ms in the middle of a frame',
      });
      assert.equal(s.server.stats().inFlightBytes, 0);
    } finally {
      await s.server.close();
    }
  });

  test('an idle connection between frames stays open', async () => {
    const s = await startServer({ idleTimeoutMs: 100 });
    const c = await AcceleratorClient.connect(s.address);
    try {
      await new Promise((r) => setTimeout(r, 300));
      await c.call(makeRequest(new SeededRng(1), 'dense', 'f32', DIMS));
      assert.equal(c.stats().connects, 1);
    } finally {
      await c.close();
      await s.server.close();
    }
  });
});

describe('connection failures, seen from the client', { timeout: 60_000 }, () => {
  test('reconnect() gives the next call a fresh connection and lets the calls in flight finish on the old one', async () => {
    const s = await startServer();
    const c = await AcceleratorClient.connect(s.address);
    try {
      const rng = new SeededRng(31);
      const dims = { n: 256, i: 1024, o: 1024, c: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0 };
      const big = makeRequest(rng, 'dense', 'f32', dims);
      const want = (await computeLinear(kernels, big)).data;
      const inFlight = c.call(big);
      await new Promise((r) => setImmediate(r)); // the request is on the wire, its reply not yet back
      await c.reconnect();
      const after = makeRequest(rng, 'dense', 'f32', DIMS);
      const [old, fresh] = await Promise.all([inFlight, c.call(after)]);
      assert.deepEqual(old.result.data, want, 'answered on the old connection');
      assert.deepEqual(fresh.result.data, (await computeLinear(kernels, after)).data);
      assert.equal(c.stats().connects, 2);
      assert.equal(c.stats().failures, 0);
      // The old connection closed once drained: only the fresh one is open.
      for (let i = 0; i < 100 && s.server.stats().openConnections > 1; i++)
        await new Promise((r) => setTimeout(r, 10));
      assert.equal(s.server.stats().openConnections, 1);
    } finally {
      await c.close();
      await s.server.close();
    }
  });

  test('a refused connection is E_NETWORK', async () => {
    const s = await startServer();
    const port = s.port;
    await s.server.close();
    await assert.rejects(
      AcceleratorClient.connect(`127.0.0.1:${port}`),
      isCode('E_NETWORK', new RegExp(`^cannot connect to accelerator 127\\.0\\.0\\.1:${port}: ECONNREFUSED`)),
    );
  });

  test('a server shutting down fails pending calls with E_NETWORK', async () => {
    const s = await startServer({ tamper: { mode: 'never-reply' } });
    const c = await AcceleratorClient.connect(s.address);
    const call = c.call(makeRequest(new SeededRng(1), 'dense', 'f32', DIMS));
    await new Promise((r) => setTimeout(r, 50));
    await s.server.close();
    await assert.rejects(call, isCode('E_NETWORK', /closed$/));
    await c.close();
  });

  test('a closed client refuses calls with E_NETWORK', async () => {
    const s = await startServer();
    const c = await AcceleratorClient.connect(s.address);
    await c.close();
    await assert.rejects(
      c.call(makeRequest(new SeededRng(1), 'dense', 'f32', DIMS)),
      isCode('E_NETWORK', /is closed$/),
    );
    await s.server.close();
  });
});
