// K-splitting in RemoteLinearOps (exact mode): a product cut over its inner dimension, each chunk its own
// request with its own scales and Freivalds check, equals the float product (and the uncut exact one)
// within the quantization bound; a lie in any one chunk is caught; a product that fits p only when cut is
// cut without being asked to.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ProductTrace, RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import { isTeeError } from '../../src/errors.js';
import type { LinearReply, LinearRequest } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { centered } from '../../src/verify/field.js';
import { innerUnits } from '../../src/verify/inner-chunks.js';
import { innerLength, type LinearOpKind } from '../../src/verify/product-geometry.js';
import { LINEAR_OP_KINDS, randomCase, randomFloats } from '../verify/cases.js';
import { floatReference } from '../verify/modp-reference.js';
import { call, operands } from './product-call.js';
import { InProcessTransport } from './remote-test-transport.js';

/** Flips one element of the modp reply to calls number `which` (0-based; every attempt when `always`). */
class ChunkLiar extends InProcessTransport {
  constructor(
    private readonly which: number,
    private readonly always: boolean,
  ) {
    super();
  }
  private n = 0;
  override async call(req: LinearRequest): Promise<LinearReply> {
    const reply = await super.call(req);
    const index = this.n++;
    if (index === this.which || (this.always && index > this.which)) {
      const y = reply.result.data as Int32Array;
      y[index % y.length] = centered(y[index % y.length]! + 12345, 16777213);
    }
    return reply;
  }
}

describe('RemoteLinearOps K-splitting (exact mode)', () => {
  it('cuts every op over its inner dimension at maxInnerLength; the result stays within the bound of the float and the uncut products', async () => {
    const rng = new SeededRng(81);
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 4; t++) {
        const cs = randomCase(op, rng, 7);
        const [a, b] = operands(cs, rng);
        const traces: ProductTrace[] = [];
        const transport = new InProcessTransport();
        const split = new RemoteLinearOps(transport, { maxInnerLength: 3, onProduct: (x) => traces.push(x) });
        const whole = new RemoteLinearOps(new InProcessTransport(), { onProduct: (x) => traces.push(x) });
        const got = await call(split, cs, a, b);
        const uncut = await call(whole, cs, a, b);
        const [ts, tw] = traces as [ProductTrace, ProductTrace];
        if (innerLength(cs.g) > 3 && innerUnits(cs.g) > 1)
          assert.ok(ts.chunks! > 1, `${op}: cut (inner ${innerLength(cs.g)})`);
        assert.equal(transport.calls, ts.chunks);
        assert.equal(split.stats().total.requests, ts.chunks);
        assert.equal(split.stats().total.calls, 1);
        assert.equal(tw.chunks, 1);
        const want = floatReference(
          op,
          { shape: cs.aShape, data: a.data },
          { shape: cs.bShape, data: b.data },
          cs.params,
        );
        for (let i = 0; i < got.size; i++) {
          const err = Math.abs(got.data[i]! - want.data[i]!);
          assert.ok(err <= ts.errorBound!, `${op}[${i}]: error ${err} > bound ${ts.errorBound}`);
          const diff = Math.abs(got.data[i]! - uncut.data[i]!);
          assert.ok(diff <= ts.errorBound! + tw.errorBound!, `${op}[${i}]: cut vs uncut ${diff}`);
        }
      }
    }
  });

  for (const [field, minBits] of [
    ['p24', 9],
    ['wide', 21],
  ] as const) {
    it(`cuts a weight gradient that fits field ${field} only in pieces, without being asked to (bands of output rows)`, async () => {
      await cutsUnasked(field, minBits);
    });
  }

  async function cutsUnasked(field: 'p24' | 'wide', minBits: number): Promise<void> {
    const rng = new SeededRng(82);
    const traces: ProductTrace[] = [];
    const quant = { minBits };
    const remote = new RemoteLinearOps(new InProcessTransport(), {
      field,
      quant,
      onProduct: (x) => traces.push(x),
    });
    const dy = new Tensor([1, 2, 16, 16], randomFloats(512, rng, 1));
    const x = new Tensor([1, 3, 16, 16], randomFloats(768, rng, 1));
    const got = await remote.conv2dGradWeight(dy, x, { stride: 1, padding: 1 }, 3);
    const trace = traces[0]!;
    assert.ok(trace.chunks! > 1, `cut into ${trace.chunks}`);
    assert.ok(trace.aBits! >= 0 && trace.bBits! >= 0);
    const want = floatReference(
      'conv2dGradWeight',
      { shape: dy.shape, data: dy.data },
      { shape: x.shape, data: x.data },
      { stride: 1, padding: 1, k: 3 },
    );
    for (let i = 0; i < got.size; i++) assert.ok(Math.abs(got.data[i]! - want.data[i]!) <= trace.errorBound!);
    assert.equal(trace.field, field);
  }

  it('still refuses (RangeError) a product whose inner dimension cannot be cut enough', async () => {
    const remote = new RemoteLinearOps(new InProcessTransport(), { field: 'p24', quant: { minBits: 23 } });
    const x = new Tensor([1, 4], new Float32Array([1, 1, 1, 1]));
    const w = new Tensor([1, 4], new Float32Array([1, 1, 1, 1]));
    await assert.rejects(remote.dense(x, w), RangeError);
  });

  for (const op of ['dense', 'conv2d', 'conv2dGradWeight'] as LinearOpKind[]) {
    it(`${op}: a lie in any one chunk is caught; a chunk that lies twice refuses the whole product (E_VERIFY)`, async () => {
      const rng = new SeededRng(83);
      const cs = randomCase(op, rng, 7);
      const [a, b] = operands(cs, rng);
      const counter = new InProcessTransport();
      await call(new RemoteLinearOps(counter, { maxInnerLength: 2 }), cs, a, b);
      const chunks = counter.calls;
      for (let j = 0; j < chunks; j++) {
        // Once: the chunk's retry succeeds and the product is returned.
        const once = new ChunkLiar(j, false);
        const traces: ProductTrace[] = [];
        const r1 = new RemoteLinearOps(once, { maxInnerLength: 2, onProduct: (x) => traces.push(x) });
        await call(r1, cs, a, b);
        assert.equal(once.calls, chunks + 1, `chunk ${j}: one extra attempt`);
        assert.equal(traces[0]!.attempts, 2);
        assert.equal(r1.stats().total.retries, 1);
        // From then on: refused twice, nothing returned.
        const always = new ChunkLiar(j, true);
        const r2 = new RemoteLinearOps(always, { maxInnerLength: 2 });
        await assert.rejects(
          call(r2, cs, a, b),
          (e) => isTeeError(e) && e.code === 'E_VERIFY' && /refused twice/.test(String(e)),
        );
        assert.equal(always.calls, j + 2, `chunk ${j}: stops at the chunk that lied`);
        assert.equal(r2.stats().total.calls, 0);
      }
    });
  }

  it('validates maxInnerLength', () => {
    const t = new InProcessTransport();
    assert.throws(() => new RemoteLinearOps(t, { maxInnerLength: 0 }), RangeError);
    assert.throws(() => new RemoteLinearOps(t, { maxInnerLength: 1.5 }), RangeError);
  });
});
