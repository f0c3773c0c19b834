// Starts `tee-offload accelerator` as a child process on a free loopback port and reads its
// "listening on HOST:PORT" line; stop() ends it (SIGTERM, then SIGKILL after a grace period).
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TeeError } from '../errors.js';

export interface AcceleratorProcess {
  readonly address: string;
  readonly child: ChildProcess;
  /** Its stderr and stdout lines after the listening line (one line per connection). */
  readonly log: string[];
  stop(): Promise<void>;
}

const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));
const LISTENING = /listening on (\S+)/;

export async function startAcceleratorProcess(
  o: { threads?: number; timeoutMs?: number } = {},
): Promise<AcceleratorProcess> {
  const args = [CLI, 'accelerator', '--listen', '127.0.0.1:0'];
  if (o.threads !== undefined) args.push('--threads', String(o.threads));
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [];
  let pending = '';
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  const address = await new Promise<string>((resolve, reject) => {
    let found = false;
    const onData = (b: Buffer) => {
      pending += b.toString('utf8');
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        const m = LISTENING.exec(line);
        if (!found && m) {
          found = true;
          clearTimeout(timer);
          resolve(m[1]!);
        } else if (line !== '') log.push(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (!found)
        reject(
          new TeeError(
            'E_NETWORK',
            `the accelerator exited (${signal ?? `status ${code}`}) before listening: ${log.join(' | ')}`,
          ),
        );
    });
    const timer = setTimeout(() => {
      void stop();
      reject(
        new TeeError(
          'E_NETWORK',
          `the accelerator did not start listening within ${o.timeoutMs ?? 60_000} ms`,
        ),
      );
    }, o.timeoutMs ?? 60_000);
  });
  return { address, child, log, stop };
}
