import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { manifestCommand } from '../../src/cli/commands/manifest.js';
import { isTeeError } from '../../src/errors.js';
import { at, parseManifest } from './render.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-manifest-cmd-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    return { code: await manifestCommand.run(args), out: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

test('writes the template, the Makefile and hosts, and prints the estimates and next steps', async () => {
  const out = join(dir, 'g');
  const r = await run([
    '--model',
    'vgg11_bn',
    '--batch-size',
    '16',
    '--input-size',
    '32',
    '--threads',
    '3',
    '--out',
    out,
    '--num-classes',
    '100',
    '--',
    '--listen',
    '127.0.0.1:7000',
  ]);
  assert.equal(r.code, 0);
  for (const f of ['tee-offload.manifest.template', 'Makefile', 'hosts'])
    assert.ok(existsSync(join(out, f)), f);
  for (const d of ['inbox', 'sealed']) assert.equal(statSync(join(out, d)).mode & 0o777, 0o700, d);
  const doc = parseManifest(readFileSync(join(out, 'tee-offload.manifest.template'), 'utf8'));
  const argv = at(doc, 'loader.argv') as string[];
  assert.deepEqual(argv.slice(-2), ['--listen', '127.0.0.1:7000']);
  assert.equal(argv[argv.indexOf('--num-classes') + 1], '100');
  assert.equal(argv[argv.indexOf('--threads') + 1], '3');
  assert.match(r.out, new RegExp(`sgx\\.enclave_size = "${at(doc, 'sgx.enclave_size')}" \\(estimate `));
  assert.match(r.out, /activations kept for backward/);
  assert.match(r.out, new RegExp(`sgx\\.max_threads = ${at(doc, 'sgx.max_threads')}:`));
  assert.match(r.out, /make run-sgx/);
  assert.match(r.out, /gramine-sgx-sigstruct-view/);
});

test('bad command lines are E_USAGE with one clear message', async () => {
  const usage = async (args: string[], re: RegExp) =>
    assert.rejects(run(args), (e) => isTeeError(e, 'E_USAGE') && re.test((e as Error).message));
  const out = ['--out', join(dir, 'x')];
  await usage(['--batch-size', '8', '--input-size', '32', ...out], /--model is required/);
  await usage(['--model', 'resnet18', '--input-size', '32', ...out], /--batch-size is required/);
  await usage(
    ['--model', 'resnet99', '--batch-size', '8', '--input-size', '32', ...out],
    /unknown model 'resnet99'/,
  );
  await usage(['--model', 'alexnet', '--batch-size', '8', '--input-size', '32', ...out], /at least 63/);
  await usage(
    ['--model', 'resnet18', '--batch-size', '0', '--input-size', '32', ...out],
    /--batch-size must be/,
  );
  await usage(
    ['--model', 'resnet18', '--batch-size', '8', '--input-size', '32', '--mode', 'gpu', ...out],
    /--mode/,
  );
  await usage(
    ['--model', 'resnet18', '--batch-size', '8', '--input-size', '32', '--isvsvn', '70000', ...out],
    /65535/,
  );
  await usage(['--model', 'resnet18', '--batch-size', '8', '--input-size', '32', 'stray', ...out], /stray/);
  assert.ok(!existsSync(join(dir, 'x')), 'nothing written on a usage error');
});

test('--debug makes a debug enclave and says so', async () => {
  const out = join(dir, 'dbg');
  const r = await run([
    '--model',
    'resnet18',
    '--batch-size',
    '4',
    '--input-size',
    '32',
    '--out',
    out,
    '--debug',
  ]);
  assert.equal(r.code, 0);
  assert.equal(
    at(parseManifest(readFileSync(join(out, 'tee-offload.manifest.template'), 'utf8')), 'sgx.debug'),
    true,
  );
  assert.match(r.out, /DEBUG ENCLAVE/);
  assert.match(manifestCommand.help, /^usage: tee-offload manifest /);
});
