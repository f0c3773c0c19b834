import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { COMMANDS } from '../../src/cli/commands.js';
import { fromBigInt64, fromFloat32, toFloat32 } from '../../src/io/safe-tensor.js';
import { readSafetensorsFile, writeSafetensorsFile } from '../../src/io/safetensors.js';
import { saveStateDict } from '../../src/io/state-dict.js';
import { createModel } from '../../src/models/index.js';
import { fixtureInitModel } from '../../src/tensor/fixture-init.js';
import { Fixture, fixturePath, maxAbs } from '../fixtures-util.js';

const CLI = resolve('dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tee-offload-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]) {
  return cliEnv({}, ...args);
}

function cliEnv(env: Record<string, string>, ...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('every command prints its help with --help and exits 0', () => {
  for (const c of COMMANDS) {
    const r = cli(c.name, '--help');
    assert.equal(r.code, 0, c.name);
    assert.match(r.stdout, /usage: tee-offload/, c.name);
  }
  const top = cli('--help');
  assert.equal(top.code, 0);
  for (const c of COMMANDS) assert.ok(top.stdout.includes(c.name), `--help lists ${c.name}`);
});

test('an unknown command or flag exits 2 with one line and no stack trace', () => {
  const a = cli('frobnicate');
  assert.equal(a.code, 2);
  assert.match(a.stderr, /unknown command 'frobnicate'/);
  const b = cli('train', '--model', 'resnet18', '--data', 'synthetic:8', '--bogus');
  assert.equal(b.code, 2);
  assert.equal(b.stderr.trim().split('\n').length, 1, b.stderr);
  assert.doesNotMatch(b.stderr, /\n\s+at /);
  const c = cli('train', '--data', 'synthetic:8');
  assert.equal(c.code, 2);
  assert.match(c.stderr, /--model is required/);
  const d = cli('train', '--model', 'resnet99', '--data', 'synthetic:8');
  assert.equal(d.code, 2);
  assert.match(d.stderr, /unknown model 'resnet99'/);
  // A command that takes positional arguments too: the same one line, without node:util's advice.
  const e = cli('precompute', '--bogus');
  assert.equal(e.code, 2);
  assert.equal(e.stderr, "tee-offload: E_USAGE: Unknown option '--bogus'\n");
});

test('weights that are not a weights file exit 3 with E_FORMAT', () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, 'definitely not safetensors');
  const r = cli('eval', '--model', 'resnet18', '--weights', bad, '--data', 'synthetic:4');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /E_FORMAT/);
});

test('weights for another model exit 3 with E_STATE listing the keys', () => {
  const w = join(dir, 'alex.safetensors');
  saveStateDict(createModel('alexnet', { numClasses: 10 }), w);
  const r = cli('eval', '--model', 'resnet18', '--weights', w, '--data', 'synthetic:4');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /E_STATE/);
  assert.match(r.stderr, /features\.0\.weight/);
  assert.match(r.stderr, /layer1\.0\.conv1\.weight/);
});

test('train --steps 2 on a batch file reproduces PyTorch’s parameters and BatchNorm buffers', () => {
  const f = new Fixture(fixturePath('models', 'resnet18_64_b4_s1.safetensors'));
  const model = createModel('resnet18', { numClasses: 10 });
  fixtureInitModel(model.stateEntries(), f.num('seed'));
  const weights = join(dir, 'init.safetensors');
  saveStateDict(model, weights);
  const batch = join(dir, 'batch.safetensors');
  writeSafetensorsFile(
    batch,
    new Map([
      ['input', fromFloat32(f.shape('input'), f.f32('input'))],
      ['labels', fromBigInt64(f.shape('labels'), f.i64('labels'))],
    ]),
  );
  const out = join(dir, 'out.safetensors');
  const r = cli(
    'train',
    '--model',
    'resnet18',
    '--num-classes',
    '10',
    '--input-size',
    '64',
    '--data',
    batch,
    '--steps',
    '2',
    '--lr',
    f.meta.lr!,
    '--momentum',
    f.meta.momentum!,
    '--weight-decay',
    f.meta.weight_decay!,
    '--weights',
    weights,
    '--save',
    out,
    '--json',
  );
  assert.equal(r.code, 0, r.stderr);
  const steps = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; loss?: number })
    .filter((e) => e.type === 'step');
  assert.equal(steps.length, 2);
  assert.ok(Math.abs(steps[0]!.loss! - f.f32('loss_step0')[0]!) <= 1e-3 * Math.abs(f.f32('loss_step0')[0]!));
  assert.ok(Math.abs(steps[1]!.loss! - f.f32('loss_step1')[0]!) <= 1e-3 * Math.abs(f.f32('loss_step1')[0]!));

  const saved = readSafetensorsFile(out).tensors;
  let checked = 0;
  for (const key of f.names()) {
    const prefix = key.startsWith('param_sample_after.')
      ? 'param_sample_after.'
      : key.startsWith('buffer_after.')
        ? 'buffer_after.'
        : undefined;
    if (prefix === undefined) continue;
    const name = key.slice(prefix.length);
    const t = saved.get(name);
    assert.ok(t, `saved state has ${name}`);
    const got = toFloat32(t);
    const expected = f.f32(key);
    let values: number[];
    if (prefix === 'param_sample_after.') {
      values = Array.from(f.i64(`param_idx.${name}`), (i) => got[Number(i)]!);
    } else {
      values = Array.from(got);
    }
    const tol = 1e-4 * Math.max(maxAbs(expected), 1e-6);
    values.forEach((v, i) => {
      assert.ok(
        Math.abs(v - expected[i]!) <= tol,
        `${key}[${i}]: got ${v}, expected ${expected[i]} (tol ${tol})`,
      );
    });
    checked++;
  }
  assert.ok(checked > 60, `checked ${checked} tensors`);
});

