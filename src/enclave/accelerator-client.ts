// The trusted side's connection to one accelerator (docs/protocol.md): hello exchange, then request
// frames out and result/error frames in, in order, several calls may be in flight (pipelined). It only
// moves bytes: it does NOT check products (RemoteLinearOps runs Freivalds on top), but every reply byte
// is treated as hostile: a reply whose id, size, shape, dtype or values are not what was asked is E_FRAME,
// and its size is checked against the expected shape before anything is allocated. Deadlines, drops and
// refusals are E_NETWORK; after one, the connection is discarded and the next call opens a fresh one.
import { type Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { isTeeError, TeeError } from '../errors.js';
import { formatAddress, type HostPort, parseAddress } from '../protocol/address.js';
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
  MAX_ERROR_MESSAGE_BYTES,
  MAX_RANK,
  PROTOCOL_VERSION,
} from '../protocol/limits.js';
import {
  centeredValueError,
  checkRequest,
  decodeError,
  decodeResult,
  encodeRequest,
  requestPayloadBytes,
  resultPayloadBytes,
} from '../protocol/linear-codec.js';
import {
  type AcceleratorTransport,
  type Arith,
  type CallStats,
  type LinearReply,
  type LinearRequest,
  MODULUS_P,
} from '../protocol/linear-request.js';
import { OperandCache } from '../protocol/operand-cache.js';
import { PayloadPool } from '../protocol/payload-pool.js';
import { modpKernels } from '../verify/native-modp.js';

export interface AcceleratorTlsOptions {
  /** PEM CA certificate(s) to trust instead of the system's (a self-signed accelerator certificate). */
  readonly ca?: string | Buffer | (string | Buffer)[];
  /** Name to check the certificate against (default: the host). */
  readonly servername?: string;
  /** Default true. */
  readonly rejectUnauthorized?: boolean;
}

export interface AcceleratorClientOptions {
  /** true: TLS with the system CAs; an object: TLS with these settings; absent: plain TCP. */
  readonly tls?: boolean | AcceleratorTlsOptions;
  /** Default deadline of a call, from call() to its reply (ms); default 60 000. */
  readonly deadlineMs?: number;
  /** Deadline of connecting (TCP, TLS, hellos), within the call's own deadline; default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Largest reply payload accepted, announced in the hello; default 1 GiB. */
  readonly maxFrameBytes?: number;
}

export interface AcceleratorClientStats {
  readonly calls: number;
  readonly failures: number;
  readonly connects: number;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  readonly sendMs: number;
  readonly receiveMs: number;
  /** Sum of the accelerator's own (untrusted) compute times. */
  readonly computeMs: number;
}

interface PendingCall {
  readonly id: number;
  readonly op: string;
  readonly arith: Arith;
  readonly shape: readonly number[];
  readonly expectBytes: number;
  readonly bytesSent: number;
  readonly bytesCached: number;
  readonly t0: number;
  sendMs: number;
  recvStart: number;
  settle(e: Error | null, reply?: LinearReply): void;
}

/**
 * The request as it goes on this link: each of the trusted side's cache hints (a's, then b's: the
 * accelerator's order) becomes 'use' when the accelerator holds that operand under its key (per the
 * mirror) and the hint says it is unchanged, else 'store'; no hint or no cache, neither. The mirror is
 * updated exactly as the accelerator will update its cache.
 */
function withCache(link: Link, req: LinearRequest): { wire: LinearRequest; bytesCached: number } {
  const { aCacheHint, bCacheHint, aCache: _a, bCache: _b, ...plain } = req;
  const mirror = link.cache;
  if ((aCacheHint === undefined && bCacheHint === undefined) || mirror === null || mirror.capacityBytes === 0)
    return { wire: plain, bytesCached: 0 };
  let wire: LinearRequest = plain;
  let bytesCached = 0;
  for (const [which, hint] of [
    ['a', aCacheHint],
    ['b', bCacheHint],
  ] as const) {
    if (hint === undefined) continue;
    const t = req[which];
    const field = which === 'a' ? 'aCache' : 'bCache';
    if (hint.reuse && mirror.use(hint.key, t.shape)?.value === req.arith) {
      wire = { ...wire, [field]: { key: hint.key, mode: 'use' } };
      bytesCached += t.data.byteLength;
    } else {
      mirror.store(hint.key, t.shape, t.data.byteLength, req.arith);
      wire = { ...wire, [field]: { key: hint.key, mode: 'store' } };
    }
  }
  return { wire, bytesCached };
}

