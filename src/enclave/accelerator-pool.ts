// Several accelerators behind one AcceleratorTransport (one `--accelerator` flag each): calls go round
// robin, one whole call per accelerator. A failed call is not retried here: the caller's retry (after a
// failed check, DESIGN.md) simply lands on the next accelerator.
import type { AcceleratorTransport, LinearReply, LinearRequest } from '../protocol/linear-request.js';
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

  /** One client per address (host:port); nothing is opened until connect() or the first call. */
  constructor(addresses: readonly string[], opts: AcceleratorClientOptions = {}) {
    if (addresses.length === 0) throw new RangeError('an accelerator pool needs at least one address');
    this.clients = addresses.map((a) => new AcceleratorClient(a, opts));
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
    const c = this.clients[this.next]!;
    this.next = (this.next + 1) % this.clients.length;
    this.last = c;
    return c.call(req, opts).then((reply) => {
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
   * With several accelerators an unreachable one is not an error here: the retry goes round robin to
   * the next one anyway.
   */
  async reconnect(): Promise<void> {
    try {
      await (this.last ?? this.clients[0]!).reconnect();
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
}
