import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeLinear, defaultModpEngine, type ModpEngine } from '../../src/accelerator/compute.js';
import { CHUNK, reduceCentered } from '../../src/accelerator/modp-ops.js';
import { isTeeError } from '../../src/errors.js';
import { kernels, referenceKernels } from '../../src/kernels/index.js';
import { decodeResult, encodeResult, HALF_P } from '../../src/protocol/linear-codec.js';
import {
  LINEAR_OPS,
  type LinearOpName,
  type LinearRequest,
  MODULUS_P,
} from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { type Dims, makeRequest } from '../protocol/requests.js';
import { largestAbsSum, referenceModp, referenceWide } from './modp-reference.js';

// Shapes whose inner dimension needs several 128-term chunks for each op: dense I = 300,
// denseGradInput O = 260, denseGradWeight N = 270, conv C·k·k = 15·9 = 135 (fwd), O = 130 (grad input),
// OH·OW = 12·12 = 144 per image (grad weight).
const BIG: Record<LinearOpName, Dims> = {
  dense: { n: 3, i: 300, o: 4, c: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0 },
  denseGradInput: { n: 3, i: 5, o: 260, c: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0 },
  denseGradWeight: { n: 270, i: 3, o: 4, c: 1, h: 1, w: 1, k: 1, stride: 1, padding: 0 },
  conv2d: { n: 2, c: 15, h: 6, w: 5, o: 3, k: 3, stride: 1, padding: 1, i: 0 },
  conv2dGradInput: { n: 2, c: 2, h: 5, w: 6, o: 130, k: 3, stride: 2, padding: 1, i: 0 },
  conv2dGradWeight: { n: 2, c: 2, h: 12, w: 12, o: 3, k: 3, stride: 1, padding: 1, i: 0 },
};

// Both engines, when the addon has the native one (it is the accelerator's default then).
const ENGINES: readonly ModpEngine[] = defaultModpEngine() === 'native' ? ['native', 'ts'] : ['ts'];

