// The in-process test transport's wide products (exact integers) and its lies about them, checked
// against the accelerator's own computation, so that RemoteLinearOps tests of wide rest on an honest base.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeLinear } from '../../src/accelerator/compute.js';
import { kernels } from '../../src/kernels/index.js';
import { LINEAR_OPS, MODULUS_P } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest } from '../protocol/requests.js';
import { InProcessTransport, WIDE_TAMPER_KINDS } from './remote-test-transport.js';

const DIMS = { n: 2, c: 3, h: 6, w: 5, o: 4, k: 3, stride: 2, padding: 1, i: 7 };

describe('InProcessTransport, arith wide', () => {
  it('answers every op with the exact integers the accelerator computes', async () => {
    for (const op of LINEAR_OPS) {
      const req = makeRequest(new SeededRng(1), op, 'wide', DIMS, 0.3);
      const got = (await new InProcessTransport().call(req)).result;
      assert.ok(got.data instanceof Float64Array);
      assert.deepEqual(got.data, (await computeLinear(kernels, req)).data, op);
    }
  });

  it('lies about wide results as each kind says', async () => {
    const req = () => makeRequest(new SeededRng(2), 'conv2d', 'wide', DIMS, 0.3);
    const honest = (await new InProcessTransport().call(req())).result.data;
    for (const kind of WIDE_TAMPER_KINDS) {
      const t = new InProcessTransport({ tamper: kind });
      if (kind === 'replay') await t.call(makeRequest(new SeededRng(3), 'conv2d', 'wide', DIMS, 0.3));
      const got = (await t.call(req())).result;
      if (kind === 'shape') {
        assert.notEqual(got.data.length, honest.length);
        continue;
      }
      if (kind === 'dtype') {
        assert.ok(!(got.data instanceof Float64Array));
        continue;
      }
      const diffs: number[] = [];
      for (let i = 0; i < honest.length; i++)
        if (got.data[i] !== honest[i]) diffs.push(got.data[i]! - honest[i]!);
      assert.ok(diffs.length > 0, kind);
      if (kind === 'add-modulus') assert.deepEqual(diffs, [MODULUS_P]);
      if (kind === 'flip') assert.equal(diffs.length, 1);
      if (kind === 'non-integer') {
        assert.equal(diffs.length, 1);
        const v = [...got.data].find((x) => !Number.isSafeInteger(x));
        assert.ok(v !== undefined, 'one value is no integer of the wire range');
      } else if (kind !== 'range') for (const d of diffs) assert.ok(Number.isSafeInteger(d), `${kind}: ${d}`);
    }
  });

  it('add-modulus and non-integer leave modp and f32 results honest', async () => {
    for (const arith of ['modp', 'f32'] as const) {
      const req = () => makeRequest(new SeededRng(4), 'dense', arith, DIMS);
      const honest = (await new InProcessTransport().call(req())).result.data;
      for (const tamper of ['add-modulus', 'non-integer'] as const) {
        assert.deepEqual((await new InProcessTransport({ tamper }).call(req())).result.data, honest);
      }
    }
  });
});
