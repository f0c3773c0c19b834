// `tee-offload demo`: the main job on embedded defaults — split-mode training of a Fashion-MNIST subset
// through an attested trusted process and a Freivalds-checked accelerator, compared with enclave and
// native training, written up as a report (src/demo/run-demo.ts).
import { resolve } from 'node:path';
import { runExperiment, writeExperimentFile } from '../../bench/experiments/run-experiment.js';
import { stopHelpersOnExit } from '../../bench/experiments/servers.js';
import { splitRunMode, writeDemoResults } from '../../demo/demo-results.js';
import { runDemo } from '../../demo/run-demo.js';
import { formatSummary } from '../../demo/summary.js';
import {
  EXACT_FIELDS,
  type ExactFieldName,
  INTEGRITY_MODES,
  type Integrity,
} from '../../protocol/session-messages.js';
import { writeReport } from '../../report/write-report.js';
import { chooseReporter } from '../../train/progress.js';
import { type Command, UsageError } from '../command.js';
import { checkModelArgs } from '../model-setup.js';
import { floatFlag, intFlag, parseFlags } from '../parse.js';

export const demoCommand: Command = {
  name: 'demo',
  summary: 'split-mode training of Fashion-MNIST with verified offloading, compared with native (≈ 1 min)',
  help: `usage: tee-offload demo [--out DIR] [options]

Runs the whole system on this machine, offline, in a couple of minutes:
  1. writes a Fashion-MNIST subset (Debian's dataset-fashion-mnist; generated images when it is not
     installed, said so) and encrypts it with AES-256-GCM under a fresh key;
  2. starts an untrusted accelerator and a trusted process (direct launcher: no SGX here, so the
     attestation is SIMULATED, and accepted only because this is the demo) on loopback;
  3. uploads the encrypted data, trains ResNet-18 in split mode — every Conv2d/Linear product on the
     accelerator, quantized to integers, computed exactly and checked with Freivalds modulo
     2^50 − 27 — and evaluates on the test images;
  4. trains the same way in enclave mode and natively, from the same seed, and compares;
  5. writes the measurements (JSON) and a report with charts to --out, and prints a summary.

options:
  --out DIR            report directory (default report/); its results/ holds the JSON
  --train-images N     training images (default 2048)
  --test-images N      test images (default 500)
  --epochs E           (default 1)
  --batch-size B       (default 32)
  --lr LR              SGD learning rate, momentum 0.9, weight decay 5e-4 (default 0.01)
  --model M            any model that accepts 28×28 (default resnet18)
  --integrity I        exact (default) or float
  --field F            exact's field: wide (default: ~20 bits per operand, checked modulo
                       2^50 − 27) or p24 (~8 bits, modulo 2^24 − 3)
  --seed S             weight init and shuffling (default 1)
  --threads T          kernel threads of every process (default: all cores; in split mode the trusted
                       process gets a quarter of them, at least one, and the accelerator the rest)
  --accelerator-backend cpu|cuda   where the demo's accelerator computes (default cpu; cuda: on
                       the first CUDA GPU, docs/gpu.md)
  --generated          use generated images even when Fashion-MNIST is installed
  --work-dir DIR       keep the data, key, encrypted files and trained weights here (default: a
                       temporary directory, removed at the end)
  --no-report          skip the charts (JSON and summary only)`,
  async run(argv) {
    const { values: v } = parseFlags(argv, {
      out: { type: 'string' },
      'train-images': { type: 'string' },
      'test-images': { type: 'string' },
      epochs: { type: 'string' },
      'batch-size': { type: 'string' },
      lr: { type: 'string' },
      model: { type: 'string' },
      integrity: { type: 'string' },
      field: { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      'accelerator-backend': { type: 'string' },
      generated: { type: 'boolean' },
      'work-dir': { type: 'string' },
      'no-report': { type: 'boolean' },
    });
    const str = (k: string) => v[k] as string | undefined;
    const model = str('model') ?? 'resnet18';
    checkModelArgs(model, 10, 28);
    const integrity = (str('integrity') ?? 'exact') as Integrity;
    if (integrity === 'off' || !INTEGRITY_MODES.includes(integrity))
      throw new UsageError(`--integrity must be exact or float, got '${integrity}'`);
    const field = str('field') as ExactFieldName | undefined;
    if (field !== undefined && !EXACT_FIELDS.includes(field))
      throw new UsageError(`--field must be one of ${EXACT_FIELDS.join(', ')}, got '${field}'`);
    if (field !== undefined && integrity !== 'exact')
      throw new UsageError('--field is for --integrity exact');
    const threads = str('threads') === undefined ? undefined : intFlag(str('threads'), 'threads', 1);
    const backend = str('accelerator-backend') ?? 'cpu';
    if (backend !== 'cpu' && backend !== 'cuda')
      throw new UsageError(`--accelerator-backend must be cpu or cuda, got '${backend}'`);
    const out = resolve(str('out') ?? 'report');
    const startedAt = new Date().toISOString();
    const t0 = performance.now();
    const log = (line: string) => process.stdout.write(`${line}\n`);
    // Ctrl-C or SIGTERM stops both helpers (the accelerator, the trusted process) and exits 130 or 143;
    // any other exit kills what is left. Were this process SIGKILLed, they would stop by themselves.
    const release = stopHelpersOnExit((signal, n) =>
      process.stderr.write(`demo: ${signal}: stopped ${n} helper process(es)\n`),
    );
    try {
      const outcome = await runDemo({
        model,
        trainImages: intFlag(str('train-images'), 'train-images', 2048),
        testImages: intFlag(str('test-images'), 'test-images', 500),
        epochs: intFlag(str('epochs'), 'epochs', 1),
        batchSize: intFlag(str('batch-size'), 'batch-size', 32),
        lr: floatFlag(str('lr'), 'lr', 0.01),
        seed: intFlag(str('seed'), 'seed', 1, 0),
        integrity,
        ...(field === undefined ? {} : { field }),
        ...(threads === undefined ? {} : { threads }),
        ...(backend === 'cpu' ? {} : { acceleratorBackend: backend }),
        ...(v.generated === true ? { forceGenerated: true } : {}),
        ...(str('work-dir') === undefined ? {} : { workDir: resolve(str('work-dir')!) }),
        log,
        reporter: () => chooseReporter({}),
      });
      const command = ['tee-offload', 'demo', ...argv].join(' ');
      const resultsDir = resolve(out, 'results');
      // One more split step, timed layer by layer and by kind (BatchNorm, ReLU, pooling… and each phase of
      // the remote products): the breakdown experiment at the demo's size.
      log('timing one split step layer by layer (bench breakdown)…');
      let breakdownFile: string | null = null;
      try {
        const b = await runExperiment('breakdown', {
          models: [model],
          sizes: [28],
          batches: [outcome.settings.batchSize],
          modes: [splitRunMode({ integrity, field: integrity === 'exact' ? (field ?? 'wide') : null })],
          repeats: 1,
          warmup: 1,
          ...(threads === undefined ? {} : { threads }),
          ...(backend === 'cpu' ? {} : { acceleratorBackend: backend }),
          command,
        });
        if (b.records.every((r) => r.error === undefined)) breakdownFile = writeExperimentFile(resultsDir, b);
        else
          log(`breakdown failed: ${b.records.map((r) => r.error).join('; ')} (the summary's phases stand)`);
      } catch (e) {
        log(`breakdown failed: ${(e as Error).message} (the summary's phases stand)`);
      }
      const files = writeDemoResults(outcome, resultsDir, command, startedAt, breakdownFile === null);
      if (breakdownFile !== null) files.push(breakdownFile);
      let reportPath: string | null = null;
      if (v['no-report'] !== true) {
        const r = await writeReport(resultsDir, out);
        for (const w of r.warnings) log(`report: ${w}`);
        reportPath = resolve(out, 'index.html');
      }
      log('');
      log(formatSummary(outcome, reportPath));
      log(`results: ${files.length} JSON files in ${resultsDir}`);
      log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      if (outcome.keptWorkDir) log(`work directory kept: ${outcome.workDir}`);
      return 0;
    } finally {
      release();
    }
  },
};
