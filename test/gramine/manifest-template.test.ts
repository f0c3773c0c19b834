import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import {
  ADDON_PATH,
  CLI_PATH,
  type DeploymentOptions,
  planDeployment,
} from '../../src/gramine/deployment.js';
import { renderManifestTemplate, tomlString } from '../../src/gramine/manifest-template.js';
import { isGlibcLibrary, parseLdd } from '../../src/gramine/shared-libraries.js';
import { at, leafPaths, parseManifest, parseSize, TEST_VALUES, type Toml } from './render.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-gramine-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const APP = resolve('.');
const ADDON = join(APP, ADDON_PATH);
const NODE = realpathSync(process.execPath);

function options(over: Partial<DeploymentOptions> = {}): DeploymentOptions {
  return {
    model: 'resnet18',
    batchSize: 32,
    inputSize: 32,
    numClasses: 10,
    threads: 4,
    mode: 'split',
    outDir: join(dir, 'out'),
    node: process.execPath,
    appDir: APP,
    ...over,
  };
}

const plan = planDeployment(options());
const doc = parseManifest(plan.template);

// Keys of Gramine's manifest schema (graminelibos/manifest_check.py) in both 1.8 and 1.9.
const KNOWN = [
  'libos.entrypoint',
  'loader.entrypoint.uri',
  'loader.log_level',
  'loader.argv',
  'sys.stack.size',
  'sys.enable_extra_runtime_domain_names_conf',
  'fs.mounts',
  'sgx.debug',
  'sgx.edmm_enable',
  'sgx.enclave_size',
  'sgx.max_threads',
  'sgx.remote_attestation',
  'sgx.isvprodid',
  'sgx.isvsvn',
  'sgx.trusted_files',
  'sgx.allowed_files',
];

function strings(doc: Toml, key: string): string[] {
  const v = at(doc, key);
  assert.ok(Array.isArray(v), `${key} is an array`);
  for (const x of v) assert.equal(typeof x, 'string', `${key} holds strings`);
  return v as string[];
}

interface Mount {
  type?: string;
  path: string;
  uri?: string;
  key_name?: string;
}

const mounts = at(doc, 'fs.mounts') as Mount[];

test('the template is valid TOML once rendered and uses only keys Gramine 1.8 and 1.9 know', () => {
  for (const k of leafPaths(doc)) {
    assert.ok(KNOWN.includes(k) || k.startsWith('loader.env.'), `unknown manifest key ${k}`);
  }
  for (const m of mounts) {
    for (const k of Object.keys(m))
      assert.ok(['type', 'path', 'uri', 'key_name'].includes(k), `mount key ${k}`);
    assert.ok(['chroot', 'encrypted', 'tmpfs', undefined].includes(m.type), `mount type ${m.type}`);
    assert.ok(m.path.startsWith('/'), `mount path ${m.path} is absolute`);
    if (m.type !== 'tmpfs') assert.ok(m.uri?.startsWith('file:'), `mount ${m.path} has a file: uri`);
  }
  for (const env of Object.values(at(doc, 'loader.env') as Toml)) assert.equal(typeof env, 'string');
  assert.equal(at(doc, 'loader.log_level'), TEST_VALUES.logLevel);
});

test('node is the entrypoint, behind the Gramine LibOS', () => {
  assert.equal(at(doc, 'libos.entrypoint'), NODE);
  assert.equal(at(doc, 'loader.entrypoint.uri'), `file:${TEST_VALUES.libos}`);
  assert.ok(
    mounts.some((m) => m.path === NODE && m.uri === `file:${NODE}`),
    'node is mounted',
  );
});

