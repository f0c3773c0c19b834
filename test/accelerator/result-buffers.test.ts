// Result buffers are reused (server.ts compute, computeLinear's `out`): a product written into a buffer
// that still holds an earlier result (or garbage) must come out exactly as one computed into a fresh
// buffer, for every op and arith — the kernels overwrite every element and never read it — and a server
// answering products of one size in turn takes each result buffer back into its pool.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeLinear } from '../../src/accelerator/compute.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { kernels } from '../../src/kernels/index.js';
import { resultDataBytes } from '../../src/protocol/linear-codec.js';
import { LINEAR_OPS } from '../../src/protocol/linear-request.js';
import { outputShape } from '../../src/protocol/linear-shapes.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { ARITHS, makeRequest } from '../protocol/requests.js';
import { startServer } from './harness.js';

// 3×3 stride-2 convolutions (the grad-input product sums overlapping taps) and dense products.
const DIMS = { n: 2, c: 3, h: 9, w: 7, o: 4, k: 3, stride: 2, padding: 1, i: 6 };

function sameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) assert.fail(`${what}: element ${i} is ${got[i]}, want ${want[i]}`);
  }
}

describe('result buffers', () => {
  for (const arith of ARITHS) {
    test(`every ${arith} product written over garbage equals the product written into a fresh buffer`, async () => {
      for (const op of LINEAR_OPS) {
        const fresh = await computeLinear(kernels, makeRequest(new SeededRng(7), op, arith, DIMS));
        const bytes = resultDataBytes(outputShape(makeRequest(new SeededRng(7), op, arith, DIMS)), arith);
        const out = new ArrayBuffer(bytes + 64); // a pool's capacity is rounded up
        new Uint8Array(out).fill(0xa5); // NaN patterns as floats, large values as integers
        const reused = await computeLinear(
          kernels,
          makeRequest(new SeededRng(7), op, arith, DIMS),
          undefined,
          false,
          out,
        );
        assert.equal(reused.data.buffer, out, `${op}: the result is a view of the offered buffer`);
        assert.equal(reused.data.byteOffset, 0);
        sameBits(reused.data, fresh.data, `${arith} ${op}`);
      }
    });
  }

  test('a server answers products of one size in turn from reused buffers, each one correct', async () => {
    const s = await startServer();
    const c = await AcceleratorClient.connect(s.address);
    try {
      // Results of 2 MiB (above the pool's 1 MiB floor): 512 × 512 float64 values.
      const dims = { ...DIMS, n: 512, i: 64, o: 512 };
      for (let round = 0; round < 4; round++) {
        const rng = new SeededRng(100 + round);
        const req = makeRequest(rng, 'dense', 'wide', dims);
        const want = (
          await computeLinear(kernels, makeRequest(new SeededRng(100 + round), 'dense', 'wide', dims))
        ).data;
        const got = (await c.call(req)).result.data;
        sameBits(got, want, `round ${round}`);
        // The written result's buffer is back in the pool (the write completes before the reply is read).
        for (let i = 0; i < 100 && s.server.payloads.idleBytes < 512 * 512 * 8; i++)
          await new Promise((r) => setTimeout(r, 5));
        assert.ok(
          s.server.payloads.idleBytes >= 512 * 512 * 8,
          `round ${round}: ${s.server.payloads.idleBytes} idle bytes`,
        );
      }
    } finally {
      await c.close();
      await s.server.close();
    }
  });
});
