import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openCifar10 } from '../../src/data/cifar10.js';
import { CIFAR10_URL_ENV, fetchCifar10 } from '../../src/data/fetch-cifar10.js';
import { isTeeError } from '../../src/errors.js';
import { cifarFileSet, gzip, tarBytes, tempDir } from './make-files.js';

const tmp = tempDir();
const PER_FILE = 2;
const archive = gzip(
  tarBytes([
    ...cifarFileSet(PER_FILE).map((f) => ({ name: `cifar-10-batches-bin/${f.name}`, data: f.data })),
    { name: 'cifar-10-batches-bin/batches.meta.txt', data: new TextEncoder().encode('airplane\n') },
    { name: '../escape.bin', data: new Uint8Array(3073) },
  ]),
);
const md5 = createHash('md5').update(archive).digest('hex');
const lacking = gzip(
  tarBytes(
    cifarFileSet(PER_FILE)
      .slice(1)
      .map((f) => ({ name: f.name, data: f.data })),
  ),
);

let server: Server;
let base = '';
let unreachable = '';
const opts = (extra: object = {}) => ({ md5, recordsPerFile: PER_FILE, timeoutMs: 5000, ...extra });

before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/cifar.tar.gz') res.end(archive);
    else if (req.url === '/moved') res.writeHead(302, { location: '/cifar.tar.gz' }).end();
    else if (req.url === '/lacking.tar.gz') res.end(lacking);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A port that was just free: connecting is refused at once.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  unreachable = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/cifar-10-binary.tar.gz`;
  await new Promise((r) => probe.close(r));
});

after(async () => {
  await new Promise((r) => server.close(r));
  tmp.remove();
});

test('downloads the archive, verifies its MD5, unpacks it and reports the download', async () => {
  const dir = join(tmp.path, 'dl');
  const r = await fetchCifar10(dir, opts({ url: `${base}/cifar.tar.gz` }));
  assert.equal(r.source, 'download');
  assert.equal(r.dir, join(dir, 'cifar-10-batches-bin'));
  assert.match(
    r.message,
    /downloaded from http:\/\/127\.0\.0\.1:\d+\/cifar\.tar\.gz \(MD5 verified\), unpacked 12 records/,
  );
  assert.ok(existsSync(join(dir, 'cifar-10-binary.tar.gz')));
  assert.ok(existsSync(join(r.dir, 'batches.meta.txt')));
  assert.ok(!existsSync(join(tmp.path, 'escape.bin')) && !existsSync(join(dir, 'escape.bin')));
  assert.deepEqual(readdirSync(dir).sort(), ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']);
  assert.equal(openCifar10(dir, 'train').length, 10);
  assert.equal(openCifar10(dir, 'test').get(1).label, 1);

  const again = await fetchCifar10(dir, opts({ url: unreachable }));
  assert.equal(again.source, 'folder');
  assert.match(again.message, /already present in .*cifar-10-batches-bin: verified 12 records in 6 files/);
});

test('follows redirects and takes the URL from TEE_OFFLOAD_CIFAR10_URL', async () => {
  const saved = process.env[CIFAR10_URL_ENV];
  process.env[CIFAR10_URL_ENV] = `${base}/moved`;
  try {
    const r = await fetchCifar10(join(tmp.path, 'env'), opts());
    assert.equal(r.source, 'download');
    assert.match(r.message, /\/moved/);
  } finally {
    if (saved === undefined) delete process.env[CIFAR10_URL_ENV];
    else process.env[CIFAR10_URL_ENV] = saved;
  }
});

test('an archive already present is verified and unpacked without the network', async () => {
  const dir = join(tmp.path, 'local');
  mkdirSync(dir);
  writeFileSync(join(dir, 'cifar-10-binary.tar.gz'), archive);
  const r = await fetchCifar10(dir, opts({ url: unreachable }));
  assert.equal(r.source, 'archive');
  assert.match(r.message, /archive already present \(MD5 verified\)/);
  assert.equal(openCifar10(dir).length, 10);
});

test('a download whose MD5 does not match is rejected (E_FORMAT) and nothing is kept', async () => {
  const dir = join(tmp.path, 'badmd5');
  await assert.rejects(
    fetchCifar10(dir, opts({ url: `${base}/cifar.tar.gz`, md5: '0'.repeat(32) })),
    (e) => isTeeError(e, 'E_FORMAT') && e.message.includes(`has MD5 ${md5}, expected ${'0'.repeat(32)}`),
  );
  assert.ok(!existsSync(dir), 'the folder it created is removed again');
});

test('an archive already present with the wrong MD5 is rejected (E_FORMAT)', async () => {
  const dir = join(tmp.path, 'badlocal');
  mkdirSync(dir);
  writeFileSync(join(dir, 'cifar-10-binary.tar.gz'), archive.subarray(0, 100));
  await assert.rejects(
    fetchCifar10(dir, opts({ url: unreachable })),
    (e) => isTeeError(e, 'E_FORMAT') && /damaged or incomplete; delete it and fetch again/.test(e.message),
  );
});

test('an unreachable server fails fast (E_IO) naming the URL and the file to place by hand', async () => {
  const dir = join(tmp.path, 'offline');
  const t0 = Date.now();
  await assert.rejects(fetchCifar10(dir, opts({ url: unreachable })), (e) => {
    assert.ok(isTeeError(e, 'E_IO'));
    assert.ok(e.message.includes(`cannot download CIFAR-10 from ${unreachable}`), e.message);
    assert.ok(e.message.includes(`place cifar-10-binary.tar.gz (MD5 ${md5}) in ${dir}`), e.message);
    assert.match(e.message, /ECONNREFUSED/);
    return true;
  });
  assert.ok(Date.now() - t0 < 3000);
  assert.ok(!existsSync(dir), 'the folder it created is removed again');
  const existing = join(tmp.path, 'existing');
  mkdirSync(existing);
  await assert.rejects(fetchCifar10(existing, opts({ url: unreachable })), (e) => isTeeError(e, 'E_IO'));
  assert.deepEqual(readdirSync(existing), []);
});

test('an HTTP error status is E_IO with the status', async () => {
  await assert.rejects(
    fetchCifar10(join(tmp.path, 'http404'), opts({ url: `${base}/nothing-here` })),
    (e) => isTeeError(e, 'E_IO') && /HTTP 404/.test(e.message),
  );
});

test('an archive that lacks a data file is rejected (E_FORMAT)', async () => {
  const lackingMd5 = createHash('md5').update(lacking).digest('hex');
  await assert.rejects(
    fetchCifar10(join(tmp.path, 'lacking'), opts({ url: `${base}/lacking.tar.gz`, md5: lackingMd5 })),
    (e) => isTeeError(e, 'E_FORMAT') && /lacks data_batch_1\.bin/.test(e.message),
  );
});

test('a folder already present with the wrong record count is rejected (E_FORMAT)', async () => {
  const dir = join(tmp.path, 'short', 'cifar-10-batches-bin');
  mkdirSync(dir, { recursive: true });
  for (const f of cifarFileSet(PER_FILE)) writeFileSync(join(dir, f.name), f.data);
  await assert.rejects(
    fetchCifar10(join(tmp.path, 'short'), { url: unreachable }),
    (e) => isTeeError(e, 'E_FORMAT') && /6146 bytes, expected 10000 records of 3073 bytes/.test(e.message),
  );
  const copy = join(tmp.path, 'short2');
  mkdirSync(copy);
  for (const f of cifarFileSet(PER_FILE).slice(1)) copyFileSync(join(dir, f.name), join(copy, f.name));
  await assert.rejects(
    fetchCifar10(copy, opts({ url: unreachable })),
    (e) => isTeeError(e, 'E_IO') && /incomplete: missing data_batch_1\.bin/.test(e.message),
  );
});