describe('exact products modulo p', () => {
  test('uses the native engine when the addon is built with it', () => {
    assert.deepEqual(ENGINES, ['native', 'ts']);
  });

  test('the chunk bound holds: 128 products of (p−1)/2 plus a reduced value stay below 2^53', () => {
    assert.equal(CHUNK, 128);
    assert.ok(BigInt(CHUNK) * BigInt(HALF_P) ** 2n + BigInt(HALF_P) < 2n ** 53n);
    assert.ok(BigInt(CHUNK + 1) * BigInt(HALF_P) ** 2n >= 2n ** 53n);
  });

  test('reduces exact integers below 2^53 to centered representatives', () => {
    const vals = [
      0,
      1,
      -1,
      HALF_P,
      -HALF_P,
      HALF_P + 1,
      -HALF_P - 1,
      MODULUS_P,
      2 ** 53 - 1,
      -(2 ** 53 - 1),
      2 ** 52 + 12345,
    ];
    const c = Float64Array.from(vals);
    reduceCentered(c);
    vals.forEach((v, i) => {
      const want = Number(
        (((BigInt(v) % BigInt(MODULUS_P)) + BigInt(MODULUS_P) + BigInt(HALF_P)) % BigInt(MODULUS_P)) -
          BigInt(HALF_P),
      );
      assert.equal(c[i], want, `reduce ${v}`);
    });
  });

  for (const op of LINEAR_OPS) {
    test(`${op} equals the BigInt reference on random small cases`, async () => {
      const rng = new SeededRng(100 + LINEAR_OPS.indexOf(op));
      for (let trial = 0; trial < 6; trial++) {
        const k = 1 + rng.nextInt(3);
        const d: Dims = {
          n: 1 + rng.nextInt(3),
          c: 1 + rng.nextInt(3),
          h: k + rng.nextInt(5),
          w: k + rng.nextInt(5),
          o: 1 + rng.nextInt(4),
          k,
          stride: 1 + rng.nextInt(2),
          padding: rng.nextInt(2),
          i: 1 + rng.nextInt(6),
        };
        const req = makeRequest(rng, op, 'modp', d, 0.2);
        const want = referenceModp(req);
        for (const engine of ENGINES) {
          assert.deepEqual(
            (await computeLinear(kernels, req, engine)).data,
            want,
            `${engine} ${JSON.stringify(d)}`,
          );
        }
      }
    });

    test(`${op} is exact with values at ±(p−1)/2 and an inner dimension of several chunks`, async () => {
      const rng = new SeededRng(200 + LINEAR_OPS.indexOf(op));
      for (const extremes of [0.5, 1]) {
        const req = makeRequest(rng, op, 'modp', BIG[op], extremes);
        const want = referenceModp(req);
        for (const engine of ENGINES)
          assert.deepEqual((await computeLinear(kernels, req, engine)).data, want, engine);
        // The naive reference kernels give the same (the chunking, not the BLAS, makes it exact).
        assert.deepEqual((await computeLinear(referenceKernels, req, 'ts')).data, want);
      }
    });
  }

  test('all values at +(p−1)/2 over 300 terms: the worst case for the float64 bound', async () => {
    const n = 300;
    const a = new Int32Array(2 * n).fill(HALF_P);
    const b = new Int32Array(n).fill(HALF_P);
    const req = {
      op: 'dense' as const,
      arith: 'modp' as const,
      a: { shape: [2, n], data: a },
      b: { shape: [1, n], data: b },
    };
    for (const engine of ENGINES)
      assert.deepEqual((await computeLinear(kernels, req, engine)).data, referenceModp(req));
  });

  test('handles empty batches and channels, strides above the kernel and wide padding', async () => {
    const rng = new SeededRng(9);
    const cases: Dims[] = [
      { n: 0, c: 2, h: 4, w: 4, o: 3, k: 3, stride: 1, padding: 1, i: 0 },
      { n: 2, c: 0, h: 4, w: 4, o: 3, k: 3, stride: 1, padding: 1, i: 3 },
      { n: 2, c: 2, h: 4, w: 4, o: 0, k: 3, stride: 1, padding: 1, i: 3 },
      { n: 2, c: 3, h: 7, w: 5, o: 2, k: 2, stride: 3, padding: 0, i: 1 },
      { n: 1, c: 2, h: 3, w: 3, o: 2, k: 1, stride: 1, padding: 2, i: 1 },
      { n: 1, c: 1, h: 2, w: 3, o: 1, k: 3, stride: 2, padding: 3, i: 1 },
    ];
    for (const d of cases) {
      for (const op of LINEAR_OPS) {
        const req = makeRequest(rng, op, 'modp', d, 0.3);
        const want = referenceModp(req);
        for (const engine of ENGINES) {
          assert.deepEqual(
            (await computeLinear(kernels, req, engine)).data,
            want,
            `${engine} ${op} ${JSON.stringify(d)}`,
          );
        }
      }
    }
  });

  test('refuses an operand value outside the centered range (E_FRAME), for each op', async () => {
    for (const op of LINEAR_OPS) {
      for (const which of ['a', 'b'] as const) {
        const req = makeRequest(new SeededRng(1), op, 'modp', BIG[op]);
        const t = req[which].data as Int32Array;
        const bad = which === 'a' ? HALF_P + 1 : -HALF_P - 1;
        t[t.length - 1] = bad;
        for (const engine of ENGINES) {
          await assert.rejects(
            computeLinear(kernels, req, engine),
            (e) =>
              isTeeError(e, 'E_FRAME') &&
              new RegExp(`^${op}: ${which}: value ${bad} at index \\d+ is outside the centered range`).test(
                e.message,
              ),
            `${engine} ${op} ${which}`,
          );
        }
      }
    }
  });
});

describe('native exact convolutions over groups of images', () => {
  // C·k·k·OH·OW·8 bytes ≈ 26.6 MB per image: the native engine puts 2 images in one GEMM (64 MiB budget),
  // so 5 images run as groups of 2, 2 and 1 — each group's columns side by side in one matrix.
  const d: Dims = { n: 5, c: 64, h: 76, w: 76, o: 2, k: 3, stride: 1, padding: 1, i: 0 };
  for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
    test(`${op}: grouped native result equals the per-image TypeScript twin`, {
      skip: ENGINES.length < 2,
    }, async () => {
      const req = makeRequest(new SeededRng(300 + LINEAR_OPS.indexOf(op)), op, 'modp', d, 1);
      assert.deepEqual(
        (await computeLinear(kernels, req, 'native')).data,
        (await computeLinear(kernels, req, 'ts')).data,
      );
    });
  }
});

