// Streaming decoder for one direction of a connection: push() TCP chunks as they come (a frame may be
// split across any chunk boundaries, a chunk may hold several frames), then take the hello, peek at the
// next header (validated against the limit before anything is allocated) and take complete frames.
// Each payload is copied once into its own unpooled Buffer (offset 0, so typed-array views of its
// tensors are aligned, and its ArrayBuffer can be transferred to a worker, or recycled through a
// PayloadPool): pushed chunks are never retained past the bytes they hold.
// Pull mode (a socket's `onread`): readTarget() says where the next bytes should go — the rest of the
// current payload once next() has allocated it (the socket reads straight into it: no copy, no chunk
// buffers), else a scratch sized to end at the next hello or header boundary — and wrote() records what
// arrived there. Both modes give the same frames and the same errors; validation order is unchanged
// (a header is decoded and checked by peek() before next() allocates its payload).
import {
  decodeHeader,
  decodeHello,
  type FrameHeader,
  frameError,
  HEADER_BYTES,
  HELLO_BYTES,
  type Hello,
  type Role,
} from './frame.js';

// The largest read into the scratch buffer in pull mode (when no hello or header boundary bounds it).
const PULL_SCRATCH_BYTES = 64 * 1024;

export interface RawFrame extends FrameHeader {
  /** Exactly `length` bytes at offset 0 of an ArrayBuffer owned by the frame. */
  readonly payload: Buffer;
}

export interface FrameDecoderOptions {
  /** The largest payload accepted; a header announcing more is E_FRAME. */
  readonly maxPayloadBytes: number;
  /** When set, the stream starts with a hello from this role (read it with hello()). */
  readonly helloFrom?: Role;
  /**
   * Where payload buffers come from (default Buffer.allocUnsafeSlow): must return exactly n bytes at
   * offset 0 of an ArrayBuffer used by nothing else (PayloadPool.take).
   */
  readonly allocate?: (n: number) => Buffer;
}

export class FrameDecoder {
  private readonly maxPayloadBytes: number;
  private readonly allocate: (n: number) => Buffer;
  private readonly chunks: Buffer[] = [];
  private chunkOffset = 0;
  private queued = 0;
  private helloFrom: Role | null;
  private head: FrameHeader | null = null;
  private payload: Buffer | null = null;
  private filled = 0;
  private failure: Error | null = null;
  // Pull mode: where the last readTarget() pointed (the payload, or the scratch).
  private scratch: Buffer | null = null;
  private direct = false;

  constructor(opts: FrameDecoderOptions) {
    this.maxPayloadBytes = opts.maxPayloadBytes;
    this.helloFrom = opts.helloFrom ?? null;
    this.allocate = opts.allocate ?? ((n) => Buffer.allocUnsafeSlow(n));
  }

  /** Bytes pushed but not yet consumed into a hello, header or payload. */
  get bufferedBytes(): number {
    return this.queued;
  }

  /** Payload bytes of the current frame not yet received (0 between frames). */
  get payloadBytesLeft(): number {
    return this.head === null ? 0 : Math.max(0, this.head.length - this.filled - this.queued);
  }

  /** True while part of a hello or frame has been read: ending the stream now truncates it. */
  get midFrame(): boolean {
    return this.queued > 0 || this.head !== null;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.queued += chunk.length;
  }

  /**
   * Pull mode: the buffer the next read should fill. The rest of the current payload when next() has
   * allocated it and nothing is queued ahead of it; otherwise a scratch buffer that ends at the next
   * hello or header boundary (or up to 64 KiB when the consumer is behind: those bytes are then queued
   * as in push mode). Follow every read with wrote().
   */
  readTarget(): Buffer {
    this.scratch ??= Buffer.allocUnsafe(PULL_SCRATCH_BYTES);
    const head = this.head;
    if (this.failure === null && head !== null && this.payload !== null && this.queued === 0) {
      if (this.filled < head.length) {
        this.direct = true;
        return this.payload.subarray(this.filled, head.length);
      }
    }
    this.direct = false;
    let want = PULL_SCRATCH_BYTES;
    if (this.failure === null) {
      if (this.helloFrom !== null) want = HELLO_BYTES - this.queued;
      else if (head === null) want = HEADER_BYTES - this.queued;
      else if (this.payload !== null && this.filled >= head.length) want = HEADER_BYTES - this.queued;
    }
    return this.scratch.subarray(0, want > 0 ? want : PULL_SCRATCH_BYTES);
  }

