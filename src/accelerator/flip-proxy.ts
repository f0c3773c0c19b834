// A TCP proxy that flips random bits in the bytes it forwards, for tests and the fault-injection
// benchmark: put it between a client and an accelerator to check that corrupted frames surface as
// E_FRAME / E_NETWORK (or, in tensor data, as a failed Freivalds check), never as a crash or a hang.
import { type AddressInfo, createConnection, createServer, type Server, type Socket } from 'node:net';
import { SeededRng } from '../tensor/seeded-rng.js';

export interface FlipProxyOptions {
  readonly targetHost: string;
  readonly targetPort: number;
  /** Probability that any one forwarded byte gets one bit flipped (0 forwards faithfully). */
  readonly rate: number;
  /** 'up': client → accelerator only; 'down': accelerator → client only; default 'both'. */
  readonly direction?: 'up' | 'down' | 'both';
  /** Bytes at the start of each direction that are never flipped (e.g. 32 to spare the hello). */
  readonly skipBytes?: number;
  readonly seed?: number;
}

export class FlipProxy {
  /** Bits flipped so far, per direction. */
  readonly flipped = { up: 0, down: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly rng: SeededRng;
  private readonly opts: FlipProxyOptions;

  private constructor(opts: FlipProxyOptions) {
    if (!(opts.rate >= 0 && opts.rate <= 1))
      throw new RangeError(`flip rate must be in [0, 1], got ${opts.rate}`);
    this.opts = opts;
    this.rng = new SeededRng(opts.seed ?? 1);
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on 127.0.0.1 at a free port. */
  static async start(opts: FlipProxyOptions): Promise<FlipProxy> {
    const p = new FlipProxy(opts);
    await new Promise<void>((resolve, reject) => {
      p.server.once('error', reject);
      p.server.listen(0, '127.0.0.1', () => resolve());
    });
    return p;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = createConnection({ host: this.opts.targetHost, port: this.opts.targetPort });
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
      s.on('error', () => {});
    }
    const dir = this.opts.direction ?? 'both';
    this.pipe(client, upstream, dir !== 'down' ? 'up' : null);
    this.pipe(upstream, client, dir !== 'up' ? 'down' : null);
  }

  /** Bytes to pass before the next flip: geometric with parameter rate (one draw per flip, not per byte). */
  private gap(): number {
    const rate = this.opts.rate;
    if (rate >= 1) return 0;
    return Math.floor(Math.log(1 - this.rng.nextFloat()) / Math.log(1 - rate));
  }

  private pipe(from: Socket, to: Socket, flip: 'up' | 'down' | null): void {
    let seen = 0;
    const skip = this.opts.skipBytes ?? 0;
    let next = this.opts.rate > 0 ? skip + this.gap() : Number.POSITIVE_INFINITY;
    from.on('data', (chunk: Buffer) => {
      let out = chunk;
      if (flip !== null && next < seen + chunk.length) {
        out = Buffer.from(chunk); // never modify a buffer we do not own
        while (next < seen + chunk.length) {
          out[next - seen]! ^= 1 << this.rng.nextInt(8);
          this.flipped[flip]++;
          next += 1 + this.gap();
        }
      }
      seen += chunk.length;
      if (!to.write(out)) {
        from.pause();
        to.once('drain', () => from.resume());
      }
    });
    from.on('end', () => to.end());
    from.on('close', () => to.destroy());
  }
}
