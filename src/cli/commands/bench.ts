// `tee-offload bench kernels|profile|table|crypto-suite|protocol|split-share`: our kernels and training
// steps against PyTorch CPU side by side, a step's time breakdown, result tables, the AES-GCM and wire
// benchmarks, and the trusted side's share of a split step;
// `tee-offload bench EXPERIMENT|all`: the prototype's experiments (src/bench/experiments) → JSON for
// `tee-offload report`.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { formatCombined, readReport } from '../../bench/combined-table.js';
import type { ExperimentOptions, Workload } from '../../bench/experiments/options.js';
import {
  isExperimentName,
  runExperiment,
  writeExperimentFile,
} from '../../bench/experiments/run-experiment.js';
import type { ExperimentName, RunMode } from '../../bench/experiments/schema.js';
import { stopHelpersOnExit } from '../../bench/experiments/servers.js';
import { formatExperiment } from '../../bench/experiments/summary.js';
import { EXPERIMENT_NAMES, RUN_MODES } from '../../bench/experiments/validate.js';
import { runKernelsBench } from '../../bench/kernels-bench.js';
import { runProfile } from '../../bench/profile.js';
import { runCryptoSuite, runProtocolSuite } from '../../bench/side-suites.js';
import {
  SPLIT_SHARE_BOOLEAN_FLAGS,
  SPLIT_SHARE_HELP,
  SPLIT_SHARE_VALUE_FLAGS,
  SplitShareUsageError,
  splitShareOptions,
} from '../../bench/split-share-options.js';
import { runSplitShare } from '../../bench/split-share-run.js';
import { GROUPS, type Group } from '../../bench/workloads.js';
import { type Command, UsageError } from '../command.js';
import { intFlag } from '../parse.js';

const EXPERIMENTS_HELP = [
  'usage: tee-offload bench EXPERIMENT|all [options] [--out DIR]',
  '  EXPERIMENT: modes, breakdown, matrix, crypto, equivalence, peer (all: each in turn)',
  '',
  "The original prototype's experiments. Each run writes DIR/<experiment>-<timestamp>.json",
  '(schema tee-offload/experiment@1, read by `tee-offload report DIR`) and prints a summary table.',
  'A failed measurement (an unknown model, a refused product) is recorded with its error and the',
  'run goes on. The accelerator (127.0.0.1, a free port) and the trusted process (direct launcher:',
  'no SGX, SIMULATED attestation) are started once per experiment and always stopped, also on Ctrl-C.',
  'Progress goes to stderr.',
  '',
  '  modes        one SGD step at batch 1 and an epoch of 64 images at batch 4 per model and size, in',
  "               native, enclave, split-exact, split-float and accelerator modes (the trainer's own",
  '               elapsed time: the training loop, not process start, handshake or model transfer)',
  '  breakdown    one split-mode step per model: ms by kind (conv, linear, batchnorm, relu, pooling,',
  '               quantize, send, accelerator, receive, verify, unblind, loss, optimizer, other) and',
  '               by layer, bytes sent/received, Freivalds checks (default modes split-exact,split-float)',
  '  matrix       one linear layer, rows×1024 times 1024×1024, rows 2304…23040: trusted-only against',
  '               split-exact and split-float, with load/send/compute/receive/verify/unblind phases',
  "  crypto       AES-256-GCM file encryption of the prototype's 184,442,413 bytes in the client, and",
  '               the decryption of that upload inside the trusted process (GB/s)',
  '  equivalence  logits, loss and every gradient in every mode and thread count against native at',
  '               the first thread count: max |Δ|, tolerance, pass (default resnet18 32² batch 4)',
  '  peer         the step workloads in PyTorch CPU beside ours (skipped without torch)',
  '',
  'options:',
  '  --models M[,M…]      (default alexnet,resnet18,vgg19_bn; equivalence: resnet18)',
  '  --sizes S[,S…]       input sides, also --size S (default 224; --quick 64; equivalence 32)',
  "  --batches B1[,B2]    the step's batch and the epoch's batch (default 1,4; one value: both);",
  '                       breakdown and equivalence use B1 (equivalence default 4)',
  '  --modes LIST         subset of native,enclave,split-exact,split-exact-p24,split-float,accelerator',
  '                       (split-exact: the wide field, the default; split-exact-p24: the single prime 2^24 − 3)',
  '  --workloads LIST     modes: step,epoch64 (default both)',
  '  --repeats R          timed samples per measurement, median reported (default 3; --quick 2)',
  '  --warmup W           untimed runs before them (default 1; --quick 0)',
  '  --threads T          kernel threads of every process (default: all cores, and split modes give',
  '                       the trusted side a quarter of them, at least one, and the accelerator the',
  '                       rest); equivalence: T[,T…] the thread counts compared (default 1,2)',
  '  --rows R[,R…]        matrix rows (default 2304,4608,9216,18432,23040; --quick 2304,4608)',
  '  --bytes N            crypto payload (default 184442413)',
  '  --accelerator-backend cpu|cuda   where the started accelerator computes (default cpu; cuda:',
  "                       its products on a CUDA GPU, the prototype's GPU rows; docs/gpu.md)",
  '  --no-torch           peer: do not start PyTorch',
  '  --quick              64² inputs, fewer repeats, no warm-up, two matrix sizes',
  '  --out DIR            where the JSON goes (default results/)',
].join('\n');

