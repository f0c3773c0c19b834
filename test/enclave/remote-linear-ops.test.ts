// RemoteLinearOps over the in-process transport: correct results in all three integrity modes, every kind
// of lie refused with E_VERIFY after exactly one retry on a fresh connection, network failures retried then
// E_NETWORK, only verified bytes returned, per-op and per-layer timings, and blinded inference with pads.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useRemoteLinearOps } from '../../src/enclave/remote-layer-labels.js';
import { type ProductTrace, RemoteLinearOps } from '../../src/enclave/remote-linear-ops.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { Conv2d } from '../../src/nn/conv2d.js';
import { Flatten } from '../../src/nn/flatten.js';
import { Linear } from '../../src/nn/linear.js';
import { ReLU } from '../../src/nn/relu.js';
import { Sequential } from '../../src/nn/sequential.js';
import type { AcceleratorTransport, LinearReply, LinearRequest } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { PadSet } from '../../src/verify/blinding.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import { DEFAULT_MODULUS, halfModulus } from '../../src/verify/field.js';
import { structuredConv } from '../../src/verify/freivalds-wide.js';
import { LINEAR_OP_KINDS, type LinearOpKind, productGeometry } from '../../src/verify/product-geometry.js';
import { quantizeTensor } from '../../src/verify/quantize.js';
import { assertClose } from '../fixtures-util.js';
import { type ProductCase, randomCase, randomFloats } from '../verify/cases.js';
import { floatReference } from '../verify/modp-reference.js';
import { call, operands } from './product-call.js';
import { InProcessTransport, TAMPER_KINDS, WIDE_TAMPER_KINDS } from './remote-test-transport.js';

const local = new LocalLinearOps(kernels);

function isCode(code: string): (e: unknown) => boolean {
  return (e) => isTeeError(e) && e.code === code;
}

