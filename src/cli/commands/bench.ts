// `tee-offload bench kernels|profile|table|crypto|protocol`: our kernels and training steps against
// PyTorch CPU side by side, a step's time breakdown, result tables, and the AES-GCM and wire benchmarks.
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { formatCombined, readReport } from '../../bench/combined-table.js';
import { runKernelsBench } from '../../bench/kernels-bench.js';
import { runProfile } from '../../bench/profile.js';
import { runCryptoSuite, runProtocolSuite } from '../../bench/side-suites.js';
import { GROUPS, type Group } from '../../bench/workloads.js';
import { type Command, UsageError } from '../command.js';
import { intFlag } from '../parse.js';

const HELP = [
  'usage: tee-offload bench kernels [--threads T[,T…]] [--repeats R] [--out DIR] [--quick]',
  '                                 [--only gemm,conv,train,memory] [--no-torch]',
  '       tee-offload bench profile --model M [--batch B] [--size S] [--steps N] [--threads T]',
  '       tee-offload bench table FILE.json…',
  '       tee-offload bench crypto|protocol [--repeats R] [--threads T] [--out DIR]',
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
  'crypto: AES-256-GCM buffers, files, channel and handshake (docs/encryption.md).',
  'protocol: loopback throughput of large frames and linear-op calls (docs/protocol.md).',
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
        'allow-reference': { type: 'boolean' },
        retakes: { type: 'string' },
        'quiet-wait': { type: 'string' },
        model: { type: 'string' },
        batch: { type: 'string' },
        size: { type: 'string' },
        steps: { type: 'string' },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark the kernels and training steps against PyTorch CPU (JSON results)',
  help: HELP,
  async run(argv) {
    const { values, positionals } = parse(argv);
    const suite = positionals[0];
    if (suite === 'table') {
      if (positionals.length < 2) throw new UsageError('bench table: give one or more JSON files');
      process.stdout.write(`${formatCombined(positionals.slice(1).map(readReport))}\n`);
      return 0;
    }
    const suites = ['kernels', 'profile', 'table', 'crypto', 'protocol'];
    if (positionals.length !== 1 || suite === undefined || !suites.includes(suite)) {
      throw new UsageError(`bench: expected one of ${suites.join(', ')}, got '${positionals.join(' ')}'`);
    }
    const log = (line: string) => process.stderr.write(`${line}\n`);
    const print = (text: string) => process.stdout.write(`${text}\n`);
    if (suite === 'crypto' || suite === 'protocol') {
      const o = {
        ...(values.repeats === undefined ? {} : { repeats: intFlag(values.repeats, 'repeats', 5) }),
        ...(values.threads === undefined ? {} : { threads: intFlag(values.threads, 'threads', 1) }),
        outDir: values.out ?? 'results',
        log,
        print,
      };
      await (suite === 'crypto' ? runCryptoSuite(o) : runProtocolSuite(o));
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
