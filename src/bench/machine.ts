// What a result was measured on: CPU, cores, memory, Node, git revision, kernel build. Written into
// every JSON so that numbers from different machines or builds are never compared by accident.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { KernelInfo } from '../kernels/api.js';

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  /** 1, 5 and 15-minute load averages when the info was taken: > cores means others were running. */
  readonly loadAverage: readonly number[];
  readonly platform: string;
  readonly gitRevision: string | null;
  readonly gitDirty: boolean | null;
  readonly kernels: KernelInfo & { readonly name: string };
  /** BLAS/OpenMP variables inherited by both sides (e.g. OPENBLAS_CORETYPE). */
  readonly env: Readonly<Record<string, string>>;
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function git(args: string[]): string | null {
  const r = spawnSync('git', args, {
    cwd: existsSync(`${ROOT}.git`) ? ROOT : process.cwd(),
    encoding: 'utf8',
    timeout: 10_000,
  });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** `env` is the environment both sides inherit (the CLI passes process.env). */
export function machineInfo(kernelName: string, info: KernelInfo, env: NodeJS.ProcessEnv): MachineInfo {
  const blasEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && /^(OPENBLAS_|OMP_|MKL_|DNNL_|ONEDNN_|GOMP_)/.test(k)) blasEnv[k] = v;
  }
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    platform: `${process.platform}-${process.arch}`,
    gitRevision: git(['rev-parse', 'HEAD']),
    gitDirty: status === null ? null : status.length > 0,
    kernels: { name: kernelName, ...info },
    env: blasEnv,
  };
}
