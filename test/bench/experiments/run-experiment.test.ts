// Each experiment at a tiny size (ResNet-18 at 32², batch 2, one sample, no warm-up) writes a file that
// follows the schema; a failed measurement (an unknown model) is recorded, never thrown; the helper
// processes are stopped; native results are bit-identical across thread counts and split-float stays
// within its tolerance.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ExperimentOptions } from '../../../src/bench/experiments/options.js';
import { runExperiment, writeExperimentFile } from '../../../src/bench/experiments/run-experiment.js';
import type {
  BreakdownRecord,
  CryptoRecord,
  EquivalenceRecord,
  MatrixRecord,
  ModesRecord,
  PeerRecord,
} from '../../../src/bench/experiments/schema.js';
import { splitCores, stopAllServersSync } from '../../../src/bench/experiments/servers.js';
import { experimentFileProblems } from '../../../src/bench/experiments/validate.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-exp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tiny: ExperimentOptions = { sizes: [32], batches: [2], repeats: 1, warmup: 0, threads: 1 };

/** Written and read back: what the report would see. */
function roundTrip(file: Parameters<typeof writeExperimentFile>[1]): unknown {
  const path = writeExperimentFile(dir, file);
  assert.match(path, new RegExp(`${file.experiment}-\\d{4}-\\d\\d-\\d\\dT[\\d-]+\\.\\d+Z\\.json$`));
  return JSON.parse(readFileSync(path, 'utf8'));
}