/** The hello capability bit an accelerator must announce to be sent requests of each arith. */
const ARITH_CAPS: Record<Arith, number> = { f32: CAP_F32, modp: CAP_MODP, wide: CAP_WIDE };

function networkError(message: string, cause?: unknown): TeeError {
  return new TeeError('E_NETWORK', message, cause === undefined ? undefined : { cause });
}

// A TLS record starts with its content type (21 alert, 22 handshake) and major version 3: what a TLS
// server may answer to a plain-TCP client's hello (Node's sends nothing and closes).
function looksLikeTls(first: Uint8Array): boolean {
  return first.length >= 2 && (first[0] === 0x15 || first[0] === 0x16) && first[1] === 0x03;
}

// OpenSSL's verdict on a first reply that is not TLS at all: the accelerator speaks plain TCP.
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG']);

// A TLS accelerator whose certificate does not chain to the CAs given (or the system's).
const UNTRUSTED_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);

const USE_TLS_HINT =
  'connect with TLS: --accelerator-ca CERT.pem, or --accelerator-tls for a CA-signed certificate';

function checkMs(ms: number, what: string): number {
  if (!(ms > 0) || !Number.isFinite(ms))
    throw new RangeError(`${what} must be a positive number of ms, got ${ms}`);
  return ms;
}

/** One open connection: its socket, its decoder and the calls waiting on it, oldest first. */
class Link {
  readonly pending: PendingCall[] = [];
  hello: Hello | null = null;
  /** What the accelerator's operand cache holds on this connection (the same policy, run here). */
  cache: OperandCache<Arith> | null = null;
  dead: TeeError | null = null;
  /** Replaced by a fresh connection: closes once its pending calls are answered. */
  retiring = false;
  bytesReceived = 0;
  private nextId = 1;

  constructor(
    readonly socket: Socket,
    readonly decoder: FrameDecoder,
  ) {}

  allocId(): number {
    const id = this.nextId;
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1; // 0 is reserved for connection errors
    return id;
  }

  /** Fails every pending call (the first with `first` when given) and destroys the socket. */
  kill(e: TeeError, first?: Error): void {
    if (this.dead === null) this.dead = e;
    const calls = this.pending.splice(0);
    calls.forEach((p, i) => {
      p.settle(i === 0 && first !== undefined ? first : e);
    });
    this.socket.destroy();
  }
}

export class AcceleratorClient implements AcceleratorTransport {
  readonly address: string;
  private readonly target: HostPort;
  private readonly tls: AcceleratorClientOptions['tls'];
  private readonly deadlineMs: number;
  private readonly connectTimeoutMs: number;
  private readonly maxFrameBytes: number;
  private readonly replyBuffers: PayloadPool;
  private link: Link | null = null;
  // Connections replaced by reconnect() that still have calls to answer.
  private readonly retired = new Set<Link>();
  private opening: Promise<Link> | null = null;
  private closed = false;
  private totals = {
    calls: 0,
    failures: 0,
    connects: 0,
    bytesSent: 0,
    bytesReceived: 0,
    sendMs: 0,
    receiveMs: 0,
    computeMs: 0,
  };

