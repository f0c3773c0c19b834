// `tee-offload manifest` without the command line: plans a Gramine deployment of the trusted process
// (libraries found with ldd, run-time packages, enclave size and thread estimates, the manifest
// template and the Makefile) and writes it into a directory. Nothing here runs Gramine.
import { existsSync, mkdirSync, realpathSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic-write.js';
import { enclaveArgs } from './enclave-args.js';
import {
  type EnclaveMode,
  type EnclaveSizeEstimate,
  estimateEnclaveSize,
  gramineSize,
  humanBytes,
  MALLOC_ARENA_MAX,
  THREAD_STACK_BYTES,
  V8_OLD_SPACE_MIB,
} from './enclave-size.js';
import { renderMakefile } from './makefile.js';
import { type ManifestSpec, renderManifestTemplate, TEMPLATE_FILE } from './manifest-template.js';
import { runtimePackages } from './runtime-modules.js';
import { isGlibcLibrary, type LibraryScan, scanLibraries } from './shared-libraries.js';
import { LIBUV_POOL_SIZE, type ThreadBudget, threadBudget, V8_POOL_SIZE } from './thread-budget.js';

/** The built CLI and the addon, relative to the app directory. */
export const CLI_PATH = 'dist/src/cli/main.js';
export const ADDON_PATH = 'build/Release/tee_offload.node';
export const HOSTS_FILE = 'hosts';

export interface DeploymentOptions {
  readonly model: string;
  readonly batchSize: number;
  readonly inputSize: number;
  readonly numClasses: number;
  /** Kernel threads of the trusted process. */
  readonly threads: number;
  readonly mode: EnclaveMode;
  /** Where the files go (created). */
  readonly outDir: string;
  /** The node binary the enclave runs. */
  readonly node: string;
  /** The app (package root with dist/ and build/). */
  readonly appDir: string;
  /** Untrusted upload directory (default OUT/inbox). */
  readonly inbox?: string;
  /** Sealed-state directory (default OUT/sealed). */
  readonly sealed?: string;
  readonly debug?: boolean;
  /** Decrypted dataset held in memory (default DEFAULT_DATA_BYTES). */
  readonly dataBytes?: number;
  readonly isvprodid?: number;
  readonly isvsvn?: number;
  /** Appended to the enclave's argv. */
  readonly extraArgs?: readonly string[];
  /** ldd to run (default 'ldd'); null uses the default library list. */
  readonly ldd?: string | null;
  /** Default '/lib/x86_64-linux-gnu'. */
  readonly archLibdir?: string;
}

export interface DeploymentPlan {
  readonly outDir: string;
  readonly files: { readonly template: string; readonly makefile: string; readonly hosts: string };
  readonly template: string;
  readonly makefile: string;
  readonly hosts: string;
  readonly spec: ManifestSpec;
  readonly estimate: EnclaveSizeEstimate;
  readonly threads: ThreadBudget;
  readonly scan: LibraryScan;
  /** Things to fix before `make` will work (not built yet, missing libraries, …). */
  readonly warnings: readonly string[];
}

function u16(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff)
    throw new RangeError(`${name} must be an integer in [0, 65535], got ${n}`);
  return n;
}