  /** Pull mode: n bytes arrived in the buffer the last readTarget() returned. */
  wrote(n: number): void {
    if (!(Number.isInteger(n) && n >= 0)) throw new RangeError(`FrameDecoder: wrote ${n} bytes`);
    if (n === 0) return;
    if (this.direct) {
      this.filled += n;
      return;
    }
    // Scratch bytes are queued as a chunk of their own (the scratch is reused by the next read).
    this.push(Buffer.from(this.scratch!.subarray(0, n)));
  }

  /** The peer's hello once its 32 bytes are in; null before. */
  hello(): Hello | null {
    this.rethrow();
    if (this.helloFrom === null) throw new Error('FrameDecoder: no hello expected');
    if (this.queued < HELLO_BYTES) return null;
    const b = Buffer.allocUnsafe(HELLO_BYTES);
    this.take(b, 0, HELLO_BYTES);
    const from = this.helloFrom;
    this.helloFrom = null;
    return this.guard(() => decodeHello(b, from));
  }

  /** The header of the next frame once its 16 bytes are in (validated, nothing allocated); null before. */
  peek(): FrameHeader | null {
    this.rethrow();
    if (this.helloFrom !== null) throw new Error('FrameDecoder: read the hello first');
    if (this.head !== null) return this.head;
    if (this.queued < HEADER_BYTES) return null;
    const first = this.chunks[0]!;
    let b: Buffer;
    let off: number;
    if (first.length - this.chunkOffset >= HEADER_BYTES) {
      b = first;
      off = this.chunkOffset;
    } else {
      b = Buffer.allocUnsafe(HEADER_BYTES);
      off = 0;
      this.copyOut(b, 0, HEADER_BYTES);
    }
    this.head = this.guard(() => decodeHeader(b, off, this.maxPayloadBytes));
    this.skip(HEADER_BYTES);
    return this.head;
  }

  /** The next complete frame, or null while its payload is still arriving. Allocates the payload. */
  next(): RawFrame | null {
    const head = this.peek();
    if (head === null) return null;
    if (this.payload === null) {
      this.payload = this.allocate(head.length);
      this.filled = 0;
    }
    const n = Math.min(this.queued, head.length - this.filled);
    if (n > 0) {
      this.take(this.payload, this.filled, n);
      this.filled += n;
    }
    if (this.filled < head.length) return null;
    const frame: RawFrame = { ...head, payload: this.payload };
    this.head = null;
    this.payload = null;
    this.filled = 0;
    return frame;
  }

  /** The stream ended: E_FRAME when it stopped inside a hello or a frame. */
  end(): void {
    this.rethrow();
    if (this.head !== null) {
      const got = this.filled + this.queued;
      throw this.fail(
        frameError(
          got >= this.head.length
            ? `the stream ended with a whole frame (${this.head.length} payload bytes) not yet taken in`
            : `truncated frame: the stream ended after ${got} of ${this.head.length} payload bytes`,
        ),
      );
    }
    if (this.queued > 0) {
      const what =
        this.helloFrom !== null ? `hello (${HELLO_BYTES} bytes)` : `frame header (${HEADER_BYTES} bytes)`;
      throw this.fail(
        frameError(`truncated frame: the stream ended after ${this.queued} bytes of a ${what}`),
      );
    }
  }

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw this.fail(e as Error);
    }
  }

  private fail(e: Error): Error {
    this.failure = e;
    this.chunks.length = 0;
    this.queued = 0;
    return e;
  }

  private rethrow(): void {
    if (this.failure !== null) throw this.failure;
  }

  /** Copies n queued bytes into target without consuming them. */
  private copyOut(target: Buffer, at: number, n: number): void {
    let off = this.chunkOffset;
    for (let i = 0; n > 0; i++) {
      const c = this.chunks[i]!;
      const k = Math.min(n, c.length - off);
      // Buffer.copy is a plain memmove; TypedArray.set into a SharedArrayBuffer view (the accelerator's
      // pooled payloads) takes V8's slower relaxed-atomic copy.
      c.copy(target, at, off, off + k);
      at += k;
      n -= k;
      off = 0;
    }
  }

  /** Consumes n queued bytes. */
  private skip(n: number): void {
    this.queued -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.length - this.chunkOffset;
      if (n < left) {
        this.chunkOffset += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.chunkOffset = 0;
    }
  }

  private take(target: Buffer, at: number, n: number): void {
    this.copyOut(target, at, n);
    this.skip(n);
  }
}
