// Requests whose result is empty but whose other dimensions are huge (0 images of 2^31−1 × 2^31−1 planes,
// 0 channels): nothing bounds those dimensions but the result's size, so a kernel that sized a scratch
// buffer by them aborted the whole server (a 152-byte frame). The server answers them with an empty
// result without computing, for every convolution and arith, and keeps serving.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { FrameType } from '../../src/protocol/frame.js';
import type { Arith, LinearRequest, WireTensor } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { ARITHS, makeRequest, rawRequestFrame, rawRequestPayload } from '../protocol/requests.js';
import { CLIENT_HELLO, rawExchange, startServer, type TestServer } from './harness.js';

const BIG = 2 ** 31 - 1;

function empty(shape: number[], arith: Arith): WireTensor {
  return { shape, data: arith === 'f32' ? new Float32Array(0) : new Int32Array(0) };
}

function hostile(op: 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight', arith: Arith): LinearRequest {
  const p = { stride: 1, padding: 0 };
  switch (op) {
    case 'conv2d':
      return { op, arith, ...p, a: empty([0, 0, BIG, BIG], arith), b: empty([1, 0, 1, 1], arith) };
    case 'conv2dGradInput':
      return {
        op,
        arith,
        ...p,
        inputHW: [BIG, BIG],
        a: empty([0, 1, BIG, BIG], arith),
        b: empty([1, 0, 1, 1], arith),
      };
    case 'conv2dGradWeight':
      return { op, arith, ...p, k: 1, a: empty([0, 1, BIG, BIG], arith), b: empty([0, 0, BIG, BIG], arith) };
  }
}

describe('requests with an empty result and huge dimensions', { timeout: 60_000 }, () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ threads: 1 });
  });
  after(async () => {
    await s.server.close();
  });

  for (const arith of ARITHS) {
    for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
      it(`${op} ${arith}: an empty result, the connection and the server stay up`, async () => {
        const frame = rawRequestFrame(7, rawRequestPayload(hostile(op, arith)));
        const r = await rawExchange(s.port, Buffer.concat([CLIENT_HELLO, frame]), 1500);
        assert.equal(r.frames.length, 1, JSON.stringify(r.frames));
        assert.equal(r.frames[0]!.type, FrameType.result, JSON.stringify(r.frames[0]));
        assert.equal(r.frames[0]!.id, 7);
        assert.equal(r.closed, false, 'the connection stays open');
      });
    }
  }

  it('still computes a real product afterwards', async () => {
    const c = new AcceleratorClient(s.address);
    try {
      const req = makeRequest(new SeededRng(5), 'conv2d', 'modp', {
        n: 1,
        c: 2,
        h: 5,
        w: 5,
        o: 3,
        k: 3,
        stride: 1,
        padding: 1,
        i: 4,
      });
      const reply = await c.call(req);
      assert.deepEqual(reply.result.shape, [1, 3, 5, 5]);
    } finally {
      await c.close();
    }
  });
});
