// runRemote: the data owner's whole exchange with a trusted process. Connect to --enclave HOST:PORT or
// start one (direct launcher by default) and read its `listening on` line; run the attested handshake
// (SIMULATED evidence refused unless allowed; SGX quotes DCAP-verified against a policy); wait for the
// session to start; upload data and weights (AEAD files with their keys, decrypted inside); send the job;
// render its progress through the same Reporter the native commands use; receive the result and, for
// training, the final model state, written atomically to `save`.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { TeeError } from '../errors.js';
import type { LauncherKind } from '../gramine/enclave-args.js';
import { writeFileAtomic } from '../io/atomic-write.js';
import { parseAddress } from '../protocol/address.js';
import {
  type EvalJob,
  type InferJob,
  MAX_BODY_BYTES,
  MAX_SESSION_MESSAGE_BYTES,
  type PredictionRow,
  type ResultMessage,
  SESSION_PROTOCOL_VERSION,
  type TrainJob,
} from '../protocol/session-messages.js';
import { connectSecure } from '../secure/handshake.js';
import { readKeyFile, wipe } from '../secure/keys.js';
import type { ProgressEvent, Reporter } from '../train/progress.js';
import { type ClientAttestationOptions, clientVerifier } from './attestation.js';
import { type StartedEnclave, startEnclave } from './launch.js';
import { SessionClient } from './session-client.js';
import type { UploadSpec } from './uploads.js';

export type RemoteJob =
  | { readonly type: 'train'; readonly job: TrainJob }
  | { readonly type: 'eval'; readonly job: EvalJob }
  | { readonly type: 'infer'; readonly job: InferJob };

export interface RemoteOptions {
  /** HOST:PORT of a running trusted process; absent: start one. */
  readonly enclave?: string;
  /** When starting one (default direct). */
  readonly launcher?: LauncherKind;
  /** gramine-*: the directory of the signed manifest. */
  readonly manifestDir?: string;
  /** direct: extra arguments of the started `tee-offload enclave` (e.g. --checkpoint-dir DIR). */
  readonly enclaveArgs?: readonly string[];
  /** direct: the app root of the started `tee-offload enclave` (default: this one). */
  readonly appDir?: string;
  /** Where a started enclave's stderr goes (default: ours). */
  readonly enclaveStderr?: 'inherit' | 'ignore';
  readonly attestation: ClientAttestationOptions;
  readonly uploads: readonly UploadSpec[];
  readonly job: RemoteJob;
  /** Receives the job's progress events (train). */
  readonly reporter?: Reporter;
  /** Notes from the trusted process (loaded weights, warnings, queue position). */
  readonly onNote?: (line: string) => void;
  /** infer: each image's top-k. */
  readonly onPrediction?: (row: PredictionRow) => void;
  /** train: write the final model state (safetensors) here. */
  readonly save?: string;
  /** The handshake's timeout (default 30 s). */
  readonly handshakeTimeoutMs?: number;
}

export interface RemoteOutcome {
  readonly result: ResultMessage;
  /** What the trusted process's evidence was. */
  readonly attestation: 'sgx' | 'simulated' | 'none';
  /** The trusted process's address. */
  readonly address: string;
  /** train: the final model state (safetensors bytes). */
  readonly model?: Uint8Array;
  /** train: the loss of every step, from the progress events. */
  readonly losses: number[];
}

/** Largest model state accepted from the trusted process (VGG19 is 0.55 GB). */
export const MAX_MODEL_BYTES = 4 * 2 ** 30;

