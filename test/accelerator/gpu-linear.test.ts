// The accelerator's GPU backend (native/gpu/, src/accelerator/gpu-linear.ts) against the CPU products
// (computeLinear): all six ops in the three ariths, over geometries that exercise the chunked mod-p GEMMs
// (inner dimensions past 128), strides, padding, 1×1 and 11×11 kernels, and image groups (a column
// budget small enough to split a batch). Exact ariths must be bit-identical; float32 within rounding.
// Runs on the CPU emulation everywhere (the same linear.cc and kernels.cuh, its GEMM and kernels as
// loops), and on a CUDA GPU too where one opens (set TEE_OFFLOAD_CUDA_LIBS if its libraries are off
// the loader's path); the CUDA suite is skipped, saying why, elsewhere. Then: out-of-range operands are
// E_FRAME naming the op, operand and index, as on the CPU; an accelerator server with the GPU backend
// answers a client bit for bit as a CPU server does.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { computeLinear } from '../../src/accelerator/compute.js';
import { computeLinearGpu, type GpuKind, openGpu } from '../../src/accelerator/gpu-linear.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { HALF_P } from '../../src/protocol/linear-codec.js';
import type { Arith, LinearRequest, WireTensor } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { startServer, type TestServer } from './harness.js';

type Data = Float32Array | Int32Array | Float64Array;

function tensor(rng: SeededRng, shape: number[], arith: Arith): WireTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (arith === 'f32') {
    const d = new Float32Array(n);
    for (let i = 0; i < n; i++) d[i] = rng.nextFloat() * 2 - 1;
    return { shape, data: d };
  }
  // modp: the whole centered range (chunking is what keeps the sums exact); wide: |v| ≤ 2^17, so that
  // every sum here stays below 2^47 while its products are far past float32's exact range.
  const bound = arith === 'modp' ? HALF_P : 2 ** 17;
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = rng.nextFloat() < 0.2 ? bound : rng.nextInt(bound + 1);
    d[i] = rng.nextInt(2) === 0 ? v : -v;
  }
  return { shape, data: d };
}

/** [n, c, h, w, o, k, stride, padding] */
type Geometry = readonly [number, number, number, number, number, number, number, number];

const CONVS: Geometry[] = [
  [3, 16, 9, 9, 5, 3, 1, 1], // C·k² = 144: two mod-p chunks
  [2, 3, 11, 10, 4, 5, 2, 2], // stride 2, non-square
  [2, 8, 7, 7, 6, 1, 1, 0], // 1×1
  [1, 2, 15, 15, 3, 11, 4, 2], // AlexNet's first layer's shape
];

function requests(rng: SeededRng, arith: Arith): LinearRequest[] {
  const r: LinearRequest[] = [
    { op: 'dense', arith, a: tensor(rng, [3, 300], arith), b: tensor(rng, [5, 300], arith) },
    { op: 'dense', arith, a: tensor(rng, [1, 1], arith), b: tensor(rng, [1, 1], arith) },
    { op: 'denseGradInput', arith, a: tensor(rng, [3, 200], arith), b: tensor(rng, [200, 7], arith) },
    { op: 'denseGradWeight', arith, a: tensor(rng, [130, 6], arith), b: tensor(rng, [130, 9], arith) },
  ];
  for (const [n, c, h, w, o, k, s, p] of CONVS) {
    const oh = Math.floor((h + 2 * p - k) / s) + 1;
    const ow = Math.floor((w + 2 * p - k) / s) + 1;
    const x = [n, c, h, w];
    const wt = [o, c, k, k];
    const dy = [n, o, oh, ow];
    const conv = { stride: s, padding: p };
    r.push({ op: 'conv2d', arith, a: tensor(rng, x, arith), b: tensor(rng, wt, arith), ...conv });
    r.push({
      op: 'conv2dGradInput',
      arith,
      a: tensor(rng, dy, arith),
      b: tensor(rng, wt, arith),
      inputHW: [h, w],
      ...conv,
    });
    r.push({
      op: 'conv2dGradWeight',
      arith,
      a: tensor(rng, dy, arith),
      b: tensor(rng, x, arith),
      k,
      ...conv,
    });
  }
  return r;
}