function absolute(p: string): string {
  return isAbsolute(p) ? resolve(p) : resolve(process.cwd(), p);
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function sizeOf(p: string): number | undefined {
  try {
    return statSync(p).size;
  } catch {
    return undefined;
  }
}

/** Plans the deployment: reads the disk (ldd, package.json files, sizes) but writes nothing. */
export function planDeployment(o: DeploymentOptions): DeploymentPlan {
  const warnings: string[] = [];
  const outDir = absolute(o.outDir);
  const appDir = realOrSelf(absolute(o.appDir));
  const node = realOrSelf(absolute(o.node));
  const archLibdir = o.archLibdir ?? '/lib/x86_64-linux-gnu';
  const inbox = absolute(o.inbox ?? join(outDir, 'inbox'));
  const sealed = absolute(o.sealed ?? join(outDir, 'sealed'));
  const cli = join(appDir, CLI_PATH);
  const addon = join(appDir, ADDON_PATH);
  const hostsFile = join(outDir, HOSTS_FILE);
  if (process.arch !== 'x64')
    warnings.push(`Gramine's SGX PAL runs on x86-64 only; this machine is ${process.arch}`);
  if (!existsSync(node)) warnings.push(`node not found at ${node} (use --node PATH)`);
  if (!existsSync(cli)) warnings.push(`${cli} is missing: build the app (npm run build) before make`);
  if (!existsSync(addon)) warnings.push(`${addon} is missing: build the addon (npm run build) before make`);
  // The inbox is host-writable: sealed state inside it (or the reverse) would be reachable both ways.
  const within = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
  if (within(inbox, sealed) || within(sealed, inbox)) {
    throw new RangeError(
      `the inbox (${inbox}) and the sealed directory (${sealed}) must not contain each other`,
    );
  }

  const budget = threadBudget(o.threads);
  const scan = scanLibraries(node, addon, {
    archLibdir,
    ...(o.ldd === undefined ? {} : { ldd: o.ldd }),
  });
  for (const n of scan.notes) warnings.push(`libraries: ${n}`);
  for (const m of scan.missing)
    warnings.push(`library ${m} was not found by ldd: the enclave would not start`);
  const libraries = scan.libraries.filter((l) => !isGlibcLibrary(l));

  const sizes = [node, addon, ...scan.libraries].map(sizeOf);
  const binariesBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a, b) => a! + b!, 0)! : undefined;
  const estimate = estimateEnclaveSize({
    model: o.model,
    numClasses: o.numClasses,
    inputSize: o.inputSize,
    batchSize: o.batchSize,
    threads: o.threads,
    maxThreads: budget.total,
    mode: o.mode,
    ...(o.dataBytes === undefined ? {} : { dataBytes: o.dataBytes }),
    ...(binariesBytes === undefined ? {} : { binariesBytes }),
  });

  const packages = existsSync(join(appDir, 'package.json'))
    ? runtimePackages(appDir)
    : { dirs: [], missing: [] as string[] };
  if (!existsSync(join(appDir, 'package.json')))
    warnings.push(`${appDir}/package.json is missing (use --app-dir)`);
  for (const m of packages.missing) warnings.push(`run-time package ${m} is not installed (npm ci)`);

  const header = [
    `Gramine manifest template of the tee-offload trusted process, written by \`tee-offload manifest\`:`,
    `${o.model}, batch ${o.batchSize}, input ${o.inputSize}x${o.inputSize}, ${o.numClasses} classes, mode ${o.mode}, ${o.threads} kernel threads.`,
    'Regenerate it rather than edit it: the enclave size and thread count are computed from these.',
    'Render and sign with the Makefile next to it (make; make run-sgx). Gramine 1.8/1.9 syntax.',
  ];
  const t = String(o.threads);
  const spec: ManifestSpec = {
    node,
    nodeFlags: [`--max-old-space-size=${V8_OLD_SPACE_MIB}`, `--v8-pool-size=${V8_POOL_SIZE}`],
    appDir,
    cli,
    enclaveArgs: enclaveArgs(
      {
        launcher: 'gramine-sgx',
        mode: o.mode,
        model: o.model,
        batchSize: o.batchSize,
        inputSize: o.inputSize,
        numClasses: o.numClasses,
        threads: o.threads,
        inbox,
        sealed,
      },
      o.extraArgs ?? [],
    ),
    addon,
    packages: packages.dirs,
    libraries,
    archLibdir,
    inbox,
    sealed,
    hostsFile,
    env: {
      OMP_NUM_THREADS: t,
      OMP_THREAD_LIMIT: t,
      OPENBLAS_NUM_THREADS: t,
      UV_THREADPOOL_SIZE: String(LIBUV_POOL_SIZE),
      MALLOC_ARENA_MAX: String(MALLOC_ARENA_MAX),
    },
    stackSize: gramineSize(THREAD_STACK_BYTES),
    enclaveSize: estimate.enclaveSize,
    maxThreads: budget.total,
    debug: o.debug === true,
    isvprodid: u16('isvprodid', o.isvprodid ?? 1),
    isvsvn: u16('isvsvn', o.isvsvn ?? 1),
    notes: [
      `sgx.enclave_size: ${humanBytes(estimate.estimateBytes)} estimated, rounded up to a power of two:`,
      ...estimate.items.map((i) => `  ${i.name}: ${humanBytes(i.bytes)} = ${i.formula}`),
      '',
      `sgx.max_threads: every thread the process may run at once (no EDMM: fixed slots):`,
      ...budget.items.map((i) => `  ${i.name}: ${i.threads} (${i.why})`),
    ],
    header,
  };
  const makefile = renderMakefile({
    archLibdir,
    header: [`Builds and runs the tee-offload enclave with Gramine; written by \`tee-offload manifest\`.`],
  });
  return {
    outDir,
    files: {
      template: join(outDir, TEMPLATE_FILE),
      makefile: join(outDir, 'Makefile'),
      hosts: hostsFile,
    },
    template: renderManifestTemplate(spec),
    makefile,
    hosts: '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n',
    spec,
    estimate,
    threads: budget,
    scan,
    warnings,
  };
}

/** Writes the plan's files (atomically) and creates the inbox and sealed directories (mode 0700). */
export function writeDeployment(plan: DeploymentPlan): void {
  for (const d of [plan.outDir, plan.spec.inbox, plan.spec.sealed])
    mkdirSync(d, { recursive: true, mode: 0o700 });
  const enc = new TextEncoder();
  writeFileAtomic(plan.files.template, [enc.encode(plan.template)]);
  writeFileAtomic(plan.files.makefile, [enc.encode(plan.makefile)]);
  writeFileAtomic(plan.files.hosts, [enc.encode(plan.hosts)]);
}
