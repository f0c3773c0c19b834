// The PyTorch side of the kernel benchmark: a long-lived `bench/torch_kernels.py` process spoken to in
// JSON lines, so that its samples interleave with ours. Python is optional: when no interpreter can
// `import torch`, `startTorchSide` returns the reason and the benchmark runs our side alone.
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { TeeError } from '../errors.js';
import type { Sample } from './sampler.js';

export interface TorchVersions {
  readonly torch: string;
  readonly torchvision: string;
  readonly python: string;
  readonly interpreter: string;
  readonly threads: number;
  readonly mkldnn: boolean;
}

type Answer = Record<string, unknown> & { ok: boolean; error?: string };

// dist/src/bench/torch-side.js → the package root is three levels up.
const SCRIPT = fileURLToPath(new URL('../../../bench/torch_kernels.py', import.meta.url));
const CANDIDATES = ['/usr/bin/python3', 'python3'];

/** The first interpreter that can import torch, or null with the reasons each one failed. */
export function findTorchPython(env: NodeJS.ProcessEnv): { interpreter: string } | { reason: string } {
  const reasons: string[] = [];
  for (const py of CANDIDATES) {
    const r = spawnSync(py, ['-c', 'import torch, torchvision'], { encoding: 'utf8', timeout: 60_000, env });
    if (r.status === 0) return { interpreter: py };
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`);
    reasons.push(`${py}: ${why}`);
  }
  return { reason: `no python3 with torch and torchvision (${reasons.join('; ')})` };
}

export class TorchSide {
  private readonly pending: ((a: Answer) => void)[] = [];
  private exited: string | null = null;
  private stderrTail = '';
  private info: TorchVersions | null = null;

  private constructor(private readonly child: ChildProcessWithoutNullStreams) {}

  get versions(): TorchVersions {
    return this.info!;
  }

  /** Starts the server with T threads (torch.set_num_threads plus the BLAS/OpenMP variables). */
  static async start(
    threads: number,
    parentEnv: NodeJS.ProcessEnv,
  ): Promise<TorchSide | { skipped: string }> {
    if (!existsSync(SCRIPT)) return { skipped: `${SCRIPT} is missing` };
    const found = findTorchPython(parentEnv);
    if ('reason' in found) return { skipped: found.reason };
    // torch.set_num_threads does not reach a generic (Debian) OpenBLAS: without these, torch.mm runs
    // on every core whatever T says. OPENBLAS_CORETYPE is inherited untouched.
    const env = { ...parentEnv, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
    const child = spawn(found.interpreter, [SCRIPT], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const side = new TorchSide(child);
    side.listen();
    const hello = await side.request({ op: 'hello', threads });
    side.info = {
      torch: String(hello.torch),
      torchvision: String(hello.torchvision),
      python: String(hello.python),
      interpreter: found.interpreter,
      threads: Number(hello.threads),
      mkldnn: Boolean(hello.mkldnn),
    };
    return side;
  }

  private listen(): void {
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      const resolve = this.pending.shift();
      if (!resolve) return;
      try {
        resolve(JSON.parse(line) as Answer);
      } catch {
        resolve({ ok: false, error: `unreadable answer from the torch side: ${line.slice(0, 200)}` });
      }
    });
    this.child.stderr.on('data', (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-2000);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = `the torch side exited (${signal ?? code}): ${this.stderrTail.trim().split('\n').pop() ?? ''}`;
      for (const r of this.pending.splice(0)) r({ ok: false, error: this.exited });
    });
  }

  request(req: Record<string, unknown>): Promise<Answer> {
    if (this.exited) return Promise.reject(new TeeError('E_IO', this.exited));
    return new Promise<Answer>((resolve, reject) => {
      this.pending.push((a) => (a.ok ? resolve(a) : reject(new TeeError('E_IO', `torch side: ${a.error}`))));
      this.child.stdin.write(`${JSON.stringify(req)}\n`);
    });
  }

  async prepare(workload: Record<string, unknown>): Promise<void> {
    await this.request({ op: 'prepare', workload });
  }

  /** One sample of `iters` calls; `loss` is the last training loss when the workload is a step. */
  async sample(iters: number): Promise<Sample & { loss?: number }> {
    const a = await this.request({ op: 'time', iters });
    const s = { ms: (Number(a.seconds) * 1000) / iters, cpuPerWall: Number(a.cpuPerWall) };
    return a.loss === undefined ? s : { ...s, loss: a.loss === null ? Number.NaN : Number(a.loss) };
  }

  /** Frees the workload's data; returns its peak and current RSS in KiB. */
  async finish(): Promise<{ peakRssKiB: number | null; rssKiB: number | null }> {
    const a = await this.request({ op: 'finish' });
    return { peakRssKiB: a.peakRssKiB as number | null, rssKiB: a.rssKiB as number | null };
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const done = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin.end();
    await done;
  }
}