  /** `address` is host:port; nothing is opened until connect() or the first call. */
  constructor(address: string, opts: AcceleratorClientOptions = {}) {
    this.target = parseAddress(address);
    this.address = formatAddress(this.target);
    this.tls = opts.tls;
    this.deadlineMs = checkMs(opts.deadlineMs ?? 60_000, 'deadlineMs');
    this.connectTimeoutMs = checkMs(opts.connectTimeoutMs ?? 10_000, 'connectTimeoutMs');
    this.maxFrameBytes = checkMaxFrameBytes(opts.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
    this.replyBuffers = new PayloadPool(this.maxFrameBytes);
  }

  /** Opens a client and its connection (E_NETWORK when it cannot, E_FRAME on a bad hello). */
  static async connect(address: string, opts: AcceleratorClientOptions = {}): Promise<AcceleratorClient> {
    const c = new AcceleratorClient(address, opts);
    await c.connect();
    return c;
  }

  /** The accelerator's hello on the current connection (its limits), or null when not connected. */
  get serverHello(): Hello | null {
    return this.link?.dead === null ? this.link.hello : null;
  }

  async connect(): Promise<void> {
    await this.ensureLink(Date.now() + this.connectTimeoutMs);
  }

  call(req: LinearRequest, opts: { deadlineMs?: number } = {}): Promise<LinearReply> {
    this.totals.calls++;
    const p = this.callInner(req, opts);
    p.catch(() => this.totals.failures++);
    return p;
  }

  /**
   * Opens a fresh connection for the calls that follow; the current one takes no new calls, answers those
   * in flight on it (a timeout still fails them with E_NETWORK) and then closes.
   */
  async reconnect(): Promise<void> {
    if (this.closed) throw networkError(`accelerator client for ${this.address} is closed`);
    this.retireLink();
    await this.connect();
  }

  // The current connection takes no new calls: those already on it finish there (each reply is checked by
  // its caller like any other), then it closes. A caller's retry thus gets a fresh connection without
  // failing the calls of others in flight on the old one (a layer's two backward products run together:
  // one refused reply must not cost the other its answer, nor its retry).
  private retireLink(): void {
    const link = this.link;
    this.link = null;
    this.opening = null;
    // Retired connections that died since (a timeout, the peer closing) are forgotten here.
    for (const r of [...this.retired]) if (r.dead !== null) this.closeRetired(r);
    if (link === null) return;
    link.retiring = true;
    if (link.pending.length === 0 || link.dead !== null) this.closeRetired(link);
    else this.retired.add(link);
  }

  private closeRetired(link: Link): void {
    this.retired.delete(link);
    this.totals.bytesReceived += link.bytesReceived;
    link.bytesReceived = 0;
    link.kill(networkError(`connection to accelerator ${this.address} replaced by a fresh one`));
  }

  // A retired connection whose last call was just answered closes (true: stop reading it).
  private drained(link: Link): boolean {
    if (!link.retiring || link.pending.length > 0) return false;
    this.closeRetired(link);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of [...this.retired]) this.closeRetired(r);
    const link = this.link;
    this.dropLink(networkError(`accelerator client for ${this.address} is closed`));
    if (link !== null && !link.socket.destroyed) {
      await new Promise<void>((resolve) => {
        link.socket.once('close', () => resolve());
        link.socket.destroy();
      });
    }
  }

  /**
   * Optional: hands a reply's buffer back for reuse by a later reply of a similar size (large results
   * cost more in page faults than in copying). The reply's tensor must not be used afterwards.
   */
  release(reply: LinearReply): void {
    const ab = reply.result.data.buffer;
    if (ab instanceof ArrayBuffer) this.replyBuffers.give(ab);
  }

  stats(): AcceleratorClientStats {
    const live = this.link?.bytesReceived ?? 0;
    return { ...this.totals, bytesReceived: this.totals.bytesReceived + live };
  }