test('argv runs the built CLI as `enclave --launcher gramine-sgx` with the settings', () => {
  const argv = strings(doc, 'loader.argv');
  assert.equal(argv[0], NODE);
  const script = argv.indexOf(join(APP, CLI_PATH));
  assert.ok(script > 0, 'the CLI script is in argv');
  assert.ok(
    argv.slice(1, script).every((f) => f.startsWith('--')),
    'only node flags before the script',
  );
  assert.ok(argv.includes('--max-old-space-size=512') && argv.includes('--v8-pool-size=4'));
  assert.deepEqual(argv.slice(script + 1, script + 4), ['enclave', '--launcher', 'gramine-sgx']);
  const flag = (f: string) => argv[argv.indexOf(f) + 1];
  assert.equal(flag('--model'), 'resnet18');
  assert.equal(flag('--batch-size'), '32');
  assert.equal(flag('--input-size'), '32');
  assert.equal(flag('--num-classes'), '10');
  assert.equal(flag('--threads'), '4');
  assert.equal(flag('--mode'), 'split');
  assert.equal(flag('--inbox'), join(dir, 'out', 'inbox'));
  assert.equal(flag('--sealed'), join(dir, 'out', 'sealed'));
  assert.equal(at(doc, 'loader.insecure__use_cmdline_argv'), undefined, 'the host cannot choose argv');
});

test("LD_LIBRARY_PATH puts Gramine's runtime first, then the system libraries", () => {
  const ld = String(at(doc, 'loader.env.LD_LIBRARY_PATH')).split(':');
  assert.deepEqual(ld.slice(0, 3), ['/lib', TEST_VALUES.archLibdir, `/usr${TEST_VALUES.archLibdir}`]);
  const lib = mounts.find((m) => m.path === '/lib');
  assert.equal(lib?.uri, `file:${TEST_VALUES.runtimedir}`, '/lib is Gramine runtime dir');
  assert.ok(
    mounts.findIndex((m) => m.path === '/lib') < mounts.findIndex((m) => m.path === TEST_VALUES.archLibdir),
  );
  for (const d of ld)
    assert.ok(
      mounts.some((m) => m.path === d),
      `${d} is mounted`,
    );
});

test('the thread pools are pinned to what sgx.max_threads counts', () => {
  assert.equal(at(doc, 'loader.env.OMP_NUM_THREADS'), '4');
  assert.equal(at(doc, 'loader.env.OMP_THREAD_LIMIT'), '4');
  assert.equal(at(doc, 'loader.env.OPENBLAS_NUM_THREADS'), '4');
  assert.equal(at(doc, 'loader.env.UV_THREADPOOL_SIZE'), '4');
  const max = at(doc, 'sgx.max_threads');
  assert.ok(Number.isInteger(max));
  // kernel threads + libuv pool + V8 pool + the main thread + Gramine's 3 helpers, at least
  assert.ok((max as number) >= 4 + 4 + 4 + 1 + 3, `max_threads ${max}`);
  assert.equal(max, plan.threads.total);
});

test('trusted files: node, the app, the addon and the libraries ldd finds for it', () => {
  const trusted = strings(doc, 'sgx.trusted_files');
  assert.ok(trusted.includes(`file:${NODE}`));
  assert.ok(trusted.includes(`file:${TEST_VALUES.runtimedir}/`), "Gramine's glibc");
  assert.ok(trusted.includes(`file:${ADDON}`));
  assert.ok(trusted.includes(`file:${APP}/dist/src/`));
  assert.ok(trusted.includes(`file:${APP}/package.json`), 'node reads it to know dist/ is ESM');
  assert.ok(!trusted.some((t) => t.includes('node-addon-api')), 'build-only packages are left out');
  const r = existsSync(ADDON) ? spawnSync('ldd', [ADDON], { encoding: 'utf8' }) : undefined;
  if (r === undefined || r.error || r.status !== 0) {
    assert.equal(plan.scan.source, 'default');
    for (const l of ['libopenblas.so.0', 'libdnnl.so.2', 'libgomp.so.1', 'libstdc++.so.6']) {
      assert.ok(trusted.includes(`file:${TEST_VALUES.archLibdir}/${l}`), l);
    }
    return;
  }
  const libs = parseLdd(r.stdout).libraries;
  assert.ok(libs.length > 0);
  for (const l of libs) {
    if (isGlibcLibrary(l)) continue; // served from Gramine's runtime dir, trusted as a whole
    assert.ok(trusted.includes(`file:${l}`), `${l} is trusted`);
  }
  assert.ok(libs.some((l) => l.includes('libopenblas') || l.includes('libdnnl') || l.includes('libgomp')));
});