async function sendUpload(client: SessionClient, u: UploadSpec): Promise<void> {
  let fd: number;
  let total: number;
  try {
    fd = openSync(u.path, 'r');
    total = statSync(u.path).size;
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${u.path}: ${(e as Error).message}`, { cause: e });
  }
  const encrypted = u.keyFile !== undefined;
  try {
    const buf = new Uint8Array(Math.min(MAX_BODY_BYTES, Math.max(total, 1)));
    let offset = 0;
    do {
      const want = Math.min(buf.length, total - offset);
      let n = 0;
      while (n < want) {
        const r = readSync(fd, buf, n, want - n, offset + n);
        if (r === 0) throw new TeeError('E_IO', `${u.path} changed while it was being uploaded`);
        n += r;
      }
      await client.send({ type: 'upload', name: u.name, offset, total, encrypted, body: buf.subarray(0, n) });
      offset += n;
    } while (offset < total);
  } finally {
    closeSync(fd);
  }
  if (u.keyFile !== undefined) {
    // The key travels only inside the attested channel, and is wiped here once sent.
    const key = readKeyFile(u.keyFile);
    try {
      await client.send({ type: 'key', name: u.name, body: key });
    } finally {
      wipe(key);
    }
  }
  for (;;) {
    const m = await client.next();
    if (m.type === 'uploaded' && m.name === u.name) return;
    if (m.type === 'note') continue;
    throw new TeeError('E_FRAME', `unexpected '${m.type}' message while uploading ${u.name}`);
  }
}

export async function runRemote(o: RemoteOptions): Promise<RemoteOutcome> {
  let started: StartedEnclave | null = null;
  let client: SessionClient | null = null;
  try {
    let address = o.enclave;
    if (
      address === undefined &&
      (o.launcher ?? 'direct') !== 'gramine-sgx' &&
      !o.attestation.allowSimulated
    ) {
      // Refused before anything starts: such a process can only offer SIMULATED evidence.
      throw new TeeError(
        'E_ATTEST',
        `a trusted process started with --launcher ${o.launcher ?? 'direct'} has no TEE and offers only a SIMULATED attestation; pass --allow-simulated (development only) or use --launcher gramine-sgx`,
      );
    }
    if (address === undefined) {
      started = await startEnclave({
        launcher: o.launcher ?? 'direct',
        ...(o.enclaveArgs ? { args: o.enclaveArgs } : {}),
        ...(o.manifestDir ? { manifestDir: o.manifestDir } : {}),
        ...(o.enclaveStderr ? { stderr: o.enclaveStderr } : {}),
        ...(o.appDir ? { appDir: o.appDir } : {}),
      });
      address = started.address;
    }
    let hp: ReturnType<typeof parseAddress>;
    try {
      hp = parseAddress(address);
    } catch (e) {
      throw new TeeError('E_USAGE', `--enclave: ${(e as Error).message}`);
    }
    const channel = await connectSecure({
      host: hp.host,
      port: hp.port,
      maxRecordBytes: MAX_SESSION_MESSAGE_BYTES,
      allowSimulated: o.attestation.allowSimulated === true,
      verifier: clientVerifier(o.attestation),
      ...(o.handshakeTimeoutMs ? { timeoutMs: o.handshakeTimeoutMs } : {}),
    }).catch((e: unknown) => {
      if (
        e instanceof TeeError &&
        e.code === 'E_ATTEST' &&
        /SIMULATED/.test(e.message) &&
        !o.attestation.allowSimulated
      ) {
        throw new TeeError(
          'E_ATTEST',
          `the trusted process at ${address} offers only a SIMULATED attestation (launcher direct or gramine-direct: no TEE); refused (--allow-simulated accepts it, for development only)`,
          { cause: e },
        );
      }
      throw e;
    });
    client = new SessionClient(channel);
    const note = o.onNote ?? (() => {});
    if (channel.info.attestation === 'simulated') {
      note(
        'warning: the trusted process offered a SIMULATED attestation (no TEE): accepted because of --allow-simulated',
      );
    }
    for (;;) {
      const m = await client.next();
      if (m.type === 'queued') note(`waiting for the trusted process: position ${m.position} in its queue`);
      else if (m.type === 'ready') {
        if (m.version !== SESSION_PROTOCOL_VERSION) {
          throw new TeeError(
            'E_FRAME',
            `the trusted process speaks session protocol ${m.version}, this client ${SESSION_PROTOCOL_VERSION}`,
          );
        }
        const j = o.job;
        if (m.sealing === 'direct-insecure' && j.type === 'train' && (j.job.checkpoint || j.job.resume)) {
          note('warning: the trusted process seals checkpoints with an INSECURE key file (no enclave)');
        }
        break;
      } else throw new TeeError('E_FRAME', `unexpected '${m.type}' message before the session started`);
    }
    for (const u of o.uploads) await sendUpload(client, u);
    await client.send({ type: o.job.type, job: o.job.job } as Parameters<SessionClient['send']>[0]);
    let model: Uint8Array | null = null;
    let received = 0;
    const losses: number[] = [];
    for (;;) {
      const m = await client.next();
      switch (m.type) {
        case 'note':
          note(m.message);
          break;
        case 'progress':
          if (m.event.type === 'step') losses.push(m.event.loss);
          o.reporter?.event(m.event as ProgressEvent);
          break;
        case 'prediction':
          if (o.job.type !== 'infer')
            throw new TeeError('E_FRAME', 'predictions for a job that is not infer');
          for (const r of m.rows) o.onPrediction?.(r);
          break;
        case 'model':
          if (o.job.type !== 'train') throw new TeeError('E_FRAME', 'a model for a job that is not train');
          if (model === null) {
            if (m.offset !== 0 || m.total > MAX_MODEL_BYTES)
              throw new TeeError('E_FRAME', 'malformed model transfer');
            model = new Uint8Array(m.total);
          }
          if (m.total !== model.length || m.offset !== received)
            throw new TeeError('E_FRAME', 'model chunks out of order');
          model.set(m.body, m.offset);
          received += m.body.byteLength;
          break;
        case 'result': {
          if (m.kind !== o.job.type)
            throw new TeeError('E_FRAME', `a ${m.kind} result for a ${o.job.type} job`);
          if (
            m.kind === 'train' &&
            (model === null || received !== model.length || m.modelBytes !== received)
          ) {
            throw new TeeError('E_FRAME', 'the model state did not arrive whole');
          }
          if (m.kind === 'train' && o.save !== undefined) writeFileAtomic(o.save, [model!]);
          await client.close();
          client = null;
          return {
            result: m,
            attestation: channel.info.attestation,
            address,
            ...(model ? { model } : {}),
            losses,
          };
        }
        default:
          throw new TeeError('E_FRAME', `unexpected '${m.type}' message during a job`);
      }
    }
  } finally {
    if (client !== null) client.channel.destroy();
    await started?.stop();
  }
}