  private async callInner(req: LinearRequest, opts: { deadlineMs?: number }): Promise<LinearReply> {
    if (this.closed) throw networkError(`accelerator client for ${this.address} is closed`);
    const deadlineMs = checkMs(opts.deadlineMs ?? this.deadlineMs, 'deadlineMs');
    const t0 = performance.now();
    const deadline = Date.now() + deadlineMs;
    const shape = checkRequest(req);
    const expectBytes = resultPayloadBytes(shape, req.arith);
    if (expectBytes > this.maxFrameBytes) {
      throw frameError(
        `the result would be a ${expectBytes}-byte frame, over this client's limit of ${this.maxFrameBytes} bytes`,
      );
    }
    const link = await this.ensureLink(Math.min(deadline, Date.now() + this.connectTimeoutMs));
    if (link.dead !== null) throw link.dead;
    const hello = link.hello!;
    const cap = ARITH_CAPS[req.arith];
    if ((hello.capabilities & cap) === 0)
      throw frameError(`accelerator ${this.address} does not serve arith ${req.arith}`);
    const { wire, bytesCached } = withCache(link, req);
    req = wire;
    const payloadBytes = requestPayloadBytes(req);
    if (payloadBytes > hello.maxFrameBytes) {
      throw frameError(
        `request payload of ${payloadBytes} bytes exceeds the accelerator's limit of ${hello.maxFrameBytes} bytes`,
      );
    }
    const id = link.allocId();
    const parts = encodeRequest(id, req);
    return new Promise<LinearReply>((resolve, reject) => {
      const timer = setTimeout(
        () => {
          const e = networkError(
            `no reply from accelerator ${this.address} to ${req.op} request #${id} within ${deadlineMs} ms`,
          );
          // A late reply would desynchronise the stream: the connection goes, with everything on it.
          this.killLink(
            link,
            networkError(`connection to accelerator ${this.address} dropped after a timeout`),
            e,
            call,
          );
        },
        Math.max(0, deadline - Date.now()),
      );
      const call: PendingCall = {
        id,
        op: req.op,
        arith: req.arith,
        shape,
        expectBytes,
        bytesSent: 16 + payloadBytes,
        bytesCached,
        t0,
        sendMs: 0,
        recvStart: 0,
        settle: (e, reply) => {
          clearTimeout(timer);
          if (e !== null) reject(e);
          else resolve(reply!);
        },
      };
      link.pending.push(call);
      this.totals.bytesSent += call.bytesSent;
      const sock = link.socket;
      sock.cork();
      parts.forEach((b, i) => {
        if (i < parts.length - 1) sock.write(b);
        else sock.write(b, () => (call.sendMs = performance.now() - t0));
      });
      sock.uncork();
    });
  }

  private killLink(link: Link, all: TeeError, first?: Error, call?: PendingCall): void {
    if (call !== undefined && !link.pending.includes(call)) {
      call.settle(first ?? all); // no-op when it already settled
      return;
    }
    if (call !== undefined) {
      // Fail the timed-out call first, whatever its position.
      link.pending.splice(link.pending.indexOf(call), 1);
      call.settle(first ?? all);
      first = undefined;
    }
    link.kill(all, first);
  }

  private dropLink(e: TeeError): void {
    const link = this.link;
    this.link = null;
    this.opening = null;
    if (link !== null) {
      this.totals.bytesReceived += link.bytesReceived;
      link.bytesReceived = 0;
      link.kill(e);
    }
  }

  private ensureLink(deadline: number): Promise<Link> {
    if (this.link !== null && this.link.dead === null) return Promise.resolve(this.link);
    if (this.opening === null) {
      if (this.link !== null) this.dropLink(this.link.dead ?? networkError('connection lost'));
      const opening = this.open(deadline).then(
        (link) => {
          if (this.opening === opening) {
            this.link = link;
            this.opening = null;
          }
          return link;
        },
        (e) => {
          if (this.opening === opening) this.opening = null;
          throw e;
        },
      );
      this.opening = opening;
    }
    return this.opening;
  }