test('allowed files are the inbox only, mounted; the sealed directory is an encrypted mount', () => {
  const inbox = join(dir, 'out', 'inbox');
  assert.deepEqual(strings(doc, 'sgx.allowed_files'), [`file:${inbox}/`]);
  assert.ok(mounts.some((m) => m.path === inbox && m.uri === `file:${inbox}` && m.type === undefined));
  const enc = mounts.filter((m) => m.type === 'encrypted');
  assert.equal(enc.length, 1);
  assert.deepEqual(
    { ...enc[0] },
    {
      type: 'encrypted',
      path: join(dir, 'out', 'sealed'),
      uri: `file:${join(dir, 'out', 'sealed')}`,
      key_name: '_sgx_mrenclave',
    },
  );
  assert.ok(mounts.some((m) => m.type === 'tmpfs' && m.path === '/tmp'));
});

test('DCAP attestation, production enclave, no EDMM, ISV ids set', () => {
  assert.equal(at(doc, 'sgx.remote_attestation'), 'dcap');
  assert.equal(at(doc, 'sgx.debug'), false);
  assert.equal(at(doc, 'sgx.edmm_enable'), false);
  assert.equal(at(doc, 'sgx.isvprodid'), 1);
  assert.equal(at(doc, 'sgx.isvsvn'), 1);
  const debug = parseManifest(planDeployment(options({ debug: true, isvprodid: 7, isvsvn: 3 })).template);
  assert.equal(at(debug, 'sgx.debug'), true);
  assert.equal(at(debug, 'sgx.isvprodid'), 7);
  assert.equal(at(debug, 'sgx.isvsvn'), 3);
});

test('sgx.enclave_size is a power of two at least the estimate, and the breakdown is in the file', () => {
  const size = parseSize(String(at(doc, 'sgx.enclave_size')));
  assert.ok(size >= plan.estimate.estimateBytes);
  assert.ok(size < 2 * plan.estimate.estimateBytes, 'the smallest such power');
  assert.equal(size & (size - 1), 0);
  for (const i of plan.estimate.items) assert.ok(plan.template.includes(`#   ${i.name}: `), i.name);
  const big = planDeployment(options({ model: 'vgg16_bn', inputSize: 224, batchSize: 64 }));
  assert.ok(parseSize(String(at(parseManifest(big.template), 'sgx.enclave_size'))) > size);
});

test('arguments after -- reach argv; --mode enclave is passed on', () => {
  const p = planDeployment(options({ mode: 'enclave', extraArgs: ['--listen', '0.0.0.0:7000'] }));
  const argv = strings(parseManifest(p.template), 'loader.argv');
  assert.deepEqual(argv.slice(-2), ['--listen', '0.0.0.0:7000']);
  assert.equal(argv[argv.indexOf('--mode') + 1], 'enclave');
});

test('odd paths are escaped, and Jinja markup in a path is refused', () => {
  const weird = join(dir, 'in "box" \\ dir');
  const p = planDeployment(options({ inbox: weird }));
  assert.deepEqual(strings(parseManifest(p.template), 'sgx.allowed_files'), [`file:${weird}/`]);
  assert.equal(tomlString('a\nb'), '"a\\u000ab"');
  assert.throws(() => planDeployment(options({ sealed: join(dir, '{{ evil }}') })), RangeError);
  assert.throws(
    () => planDeployment(options({ inbox: join(dir, 'same'), sealed: join(dir, 'same') })),
    RangeError,
  );
  assert.throws(
    () => planDeployment(options({ inbox: join(dir, 'in'), sealed: join(dir, 'in', 'sealed') })),
    /must not contain each other/,
  );
});

test('libraries outside the standard directories get a mount and a place on LD_LIBRARY_PATH', () => {
  const spec = { ...plan.spec, libraries: [...plan.spec.libraries, '/opt/blas/lib/libfoo.so.1'] };
  const d = parseManifest(renderManifestTemplate(spec));
  assert.ok(String(at(d, 'loader.env.LD_LIBRARY_PATH')).endsWith(':/opt/blas/lib'));
  assert.ok((at(d, 'fs.mounts') as Mount[]).some((m) => m.path === '/opt/blas/lib'));
  assert.ok(strings(d, 'sgx.trusted_files').includes('file:/opt/blas/lib/libfoo.so.1'));
});
