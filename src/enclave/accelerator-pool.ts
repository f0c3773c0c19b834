// Several accelerators behind one AcceleratorTransport (one `--accelerator` flag each): round robin,
// except that an operand-cache reuse goes to the accelerator that received the latest request under its
// key (docs/protocol.md "Operand cache"). The caller's retry follows reconnect(failed request), which
// forgets the keys of the accelerator that served it and restarts the round robin after it, so the retry
// goes to another one. An accelerator that cannot be reconnected is left out of the round robin for a
// while (5 s, doubling to 2 min while it stays unreachable; one warning each time it goes down) instead
// of costing a failed attempt on every product that comes to its turn.
import type {
  AcceleratorTransport,
  CacheHint,
  LinearReply,
  LinearRequest,
} from '../protocol/linear-request.js';
import { MAX_CACHE_ENTRIES } from '../protocol/operand-cache.js';
import {
  AcceleratorClient,
  type AcceleratorClientOptions,
  type AcceleratorClientStats,
} from './accelerator-client.js';

export interface AcceleratorPoolStats extends AcceleratorClientStats {
  readonly address: string;
  /** Times it could not be reconnected and was left out of the round robin. */
  readonly downs: number;
}

export interface AcceleratorPoolOptions extends AcceleratorClientOptions {
  /** Where "accelerator … is unreachable" goes (default: stderr). */
  readonly warn?: (message: string) => void;
  /** The clock, in ms (tests). */
  readonly now?: () => number;
}

/** How long an unreachable accelerator stays out of the round robin: first, and at most (ms). */
export const DOWN_FIRST_MS = 5_000;
export const DOWN_MAX_MS = 120_000;

interface Down {
  until: number;
  ms: number;
}

export class AcceleratorPool implements AcceleratorTransport {
  readonly clients: readonly AcceleratorClient[];
  private next = 0;
  private last: AcceleratorClient | null = null;
  private readonly servedBy = new WeakMap<LinearReply, AcceleratorClient>();
  // The accelerator each request (as the caller passed it) went to last: where its retry must not go.
  private readonly sentTo = new WeakMap<LinearRequest, AcceleratorClient>();
  /**
   * Cache key → the client that received the latest request carrying that key, least recently used
   * first. Bounded by what the accelerators can hold between them (MAX_CACHE_ENTRIES per connection):
   * a key forgotten here only costs a full send of its operand.
   */
  private readonly holders = new Map<number, AcceleratorClient>();
  private readonly maxKeys: number;
  // Accelerators that could not be reconnected: out of the round robin until `until`.
  private readonly down = new Map<AcceleratorClient, Down>();
  private readonly downs = new Map<AcceleratorClient, number>();
  private readonly warn: (message: string) => void;
  private readonly now: () => number;

  /** One client per address (host:port); nothing is opened until connect() or the first call. */
  constructor(addresses: readonly string[], opts: AcceleratorPoolOptions = {}) {
    if (addresses.length === 0) throw new RangeError('an accelerator pool needs at least one address');
    const { warn, now, ...clientOpts } = opts;
    this.clients = addresses.map((a) => new AcceleratorClient(a, clientOpts));
    this.maxKeys = MAX_CACHE_ENTRIES * this.clients.length;
    this.warn = warn ?? ((m) => process.stderr.write(`${m}\n`));
    this.now = now ?? (() => performance.now());
  }