/** Operand values clamped to [−bound, bound] (so that extremes sit at ±bound). */
function clamp(req: LinearRequest, bound: number): LinearRequest {
  const c = (t: LinearRequest['a']) => ({
    shape: t.shape,
    data: Int32Array.from(t.data, (v) => Math.max(-bound, Math.min(bound, v))),
  });
  return { ...req, a: c(req.a), b: c(req.b) };
}

/** Bit-for-bit equality of two Float64Arrays (-0 and +0 differ; deepEqual would not say). */
function assertSameBits(got: unknown, want: Float64Array, what: string): void {
  assert.ok(got instanceof Float64Array, `${what}: a Float64Array`);
  assert.equal(got.length, want.length, what);
  const g = Buffer.from(got.buffer, got.byteOffset, got.byteLength);
  const w = Buffer.from(want.buffer, want.byteOffset, want.byteLength);
  if (!g.equals(w)) {
    const i = got.findIndex((v, j) => !Object.is(v, want[j]));
    assert.fail(`${what}: element ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

/** Both engines (and the naive reference kernels under the twin) give exactly the reference's bits. */
async function assertWide(req: LinearRequest, what: string): Promise<void> {
  const want = referenceWide(req);
  for (const engine of ENGINES)
    assertSameBits((await computeLinear(kernels, req, engine)).data, want, `${engine} ${what}`);
  assertSameBits((await computeLinear(referenceKernels, req, 'ts')).data, want, `reference kernels ${what}`);
  // Reduced mod p, the wide product is the modp product: the two ariths compute the same thing.
  const modp = (await computeLinear(kernels, { ...req, arith: 'modp' }, ENGINES[0])).data;
  const reduced = Float64Array.from(want);
  reduceCentered(reduced);
  assert.deepEqual(Int32Array.from(reduced), modp, `${what}: wide mod p = modp`);
}

describe('exact integer products (arith wide)', () => {
  for (const op of LINEAR_OPS) {
    test(`${op} equals the BigInt reference bit for bit on random small cases, values at ±(p−1)/2`, async () => {
      const rng = new SeededRng(400 + LINEAR_OPS.indexOf(op));
      for (let trial = 0; trial < 6; trial++) {
        const k = 1 + rng.nextInt(3);
        const d: Dims = {
          n: 1 + rng.nextInt(3),
          c: 1 + rng.nextInt(3),
          h: k + rng.nextInt(5),
          w: k + rng.nextInt(5),
          o: 1 + rng.nextInt(4),
          k,
          stride: 1 + rng.nextInt(3),
          padding: rng.nextInt(3) === 0 ? 0 : rng.nextInt(k),
          i: 1 + rng.nextInt(6),
        };
        // Short inner dimensions (at most 36 terms of at most 2^46): full-range operands are exact.
        await assertWide(makeRequest(rng, op, 'wide', d, 0.3), JSON.stringify(d));
      }
    });

    test(`${op} is exact over a long inner dimension with every partial sum up to 2^47`, async () => {
      const rng = new SeededRng(500 + LINEAR_OPS.indexOf(op));
      // The longest sum here is 1170 terms (conv2dGradInput: O·k² = 130·9); 1170·(2^18)² < 2^47.
      const bound = 2 ** 18;
      for (const extremes of [0.5, 1]) {
        const req = clamp(makeRequest(rng, op, 'wide', BIG[op], extremes), bound);
        assert.ok(largestAbsSum(req) <= 2n ** 47n);
        await assertWide(req, `extremes ${extremes}`);
      }
    });
  }

  test('the honest worst case: 300 equal terms summing to just under 2^47', async () => {
    const n = 300;
    const v = Math.floor(Math.sqrt(2 ** 47 / n)); // 684 930
    const req: LinearRequest = {
      op: 'dense',
      arith: 'wide',
      a: { shape: [2, n], data: new Int32Array(2 * n).fill(v) },
      b: { shape: [3, n], data: new Int32Array(3 * n).fill(-v) },
    };
    assert.ok(largestAbsSum(req) <= 2n ** 47n && largestAbsSum(req) > 2n ** 46n);
    await assertWide(req, 'worst case');
    assert.equal((await computeLinear(kernels, req, ENGINES[0])).data[0], -n * v * v);
  });

  test('handles empty batches and channels, strides above the kernel and wide padding', async () => {
    const rng = new SeededRng(19);
    const cases: Dims[] = [
      { n: 0, c: 2, h: 4, w: 4, o: 3, k: 3, stride: 1, padding: 1, i: 0 },
      { n: 2, c: 0, h: 4, w: 4, o: 3, k: 3, stride: 1, padding: 1, i: 3 },
      { n: 2, c: 2, h: 4, w: 4, o: 0, k: 3, stride: 1, padding: 1, i: 3 },
      { n: 2, c: 3, h: 7, w: 5, o: 2, k: 2, stride: 3, padding: 0, i: 1 },
      { n: 1, c: 2, h: 3, w: 3, o: 2, k: 1, stride: 1, padding: 2, i: 1 },
      { n: 1, c: 1, h: 2, w: 3, o: 1, k: 3, stride: 2, padding: 3, i: 1 },
    ];
    for (const d of cases) {
      for (const op of LINEAR_OPS)
        await assertWide(makeRequest(rng, op, 'wide', d, 0.3), `${op} ${JSON.stringify(d)}`);
    }
  });

  test('refuses an operand value outside the centered range (E_FRAME), as modp does', async () => {
    for (const op of LINEAR_OPS) {
      for (const which of ['a', 'b'] as const) {
        const req = makeRequest(new SeededRng(1), op, 'wide', BIG[op]);
        const t = req[which].data as Int32Array;
        const bad = which === 'a' ? -HALF_P - 1 : HALF_P + 1;
        t[t.length - 1] = bad;
        for (const engine of ENGINES) {
          await assert.rejects(
            computeLinear(kernels, req, engine),
            (e) =>
              isTeeError(e, 'E_FRAME') &&
              new RegExp(`^${op}: ${which}: value ${bad} at index \\d+ is outside the centered range`).test(
                e.message,
              ),
            `${engine} ${op} ${which}`,
          );
        }
      }
    }
  });

  test('hostile operands (sums past 2^53) give finite, rounded values that the client refuses', async () => {
    // 300 terms of ((p−1)/2)² ≈ 2^54.2: float64 can no longer hold the sum exactly.
    const n = 300;
    const req: LinearRequest = {
      op: 'dense',
      arith: 'wide',
      a: { shape: [1, n], data: new Int32Array(n).fill(HALF_P) },
      b: { shape: [1, n], data: new Int32Array(n).fill(HALF_P) },
    };
    const exact = BigInt(n) * BigInt(HALF_P) ** 2n;
    for (const engine of ENGINES) {
      const y = (await computeLinear(kernels, req, engine)).data as Float64Array;
      assert.ok(Number.isFinite(y[0]!));
      assert.ok(Math.abs(y[0]! - Number(exact)) <= 2 ** -40 * Number(exact), `${engine}: ${y[0]}`);
      const payload = Buffer.concat(encodeResult(1, 0, { shape: [1, 1], data: y }, 'wide')).subarray(16);
      assert.throws(
        () => decodeResult(payload, [1, 1], 'wide'),
        (e) => isTeeError(e, 'E_FRAME') && /is not an integer in \(-2\^53, 2\^53\)$/.test(e.message),
      );
    }
  });
});

describe('native exact wide convolutions over groups of images', () => {
  // As above (groups of 2, 2 and 1 images). Longest sum: conv2dGradWeight, N·OH·OW = 5·76² = 28 880 terms;
  // values below 2^16 keep every partial sum under 28 880·2^32 < 2^47, so both engines are exact.
  const d: Dims = { n: 5, c: 64, h: 76, w: 76, o: 2, k: 3, stride: 1, padding: 1, i: 0 };
  for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
    test(`${op}: grouped native result equals the per-image TypeScript twin bit for bit`, {
      skip: ENGINES.length < 2,
    }, async () => {
      const req = clamp(
        makeRequest(new SeededRng(600 + LINEAR_OPS.indexOf(op)), op, 'wide', d, 1),
        2 ** 16 - 1,
      );
      const ts = (await computeLinear(kernels, req, 'ts')).data as Float64Array;
      assertSameBits((await computeLinear(kernels, req, 'native')).data, ts, op);
      // And reduced mod p it is the modp product of the same operands.
      const modp = (await computeLinear(kernels, { ...req, arith: 'modp' }, 'native')).data;
      const reduced = Float64Array.from(ts);
      reduceCentered(reduced);
      assert.deepEqual(Int32Array.from(reduced), modp);
    });
  }
});
