// Reuse of large payload buffers. A fresh 256 MiB buffer costs far more in page faults on first touch
// than the copy of a frame into it, so a receiver that knows when a payload is dead (the accelerator,
// once a request is answered) hands its ArrayBuffer back here for the next frame of a similar size.
// Capacities are rounded up to 8 size classes per power of two; small payloads are not pooled.
// `shared` pools SharedArrayBuffers: a buffer that travels between threads (the accelerator's compute
// worker) is then shared, not transferred, and does not count as new external memory in each isolate it
// reaches — transferred ArrayBuffers did, and their round trips set off a full garbage collection every
// few products (~25 per ResNet-18 batch-4 step in the accelerator's main thread).

export class PayloadPool {
  private readonly free = new Map<number, ArrayBufferLike[]>();
  private idle = 0;
  readonly maxIdleBytes: number;
  readonly minPooledBytes: number;
  readonly shared: boolean;

  /** Keeps at most maxIdleBytes of idle buffers; payloads below minPooledBytes are always fresh. */
  constructor(maxIdleBytes: number, minPooledBytes = 1 << 20, opts: { readonly shared?: boolean } = {}) {
    this.maxIdleBytes = maxIdleBytes;
    this.minPooledBytes = minPooledBytes;
    this.shared = opts.shared === true;
  }

  /** Bytes held idle for reuse. */
  get idleBytes(): number {
    return this.idle;
  }

  /** The capacity allocated for a payload of n bytes. */
  capacity(n: number): number {
    if (n < this.minPooledBytes) return n;
    const step = 2 ** Math.floor(Math.log2(n)) / 8;
    return Math.ceil(n / step) * step;
  }

  /**
   * A Buffer of exactly n bytes at offset 0 of an ArrayBuffer (a SharedArrayBuffer when `shared`) of its
   * own (contents undefined).
   */
  take(n: number): Buffer {
    const cap = this.capacity(n);
    const ab = n < this.minPooledBytes ? undefined : this.free.get(cap)?.pop();
    if (ab !== undefined) {
      this.idle -= cap;
      return Buffer.from(ab, 0, n);
    }
    if (this.shared) return Buffer.from(new SharedArrayBuffer(cap), 0, n);
    const b = Buffer.allocUnsafeSlow(cap);
    return cap === n ? b : b.subarray(0, n);
  }

  /** Returns a dead payload's buffer (nothing may use it afterwards); ignored if not poolable. */
  give(ab: ArrayBufferLike): void {
    const cap = ab.byteLength;
    if (cap < this.minPooledBytes || this.capacity(cap) !== cap || cap > this.maxIdleBytes) return;
    // Make room by dropping other idle buffers (oldest size classes first).
    for (const [k, list] of this.free) {
      if (this.idle + cap <= this.maxIdleBytes) break;
      while (list.length > 0 && this.idle + cap > this.maxIdleBytes) {
        list.pop();
        this.idle -= k;
      }
      if (list.length === 0) this.free.delete(k);
    }
    const list = this.free.get(cap) ?? [];
    list.push(ab);
    this.free.set(cap, list);
    this.idle += cap;
  }
}
