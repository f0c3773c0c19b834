// Temporary directories a killed run leaves behind are swept by the next run: only directories with the
// prefix whose owner process is gone; a live owner (this process), a directory without an owner file, one
// with an unreadable owner and one without the prefix all stay.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { makeOwnedTempDir, sweepStaleTempDirs } from '../../src/io/owned-temp-dir.js';

describe('owned temporary directories', () => {
  it('marks a new directory with this process and sweeps only those whose owner is gone', () => {
    const parent = mkdtempSync(join(tmpdir(), 'owned-temp-test-'));
    try {
      const mine = makeOwnedTempDir('run-', parent);
      assert.equal(readFileSync(join(mine, 'owner'), 'utf8').trim(), String(process.pid));
      assert.equal(statSync(mine).mode & 0o777, 0o700);
      // A process that has exited: its pid names no process now.
      const child = spawnSync(process.execPath, ['-e', '0']);
      assert.equal(child.status, 0);
      const deadPid = child.pid!;
      const dead = join(parent, 'run-dead');
      mkdirSync(join(dead, 'plain'), { recursive: true });
      writeFileSync(join(dead, 'owner'), `${deadPid}\n`);
      writeFileSync(join(dead, 'plain', 'key'), 'secret');
      const noOwner = join(parent, 'run-noowner');
      mkdirSync(noOwner);
      const garbled = join(parent, 'run-garbled');
      mkdirSync(garbled);
      writeFileSync(join(garbled, 'owner'), 'not a pid');
      const other = join(parent, 'other-dead');
      mkdirSync(other);
      writeFileSync(join(other, 'owner'), `${deadPid}\n`);

      assert.deepEqual(sweepStaleTempDirs('run-', parent), [dead]);
      assert.equal(existsSync(dead), false);
      for (const d of [mine, noOwner, garbled, other]) assert.ok(existsSync(d), d);
      assert.deepEqual(sweepStaleTempDirs('run-', join(parent, 'missing')), []);
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });
});
