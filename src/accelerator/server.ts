// The untrusted accelerator: accepts TCP (or TLS) connections from trusted sides, exchanges hellos,
// decodes request frames, computes each product on its backend and writes result or error frames
// (docs/protocol.md). Requests on one connection are answered in order; connections are independent.
// Everything a client sends is hostile: a malformed or over-limit frame gets an E_FRAME error frame and
// closes that connection only. Memory is bounded: a frame is admitted (its payload allocated) only while
// the connection's and the server's in-flight request bytes stay under their caps; otherwise the socket
// is paused until replies drain. One log line per connection when it closes.
import { type AddressInfo, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import { totalmem } from 'node:os';
import { createServer as createTlsServer } from 'node:tls';
import { isTeeError, TeeError } from '../errors.js';
import {
  CAP_F32,
  CAP_MODP,
  CAP_WIDE,
  encodeHello,
  FrameType,
  frameError,
  type Hello,
} from '../protocol/frame.js';
import { FrameDecoder } from '../protocol/frame-decoder.js';
import {
  checkMaxFrameBytes,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_DIM,
  MAX_RANK,
  PROTOCOL_VERSION,
} from '../protocol/limits.js';
import {
  decodeRequest,
  encodeError,
  encodeResult,
  resultDataBytes,
  resultPayloadBytes,
} from '../protocol/linear-codec.js';
import type { LinearRequest, WireTensor } from '../protocol/linear-request.js';
import { outputShape } from '../protocol/linear-shapes.js';
import { DEFAULT_CACHE_BYTES, OperandCache } from '../protocol/operand-cache.js';
import { PayloadPool } from '../protocol/payload-pool.js';
import { type ComputeBackend, InlineBackend, WorkerBackend } from './backend.js';
import { productMacs, workspaceBytes } from './compute.js';
import { type GpuInfo, type GpuSpec, openedGpu } from './gpu-linear.js';
import { Tamper, type TamperAction, type TamperOptions } from './tamper.js';

export interface AcceleratorServerOptions {
  /** Kernel threads for each product (default: all cores). */
  readonly threads?: number;
  /** Largest request payload accepted, announced in the hello (default 1 GiB). */
  readonly maxFrameBytes?: number;
  /** Cap on one connection's admitted, unanswered request bytes (default 2 × maxFrameBytes). */
  readonly maxConnectionBytes?: number;
  /** Cap on all connections' admitted, unanswered request bytes (default 4 × maxFrameBytes, at most half the RAM, at least maxConnectionBytes). */
  readonly maxTotalBytes?: number;
  /** Largest float64 im2col workspace of an exact convolution, per image (default maxFrameBytes). */
  readonly maxWorkspaceBytes?: number;
  /** A connection that has not sent its hello within this time is closed (default 10 000 ms). */
  readonly helloTimeoutMs?: number;
  /** A connection silent this long in the middle of a frame is closed (default 60 000 ms). */
  readonly idleTimeoutMs?: number;
  /** Decoded requests waiting on one connection before it stops reading (default 64). */
  readonly maxQueuedRequests?: number;
  /**
   * Slowest a frame's payload may arrive once admitted (it holds its share of the memory budget), in
   * bytes per second, measured over windows of `rateWindowMs`; slower is E_FRAME (default 1 MiB/s; 0:
   * no minimum). Without it, a few connections trickling the bytes of large frames held the whole budget
   * and every other client waited behind them.
   */
  readonly minPayloadRate?: number;
  /** The window of minPayloadRate (default 10 000 ms). */
  readonly rateWindowMs?: number;
  /** Open connections at most; one more is closed at once, with a log line (default 64). */
  readonly maxConnections?: number;
  /** Largest product accepted, in multiply-adds (default 2^42 ≈ 4.4·10^12); larger is E_FRAME. */
  readonly maxRequestMacs?: number;
  /** PEM certificate chain and key: serve TLS instead of plain TCP. */
  readonly tls?: { readonly cert: string | Buffer; readonly key: string | Buffer };
  /** 'worker' (default): products run on one worker thread; 'inline': on the main thread. */
  readonly compute?: 'worker' | 'inline';
  /** Run the products on this GPU (gpu-linear.ts) instead of the CPU kernels; opened at construction. */
  readonly gpu?: GpuSpec;
  /**
   * Operand cache per connection (protocol 2, docs/protocol.md "Operand cache"), in bytes; announced in
   * the hello, rounded down to whole MiB (default 1 GiB; 0: no cache).
   */
  readonly cacheBytes?: number;
  /** Tests and fault-injection benchmarks only: corrupt replies. */
  readonly tamper?: TamperOptions;
  /** Receives the one line logged per connection (default: stderr). */
  readonly log?: (line: string) => void;
}

export interface AcceleratorServerStats {
  readonly connections: number;
  /** Connections closed at once because maxConnections were open. */
  readonly refused: number;
  readonly openConnections: number;
  readonly ops: number;
  readonly bytesIn: number;
  readonly bytesOut: number;
  /** Request bytes admitted and not yet answered, over all connections. */
  readonly inFlightBytes: number;
  /** The most inFlightBytes has been (never above maxTotalBytes). */
  readonly peakInFlightBytes: number;
  /** The longest queue of decoded, unanswered requests on one connection (never above maxQueuedRequests). */
  readonly peakQueuedRequests: number;
}

interface Job {
  readonly id: number;
  readonly req: LinearRequest;
  readonly bytes: number;
  /** Answered with this error instead of a product (a request for a cached operand we do not hold). */
  readonly refuse?: string;
  /** Which of a, b is the cache's own array (copied for the compute thread when it is computed). */
  readonly fromCache?: readonly [boolean, boolean];
}

const LINGER_MS = 2000;

/** Default slowest arrival of an admitted payload: 1 MiB/s. */
export const DEFAULT_MIN_PAYLOAD_RATE = 2 ** 20;
/** Default cap on open connections. */
export const DEFAULT_MAX_CONNECTIONS = 64;
/** Default largest product, in multiply-adds (a VGG19 224² convolution at batch 256 is ~5·10^11). */
export const DEFAULT_MAX_REQUEST_MACS = 2 ** 42;

export class AcceleratorServer {
  readonly maxFrameBytes: number;
  readonly maxConnectionBytes: number;
  readonly maxTotalBytes: number;
  readonly maxWorkspaceBytes: number;
  readonly helloTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxQueuedRequests: number;
  readonly minPayloadRate: number;
  readonly rateWindowMs: number;
  readonly maxConnections: number;
  readonly maxRequestMacs: number;
  /** Operand cache per connection, whole MiB (0: none). */
  readonly cacheBytes: number;
  readonly tls: boolean;
  readonly backend: ComputeBackend;
  /** The GPU the products run on, or null (CPU kernels). */
  readonly gpu: GpuInfo | null;
  readonly tamper: Tamper | null;
  readonly log: (line: string) => void;
  /** Request payload buffers kept for reuse (at most maxFrameBytes idle). */
  readonly payloads: PayloadPool;
  private readonly server: Server;
  private readonly connections = new Set<ServerConnection>();
  private readonly budgetWaiters: ServerConnection[] = [];
  private inFlight = 0;
  private peakInFlight = 0;
  private peakQueued = 0;
  private totals = { connections: 0, refused: 0, ops: 0, bytesIn: 0, bytesOut: 0 };
  private closing: Promise<void> | null = null;

  constructor(opts: AcceleratorServerOptions = {}) {
    this.maxFrameBytes = checkMaxFrameBytes(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.maxConnectionBytes = opts.maxConnectionBytes ?? 2 * this.maxFrameBytes;
    if (!Number.isSafeInteger(this.maxConnectionBytes) || this.maxConnectionBytes < this.maxFrameBytes) {
      throw new RangeError(`maxConnectionBytes must be an integer >= maxFrameBytes (${this.maxFrameBytes})`);
    }
    this.maxTotalBytes =
      opts.maxTotalBytes ??
      Math.max(this.maxConnectionBytes, Math.min(4 * this.maxFrameBytes, Math.floor(totalmem() / 2)));
    if (!Number.isSafeInteger(this.maxTotalBytes) || this.maxTotalBytes < this.maxConnectionBytes) {
      throw new RangeError(
        `maxTotalBytes must be an integer >= maxConnectionBytes (${this.maxConnectionBytes})`,
      );
    }
    this.maxWorkspaceBytes = opts.maxWorkspaceBytes ?? this.maxFrameBytes;
    this.helloTimeoutMs = opts.helloTimeoutMs ?? 10_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 60_000;
    this.maxQueuedRequests = opts.maxQueuedRequests ?? 64;
    this.minPayloadRate = opts.minPayloadRate ?? DEFAULT_MIN_PAYLOAD_RATE;
    if (!(Number.isFinite(this.minPayloadRate) && this.minPayloadRate >= 0)) {
      throw new RangeError(`minPayloadRate must be a number >= 0, got ${this.minPayloadRate}`);
    }
    this.rateWindowMs = opts.rateWindowMs ?? 10_000;
    if (!(Number.isFinite(this.rateWindowMs) && this.rateWindowMs >= 1)) {
      throw new RangeError(`rateWindowMs must be a number >= 1, got ${this.rateWindowMs}`);
    }
    this.maxConnections = opts.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isSafeInteger(this.maxConnections) || this.maxConnections < 1) {
      throw new RangeError(`maxConnections must be an integer >= 1, got ${this.maxConnections}`);
    }
    this.maxRequestMacs = opts.maxRequestMacs ?? DEFAULT_MAX_REQUEST_MACS;
    if (!(Number.isFinite(this.maxRequestMacs) && this.maxRequestMacs >= 1)) {
      throw new RangeError(`maxRequestMacs must be a number >= 1, got ${this.maxRequestMacs}`);
    }
    const cache = opts.cacheBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(cache) || cache < 0 || cache > 2 ** 42) {
      throw new RangeError(`cacheBytes must be an integer in [0, 2^42], got ${cache}`);
    }
    this.cacheBytes = Math.floor(cache / 2 ** 20) * 2 ** 20;
    if (!Number.isInteger(this.maxQueuedRequests) || this.maxQueuedRequests < 1) {
      throw new RangeError(`maxQueuedRequests must be an integer >= 1, got ${this.maxQueuedRequests}`);
    }
    if (opts.threads !== undefined && (!Number.isInteger(opts.threads) || opts.threads < 1)) {
      throw new RangeError(`threads must be an integer >= 1, got ${opts.threads}`);
    }
    this.log = opts.log ?? ((line) => process.stderr.write(`${line}\n`));
    // Before the backend (a GPU is opened there): a certificate or key OpenSSL refuses starts nothing.
    this.tls = opts.tls !== undefined;
    if (opts.tls) {
      let s: ReturnType<typeof createTlsServer>;
      try {
        s = createTlsServer({ cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' }, (socket) =>
          this.accept(socket),
        );
      } catch (e) {
        throw new TypeError(`tls: the certificate or key was refused: ${oneLine((e as Error).message)}`);
      }
      s.on('tlsClientError', (e, socket) => {
        this.log(`accelerator: peer=${peerOf(socket)} tls handshake failed: ${oneLine(e.message)}`);
      });
      this.server = s;
    } else {
      this.server = createTcpServer((socket) => this.accept(socket));
    }
    this.backend =
      opts.compute === 'inline'
        ? new InlineBackend(opts.threads, opts.gpu)
        : new WorkerBackend(opts.threads, opts.gpu);
    this.gpu = opts.gpu === undefined ? null : openedGpu();
    this.tamper = opts.tamper ? new Tamper(opts.tamper) : null;
    this.payloads = new PayloadPool(this.maxFrameBytes, undefined, { shared: true });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free port). */
  listen(port: number, host = '127.0.0.1'): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (e: Error) =>
        reject(new TeeError('E_NETWORK', `cannot listen on ${host}:${port}: ${e.message}`));
      this.server.once('error', onError);
      this.server.listen(port, host, () => {
        this.server.off('error', onError);
        resolve(this.address());
      });
    });
  }

  address(): AddressInfo {
    const a = this.server.address();
    if (a === null || typeof a === 'string') throw new Error('accelerator server is not listening');
    return a;
  }

  /** The hello this server sends. */
  hello(): Hello {
    return {
      version: PROTOCOL_VERSION,
      role: 'accelerator',
      maxFrameBytes: this.maxFrameBytes,
      maxRank: MAX_RANK,
      maxDim: MAX_DIM,
      capabilities: CAP_F32 | CAP_MODP | CAP_WIDE,
      cacheMiB: this.cacheBytes / 2 ** 20,
    };
  }

  stats(): AcceleratorServerStats {
    return {
      ...this.totals,
      openConnections: this.connections.size,
      inFlightBytes: this.inFlight,
      peakInFlightBytes: this.peakInFlight,
      peakQueuedRequests: this.peakQueued,
    };
  }

  /** Stops accepting, closes every connection (work in progress is dropped) and stops the backend. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.closing = (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      await Promise.all([...this.connections].map((c) => c.shutdown('server shutdown')));
      await closed;
      await this.backend.close();
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    if (this.closing !== null) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.maxConnections) {
      this.totals.refused++;
      this.log(
        `accelerator: peer=${peerOf(socket)} refused: ${this.connections.size} connections open, the most allowed (--max-connections)`,
      );
      socket.destroy();
      return;
    }
    this.totals.connections++;
    this.connections.add(new ServerConnection(this, socket));
  }

  // ---- memory budget (called by connections) ----

  /** Admits a frame of `n` payload bytes for `c`, or queues `c` to be woken when bytes are released. */
  admit(c: ServerConnection, n: number): boolean {
    if (c.inFlight > 0 && c.inFlight + n > this.maxConnectionBytes) return false; // woken by its own release
    const head = this.budgetWaiters[0];
    if ((head !== undefined && head !== c) || (this.inFlight > 0 && this.inFlight + n > this.maxTotalBytes)) {
      if (!this.budgetWaiters.includes(c)) this.budgetWaiters.push(c);
      return false;
    }
    if (head === c) this.budgetWaiters.shift();
    this.inFlight += n;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    c.inFlight += n;
    return true;
  }

  release(c: ServerConnection, n: number): void {
    if (n <= 0) return;
    this.inFlight -= n;
    c.inFlight -= n;
    // Wake the oldest waiter; it re-tries admission and, if it gets in, wakes the next one.
    const head = this.budgetWaiters[0];
    if (head !== undefined) queueMicrotask(() => head.wake());
    if (head !== c) queueMicrotask(() => c.wake());
  }

  forget(c: ServerConnection): void {
    this.connections.delete(c);
    const i = this.budgetWaiters.indexOf(c);
    if (i >= 0) {
      this.budgetWaiters.splice(i, 1);
      const next = this.budgetWaiters[0];
      if (next !== undefined) queueMicrotask(() => next.wake());
    }
  }

  queued(n: number): void {
    this.peakQueued = Math.max(this.peakQueued, n);
  }

  count(ops: number, bytesIn: number, bytesOut: number): void {
    this.totals.ops += ops;
    this.totals.bytesIn += bytesIn;
    this.totals.bytesOut += bytesOut;
  }
}

