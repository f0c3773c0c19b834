import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
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
  assert.match(makefile, /\n\tgramine-sgx-sign --key \$\(SGX_SIGNER_KEY\) --manifest \$< --output \$<\.sgx/);
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
