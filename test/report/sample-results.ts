// Result files of all six experiments (and one bench-kernels file) built from a seeded RNG, shaped
// like what `tee-offload bench` writes, with some failed records; for the report tests and for
// looking at the charts (`node dist/test/report/sample-results.js DIR`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type BreakdownKind,
  type BreakdownRecord,
  type CryptoRecord,
  type EquivalenceRecord,
  EXPERIMENT_SCHEMA,
  type ExperimentFile,
  type ExperimentName,
  type MatrixRecord,
  type ModesRecord,
  type PeerRecord,
  type RecordByExperiment,
} from '../../src/bench/experiments/schema.js';
import type { MachineInfo } from '../../src/bench/machine.js';
import type { BenchReport, WorkloadResult } from '../../src/bench/results.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';

export const SAMPLE_MACHINE: MachineInfo = {
  cpu: 'Test CPU @ 2.0GHz',
  cores: 2,
  memoryGiB: 7.8,
  node: 'v20.0.0',
  loadAverage: [0.5, 0.4, 0.3],
  platform: 'linux-x64',
  gitRevision: '0123456789abcdef0123456789abcdef01234567',
  gitDirty: false,
  kernels: { name: 'native', backend: 'openblas', threads: 2 } as unknown as MachineInfo['kernels'],
  env: { OPENBLAS_NUM_THREADS: '2' },
};

export const INJECTED_MODEL = '<script>alert("x")</script>';

export interface Sample {
  readonly files: Record<string, ExperimentFile | BenchReport>;
  /** Every number of every record, to find in the page. */
  readonly numbers: number[];
}

function file<E extends ExperimentName>(
  experiment: E,
  startedAt: string,
  records: RecordByExperiment[E][],
): ExperimentFile<E> {
  return {
    schema: EXPERIMENT_SCHEMA,
    experiment,
    startedAt,
    finishedAt: new Date(Date.parse(startedAt) + 60_000).toISOString(),
    command: `tee-offload bench ${experiment} --out results`,
    machine: SAMPLE_MACHINE,
    settings: { repeats: 3 },
    records,
  };
}