describe('RemoteLinearOps', () => {
  it('float mode returns the accelerator float32 product, verified, for all six ops', async () => {
    const rng = new SeededRng(51);
    const remote = new RemoteLinearOps(new InProcessTransport(), { integrity: 'float' });
    assert.equal(remote.name, 'remote(float)');
    for (const op of LINEAR_OP_KINDS) {
      for (let t = 0; t < 5; t++) {
        const cs = randomCase(op, rng);
        const [a, b] = operands(cs, rng);
        const got = await call(remote, cs, a, b);
        const want = await call(local, cs, a, b);
        assert.deepEqual(got.shape, want.shape);
        assert.deepEqual(got.data, want.data);
      }
    }
  });

  it('float mode checks convolutions with either |·| bound (floatBound), and refuses an unknown one', async () => {
    const rng = new SeededRng(57);
    // 24 input and 20 output channels, 3×3: the cheap bound applies to all three convolutions.
    const fwd = productGeometry('conv2d', [2, 24, 9, 9], [20, 24, 3, 3], { stride: 2, padding: 1 });
    const cases: ProductCase[] = [
      {
        op: 'conv2d',
        g: fwd,
        aShape: [2, 24, 9, 9],
        bShape: [20, 24, 3, 3],
        params: { stride: 2, padding: 1 },
      },
      {
        op: 'conv2dGradInput',
        g: productGeometry('conv2dGradInput', [2, 20, 5, 5], [20, 24, 3, 3], {
          stride: 2,
          padding: 1,
          inputHW: [9, 9],
        }),
        aShape: [2, 20, 5, 5],
        bShape: [20, 24, 3, 3],
        params: { stride: 2, padding: 1, inputHW: [9, 9] },
      },
      {
        op: 'conv2dGradWeight',
        g: productGeometry('conv2dGradWeight', [2, 20, 5, 5], [2, 24, 9, 9], { stride: 2, padding: 1, k: 3 }),
        aShape: [2, 20, 5, 5],
        bShape: [2, 24, 9, 9],
        params: { stride: 2, padding: 1, k: 3 },
      },
    ];
    for (const floatBound of ['tap-max', 'full'] as const) {
      const remote = new RemoteLinearOps(new InProcessTransport(), { integrity: 'float', floatBound });
      for (const cs of cases) {
        const [a, b] = operands(cs, rng);
        const got = await call(remote, cs, a, b);
        assert.deepEqual(got.data, (await call(local, cs, a, b)).data, `${cs.op} ${floatBound}`);
      }
      assert.equal(remote.stats().total.requests, cases.length);
      assert.equal(remote.stats().total.failures, 0);
    }
    assert.throws(
      () =>
        new RemoteLinearOps(new InProcessTransport(), { integrity: 'float', floatBound: 'loose' as 'full' }),
      /floatBound must be 'tap-max' or 'full'/,
    );
  });

  for (const field of ['wide', 'p24'] as const) {
    it(`exact mode (field ${field}) stays within the documented quantization bound of the float product, for all six ops`, async () => {
      const rng = new SeededRng(52);
      const traces: ProductTrace[] = [];
      const remote = new RemoteLinearOps(new InProcessTransport(), {
        field,
        onProduct: (t) => traces.push(t),
      });
      assert.equal(remote.name, 'remote(exact)');
      for (const op of LINEAR_OP_KINDS) {
        for (let t = 0; t < 5; t++) {
          const cs = randomCase(op, rng);
          const [a, b] = operands(cs, rng);
          const got = await call(remote, cs, a, b);
          const trace = traces.at(-1)!;
          assert.equal(trace.op, op);
          assert.equal(trace.integrity, 'exact');
          assert.equal(trace.field, field);
          const want = floatReference(
            op,
            { shape: cs.aShape, data: a.data },
            { shape: cs.bShape, data: b.data },
            cs.params,
          );
          for (let i = 0; i < got.size; i++) {
            const err = Math.abs(got.data[i]! - want.data[i]!);
            assert.ok(err <= trace.errorBound!, `${op}[${i}]: error ${err} > bound ${trace.errorBound}`);
            // Wide keeps ~20 bits per operand: within 2^-12 of the largest |y| (p24: within 2^-3).
            const scale = Math.max(...want.data.map(Math.abs));
            assert.ok(
              err <= scale * (field === 'wide' ? 2 ** -12 : 2 ** -3) + 1e-30,
              `${op}[${i}]: ${err} of ${scale}`,
            );
          }
        }
      }
    });
  }

  for (const mode of ['exact', 'exact-p24', 'float'] as const) {
    // The default exact field is wide: its results also face p added to one element.
    for (const kind of mode === 'exact' ? WIDE_TAMPER_KINDS : TAMPER_KINDS) {
      it(`${mode} mode refuses a ${kind} lie with E_VERIFY after exactly one retry on a fresh connection`, async () => {
        const rng = new SeededRng(53);
        // Values that are no integers reach the check itself (the client does not validate wide values):
        // every product kind, so every result-reading kernel, must refuse them.
        const ops: LinearOpKind[] =
          kind === 'non-integer'
            ? ['dense', 'denseGradInput', 'denseGradWeight', 'conv2d', 'conv2dGradInput', 'conv2dGradWeight']
            : ['dense', 'conv2d', 'conv2dGradWeight'];
        for (const op of ops) {
          const transport = new InProcessTransport({ tamper: kind });
          const remote = new RemoteLinearOps(
            transport,
            mode === 'exact-p24' ? { integrity: 'exact', field: 'p24' } : { integrity: mode },
          );
          const cs = randomCase(op, rng);
          const [a, b] = operands(cs, rng);
          if (kind === 'replay')
            await assert.rejects(call(remote, cs, ...operands(cs, rng)), isCode('E_VERIFY'));
          const before = transport.calls;
          await assert.rejects(
            call(remote, cs, a, b),
            (e) => isCode('E_VERIFY')(e) && /refused twice/.test(String(e)),
          );
          assert.equal(transport.calls - before, 2, 'two attempts');
          assert.equal(transport.reconnects, kind === 'replay' ? 2 : 1);
          const s = remote.stats().byOp[op]!;
          assert.equal(s.calls, 0, 'nothing returned');
          assert.ok(s.failures >= 2 && s.retries >= 1);
        }
      });
    }
  }

  it('checks long-row convolutions with structured vectors end to end: honest results pass, every wide lie is refused', async () => {
    // Rows of 26–30 take the structured check ('auto'); the small random cases above take the folded one.
    const rng = new SeededRng(56);
    const geoms = [
      { op: 'conv2d', params: { stride: 1, padding: 1 }, a: [2, 3, 26, 28], b: [4, 3, 3, 3] },
      { op: 'conv2d', params: { stride: 2, padding: 1 }, a: [1, 2, 30, 27], b: [3, 2, 3, 3] },
      {
        op: 'conv2dGradInput',
        params: { stride: 1, padding: 1, inputHW: [26, 28] },
        a: [2, 4, 26, 28],
        b: [4, 3, 3, 3],
      },
      {
        op: 'conv2dGradInput',
        params: { stride: 2, padding: 1, inputHW: [11, 12] },
        a: [1, 3, 6, 6],
        b: [3, 2, 3, 3],
      },
    ] as const;
    for (const gm of geoms) {
      const g = productGeometry(gm.op, gm.a, gm.b, gm.params);
      assert.ok(structuredConv(g), `${gm.op} ${gm.a}: structured`);
      const cs = { op: gm.op, g, aShape: [...gm.a], bShape: [...gm.b], params: gm.params };
      const [a, b] = operands(cs, rng);
      const honest = await call(
        new RemoteLinearOps(new InProcessTransport(), { integrity: 'exact' }),
        cs,
        a,
        b,
      );
      const want = await call(local, cs, a, b);
      let worst = 0;
      for (let i = 0; i < want.size; i++) worst = Math.max(worst, Math.abs(honest.data[i]! - want.data[i]!));
      assert.ok(worst < 1e-3, `${gm.op}: honest result within quantization error (${worst})`);
      for (const kind of WIDE_TAMPER_KINDS) {
        const transport = new InProcessTransport({ tamper: kind });
        const remote = new RemoteLinearOps(transport, { integrity: 'exact' });
        if (kind === 'replay')
          await assert.rejects(call(remote, cs, ...operands(cs, rng)), isCode('E_VERIFY'));
        await assert.rejects(call(remote, cs, a, b), isCode('E_VERIFY'), `${gm.op}: ${kind}`);
      }
    }
  });

  it('returns the verified second answer when only the first attempt lies (one retry, counted)', async () => {
    const rng = new SeededRng(54);
    for (const mode of ['exact', 'float'] as const) {
      const transport = new InProcessTransport({ tamper: 'flip', tamperCalls: 'first' });
      const remote = new RemoteLinearOps(transport, { integrity: mode });
      const cs = randomCase('conv2dGradInput', rng);
      const [a, b] = operands(cs, rng);
      const got = await call(remote, cs, a, b);
      const honest = await call(new RemoteLinearOps(new InProcessTransport(), { integrity: mode }), cs, a, b);
      if (mode === 'float') assert.deepEqual(got.data, honest.data);
      assert.equal(transport.reconnects, 1);
      const s = remote.stats().total;
      assert.deepEqual([s.calls, s.retries, s.failures], [1, 1, 1]);
    }
  });

  it("draws the wide check's vectors before each attempt goes out, fresh for the retry, and wipes them", async () => {
    const drawn: Float64Array[] = [];
    const rng = new (class extends CryptoRng {
      override wideFieldElements(count: number, p: number): Float64Array {
        const v = super.wideFieldElements(count, p);
        drawn.push(v);
        return v;
      }
    })();
    const atCall: number[] = [];
    class Recording extends InProcessTransport {
      override call(req: LinearRequest): Promise<LinearReply> {
        atCall.push(drawn.length);
        return super.call(req);
      }
    }
    const cases = new SeededRng(55);
    for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight', 'dense'] as const) {
      drawn.length = 0;
      atCall.length = 0;
      const transport = new Recording({ tamper: 'flip', tamperCalls: 'first' });
      const remote = new RemoteLinearOps(transport, { integrity: 'exact', rng });
      const cs = randomCase(op, cases);
      const [a, b] = operands(cs, cases);
      await call(remote, cs, a, b);
      assert.equal(atCall.length, 2, `${op}: the first answer lied, the retry went out`);
      assert.ok(atCall[0]! >= 1, `${op}: vectors drawn before the first request`);
      assert.ok(atCall[1]! > atCall[0]!, `${op}: fresh vectors drawn before the retry`);
      assert.ok(
        drawn.every((v) => v.every((x) => x === 0)),
        `${op}: every vector wiped`,
      );
    }
  });

  it('retries a dropped call once and throws E_NETWORK when both attempts (or the reconnect) fail', async () => {
    const rng = new SeededRng(55);
    const cs = randomCase('dense', rng);
    const [a, b] = operands(cs, rng);
    const once = new InProcessTransport({ networkFailures: 'first' });
    await call(new RemoteLinearOps(once, { integrity: 'float' }), cs, a, b);
    assert.deepEqual([once.calls, once.reconnects], [2, 1]);
    const always = new InProcessTransport({ networkFailures: 'all' });
    await assert.rejects(
      call(new RemoteLinearOps(always), cs, a, b),
      (e) => isCode('E_NETWORK')(e) && /failed twice/.test(String(e)),
    );
    const noReconnect = new InProcessTransport({ networkFailures: 'first' });
    noReconnect.reconnect = async () => {
      throw new Error('refused');
    };
    await assert.rejects(call(new RemoteLinearOps(noReconnect), cs, a, b), isCode('E_NETWORK'));
  });

  it('returns a private copy of the verified bytes: a transport that rewrites its buffer later changes nothing', async () => {
    const inner = new InProcessTransport();
    let last: Float32Array | null = null;
    const sneaky: AcceleratorTransport = {
      async call(req: LinearRequest): Promise<LinearReply> {
        const r = await inner.call(req);
        last = r.result.data as Float32Array;
        return r;
      },
      reconnect: () => inner.reconnect(),
      close: () => inner.close(),
    };
    const remote = new RemoteLinearOps(sneaky, { integrity: 'float' });
    const x = new Tensor([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
    const w = new Tensor([2, 3], new Float32Array([1, 0, 0, 0, 1, 0]));
    const y = await remote.dense(x, w);
    (last as unknown as Float32Array).fill(999);
    assert.deepEqual([...y.data], [1, 2, 4, 5]);
  });

  it("hands each reply buffer back to a pooling transport once decoded (the returned values are the trusted side's own)", async () => {
    const transport = new InProcessTransport();
    const remote = new RemoteLinearOps(transport, { integrity: 'exact' });
    const x = new Tensor([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
    const w = new Tensor([2, 3], new Float32Array([1, 0, 0, 0, 1, 0]));
    const y = await remote.dense(x, w);
    assert.equal(transport.released, 1);
    assert.deepEqual([...y.data], [1, 2, 4, 5]);
  });

  it('off mode returns unchecked results (a lie gets through) and warns loudly exactly once', async () => {
    const warnings: string[] = [];
    const transport = new InProcessTransport({ tamper: 'flip' });
    const remote = new RemoteLinearOps(transport, { integrity: 'off', warn: (m) => warnings.push(m) });
    const x = new Tensor([2, 3], new Float32Array([1, 2, 3, 4, 5, 6]));
    const w = new Tensor([2, 3], new Float32Array([1, 0, 0, 0, 1, 0]));
    let differs = false;
    for (let t = 0; t < 3; t++) {
      const y = await remote.dense(x, w);
      differs ||= y.data.some((v, i) => v !== [1, 2, 4, 5][i]);
    }
    assert.ok(differs, 'the flipped element came through');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /WARNING.*NOT verified/);
    // Malformed replies are still refused: a tensor of the wrong shape cannot be built.
    const shape = new RemoteLinearOps(new InProcessTransport({ tamper: 'shape' }), {
      integrity: 'off',
      warn: () => {},
    });
    await assert.rejects(shape.dense(x, w), isCode('E_VERIFY'));
  });

  it('refuses operands that do not fit before anything is sent (E_SHAPE), and answers empty products locally', async () => {
    const transport = new InProcessTransport();
    const remote = new RemoteLinearOps(transport);
    await assert.rejects(remote.dense(new Tensor([2, 3]), new Tensor([4, 5])), isCode('E_SHAPE'));
    await assert.rejects(
      remote.conv2d(new Tensor([1, 3, 2, 2]), new Tensor([4, 3, 3, 3]), { stride: 1, padding: 0 }),
      isCode('E_SHAPE'),
    );
    const y = await remote.dense(new Tensor([2, 0]), new Tensor([4, 0]));
    assert.deepEqual([...y.shape, ...y.data], [2, 4, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(transport.calls, 0);
  });

  it('writes into an offered output buffer (remote exact and float, kept inside, cut, empty) and returns it', async () => {
    const rng = new SeededRng(58);
    const configs = [
      { integrity: 'float' as const },
      { integrity: 'exact' as const },
      { integrity: 'exact' as const, maxInnerLength: 2 },
      { integrity: 'float' as const, offloadMinIntensity: 1e9 },
    ];
    for (const cfg of configs) {
      const remote = new RemoteLinearOps(new InProcessTransport(), cfg);
      assert.equal(remote.writesOut, true);
      assert.equal(remote.forLayer('x').writesOut, true);
      for (const op of LINEAR_OP_KINDS) {
        const cs = randomCase(op, rng);
        const [a, b] = operands(cs, rng);
        const want = floatReference(
          op,
          { shape: cs.aShape, data: a.data },
          { shape: cs.bShape, data: b.data },
          cs.params,
        );
        const out = new Tensor(want.shape, new Float32Array(want.data.length).fill(Number.NaN));
        const got = await call(remote, cs, a, b, out);
        assert.equal(got, out, `${op} ${JSON.stringify(cfg)}: the offered buffer is returned`);
        for (let i = 0; i < want.data.length; i++) {
          assert.ok(
            Math.abs(out.data[i]! - want.data[i]!) <= 1e-3 * (1 + Math.abs(want.data[i]!)),
            `${op}[${i}]`,
          );
        }
      }
    }
    const remote = new RemoteLinearOps(new InProcessTransport());
    const empty = new Tensor([2, 4], new Float32Array(8).fill(5));
    assert.equal(await remote.dense(new Tensor([2, 0]), new Tensor([4, 0]), empty), empty);
    assert.deepEqual([...empty.data], [0, 0, 0, 0, 0, 0, 0, 0]);
    await assert.rejects(
      remote.dense(new Tensor([2, 3]), new Tensor([4, 3]), new Tensor([4, 2])),
      isCode('E_SHAPE'),
    );
  });

  it('validates its options', () => {
    const t = new InProcessTransport();
    assert.throws(() => new RemoteLinearOps(t, { integrity: 'fast' as 'off' }), RangeError);
    assert.throws(() => new RemoteLinearOps(t, { repetitions: 0 }), RangeError);
    assert.throws(() => new RemoteLinearOps(t, { deadlineMs: -1 }), RangeError);
    assert.throws(() => new RemoteLinearOps(t, { rng: new SeededRng(1) as never }), TypeError);
    assert.throws(
      () => new RemoteLinearOps(t, { integrity: 'float', pads: () => undefined }),
      /integrity "exact"/,
    );
  });

  it('sends exact-mode operands as centered field elements and passes the deadline to the transport', async () => {
    const transport = new InProcessTransport();
    const seen: (number | undefined)[] = [];
    const call0 = transport.call.bind(transport);
    transport.call = (req: LinearRequest, opts?: { deadlineMs?: number }) => {
      seen.push(opts?.deadlineMs);
      return call0(req);
    };
    const x = new Tensor([2, 3], new Float32Array([0.5, -1, 2, 0, 0, 1]));
    const w = new Tensor([1, 3], new Float32Array([1, 1, 1]));
    await new RemoteLinearOps(transport, { deadlineMs: 1234 }).dense(x, w);
    await new RemoteLinearOps(transport, { field: 'p24' }).dense(x, w);
    const [wide, p24] = transport.requests as [LinearRequest, LinearRequest];
    assert.equal(wide.arith, 'wide', 'the wide field is the default');
    assert.equal(p24.arith, 'modp');
    const h = halfModulus(DEFAULT_MODULUS);
    for (const req of [wide, p24]) {
      assert.ok(req.a.data instanceof Int32Array && req.b.data instanceof Int32Array);
      assert.ok([...req.a.data, ...req.b.data].every((v) => Math.abs(v) <= h));
    }
    // The wide field spends its room on precision: more scale bits than p24 on the same operands.
    assert.ok((wide.a.data as Int32Array)[2]! > 64 * (p24.a.data as Int32Array)[2]!);
    assert.deepEqual(seen, [1234, undefined]);
  });

  it('times every phase per op kind and per layer label', async () => {
    const rng = new SeededRng(56);
    const remote = new RemoteLinearOps(new InProcessTransport(), { integrity: 'exact' });
    const fc = remote.forLayer('fc');
    assert.equal(remote.forLayer('fc'), fc, 'one view per label');
    assert.equal(fc.name, 'remote(exact)[fc]');
    const cs = randomCase('dense', rng);
    const [a, b] = operands(cs, rng);
    await fc.dense(a, b);
    await fc.dense(a, b);
    await remote.dense(a, b);
    const s = remote.stats();
    assert.equal(s.total.calls, 3);
    assert.equal(s.byOp.dense!.calls, 3);
    assert.deepEqual(Object.keys(s.byLayer), ['fc']);
    assert.equal(s.byLayer.fc!.calls, 2);
    for (const key of ['quantizeMs', 'verifyMs', 'dequantizeMs', 'totalMs', 'computeMs'] as const) {
      assert.ok(s.total[key] >= 0 && Number.isFinite(s.total[key]), key);
    }
    assert.ok(s.total.totalMs >= s.total.verifyMs);
    assert.ok(s.total.bytesSent > 0 && s.total.bytesReceived > 0);
    remote.resetStats();
    assert.equal(remote.stats().total.calls, 0);
  });

  it('routes a whole model through labelled views named after its module paths', async () => {
    const rng = new SeededRng(57);
    const model = new Sequential(
      new Conv2d(3, 4, 3, { padding: 1, rng }),
      new ReLU(),
      new Flatten(),
      new Linear(4 * 5 * 5, 3, { rng }),
    );
    const remote = new RemoteLinearOps(new InProcessTransport(), { integrity: 'float' });
    useRemoteLinearOps(model, remote);
    const x = new Tensor([2, 3, 5, 5], randomFloats(150, rng));
    const y = await model.forward(x);
    await model.backward(new Tensor(y.shape, randomFloats(y.size, rng)));
    const s = remote.stats();
    assert.deepEqual(Object.keys(s.byLayer).sort(), ['0', '3']);
    assert.equal(s.byLayer['0']!.calls, 3, 'conv forward, grad input, grad weight');
    assert.deepEqual(Object.keys(s.byOp).sort(), [...LINEAR_OP_KINDS].sort());
  });
});

describe('RemoteLinearOps with blinding pads (inference)', () => {
  const rng = new SeededRng(58);
  const p = DEFAULT_MODULUS;

  function setup(count: number) {
    const conv = new Conv2d(3, 4, 3, { padding: 1, stride: 2, bias: false, rng });
    const wq = quantizeTensor(conv.weight.data, 10, 'nearest');
    const set = PadSet.generate(
      {
        label: 'conv',
        op: 'conv2d',
        inputShape: [1, 3, 8, 8],
        weightShape: [4, 3, 3, 3],
        stride: 2,
        padding: 1,
        weightBits: 10,
        p,
      },
      wq,
      count,
      new CryptoRng(),
    );
    const transport = new InProcessTransport();
    const traces: ProductTrace[] = [];
    const remote = new RemoteLinearOps(transport, {
      pads: (l) => (l === 'conv' ? set : undefined),
      onProduct: (t) => traces.push(t),
    });
    return { conv, set, transport, remote, traces, view: remote.forLayer('conv') };
  }

  it('blinds every forward: the accelerator sees X + R (uniform), the result is the exact product within bound', async () => {
    const { conv, set, transport, view, traces } = setup(2);
    const x = new Tensor([1, 3, 8, 8], randomFloats(192, rng, 1));
    const y = await view.conv2d(x, conv.weight.value, { stride: 2, padding: 1 });
    assert.equal(set.remaining, 1);
    const trace = traces[0]!;
    assert.equal(trace.blinded, true);
    assert.equal(trace.bBits, 10);
    const sent = transport.requests[0]!.a.data as Int32Array;
    const xq = quantizeTensor(x.data, trace.aBits!, 'nearest');
    assert.notDeepEqual(sent, xq);
    let spread = 0;
    for (const v of sent) spread = Math.max(spread, Math.abs(v));
    assert.ok(spread > halfModulus(p) / 4, 'blinded values cover the field');
    const want = floatReference(
      'conv2d',
      { shape: x.shape, data: x.data },
      { shape: [4, 3, 3, 3], data: conv.weight.data },
      { stride: 2, padding: 1 },
    );
    for (let i = 0; i < y.size; i++) assert.ok(Math.abs(y.data[i]! - want.data[i]!) <= trace.errorBound!);
  });

  it('refuses a forward once the pads are spent, an unlabelled forward, a backward product and changed weights (E_STATE)', async () => {
    const { conv, remote, view } = setup(1);
    const x = new Tensor([1, 3, 8, 8], randomFloats(192, rng, 1));
    const cp = { stride: 2, padding: 1 };
    await view.conv2d(x, conv.weight.value, cp);
    await assert.rejects(
      view.conv2d(x, conv.weight.value, cp),
      (e) => isCode('E_STATE')(e) && /no pad 1/.test(String(e)),
    );
    await assert.rejects(
      remote.conv2d(x, conv.weight.value, cp),
      (e) => isCode('E_STATE')(e) && /no pad set/.test(String(e)),
    );
    const dy = new Tensor([1, 4, 4, 4], randomFloats(64, rng));
    await assert.rejects(
      view.conv2dGradWeight(dy, x, cp, 3),
      (e) => isCode('E_STATE')(e) && /inference only/.test(String(e)),
    );
    const s2 = setup(1);
    s2.conv.weight.data[0]! += 0.5;
    await assert.rejects(
      s2.view.conv2d(x, s2.conv.weight.value, cp),
      (e) => isCode('E_STATE')(e) && /weights changed/.test(String(e)),
    );
    await assert.rejects(
      s2.view.conv2d(new Tensor([2, 3, 8, 8]), s2.conv.weight.value, cp),
      (e) => isCode('E_STATE')(e) && /another product or input shape/.test(String(e)),
    );
  });
});

describe("RemoteLinearOps: a layer's backward pair", () => {
  const p = { stride: 1, padding: 1 };
  const rand = (shape: number[], rng: SeededRng, scale: number) =>
    new Tensor(
      shape,
      randomFloats(
        shape.reduce((a, b) => a * b, 1),
        rng,
        scale,
      ),
    );

  it('shares nothing when its grad-input product is kept inside, cut, or refused, and still answers right', async () => {
    const rng = new SeededRng(61);
    const x = rand([2, 4, 6, 6], rng, 1);
    const w = rand([5, 4, 3, 3], rng, 0.3);
    const dy = rand([2, 5, 6, 6], rng, 0.05);
    const want = [await local.conv2dGradInput(dy, w, p, [6, 6]), await local.conv2dGradWeight(dy, x, p, 3)];
    const cases = [
      // Placement keeps every product inside (nothing is sent).
      { name: 'kept inside', opts: { offloadMinIntensity: 1e9 }, sent: 0 },
      // Cut over the inner dimension (the grad-input product's 5·9 terms into pieces): no shared dy.
      { name: 'cut', opts: { maxInnerLength: 20 }, sent: undefined },
    ];
    for (const c of cases) {
      const transport = new InProcessTransport();
      const remote = new RemoteLinearOps(transport, { integrity: 'exact', ...c.opts });
      const [dx, dw] = await remote.conv2dBackward(dy, w, x, p, 3);
      assertClose(dx.data, want[0]!.data, 1e-3, `${c.name}: dx`);
      assertClose(dw.data, want[1]!.data, 1e-3, `${c.name}: dw`);
      if (c.sent !== undefined) assert.equal(transport.calls, c.sent, c.name);
      // No request of the pair asks to reuse a dy the accelerator was not given in the same pair.
      for (const r of transport.requests) assert.notEqual(r.aCacheHint?.reuse, true, `${c.name}: ${r.op}`);
    }
    // A grad-input product that fails twice: the pair rejects (E_VERIFY), and its grad-weight product's
    // answer is not returned either.
    const liar = new InProcessTransport({ tamper: 'flip' });
    await assert.rejects(new RemoteLinearOps(liar).conv2dBackward(dy, w, x, p, 3), isCode('E_VERIFY'));
  });

  it('exact: the grad-weight request carries the very integers of the grad-input request, with a reuse hint', async () => {
    const rng = new SeededRng(62);
    const x = rand([1, 3, 5, 5], rng, 1);
    const w = rand([4, 3, 3, 3], rng, 0.3);
    const dy = rand([1, 4, 5, 5], rng, 0.05);
    const transport = new InProcessTransport();
    const remote = new RemoteLinearOps(transport);
    await remote.conv2dBackward(dy, w, x, p, 3);
    const gi = transport.requests.find((r) => r.op === 'conv2dGradInput')!;
    const gw = transport.requests.find((r) => r.op === 'conv2dGradWeight')!;
    assert.deepEqual(gw.a.data, gi.a.data, 'dy quantized once');
    assert.deepEqual(gi.aCacheHint, { key: gi.aCacheHint!.key, reuse: false });
    assert.deepEqual(gw.aCacheHint, { key: gi.aCacheHint!.key, reuse: true });
    // Off: two quantizations (stochastic: different integers, almost surely) and no hints.
    const t2 = new InProcessTransport();
    await new RemoteLinearOps(t2, { cacheGradients: false }).conv2dBackward(dy, w, x, p, 3);
    const [gi2, gw2] = [t2.requests[0]!, t2.requests[1]!];
    assert.equal(gi2.aCacheHint, undefined);
    assert.equal(gw2.aCacheHint, undefined);
    assert.notDeepEqual(gw2.a.data, gi2.a.data);
  });
});