function label(req: LinearRequest): string {
  return `${req.op} ${req.arith} a=[${req.a.shape}] b=[${req.b.shape}]`;
}

async function assertMatchesCpu(req: LinearRequest): Promise<void> {
  const want = await computeLinear(kernels, req);
  const got = computeLinearGpu(req);
  assert.deepEqual(got.shape, want.shape, label(req));
  const g = got.data as Data;
  const w = want.data as Data;
  assert.equal(g.constructor, w.constructor, `${label(req)}: result type`);
  assert.equal(g.length, w.length, label(req));
  if (req.arith !== 'f32') {
    for (let i = 0; i < g.length; i++) {
      if (g[i] !== w[i]) assert.fail(`${label(req)}: element ${i} is ${g[i]}, the CPU's ${w[i]}`);
    }
    return;
  }
  // Inner dimensions ≤ 300 of |v| ≤ 1: float32 sums in any order are within ~300·2^-24·300 of each other.
  for (let i = 0; i < g.length; i++) {
    if (!(Math.abs(g[i]! - w[i]!) <= 1e-3))
      assert.fail(`${label(req)}: element ${i} is ${g[i]}, the CPU's ${w[i]}`);
  }
}

function cudaUnavailable(): string | false {
  try {
    const dirs = process.env.TEE_OFFLOAD_CUDA_LIBS?.split(':').filter((d) => d !== '');
    openGpu('cuda', dirs ? { libDirs: dirs } : {});
    return false;
  } catch (e) {
    return `no CUDA GPU here (${(e as Error).message})`;
  }
}

function suite(kind: GpuKind, skip: string | false): void {
  describe(`GPU backend (${kind}) against the CPU products`, { skip }, () => {
    const dirs = process.env.TEE_OFFLOAD_CUDA_LIBS?.split(':').filter((d) => d !== '');
    for (const arith of ['modp', 'wide', 'f32'] as const) {
      test(`six ops, ${arith}`, async () => {
        openGpu(kind, dirs ? { libDirs: dirs } : {});
        for (const req of requests(new SeededRng(7 + arith.length), arith)) await assertMatchesCpu(req);
      });
    }

    test('convolutions in groups of one image (column budget below one image) match too', async () => {
      openGpu(kind, { ...(dirs ? { libDirs: dirs } : {}), columnBytes: 1 });
      try {
        for (const arith of ['modp', 'wide', 'f32'] as const) {
          for (const req of requests(new SeededRng(99), arith)) {
            if (req.op.startsWith('conv')) await assertMatchesCpu(req);
          }
        }
      } finally {
        openGpu(kind, dirs ? { libDirs: dirs } : {});
      }
    });

    test('copies larger than the staging buffers (several 8 MiB chunks, a partial last one) round-trip exactly', async () => {
      openGpu(kind, dirs ? { libDirs: dirs } : {});
      const rng = new SeededRng(21);
      // dense: 12 MB and 8 MB operands up; dense grad-weight: a 72 MB float64 result down.
      const big: LinearRequest[] = [
        {
          op: 'dense',
          arith: 'wide',
          a: tensor(rng, [3, 1_000_003], 'f32'),
          b: tensor(rng, [2, 1_000_003], 'f32'),
        },
        {
          op: 'denseGradWeight',
          arith: 'wide',
          a: tensor(rng, [2, 3001], 'wide'),
          b: tensor(rng, [2, 2999], 'wide'),
        },
        {
          op: 'denseGradWeight',
          arith: 'f32',
          a: tensor(rng, [2, 2001], 'f32'),
          b: tensor(rng, [2, 1999], 'f32'),
        },
      ];
      // The first as exact operands too small for any sum to leave 2^47: |v| ≤ 2^11 (9·10^6·2^22 < 2^46).
      const small = (t: WireTensor): WireTensor => ({
        shape: t.shape,
        data: Int32Array.from(t.data as Float32Array, (v) => Math.round(v * 2048)),
      });
      big[0] = { ...big[0]!, a: small(big[0]!.a), b: small(big[0]!.b) };
      for (const req of big) await assertMatchesCpu(req);
    });

    test('an operand outside the centered range is E_FRAME, naming the op, operand and index', () => {
      openGpu(kind, dirs ? { libDirs: dirs } : {});
      const rng = new SeededRng(3);
      const cases: [LinearRequest, 'a' | 'b', number, number][] = [
        [
          { op: 'dense', arith: 'modp', a: tensor(rng, [2, 40], 'modp'), b: tensor(rng, [3, 40], 'modp') },
          'a',
          17,
          HALF_P + 1,
        ],
        [
          {
            op: 'conv2d',
            arith: 'wide',
            a: tensor(rng, [1, 2, 5, 5], 'wide'),
            b: tensor(rng, [3, 2, 3, 3], 'wide'),
            stride: 1,
            padding: 1,
          },
          'b',
          50,
          -(2 ** 31),
        ],
      ];
      for (const [req, which, at, value] of cases) {
        (req[which].data as Int32Array)[at] = value;
        assert.throws(
          () => computeLinearGpu(req),
          (e: unknown) =>
            isTeeError(e) &&
            e.code === 'E_FRAME' &&
            e.message.includes(`${req.op}: ${which}: value ${value} at index ${at}`),
        );
      }
    });
  });
}

