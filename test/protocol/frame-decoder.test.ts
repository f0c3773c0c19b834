import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { CAP_F32, encodeHello, FrameType, type Hello } from '../../src/protocol/frame.js';
import { FrameDecoder, type RawFrame } from '../../src/protocol/frame-decoder.js';
import { MAX_DIM, MAX_RANK, PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { decodeRequest, encodeError, encodeRequest } from '../../src/protocol/linear-codec.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { concat, randomRequest } from './requests.js';

const HELLO: Hello = {
  version: PROTOCOL_VERSION,
  role: 'client',
  maxFrameBytes: 1 << 20,
  maxRank: MAX_RANK,
  maxDim: MAX_DIM,
  capabilities: 0,
};

function stream(): { bytes: Buffer; frames: Buffer[] } {
  const rng = new SeededRng(11);
  const frames = [1, 2, 3].map((id) => concat(encodeRequest(id, randomRequest(rng))));
  frames.push(encodeError(4, 'compute', 'x'));
  return { bytes: Buffer.concat([encodeHello(HELLO), ...frames]), frames };
}

/** Feeds `chunks` and returns the hello and every frame taken, re-serialised for comparison. */
function decodeAll(chunks: Buffer[]): { hello: Hello | null; frames: Buffer[] } {
  const d = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'client' });
  let hello: Hello | null = null;
  const frames: Buffer[] = [];
  for (const c of chunks) {
    d.push(c);
    if (hello === null) hello = d.hello();
    if (hello === null) continue;
    for (let f = d.next(); f !== null; f = d.next()) frames.push(reserialise(f));
  }
  d.end();
  return { hello, frames };
}

function reserialise(f: RawFrame): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(0x4654, 0);
  h.writeUInt8(PROTOCOL_VERSION, 2);
  h.writeUInt8(f.type, 3);
  h.writeUInt32LE(f.id, 4);
  h.writeUInt32LE(f.length, 8);
  return Buffer.concat([h, f.payload]);
}

describe('FrameDecoder', () => {
  test('decodes a stream split at every single boundary', () => {
    const { bytes, frames } = stream();
    for (let i = 0; i <= bytes.length; i++) {
      const r = decodeAll([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(r.hello, HELLO);
      assert.deepEqual(r.frames, frames, `split at ${i}`);
    }
  });

  test('decodes a stream fed one byte at a time, and all at once', () => {
    const { bytes, frames } = stream();
    const bytewise = [...bytes].map((b) => Buffer.from([b]));
    assert.deepEqual(decodeAll(bytewise).frames, frames);
    assert.deepEqual(decodeAll([bytes]).frames, frames);
  });

  test('decodes a stream cut into random chunks, several frames per chunk', () => {
    const { bytes, frames } = stream();
    const rng = new SeededRng(2);
    for (let trial = 0; trial < 200; trial++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < bytes.length; ) {
        const n = 1 + rng.nextInt(trial % 2 === 0 ? 8 : 400);
        chunks.push(bytes.subarray(at, at + n));
        at += n;
      }
      assert.deepEqual(decodeAll(chunks).frames, frames);
    }
  });

  test('gives each payload its own aligned, transferable buffer and does not keep pushed chunks', () => {
    const { bytes } = stream();
    const d = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'client' });
    const chunk = Buffer.from(bytes);
    d.push(chunk);
    d.hello();
    const f = d.next()!;
    assert.equal(f.type, FrameType.request);
    assert.equal(f.payload.byteOffset, 0);
    assert.equal(f.payload.buffer.byteLength, f.length);
    const req = decodeRequest(f.payload);
    chunk.fill(0); // the caller reuses its chunk: the frame must not change
    assert.deepEqual(decodeRequest(f.payload).a.data, req.a.data);
  });

  test('rejects an over-limit header from its 16 bytes, before allocating the payload (E_FRAME)', () => {
    const d = new FrameDecoder({ maxPayloadBytes: 1024 });
    const h = Buffer.alloc(16);
    h.writeUInt16LE(0x4654, 0);
    h.writeUInt8(PROTOCOL_VERSION, 2);
    h.writeUInt8(1, 3);
    h.writeUInt32LE(0, 8);
    h.writeUInt32LE(1, 12); // 2^32 bytes
    d.push(h);
    assert.throws(
      () => d.peek(),
      (e) =>
        isTeeError(e, 'E_FRAME') &&
        e.message === 'frame payload of 4294967296 bytes exceeds the limit of 1024 bytes',
    );
    // It stays failed.
    assert.throws(() => d.next(), /exceeds the limit/);
  });

  test('reports a stream that ends inside a frame or a header as truncated (E_FRAME)', () => {
    const { bytes } = stream();
    const cut = 32 + 16 + 10;
    const d = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'client' });
    d.push(bytes.subarray(0, cut));
    d.hello();
    assert.equal(d.next(), null);
    assert.equal(d.midFrame, true);
    assert.throws(
      () => d.end(),
      (e) =>
        isTeeError(e, 'E_FRAME') &&
        /^truncated frame: the stream ended after 10 of \d+ payload bytes$/.test(e.message),
    );
    const h = new FrameDecoder({ maxPayloadBytes: 1 << 20 });
    h.push(Buffer.from([0x54, 0x46, 1, 1, 0]));
    assert.equal(h.peek(), null);
    assert.throws(
      () => h.end(),
      (e) =>
        isTeeError(e, 'E_FRAME') &&
        e.message === 'truncated frame: the stream ended after 5 bytes of a frame header (16 bytes)',
    );
    const hello = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'accelerator' });
    hello.push(encodeHello({ ...HELLO, role: 'accelerator', capabilities: CAP_F32 }).subarray(0, 7));
    assert.equal(hello.hello(), null);
    assert.throws(() => hello.end(), /ended after 7 bytes of a hello \(32 bytes\)/);
  });
});
