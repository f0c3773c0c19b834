// One client's session in the trusted process, over an established attested channel: `ready`, then
// uploads (into a private directory), keys of encrypted uploads (decrypted inside), and jobs (train, eval,
// infer) whose progress and results go back over the channel. Every inbound message is decoded and
// checked (session-codec.ts) before anything acts on it; the first error (a malformed message, a refused
// upload, a failed job) is sent as an `error` message and ends the session. The private directory is
// removed when the session ends, whatever the reason.
import { isTeeError, TeeError } from '../errors.js';
import { decodeClientMessage, encodeSessionMessage } from '../protocol/session-codec.js';
import {
  type ClientMessage,
  type EnclaveMessage,
  type LauncherName,
  SESSION_ERROR_CODES,
  SESSION_PROTOCOL_VERSION,
  type SessionErrorCode,
} from '../protocol/session-messages.js';
import type { SecureChannel } from '../secure/channel.js';
import { runEvalJob, runInferJob } from './job-eval.js';
import type { JobContext, JobLimits, SealedCheckpoints } from './job-setup.js';
import { runTrainJob } from './job-train.js';
import { SessionStore, type SessionStoreOptions } from './session-store.js';

export interface SessionOptions extends SessionStoreOptions {
  readonly launcher: LauncherName;
  readonly checkpoints?: SealedCheckpoints;
  readonly accelerators: readonly string[];
  readonly limits: JobLimits;
  /**
   * Longest wait for the client's next message while no job runs (ms; default 120 000). Anyone can
   * complete the handshake (the client authenticates the trusted process, not the reverse), and sessions
   * are served one at a time: without it, a peer that said nothing held the only slot for good.
   */
  readonly idleTimeoutMs?: number;
}

/** Default longest wait for a client's next message while no job runs. */
export const DEFAULT_SESSION_IDLE_MS = 120_000;

export interface SessionOutcome {
  /** 'ok', or the code of the error that ended the session. */
  readonly status: 'ok' | SessionErrorCode | 'closed';
  readonly jobs: string[];
  readonly uploadedBytes: number;
}

/** The code and message an error travels with (never a stack trace). */
export function errorMessageOf(e: unknown): { code: SessionErrorCode; message: string } {
  if (isTeeError(e) && (SESSION_ERROR_CODES as readonly string[]).includes(e.code)) {
    return { code: e.code as SessionErrorCode, message: e.message };
  }
  if (e instanceof TypeError || e instanceof RangeError) return { code: 'E_USAGE', message: e.message };
  return {
    code: 'E_IO',
    message: `unexpected failure in the trusted process: ${(e as Error)?.message ?? String(e)}`,
  };
}

export class EnclaveSession {
  private queue: Promise<void> = Promise.resolve();
  private sendFailure: Error | null = null;
  private abortReason: TeeError | null = null;
  private store: SessionStore | null = null;
  private readonly jobs: string[] = [];
  private uploadedBytes = 0;
  /** True while waiting for the client's next message (no job running). */
  private idle = false;

  constructor(
    private readonly channel: SecureChannel,
    private readonly opts: SessionOptions,
    /** Unexpected (non-TeeError) failures go here with their stack, for the operator's log. */
    private readonly logBug: (e: unknown) => void = () => {},
  ) {}

  /** Stops the session at the next step or batch (graceful shutdown); its error goes to the client. */
  abort(reason: TeeError): void {
    this.abortReason ??= reason;
    if (this.idle) {
      // Nothing will call checkAborted while we wait for the client: tell it, then hang up.
      const { code, message } = errorMessageOf(reason);
      void this.send({ type: 'error', code, message }).then(() => this.channel.destroy());
    }
  }

  /** Queues a message; the promise never rejects (a failed send is remembered and stops the job). */
  send(m: EnclaveMessage): Promise<void> {
    const bytes = encodeSessionMessage(m);
    this.queue = this.queue
      .then(() => (this.sendFailure === null ? this.channel.send(bytes) : undefined))
      .catch((e: Error) => {
        this.sendFailure ??= e;
      });
    return this.queue;
  }

  private checkAborted(): void {
    if (this.abortReason !== null) throw this.abortReason;
    if (this.sendFailure !== null) {
      throw new TeeError('E_NETWORK', `the client went away: ${this.sendFailure.message}`, {
        cause: this.sendFailure,
      });
    }
  }

  async run(): Promise<SessionOutcome> {
    let status: SessionOutcome['status'] = 'ok';
    try {
      this.store = new SessionStore(this.opts);
      await this.send({
        type: 'ready',
        version: SESSION_PROTOCOL_VERSION,
        launcher: this.opts.launcher,
        sealing: this.opts.checkpoints?.provider.kind ?? null,
      });
      for (;;) {
        this.checkAborted();
        this.idle = true;
        const raw = await this.receiveWithin(this.opts.idleTimeoutMs ?? DEFAULT_SESSION_IDLE_MS);
        this.idle = false;
        if (raw === null) break;
        await this.handle(decodeClientMessage(raw));
      }
    } catch (e) {
      this.idle = false;
      const err = errorMessageOf(e);
      if (!isTeeError(e)) this.logBug(e);
      status = this.channel.error !== null ? 'closed' : err.code;
      if (this.channel.error === null && this.sendFailure === null)
        await this.send({ type: 'error', ...err });
    } finally {
      await this.queue;
      this.store?.dispose();
      await this.channel.close();
    }
    return { status, jobs: this.jobs, uploadedBytes: this.uploadedBytes };
  }

  // The client's next message, or E_NETWORK when none comes within ms (the session then ends).
  private receiveWithin(ms: number): Promise<Uint8Array | null> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new TeeError(
              'E_NETWORK',
              `no message from the client for ${ms >= 10_000 ? Math.round(ms / 1000) : (ms / 1000).toFixed(1)} s while no job ran: the session is closed`,
            ),
          ),
        ms,
      );
    });
    return Promise.race([this.channel.receive(), late]).finally(() => clearTimeout(timer));
  }

  private context(store: SessionStore): JobContext {
    return {
      store,
      send: (m) => this.send(m),
      ...(this.opts.checkpoints ? { checkpoints: this.opts.checkpoints } : {}),
      accelerators: this.opts.accelerators,
      limits: this.opts.limits,
      checkAborted: () => this.checkAborted(),
    };
  }

  private async handle(m: ClientMessage): Promise<void> {
    const store = this.store!;
    switch (m.type) {
      case 'upload': {
        const size = store.receive(m.name, m.offset, m.total, m.encrypted, m.body);
        this.uploadedBytes += m.body.byteLength;
        // An encrypted upload is acknowledged once its key arrived and it decrypted.
        if (size !== null && !m.encrypted)
          await this.send({ type: 'uploaded', name: m.name, bytes: size, decrypted: false });
        return;
      }
      case 'key': {
        const size = await store.key(m.name, m.body);
        await this.send({ type: 'uploaded', name: m.name, bytes: size, decrypted: true });
        return;
      }
      case 'train':
        this.jobs.push(`train ${m.job.settings.model} ${m.job.mode}`);
        await runTrainJob(this.context(store), m.job);
        return;
      case 'eval':
        this.jobs.push(`eval ${m.job.model} ${m.job.mode}`);
        await runEvalJob(this.context(store), m.job);
        return;
      case 'infer':
        this.jobs.push(`infer ${m.job.model} ${m.job.mode}`);
        await runInferJob(this.context(store), m.job);
        return;
    }
  }
}
