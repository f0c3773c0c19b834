// Random and mutated bytes into the decoders: the only acceptable failure is TeeError E_FRAME (never a
// RangeError from a Buffer read, a huge allocation or a hang).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { FrameType } from '../../src/protocol/frame.js';
import { FrameDecoder, type RawFrame } from '../../src/protocol/frame-decoder.js';
import { PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import {
  decodeError,
  decodeRequest,
  decodeResult,
  encodeRequest,
  encodeResult,
} from '../../src/protocol/linear-codec.js';
import type { Arith } from '../../src/protocol/linear-request.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { ARITHS, concat, randomRequest } from './requests.js';

const LIMIT = 1 << 16;

/**
 * Decodes a byte string as a stream in random chunks (result frames as answers of `arith`); returns 'ok'
 * or the E_FRAME message.
 */
function feed(rng: SeededRng, bytes: Buffer, hello: boolean, arith: Arith = 'modp'): string {
  const d = new FrameDecoder({ maxPayloadBytes: LIMIT, ...(hello ? { helloFrom: 'client' as const } : {}) });
  try {
    let helloDone = !hello;
    for (let at = 0; at < bytes.length; ) {
      const n = 1 + rng.nextInt(64);
      d.push(bytes.subarray(at, at + n));
      at += n;
      if (!helloDone) helloDone = d.hello() !== null;
      if (!helloDone) continue;
      for (let f = d.next(); f !== null; f = d.next()) decodePayload(f, arith);
    }
    d.end();
    return 'ok';
  } catch (e) {
    if (!isTeeError(e, 'E_FRAME')) throw e;
    return e.message;
  }
}

function decodePayload(f: RawFrame, arith: Arith): void {
  if (f.type === FrameType.request) decodeRequest(f.payload);
  else if (f.type === FrameType.error) decodeError(f.payload);
  else decodeResult(f.payload, [2, 3], arith);
}

/** A valid result frame of this arith (wide: integers up to 2^53 − 1, the edge of what is accepted). */
function resultFrame(arith: Arith): Buffer {
  const shape = [2, 3];
  if (arith === 'f32')
    return concat(encodeResult(1, 1, { shape, data: new Float32Array([1, -2, 3, 0, 5, 6]) }, arith));
  if (arith === 'modp')
    return concat(encodeResult(1, 1, { shape, data: new Int32Array([1, 2, 3, -4, -5, -6]) }, arith));
  const data = new Float64Array([1, -2, 2 ** 53 - 1, -(2 ** 47), 0, 3]);
  return concat(encodeResult(1, 1, { shape, data }, arith));
}

function mutate(rng: SeededRng, b: Buffer): Buffer {
  const out = Buffer.from(b);
  const kind = rng.nextInt(5);
  if (kind === 0) {
    for (let i = 1 + rng.nextInt(4); i > 0; i--) out[rng.nextInt(out.length)]! ^= 1 << rng.nextInt(8);
    return out;
  }
  if (kind === 1) {
    for (let i = 1 + rng.nextInt(3); i > 0; i--) out[rng.nextInt(out.length)] = rng.nextInt(256);
    return out;
  }
  if (kind === 2) return out.subarray(0, rng.nextInt(out.length)); // truncated
  if (kind === 3) {
    // A small value in a header byte: other op, arith (2 = wide) and dtype (3 = f64) ids, ranks, flags.
    out[16 + rng.nextInt(Math.max(1, Math.min(out.length - 16, 48)))] = rng.nextInt(5);
    return out;
  }
  // A random little-endian u32 written somewhere in the first 80 bytes (lengths, dims, params).
  const at = rng.nextInt(Math.max(1, Math.min(out.length - 4, 80)));
  const v = [0, 1, 0xffffffff, 0x80000000, rng.nextU32(), rng.nextInt(64)][rng.nextInt(6)]!;
  if (at + 4 <= out.length) out.writeUInt32LE(v, at);
  return out;
}

test('random byte strings never fail the decoders with anything but E_FRAME', () => {
  const rng = new SeededRng(1);
  const seen = new Set<string>();
  for (let trial = 0; trial < 3000; trial++) {
    const len = rng.nextInt(300);
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rng.nextU32() & 0xff;
    if (trial % 3 === 0 && len >= 4) {
      // A valid magic and version, so that the fuzz reaches the type, length and payload fields.
      b.writeUInt16LE(0x4654, 0);
      b[2] = PROTOCOL_VERSION;
      b[3] = 1 + (trial % 3);
      if (len >= 16) b.writeUInt32LE(0, 12); // a length that fits the limit, mostly
    }
    seen.add(feed(rng, b, false, ARITHS[trial % ARITHS.length]).replace(/\d+/g, 'N'));
  }
  assert.ok(seen.size > 3, [...seen].join('\n'));
});

test('mutated valid frames never fail the decoders with anything but E_FRAME', () => {
  const rng = new SeededRng(2);
  const outcomes = new Map<string, number>();
  for (let trial = 0; trial < 6000; trial++) {
    const req = randomRequest(rng);
    // Results of every arith, decoded as answers of that arith (and sometimes of another one).
    const arith = ARITHS[rng.nextInt(ARITHS.length)]!;
    const frame = trial % 3 === 2 ? resultFrame(arith) : concat(encodeRequest(1 + rng.nextInt(10), req));
    const bytes = mutate(rng, frame);
    const as = rng.nextInt(8) === 0 ? ARITHS[rng.nextInt(ARITHS.length)]! : arith;
    // Numbers become N; names with digits (conv2d, f64, i32) stay.
    const r = feed(rng, bytes, false, as).replace(
      /(?<![a-z\d])(-?\d+(\.\d+)?(e[+-]\d+)?|NaN|-?Infinity)/g,
      'N',
    );
    outcomes.set(r, (outcomes.get(r) ?? 0) + 1);
  }
  // The mutations reach many different checks (and some mutations still decode: 'ok'), the wide ones
  // included: non-integer, infinite and oversized values, f64 dtypes where i32 or f32 belong.
  assert.ok(outcomes.size > 20, [...outcomes.keys()].join('\n'));
  const seen = [...outcomes.keys()].join('\n');
  assert.match(seen, /result: value N at index N is not an integer in \(N\^N, N\^N\)/);
  assert.match(seen, /dtype f64 does not match arith (f32|modp)/);
  assert.match(seen, /dtype (i32|f32) does not match arith wide/);
  assert.match(seen, /result: tensor padding bytes are not zero/);
});

test('hellos followed by mutated frames never fail the decoder with anything but E_FRAME', () => {
  const rng = new SeededRng(3);
  for (let trial = 0; trial < 500; trial++) {
    const h = Buffer.alloc(32);
    h.writeUInt32LE(0x4f454554, 0);
    h.writeUInt16LE(PROTOCOL_VERSION, 4);
    h.writeUInt8(1, 6);
    h.writeUInt32LE(1 << 20, 8);
    h.writeUInt32LE(4, 16);
    h.writeUInt32LE(2 ** 31 - 1, 20);
    const frame = concat(encodeRequest(1, randomRequest(rng)));
    feed(rng, mutate(rng, Buffer.concat([h, frame])), true);
  }
});
