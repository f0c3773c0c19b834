import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { planDeployment, writeDeployment } from '../../src/gramine/deployment.js';
import { renderMakefile } from '../../src/gramine/makefile.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-make-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const makefile = renderMakefile({ archLibdir: '/lib/x86_64-linux-gnu', header: ['test'] });

test('the Makefile renders, signs (with a key made if missing) and runs under both Gramine launchers', () => {
  assert.match(
    makefile,
    /\n\tgramine-manifest -Dlog_level=\$\(LOG_LEVEL\) -Darch_libdir=\$\(ARCH_LIBDIR\) \$< \$@\n/,
  );
  assert.match(makefile, /\n\tgramine-sgx-gen-private-key \$@\n/);
  assert.match(
    makefile,
    /\n\tgramine-sgx-sign --key \$\(SGX_SIGNER_KEY\) --manifest tee-offload\.manifest --output tee-offload\.manifest\.sgx --depfile tee-offload\.d\n/,
  );
  assert.match(makefile, /\nrun-direct: tee-offload\.manifest\n\tgramine-direct \.\/tee-offload\n/);
  assert.match(
    makefile,
    /\nrun-sgx: tee-offload\.manifest\.sgx tee-offload\.sig\n\tgramine-sgx \.\/tee-offload\n/,
  );
  assert.match(makefile, /\nARCH_LIBDIR \?= \/lib\/x86_64-linux-gnu\n/);
  for (const line of makefile.split('\n'))
    assert.ok(!/^ +\S/.test(line), `recipe indented with spaces: ${line}`);
});

const make = spawnSync('make', ['--version'], { encoding: 'utf8' });
test('make -n runs the three Gramine tools in order (dry run, nothing executed)', {
  skip: make.status !== 0 && 'no make',
}, () => {
  const plan = planDeployment({
    model: 'resnet18',
    batchSize: 8,
    inputSize: 32,
    numClasses: 10,
    threads: 2,
    mode: 'split',
    outDir: join(dir, 'out'),
    node: process.execPath,
    appDir: resolve('.'),
  });
  writeDeployment(plan);
  const key = join(dir, 'keys', 'enclave-key.pem');
  const r = spawnSync('make', ['-n', '-C', plan.outDir, `SGX_SIGNER_KEY=${key}`, 'all', 'run-sgx'], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /^(gramine|mkdir)/.test(l));
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['gramine-manifest', 'mkdir', 'gramine-sgx-gen-private-key', 'gramine-sgx-sign', 'gramine-sgx'],
  );
  assert.ok(lines[2]!.endsWith(key));
  assert.ok(
    lines[3]!.includes(`--key ${key} --manifest tee-offload.manifest --output tee-offload.manifest.sgx`),
  );
  const direct = spawnSync('make', ['-n', '-C', plan.outDir, 'run-direct'], { encoding: 'utf8' });
  assert.match(direct.stdout, /^gramine-direct \.\/tee-offload$/m);
});

test("a trusted file newer than the signature (from the signer's depfile) makes make sign again", {
  skip: make.status !== 0 && 'no make',
}, () => {
  const out = join(dir, 'dep');
  writeDeployment(
    planDeployment({
      model: 'resnet18',
      batchSize: 8,
      inputSize: 32,
      numClasses: 10,
      threads: 2,
      mode: 'split',
      outDir: out,
      node: process.execPath,
      appDir: resolve('.'),
    }),
  );
  const key = join(dir, 'dep-key.pem');
  const trusted = join(dir, 'trusted.js');
  const made = ['tee-offload.manifest', 'tee-offload.manifest.sgx', 'tee-offload.sig'].map((f) =>
    join(out, f),
  );
  for (const f of [key, trusted, ...made]) writeFileSync(f, '');
  writeFileSync(join(out, 'tee-offload.d'), `tee-offload.manifest.sgx: \\\n\t${trusted}\n`);
  const at = (f: string, s: number) => utimesSync(f, s, s);
  at(join(out, 'tee-offload.manifest.template'), 1000);
  at(key, 1000);
  at(trusted, 2000);
  for (const f of made) at(f, 3000);
  const dry = () =>
    spawnSync('make', ['-n', '-C', out, `SGX_SIGNER_KEY=${key}`, 'all'], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(dry(), /gramine-/, 'up to date');
  at(trusted, 4000);
  const again = dry();
  assert.match(again, /^gramine-sgx-sign /m);
  assert.doesNotMatch(again, /^gramine-manifest /m);
});
