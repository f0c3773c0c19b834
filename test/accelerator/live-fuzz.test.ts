// Hostile bytes against a live accelerator: random streams, mutated frames and a bit-flipping proxy.
// The server must stay up, close only the offending connections, release their memory and keep
// serving a good client throughout; the client must fail only with E_FRAME or E_NETWORK.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlipProxy } from '../../src/accelerator/flip-proxy.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { encodeRequest } from '../../src/protocol/linear-codec.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { concat, makeRequest, randomRequest } from '../protocol/requests.js';
import { CLIENT_HELLO, rawExchange, startServer } from './harness.js';

function randomBytes(rng: SeededRng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = rng.nextU32() & 0xff;
  return b;
}

function hostileStream(rng: SeededRng, trial: number): Buffer {
  switch (trial % 4) {
    case 0:
      return randomBytes(rng, rng.nextInt(200)); // no hello at all
    case 1:
      return Buffer.concat([CLIENT_HELLO, randomBytes(rng, rng.nextInt(200))]);
    default: {
      // A hello, a valid frame, then a mutated one: bit flips, random u32 fields or a truncation.
      const good = concat(encodeRequest(1, randomRequest(rng)));
      const bad = Buffer.from(concat(encodeRequest(2, randomRequest(rng))));
      for (let i = 1 + rng.nextInt(3); i > 0; i--) {
        const at = rng.nextInt(Math.min(bad.length, 90));
        if (rng.nextInt(2) === 0) bad[at]! ^= 1 << rng.nextInt(8);
        else if (at + 4 <= bad.length) bad.writeUInt32LE(rng.nextU32(), at);
      }
      return Buffer.concat([
        CLIENT_HELLO,
        good,
        trial % 8 === 3 ? bad.subarray(0, rng.nextInt(bad.length)) : bad,
      ]);
    }
  }
}

test('a live accelerator survives hundreds of hostile connections and keeps serving a good client', {
  timeout: 60_000,
}, async () => {
  const s = await startServer({ maxFrameBytes: 64 * 1024, helloTimeoutMs: 200 });
  const good = await AcceleratorClient.connect(s.address, { deadlineMs: 10_000 });
  try {
    const rng = new SeededRng(77);
    let served = 0;
    let fuzzing = true;
    const goodLoop = (async () => {
      const r = new SeededRng(78);
      while (fuzzing) {
        await good.call(randomRequest(r));
        served++;
      }
    })();
    let errorFrames = 0;
    for (let batch = 0; batch < 12; batch++) {
      const outcomes = await Promise.all(
        Array.from({ length: 25 }, (_, i) => rawExchange(s.port, hostileStream(rng, batch * 25 + i), 250)),
      );
      for (const o of outcomes) errorFrames += o.frames.filter((f) => f.error?.kind === 'frame').length;
    }
    fuzzing = false;
    await goodLoop;
    assert.ok(served > 10, `the good client was served ${served} times during the fuzz`);
    assert.ok(errorFrames > 100, `${errorFrames} E_FRAME error frames`);
    // Every hostile connection is gone and its memory released; the good one is still served.
    for (let i = 0; i < 100 && s.server.stats().openConnections > 1; i++)
      await new Promise((r) => setTimeout(r, 20));
    const st = s.server.stats();
    assert.equal(st.openConnections, 1);
    assert.equal(st.inFlightBytes, 0);
    assert.equal(st.connections, 301);
    assert.equal((await good.call(randomRequest(rng))).result.shape.length > 0, true);
  } finally {
    await good.close();
    await s.server.close();
  }
});

