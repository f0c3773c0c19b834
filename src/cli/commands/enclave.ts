// `tee-offload enclave`: the trusted process (docs/enclave.md). Serves attested sessions one at a time
// until SIGINT/SIGTERM; prints exactly one line on stdout, `listening on HOST:PORT`, once it accepts
// connections (a parent process reads it to learn the port), and logs one line per session on stderr.
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { JobLimits } from '../../enclave/job-setup.js';
import { EnclaveService } from '../../enclave/service.js';
import { DEFAULT_SESSION_IDLE_MS } from '../../enclave/session.js';
import { TeeError } from '../../errors.js';
import { LAUNCHERS, type LauncherKind } from '../../gramine/enclave-args.js';
import { kernels } from '../../kernels/index.js';
import { formatAddress, parseAddress } from '../../protocol/address.js';
import { JOB_MODES, type JobMode } from '../../protocol/session-messages.js';
import { generateKey, wipe, writeKeyFile } from '../../secure/keys.js';
import { sealingKeyProviderFor } from '../../secure/seal.js';
import { type Command, UsageError } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';
import { untilStopped } from '../until-stopped.js';

/** The key file that stands in for the enclave's sealing key under direct/gramine-direct. */
export const DIRECT_SEAL_KEY_NAME = 'INSECURE-direct-seal.key';
export const DEFAULT_ENCLAVE_LISTEN = '127.0.0.1:7443';

