// Real processes for the mode tests: a trusted process (test/client/enclave-child.ts, i.e. `tee-offload
// enclave`) read to its `listening on` line, accelerator servers on port 0 (optionally lying), and the CLI
// run as a child process without blocking this event loop (the accelerator lives in it).
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { type AcceleratorServer, startAcceleratorServer } from '../../src/accelerator/server.js';
import type { TamperOptions } from '../../src/accelerator/tamper.js';
import { readListeningLine } from '../../src/client/launch.js';
import { formatAddress } from '../../src/protocol/address.js';

export const CLI = resolve('dist/src/cli/main.js');
export const ENCLAVE_CHILD = resolve('dist/test/client/enclave-child.js');

export interface ChildEnclave {
  readonly address: string;
  readonly child: ChildProcess;
  /** Everything it wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM, then its exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function startChildEnclave(args: readonly string[] = []): Promise<ChildEnclave> {
  const child = spawn(process.execPath, [ENCLAVE_CHILD, '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => {
    err += c.toString('utf8');
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once('exit', (code, signal) => res({ code, signal })),
  );
  let address: string;
  try {
    address = await readListeningLine(child, 60_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw new Error(`${(e as Error).message}\n${err}`);
  }
  return {
    address,
    child,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface Accelerator {
  readonly address: string;
  readonly server: AcceleratorServer;
}

export async function startAccelerator(tamper?: TamperOptions): Promise<Accelerator> {
  const server = await startAcceleratorServer({
    port: 0,
    host: '127.0.0.1',
    threads: 1,
    log: () => {},
    ...(tamper ? { tamper } : {}),
  });
  const a = server.address();
  return { address: formatAddress({ host: a.address, port: a.port }), server };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `tee-offload ARGS` as a child process (asynchronously: servers in this process keep serving). */
export function cli(args: readonly string[], timeoutMs = 240_000): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', rej);
    child.once('close', (code) => {
      clearTimeout(t);
      res({ code, stdout, stderr });
    });
  });
}

/** The step losses of a --json training run. */
export function losses(stdout: string): number[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { type: string; loss?: number })
    .filter((e) => e.type === 'step')
    .map((e) => e.loss!);
}

/** The small, fast training run every mode test uses: AlexNet at 63×63, synthetic data, 2 steps, 1 thread. */
export function trainArgs(save: string, extra: readonly string[] = [], steps = 2): string[] {
  return [
    'train',
    '--model',
    'alexnet',
    '--input-size',
    '63',
    '--data',
    'synthetic:16',
    '--batch-size',
    '4',
    '--steps',
    String(steps),
    '--seed',
    '3',
    '--threads',
    '1',
    '--json',
    '--save',
    save,
    ...extra,
  ];
}