test('the GPU binding refuses arrays that do not match their shapes, and element counts that overflow', () => {
  openGpu('emulated');
  const t = (shape: number[], n: number) => ({ shape, data: new Float32Array(n) });
  assert.throws(
    () => computeLinearGpu({ op: 'dense', arith: 'f32', a: t([3, 4], 11), b: t([5, 4], 20) }),
    (e: unknown) =>
      isTeeError(e) && e.code === 'E_NATIVE' && /operand lengths do not match the dims/.test(e.message),
  );
  // A one-element output from 2^30 channels of 4096² images: 2^54 elements per operand.
  assert.throws(
    () =>
      computeLinearGpu({
        op: 'conv2d',
        arith: 'f32',
        a: t([1, 2 ** 30, 4096, 4096], 1),
        b: t([1, 2 ** 30, 4096, 4096], 1),
        stride: 1,
        padding: 0,
      }),
    (e: unknown) => isTeeError(e) && e.code === 'E_NATIVE' && /dims too large/.test(e.message),
  );
});

suite('emulated', false);
suite('cuda', cudaUnavailable());

describe('an accelerator server on the GPU backend (emulated)', () => {
  let gpu: TestServer;
  let cpu: TestServer;
  let clients: AcceleratorClient[] = [];
  before(async () => {
    gpu = await startServer({ gpu: { kind: 'emulated' } });
    cpu = await startServer({});
  });
  after(async () => {
    for (const c of clients) c.close();
    await gpu.server.close();
    await cpu.server.close();
  });

  test('answers every product bit for bit (exact) as the CPU server does, and names its device', async () => {
    assert.equal(gpu.server.gpu?.kind, 'emulated');
    assert.equal(cpu.server.gpu, null);
    const g = await AcceleratorClient.connect(gpu.address, { deadlineMs: 60_000 });
    const c = await AcceleratorClient.connect(cpu.address, { deadlineMs: 60_000 });
    clients = [g, c];
    for (const req of requests(new SeededRng(5), 'wide').slice(0, 7)) {
      const a = (await g.call(req)).result;
      const b = (await c.call(req)).result;
      assert.deepEqual(a.shape, b.shape, label(req));
      assert.deepEqual(Array.from(a.data), Array.from(b.data), label(req));
    }
  });
});