  /** Opens every connection; rejects (E_NETWORK / E_FRAME, naming the address) if any fails. */
  static async connect(
    addresses: readonly string[],
    opts: AcceleratorPoolOptions = {},
  ): Promise<AcceleratorPool> {
    const pool = new AcceleratorPool(addresses, opts);
    try {
      await Promise.all(pool.clients.map((c) => c.connect()));
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  call(req: LinearRequest, opts?: { deadlineMs?: number }): Promise<LinearReply> {
    const { client: c, req: routed } = this.route(req);
    this.last = c;
    this.sentTo.set(req, c);
    return c.call(routed, opts).then((reply) => {
      this.servedBy.set(reply, c);
      this.down.delete(c); // back: the next time it goes down starts from DOWN_FIRST_MS again
      return reply;
    });
  }

  /** Hands a reply's buffer back to the client that received it (AcceleratorClient.release). */
  release(reply: LinearReply): void {
    this.servedBy.get(reply)?.release(reply);
  }

  /**
   * A fresh connection to the accelerator that served `failed` (without it: the latest call). Its
   * operand cache goes with the old connection, so its keys are forgotten, and the round robin resumes
   * after it: the retry (even of a routed 'reuse' request, sent as a 'store') goes to another
   * accelerator. With several accelerators an unreachable one is not an error here.
   */
  async reconnect(failed?: LinearRequest): Promise<void> {
    const c = (failed === undefined ? undefined : this.sentTo.get(failed)) ?? this.last ?? this.clients[0]!;
    for (const [key, holder] of this.holders) if (holder === c) this.holders.delete(key);
    this.next = (this.clients.indexOf(c) + 1) % this.clients.length;
    try {
      await c.reconnect();
      this.down.delete(c);
    } catch (e) {
      if (this.clients.length === 1) throw e;
      this.markDown(c, e);
    }
  }

  // Leaves `c` out of the round robin: DOWN_FIRST_MS the first time, twice as long each time it is
  // still unreachable when tried again (up to DOWN_MAX_MS).
  private markDown(c: AcceleratorClient, e: unknown): void {
    const prev = this.down.get(c);
    if (prev !== undefined && prev.until > this.now()) return; // another call in flight found it first
    const ms = prev === undefined ? DOWN_FIRST_MS : Math.min(DOWN_MAX_MS, 2 * prev.ms);
    this.down.set(c, { until: this.now() + ms, ms });
    this.downs.set(c, (this.downs.get(c) ?? 0) + 1);
    const why = e instanceof Error ? e.message : String(e);
    this.warn(
      `tee-offload: warning: accelerator ${c.address} is unreachable (${why}); its products go to the ` +
        `others, and it is tried again in ${Math.round(ms / 1000)} s`,
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }

  stats(): AcceleratorPoolStats[] {
    return this.clients.map((c) => ({ address: c.address, ...c.stats(), downs: this.downs.get(c) ?? 0 }));
  }

  // The next accelerator in turn that is not left out; when every one is, the next in turn (its call then
  // fails, and the caller's retry and error say why).
  private roundRobin(): AcceleratorClient {
    const t = this.now();
    for (let i = 0; i < this.clients.length; i++) {
      const c = this.clients[this.next]!;
      this.next = (this.next + 1) % this.clients.length;
      const d = this.down.get(c);
      if (d === undefined || d.until <= t) return c;
    }
    const c = this.clients[this.next]!;
    this.next = (this.next + 1) % this.clients.length;
    return c;
  }

  // Where a request goes, and the hints it goes with. `reuse` means "the operand is unchanged since the
  // latest request under this key"; only the client that received that request may act on it (its own
  // mirror then decides 'use' or 'store'). Any other client may hold an older copy under the same key
  // from an earlier step, so a reuse hint that cannot be followed is sent as a 'store' (the operand in
  // full): a stale copy is never offered, even though the check would refuse its result. A request goes
  // where its first followable reuse hint (a's, then b's) points; its other keys then live there too.
  // Routed requests do not take a round-robin turn, so products without hints still alternate evenly.
  private route(req: LinearRequest): { client: AcceleratorClient; req: LinearRequest } {
    const hints = [req.aCacheHint, req.bCacheHint];
    if (hints.every((h) => h === undefined) || this.clients.length === 1)
      return { client: this.roundRobin(), req };
    let c: AcceleratorClient | undefined;
    for (const h of hints) if (c === undefined && h?.reuse === true) c = this.holders.get(h.key);
    c ??= this.roundRobin();
    const follow = (h: CacheHint | undefined): CacheHint | undefined => {
      if (h === undefined) return undefined;
      const held = h.reuse && this.holders.get(h.key) === c;
      this.holders.delete(h.key);
      this.holders.set(h.key, c);
      if (this.holders.size > this.maxKeys) this.holders.delete(this.holders.keys().next().value!);
      return h.reuse && !held ? { key: h.key, reuse: false } : h;
    };
    const aCacheHint = follow(req.aCacheHint);
    const bCacheHint = follow(req.bCacheHint);
    return {
      client: c,
      req: {
        ...req,
        ...(aCacheHint === undefined ? {} : { aCacheHint }),
        ...(bCacheHint === undefined ? {} : { bCacheHint }),
      },
    };
  }
}
