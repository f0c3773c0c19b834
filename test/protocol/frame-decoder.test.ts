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

/**
 * Pull mode as a socket's onread drives it: each read fills up to `readSize()` bytes of readTarget(),
 * then wrote(); the consumer takes the hello and frames after a read unless `lazy()` says it is busy
 * (so the decoder also meets reads while frames wait). Returns what was taken and how many payload bytes
 * went straight into payload buffers.
 */
function decodePull(
  bytes: Buffer,
  readSize: (room: number) => number,
  lazy: () => boolean,
): { hello: Hello | null; frames: Buffer[]; direct: number } {
  const payloads = new Set<ArrayBufferLike>();
  const d = new FrameDecoder({
    maxPayloadBytes: 1 << 20,
    helloFrom: 'client',
    allocate: (n) => {
      const b = Buffer.allocUnsafeSlow(n);
      payloads.add(b.buffer);
      return b;
    },
  });
  let hello: Hello | null = null;
  const frames: Buffer[] = [];
  let direct = 0;
  const drain = () => {
    if (hello === null) hello = d.hello();
    if (hello === null) return;
    for (let f = d.next(); f !== null; f = d.next()) frames.push(reserialise(f));
  };
  for (let at = 0; at < bytes.length; ) {
    const t = d.readTarget();
    assert.ok(t.length > 0);
    const n = Math.min(bytes.length - at, Math.max(1, Math.min(t.length, readSize(t.length))));
    bytes.copy(t, 0, at, at + n);
    if (payloads.has(t.buffer)) direct += n; // read straight into a payload buffer
    d.wrote(n);
    at += n;
    if (!lazy()) drain();
  }
  drain();
  d.end();
  return { hello, frames, direct };
}

/** A request frame's 16-byte header announcing `length` payload bytes (u64, little-endian). */
function requestHeader(length: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(0x4654, 0);
  h.writeUInt8(PROTOCOL_VERSION, 2);
  h.writeUInt8(1, 3);
  h.writeUInt32LE(length % 2 ** 32, 8);
  h.writeUInt32LE(Math.floor(length / 2 ** 32), 12);
  return h;
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
    d.push(requestHeader(2 ** 32));
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
  test('pull mode (reads into readTarget()) gives the same hello and frames for any read sizes', () => {
    const { bytes, frames } = stream();
    const rng = new SeededRng(23);
    for (let t = 0; t < 200; t++) {
      const small = t % 3 === 0;
      const r = decodePull(
        bytes,
        (room) => (small ? 1 + rng.nextInt(7) : 1 + rng.nextInt(room)),
        () => t % 4 === 1 && rng.nextFloat() < 0.5,
      );
      assert.deepEqual(r.hello, HELLO);
      assert.deepEqual(r.frames, frames, `trial ${t}`);
    }
    // Reading as much as offered: every payload byte lands in its payload buffer directly.
    const whole = decodePull(
      bytes,
      (room) => room,
      () => false,
    );
    assert.deepEqual(whole.frames, frames);
    const payloadBytes = frames.reduce((s, f) => s + f.length - 16, 0);
    assert.equal(whole.direct, payloadBytes);
  });

  test('pull mode never offers room past the next hello or header boundary before the payload is known', () => {
    const { bytes } = stream();
    const d = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'client' });
    assert.equal(d.readTarget().length, 32);
    bytes.copy(d.readTarget(), 0, 0, 20);
    d.wrote(20);
    assert.equal(d.readTarget().length, 12);
    bytes.copy(d.readTarget(), 0, 20, 32);
    d.wrote(12);
    assert.ok(d.hello() !== null);
    assert.equal(d.readTarget().length, 16);
    bytes.copy(d.readTarget(), 0, 32, 48);
    d.wrote(16);
    const head = d.peek();
    assert.ok(head !== null);
    // Peeked but not yet allocated (the consumer checks the header first): bytes are only queued.
    assert.equal(d.next(), null);
    assert.equal(d.readTarget().length, head.length);
  });

  test('pull mode rejects an over-limit header before allocating, and reports truncation (E_FRAME)', () => {
    const d = new FrameDecoder({ maxPayloadBytes: 1024 });
    const h = requestHeader(4096);
    const t = d.readTarget();
    assert.equal(t.length, 16);
    h.copy(t);
    d.wrote(16);
    assert.throws(
      () => d.next(),
      (e) => isTeeError(e, 'E_FRAME') && /exceeds the limit/.test(e.message),
    );
    assert.ok(d.readTarget().length > 0); // a failed decoder still offers (discarded) room
    assert.throws(() => d.next(), /exceeds the limit/);
    const { bytes } = stream();
    const cut = new FrameDecoder({ maxPayloadBytes: 1 << 20, helloFrom: 'client' });
    let greeted = false;
    for (let at = 0; at < 32 + 16 + 10; ) {
      const room = cut.readTarget();
      const n = Math.min(room.length, 32 + 16 + 10 - at);
      bytes.copy(room, 0, at, at + n);
      cut.wrote(n);
      at += n;
      if (!greeted && at >= 32) greeted = cut.hello() !== null;
      if (at >= 48) assert.equal(cut.next(), null);
    }
    assert.throws(
      () => cut.end(),
      (e) => isTeeError(e, 'E_FRAME') && /ended after 10 of \d+ payload bytes$/.test(e.message),
    );
    assert.throws(() => new FrameDecoder({ maxPayloadBytes: 1 }).wrote(-1), RangeError);
  });
});