describe('bench experiments (tiny sizes)', () => {
  it('modes: measures each mode, records an unknown model as errors, stops its servers', async () => {
    const f = await runExperiment('modes', {
      ...tiny,
      models: ['resnet18', 'no_such_model'],
      modes: ['native', 'enclave', 'split-float', 'accelerator'],
      workloads: ['step'],
    });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    assert.equal(stopAllServersSync(), 0, 'no helper process outlives the experiment');
    assert.deepEqual((f.settings as { splitThreads?: object }).splitThreads, { trusted: 1, accelerator: 1 });
    const rs = f.records as ModesRecord[];
    assert.equal(rs.length, 8);
    for (const r of rs.filter((x) => x.model === 'resnet18')) {
      assert.equal(r.error, undefined, `${r.mode}: ${r.error}`);
      assert.equal(r.samplesMs!.length, 1);
      assert.ok(r.medianMs! > 0 && r.imagesPerSec! > 0);
      assert.equal(r.images, 2);
    }
    for (const r of rs.filter((x) => x.model === 'no_such_model')) {
      assert.match(r.error!, /unknown model 'no_such_model'/);
      assert.equal(r.medianMs, undefined);
    }
  });

  it('modes without --threads: split modes share the cores between the trusted process and the accelerator', async () => {
    const lines: string[] = [];
    const { threads: _all, ...rest } = tiny;
    const f = await runExperiment('modes', {
      ...rest,
      models: ['resnet18'],
      modes: ['split-float', 'accelerator'],
      workloads: ['step'],
      log: (l) => lines.push(l),
    });
    assert.equal(stopAllServersSync(), 0, 'no helper process outlives the experiment');
    for (const r of f.records as ModesRecord[]) assert.equal(r.error, undefined, `${r.mode}: ${r.error}`);
    const cores = availableParallelism();
    const split = splitCores(cores, false);
    assert.deepEqual((f.settings as { splitThreads?: object }).splitThreads, split);
    const started = lines
      .map((l) => /starting an accelerator \((\d+) threads\)/.exec(l)?.[1])
      .filter((t) => t !== undefined)
      .map(Number);
    // split-float's accelerator gets its share; the unprotected accelerator mode one with every core.
    assert.deepEqual(started, split.accelerator === cores ? [cores] : [split.accelerator, cores]);
  });

  it('modes --accelerator-backend cuda: the accelerator is started on the GPU; without one, its modes record why', async () => {
    const f = await runExperiment('modes', {
      ...tiny,
      models: ['resnet18'],
      modes: ['native', 'split-float'],
      workloads: ['step'],
      acceleratorBackend: 'cuda',
    });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    assert.equal(stopAllServersSync(), 0, 'no helper process outlives the experiment');
    assert.equal((f.settings as { acceleratorBackend?: string }).acceleratorBackend, 'cuda');
    const rs = f.records as ModesRecord[];
    const native = rs.find((r) => r.mode === 'native')!;
    assert.equal(native.error, undefined, native.error);
    const split = rs.find((r) => r.mode === 'split-float')!;
    if (split.error !== undefined) {
      // No CUDA here: the accelerator stopped at start, naming what it lacks.
      assert.match(
        split.error,
        /cannot open the cuda GPU backend: CUDA: no (driver|NVRTC|cuBLAS) library|the driver sees no GPU/,
      );
    } else {
      assert.ok(split.medianMs! > 0);
    }
  });

  it('breakdown: a split-float step by kind and by layer, with bytes and checks', async () => {
    const f = await runExperiment('breakdown', { ...tiny, models: ['resnet18'], modes: ['split-float'] });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    const [r] = f.records as BreakdownRecord[];
    assert.equal(r!.error, undefined, r!.error);
    const kind = new Map(r!.byKind!.map((k) => [k.kind, k.ms]));
    for (const k of ['accelerator', 'send', 'verify', 'batchnorm', 'optimizer'] as const)
      assert.ok(kind.get(k)! > 0, `${k} time`);
    const sum = [...kind.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - r!.totalMs!) <= 0.5 * r!.totalMs!, `kinds sum to ${sum}, total ${r!.totalMs}`);
    const layers = new Map(r!.byLayer!.map((l) => [l.layer, l]));
    assert.equal(layers.get('conv1')?.type, 'Conv2d');
    assert.equal(layers.get('fc')?.type, 'Linear');
    // fc (512 → 10 at batch 2: under 1 flop/byte) stays inside, as a split job places it; conv1 goes out.
    assert.equal(layers.get('fc')!.phases!.verify ?? 0, 0);
    assert.ok(layers.get('conv1')!.phases!.verify! > 0);
    // Of the 62 products (20 convolutions and fc, three each, less the stem's input gradient) those of
    // fc and of the last stage (1×1 planes at 32²) stay inside; every one sent is checked and passes.
    assert.ok(r!.checks! > 0 && r!.checks! < 62, `${r!.checks} checks`);
    assert.equal(r!.checksPassed, r!.checks);
    assert.ok(r!.bytesSent! > 0 && r!.bytesReceived! > 0);
  });

  it('matrix: trusted against split-float with phases', async () => {
    const f = await runExperiment('matrix', { ...tiny, rows: [64], modes: ['split-float'] });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    const rs = f.records as MatrixRecord[];
    assert.deepEqual(
      rs.map((r) => r.mode),
      ['trusted', 'split-float'],
    );
    for (const r of rs) assert.equal(r.error, undefined, r.error);
    assert.ok(rs[1]!.phases!.verify! > 0 && rs[1]!.phases!.send! >= 0);
    assert.deepEqual(Object.keys(rs[0]!.phases!), ['compute']);
  });

  it('crypto: client encrypt/decrypt and the trusted process decrypt of an upload', async () => {
    const f = await runExperiment('crypto', { ...tiny, bytes: 3 * 2 ** 20 + 5 });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    const rs = f.records as CryptoRecord[];
    const at = (where: string, op: string) => rs.find((r) => r.where === where && r.op === op)!;
    for (const [w, o] of [
      ['client', 'encrypt'],
      ['client', 'decrypt'],
      ['trusted', 'decrypt'],
    ]) {
      const r = at(w!, o!);
      assert.equal(r.error, undefined, `${w} ${o}: ${r.error}`);
      assert.equal(r.bytes, 3 * 2 ** 20 + 5);
      assert.ok(r.gbPerSec! > 0);
    }
    assert.match(at('trusted', 'encrypt').error!, /not measured/);
  });

  it('equivalence: native is bit-identical at 1 and 2 threads, split-float within tolerance', async () => {
    const f = await runExperiment('equivalence', {
      ...tiny,
      batches: [4],
      modes: ['native', 'split-float'],
      threadCounts: [1, 2],
    });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    const rs = f.records as EquivalenceRecord[];
    const native = rs.filter((r) => r.mode === 'native');
    assert.ok(native.some((r) => r.threads === 2 && r.quantity.startsWith('grad:')));
    for (const r of native) {
      assert.equal(r.error, undefined, r.error);
      assert.equal(r.maxAbsDiff, 0, `${r.quantity} at ${r.threads} threads`);
      assert.equal(r.tolerance, 0);
      assert.equal(r.bitIdenticalExpected, true);
      assert.equal(r.pass, true);
    }
    const float = rs.filter((r) => r.mode === 'split-float');
    assert.ok(float.length > 0);
    for (const r of float) {
      assert.equal(r.bitIdenticalExpected, false);
      assert.ok(r.tolerance > 0);
      assert.equal(r.pass, true, `${r.quantity}: ${r.maxAbsDiff} > ${r.tolerance}`);
    }
    const quantities = new Set(float.map((r) => r.quantity));
    for (const q of ['logits', 'loss', 'grads', 'grad:fc.weight', 'grad:conv1.weight'])
      assert.ok(quantities.has(q), q);
  });

  it('peer: without PyTorch every record is kept, marked skipped', async () => {
    const f = await runExperiment('peer', { ...tiny, models: ['resnet18'], torch: false });
    assert.deepEqual(experimentFileProblems(roundTrip(f)), []);
    const rs = f.records as PeerRecord[];
    assert.equal(rs.length, 1);
    assert.match(rs[0]!.skipped!, /disabled/);
    assert.equal(rs[0]!.oursMs, undefined);
  });

  it('refuses an unknown experiment name at the API', async () => {
    await assert.rejects(runExperiment('nope' as 'modes'), RangeError);
  });

  it('the CLI writes <experiment>-<timestamp>.json and a summary table', () => {
    const out = join(dir, 'cli');
    const r = spawnSync(
      process.execPath,
      [
        resolve('dist/src/cli/main.js'),
        'bench',
        'matrix',
        '--rows',
        '32',
        '--modes',
        'split-float',
        '--repeats',
        '1',
        '--warmup',
        '0',
        '--threads',
        '1',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /32×1024×1024\s+split-float/);
    assert.match(r.stderr, /\[matrix\] .*sample 1\/1/);
    const files = readdirSync(out);
    assert.equal(files.length, 1);
    assert.match(files[0]!, /^matrix-.*\.json$/);
    assert.deepEqual(experimentFileProblems(JSON.parse(readFileSync(join(out, files[0]!), 'utf8'))), []);
    const bad = spawnSync(
      process.execPath,
      [resolve('dist/src/cli/main.js'), 'bench', 'modes', '--modes', 'gpu'],
      {
        encoding: 'utf8',
      },
    );
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown mode 'gpu'/);
  });
});
