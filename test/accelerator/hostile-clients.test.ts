// Clients that hold the server's resources without using them: connections that trickle the payload of
// large admitted frames (they held the memory budget every client shares, and a good client waited behind
// them) are closed once their payload arrives below the minimum rate; connections beyond maxConnections are
// closed at once, logged, and counted.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { FrameDecoder } from '../../src/protocol/frame-decoder.js';
import { decodeError } from '../../src/protocol/linear-codec.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest, rawRequestFrame, rawRequestPayload } from '../protocol/requests.js';
import { CLIENT_HELLO, startServer, type TestServer } from './harness.js';

const DIMS = { n: 1, c: 2, h: 5, w: 5, o: 3, k: 3, stride: 1, padding: 1, i: 4 };

/** A connection that sends its hello and the header and first bytes of a large frame, then a byte now and then. */
function trickler(port: number): { socket: Socket; errors: string[]; closed: Promise<void> } {
  const big = makeRequest(new SeededRng(1), 'dense', 'f32', { ...DIMS, n: 64, i: 2048, o: 1 });
  const frame = rawRequestFrame(1, rawRequestPayload(big)); // ~520 KiB
  const socket = connect({ host: '127.0.0.1', port });
  const errors: string[] = [];
  const d = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'accelerator' });
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  socket.on('connect', () => {
    socket.write(Buffer.concat([CLIENT_HELLO, frame.subarray(0, 64)]));
    sent = 64;
    timer = setInterval(() => {
      if (sent < frame.length) socket.write(frame.subarray(sent, ++sent));
    }, 50);
  });
  let helloSeen = false;
  socket.on('data', (c: Buffer) => {
    d.push(c);
    helloSeen ||= d.hello() !== null;
    if (!helloSeen) return;
    for (let f = d.next(); f !== null; f = d.next())
      if (f.type === 3) errors.push(decodeError(f.payload).message);
  });
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) =>
    socket.on('close', () => {
      clearInterval(timer);
      resolve();
    }),
  );
  return { socket, errors, closed };
}

describe('clients that trickle large frames', { timeout: 60_000 }, () => {
  let s: TestServer;
  before(async () => {
    // Budget: 1 MiB in all (one trickled frame fills it); 256 KiB/s at least, over 200 ms windows.
    s = await startServer({
      threads: 1,
      maxFrameBytes: 1 << 20,
      maxConnectionBytes: 1 << 20,
      maxTotalBytes: 1 << 20,
      minPayloadRate: 256 << 10,
      rateWindowMs: 200,
    });
  });
  after(async () => {
    await s.server.close();
  });

  it('are closed with E_FRAME, and a good client waiting behind them is served', async () => {
    const slow = [trickler(s.port), trickler(s.port)];
    await new Promise((r) => setTimeout(r, 100)); // the first one is admitted and holds the budget
    const c = new AcceleratorClient(s.address, { deadlineMs: 20_000 });
    try {
      const t0 = performance.now();
      const reply = await c.call(makeRequest(new SeededRng(2), 'conv2d', 'f32', DIMS));
      const ms = performance.now() - t0;
      assert.deepEqual(reply.result.shape, [1, 3, 5, 5]);
      assert.ok(ms < 10_000, `the good call waited ${ms.toFixed(0)} ms`);
    } finally {
      await c.close();
    }
    await Promise.all(slow.map((t) => t.closed));
    const reasons = slow.flatMap((t) => t.errors);
    assert.ok(reasons.length >= 1, 'at least the admitted trickler got an error frame');
    for (const r of reasons)
      assert.match(r, /payload arrived at \d+ bytes\/s, below the minimum of 262144 bytes\/s/);
    assert.ok(
      s.logs.some((l) => /close="E_FRAME: a frame's payload arrived at/.test(l)),
      s.logs.join('\n'),
    );
  });
});

describe('a client that never reads its results', { timeout: 60_000 }, () => {
  it('gets no new frame admitted while its socket is full, is closed after the idle timeout, and a good client is served', async () => {
    // Small frames with ~8 MiB results (dense 2048 × 1024 f32), sent many at once and never read.
    const s = await startServer({ threads: 1, maxFrameBytes: 16 << 20, idleTimeoutMs: 1000 });
    const big = makeRequest(new SeededRng(8), 'dense', 'f32', { ...DIMS, n: 2048, i: 1, o: 1024 });
    const frames = Buffer.concat(
      Array.from({ length: 40 }, (_, i) => rawRequestFrame(i + 1, rawRequestPayload(big))),
    );
    const hog = connect({ host: '127.0.0.1', port: s.port });
    hog.on('error', () => {});
    await new Promise((r) => hog.once('connect', r));
    hog.write(Buffer.concat([CLIENT_HELLO, frames]));
    hog.pause(); // never read
    try {
      await new Promise((r) => setTimeout(r, 300));
      const c = new AcceleratorClient(s.address, { deadlineMs: 20_000 });
      try {
        const reply = await c.call(makeRequest(new SeededRng(9), 'conv2d', 'f32', DIMS));
        assert.deepEqual(reply.result.shape, [1, 3, 5, 5]);
      } finally {
        await c.close();
      }
      // The hog reads nothing, so it may not notice the close: watch the server's log instead.
      for (let t = 0; t < 100 && !s.logs.some((l) => /read no result/.test(l)); t++)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(
        s.logs.some((l) => /close="the client read no result for 1000 ms"/.test(l)),
        s.logs.join('\n'),
      );
      assert.ok(
        s.server.stats().ops < 40,
        `${s.server.stats().ops} products computed for a client that read none`,
      );
    } finally {
      hog.destroy();
      await s.server.close();
    }
  });
});

describe('more connections than maxConnections', { timeout: 30_000 }, () => {
  it('closes the extra one at once, logs and counts it, and serves again once one closes', async () => {
    const s = await startServer({ threads: 1, maxConnections: 2 });
    const open: Socket[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const sock = connect({ host: '127.0.0.1', port: s.port });
        sock.on('error', () => {});
        await new Promise((r) => sock.once('connect', r));
        sock.write(CLIENT_HELLO);
        open.push(sock);
      }
      await new Promise((r) => setTimeout(r, 100));
      const extra = new AcceleratorClient(s.address, { connectTimeoutMs: 5000 });
      await assert.rejects(
        extra.call(makeRequest(new SeededRng(3), 'conv2d', 'f32', DIMS)),
        /E_NETWORK|closed/,
      );
      await extra.close();
      assert.equal(s.server.stats().refused, 1);
      assert.ok(
        s.logs.some((l) => /refused: 2 connections open, the most allowed/.test(l)),
        s.logs.join('\n'),
      );
      open.pop()!.destroy();
      await new Promise((r) => setTimeout(r, 100));
      const again = new AcceleratorClient(s.address);
      try {
        const reply = await again.call(makeRequest(new SeededRng(4), 'conv2d', 'f32', DIMS));
        assert.deepEqual(reply.result.shape, [1, 3, 5, 5]);
      } finally {
        await again.close();
      }
    } finally {
      for (const o of open) o.destroy();
      await s.server.close();
    }
  });
});
