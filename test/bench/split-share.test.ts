import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { SplitShareUsageError, splitShareOptions } from '../../src/bench/split-share-options.js';
import { runSplitShare, type SplitShareReport } from '../../src/bench/split-share-run.js';
import { DEFAULT_OFFLOAD_MIN_INTENSITY } from '../../src/enclave/placement.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-split-share-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('bench split-share', () => {
  it('validates its flags before anything starts, with the documented defaults', () => {
    const d = splitShareOptions({});
    assert.deepEqual(d.models, ['resnet18', 'alexnet', 'vgg19_bn']);
    assert.equal(d.batch, 1);
    assert.equal(d.size, 224);
    assert.equal(d.integrity, 'exact');
    assert.equal(d.field, 'wide');
    assert.equal(d.threads, 1);
    assert.equal(d.acceleratorThreads, 1);
    assert.equal(d.steps, 3);
    assert.equal(d.offloadMinIntensity, DEFAULT_OFFLOAD_MIN_INTENSITY);
    assert.equal(d.cacheGradients, true);
    assert.equal(d.ifma, true);
    assert.equal(d.outDir, 'results');
    const o = splitShareOptions({
      threads: '3',
      'no-ifma': true,
      'offload-min-intensity': '0',
      'max-inner': '512',
    });
    assert.equal(o.acceleratorThreads, 3, 'the accelerator takes --threads by default');
    assert.equal(o.ifma, false);
    assert.equal(o.offloadMinIntensity, 0);
    assert.equal(o.maxInnerLength, 512);
    for (const [values, message] of [
      [{ models: 'resnet18,nope' }, /unknown model 'nope'/],
      [{ integrity: 'maybe' }, /--integrity must be one of exact, float, off/],
      [{ integrity: 'float', field: 'p24' }, /--field applies to --integrity exact/],
      [{ field: 'p25' }, /--field must be one of wide, p24/],
      [{ batch: '0' }, /--batch must be an integer from 1/],
      [{ steps: '1.5' }, /--steps must be an integer/],
      [{ 'offload-min-intensity': '-1' }, /--offload-min-intensity must be a number ≥ 0/],
      [{ 'offload-min-intensity': '' }, /--offload-min-intensity must be a number ≥ 0/],
      [{ 'accelerator-backend': 'tpu' }, /--accelerator-backend must be one of cpu, cuda, emulated/],
    ] as const) {
      assert.throws(
        () => splitShareOptions(values),
        (e: Error) => e instanceof SplitShareUsageError && message.test(e.message),
      );
    }
  });

  it('accounts for every product of a step, checked on its first request, and writes its JSON', async () => {
    const lines: string[] = [];
    const report = await runSplitShare({
      ...splitShareOptions({
        models: 'resnet18',
        size: '64',
        batch: '2',
        steps: '1',
        'offload-min-intensity': '0',
      }),
      outDir: dir,
      log: () => {},
      print: (t) => lines.push(t),
    });
    assert.equal(report.schema, 'tee-offload/split-share@1');
    assert.equal(report.rows.length, 1);
    const row = report.rows[0]!;
    assert.equal(row.model, 'resnet18');
    // ResNet-18: 20 convolutions and one dense layer, three products each; offload threshold 0: all remote.
    const products = Object.fromEntries(row.ops.map((o) => [o.op, o.products]));
    assert.deepEqual(products, {
      dense: 1,
      denseGradInput: 1,
      denseGradWeight: 1,
      conv2d: 20,
      conv2dGradInput: 19, // the first convolution's input needs no gradient
      conv2dGradWeight: 20,
    });
    assert.equal(row.keptInsideProducts, 0);
    for (const o of row.ops) {
      assert.equal(o.requests, o.products, `${o.op}: one request per product (none refused)`);
      assert.ok(o.verifyMs > 0 && o.computeMs > 0 && o.sentMiB > 0, o.op);
    }
    assert.ok(row.nativeMs > 0 && row.trustedCpuMs > 0 && row.splitWallMs > 0);
    assert.equal(row.trustedShare, row.trustedCpuMs / row.nativeMs);
    assert.ok(row.floorMs > 0 && row.floorMs < row.nativeMs * 2);
    assert.ok(row.receivedMiB > 0 && row.sentMiB > 0);
    assert.match(lines[0]!, /^resnet18 64² b2 exact .* trusted-side CPU \d+ ms\/step = [\d.]+% of native/);
    assert.ok(lines.some((l) => l.startsWith(`wrote ${dir}`)));
    const files = readdirSync(dir).filter((f) => /^split-share-.*\.json$/.test(f));
    assert.equal(files.length, 1);
    const saved = JSON.parse(readFileSync(join(dir, files[0]!), 'utf8')) as SplitShareReport;
    assert.deepEqual(saved.rows, JSON.parse(JSON.stringify(report.rows)));
    assert.equal(saved.settings.size, 64);
    assert.ok(saved.machine.cores >= 1);
  });

  it('refuses bad flags from the command line with exit status 2 and no accelerator started', () => {
    const CLI = resolve('dist/src/cli/main.js');
    for (const [args, message] of [
      [['--models', 'nope'], /unknown model 'nope'/],
      [['--quick'], /--quick is not an option of bench split-share/],
      [['extra'], /unexpected 'extra'/],
    ] as const) {
      const r = spawnSync(process.execPath, [CLI, 'bench', 'split-share', ...args], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    }
    // Its own flags are refused by the other suites rather than ignored.
    for (const suite of ['modes', 'kernels', 'protocol']) {
      const r = spawnSync(process.execPath, [CLI, 'bench', suite, '--integrity', 'float'], {
        encoding: 'utf8',
        timeout: 60_000,
      });
      assert.equal(r.status, 2, `${suite}: ${r.stderr}`);
      assert.match(r.stderr, /--integrity is an option of bench split-share/);
    }
  });
});