  private open(deadline: number): Promise<Link> {
    this.totals.connects++;
    const { host, port } = this.target;
    return new Promise<Link>((resolve, reject) => {
      const tlsOpts = this.tls === true ? {} : this.tls || null;
      const decoder = new FrameDecoder({
        maxPayloadBytes: this.maxFrameBytes,
        helloFrom: 'accelerator',
        allocate: (n) => this.replyBuffers.take(n),
      });
      // Plain TCP reads straight into each reply's payload buffer (FrameDecoder pull mode: no chunk
      // buffers, no copy, one read per ~socket buffer); TLS sockets deliver decrypted chunks instead.
      let onBytes: (n: number) => void = () => {};
      // Plain TCP: the first two bytes received, kept to recognise a TLS server's answer.
      const first = Buffer.alloc(2);
      let firstBytes = 0;
      let target: Buffer | null = null;
      const socket =
        tlsOpts === null
          ? tcpConnect({
              host,
              port,
              onread: {
                buffer: () => {
                  target = decoder.readTarget();
                  return target;
                },
                callback: (n: number) => {
                  if (n > 0) {
                    if (firstBytes < 2 && target !== null)
                      firstBytes += target.copy(first, firstBytes, 0, Math.min(n, 2 - firstBytes));
                    decoder.wrote(n);
                    onBytes(n);
                  }
                  return true;
                },
              },
            })
          : tlsConnect({
              host,
              port,
              servername: tlsOpts.servername ?? (/^[\d.]+$|:/.test(host) ? undefined : host),
              ...(tlsOpts.ca !== undefined ? { ca: tlsOpts.ca } : {}),
              rejectUnauthorized: tlsOpts.rejectUnauthorized ?? true,
            });
      socket.setNoDelay(true);
      const link = new Link(socket, decoder);
      let settled = false;
      const fail = (e: TeeError) => {
        if (settled) return;
        if (tlsOpts === null && looksLikeTls(first.subarray(0, firstBytes))) {
          e = networkError(`accelerator ${this.address} answered in TLS: it serves TLS; ${USE_TLS_HINT}`, e);
        }
        settled = true;
        clearTimeout(timer);
        link.dead = e;
        socket.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(networkError(`connecting to accelerator ${this.address} timed out`)),
        Math.max(0, deadline - Date.now()),
      );
      socket.once(tlsOpts === null ? 'connect' : 'secureConnect', () => {
        socket.write(encodeHello(this.hello()));
      });
      onBytes = (n: number) => {
        link.bytesReceived += n;
        if (link.hello === null) {
          let h: Hello | null;
          try {
            h = decoder.hello();
          } catch (e) {
            fail(e as TeeError);
            return;
          }
          if (h === null) return;
          link.hello = h;
          link.cache = new OperandCache((h.cacheMiB ?? 0) * 2 ** 20);
          settled = true;
          clearTimeout(timer);
          resolve(link);
        }
        this.onReplies(link);
      };
      if (tlsOpts !== null) {
        socket.on('data', (chunk: Buffer) => {
          decoder.push(chunk);
          onBytes(chunk.length);
        });
      }
      socket.on('error', (e: NodeJS.ErrnoException) => {
        let what = `${e.code ?? ''} ${e.message}`.trim();
        if (tlsOpts !== null && NOT_TLS_CODES.has(e.code ?? '')) {
          what = `${e.code}: its first reply is not TLS (the accelerator seems to serve plain TCP: connect without TLS, or start it with --tls-cert/--tls-key)`;
        } else if (tlsOpts !== null && UNTRUSTED_CODES.has(e.code ?? '')) {
          what += ` (its certificate is not trusted here: give the accelerator's certificate or CA with --accelerator-ca)`;
        }
        if (!settled) fail(networkError(`cannot connect to accelerator ${this.address}: ${what}`, e));
        else if (link.dead === null)
          link.kill(networkError(`connection to accelerator ${this.address} failed: ${what}`, e));
      });
      socket.on('close', () => {
        if (!settled) {
          // A TLS server closes on a plain-TCP client's hello without a byte, and so does an accelerator
          // with all its connections in use (--max-connections): say so when nothing came.
          const silent =
            tlsOpts === null && link.bytesReceived === 0
              ? `, without sending a byte (if it serves TLS, ${USE_TLS_HINT}; else it may have all its connections in use, --max-connections)`
              : '';
          fail(networkError(`accelerator ${this.address} closed the connection before its hello${silent}`));
          return;
        }
        if (link.dead === null) {
          const mid = decoder.midFrame ? ' in the middle of a reply' : '';
          link.kill(networkError(`connection to accelerator ${this.address} closed${mid}`));
        }
      });
    });
  }

  private hello(): Hello {
    return {
      version: PROTOCOL_VERSION,
      role: 'client',
      maxFrameBytes: this.maxFrameBytes,
      maxRank: MAX_RANK,
      maxDim: MAX_DIM,
      capabilities: 0,
    };
  }

