// Starts a trusted process for the client when no --enclave address is given: `tee-offload enclave` under
// the chosen launcher (gramine/launcher.ts), listening on a free port; its first stdout line,
// `listening on HOST:PORT`, tells where. stop() ends it (closing its IPC channel, or SIGTERM; SIGKILL
// after a grace period); a direct one also stops by itself when this process dies (child-processes.ts).
import type { ChildProcess } from 'node:child_process';
import { TeeError } from '../errors.js';
import type { LauncherKind } from '../gramine/enclave-args.js';
import { launchEnclave } from '../gramine/launcher.js';
import { askToStop, trackChild } from './child-processes.js';

export const LISTENING_LINE = /^listening on (\S+)$/;
export const DEFAULT_START_TIMEOUT_MS = 120_000;

export interface StartEnclaveOptions {
  readonly launcher: LauncherKind;
  /** direct: arguments after `enclave --launcher direct --listen 127.0.0.1:0`. */
  readonly args?: readonly string[];
  /** gramine-*: the directory of the signed manifest (its fixed argv must include --listen). */
  readonly manifestDir?: string;
  /** direct: the app root (default: this one). */
  readonly appDir?: string;
  /** Where the process's stderr goes (default: ours). */
  readonly stderr?: 'inherit' | 'ignore';
  readonly timeoutMs?: number;
}

export interface StartedEnclave {
  readonly address: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Reads `child`'s stdout until the listening line (resolves the address) or its exit (rejects). */
export function readListeningLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const out = child.stdout;
    if (out === null) {
      reject(new TypeError('the enclave process needs a piped stdout'));
      return;
    }
    let buf = '';
    const done = (err: Error | null, address?: string) => {
      clearTimeout(timer);
      out.off('data', onData);
      child.off('exit', onExit);
      // Keep draining stdout so that the process never blocks on a full pipe.
      out.resume();
      if (err) reject(err);
      else resolve(address!);
    };
    const onData = (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        const m = LISTENING_LINE.exec(line);
        if (m) {
          done(null, m[1]);
          return;
        }
      }
      if (buf.length > 64 * 1024) buf = buf.slice(-1024);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      done(
        new TeeError(
          'E_NETWORK',
          `the trusted process exited (${signal ?? `status ${code}`}) before it was listening; see its messages above`,
        ),
      );
    const timer = setTimeout(
      () =>
        done(new TeeError('E_NETWORK', `the trusted process did not start listening within ${timeoutMs} ms`)),
      timeoutMs,
    );
    out.setEncoding?.('utf8');
    out.on('data', onData);
    child.once('exit', onExit);
  });
}

export async function startEnclave(o: StartEnclaveOptions): Promise<StartedEnclave> {
  const direct = o.launcher === 'direct';
  const p = launchEnclave({
    launcher: o.launcher,
    ...(direct
      ? { args: ['enclave', '--launcher', 'direct', '--listen', '127.0.0.1:0', ...(o.args ?? [])] }
      : {}),
    ...(o.manifestDir === undefined ? {} : { manifestDir: o.manifestDir }),
    ...(o.appDir === undefined ? {} : { appDir: o.appDir }),
    // direct: an IPC channel, never used for messages: it closes when this process ends, even by
    // SIGKILL, and the child then stops (cli/until-stopped.ts). Gramine cannot pass it into an enclave.
    stdio: ['ignore', 'pipe', o.stderr ?? 'inherit', ...(direct ? (['ipc'] as const) : [])],
  });
  trackChild(p.child);
  const exited = p.exited.catch((e: unknown) => e as Error);
  let stopped: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) return;
      askToStop(p.child);
      const t = setTimeout(() => p.child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    })();
    return stopped;
  };
  try {
    const started = readListeningLine(p.child, o.timeoutMs ?? DEFAULT_START_TIMEOUT_MS);
    const failed = exited.then((e) => {
      if (e instanceof Error) throw e;
      return new Promise<string>(() => {});
    });
    const address = await Promise.race([started, failed]);
    return { address, child: p.child, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
