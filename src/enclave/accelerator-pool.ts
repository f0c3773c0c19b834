// Several accelerators behind one AcceleratorTransport (one `--accelerator` flag each): round robin,
// except that an operand-cache reuse goes to the accelerator that received the latest request under its
// key (docs/protocol.md "Operand cache"). The caller's retry follows reconnect(), which forgets that
// accelerator's keys and restarts the round robin after it, so the retry goes to another one.
import type { AcceleratorTransport, LinearReply, LinearRequest } from '../protocol/linear-request.js';
import { MAX_CACHE_ENTRIES } from '../protocol/operand-cache.js';
import {
  AcceleratorClient,
  type AcceleratorClientOptions,
  type AcceleratorClientStats,
} from './accelerator-client.js';

export interface AcceleratorPoolStats extends AcceleratorClientStats {
  readonly address: string;
}

export class AcceleratorPool implements AcceleratorTransport {
  readonly clients: readonly AcceleratorClient[];
  private next = 0;
  private last: AcceleratorClient | null = null;
  private readonly servedBy = new WeakMap<LinearReply, AcceleratorClient>();
  /**
   * Cache key → the client that received the latest request carrying that key, least recently used
   * first. Bounded by what the accelerators can hold between them (MAX_CACHE_ENTRIES per connection):
   * a key forgotten here only costs a full send of its operand.
   */
  private readonly holders = new Map<number, AcceleratorClient>();
  private readonly maxKeys: number;

  /** One client per address (host:port); nothing is opened until connect() or the first call. */
  constructor(addresses: readonly string[], opts: AcceleratorClientOptions = {}) {
    if (addresses.length === 0) throw new RangeError('an accelerator pool needs at least one address');
    this.clients = addresses.map((a) => new AcceleratorClient(a, opts));
    this.maxKeys = MAX_CACHE_ENTRIES * this.clients.length;
  }

  /** Opens every connection; rejects (E_NETWORK / E_FRAME, naming the address) if any fails. */
  static async connect(
    addresses: readonly string[],
    opts: AcceleratorClientOptions = {},
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
    return c.call(routed, opts).then((reply) => {
      this.servedBy.set(reply, c);
      return reply;
    });
  }

  /** Hands a reply's buffer back to the client that received it (AcceleratorClient.release). */
  release(reply: LinearReply): void {
    this.servedBy.get(reply)?.release(reply);
  }

  /**
   * A fresh connection to the accelerator that served the latest call (the one whose answer failed).
   * Its operand cache goes with the old connection, so its keys are forgotten, and the round robin
   * resumes after it: the retry (even of a routed 'reuse' request, sent as a 'store') goes to another
   * accelerator. With several accelerators an unreachable one is not an error here.
   */
  async reconnect(): Promise<void> {
    const c = this.last ?? this.clients[0]!;
    for (const [key, holder] of this.holders) if (holder === c) this.holders.delete(key);
    this.next = (this.clients.indexOf(c) + 1) % this.clients.length;
    try {
      await c.reconnect();
    } catch (e) {
      if (this.clients.length === 1) throw e;
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.close()));
  }

  stats(): AcceleratorPoolStats[] {
    return this.clients.map((c) => ({ address: c.address, ...c.stats() }));
  }

  private roundRobin(): AcceleratorClient {
    const c = this.clients[this.next]!;
    this.next = (this.next + 1) % this.clients.length;
    return c;
  }

  // Where a request goes, and the hint it goes with. `reuse` means "b is unchanged since the latest
  // request under this key"; only the client that received that request may act on it (its own mirror
  // then decides 'use' or 'store'). Any other client may hold an older copy under the same key from an
  // earlier step, so a reuse request that cannot be routed is sent as a 'store' (b in full): a stale
  // copy is never offered, even though the check would refuse its result. Routed requests do not take
  // a round-robin turn, so products without hints still alternate evenly.
  private route(req: LinearRequest): { client: AcceleratorClient; req: LinearRequest } {
    const hint = req.bCacheHint;
    if (hint === undefined || this.clients.length === 1) return { client: this.roundRobin(), req };
    let c = hint.reuse ? this.holders.get(hint.key) : undefined;
    if (c === undefined) {
      c = this.roundRobin();
      if (hint.reuse) req = { ...req, bCacheHint: { key: hint.key, reuse: false } };
    }
    this.holders.delete(hint.key);
    this.holders.set(hint.key, c);
    if (this.holders.size > this.maxKeys) this.holders.delete(this.holders.keys().next().value!);
    return { client: c, req };
  }
}