test('through a bit-flipping proxy every call either answers or fails with E_FRAME or E_NETWORK', {
  timeout: 60_000,
}, async () => {
  const s = await startServer({ maxFrameBytes: 64 * 1024 });
  const proxy = await FlipProxy.start({
    targetHost: '127.0.0.1',
    targetPort: s.port,
    rate: 1 / 1500,
    skipBytes: 32,
    seed: 5,
  });
  const c = new AcceleratorClient(`127.0.0.1:${proxy.port}`, { deadlineMs: 400 });
  const outcomes = { ok: 0, E_FRAME: 0, E_NETWORK: 0 };
  try {
    const rng = new SeededRng(6);
    for (let i = 0; i < 60; i++) {
      try {
        await c.call(randomRequest(rng));
        outcomes.ok++;
      } catch (e) {
        assert.ok(isTeeError(e, 'E_FRAME') || isTeeError(e, 'E_NETWORK'), String(e));
        outcomes[e.code as 'E_FRAME' | 'E_NETWORK']++;
      }
    }
    assert.ok(proxy.flipped.up + proxy.flipped.down > 5, JSON.stringify(proxy.flipped));
    assert.ok(outcomes.ok > 20 && outcomes.ok < 60, JSON.stringify(outcomes));
    // The accelerator is unharmed: a direct client is served.
    const direct = await AcceleratorClient.connect(s.address);
    assert.ok((await direct.call(randomRequest(rng))).result.data.length >= 0);
    await direct.close();
  } finally {
    await c.close();
    await proxy.close();
    await s.server.close();
  }
});

test('wide results with flipped bits are refused (E_FRAME) when no longer integers below 2^53', {
  timeout: 60_000,
}, async () => {
  const s = await startServer({ maxFrameBytes: 64 * 1024 });
  // Replies only: each is a 1 KiB wide result, so about one in three gets a bit flipped. A flip in the
  // exponent or in a fraction bit makes a value fractional or huge (refused by the decoder); one in a
  // higher mantissa bit or the sign gives another integer (the trusted side's check refuses that).
  const proxy = await FlipProxy.start({
    targetHost: '127.0.0.1',
    targetPort: s.port,
    rate: 1 / 3000,
    direction: 'down',
    skipBytes: 32,
    seed: 9,
  });
  const c = new AcceleratorClient(`127.0.0.1:${proxy.port}`, { deadlineMs: 2000 });
  const refused = new Map<string, number>();
  let ok = 0;
  try {
    const rng = new SeededRng(10);
    const dims = { n: 8, i: 40, o: 16, c: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0 };
    for (let i = 0; i < 80; i++) {
      try {
        await c.call(makeRequest(rng, 'dense', 'wide', dims, 0.5));
        ok++;
      } catch (e) {
        assert.ok(isTeeError(e, 'E_FRAME') || isTeeError(e, 'E_NETWORK'), String(e));
        const kind = e.message.replace(/-?\d[\d.e+]*|NaN|-?Infinity/g, 'N');
        refused.set(kind, (refused.get(kind) ?? 0) + 1);
      }
    }
    assert.ok(proxy.flipped.down > 5, JSON.stringify(proxy.flipped));
    assert.ok(ok > 20, `${ok} answered`);
    const kinds = [...refused.keys()].join('\n');
    assert.match(kinds, /^result: value N at index N is not an integer in \(N\^N, N\^N\)$/m);
    // The accelerator is unharmed.
    const direct = await AcceleratorClient.connect(s.address);
    assert.equal((await direct.call(makeRequest(rng, 'dense', 'wide', dims))).result.data.length, 8 * 16);
    await direct.close();
    assert.equal(s.server.stats().inFlightBytes, 0);
  } finally {
    await c.close();
    await proxy.close();
    await s.server.close();
  }
});

test('a proxy with rate 0 forwards every byte faithfully', { timeout: 30_000 }, async () => {
  const s = await startServer();
  const proxy = await FlipProxy.start({ targetHost: '127.0.0.1', targetPort: s.port, rate: 0 });
  const c = await AcceleratorClient.connect(`127.0.0.1:${proxy.port}`);
  try {
    const rng = new SeededRng(8);
    for (let i = 0; i < 10; i++) await c.call(randomRequest(rng));
    assert.deepEqual(proxy.flipped, { up: 0, down: 0 });
    assert.equal(c.stats().failures, 0);
  } finally {
    await c.close();
    await proxy.close();
    await s.server.close();
  }
});