const HELP = [
  'usage: tee-offload bench kernels [--threads T[,T…]] [--repeats R] [--out DIR] [--quick]',
  '                                 [--only gemm,conv,train,memory] [--no-torch]',
  '       tee-offload bench profile --model M [--batch B] [--size S] [--steps N] [--threads T]',
  '       tee-offload bench table FILE.json…',
  '       tee-offload bench crypto-suite|protocol [--repeats R] [--threads T] [--out DIR]',
  '       tee-offload bench split-share [--models M[,M…]] [--batch B] [--integrity exact|float|off] [options]',
  '       tee-offload bench EXPERIMENT|all [options]   (below)',
  '',
  'kernels:',
  'Times our kernels and full training steps against PyTorch CPU with the same thread count, in one',
  'run, samples interleaved. Every workload is first checked against the naive reference kernels.',
  '  gemm    sgemm 1024³, sgemm 2304×1024×1024 (M×N×K), dgemm 1024³ (GFLOP/s)',
  '  conv    forward, backward-input, backward-weight for N4 64→64 3×3 32², N4 256→256 3×3 8²,',
  '          N1 3→64 11×11 stride 4 224² (GFLOP/s)',
  '  train   one SGD step (momentum 0.9, weight decay 5e-4) of resnet18, vgg19_bn, alexnet at 224²,',
  '          10 classes, batch 1 and 4 (ms per step, images/s, peak RSS)',
  '  memory  100 resnet18 steps (224², batch 1) with RSS every 10 steps; flags > 10% growth 20→100',
  'Prints workload | ours | torch | ratio, where ratio = our speed / PyTorch speed (> 1: we are',
  'faster). The PyTorch side needs python3 with torch and torchvision; without it the run goes on',
  'alone. Progress goes to stderr; one JSON file per thread count goes to --out.',
  '',
  'options:',
  '  --threads T[,T…]  kernel and PyTorch thread counts, one run each (default: all cores)',
  '  --repeats R       timed samples per workload and side, after warm-up; medians reported (default 5)',
  '  --out DIR         where the JSON goes (default results/)',
  '  --quick           3 repeats, shorter samples, memory check at 64² batch 4 for 40 steps',
  '  --only LIST       comma-separated subset of gemm,conv,train,memory (default: all)',
  '  --no-torch        do not run the PyTorch side',
  '  --quiet-wait S    before each workload, wait up to S seconds for the other processes on the',
  '                    machine to go quiet (default 60, --quick 10; 0: do not wait)',
  '  --retakes N       retake a sample up to N times when other processes took > 10% of a core',
  '                    during it (default 3; 0: keep every sample)',
  '  --allow-reference run even when the native addon is missing (times the naive kernels: slow)',
  '',
  'profile: where one training step of M (alexnet, vgg*, resnet18/34) spends its time, ours against',
  'PyTorch: per phase, per kernel category, and every convolution of the model timed alone on both',
  'sides (sorted by the ms per step it costs us). Defaults: batch 4, size 224, 3 steps, all cores.',
  '',
  'table: one Markdown table (ours | torch | ratio per file) from `bench kernels` JSON files.',
  '',
  'crypto-suite: AES-256-GCM buffers, files, channel and handshake (docs/encryption.md).',
  'protocol: loopback throughput of large frames and linear-op calls (docs/protocol.md).',
  '',
  `split-share: ${SPLIT_SHARE_HELP.split('\n').slice(2).join('\n')}`,
  '',
  EXPERIMENTS_HELP,
].join('\n');