/** A result of n zeros. */
function zeroResult(arith: LinearRequest['arith'], n: number): WireTensor['data'] {
  return arith === 'f32' ? new Float32Array(n) : arith === 'modp' ? new Int32Array(n) : new Float64Array(n);
}

function peerOf(socket: Socket): string {
  const host = socket.remoteAddress ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}

function oneLine(s: string): string {
  return s.replace(/[\p{Cc}\p{Cf}]/gu, ' ').slice(0, 300);
}

class ServerConnection {
  inFlight = 0;
  private readonly server: AcceleratorServer;
  private readonly socket: Socket;
  private readonly decoder: FrameDecoder;
  private readonly peer: string;
  private readonly started = performance.now();
  private clientHello: Hello | null = null;
  private helloTimer: NodeJS.Timeout | null;
  private readonly queue: Job[] = [];
  // Operands of earlier requests, kept on request (protocol 2): copies (no payload buffer is held), never
  // written after the copy. A queued request that uses one holds the cache's array itself; the copy the
  // compute thread takes ownership of is made when the request is computed (one at a time per
  // connection): a copy per queued request let a stream of small USE frames allocate without bound.
  private readonly cache: OperandCache<WireTensor['data']>;
  private busy = false;
  private busyBytes = 0;
  /** Admitted bytes of the frame being received (not yet a queued job). */
  private partialBytes = 0;
  // The minimum payload rate: bytesIn when the current window began (an admitted frame arriving).
  private rateTimer: NodeJS.Timeout | null = null;
  private rateMark = 0;
  private pausedForBudget = false;
  private pausedForQueue = false;
  private writeBlocked = false;
  // A client that does not read its results: no new frame is admitted while its socket will not take
  // more (its queued requests would otherwise hold the shared budget), and it is closed after
  // idleTimeoutMs of that.
  private pausedForWrite = false;
  private stallTimer: NodeJS.Timeout | null = null;
  /** No more frames are read: a protocol error waits for the replies before it, or the client ended. */
  private stopped = false;
  /** The error frame to send once the requests before the offending one are answered. */
  private deferred: { id: number; message: string } | null = null;
  private closing = false;
  private closed = false;
  private reason = 'client closed';
  private ops = 0;
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly closedPromise: Promise<void>;