  /** Takes every complete reply off the link; any malformed byte kills the connection (E_FRAME). */
  private onReplies(link: Link): void {
    if (link.dead !== null) return;
    try {
      for (;;) {
        const head = link.decoder.peek();
        if (head === null) return;
        const call = link.pending[0];
        if (head.type === FrameType.error && head.id === 0) {
          // About the connection itself: read it, then everything on this link fails with it.
          if (head.length > 4 + MAX_ERROR_MESSAGE_BYTES)
            throw frameError(`error frame of ${head.length} bytes`);
          const f = link.decoder.next();
          if (f === null) return;
          const err = decodeError(f.payload);
          throw frameError(`accelerator ${this.address} closed the connection: ${err.message}`);
        }
        if (call === undefined)
          throw frameError(`reply #${head.id} from accelerator ${this.address} with no request outstanding`);
        if (head.id !== call.id)
          throw frameError(`reply #${head.id} from accelerator ${this.address}, expected #${call.id}`);
        if (head.type === FrameType.result) {
          if (head.length !== call.expectBytes) {
            throw frameError(
              `result frame of ${head.length} bytes for ${call.op} #${call.id}, expected ${call.expectBytes} bytes`,
            );
          }
        } else if (head.type === FrameType.error) {
          if (head.length > 4 + MAX_ERROR_MESSAGE_BYTES)
            throw frameError(`error frame of ${head.length} bytes`);
        } else {
          throw frameError(`unexpected frame type ${head.type} from accelerator ${this.address}`);
        }
        if (call.recvStart === 0) call.recvStart = performance.now();
        const f = link.decoder.next();
        if (f === null) return;
        if (f.type === FrameType.error) {
          link.pending.shift();
          const err = decodeError(f.payload);
          if (err.kind === 'compute') {
            call.settle(
              networkError(`accelerator ${this.address} failed ${call.op} #${call.id}: ${err.message}`),
            );
            if (this.drained(link)) return;
            continue;
          }
          // The accelerator closes a connection after rejecting a frame: so does this side, at once.
          link.pending.unshift(call);
          link.kill(
            networkError(`connection to accelerator ${this.address} closed after it rejected #${call.id}`),
            frameError(`accelerator ${this.address} rejected ${call.op} #${call.id}: ${err.message}`),
          );
          return;
        }
        // The form here, the values natively (the codec's JavaScript pass cost ~1.3 ns per value).
        const { computeMs, result } = decodeResult(f.payload, call.shape, call.arith, { values: false });
        checkResultValues(result.data, call.arith);
        link.pending.shift();
        const now = performance.now();
        const stats: CallStats = {
          sendMs: call.sendMs,
          computeMs,
          receiveMs: now - call.recvStart,
          bytesSent: call.bytesSent,
          bytesReceived: 16 + f.length,
          bytesCached: call.bytesCached,
        };
        this.totals.sendMs += stats.sendMs;
        this.totals.receiveMs += stats.receiveMs;
        this.totals.computeMs += computeMs;
        call.settle(null, { result, stats });
        if (this.drained(link)) return;
      }
    } catch (e) {
      const err = isTeeError(e) ? e : frameError(`malformed reply: ${(e as Error).message}`);
      link.kill(
        networkError(`connection to accelerator ${this.address} dropped after a malformed reply`),
        err,
      );
    }
  }
}

// decodeResult's per-value checks for modp, natively and with its errors (E_FRAME): every value a centered
// representative. Wide values are left to the check that every wide result goes through (prepareExact:
// the fold over the result validates each value as an integer within the product's own bound, far below
// the wire's 2^53, and refuses the result otherwise), which reads them anyway: a second pass here cost
// ~10 ms per VGG19-BN training step. A wide result that is not checked is never used.
function checkResultValues(data: LinearReply['result']['data'], arith: Arith): void {
  if (arith === 'modp') {
    const d = data as Int32Array;
    const i = modpKernels.firstOutOfRange(d, MODULUS_P);
    if (i >= 0) throw centeredValueError(d, i, 'result');
  }
}