function parseList(value: string | undefined, what: string): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new UsageError(`--${what} has an empty item: '${value}'`);
  return items;
}

function parse(argv: string[]) {
  try {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        threads: { type: 'string' },
        repeats: { type: 'string' },
        out: { type: 'string' },
        quick: { type: 'boolean' },
        only: { type: 'string' },
        'no-torch': { type: 'boolean' },
        'accelerator-backend': { type: 'string' },
        'allow-reference': { type: 'boolean' },
        retakes: { type: 'string' },
        'quiet-wait': { type: 'string' },
        model: { type: 'string' },
        batch: { type: 'string' },
        size: { type: 'string' },
        steps: { type: 'string' },
        models: { type: 'string' },
        sizes: { type: 'string' },
        batches: { type: 'string' },
        modes: { type: 'string' },
        workloads: { type: 'string' },
        warmup: { type: 'string' },
        rows: { type: 'string' },
        bytes: { type: 'string' },
        integrity: { type: 'string' },
        field: { type: 'string' },
        'offload-min-intensity': { type: 'string' },
        'max-inner': { type: 'string' },
        'no-cache-gradients': { type: 'boolean' },
        'accelerator-threads': { type: 'string' },
        'no-ifma': { type: 'boolean' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const benchCommand: Command = {
  name: 'bench',
  summary:
    'the experiments (modes, breakdown, matrix, crypto, equivalence, peer) and kernel benchmarks vs PyTorch CPU (JSON)',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv);
    const suite = positionals[0];
    if (suite === 'table') {
      if (positionals.length < 2) throw new UsageError('bench table: give one or more JSON files');
      process.stdout.write(`${formatCombined(positionals.slice(1).map(readReport))}\n`);
      return 0;
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const print = (text: string) => process.stdout.write(`${text}\n`);
    if (suite === 'split-share') return runSplitShareFromCli(values, positionals, log, print);
    for (const k of SPLIT_SHARE_ONLY) {
      if (values[k] !== undefined) throw new UsageError(`--${k} is an option of bench split-share`);
    }
    if (suite !== undefined && (suite === 'all' || isExperimentName(suite))) {
      if (positionals.length !== 1)
        throw new UsageError(`bench ${suite}: unexpected '${positionals.slice(1).join(' ')}'`);
      const names = suite === 'all' ? [...EXPERIMENT_NAMES] : [suite];
      return runExperimentsFromCli(names, values, argv, log, print);
    }
    if (values['accelerator-backend'] !== undefined)
      throw new UsageError(
        '--accelerator-backend is an option of the experiments (modes, breakdown, matrix, …)',
      );
    const suites = [
      'kernels',
      'profile',
      'table',
      'crypto-suite',
      'protocol',
      'split-share',
      ...EXPERIMENT_NAMES,
      'all',
    ];
    if (positionals.length !== 1 || suite === undefined || !suites.includes(suite)) {
      throw new UsageError(`bench: expected one of ${suites.join(', ')}, got '${positionals.join(' ')}'`);
    }
    if (suite === 'crypto-suite' || suite === 'protocol') {
      const o = {
        ...(values.repeats === undefined ? {} : { repeats: intFlag(values.repeats, 'repeats', 5) }),
        ...(values.threads === undefined ? {} : { threads: intFlag(values.threads, 'threads', 1) }),
        outDir: values.out ?? 'results',
        log,
        print,
      };
      await (suite === 'crypto-suite' ? runCryptoSuite(o) : runProtocolSuite(o));
      return 0;
    }
    if (suite === 'profile') {
      if (values.model === undefined) throw new UsageError('bench profile: --model is required');
      await runProfile({
        model: values.model,
        batch: intFlag(values.batch, 'batch', 4),
        size: intFlag(values.size, 'size', 224),
        numClasses: 10,
        steps: intFlag(values.steps, 'steps', 3),
        threads: intFlag(values.threads, 'threads', availableParallelism()),
        torch: !values['no-torch'],
        outDir: values.out ?? 'results',
        env: process.env,
        log,
        print,
      });
      return 0;
    }
    const threads = (parseList(values.threads, 'threads') ?? [String(availableParallelism())]).map((t) =>
      intFlag(t, 'threads', 1),
    );
    const only = (parseList(values.only, 'only') ?? [...GROUPS]) as Group[];
    for (const g of only) {
      if (!GROUPS.includes(g)) throw new UsageError(`--only: unknown group '${g}' (use ${GROUPS.join(',')})`);
    }
    const quick = Boolean(values.quick);
    await runKernelsBench({
      threads,
      repeats: intFlag(values.repeats, 'repeats', quick ? 3 : 5),
      outDir: values.out ?? 'results',
      quick,
      only,
      minSampleMs: quick ? 60 : 250,
      settleMs: quick ? 30 : 100,
      retakes: intFlag(values.retakes, 'retakes', 3, 0),
      quietWaitMs: intFlag(values['quiet-wait'], 'quiet-wait', quick ? 10 : 60, 0) * 1000,
      torch: !values['no-torch'],
      allowReference: Boolean(values['allow-reference']),
      env: process.env,
      log,
      print,
    });
    return 0;
  },
};

type Values = ReturnType<typeof parse>['values'];

// Flags of split-share alone: an error with any other suite.
const SPLIT_SHARE_ONLY = [
  'integrity',
  'field',
  'offload-min-intensity',
  'max-inner',
  'no-cache-gradients',
  'accelerator-threads',
  'no-ifma',
] as const;

// The flags split-share reads; any other given flag is a usage error.
const SPLIT_SHARE_FLAGS = new Set<string>([
  'models',
  ...SPLIT_SHARE_VALUE_FLAGS,
  ...SPLIT_SHARE_BOOLEAN_FLAGS,
]);

async function runSplitShareFromCli(
  values: Values,
  positionals: string[],
  log: (line: string) => void,
  print: (text: string) => void,
): Promise<number> {
  if (positionals.length !== 1)
    throw new UsageError(`bench split-share: unexpected '${positionals.slice(1).join(' ')}'`);
  for (const [k, v] of Object.entries(values)) {
    if (v !== undefined && !SPLIT_SHARE_FLAGS.has(k))
      throw new UsageError(`--${k} is not an option of bench split-share`);
  }
  let o: ReturnType<typeof splitShareOptions>;
  try {
    o = splitShareOptions(values);
  } catch (e) {
    if (e instanceof SplitShareUsageError) throw new UsageError(`bench split-share: ${e.message}`);
    throw e;
  }
  await runSplitShare({ ...o, log, print });
  return 0;
}

function intList(value: string | undefined, what: string, min = 1): number[] | undefined {
  return parseList(value, what)?.map((v) => intFlag(v, what, 0, min));
}

/** The experiment options of the command line (each experiment takes what applies to it). */
function experimentOptions(names: readonly ExperimentName[], v: Values): Omit<ExperimentOptions, 'log'> {
  const refuse = (flags: string[], why: string) => {
    for (const f of flags) {
      if ((v as Record<string, unknown>)[f] !== undefined) throw new UsageError(`--${f} ${why}`);
    }
  };
  refuse(
    ['only', 'allow-reference', 'retakes', 'quiet-wait', 'model', 'steps'],
    'is not an option of the experiments',
  );
  if (v.size !== undefined && v.sizes !== undefined) throw new UsageError('give --size or --sizes, not both');
  const modes = parseList(v.modes, 'modes');
  for (const m of modes ?? []) {
    if (!RUN_MODES.includes(m as RunMode))
      throw new UsageError(`--modes: unknown mode '${m}' (use ${RUN_MODES.join(',')})`);
  }
  const workloads = parseList(v.workloads, 'workloads');
  for (const w of workloads ?? []) {
    if (w !== 'step' && w !== 'epoch64')
      throw new UsageError(`--workloads: unknown workload '${w}' (use step,epoch64)`);
  }
  const threads = intList(v.threads, 'threads');
  if (threads !== undefined && threads.length > 1 && names.some((n) => n !== 'equivalence'))
    throw new UsageError('--threads takes one count (a list only for the equivalence experiment)');
  const equivalenceOnly = names.length === 1 && names[0] === 'equivalence';
  const sizes = intList(v.sizes ?? v.size, v.size !== undefined ? 'size' : 'sizes');
  const batches = intList(v.batches ?? v.batch, v.batch !== undefined ? 'batch' : 'batches');
  const models = parseList(v.models, 'models');
  const rows = intList(v.rows, 'rows');
  const backend = v['accelerator-backend'];
  if (backend !== undefined && backend !== 'cpu' && backend !== 'cuda')
    throw new UsageError(`--accelerator-backend must be cpu or cuda, got '${backend}'`);
  return {
    ...(models ? { models } : {}),
    ...(sizes ? { sizes } : {}),
    ...(batches ? { batches } : {}),
    ...(modes ? { modes: modes as RunMode[] } : {}),
    ...(workloads ? { workloads: workloads as Workload[] } : {}),
    ...(v.repeats === undefined ? {} : { repeats: intFlag(v.repeats, 'repeats', 3) }),
    ...(v.warmup === undefined ? {} : { warmup: intFlag(v.warmup, 'warmup', 1, 0) }),
    ...(threads === undefined ? {} : equivalenceOnly ? { threadCounts: threads } : { threads: threads[0]! }),
    ...(rows ? { rows } : {}),
    ...(v.bytes === undefined ? {} : { bytes: intFlag(v.bytes, 'bytes', 1) }),
    ...(v.quick ? { quick: true } : {}),
    ...(v['no-torch'] ? { torch: false } : {}),
    ...(backend === undefined ? {} : { acceleratorBackend: backend }),
    env: process.env,
  };
}

async function runExperimentsFromCli(
  names: readonly ExperimentName[],
  values: Values,
  argv: readonly string[],
  log: (line: string) => void,
  print: (text: string) => void,
): Promise<number> {
  const options = experimentOptions(names, values);
  const outDir = values.out ?? 'results';
  // Helpers are stopped on every way out: normal return (close), Ctrl-C/SIGTERM, or an exit.
  const release = stopHelpersOnExit((signal, n) => log(`bench: ${signal}: stopped ${n} helper process(es)`));
  try {
    for (const name of names) {
      log(`bench ${name}: started`);
      const file = await runExperiment(name, {
        ...options,
        command: `tee-offload bench ${[names.length > 1 ? 'all' : name, ...argv.filter((a) => a !== name && a !== 'all')].join(' ')}`,
        log,
      });
      const path = writeExperimentFile(outDir, file);
      const failed = file.records.filter((r) => r.error !== undefined).length;
      print(formatExperiment(file));
      print(
        `wrote ${path}${failed > 0 ? ` (${failed} of ${file.records.length} records failed: see their 'error')` : ''}\n`,
      );
    }
    return 0;
  } finally {
    release();
  }
}
