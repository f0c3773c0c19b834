// Length-prefixed frames (u32 big-endian length ‖ bytes) read from a socket for the handshake and the
// secure channel. A frame's declared length is checked against the limit as soon as its 4 length
// bytes arrive, before anything is allocated for it; a frame over the limit is E_FRAME and the socket
// is destroyed. Reading pauses the socket while too many frames, or too many bytes (two of the largest
// frames), wait unread (back-pressure): a peer that is not being served (a queued session) cannot make
// this process buffer more than that.
import type { Socket } from 'node:net';
import { TeeError } from '../errors.js';

export const FRAME_LENGTH_BYTES = 4;

interface Waiter {
  resolve(frame: Uint8Array | null): void;
  reject(e: Error): void;
}

export class FrameReader {
  /** The largest frame accepted; may be raised after the handshake. */
  maxFrameBytes: number;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private readonly waiters: Waiter[] = [];
  private readonly head = new Uint8Array(FRAME_LENGTH_BYTES);
  private headFill = 0;
  private body: Uint8Array | null = null;
  private bodyFill = 0;
  private failure: Error | null = null;
  private ended = false;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    maxFrameBytes: number,
    private readonly maxQueued = 32,
  ) {
    this.maxFrameBytes = maxFrameBytes;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (e: Error) =>
      this.fail(new TeeError('E_NETWORK', `connection error: ${e.message}`, { cause: e })),
    );
    socket.on('close', () => {
      if (!this.ended) this.fail(new TeeError('E_NETWORK', 'the connection was closed'));
    });
  }

  private onData(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.failure === null) {
      if (this.body === null) {
        const n = Math.min(FRAME_LENGTH_BYTES - this.headFill, chunk.length - at);
        this.head.set(chunk.subarray(at, at + n), this.headFill);
        this.headFill += n;
        at += n;
        if (this.headFill < FRAME_LENGTH_BYTES) return;
        const len = new DataView(this.head.buffer).getUint32(0);
        // The declared length is checked here, before the frame's memory is allocated.
        if (len > this.maxFrameBytes) {
          this.fail(
            new TeeError('E_FRAME', `frame of ${len} bytes exceeds the limit of ${this.maxFrameBytes} bytes`),
          );
          return;
        }
        this.body = new Uint8Array(len);
        this.bodyFill = 0;
      }
      const n = Math.min(this.body.length - this.bodyFill, chunk.length - at);
      this.body.set(chunk.subarray(at, at + n), this.bodyFill);
      this.bodyFill += n;
      at += n;
      if (this.bodyFill === this.body.length) {
        const frame = this.body;
        this.body = null;
        this.headFill = 0;
        this.deliver(frame);
      }
    }
  }

  private deliver(frame: Uint8Array): void {
    const w = this.waiters.shift();
    if (w) {
      w.resolve(frame);
      return;
    }
    this.queue.push(frame);
    this.queuedBytes += frame.byteLength;
    if ((this.queue.length >= this.maxQueued || this.queuedBytes >= this.maxQueuedBytes) && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /** Unread bytes at which reading pauses: two of the largest frames. */
  private get maxQueuedBytes(): number {
    return 2 * Math.max(this.maxFrameBytes, 1 << 16);
  }

  private onEnd(): void {
    if (this.failure !== null) return;
    if (this.headFill > 0 || this.body !== null) {
      this.fail(new TeeError('E_NETWORK', 'the connection ended in the middle of a frame'));
      return;
    }
    this.ended = true;
    for (const w of this.waiters.splice(0)) w.resolve(null);
  }

  /** The next frame; null once the peer ended the stream cleanly between frames. */
  next(): Promise<Uint8Array | null> {
    const f = this.queue.shift();
    if (f !== undefined) {
      this.queuedBytes -= f.byteLength;
      if (
        this.paused &&
        this.queue.length < this.maxQueued / 2 &&
        this.queuedBytes < this.maxQueuedBytes / 2
      ) {
        this.paused = false;
        this.socket.resume();
      }
      return Promise.resolve(f);
    }
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Fails every pending and future read with `e` and destroys the socket (first failure wins). */
  fail(e: Error): void {
    if (this.failure !== null) return;
    this.failure = e;
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.body = null;
    for (const w of this.waiters.splice(0)) w.reject(e);
    this.socket.destroy();
  }

  get failed(): Error | null {
    return this.failure;
  }
}

/** u32 big-endian length ‖ parts, as one buffer for a single socket write. */
export function frame(...parts: Uint8Array[]): Uint8Array {
  const len = parts.reduce((n, p) => n + p.byteLength, 0);
  const out = new Uint8Array(FRAME_LENGTH_BYTES + len);
  new DataView(out.buffer).setUint32(0, len);
  let at = FRAME_LENGTH_BYTES;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}
