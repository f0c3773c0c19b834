// The helper processes of an experiment run: one untrusted accelerator (`tee-offload accelerator` on
// 127.0.0.1:0) and one trusted process (`tee-offload enclave`, direct launcher), each started at most once
// per experiment, on first use, and always stopped: by close(), on exit or SIGINT/SIGTERM through
// stopHelpersOnExit (the CLI commands that start helpers), and by themselves when this process dies.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  askToStop,
  killTrackedChildrenSync,
  stopTrackedChildren,
  trackChild,
} from '../../client/child-processes.js';
import { startEnclave } from '../../client/launch.js';
import { TeeError } from '../../errors.js';

// dist/src/bench/experiments/servers.js → dist/src/cli/main.js
const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
const START_TIMEOUT_MS = 60_000;

/** How long an interrupted command waits for its helpers to stop cleanly before it kills them. */
const STOP_GRACE_MS = 10_000;

/**
 * Kills every helper still running: accelerators started here and trusted processes started by
 * startEnclave, also those of runRemote (synchronous: safe in an 'exit' handler).
 */
export function stopAllServersSync(): number {
  return killTrackedChildrenSync();
}

/**
 * Until the returned function is called: SIGINT or SIGTERM stops every helper (a trusted process
 * removes its session directory; SIGKILL after STOP_GRACE_MS, or at once on a second signal), tells
 * `onSignal` how many, then exits with the shell's status for that signal (130, 143); any other exit
 * kills what is left.
 */
export function stopHelpersOnExit(onSignal?: (signal: NodeJS.Signals, stopped: number) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    const status = signal === 'SIGINT' ? 130 : 143;
    if (stopping) {
      stopAllServersSync();
      process.exit(status);
    }
    stopping = true;
    void stopTrackedChildren(STOP_GRACE_MS).then((n) => {
      onSignal?.(signal, n);
      process.exit(status);
    });
  };
  const onExit = () => stopAllServersSync();
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  process.on('exit', onExit);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    process.off('exit', onExit);
  };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  askToStop(child);
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export interface StartedServer {
  readonly address: string;
  /** The helper's process id, where it is a child process of this one. */
  readonly pid?: number;
  stop(): Promise<void>;
}

/** `tee-offload accelerator --listen 127.0.0.1:0 --threads T`; resolves once it prints its address. */
export async function startAcceleratorServer(
  threads: number,
  extraArgs: readonly string[] = [],
): Promise<StartedServer> {
  const child = spawn(
    process.execPath,
    [CLI, 'accelerator', '--listen', '127.0.0.1:0', '--threads', String(threads), ...extraArgs],
    // The IPC channel carries no messages: it closes when this process dies, and the child then stops.
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  trackChild(child);
  try {
    const address = await new Promise<string>((ok, fail) => {
      let text = '';
      const timer = setTimeout(
        () => fail(new TeeError('E_NETWORK', `the accelerator did not listen within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      const onData = (b: Buffer) => {
        text = (text + b.toString()).slice(-4096);
        const m = /listening on (\S+)/.exec(text);
        if (m) {
          clearTimeout(timer);
          ok(m[1]!);
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new TeeError('E_NETWORK', `the accelerator exited (${signal ?? code}): ${text.trim()}`));
      });
    });
    // Keep draining its per-connection log lines so that it never blocks on a full pipe.
    child.stdout!.resume();
    child.stderr!.resume();
    return { address, ...(child.pid === undefined ? {} : { pid: child.pid }), stop: () => stopChild(child) };
  } catch (e) {
    await stopChild(child);
    throw e;
  }
}

/** Kernel threads of split mode's trusted process and of its accelerator. */
export interface SplitThreads {
  readonly trusted: number;
  readonly accelerator: number;
}

/**
 * Threads for split mode's two processes on this machine. With a CPU accelerator both compute at once (the
 * accelerator its products, the trusted process its quantization and checks), so the cores are shared — a
 * quarter, at least one, to the trusted process — instead of both thread pools spinning over all of them
 * (on 2 cores, 1 + 1 took a ResNet-18 28² batch-32 split step from 775 to 476 ms). With a GPU accelerator the
 * host threads mostly wait, and both keep every core; `threads` (--threads) sets both.
 */
export function splitCores(cores: number, onGpu: boolean, threads?: number): SplitThreads {
  if (threads !== undefined) return { trusted: threads, accelerator: threads };
  if (onGpu) return { trusted: cores, accelerator: cores };
  const trusted = Math.max(1, Math.floor(cores / 4));
  return { trusted, accelerator: Math.max(1, cores - trusted) };
}

/** A trusted process under the direct launcher (no SGX: SIMULATED attestation), listening on a free port. */
export async function startTrustedProcess(): Promise<StartedServer> {
  const started = await startEnclave({ launcher: 'direct', stderr: 'ignore', timeoutMs: START_TIMEOUT_MS });
  return { address: started.address, stop: started.stop };
}

/** Lazily started helpers of one experiment; close() stops whatever was started. */
export class ExperimentServers {
  private readonly accels = new Map<number, Promise<StartedServer>>();
  private trusted: Promise<StartedServer> | null = null;

  constructor(
    private readonly threads: number,
    private readonly log: (line: string) => void,
    private readonly backend: 'cpu' | 'cuda' = 'cpu',
  ) {}

  /**
   * The HOST:PORT of an accelerator with `threads` kernel threads (default: the experiment's), started on
   * the first call for that count (split modes ask for their share of the cores: splitCores); a failed
   * start is rethrown on every call.
   */
  async accelerator(threads: number = this.threads): Promise<string> {
    let started = this.accels.get(threads);
    if (started === undefined) {
      started = (async () => {
        this.log(`starting an accelerator (${this.backend === 'cuda' ? 'CUDA GPU' : `${threads} threads`})`);
        const s = await startAcceleratorServer(
          threads,
          this.backend === 'cpu' ? [] : ['--backend', this.backend],
        );
        this.log(`accelerator listening on ${s.address}`);
        return s;
      })();
      this.accels.set(threads, started);
    }
    return (await started).address;
  }

  /** The trusted process's HOST:PORT (direct launcher). */
  async trustedProcess(): Promise<string> {
    this.trusted ??= (async () => {
      this.log('starting a trusted process (direct launcher: no SGX, SIMULATED attestation)');
      const s = await startTrustedProcess();
      this.log(`trusted process listening on ${s.address}`);
      return s;
    })();
    return (await this.trusted).address;
  }

  async close(): Promise<void> {
    const all = [...this.accels.values(), this.trusted].filter(
      (p): p is Promise<StartedServer> => p !== null,
    );
    this.accels.clear();
    this.trusted = null;
    await Promise.all(all.map((p) => p.then((s) => s.stop()).catch(() => {})));
  }
}
