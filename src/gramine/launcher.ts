// Starts the trusted process under one of the three launchers: `direct` (a plain Node.js child
// process, for development and tests), `gramine-direct` (Gramine without SGX) or `gramine-sgx` (an SGX
// enclave). Under Gramine the command line is fixed by the signed manifest, so the caller passes no
// arguments there; `tee-offload manifest` bakes them in. Nothing is installed or downloaded: a missing
// Gramine, manifest or SGX device is a clear TeeError before anything is spawned.
import { type ChildProcess, type StdioOptions, spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TeeError } from '../errors.js';
import { CLI_PATH } from './deployment.js';
import { LAUNCHERS, type LauncherKind } from './enclave-args.js';
import { APP_NAME } from './manifest-template.js';

/** Where Gramine comes from, for the error when it is missing (it is not in Debian's archive). */
export const GRAMINE_INSTALL_HINT =
  "install Gramine 1.8 or later from the Gramine project's own apt repository " +
  "(https://packages.gramineproject.io/, package 'gramine'; see docs/gramine.md)";

/** Device nodes of the SGX driver: in-kernel since Linux 5.11, and the older DCAP driver's. */
export const SGX_DEVICES: readonly string[] = ['/dev/sgx_enclave', '/dev/sgx/enclave'];

/** The app root (holds dist/ and build/) this module belongs to: dist/src/gramine → ../../.. */
export function defaultAppDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** The first executable file called `name` in the PATH-style list `pathEnv`, or undefined. */
export function findOnPath(name: string, pathEnv: string | undefined): string | undefined {
  for (const dir of (pathEnv ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, name);
    try {
      if (!statSync(p).isFile()) continue;
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here, or not executable
    }
  }
  return undefined;
}

export interface LaunchOptions {
  readonly launcher: LauncherKind;
  /** `direct` only: the arguments after the CLI script (`enclave --launcher direct …`). */
  readonly args?: readonly string[];
  /** gramine-*: the directory of tee-offload.manifest(.sgx) and tee-offload.sig (`make` output). */
  readonly manifestDir?: string;
  /** direct: the app root (default: the one this module is part of). */
  readonly appDir?: string;
  /** direct: the node binary (default: this process's). */
  readonly node?: string;
  /** The child's environment (default process.env); its PATH is where Gramine is looked up. */
  readonly env?: NodeJS.ProcessEnv;
  readonly stdio?: StdioOptions;
  /** SGX device nodes to look for (default SGX_DEVICES; tests pass others). */
  readonly sgxDevices?: readonly string[];
}

export interface LaunchPlan {
  readonly launcher: LauncherKind;
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd: string;
}

/** What launchEnclave would run; throws the same errors, spawns nothing. */
export function planLaunch(o: LaunchOptions): LaunchPlan {
  if (!LAUNCHERS.includes(o.launcher)) {
    throw new RangeError(`launcher must be one of ${LAUNCHERS.join(', ')}, got '${o.launcher}'`);
  }
  const env = o.env ?? process.env;
  if (o.launcher === 'direct') {
    const appDir = resolve(o.appDir ?? defaultAppDir());
    const cli = join(appDir, CLI_PATH);
    if (!existsSync(cli)) throw new TeeError('E_IO', `${cli} not found: build the app first (npm run build)`);
    return {
      launcher: 'direct',
      command: o.node ?? process.execPath,
      args: [cli, ...(o.args ?? [])],
      cwd: appDir,
    };
  }
  if (o.args !== undefined && o.args.length > 0) {
    throw new RangeError(
      `under ${o.launcher} the enclave's arguments are fixed by the signed manifest; regenerate it with \`tee-offload manifest\` instead of passing args`,
    );
  }
  if (o.manifestDir === undefined)
    throw new RangeError(`${o.launcher} needs manifestDir (the output of \`tee-offload manifest\`)`);
  const bin = findOnPath(o.launcher, env.PATH);
  if (bin === undefined) {
    throw new TeeError(
      'E_USAGE',
      `${o.launcher} was not found on PATH: ${GRAMINE_INSTALL_HINT}, or use --launcher direct (tee-offload downloads nothing)`,
    );
  }
  const dir = isAbsolute(o.manifestDir) ? o.manifestDir : resolve(o.manifestDir);
  const needed =
    o.launcher === 'gramine-sgx' ? [`${APP_NAME}.manifest.sgx`, `${APP_NAME}.sig`] : [`${APP_NAME}.manifest`];
  for (const f of needed) {
    if (!existsSync(join(dir, f))) {
      throw new TeeError(
        'E_IO',
        `${join(dir, f)} not found: run \`make\` in ${dir} (written by \`tee-offload manifest --out ${dir}\`)`,
      );
    }
  }
  if (o.launcher === 'gramine-sgx') {
    const devices = o.sgxDevices ?? SGX_DEVICES;
    if (!devices.some((d) => existsSync(d))) {
      throw new TeeError(
        'E_USAGE',
        `no SGX device (${devices.join(', ')}): this machine has no SGX or its driver is not loaded (is-sgx-available tells which); use --launcher gramine-direct or direct`,
      );
    }
  }
  return { launcher: o.launcher, command: bin, args: [`./${APP_NAME}`], cwd: dir };
}

export interface EnclaveProcess {
  readonly plan: LaunchPlan;
  readonly child: ChildProcess;
  /** Settles when the process ends; rejects (E_IO) if it could not be started at all. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the trusted process under `o.launcher` (see planLaunch for the checks made first). */
export function launchEnclave(o: LaunchOptions): EnclaveProcess {
  const plan = planLaunch(o);
  const child = spawn(plan.command, [...plan.args], {
    cwd: plan.cwd,
    env: o.env ?? process.env,
    stdio: o.stdio ?? 'inherit',
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res, rej) => {
    child.once('error', (e) =>
      rej(new TeeError('E_IO', `cannot start ${plan.command}: ${(e as Error).message}`, { cause: e })),
    );
    child.once('exit', (code, signal) => res({ code, signal }));
  });
  return { plan, child, exited };
}
