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
const DIMS = { n: 1, c: 2, h: 5, w: 5, o: 3, k: 3, stride: 1, padding: 1, i: 4 };

/** Hello and one raw request with this id; the replies within 1.5 s. */
function exchange(port: number, id: number, req: LinearRequest) {
  return rawExchange(port, Buffer.concat([CLIENT_HELLO, rawRequestFrame(id, rawRequestPayload(req))]), 1500);
}

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
        const r = await exchange(s.port, 7, hostile(op, arith));
        assert.equal(r.frames.length, 1, JSON.stringify(r.frames));
        assert.equal(r.frames[0]!.type, FrameType.result, JSON.stringify(r.frames[0]));
        assert.equal(r.frames[0]!.id, 7);
        assert.equal(r.closed, false, 'the connection stays open');
      });
    }
  }

  for (const arith of ARITHS) {
    it(`${arith}: an operand with no elements gives zeros at once (no kernel over taps that multiply nothing)`, async () => {
      // 4096 images of dy with 0 channels through a 1024×1024 kernel padded by 512: ~2.5 ms per image of
      // empty loops before (10 s, past the wait below); a result of 4096 zeros now.
      const req: LinearRequest = {
        op: 'conv2dGradInput',
        arith,
        stride: 1,
        padding: 512,
        inputHW: [1, 1],
        a: empty([4096, 0, 2, 2], arith),
        b: empty([0, 1, 1024, 1024], arith),
      };
      const r = await exchange(s.port, 9, req);
      assert.equal(r.frames[0]?.type, FrameType.result, JSON.stringify(r.frames));
      assert.ok(r.frames[0]!.length > 4096 * 4, 'a result of 4096 elements');
    });
  }

  it('refuses a product over --max-request-macs (E_FRAME) before computing it', async () => {
    const small = await startServer({ threads: 1, maxRequestMacs: 1000 });
    try {
      const req = makeRequest(new SeededRng(6), 'dense', 'f32', { ...DIMS, n: 16, o: 16, i: 16 });
      const r = await exchange(small.port, 3, req);
      assert.equal(r.frames[0]?.type, FrameType.error, JSON.stringify(r.frames));
      assert.match(
        r.frames[0]!.error!.message,
        /needs 4096 multiply-adds, over the limit of 1000 \(--max-request-macs\)/,
      );
    } finally {
      await small.server.close();
    }
  });

  it('still computes a real product afterwards', async () => {
    const c = new AcceleratorClient(s.address);
    try {
      const req = makeRequest(new SeededRng(5), 'conv2d', 'modp', DIMS);
      const reply = await c.call(req);
      assert.deepEqual(reply.result.shape, [1, 3, 5, 5]);
    } finally {
      await c.close();
    }
  });
});
