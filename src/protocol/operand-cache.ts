// The accelerator's per-connection operand cache (docs/protocol.md "Operand cache", version 2): the
// trusted side may ask the accelerator to keep operand b of a request under a key it chooses (STORE_B)
// and later send a request whose b is that cached tensor (USE_B) instead of its bytes — the weights of a
// forward product reused by its grad-input product. Safe because the trusted side checks every result
// against its own copy of b (Freivalds): a stale or forged cached b is a refused result, never a wrong
// value. Both sides run this same policy on the same requests in the same order, so the trusted side's
// mirror (metadata only) knows exactly what the accelerator holds: least recently stored-or-used first
// out, at most `capacityBytes` in all and MAX_CACHE_ENTRIES keys; a tensor larger than the capacity is
// not stored. The accelerator announces its capacity in its hello (0: no cache).

/** Most keys one connection's cache holds. */
export const MAX_CACHE_ENTRIES = 4096;

/** Default capacity of an accelerator's cache per connection: 1 GiB (the conv weights of VGG19 are 80 MB). */
export const DEFAULT_CACHE_BYTES = 2 ** 30;

export interface CacheEntry<T> {
  readonly shape: readonly number[];
  readonly bytes: number;
  readonly value: T;
}

export class OperandCache<T> {
  private readonly entries = new Map<number, CacheEntry<T>>();
  private total = 0;

  constructor(readonly capacityBytes: number) {
    if (!Number.isSafeInteger(capacityBytes) || capacityBytes < 0) {
      throw new RangeError(`cache capacity must be an integer >= 0, got ${capacityBytes}`);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  get bytes(): number {
    return this.total;
  }

  /** Stores `value` under `key` (replacing what was there); false when it cannot fit at all. */
  store(key: number, shape: readonly number[], bytes: number, value: T): boolean {
    this.drop(key);
    if (bytes > this.capacityBytes) return false;
    for (const [k, e] of this.entries) {
      if (this.total + bytes <= this.capacityBytes && this.entries.size < MAX_CACHE_ENTRIES) break;
      this.entries.delete(k);
      this.total -= e.bytes;
    }
    this.entries.set(key, { shape: [...shape], bytes, value });
    this.total += bytes;
    return true;
  }

  /** The entry under `key` when its shape is `shape` (and marks it used), else undefined. */
  use(key: number, shape: readonly number[]): CacheEntry<T> | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.shape.length !== shape.length || e.shape.some((d, i) => d !== shape[i])) {
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    return e;
  }

  drop(key: number): void {
    const e = this.entries.get(key);
    if (e !== undefined) {
      this.entries.delete(key);
      this.total -= e.bytes;
    }
  }

  clear(): void {
    this.entries.clear();
    this.total = 0;
  }
}
