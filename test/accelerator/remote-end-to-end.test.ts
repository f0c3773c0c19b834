// The seam end to end: RemoteLinearOps (the trusted side's checks) over AcceleratorClient (this wire
// protocol) against a live accelerator, compared with LocalLinearOps; a lying accelerator is caught. Run
// against an accelerator on the CPU kernels and on the GPU backend (its CPU emulation here; CUDA where the
// GPU suite runs: test/accelerator/gpu-linear.test.ts).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AcceleratorServerOptions } from '../../src/accelerator/server.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import {
  type IntegrityMode,
  type ProductTrace,
  RemoteLinearOps,
} from '../../src/enclave/remote-linear-ops.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import type { LinearOps } from '../../src/kernels/linear-ops.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { startServer } from './harness.js';

function rand(rng: SeededRng, shape: number[]): Tensor {
  const t = new Tensor(shape);
  for (let i = 0; i < t.size; i++) t.data[i] = 2 * rng.nextFloat() - 1;
  return t;
}

const p = { stride: 2, padding: 1 };
// x [2,3,7,6], w [4,3,3,3] → y [2,4,4,3]; dense x [5,6], w [3,6]
const PRODUCTS: [string, (ops: LinearOps, r: SeededRng) => Promise<Tensor>][] = [
  ['dense', (ops, r) => ops.dense(rand(r, [5, 6]), rand(r, [3, 6]))],
  ['denseGradInput', (ops, r) => ops.denseGradInput(rand(r, [5, 3]), rand(r, [3, 6]))],
  ['denseGradWeight', (ops, r) => ops.denseGradWeight(rand(r, [5, 3]), rand(r, [5, 6]))],
  ['conv2d', (ops, r) => ops.conv2d(rand(r, [2, 3, 7, 6]), rand(r, [4, 3, 3, 3]), p)],
  [
    'conv2dGradInput',
    (ops, r) => ops.conv2dGradInput(rand(r, [2, 4, 4, 3]), rand(r, [4, 3, 3, 3]), p, [7, 6]),
  ],
  ['conv2dGradWeight', (ops, r) => ops.conv2dGradWeight(rand(r, [2, 4, 4, 3]), rand(r, [2, 3, 7, 6]), p, 3)],
];

const BACKENDS: [string, AcceleratorServerOptions][] = [
  ['CPU kernels', {}],
  ['GPU backend, emulated', { gpu: { kind: 'emulated' } }],
];

for (const [backend, server] of BACKENDS)
  describe(`RemoteLinearOps over the wire (accelerator on the ${backend})`, { timeout: 60_000 }, () => {
    for (const integrity of ['exact', 'float'] as IntegrityMode[]) {
      test(`${integrity}: every product matches LocalLinearOps and passes its check on the first attempt`, async () => {
        const s = await startServer(server);
        const client = await AcceleratorClient.connect(s.address);
        const traces: ProductTrace[] = [];
        const remote = new RemoteLinearOps(client, { integrity, onProduct: (t) => traces.push(t) });
        const local = new LocalLinearOps(kernels);
        try {
          for (const [name, run] of PRODUCTS) {
            const got = await run(remote, new SeededRng(1));
            const want = await run(local, new SeededRng(1));
            assert.deepEqual(got.shape, want.shape, name);
            const trace = traces[traces.length - 1]!;
            let scale = 0;
            for (const v of want.data) scale = Math.max(scale, Math.abs(v));
            const tol = (trace.errorBound ?? 0) + 1e-5 * scale + 1e-6;
            for (let i = 0; i < want.size; i++) {
              assert.ok(
                Math.abs(got.data[i]! - want.data[i]!) <= tol,
                `${name}[${i}]: ${got.data[i]} vs ${want.data[i]}`,
              );
            }
            assert.equal(trace.attempts, 1, name);
          }
        } finally {
          await client.close();
          await s.server.close();
        }
      });
    }

    test('a reply corrupted once is caught by the check and the retry on a fresh connection succeeds', async () => {
      const s = await startServer({ ...server, tamper: { mode: 'flip-element', from: 0, every: 1000 } });
      const client = await AcceleratorClient.connect(s.address);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(client, { onProduct: (t) => traces.push(t) });
      try {
        await PRODUCTS[3]![1](remote, new SeededRng(1));
        assert.equal(traces[0]!.attempts, 2);
        assert.equal(client.stats().connects, 2);
      } finally {
        await client.close();
        await s.server.close();
      }
    });

    for (const mode of ['flip-element', 'change-row', 'scale', 'replay', 'non-integer'] as const) {
      test(`an accelerator that always lies (${mode}) is E_VERIFY, and nothing unverified is returned`, async () => {
        const s = await startServer({
          ...server,
          tamper: { mode, from: mode === 'replay' ? 1 : 0, every: 1 },
        });
        const client = await AcceleratorClient.connect(s.address);
        const remote = new RemoteLinearOps(client);
        try {
          if (mode === 'replay') await PRODUCTS[0]![1](remote, new SeededRng(1)); // an honest first reply to replay
          await assert.rejects(PRODUCTS[0]![1](remote, new SeededRng(2)), (e) => isTeeError(e, 'E_VERIFY'));
        } finally {
          await client.close();
          await s.server.close();
        }
      });
    }
  });
