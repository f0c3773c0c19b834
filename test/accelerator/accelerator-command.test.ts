import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { computeLinear } from '../../src/accelerator/compute.js';
import { openGpu } from '../../src/accelerator/gpu-linear.js';
import { acceleratorCommand, bytesFlag } from '../../src/cli/commands/accelerator.js';
import { AcceleratorClient } from '../../src/enclave/accelerator-client.js';
import { isTeeError } from '../../src/errors.js';
import { kernels } from '../../src/kernels/index.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { makeRequest } from '../protocol/requests.js';

const COMMAND_JS = new URL('../../src/cli/commands/accelerator.js', import.meta.url).href;

/**
 * `tee-offload accelerator ARGS` in a child process, resolved once its stdout matches `listening` (whose
 * first group is the port); out() and err() are what it has printed so far.
 */
async function spawnAccelerator(
  args: string[],
  listening: RegExp,
  nodeFlags: string[] = [],
): Promise<{
  child: ChildProcessByStdio<null, Readable, Readable>;
  port: number;
  out: () => string;
  err: () => string;
}> {
  const script = `import(${JSON.stringify(COMMAND_JS)}).then(async (m) => { process.exitCode = await m.acceleratorCommand.run(process.argv.slice(1)); });`;
  const child = spawn(process.execPath, [...nodeFlags, '--input-type=module', '-e', script, '--', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      const m = listening.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on('exit', () => reject(new Error(`exited early: ${out} ${err}`)));
  });
  return { child, port, out: () => out, err: () => err };
}

/** SIGTERM, then the exit status. */
function stop(child: ChildProcessByStdio<null, Readable, Readable>): Promise<number | null> {
  return new Promise((resolve) => {
    child.on('exit', (status) => resolve(status));
    child.kill('SIGTERM');
  });
}

test('tee-offload accelerator listens, serves, and stops cleanly on SIGTERM', {
  timeout: 30_000,
}, async () => {
  const { child, port, out, err } = await spawnAccelerator(
    ['--listen', '127.0.0.1:0', '--threads', '1'],
    /accelerator listening on 127\.0\.0\.1:(\d+) \(protocol 4, plain TCP, max frame 1073741824 bytes, threads 1/,
  );
  const c = await AcceleratorClient.connect(`127.0.0.1:${port}`);
  const req = makeRequest(new SeededRng(1), 'dense', 'modp', {
    n: 2,
    i: 3,
    o: 2,
    c: 1,
    h: 1,
    w: 1,
    k: 1,
    stride: 1,
    padding: 0,
  });
  assert.equal((await c.call(req)).result.data.length, 4);
  await c.close();
  await new Promise((r) => setTimeout(r, 50));
  const code = await stop(child);
  assert.equal(code, 0, err());
  assert.match(out(), /accelerator stopped \(SIGTERM\): 1 connections, 1 ops served/);
  assert.match(
    err(),
    /^accelerator: peer=127\.0\.0\.1:\d+ ops=1 bytes_in=\d+ bytes_out=\d+ duration_ms=\d+ close="client closed"$/m,
  );
});

test('tee-offload accelerator refuses bad flags with a usage error', async () => {
  const usage = (argv: string[], message: RegExp) =>
    assert.rejects(acceleratorCommand.run(argv), (e) => isTeeError(e, 'E_USAGE') && message.test(e.message));
  await usage(['--listen', 'nowhere'], /^--listen: address 'nowhere' is not host:port/);
  await usage(['--tls-cert', 'c.pem'], /^--tls-cert and --tls-key go together$/);
  await usage(['--max-frame-bytes', '12'], /^--max-frame-bytes must be a byte count/);
  await usage(['--threads', '0'], /^--threads must be an integer ≥ 1/);
  await usage(['--bogus'], /bogus/);
  await usage(['--backend', 'gpu'], /^--backend must be cpu, cuda or emulated, got 'gpu'$/);
  await usage(['--cuda-libs', '/opt/cuda/lib64'], /^--cuda-libs needs --backend cuda$/);
  assert.match(acceleratorCommand.help, /--max-frame-bytes B/);
  assert.match(acceleratorCommand.help, /--backend B/);
});

test('tee-offload accelerator --backend cuda without a usable CUDA stops with E_NATIVE naming what is missing', async (t) => {
  try {
    openGpu('cuda');
    t.skip('a CUDA GPU opens here');
    return;
  } catch {
    // no CUDA: the case under test
  }
  await assert.rejects(
    acceleratorCommand.run(['--listen', '127.0.0.1:0', '--backend', 'cuda', '--cuda-libs', '/nonexistent']),
    (e) =>
      isTeeError(e, 'E_NATIVE') &&
      /cannot open the cuda GPU backend: CUDA: no (driver|NVRTC|cuBLAS) library/.test(e.message),
  );
});

test('tee-offload accelerator --backend emulated serves products and says where they run', {
  timeout: 30_000,
}, async () => {
  const { child, port } = await spawnAccelerator(
    ['--listen', '127.0.0.1:0', '--backend', 'emulated'],
    /listening on 127\.0\.0\.1:(\d+) .*products on CPU emulation of the GPU backend \(emulated\)\)/,
  );
  const c = await AcceleratorClient.connect(`127.0.0.1:${port}`);
  const req = makeRequest(new SeededRng(2), 'conv2d', 'wide', {
    n: 2,
    i: 1,
    o: 3,
    c: 2,
    h: 5,
    w: 5,
    k: 3,
    stride: 1,
    padding: 1,
  });
  const got = (await c.call(req)).result;
  const want = await computeLinear(kernels, req);
  assert.deepEqual(Array.from(got.data), Array.from(want.data));
  await c.close();
  assert.equal(await stop(child), 0);
});

test('byte counts take binary suffixes', () => {
  assert.equal(bytesFlag('256M', 'x', 0), 256 * 2 ** 20);
  assert.equal(bytesFlag('1GiB', 'x', 0), 2 ** 30);
  assert.equal(bytesFlag('4096', 'x', 0), 4096);
  assert.equal(bytesFlag(undefined, 'x', 7), 7);
});

test('tee-offload accelerator under a Node given per-process flags (--max-old-space-size) still computes', {
  timeout: 30_000,
}, async () => {
  // A worker refuses V8 flags in its execArgv; the compute worker then starts without them instead of
  // failing every product (backend.ts startWorker).
  const { child, port } = await spawnAccelerator(
    ['--listen', '127.0.0.1:0', '--threads', '1'],
    /accelerator listening on 127\.0\.0\.1:(\d+)/,
    ['--max-old-space-size=4096'],
  );
  const c = await AcceleratorClient.connect(`127.0.0.1:${port}`);
  try {
    const req = makeRequest(new SeededRng(3), 'conv2d', 'f32', {
      n: 1,
      i: 1,
      o: 2,
      c: 2,
      h: 4,
      w: 4,
      k: 3,
      stride: 1,
      padding: 1,
    });
    const got = (await c.call(req)).result;
    assert.deepEqual(Array.from(got.data), Array.from((await computeLinear(kernels, req)).data));
  } finally {
    await c.close();
  }
  assert.equal(await stop(child), 0);
});
