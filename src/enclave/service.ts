// The trusted process's server: accepts TCP connections, runs the attested handshake on each (a DCAP
// quote under gramine-sgx, a clearly-labelled SIMULATED attestation under direct/gramine-direct), then
// serves the sessions one at a time, in arrival order; a client that waits is told its queue position.
// close() is the graceful shutdown: no new connections, queued clients are told, the running job stops at
// its next step (its last sealed checkpoint stays as it was), private directories are removed.
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net';
import { isTeeError, TeeError } from '../errors.js';
import { encodeSessionMessage } from '../protocol/session-codec.js';
import { type LauncherName, MAX_SESSION_MESSAGE_BYTES } from '../protocol/session-messages.js';
import type { SecureChannel } from '../secure/channel.js';
import { type AttestationProvider, serverHandshake } from '../secure/handshake.js';
import { gramineAttestation, simulatedAttestation } from '../secure/handshake-attestation.js';
import type { JobLimits, SealedCheckpoints } from './job-setup.js';
import { EnclaveSession } from './session.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 16 * 2 ** 30;
export const DEFAULT_MAX_SESSION_BYTES = 64 * 2 ** 30;
export const DEFAULT_MAX_QUEUE = 8;

export interface EnclaveServiceOptions {
  readonly launcher: LauncherName;
  /** Default: gramineAttestation() under gramine-sgx, simulatedAttestation() otherwise. */
  readonly attestation?: AttestationProvider;
  /** Sealed checkpoints (absent: jobs that checkpoint or resume are refused). */
  readonly checkpoints?: SealedCheckpoints;
  /** Accelerators for split jobs that name none. */
  readonly accelerators?: readonly string[];
  readonly limits?: JobLimits;
  readonly maxUploadBytes?: number;
  readonly maxSessionBytes?: number;
  /** Parent of the sessions' private directories (default os.tmpdir()). */
  readonly workParent?: string;
  /** Sessions allowed to wait behind the running one (default 8); more are refused. */
  readonly maxQueue?: number;
  readonly handshakeTimeoutMs?: number;
  /** A session waiting this long for its client's next message, no job running, is closed (ms). */
  readonly sessionIdleTimeoutMs?: number;
  /** One line per session and per refused connection (default: stderr). */
  readonly log?: (line: string) => void;
}

/** The attestation a launcher implies (DESIGN.md: only the provider and the sealing key differ). */
export function attestationFor(launcher: LauncherName): AttestationProvider {
  return launcher === 'gramine-sgx' ? gramineAttestation() : simulatedAttestation();
}

interface Waiting {
  readonly channel: SecureChannel;
  readonly peer: string;
}

export class EnclaveService {
  readonly attestation: AttestationProvider;
  private readonly server: Server;
  private readonly log: (line: string) => void;
  private readonly sockets = new Set<Socket>();
  private readonly waiting: Waiting[] = [];
  private current: EnclaveSession | null = null;
  private currentDone: Promise<void> = Promise.resolve();
  private closing = false;
  private sessions = 0;

  constructor(private readonly opts: EnclaveServiceOptions) {
    this.attestation = opts.attestation ?? attestationFor(opts.launcher);
    this.log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.server = createServer((socket) => this.accept(socket));
  }

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
    if (a === null || typeof a === 'string') throw new Error('the enclave service is not listening');
    return a;
  }

  private accept(socket: Socket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    // Connections that are handshaking, waiting or running, bounded: a flood of idle connections
    // cannot exhaust the process (each handshake also times out).
    const maxConnections = (this.opts.maxQueue ?? DEFAULT_MAX_QUEUE) + 32;
    if (this.closing || this.sockets.size >= maxConnections) {
      if (!this.closing) this.log(`enclave: peer=${peer} refused: ${this.sockets.size} connections open`);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    serverHandshake(socket, {
      attestation: this.attestation,
      maxRecordBytes: MAX_SESSION_MESSAGE_BYTES,
      ...(this.opts.handshakeTimeoutMs ? { timeoutMs: this.opts.handshakeTimeoutMs } : {}),
    }).then(
      (channel) => this.enqueue({ channel, peer }),
      (e: unknown) =>
        this.log(
          `enclave: peer=${peer} handshake failed: ${isTeeError(e) ? `${e.code}: ${e.message}` : String(e)}`,
        ),
    );
  }

  private enqueue(w: Waiting): void {
    if (this.closing) {
      void refuse(w.channel, 'E_NETWORK', 'the trusted process is shutting down');
      return;
    }
    const maxQueue = this.opts.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (this.current !== null && this.waiting.length >= maxQueue) {
      this.log(`enclave: peer=${w.peer} refused: ${this.waiting.length} sessions already waiting`);
      void refuse(
        w.channel,
        'E_NETWORK',
        `the trusted process is busy (${maxQueue} sessions waiting); try again later`,
      );
      return;
    }
    this.waiting.push(w);
    if (this.current !== null) {
      void w.channel
        .send(encodeSessionMessage({ type: 'queued', position: this.waiting.length }))
        .catch(() => {});
    }
    this.pump();
  }

  private pump(): void {
    if (this.current !== null || this.closing) return;
    const next = this.waiting.shift();
    if (next === undefined) return;
    const id = ++this.sessions;
    const session = new EnclaveSession(
      next.channel,
      {
        launcher: this.opts.launcher,
        ...(this.opts.checkpoints ? { checkpoints: this.opts.checkpoints } : {}),
        accelerators: this.opts.accelerators ?? [],
        limits: this.opts.limits ?? {},
        maxUploadBytes: this.opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES,
        maxSessionBytes: this.opts.maxSessionBytes ?? DEFAULT_MAX_SESSION_BYTES,
        ...(this.opts.sessionIdleTimeoutMs ? { idleTimeoutMs: this.opts.sessionIdleTimeoutMs } : {}),
        ...(this.opts.workParent ? { parent: this.opts.workParent } : {}),
      },
      (e) =>
        this.log(`enclave: session ${id}: unexpected failure (a bug): ${(e as Error)?.stack ?? String(e)}`),
    );
    this.current = session;
    const t0 = performance.now();
    this.currentDone = session
      .run()
      .then(
        (o) => {
          const sec = ((performance.now() - t0) / 1000).toFixed(1);
          this.log(
            `enclave: session ${id} peer=${next.peer} ${o.status} jobs=[${o.jobs.join('; ')}] uploaded=${o.uploadedBytes} B in ${sec} s`,
          );
        },
        (e: unknown) => this.log(`enclave: session ${id} failed: ${String(e)}`),
      )
      .finally(() => {
        this.current = null;
        this.pump();
      });
  }

  /** Graceful shutdown; resolves once the running session has ended and the port is closed. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const reason = new TeeError('E_NETWORK', 'the trusted process is shutting down');
    for (const w of this.waiting.splice(0)) void refuse(w.channel, 'E_NETWORK', reason.message);
    this.current?.abort(reason);
    await this.currentDone;
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

async function refuse(channel: SecureChannel, code: 'E_NETWORK', message: string): Promise<void> {
  try {
    await channel.send(encodeSessionMessage({ type: 'error', code, message }));
  } catch {
    // gone already
  }
  await channel.close();
}