test('info reports the kernels and whether a CUDA GPU is usable (here: none, and why)', () => {
  const r = cli('info', '--json', '--cuda-libs', '/nonexistent');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    blas: string;
    threads: number;
    cpuFeatures: string[];
    wideCheckIfma: boolean;
    gpu: { available: boolean; reason?: string };
  };
  assert.ok(j.threads >= 1);
  // The wide check runs on IFMA only where the CPU has it.
  if (j.wideCheckIfma) assert.ok(j.cpuFeatures.includes('avx512ifma'), j.cpuFeatures.join(' '));
  assert.match(cli('info').stdout, /^checks {6}wide field on (AVX-512 IFMA|25-bit limbs)/m);
  if (j.gpu.available) return; // a machine with CUDA: nothing more to check here
  assert.match(
    j.gpu.reason!,
    /^CUDA: (no driver library|the driver sees no GPU|no NVRTC library|no cuBLAS library)/,
  );
  const text = cli('info');
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^gpu {9}none usable \(CUDA: /m);
});

test('TEE_OFFLOAD_CONV picks the convolution engine at run time; a bad value is E_USAGE', () => {
  const im2col = cliEnv({ TEE_OFFLOAD_CONV: 'im2col' }, 'info', '--json', '--cuda-libs', '/nonexistent');
  assert.equal(im2col.code, 0, im2col.stderr);
  assert.equal((JSON.parse(im2col.stdout) as { conv: string }).conv, 'im2col');
  const text = cliEnv({ TEE_OFFLOAD_CONV: 'im2col' }, 'info', '--cuda-libs', '/nonexistent');
  assert.match(text.stdout, /^conv {8}im2col \(im2col \+ GEMM, chosen by TEE_OFFLOAD_CONV\)$/m);
  const bad = cliEnv({ TEE_OFFLOAD_CONV: 'winograd' }, 'info');
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /^tee-offload: E_USAGE: TEE_OFFLOAD_CONV=winograd: expected 'onednn' or 'im2col'$/m,
  );
  const plain = cliEnv({ TEE_OFFLOAD_CONV: '' }, 'info', '--json', '--cuda-libs', '/nonexistent');
  const built = (JSON.parse(plain.stdout) as { conv: string }).conv;
  assert.ok(built === 'onednn' || built === 'im2col', built);
});

test('models lists every model with parameter counts', () => {
  const r = cli('models', '--num-classes', '10', '--json');
  assert.equal(r.code, 0);
  const rows = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { name: string; parameters: number });
  assert.equal(rows.find((m) => m.name === 'resnet18')?.parameters, 11_181_642);
});

test('ImageNet-sized weights on --num-classes 10 replace only the classifier, and say so', () => {
  const w = join(dir, 'imagenet.safetensors');
  saveStateDict(createModel('resnet18', { numClasses: 1000, seed: 4 }), w);
  const r = cli(
    'eval',
    '--model',
    'resnet18',
    '--num-classes',
    '10',
    '--weights',
    w,
    '--data',
    'synthetic:4',
  );
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /fc\.weight, fc\.bias keep a fresh initialisation for 10 classes/);
});
