import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { runtimePackages } from '../../src/gramine/runtime-modules.js';
import {
  DEFAULT_ADDON_LIBRARIES,
  isGlibcLibrary,
  parseLdd,
  scanLibraries,
} from '../../src/gramine/shared-libraries.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-libs-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('parses ldd output: resolved paths, the loader, no vdso, unresolved names apart', () => {
  const out = [
    '\tlinux-vdso.so.1 (0x00007ffd31fee000)',
    '\tlibopenblas.so.0 => /lib/x86_64-linux-gnu/libopenblas.so.0 (0x00007f007d8c8000)',
    '\tlibdnnl.so.2 => /lib/x86_64-linux-gnu/libdnnl.so.2 (0x00007f007b200000)',
    '\tlibfoo.so.3 => not found',
    '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f007ac1e000)',
    '\t/lib64/ld-linux-x86-64.so.2 (0x00007f007fc04000)',
    '\tlinux-vdso.so.1 =>  (0x00007ffd31fee000)', // old ldd
  ].join('\n');
  assert.deepEqual(parseLdd(out), {
    libraries: [
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib/x86_64-linux-gnu/libdnnl.so.2',
      '/lib/x86_64-linux-gnu/libopenblas.so.0',
      '/lib64/ld-linux-x86-64.so.2',
    ],
    missing: ['libfoo.so.3'],
  });
  const two = '/a/x:\n\tlibm.so.6 => /lib/libm.so.6 (0x1)\n/a/y:\n\tlibm.so.6 => /lib/libm.so.6 (0x1)\n';
  assert.deepEqual(parseLdd(two).libraries, ['/lib/libm.so.6']);
});

test("glibc's libraries are told apart (Gramine's runtime dir provides them)", () => {
  for (const l of [
    'libc.so.6',
    'libm.so.6',
    'libpthread.so.0',
    'libdl.so.2',
    'ld-linux-x86-64.so.2',
    'libnss_dns.so.2',
  ]) {
    assert.ok(isGlibcLibrary(`/lib/x86_64-linux-gnu/${l}`), l);
  }
  for (const l of ['libstdc++.so.6', 'libgcc_s.so.1', 'libgomp.so.1', 'libopenblas.so.0', 'libcrypto.so.3']) {
    assert.ok(!isGlibcLibrary(`/lib/x86_64-linux-gnu/${l}`), l);
  }
});

test('without ldd the addon gets the documented default list (OpenBLAS, oneDNN, OpenMP, C++ runtime)', () => {
  const s = scanLibraries('/usr/bin/node', '/nowhere/tee_offload.node', { ldd: null, archLibdir: '/lib/a' });
  assert.equal(s.source, 'default');
  assert.deepEqual(s.libraries, DEFAULT_ADDON_LIBRARIES.map((l) => `/lib/a/${l}`).sort());
  assert.equal(s.notes.length, 2);
  const missing = scanLibraries('/usr/bin/node', '/nowhere/x.node', { ldd: join(dir, 'no-ldd') });
  assert.equal(missing.source, 'default');
  assert.match(missing.notes.join('\n'), /cannot run .*no-ldd/);
});

function pkg(path: string, json: object): void {
  mkdirSync(path, { recursive: true });
  writeFileSync(join(path, 'package.json'), JSON.stringify(json));
}

test('run-time packages: dependencies, transitively, without build-only ones or devDependencies', () => {
  const app = join(dir, 'app');
  pkg(app, { dependencies: { a: '1', 'node-addon-api': '8' }, devDependencies: { typescript: '5' } });
  pkg(join(app, 'node_modules', 'a'), { dependencies: { b: '1', c: '1' } });
  pkg(join(app, 'node_modules', 'b'), { dependencies: { a: '1' } }); // a cycle
  pkg(join(app, 'node_modules', 'a', 'node_modules', 'c'), {}); // nested, not hoisted
  pkg(join(app, 'node_modules', 'node-addon-api'), {});
  pkg(join(app, 'node_modules', 'typescript'), {});
  assert.deepEqual(runtimePackages(app), {
    dirs: [
      join(app, 'node_modules', 'a'),
      join(app, 'node_modules', 'a', 'node_modules', 'c'),
      join(app, 'node_modules', 'b'),
    ],
    missing: [],
  });
  const lone = join(dir, 'lone');
  pkg(lone, { dependencies: { gone: '1' } });
  assert.deepEqual(runtimePackages(lone), { dirs: [], missing: ['gone'] });
  const bad = join(dir, 'bad');
  mkdirSync(bad);
  writeFileSync(join(bad, 'package.json'), '{ not json');
  assert.throws(
    () => runtimePackages(bad),
    (e) => isTeeError(e, 'E_IO'),
  );
});