export const enclaveCommand: Command = {
  name: 'enclave',
  summary: 'run the trusted process: attested sessions that train, evaluate or infer (modes enclave, split)',
  help: `usage: tee-offload enclave [--launcher direct|gramine-direct|gramine-sgx] [--listen HOST:PORT]
                           [--accelerator HOST:PORT ...] [--threads T] [--checkpoint-dir DIR]

The trusted process of docs/enclave.md. Clients (tee-offload train/eval/infer --mode enclave|split
--enclave HOST:PORT) connect, verify its attestation, upload data and weights over the encrypted
channel and send a job; progress and the result come back over the channel. One session runs at a
time; later ones wait in a queue. Prints "listening on HOST:PORT" on stdout once ready; runs until
SIGINT or SIGTERM (graceful: the running job stops at its next step, its last sealed checkpoint stays),
or, when its parent started it with an IPC channel (tee-offload's direct launcher), until that parent
is gone.

Attestation: a DCAP quote under gramine-sgx; under direct and gramine-direct a SIMULATED attestation
that proves nothing (clients refuse it unless given --allow-simulated).

options:
  --launcher L          how this process was started (default direct): picks the attestation and
                        the sealing key (SGX MRENCLAVE key under gramine-sgx; an INSECURE key file
                        otherwise)
  --listen HOST:PORT    address to listen on (default ${DEFAULT_ENCLAVE_LISTEN}; port 0 picks a free one)
  --accelerator H:P     accelerator for split jobs that name none (repeatable)
  --threads T           kernel threads (default: all cores; a job may ask for fewer)
  --checkpoint-dir DIR  where sealed checkpoints are written and resumed from (also --sealed DIR);
                        without it, jobs that checkpoint or resume are refused
  --seal-key FILE       direct/gramine-direct: the sealing key file (default DIR/${DIRECT_SEAL_KEY_NAME},
                        created when missing; anyone who can read it can unseal: INSECURE)
  --max-upload-bytes B  largest single upload (default 16G)
  --max-queue N         sessions that may wait behind the running one (default 8)
  --session-idle-timeout S
                        close a session whose client sends nothing for S seconds while no job runs
                        (default 120): anyone can open a session, and they are served one at a time
  --work-dir DIR        parent of the sessions' private directories (default the system temp dir;
                        under Gramine /tmp is an in-enclave tmpfs: keep the default there)

limits of an enclave build (tee-offload manifest writes them into the enclave's fixed command line):
  --mode enclave|split  serve only this mode
  --model M             serve only this model
  --batch-size B        refuse larger batches
  --input-size S        refuse larger inputs
  --num-classes K       refuse more classes
  --inbox DIR           the untrusted inbox of the manifest (accepted; uploads go over the channel)`,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      launcher: { type: 'string' },
      listen: { type: 'string' },
      accelerator: { type: 'string', multiple: true },
      threads: { type: 'string' },
      'checkpoint-dir': { type: 'string' },
      sealed: { type: 'string' },
      'seal-key': { type: 'string' },
      'max-upload-bytes': { type: 'string' },
      'max-queue': { type: 'string' },
      'session-idle-timeout': { type: 'string' },
      'work-dir': { type: 'string' },
      mode: { type: 'string' },
      model: { type: 'string' },
      'batch-size': { type: 'string' },
      'input-size': { type: 'string' },
      'num-classes': { type: 'string' },
      inbox: { type: 'string' },
    });
    const str = (k: string) => v[k] as string | undefined;
    const launcher = (str('launcher') ?? 'direct') as LauncherKind;
    if (!LAUNCHERS.includes(launcher))
      throw new UsageError(`--launcher must be one of ${LAUNCHERS.join(', ')}`);
    let listen: ReturnType<typeof parseAddress>;
    try {
      listen = parseAddress(str('listen') ?? DEFAULT_ENCLAVE_LISTEN, true);
    } catch (e) {
      throw new UsageError(`--listen: ${(e as Error).message}`);
    }
    const accelerators = (v.accelerator as unknown as string[] | undefined) ?? [];
    for (const a of accelerators) {
      try {
        parseAddress(a);
      } catch (e) {
        throw new UsageError(`--accelerator: ${(e as Error).message}`);
      }
    }
    if (str('threads') !== undefined) kernels.setThreads(intFlag(str('threads'), 'threads', 1));
    const mode = str('mode') as JobMode | undefined;
    if (mode !== undefined && !JOB_MODES.includes(mode))
      throw new UsageError(`--mode must be one of ${JOB_MODES.join(', ')}`);
    const limits: JobLimits = {
      ...(mode === undefined ? {} : { mode }),
      ...(str('model') === undefined ? {} : { model: str('model')! }),
      ...(str('batch-size') === undefined
        ? {}
        : { maxBatchSize: intFlag(str('batch-size'), 'batch-size', 1) }),
      ...(str('input-size') === undefined
        ? {}
        : { maxInputSize: intFlag(str('input-size'), 'input-size', 1) }),
      ...(str('num-classes') === undefined
        ? {}
        : { maxNumClasses: intFlag(str('num-classes'), 'num-classes', 1) }),
    };
    if (
      str('checkpoint-dir') !== undefined &&
      str('sealed') !== undefined &&
      str('checkpoint-dir') !== str('sealed')
    ) {
      throw new UsageError('--checkpoint-dir and --sealed name the same directory: give one');
    }
    const inbox = str('inbox');
    if (inbox !== undefined && !existsSync(inbox))
      throw new TeeError('E_IO', `--inbox ${inbox} does not exist`);
    const warn = (m: string) => process.stderr.write(`tee-offload: warning: ${m}\n`);
    const ckDir = str('checkpoint-dir') ?? str('sealed');
    let checkpoints: { dir: string; provider: ReturnType<typeof sealingKeyProviderFor> } | undefined;
    if (ckDir !== undefined) {
      const dir = resolve(ckDir);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        if (!statSync(dir).isDirectory()) throw new Error('not a directory');
      } catch (e) {
        throw new TeeError('E_IO', `--checkpoint-dir ${dir}: ${(e as Error).message}`, { cause: e });
      }
      let keyFile: string | undefined;
      if (launcher !== 'gramine-sgx') {
        keyFile = resolve(str('seal-key') ?? join(dir, DIRECT_SEAL_KEY_NAME));
        if (!existsSync(keyFile)) {
          const key = generateKey();
          try {
            writeKeyFile(keyFile, key);
          } finally {
            wipe(key);
          }
        }
      } else if (str('seal-key') !== undefined) {
        throw new UsageError(
          '--seal-key is for direct and gramine-direct; under gramine-sgx the sealing key is the enclave’s',
        );
      }
      checkpoints = { dir, provider: sealingKeyProviderFor(launcher, keyFile, warn) };
    } else if (str('seal-key') !== undefined) {
      throw new UsageError('--seal-key needs --checkpoint-dir');
    }
    const service = new EnclaveService({
      launcher,
      ...(checkpoints ? { checkpoints } : {}),
      accelerators,
      limits,
      ...(str('max-upload-bytes') === undefined
        ? {}
        : { maxUploadBytes: bytesFlagLarge(str('max-upload-bytes')!) }),
      ...(str('max-queue') === undefined ? {} : { maxQueue: intFlag(str('max-queue'), 'max-queue', 0, 0) }),
      ...(str('session-idle-timeout') === undefined
        ? {}
        : {
            sessionIdleTimeoutMs:
              1000 *
              intFlag(str('session-idle-timeout'), 'session-idle-timeout', DEFAULT_SESSION_IDLE_MS / 1000),
          }),
      ...(str('work-dir') === undefined ? {} : { workParent: resolve(str('work-dir')!) }),
    });
    if (launcher !== 'gramine-sgx') {
      warn(`launcher ${launcher}: no TEE; this process offers a SIMULATED attestation that proves nothing`);
    }
    // Signal handlers first: a parent may send SIGTERM as soon as it has read the listening line.
    const stopped = untilStopped();
    const bound = await service.listen(listen.port, listen.host);
    process.stdout.write(`listening on ${formatAddress({ host: bound.address, port: bound.port })}\n`);
    const why = await stopped;
    process.stderr.write(`enclave: ${why}: shutting down\n`);
    await service.close();
    return 0;
  },
};

/** A byte count with K/M/G/T suffixes for upload caps (bytesFlag's units, without its frame-size cap). */
function bytesFlagLarge(value: string): number {
  const m = /^(\d+)\s*([kmgt])?(?:i?b)?$/i.exec(value.trim());
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[(m?.[2] ?? '').toLowerCase()];
  const n = m === null || unit === undefined ? Number.NaN : Number(m[1]) * unit;
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`--max-upload-bytes must be a byte count (e.g. 16G), got '${value}'`);
  }
  return n;
}
