// Resuming with other settings, end to end: `tee-offload train --resume` refuses a run whose --steps
// differ from its cosine-scheduled checkpoint's with the same E_USAGE line natively and in enclave mode
// (the trainer runs in the trusted process, the error travels back over the session), and a checkpoint
// already at its last step prints that nothing was left to run, without a NaN loss, in both.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ChildEnclave, cli, startChildEnclave, trainArgs } from './harness.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-resume-settings-'));
const f = (name: string) => join(dir, name);
let sealing: ChildEnclave;

/** trainArgs with a cosine schedule, as lines on stderr rather than JSON. */
function args(save: string, extra: readonly string[], steps: number): string[] {
  return trainArgs(save, ['--schedule', 'cosine', ...extra], steps).filter((a) => a !== '--json');
}

const mismatch =
  'was written with --steps 1, this run has --steps 2: a cosine schedule is a function of the run’s length (give --steps 1)';

before(async () => {
  sealing = await startChildEnclave(['--checkpoint-dir', join(dir, 'sealed')]);
});

after(async () => {
  await sealing?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('train --resume with other settings', () => {
  it('is refused natively with one E_USAGE line before any step, and at its last step runs nothing', async () => {
    const ck = f('native.ckpt');
    const first = await cli(args(f('a.safetensors'), ['--checkpoint', ck], 1));
    assert.equal(first.code, 0, first.stderr);
    const longer = await cli(args(f('b.safetensors'), ['--resume', ck], 2));
    assert.equal(longer.code, 2, longer.stderr);
    assert.equal(longer.stderr, `tee-offload: E_USAGE: ${ck} ${mismatch}\n`);
    const same = await cli(args(f('c.safetensors'), ['--resume', ck], 1));
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /^nothing to run: the checkpoint is at step 1 of 1$/m);
    assert.doesNotMatch(same.stderr, /NaN|^done:/m);
  });

  it('is refused with the same line in enclave mode, and at its last step runs nothing', async () => {
    const sim = ['--mode', 'enclave', '--enclave', sealing.address, '--allow-simulated'];
    const first = await cli(args(f('d.safetensors'), [...sim, '--checkpoint', 'sealed.ckpt'], 1));
    assert.equal(first.code, 0, first.stderr);
    const longer = await cli(args(f('e.safetensors'), [...sim, '--resume', 'sealed.ckpt'], 2));
    assert.equal(longer.code, 2, longer.stderr);
    const line = longer.stderr.split('\n').find((l) => l.startsWith('tee-offload: E_USAGE'));
    assert.equal(line, `tee-offload: E_USAGE: sealed.ckpt ${mismatch}`);
    const same = await cli([...args(f('g.safetensors'), [...sim, '--resume', 'sealed.ckpt'], 1), '--json']);
    assert.equal(same.code, 0, same.stderr);
    const events = same.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    assert.deepEqual(
      events.map((e) => e.type),
      ['done'],
    );
    assert.equal(events[0]!.step, 1);
    assert.equal(events[0]!.stepsRun, 0);
    assert.equal(events[0]!.startStep, 1);
    assert.equal(events[0]!.totalSteps, 1, 'the trusted process reports the run length too');
    const text = await cli(args(f('h.safetensors'), [...sim, '--resume', 'sealed.ckpt'], 1));
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /^nothing to run: the checkpoint is at step 1 of 1$/m);
  });
});