  constructor(server: AcceleratorServer, socket: Socket) {
    this.server = server;
    this.socket = socket;
    this.peer = peerOf(socket);
    this.cache = new OperandCache(server.cacheBytes);
    this.decoder = new FrameDecoder({
      maxPayloadBytes: server.maxFrameBytes,
      helloFrom: 'client',
      allocate: (n) => server.payloads.take(n),
    });
    socket.setNoDelay(true);
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.onEnd());
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (!this.closing) this.reason = `socket error: ${e.code ?? oneLine(e.message)}`;
    });
    socket.on('close', () => this.onClose());
    socket.setTimeout(server.idleTimeoutMs);
    socket.on('timeout', () => {
      if (this.decoder.midFrame && !this.pausedForBudget && !this.pausedForQueue && !this.pausedForWrite) {
        this.fail(frameError(`no data for ${server.idleTimeoutMs} ms in the middle of a frame`));
      }
    });
    socket.on('drain', () => {
      this.writeBlocked = false;
      if (this.stallTimer !== null) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      if (this.pausedForWrite && !this.stopped) {
        this.pausedForWrite = false;
        this.socket.resume();
        queueMicrotask(() => this.pump());
      }
      void this.process();
    });
    this.helloTimer = setTimeout(
      () => this.fail(frameError('no hello from the client in time')),
      server.helloTimeoutMs,
    );
    this.send([encodeHello(server.hello())]);
  }

  /** Re-tries admission of the frame waiting for memory. */
  wake(): void {
    if (this.stopped || !this.pausedForBudget) return;
    this.pausedForBudget = false;
    this.socket.resume();
    this.pump();
  }

  shutdown(reason: string): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.stopped = true;
      this.reason = reason;
      this.releaseWaiting();
      this.socket.destroy();
    }
    return this.closedPromise;
  }

  private onData(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    this.server.count(0, chunk.length, 0);
    if (this.stopped) return; // after an error: discard while the last replies go out
    this.decoder.push(chunk);
    this.pump();
  }

  private onEnd(): void {
    if (this.stopped) return;
    try {
      this.decoder.end();
    } catch (e) {
      this.reason = `E_FRAME: ${(e as Error).message}`;
    }
    // The socket is not half-open: our side ends too, so nothing more can be answered.
    this.closing = true;
    this.stopped = true;
    this.releaseWaiting();
  }

  private pump(): void {
    let id = 0;
    try {
      if (this.clientHello === null) {
        const h = this.decoder.hello();
        if (h === null) return;
        this.clientHello = h;
        if (this.helloTimer !== null) clearTimeout(this.helloTimer);
        this.helloTimer = null;
      }
      while (!this.stopped && !this.pausedForBudget) {
        if (this.partialBytes === 0 && this.writeBlocked) {
          this.pausedForWrite = true;
          this.socket.pause();
          return;
        }
        if (this.partialBytes === 0 && this.queue.length >= this.server.maxQueuedRequests) {
          // Enough work waiting: stop reading until the queue drains (bounds the per-request overhead).
          this.pausedForQueue = true;
          this.socket.pause();
          return;
        }
        const head = this.decoder.peek();
        if (head === null) return;
        id = head.id;
        if (head.type !== FrameType.request)
          throw frameError(`unexpected frame type ${head.type} from a client`);
        if (this.partialBytes === 0 && head.length > 0) {
          if (!this.server.admit(this, head.length)) {
            this.pausedForBudget = true;
            this.socket.pause();
            return;
          }
          this.partialBytes = head.length;
        }
        const frame = this.decoder.next();
        if (frame === null) {
          if (this.partialBytes > 0) this.watchRate();
          return;
        }
        this.stopRateWatch();
        let req = decodeRequest(frame.payload);
        let refuse: string | undefined;
        const fromCache: [boolean, boolean] = [false, false];
        // a first, then b: the client's mirror runs the same operations in the same order.
        for (const which of ['a', 'b'] as const) {
          const c = which === 'a' ? req.aCache : req.bCache;
          const t = req[which];
          if (c?.mode === 'store') {
            // Copied now, in request order (the payload goes to the compute thread and back to the pool).
            this.cache.store(c.key, t.shape, t.data.byteLength, t.data.slice());
          } else if (c?.mode === 'use') {
            const e = this.cache.use(c.key, t.shape);
            if (e === undefined || !(e.value instanceof (req.arith === 'f32' ? Float32Array : Int32Array))) {
              refuse ??= `E_CACHE: no cached operand ${which} under key ${c.key} with this shape and arith`;
            } else if (refuse === undefined) {
              req = { ...req, [which]: { shape: t.shape, data: e.value } };
              fromCache[which === 'a' ? 0 : 1] = true;
            }
          }
        }
        if (refuse === undefined) this.checkLimits(req);
        this.queue.push({
          id: frame.id,
          req,
          bytes: this.partialBytes,
          ...(refuse === undefined ? {} : { refuse }),
          ...(fromCache[0] || fromCache[1] ? { fromCache } : {}),
        });
        this.server.queued(this.queue.length);
        this.partialBytes = 0;
        void this.process();
      }
    } catch (e) {
      this.fail(e, id);
    }
  }

  // While an admitted frame is arriving, checks every rateWindowMs that at least minPayloadRate bytes per
  // second came in (or what was left of the frame); slower is a protocol error (E_FRAME).
  private watchRate(): void {
    const min = this.server.minPayloadRate;
    if (min === 0 || this.rateTimer !== null) return;
    this.rateMark = this.bytesIn;
    const windowMs = this.server.rateWindowMs;
    this.rateTimer = setInterval(() => {
      if (this.stopped || this.partialBytes === 0) {
        this.stopRateWatch();
        return;
      }
      const got = this.bytesIn - this.rateMark;
      const left = this.decoder.payloadBytesLeft;
      if (got < Math.min(left + got, (min * windowMs) / 1000)) {
        this.stopRateWatch();
        this.fail(
          frameError(
            `a frame's payload arrived at ${Math.round((got * 1000) / windowMs)} bytes/s, below the minimum of ${min} bytes/s (${left} bytes still to come)`,
          ),
        );
        return;
      }
      this.rateMark = this.bytesIn;
    }, windowMs);
    this.rateTimer.unref();
  }

  private stopRateWatch(): void {
    if (this.rateTimer !== null) clearInterval(this.rateTimer);
    this.rateTimer = null;
  }

  private checkLimits(req: LinearRequest): void {
    const macs = productMacs(req);
    if (macs > this.server.maxRequestMacs) {
      throw frameError(
        `the product needs ${macs} multiply-adds, over the limit of ${this.server.maxRequestMacs} (--max-request-macs)`,
      );
    }
    // Counted in the result's own dtype: a wide result is 8 bytes per element, twice a modp one.
    const out = resultPayloadBytes(outputShape(req), req.arith);
    const limit = Math.min(this.server.maxFrameBytes, this.clientHello!.maxFrameBytes);
    if (out > limit)
      throw frameError(`the result would be a ${out}-byte frame, over the limit of ${limit} bytes`);
    // The exact ariths (modp, wide) run on float64 columns; f32 on float32 ones, half the bytes.
    const work = req.arith === 'f32' ? workspaceBytes(req) / 2 : workspaceBytes(req);
    if (work > this.server.maxWorkspaceBytes) {
      throw frameError(
        `the convolution needs a ${work}-byte workspace, over the limit of ${this.server.maxWorkspaceBytes} bytes`,
      );
    }
  }

  private async process(): Promise<void> {
    if (this.busy || this.writeBlocked || this.closing) return;
    const job = this.queue.shift();
    if (this.pausedForQueue && this.queue.length < this.server.maxQueuedRequests && !this.stopped) {
      this.pausedForQueue = false;
      this.socket.resume();
      queueMicrotask(() => this.pump());
    }
    if (job === undefined) {
      if (this.deferred !== null) this.closeWithError(this.deferred.id, this.deferred.message);
      return;
    }
    this.busy = true;
    this.busyBytes = job.bytes;
    try {
      if (job.refuse !== undefined) {
        // Not a protocol violation (the trusted side's mirror may simply be stale): answer, keep going.
        if (!this.closing) this.send([encodeError(job.id, 'compute', job.refuse)]);
      } else await this.compute(job);
    } catch (e) {
      this.onJobError(e, job);
    } finally {
      this.busy = false;
      this.busyBytes = 0;
      this.server.release(this, job.bytes);
    }
    void this.process();
  }

  private async compute(job: Job): Promise<void> {
    const shape = outputShape(job.req);
    if (shape.includes(0) || job.req.a.data.length === 0 || job.req.b.data.length === 0) {
      // Nothing to compute: no elements, or every element an empty sum (zeros). Answered here: a kernel
      // would size its scratch by the dimensions that are not zero (a 0-image convolution of 2^31 × 2^31
      // planes), which no other limit bounds, or loop over taps that multiply nothing (0 channels
      // through a 1024×1024 kernel cost ~2.5 ms per image, hours of the one compute worker's time).
      const data = zeroResult(
        job.req.arith,
        shape.reduce((x, d) => x * d, 1),
      );
      this.reply(job, { shape, data }, 0);
      return;
    }
    // The result goes into a pooled buffer (a fresh one per product cost page faults, zeroing and garbage
    // collections: ~15 % of this process's CPU in a ResNet-18 step), which comes back to the pool once
    // the socket has taken its bytes.
    const resultBytes = resultDataBytes(shape, job.req.arith);
    const out = this.server.payloads.take(resultBytes).buffer;
    // The compute thread takes ownership of what it is given: a cached operand goes as a copy.
    const c = job.fromCache;
    const req =
      c === undefined
        ? job.req
        : {
            ...job.req,
            ...(c[0] ? { a: { shape: job.req.a.shape, data: job.req.a.data.slice() } } : {}),
            ...(c[1] ? { b: { shape: job.req.b.shape, data: job.req.b.data.slice() } } : {}),
          };
    const { result, computeMs, spent } = await this.server.backend.run(req, out);
    for (const b of spent) this.server.payloads.give(b);
    // The result's buffer is this server's now (`out` came back through the worker as a new object).
    const done = result.data.buffer;
    this.reply(
      job,
      result,
      computeMs,
      this.server.tamper ? undefined : () => this.server.payloads.give(done),
    );
  }

  /** Sends a product's result (through the tamper hook in tests); `recycle` frees its buffer once sent. */
  private reply(job: Job, result: WireTensor, computeMs: number, recycle?: () => void): void {
    if (this.closing) {
      recycle?.();
      return;
    }
    const action: TamperAction = this.server.tamper
      ? this.server.tamper.reply(job.id, job.req.arith, result, computeMs)
      : { kind: 'send', parts: encodeResult(job.id, computeMs, result, job.req.arith) };
    this.ops++;
    this.server.count(1, 0, 0);
    if (action.kind === 'send') this.send(action.parts, recycle);
    else if (action.kind === 'drop') {
      this.send(action.parts);
      this.shutdown('tamper: dropped mid-frame');
    }
  }

  private onJobError(e: unknown, job: Job): void {
    if (isTeeError(e, 'E_FRAME') || isTeeError(e, 'E_SHAPE')) {
      // Hostile operands: this request is answered with the error, the ones after it are dropped.
      this.queue.length = 0;
      this.deferred = null;
      this.fail(e, job.id);
    } else if (!this.closing) {
      // A failure of this server, not of the request: say so and keep the connection.
      this.send([
        encodeError(job.id, 'compute', `${isTeeError(e) ? `${e.code}: ` : ''}${(e as Error).message}`),
      ]);
    }
  }

  /** Writes a frame's parts; `written` runs once the socket no longer needs them (or never took them). */
  private send(parts: Buffer[], written?: () => void): void {
    if (this.socket.destroyed || this.socket.writableEnded) {
      written?.();
      return;
    }
    this.socket.cork();
    let ok = true;
    let last = parts.length - 1;
    while (last >= 0 && parts[last]!.length === 0) last--;
    for (const [i, p] of parts.entries()) {
      if (p.length === 0) continue;
      this.bytesOut += p.length;
      this.server.count(0, 0, p.length);
      ok = this.socket.write(p, i === last && written ? () => written() : undefined);
    }
    this.socket.uncork();
    if (last < 0) written?.();
    if (!ok) {
      this.writeBlocked = true;
      if (this.stallTimer === null) this.armStall();
    }
  }

  // While the socket will not take more: closes the connection when a whole idleTimeoutMs passes without
  // the client taking a byte (a large result to a slow reader keeps it open while bytes move).
  private armStall(): void {
    const mark = this.socket.bytesWritten;
    this.stallTimer = setTimeout(() => {
      this.stallTimer = null;
      if (!this.writeBlocked || this.closing) return;
      if (this.socket.bytesWritten > mark) this.armStall();
      else this.shutdown(`the client read no result for ${this.server.idleTimeoutMs} ms`);
    }, this.server.idleTimeoutMs);
    this.stallTimer.unref();
  }

  /**
   * A protocol violation: stop reading, answer the requests already queued before it (in order), then
   * send an error frame saying why and close this connection.
   */
  private fail(e: unknown, id = 0): void {
    if (this.stopped) return;
    if (!isTeeError(e)) {
      this.shutdown(`internal error: ${oneLine((e as Error).message)}`);
      return;
    }
    this.stopped = true;
    this.pausedForBudget = false;
    this.pausedForQueue = false;
    this.server.release(this, this.partialBytes);
    this.partialBytes = 0;
    this.deferred = { id, message: e.message };
    this.socket.resume(); // keep reading (and discarding) so the client is not blocked on its writes
    void this.process();
  }

  private closeWithError(id: number, message: string): void {
    if (this.closing) return;
    this.closing = true;
    this.reason = `E_FRAME: ${oneLine(message)}`;
    this.send([encodeError(id, 'frame', message)]);
    this.socket.end();
    // Linger, discarding input, so the error frame is not lost to a reset; then close for good.
    setTimeout(() => this.socket.destroy(), LINGER_MS).unref();
  }

  /** Releases the bytes of queued and partially received frames (the running job releases its own). */
  private releaseWaiting(): void {
    this.queue.length = 0;
    this.partialBytes = 0;
    this.pausedForBudget = false;
    this.pausedForQueue = false;
    this.server.release(this, this.inFlight - this.busyBytes);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing = true;
    this.stopped = true;
    if (this.helloTimer !== null) clearTimeout(this.helloTimer);
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stopRateWatch();
    this.releaseWaiting();
    this.server.forget(this);
    const ms = Math.round(performance.now() - this.started);
    this.server.log(
      `accelerator: peer=${this.peer} ops=${this.ops} bytes_in=${this.bytesIn} bytes_out=${this.bytesOut} ` +
        `duration_ms=${ms} close="${this.reason}"`,
    );
  }
}

/** Creates a server and starts listening: the entry point of `tee-offload accelerator`. */
export async function startAcceleratorServer(
  opts: AcceleratorServerOptions & { readonly host?: string; readonly port?: number } = {},
): Promise<AcceleratorServer> {
  const s = new AcceleratorServer(opts);
  await s.listen(opts.port ?? 0, opts.host ?? '127.0.0.1');
  return s;
}
