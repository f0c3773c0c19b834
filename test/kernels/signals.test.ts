// Signals during native kernels (native/signals.h): oneDNN's JIT sgemm moves the stack pointer into the
// heap while it runs, so before every exported function blocked asynchronous signals a signal landing in
// one corrupted the heap (the CPU profiler's SIGPROF or a burst of SIGUSR2 crashed these children within
// a second). Each child repeats convolution backward-weight products for 1.5 s while signals arrive and
// must report every result bit-identical to its first, have handled the signals, and exit cleanly.
import assert from 'node:assert/strict';
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./signal-storm-child.js', import.meta.url));

interface Report {
  rounds: number;
  mismatches: number;
  handled: number;
}

interface Outcome {
  report: Report | null;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs the child; `onReady` starts whatever sends it signals and returns how to stop that. */
function runChild(
  execArgv: string[],
  threads: number,
  onReady: (child: ChildProcess) => () => void,
): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = fork(CHILD, [String(threads), '1500'], {
      execArgv,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    let report: Report | null = null;
    let stop = (): void => {};
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('message', (m: { ready?: boolean } & Partial<Report>) => {
      if (m.ready) {
        stop = onReady(child);
        return;
      }
      stop();
      report = m as Report;
      child.send('stop');
    });
    child.on('exit', (code, signal) => {
      stop();
      resolve({ report, code, signal, stderr });
    });
  });
}

function assertClean(o: Outcome): Report {
  assert.equal(o.signal, null, `the child died of ${o.signal}: ${o.stderr.slice(-300)}`);
  assert.equal(o.code, 0, `the child exited with ${o.code}: ${o.stderr.slice(-300)}`);
  assert.ok(o.report, 'the child sent no report');
  assert.ok(o.report.rounds > 0);
  assert.equal(o.report.mismatches, 0, 'a result changed while signals arrived');
  return o.report;
}

test('the CPU profiler (SIGPROF every 100 µs to the main thread) leaves native products intact', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tee-signals-'));
  try {
    const o = await runChild(
      ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', dir],
      1,
      () => () => {},
    );
    assertClean(o);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const threads of [1, 2]) {
  test(`a burst of process-directed SIGUSR2 leaves native products intact (${threads} thread(s))`, async () => {
    let sent = 0;
    const o = await runChild([], threads, (child) => {
      const timer = setInterval(() => {
        for (let i = 0; i < 20; i++) {
          if (child.pid !== undefined && child.exitCode === null && child.kill('SIGUSR2')) sent++;
        }
      }, 1);
      return () => clearInterval(timer);
    });
    const report = assertClean(o);
    assert.ok(sent > 100, `only ${sent} signals were sent`);
    assert.ok(report.handled > 0, 'the child handled no signal: the test did not exercise anything');
  });
}
