// Reused Int32Array buffers for the quantized operands of exact products. A training step quantizes
// hundreds of MB of operands (VGG19-BN at 224², batch 1: ~400 MB); in fresh arrays every page is faulted
// in and zeroed by the kernel first, which costs about twice the quantization itself. A buffer is handed
// out to one product at a time (take) and comes back when that product is disposed (give); a buffer that
// is never given back is simply garbage. Free buffers are kept up to a byte budget, largest first.

/** The default budget of free buffers kept for reuse. */
export const DEFAULT_POOL_BYTES = 512 * 2 ** 20;

export class IntBufferPool {
  private readonly free: ArrayBuffer[] = [];
  private freeBytes = 0;
  private readonly handedOut = new WeakSet<ArrayBuffer>();

  constructor(private readonly maxFreeBytes = DEFAULT_POOL_BYTES) {
    if (!(maxFreeBytes >= 0)) throw new RangeError(`IntBufferPool: a byte budget ≥ 0, got ${maxFreeBytes}`);
  }

  /**
   * An Int32Array of exactly n elements: a view on the smallest free buffer that holds n and is not more
   * than twice as large, else a new one. Its contents are whatever the last user left.
   */
  take(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`IntBufferPool.take: a length ≥ 0, got ${n}`);
    const need = 4 * n;
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= need && size <= 2 * need && (best < 0 || size < this.free[best]!.byteLength)) best = i;
    }
    let buf: ArrayBuffer;
    if (best >= 0) {
      buf = this.free.splice(best, 1)[0]!;
      this.freeBytes -= buf.byteLength;
    } else {
      buf = new ArrayBuffer(need);
    }
    this.handedOut.add(buf);
    return new Int32Array(buf, 0, n);
  }

  /** Returns a buffer from take(); anything else (or a second give) is ignored. */
  give(a: Int32Array): void {
    const buf = a.buffer;
    if (!(buf instanceof ArrayBuffer) || !this.handedOut.has(buf)) return;
    this.handedOut.delete(buf);
    this.free.push(buf);
    this.freeBytes += buf.byteLength;
    // Over budget: drop the smallest buffers first (the large ones are the expensive ones to fault in).
    if (this.freeBytes > this.maxFreeBytes) {
      this.free.sort((x, y) => y.byteLength - x.byteLength);
      while (this.freeBytes > this.maxFreeBytes && this.free.length > 0) {
        this.freeBytes -= this.free.pop()!.byteLength;
      }
    }
  }

  /** Bytes held for reuse now. */
  get heldBytes(): number {
    return this.freeBytes;
  }
}
