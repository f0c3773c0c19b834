import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { CLI_PATH } from '../../src/gramine/deployment.js';
import { enclaveArgs } from '../../src/gramine/enclave-args.js';
import { findOnPath, launchEnclave, planLaunch } from '../../src/gramine/launcher.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-launch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const emptyBin = join(dir, 'empty-bin');
mkdirSync(emptyBin);
const manifests = join(dir, 'manifests');
mkdirSync(manifests);

const env = (path: string) => ({ ...process.env, PATH: path });

test('gramine-direct and gramine-sgx are a clear E_USAGE naming Gramine when it is not installed', () => {
  for (const launcher of ['gramine-direct', 'gramine-sgx'] as const) {
    assert.throws(
      () => planLaunch({ launcher, manifestDir: manifests, env: env(emptyBin) }),
      (e) => {
        assert.ok(isTeeError(e, 'E_USAGE'));
        assert.match(e.message, new RegExp(`^${launcher} was not found on PATH`));
        assert.match(e.message, /packages\.gramineproject\.io/);
        assert.match(e.message, /--launcher direct/);
        return true;
      },
    );
    assert.throws(
      () => launchEnclave({ launcher, manifestDir: manifests, env: env(emptyBin) }),
      (e) => isTeeError(e, 'E_USAGE'),
    );
  }
});

test('direct runs the built CLI with node and the given arguments', () => {
  const args = enclaveArgs({
    launcher: 'direct',
    mode: 'split',
    model: 'resnet18',
    batchSize: 8,
    inputSize: 32,
    numClasses: 10,
    threads: 2,
    inbox: '/x/inbox',
    sealed: '/x/sealed',
  });
  const p = planLaunch({ launcher: 'direct', args, appDir: '.' });
  assert.equal(p.command, process.execPath);
  assert.deepEqual(p.args, [resolve(CLI_PATH), ...args]);
  assert.deepEqual(args.slice(0, 3), ['enclave', '--launcher', 'direct']);
  assert.equal(p.cwd, resolve('.'));
  assert.throws(
    () => planLaunch({ launcher: 'direct', appDir: dir }),
    (e) => isTeeError(e, 'E_IO'),
  );
  assert.throws(() => planLaunch({ launcher: 'bogus' as 'direct' }), RangeError);
});

// A stand-in for Gramine's launcher: records its arguments and working directory.
function fakeGramine(name: string): string {
  const bin = join(dir, `bin-${name}`);
  mkdirSync(bin, { recursive: true });
  const script = join(bin, name);
  writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$PWD" "$@" > "${join(dir, `${name}.log`)}"\nexit 3\n`);
  chmodSync(script, 0o755);
  return bin;
}

test('gramine-direct is spawned as `gramine-direct ./tee-offload` in the manifest directory', async () => {
  const bin = fakeGramine('gramine-direct');
  assert.throws(
    () => planLaunch({ launcher: 'gramine-direct', manifestDir: manifests, env: env(bin) }),
    (e) => isTeeError(e, 'E_IO') && /tee-offload\.manifest not found: run `make`/.test(e.message),
  );
  writeFileSync(join(manifests, 'tee-offload.manifest'), '');
  assert.equal(findOnPath('gramine-direct', `${emptyBin}:${bin}`), join(bin, 'gramine-direct'));
  const p = launchEnclave({
    launcher: 'gramine-direct',
    manifestDir: manifests,
    env: env(bin),
    stdio: 'ignore',
  });
  assert.deepEqual(p.plan.args, ['./tee-offload']);
  assert.deepEqual(await p.exited, { code: 3, signal: null });
  assert.deepEqual(readFileSync(join(dir, 'gramine-direct.log'), 'utf8').trim().split('\n'), [
    manifests,
    './tee-offload',
  ]);
  assert.throws(
    () => planLaunch({ launcher: 'gramine-direct', manifestDir: manifests, env: env(bin), args: ['--x'] }),
    RangeError,
  );
});

test('gramine-sgx needs the signed manifest and an SGX device', () => {
  const bin = fakeGramine('gramine-sgx');
  const o = { launcher: 'gramine-sgx' as const, manifestDir: manifests, env: env(bin) };
  assert.throws(
    () => planLaunch(o),
    (e) => isTeeError(e, 'E_IO') && /manifest\.sgx not found/.test(e.message),
  );
  writeFileSync(join(manifests, 'tee-offload.manifest.sgx'), '');
  writeFileSync(join(manifests, 'tee-offload.sig'), '');
  assert.throws(
    () => planLaunch({ ...o, sgxDevices: [join(dir, 'no-sgx_enclave')] }),
    (e) => isTeeError(e, 'E_USAGE') && /no SGX device/.test(e.message),
  );
  const dev = join(dir, 'sgx_enclave');
  writeFileSync(dev, '');
  const p = planLaunch({ ...o, sgxDevices: [dev] });
  assert.deepEqual([p.command, p.args, p.cwd], [join(bin, 'gramine-sgx'), ['./tee-offload'], manifests]);
});