export function sampleResults(seed = 1): Sample {
  const rng = new SeededRng(seed);
  // Values with several significant digits, spread over decades.
  const num = (lo: number, hi: number) => Number((lo * (hi / lo) ** rng.nextFloat()).toPrecision(5));
  const models = [
    { model: 'alexnet', size: 224 },
    { model: 'vgg19_bn', size: 224 },
    { model: 'resnet18', size: 224 },
  ] as const;
  const modes = ['native', 'enclave', 'split-exact', 'split-float', 'accelerator'] as const;

  const modes_: ModesRecord[] = [];
  for (const m of models)
    for (const mode of modes)
      for (const workload of ['step', 'epoch64'] as const) {
        const batch = workload === 'step' ? 1 : 4;
        const images = workload === 'step' ? 1 : 64;
        if (m.model === 'vgg19_bn' && mode === 'enclave' && workload === 'epoch64') {
          modes_.push({ ...m, batch, workload, mode, images, error: 'enclave out of memory (EPC)' });
          continue;
        }
        const samplesMs = [0, 1, 2].map(() => num(50, 5000) * images);
        const medianMs = [...samplesMs].sort((a, b) => a - b)[1]!;
        modes_.push({
          ...m,
          batch,
          workload,
          mode,
          images,
          samplesMs,
          medianMs,
          imagesPerSec: (images * 1000) / medianMs,
        });
      }

  const kinds: BreakdownKind[] = [
    'conv',
    'batchnorm',
    'relu',
    'pooling',
    'quantize',
    'send',
    'accelerator',
    'receive',
    'verify',
    'unblind',
    'loss',
    'optimizer',
  ];
  const breakdown: BreakdownRecord[] = models.map((m, i) => {
    if (i === 1) return { ...m, batch: 1, mode: 'split-exact', error: 'accelerator connection reset' };
    const byKind = kinds.map((kind) => ({ kind, ms: num(0.5, 200) }));
    return {
      ...m,
      batch: 1,
      mode: 'split-exact',
      totalMs: byKind.reduce((a, k) => a + k.ms, 0),
      byKind,
      byLayer: [
        {
          layer: 'features.0',
          type: 'Conv2d',
          ms: num(1, 50),
          phases: { send: num(0.1, 5), verify: num(0.1, 5) },
        },
        { layer: 'classifier.6', type: 'Linear', ms: num(1, 50) },
      ],
      bytesSent: Math.round(num(1e5, 1e8)),
      bytesReceived: Math.round(num(1e5, 1e8)),
      checks: 20,
      checksPassed: 20,
    };
  });

  const matrix: MatrixRecord[] = [];
  for (const mode of ['trusted', 'split-exact', 'split-float'] as const)
    for (const rows of [64, 256, 1024, 4096]) {
      if (mode === 'split-float' && rows === 4096) {
        matrix.push({ rows, inner: 4096, cols: 1000, mode, error: 'timed out' });
        continue;
      }
      const phases =
        mode === 'trusted'
          ? { compute: num(1, 1000) }
          : {
              load: num(0.1, 100),
              send: num(0.1, 100),
              compute: num(0.1, 100),
              receive: num(0.1, 100),
              verify: num(0.1, 100),
            };
      matrix.push({
        rows,
        inner: 4096,
        cols: 1000,
        mode,
        phases,
        totalMs: Object.values(phases).reduce((a, b) => a + b, 0),
      });
    }

  const crypto: CryptoRecord[] = [];
  for (const bytes of [1 << 20, 64 << 20])
    for (const where of ['client', 'trusted'] as const)
      for (const op of ['encrypt', 'decrypt'] as const) {
        const medianMs = num(0.2, 80);
        crypto.push({ where, op, bytes, medianMs, gbPerSec: bytes / (medianMs * 1e6) });
      }
  crypto.push({
    where: 'trusted',
    op: 'decrypt',
    bytes: 1 << 30,
    error: 'file too large for the enclave heap',
  });

  const equivalence: EquivalenceRecord[] = [];
  for (const m of models.slice(0, 2))
    for (const mode of modes)
      for (const threads of [1, 2])
        for (const [phase, quantity] of [
          ['inference', 'logits'],
          ['train-step', 'loss'],
          ['train-step', 'grads'],
          ['train-step', 'grad:features.0.weight'],
        ] as const) {
          const exact = mode === 'native' || mode === 'enclave' || mode === 'split-exact';
          const tolerance = exact ? 0 : 1e-4;
          const maxAbsDiff = exact ? 0 : num(1e-9, 5e-5);
          equivalence.push({
            model: m.model,
            mode,
            threads,
            phase,
            quantity,
            maxAbsDiff,
            maxAbsRef: num(0.1, 10),
            tolerance,
            bitIdenticalExpected: exact,
            pass: maxAbsDiff <= tolerance,
          });
        }
  equivalence.push({
    model: 'resnet18',
    mode: 'split-float',
    threads: 1,
    phase: 'inference',
    quantity: 'logits',
    tolerance: 1e-4,
    bitIdenticalExpected: false,
    error: 'accelerator not reachable',
  });

  const peer: PeerRecord[] = [
    ...models.map((m) => {
      const oursMs = num(100, 3000);
      const torchMs = num(100, 3000);
      return { ...m, batch: 1, threads: 2, oursMs, torchMs, ratio: torchMs / oursMs };
    }),
    { model: INJECTED_MODEL, size: 32, batch: 1, threads: 2, oursMs: 12.5, torchMs: 11.25, ratio: 0.9 },
    { model: 'resnet18', size: 224, batch: 4, threads: 2, skipped: 'torch not installed' },
  ];

  const side = (medianMs: number) => ({
    iters: 1,
    samplesMs: [medianMs],
    cpuPerWall: [1],
    medianMs,
    cpuMedianMs: medianMs,
    foreignCores: [0],
    retakes: 0,
    peakRssMiB: null,
  });
  const workloads: WorkloadResult[] = ['gemm 512', 'gemm 1024'].map((label, i) => {
    const ours = num(1, 100);
    const torch = num(1, 100);
    return {
      id: `gemm-${i}`,
      group: 'gemm',
      label,
      spec: {} as WorkloadResult['spec'],
      flops: 1e9,
      checks: [],
      ours: side(ours),
      torch: side(torch),
      ratio: torch / ours,
      cpuRatio: torch / ours,
    };
  });
  const bench: BenchReport = {
    kind: 'tee-offload/bench-kernels',
    version: 1,
    startedAt: '2026-11-20T10:00:00.000Z',
    loadAverageAtStart: [0.1, 0.1, 0.1],
    finishedAt: '2026-11-20T10:10:00.000Z',
    machine: SAMPLE_MACHINE,
    torch: { skipped: 'not needed' } as BenchReport['torch'],
    settings: {
      threads: 2,
      repeats: 3,
      quick: true,
      only: [],
      minSampleMs: 10,
      settleMs: 0,
      retakes: 0,
      quietWaitMs: 0,
    },
    workloads,
    memory: null,
  };

  const stamp = '2026-11-25T10:00:00.000Z';
  const files: Record<string, ExperimentFile | BenchReport> = {
    'modes-20261125T100000Z.json': file('modes', stamp, modes_),
    'breakdown-20261125T100000Z.json': file('breakdown', stamp, breakdown),
    'matrix-20261125T100000Z.json': file('matrix', stamp, matrix),
    'crypto-20261125T100000Z.json': file('crypto', stamp, crypto),
    'equivalence-20261125T100000Z.json': file('equivalence', stamp, equivalence),
    'peer-20261125T100000Z.json': file('peer', stamp, peer),
    'bench-kernels-t2-20261120T100000Z.json': bench,
  };
  const numbers: number[] = [];
  const collect = (v: unknown): void => {
    if (typeof v === 'number') numbers.push(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (typeof v === 'object' && v !== null) Object.values(v).forEach(collect);
  };
  collect([modes_, breakdown, matrix, crypto, equivalence, peer]);
  return { files, numbers };
}

export function writeSampleResults(dir: string, seed = 1): Sample {
  mkdirSync(dir, { recursive: true });
  const s = sampleResults(seed);
  for (const [name, data] of Object.entries(s.files))
    writeFileSync(join(dir, name), JSON.stringify(data, null, 2));
  return s;
}

if (process.argv[1]?.endsWith('sample-results.js') && process.argv[2]) writeSampleResults(process.argv[2]);
