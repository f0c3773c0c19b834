// `tee-offload manifest`: writes a Gramine manifest template, a Makefile and a hosts file for running
// the trusted process in an SGX enclave (docs/gramine.md), and prints the enclave size and thread
// estimates with their breakdowns. It only reads this machine (ldd, file sizes); it runs no Gramine.
import { availableParallelism } from 'node:os';
import { relative } from 'node:path';
import { ADDON_PATH, CLI_PATH, planDeployment, writeDeployment } from '../../gramine/deployment.js';
import { type EnclaveMode, humanBytes } from '../../gramine/enclave-size.js';
import { defaultAppDir } from '../../gramine/launcher.js';
import { SEALING_KEY_NAME } from '../../gramine/manifest-template.js';
import { kernels } from '../../kernels/index.js';
import { describeModel } from '../../models/index.js';
import { type Command, UsageError } from '../command.js';
import { checkModelArgs } from '../model-setup.js';
import { intFlag, parseFlags } from '../parse.js';

const HELP = `usage: tee-offload manifest --model M --batch-size B --input-size S [options] [-- ENCLAVE-ARGS…]

Writes into DIR a Gramine (1.8/1.9) manifest template for the trusted process, a Makefile that renders,
signs and runs it (make; make run-sgx; make run-direct), and a hosts file. node runs
\`${CLI_PATH} enclave --launcher gramine-sgx …\` with this command's settings (and ENCLAVE-ARGS) as a
fixed, measured argv. Trusted files: node, the built app, its run-time packages, the native addon and
the libraries ldd finds for node and the addon. Allowed (untrusted) files: the inbox only. Sealed
state: an encrypted mount keyed to MRENCLAVE. sgx.enclave_size is estimated from the model, batch and
input size (printed with its breakdown) and rounded up to a power of two; sgx.max_threads counts the
thread pools. Nothing is signed or run here; see docs/gramine.md.

options:
  --model M          alexnet, vgg11..vgg19[_bn], resnet18, resnet34
  --batch-size B     training batch size
  --input-size S     square input side
  --num-classes K    classifier size (default 10)
  --threads T        kernel threads in the enclave (default: this machine's, as the addon sees them)
  --mode MODE        split (linear layers on the accelerator) or enclave (all inside) (default split)
  --out DIR          where to write (default ./gramine)
  --node PATH        the node binary the enclave runs (default: this one)
  --app-dir PATH     the built app: dist/ and build/ (default: this installation)
  --inbox DIR        untrusted directory of encrypted uploads (default DIR/inbox)
  --sealed DIR       sealed-state directory, encrypted by Gramine (default DIR/sealed)
  --data-mib N       decrypted dataset held in memory, MiB (default 256; CIFAR-10 needs 184)
  --isvprodid N      SGX ISV product id, 0..65535 (default 1; clients may pin it)
  --isvsvn N         SGX ISV security version, 0..65535 (default 1; raise it with each security fix)
  --debug            a debug enclave (sgx.debug = true): never for production data`;

function threadsDefault(): number {
  try {
    return kernels.info().threads;
  } catch {
    return availableParallelism(); // the addon is not built: the CPUs Node sees
  }
}

