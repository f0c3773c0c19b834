import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { parseAddress } from '../../src/protocol/address.js';
import {
  CAP_F32,
  CAP_MODP,
  CAP_WIDE,
  decodeHeader,
  decodeHello,
  encodeHeader,
  encodeHello,
  FrameType,
  type Hello,
} from '../../src/protocol/frame.js';
import { MAX_DIM, MAX_RANK, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import {
  checkRequest,
  DTYPE_F64,
  decodeError,
  decodeRequest,
  decodeResult,
  encodeError,
  encodeRequest,
  encodeResult,
  HALF_P,
  requestPayloadBytes,
  resultPayloadBytes,
} from '../../src/protocol/linear-codec.js';
import { LINEAR_OPS, type LinearRequest, WIDE_RESULT_LIMIT } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { ARITHS, concat, makeRequest, rawRequestPayload } from './requests.js';

const DIMS = { n: 2, c: 3, h: 5, w: 4, o: 2, k: 3, stride: 2, padding: 1, i: 3 };

function frameError(message: string | RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(isTeeError(e, 'E_FRAME'), `expected E_FRAME, got ${String(e)}`);
    if (typeof message === 'string') assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}

/** The payload of a request frame, as a fresh Buffer (offset 0 = op id). */
function payloadOf(req: LinearRequest): Buffer {
  return Buffer.from(concat(encodeRequest(7, req)).subarray(16));
}

function denseF32(): LinearRequest {
  return {
    op: 'dense',
    arith: 'f32',
    a: { shape: [2, 3], data: new Float32Array([1, 2, 3, 4, 5, 6]) },
    b: { shape: [1, 3], data: new Float32Array([1, 0, -1]) },
  };
}

describe('request codec', () => {
  for (const op of LINEAR_OPS) {
    for (const arith of ARITHS) {
      test(`round-trips a ${arith} ${op} request field by field and byte by byte`, () => {
        const req = makeRequest(new SeededRng(3), op, arith, DIMS);
        const frame = concat(encodeRequest(0xfffffffe, req));
        const head = decodeHeader(frame, 0, 1 << 20);
        assert.deepEqual(head, { type: FrameType.request, id: 0xfffffffe, length: frame.length - 16 });
        assert.equal(head.length, requestPayloadBytes(req));
        const back = decodeRequest(Buffer.from(frame.subarray(16)));
        assert.equal(back.op, op);
        assert.equal(back.arith, arith);
        assert.deepEqual(back.a.shape, req.a.shape);
        assert.deepEqual(back.b.shape, req.b.shape);
        assert.deepEqual(back.a.data, req.a.data);
        assert.deepEqual(back.b.data, req.b.data);
        assert.equal(back.stride, req.stride);
        assert.equal(back.padding, req.padding);
        assert.deepEqual(back.inputHW, req.inputHW);
        assert.equal(back.k, req.k);
        // Re-encoding the decoded request gives the same bytes.
        assert.deepEqual(concat(encodeRequest(0xfffffffe, back)), frame);
      });
    }
  }

  test('decodes tensors as views of the payload, without copying', () => {
    const p = payloadOf(denseF32());
    const req = decodeRequest(p);
    assert.ok(req.a.data.buffer === p.buffer);
    assert.ok(req.b.data.buffer === p.buffer);
  });

  test('copies the tensor data of an unaligned payload once', () => {
    const p = payloadOf(denseF32());
    const odd = Buffer.alloc(p.length + 1).subarray(1);
    p.copy(odd);
    const req = decodeRequest(odd);
    assert.deepEqual([...req.a.data], [1, 2, 3, 4, 5, 6]);
  });

  test('encodes tensor data as zero-copy views of the caller arrays', () => {
    const req = denseF32();
    const parts = encodeRequest(1, req);
    assert.ok(parts[1]!.buffer === req.a.data.buffer);
    assert.ok(parts[3]!.buffer === req.b.data.buffer);
  });
});

describe('request validation (E_FRAME)', () => {
  const cases: [string, (p: Buffer) => void, string][] = [
    ['an unknown op id', (p) => p.writeUInt8(6, 0), 'unknown op id 6'],
    ['an unknown arith id', (p) => p.writeUInt8(3, 1), 'unknown arith id 3'],
    ['unknown flags', (p) => p.writeUInt16LE(16, 2), 'unknown request flags 16'],
    ['both cache flags of b', (p) => p.writeUInt16LE(3, 2), 'unknown request flags 3'],
    ['both cache flags of a', (p) => p.writeUInt16LE(12, 2), 'unknown request flags 12'],
    ['a cache flag without a key', (p) => p.writeUInt16LE(1, 2), 'cache key 0 of b with request flags 1'],
    ['a cache key without a flag', (p) => p.writeUInt32LE(9, 24), 'cache key 9 of b with request flags 0'],
    [
      'a cache flag of a without a key',
      (p) => p.writeUInt16LE(4, 2),
      'cache key 0 of a with request flags 4',
    ],
    [
      'a cache key of a without a flag',
      (p) => p.writeUInt32LE(9, 28),
      'cache key 9 of a with request flags 0',
    ],
    ['a stride on a dense op', (p) => p.writeUInt32LE(2, 4), 'dense: takes no stride, got 2'],
    ['a kernel size on a dense op', (p) => p.writeUInt32LE(3, 20), 'dense: takes no k, got 3'],
    ['an unknown dtype', (p) => p.writeUInt8(7, 33), 'dense: a: unknown dtype 7'],
    [
      'a dtype that does not match the arith',
      (p) => p.writeUInt8(2, 33),
      'dense: a: dtype i32 does not match arith f32',
    ],
    ['a float64 operand', (p) => p.writeUInt8(3, 33), 'dense: a: dtype f64 does not match arith f32'],
    [
      'float32 operands under arith wide',
      (p) => p.writeUInt8(2, 1),
      'dense: a: dtype f32 does not match arith wide',
    ],
    ['a rank above 4', (p) => p.writeUInt8(5, 32), 'dense: a: rank 5 exceeds the maximum of 4'],
    [
      'non-zero tensor reserved bytes',
      (p) => p.writeUInt16LE(9, 34),
      'dense: a: tensor reserved bytes are not zero',
    ],
    [
      'a dimension above 2^31 − 1',
      (p) => p.writeUInt32LE(2 ** 31, 36),
      `dense: a: dimension ${2 ** 31} exceeds ${MAX_DIM}`,
    ],
    [
      'dims whose product does not match the byte length',
      (p) => p.writeUInt32LE(20, 44),
      'dense: a: shape [2,3] needs 24 bytes, the frame says 20',
    ],
    [
      'a byte length beyond 2^53',
      (p) => p.writeUInt32LE(0xffffffff, 48),
      `dense: a: shape [2,3] needs 24 bytes, the frame says ${0xffffffff * 2 ** 32 + 24}`,
    ],
    [
      'operands whose shapes do not fit the op',
      (p) => p.writeUInt8(1, 0),
      'denseGradInput: a [2,3] does not fit b [1,3]',
    ],
    [
      'a dimension that disagrees with the byte length',
      (p) => p.writeUInt32LE(4, 40),
      'dense: a: shape [2,4] needs 32 bytes, the frame says 24',
    ],
  ];
  for (const [what, mutate, message] of cases) {
    test(`rejects a request with ${what}`, () => {
      const p = payloadOf(denseF32());
      mutate(p);
      assert.throws(() => decodeRequest(p), frameError(message));
    });
  }

  test('rejects a request with leftover bytes after its operands', () => {
    const p = Buffer.concat([payloadOf(denseF32()), Buffer.alloc(4)]);
    assert.throws(() => decodeRequest(p), frameError('request has 4 leftover bytes after its operands'));
  });

  test('rejects a request whose data runs past the payload', () => {
    const p = payloadOf(denseF32());
    assert.throws(
      () => decodeRequest(p.subarray(0, p.length - 4)),
      frameError('dense: b: 12 data bytes, but only 8 are left in the payload'),
    );
  });

  test('rejects a payload shorter than the request header', () => {
    assert.throws(
      () => decodeRequest(Buffer.alloc(10)),
      frameError('request payload of 10 bytes is shorter than its 32-byte header'),
    );
  });

  test('rejects a payload that ends inside a tensor header', () => {
    const p = payloadOf(denseF32());
    assert.throws(
      () => decodeRequest(p.subarray(0, 38)),
      frameError('dense: a: the payload ends inside its tensor header'),
    );
  });

  test('rejects operands whose shapes do not fit each op, with the same message on both sides', () => {
    const rng = new SeededRng(5);
    const bad: [LinearRequest, string][] = [
      [
        { ...makeRequest(rng, 'dense', 'f32', DIMS), b: { shape: [2, 4], data: new Float32Array(8) } },
        'dense: a [2,3] does not fit b [2,4]',
      ],
      [
        {
          ...makeRequest(rng, 'denseGradInput', 'modp', DIMS),
          b: { shape: [3, 3], data: new Int32Array(9) },
        },
        'denseGradInput: a [2,2] does not fit b [3,3]',
      ],
      [
        {
          ...makeRequest(rng, 'denseGradWeight', 'f32', DIMS),
          b: { shape: [3, 3], data: new Float32Array(9) },
        },
        'denseGradWeight: a [2,2] does not fit b [3,3]',
      ],
      [
        {
          ...makeRequest(rng, 'conv2d', 'f32', DIMS),
          b: { shape: [2, 2, 3, 3], data: new Float32Array(36) },
        },
        'conv2d: a [2,3,5,4] does not fit b [2,2,3,3]',
      ],
      [
        {
          ...makeRequest(rng, 'conv2d', 'f32', DIMS),
          b: { shape: [2, 3, 3, 2], data: new Float32Array(36) },
        },
        'conv2d: b [2,3,3,2] must have a square kernel',
      ],
      [
        {
          ...makeRequest(rng, 'conv2d', 'f32', DIMS),
          b: { shape: [2, 3, 9, 9], data: new Float32Array(486) },
        },
        'conv2d: a 9x9 kernel with padding 1 does not fit a 5x4 input',
      ],
      [
        { ...makeRequest(rng, 'conv2d', 'f32', DIMS), a: { shape: [2, 3, 5], data: new Float32Array(30) } },
        'conv2d: a: expected a rank-4 tensor, got [2,3,5]',
      ],
      [
        { ...makeRequest(rng, 'conv2dGradInput', 'modp', DIMS), inputHW: [8, 4] },
        'conv2dGradInput: a [2,2,3,2] does not fit b [2,3,3,3] on a 8x4 input (expected a [2,2,4,2])',
      ],
      [
        { ...makeRequest(rng, 'conv2dGradInput', 'modp', DIMS), inputHW: [9, 4] },
        'conv2dGradInput: a [2,2,3,2] does not fit b [2,3,3,3] on a 9x4 input (expected a [2,2,5,2])',
      ],
      [
        { ...makeRequest(rng, 'conv2dGradWeight', 'f32', DIMS), k: 1 },
        'conv2dGradWeight: a [2,2,3,2] does not fit b [2,3,5,4] with a 1x1 kernel (expected a [2,2,4,3])',
      ],
      [
        { ...makeRequest(rng, 'conv2dGradWeight', 'f32', DIMS), k: 0 },
        'conv2dGradWeight: k must be an integer in [1, 2147483647], got 0',
      ],
      [
        { ...makeRequest(rng, 'conv2d', 'f32', DIMS), stride: 0 },
        'conv2d: stride must be an integer in [1, 2147483647], got 0',
      ],
      [{ ...makeRequest(rng, 'conv2d', 'f32', DIMS), k: 3 }, 'conv2d: takes no k, got 3'],
      [
        { ...makeRequest(rng, 'conv2dGradInput', 'f32', DIMS), inputHW: undefined },
        'conv2dGradInput: inputHW must be [H, W], got undefined',
      ],
    ];
    for (const [req, message] of bad) {
      assert.throws(() => checkRequest(req), frameError(message), message);
      // What the client refuses to send, the accelerator refuses to decode, with the same words (a missing
      // inputHW travels as 0x0).
      const wire =
        req.inputHW === undefined && req.op === 'conv2dGradInput' ? /inputHW\[0\] must be/ : message;
      assert.throws(() => decodeRequest(rawRequestPayload(req)), frameError(wire), message);
    }
  });

  test('rejects a request whose data does not match its declared shape or arith before encoding', () => {
    const req = denseF32();
    assert.throws(
      () => encodeRequest(1, { ...req, a: { shape: [2, 3], data: new Float32Array(5) } }),
      frameError('dense: a: shape [2,3] needs 6 elements, the data has 5'),
    );
    assert.throws(
      () => encodeRequest(1, { ...req, arith: 'modp' }),
      frameError('dense: a: arith modp needs a Int32Array'),
    );
    assert.throws(
      () => encodeRequest(1, { ...req, a: { shape: [1, 1, 1, 1, 6], data: new Float32Array(6) } }),
      frameError('dense: a: rank 5 exceeds the maximum of 4'),
    );
  });
});

describe('result and error codec', () => {
  test('round-trips a result and checks shape, dtype and compute time', () => {
    const t = { shape: [2, 3], data: new Int32Array([1, -2, 3, HALF_P, -HALF_P, 0]) };
    const frame = concat(encodeResult(9, 12.5, t, 'modp'));
    assert.equal(frame.length - 16, resultPayloadBytes([2, 3], 'modp'));
    const p = Buffer.from(frame.subarray(16));
    const r = decodeResult(p, [2, 3], 'modp');
    assert.equal(r.computeMs, 12.5);
    assert.deepEqual(r.result.data, t.data);
    assert.throws(
      () => decodeResult(p, [3, 2], 'modp'),
      frameError('result has shape [2,3], expected [3,2]'),
    );
    assert.throws(
      () => decodeResult(p, [2, 3], 'f32'),
      frameError('result: dtype i32 does not match arith f32'),
    );
    const bad = Buffer.from(p);
    bad.writeDoubleLE(Number.NaN, 0);
    assert.throws(
      () => decodeResult(bad, [2, 3], 'modp'),
      frameError('result reports a compute time of NaN ms'),
    );
    assert.throws(
      () => decodeResult(Buffer.concat([p, Buffer.alloc(4)]), [2, 3], 'modp'),
      frameError('result has 4 leftover bytes after its tensor'),
    );
  });

  test('rejects a modp result value outside the centered range', () => {
    const t = { shape: [2], data: new Int32Array([0, HALF_P + 1]) };
    const p = Buffer.from(
      concat(encodeResult(1, 0, { shape: [2], data: new Int32Array(2) }, 'modp')).subarray(16),
    );
    p.writeInt32LE(t.data[1]!, p.length - 4);
    assert.throws(
      () => decodeResult(p, [2], 'modp'),
      frameError(
        `result: value ${HALF_P + 1} at index 1 is outside the centered range [${-HALF_P}, ${HALF_P}]`,
      ),
    );
  });

  test('round-trips a wide result: dtype f64, data 8-aligned in the payload, decoded without a copy', () => {
    const big = 2 ** 53 - 1;
    for (const shape of [[2, 3], [1, 2, 1, 3], [6]]) {
      const t = { shape, data: new Float64Array([0, -1, big, -big, 2 ** 47, -0]) };
      const frame = concat(encodeResult(4, 3, t, 'wide'));
      // 8 fixed + 12 + 4·rank header bytes, padded to a multiple of 8, then 8 bytes per element.
      const head = 8 + 12 + 4 * shape.length;
      const dataAt = Math.ceil(head / 8) * 8;
      assert.equal(frame.length - 16, resultPayloadBytes(shape, 'wide'));
      assert.equal(frame.length - 16, dataAt + 48);
      assert.equal(frame[16 + 9], DTYPE_F64);
      // Like FrameDecoder's payloads: at offset 0 of an ArrayBuffer of their own.
      const p = Buffer.from(new Uint8Array(frame.subarray(16)).buffer);
      const r = decodeResult(p, shape, 'wide');
      assert.ok(r.result.data instanceof Float64Array);
      assert.ok(r.result.data.buffer === p.buffer, 'a view, not a copy');
      assert.equal(r.result.data.byteOffset, dataAt);
      assert.ok(Object.is(r.result.data[5], -0));
      assert.deepEqual([...r.result.data], [...t.data]);
      // At an address that is 4- but not 8-aligned the data are copied once, never refused.
      const odd = Buffer.from(new ArrayBuffer(p.length + 4), 4, p.length);
      p.copy(odd);
      const c = decodeResult(odd, shape, 'wide');
      assert.ok(c.result.data.buffer !== odd.buffer);
      assert.deepEqual([...c.result.data], [...t.data]);
      const byte = Buffer.from(new ArrayBuffer(p.length + 1), 1, p.length);
      p.copy(byte);
      assert.deepEqual([...decodeResult(byte, shape, 'wide').result.data], [...t.data]);
    }
    assert.equal(resultPayloadBytes([2, 3], 'wide'), 8 + 20 + 4 + 48);
    assert.equal(resultPayloadBytes([2, 3], 'modp'), 8 + 20 + 24);
  });

  test('rejects a wide result that is not f64, or whose padding bytes are not zero', () => {
    const i32 = Buffer.from(
      concat(encodeResult(1, 0, { shape: [2, 3], data: new Int32Array(6) }, 'modp')).subarray(16),
    );
    assert.throws(
      () => decodeResult(i32, [2, 3], 'wide'),
      frameError('result: dtype i32 does not match arith wide'),
    );
    const p = Buffer.from(
      concat(encodeResult(1, 0, { shape: [2, 3], data: new Float64Array(6) }, 'wide')).subarray(16),
    );
    assert.throws(
      () => decodeResult(p, [2, 3], 'modp'),
      frameError('result: dtype f64 does not match arith modp'),
    );
    const pad = Buffer.from(p);
    pad[28] = 1;
    assert.throws(
      () => decodeResult(pad, [2, 3], 'wide'),
      frameError('result: tensor padding bytes are not zero'),
    );
    assert.throws(
      () => decodeResult(p.subarray(0, 30), [2, 3], 'wide'),
      frameError('result: the payload ends inside its tensor header'),
    );
    const len = Buffer.from(p);
    len.writeUInt32LE(24, 20);
    assert.throws(
      () => decodeResult(len, [2, 3], 'wide'),
      frameError('result: shape [2,3] needs 48 bytes, the frame says 24'),
    );
  });

  test('rejects a wide result value that is NaN, infinite, fractional or not below 2^53', () => {
    assert.equal(WIDE_RESULT_LIMIT, 2 ** 53);
    const ok = Buffer.from(
      concat(encodeResult(1, 0, { shape: [4], data: new Float64Array(4) }, 'wide')).subarray(16),
    );
    for (const v of [Number.NaN, Infinity, -Infinity, 0.5, -1.25, 2 ** 53, -(2 ** 53), 2 ** 60, 1e300]) {
      const p = Buffer.from(ok);
      p.writeDoubleLE(v, p.length - 16); // element 2
      assert.throws(
        () => decodeResult(p, [4], 'wide'),
        frameError(`result: value ${v} at index 2 is not an integer in (-2^53, 2^53)`),
        String(v),
      );
    }
    for (const v of [2 ** 53 - 1, -(2 ** 53 - 1), 2 ** 52 + 1, -0, 12345678901234]) {
      const p = Buffer.from(ok);
      p.writeDoubleLE(v, p.length - 16);
      assert.ok(Object.is(decodeResult(p, [4], 'wide').result.data[2], v), String(v));
    }
  });

  test('refuses to encode a wide result that is not a Float64Array of its shape', () => {
    assert.throws(
      () => encodeResult(1, 0, { shape: [2], data: new Int32Array(2) }, 'wide'),
      frameError('result: arith wide needs a Float64Array'),
    );
    assert.throws(
      () => encodeResult(1, 0, { shape: [3], data: new Float64Array(2) }, 'wide'),
      frameError('result: shape [3] needs 3 elements, the data has 2'),
    );
  });

  test('round-trips error frames, truncates long messages and neutralises control characters', () => {
    const f = encodeError(3, 'compute', 'out of memory\n\x1b[31mfake log line');
    assert.deepEqual(decodeHeader(f, 0, 4096), { type: FrameType.error, id: 3, length: f.length - 16 });
    assert.deepEqual(decodeError(f.subarray(16)), {
      kind: 'compute',
      message: 'out of memory??[31mfake log line',
    });
    const long = encodeError(0, 'frame', 'é'.repeat(600));
    const e = decodeError(long.subarray(16));
    assert.equal(e.kind, 'frame');
    assert.equal(e.message, 'é'.repeat(512));
  });

  test('rejects malformed error frames', () => {
    const p = Buffer.from(encodeError(3, 'frame', 'abc').subarray(16));
    const kind = Buffer.from(p);
    kind.writeUInt16LE(9, 0);
    assert.throws(() => decodeError(kind), frameError('unknown error kind 9'));
    const len = Buffer.from(p);
    len.writeUInt16LE(2, 2);
    assert.throws(() => decodeError(len), frameError('error payload has 7 bytes, its message needs 6'));
    const utf = Buffer.from(p);
    utf[4] = 0xff;
    assert.throws(() => decodeError(utf), frameError('error message is not valid UTF-8'));
    assert.throws(
      () => decodeError(Buffer.alloc(2)),
      frameError('error payload of 2 bytes is shorter than its 4-byte header'),
    );
  });
});

describe('hello and header', () => {
  const hello: Hello = {
    version: PROTOCOL_VERSION,
    role: 'accelerator',
    maxFrameBytes: 2 ** 32,
    maxRank: MAX_RANK,
    maxDim: MAX_DIM,
    capabilities: CAP_F32 | CAP_MODP | CAP_WIDE,
    cacheMiB: 1024,
  };

  test('speaks protocol 4: the operand cache holds a too (a version-3 peer is refused at its hello)', () => {
    assert.equal(PROTOCOL_VERSION, 4);
    assert.equal(CAP_WIDE, 4);
  });

  test('round-trips a hello', () => {
    assert.deepEqual(decodeHello(encodeHello(hello), 'accelerator'), hello);
  });

  test('rejects a hello with a bad magic, version, role, limit or capability', () => {
    const b = encodeHello(hello);
    const mutate = (f: (c: Buffer) => void) => {
      const c = Buffer.from(b);
      f(c);
      return c;
    };
    assert.throws(
      () =>
        decodeHello(
          mutate((c) => c.write('HTTP', 0)),
          'accelerator',
        ),
      frameError('bad hello magic 0x50545448 (expected 0x4f454554): not a tee-offload peer'),
    );
    assert.throws(
      () =>
        decodeHello(
          mutate((c) => c.writeUInt16LE(2, 4)),
          'accelerator',
        ),
      frameError(`peer speaks protocol version 2, this side speaks ${PROTOCOL_VERSION}`),
    );
    assert.throws(() => decodeHello(b, 'client'), frameError('hello role 2 is not 1 (client)'));
    assert.throws(
      () =>
        decodeHello(
          mutate((c) => c.writeUInt32LE(10, 8)),
          'accelerator',
        ),
      frameError(/^hello announces a frame limit of 4294967306 bytes/),
    );
    assert.throws(
      () =>
        decodeHello(
          mutate((c) => c.writeUInt32LE(8, 24)),
          'accelerator',
        ),
      frameError('hello announces unknown capabilities 0x00000008'),
    );
  });

  test('rejects a header with a bad magic, version or type, or over the limit, before allocating', () => {
    const h = encodeHeader(FrameType.result, 5, 100);
    const mutate = (f: (c: Buffer) => void) => {
      const c = Buffer.from(h);
      f(c);
      return c;
    };
    assert.deepEqual(decodeHeader(h, 0, 100), { type: FrameType.result, id: 5, length: 100 });
    assert.throws(
      () =>
        decodeHeader(
          mutate((c) => c.writeUInt16LE(0x1234, 0)),
          0,
          100,
        ),
      frameError('bad frame magic 0x1234 (expected 0x4654)'),
    );
    assert.throws(
      () =>
        decodeHeader(
          mutate((c) => c.writeUInt8(2, 2)),
          0,
          100,
        ),
      frameError(`frame of protocol version 2, this side speaks ${PROTOCOL_VERSION}`),
    );
    assert.throws(
      () =>
        decodeHeader(
          mutate((c) => c.writeUInt8(9, 3)),
          0,
          100,
        ),
      frameError('unknown frame type 9'),
    );
    assert.throws(
      () => decodeHeader(h, 0, 99),
      frameError('frame payload of 100 bytes exceeds the limit of 99 bytes'),
    );
    assert.throws(
      () =>
        decodeHeader(
          mutate((c) => c.writeUInt32LE(0xffffffff, 12)),
          0,
          2 ** 32,
        ),
      frameError(
        `frame payload of ${0xffffffff * 2 ** 32 + 100} bytes exceeds the limit of ${2 ** 32} bytes`,
      ),
    );
  });

  test('parses host:port addresses, IPv6 in brackets', () => {
    assert.deepEqual(parseAddress('127.0.0.1:7070'), { host: '127.0.0.1', port: 7070 });
    assert.deepEqual(parseAddress('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseAddress('gpu-1.local:0', true), { host: 'gpu-1.local', port: 0 });
    assert.throws(() => parseAddress('localhost'), /is not host:port/);
    assert.throws(() => parseAddress('h:70000'), /invalid port/);
    assert.throws(() => parseAddress('h:0'), /invalid port/);
  });
});
