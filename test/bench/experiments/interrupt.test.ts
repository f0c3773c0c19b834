// Ctrl-C during an experiment: the command exits 130 and the accelerator it started is gone.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { it } from 'node:test';

function refused(address: string): Promise<boolean> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(':')),
    Number(address.slice(address.lastIndexOf(':') + 1)),
  ];
  return new Promise((ok) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      ok(false);
    });
    s.once('error', () => ok(true));
  });
}

it('stops the helper processes when interrupted (SIGINT) and exits 130', async () => {
  const child = spawn(
    process.execPath,
    [
      resolve('dist/src/cli/main.js'),
      'bench',
      'matrix',
      '--rows',
      '4096',
      '--modes',
      'split-float',
      '--repeats',
      '200',
      '--warmup',
      '0',
      '--threads',
      '1',
      '--out',
      '/nonexistent-never-written',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  const address = await new Promise<string>((ok, fail) => {
    child.stderr.on('data', (b: Buffer) => {
      err += b.toString();
      const m = /accelerator listening on (\S+)/.exec(err);
      // Interrupt once the split samples are under way.
      if (m && /split-float .*sample 1\//.test(err)) ok(m[1]!);
    });
    child.once('exit', () => fail(new Error(`exited early: ${err}`)));
  });
  assert.equal(await refused(address), false, 'the accelerator is up while the experiment runs');
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.match(err, /SIGINT: stopped 1 helper process/);
  // SIGKILL is delivered asynchronously: give the kernel a moment to close the socket.
  let gone = false;
  for (let i = 0; i < 40 && !gone; i++) {
    gone = await refused(address);
    if (!gone) await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(gone, true, 'the accelerator was stopped');
});