export const manifestCommand: Command = {
  name: 'manifest',
  summary: 'write a Gramine (SGX) manifest template and Makefile for the enclave',
  help: HELP,
  async run(argv) {
    // Everything after `--` goes to the enclave's argv unchanged.
    const dd = argv.indexOf('--');
    const extraArgs = dd < 0 ? [] : argv.slice(dd + 1);
    const { values: v } = parseFlags(dd < 0 ? argv : argv.slice(0, dd), {
      model: { type: 'string' },
      'batch-size': { type: 'string' },
      'input-size': { type: 'string' },
      'num-classes': { type: 'string' },
      threads: { type: 'string' },
      mode: { type: 'string' },
      out: { type: 'string' },
      node: { type: 'string' },
      'app-dir': { type: 'string' },
      inbox: { type: 'string' },
      sealed: { type: 'string' },
      'data-mib': { type: 'string' },
      isvprodid: { type: 'string' },
      isvsvn: { type: 'string' },
      debug: { type: 'boolean' },
    });
    const str = (k: string) => v[k] as string | undefined;
    const model = str('model');
    if (model === undefined) throw new UsageError('--model is required (see tee-offload manifest --help)');
    for (const k of ['batch-size', 'input-size']) {
      if (str(k) === undefined) throw new UsageError(`--${k} is required (see tee-offload manifest --help)`);
    }
    const batchSize = intFlag(str('batch-size'), 'batch-size', 1);
    const inputSize = intFlag(str('input-size'), 'input-size', 1);
    const numClasses = intFlag(str('num-classes'), 'num-classes', 10);
    checkModelArgs(model, numClasses, Math.max(inputSize, 224)); // the name (UsageError if unknown)
    const min = describeModel(model).minInputSize;
    if (inputSize < min)
      throw new UsageError(`${model} needs an input of at least ${min}×${min}, got ${inputSize}`);
    const threads = str('threads') === undefined ? threadsDefault() : intFlag(str('threads'), 'threads', 1);
    if (threads > 1024) throw new UsageError(`--threads must be at most 1024, got ${threads}`);
    const mode = (str('mode') ?? 'split') as EnclaveMode;
    if (mode !== 'split' && mode !== 'enclave')
      throw new UsageError(`--mode must be split or enclave, got '${mode}'`);
    const isv = (k: string) => {
      const n = intFlag(str(k), k, 1, 0);
      if (n > 0xffff) throw new UsageError(`--${k} must be at most 65535, got ${n}`);
      return n;
    };
    const dataMib = str('data-mib');
    const plan = planDeployment({
      model,
      batchSize,
      inputSize,
      numClasses,
      threads,
      mode,
      outDir: str('out') ?? 'gramine',
      node: str('node') ?? process.execPath,
      appDir: str('app-dir') ?? defaultAppDir(),
      ...(str('inbox') === undefined ? {} : { inbox: str('inbox')! }),
      ...(str('sealed') === undefined ? {} : { sealed: str('sealed')! }),
      ...(dataMib === undefined ? {} : { dataBytes: intFlag(dataMib, 'data-mib', 0, 0) * 2 ** 20 }),
      debug: v.debug === true,
      isvprodid: isv('isvprodid'),
      isvsvn: isv('isvsvn'),
      extraArgs,
    });
    writeDeployment(plan);

    const rel = (p: string) => relative(process.cwd(), p) || '.';
    const e = plan.estimate;
    const out: string[] = [
      `wrote ${rel(plan.files.template)}, ${rel(plan.files.makefile)}, ${rel(plan.files.hosts)}`,
      '',
      `sgx.enclave_size = "${e.enclaveSize}" (estimate ${humanBytes(e.estimateBytes)}, rounded up to a power of two):`,
      ...e.items.map((i) => `  ${i.name.padEnd(30)} ${humanBytes(i.bytes).padStart(11)}  ${i.formula}`),
      '',
      `sgx.max_threads = ${plan.threads.total}:`,
      ...plan.threads.items.map((i) => `  ${i.name.padEnd(30)} ${String(i.threads).padStart(11)}  ${i.why}`),
      '',
      'trusted files:',
      `  node      ${plan.spec.node}`,
      `  app       ${plan.spec.appDir}: package.json, dist/src/, ${ADDON_PATH}`,
      `  packages  ${plan.spec.packages.length === 0 ? 'none needed at run time' : plan.spec.packages.map(rel).join(', ')}`,
      `  libraries ${plan.spec.libraries.length} (${plan.scan.source === 'ldd' ? 'found by ldd' : 'default list'}) + Gramine's glibc`,
      `allowed files: ${plan.spec.inbox}/ (untrusted uploads)`,
      `sealed:        ${plan.spec.sealed} (encrypted mount, key ${SEALING_KEY_NAME})`,
      `sgx.debug = ${plan.spec.debug}${plan.spec.debug ? '  (DEBUG ENCLAVE: not for production data)' : ''}`,
    ];
    if (plan.warnings.length > 0) out.push('', 'warnings:', ...plan.warnings.map((w) => `  ${w}`));
    const dir = rel(plan.outDir);
    out.push(
      '',
      'next steps (on the SGX machine, Gramine 1.8+ from packages.gramineproject.io):',
      `  cd ${dir} && make            render and sign: tee-offload.manifest.sgx, tee-offload.sig`,
      '  gramine-sgx-sigstruct-view tee-offload.sig   MRENCLAVE/MRSIGNER for the client to pin',
      '  make run-sgx                  start the enclave (make run-direct: same manifest, no SGX)',
    );
    console.log(out.join('\n'));
    return 0;
  },
};
