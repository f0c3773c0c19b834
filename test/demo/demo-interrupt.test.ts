// An interrupted `tee-offload demo` leaves nothing behind: the demo runs as a child process until its
// trusted process has answered (the SIMULATED-attestation note), then gets SIGTERM (exit 143; both
// helper processes gone, its temporary data and key removed) or SIGKILL (the helpers notice that their
// parent died, through their IPC channel, and stop by themselves).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const CLI = resolve('dist/src/cli/main.js');
const dir = mkdtempSync(join(tmpdir(), 'tee-offload-demo-interrupt-'));
/** What the tests started, for after() to end should an assertion fail first. */
const demos: ChildProcess[] = [];
const helpers: { pid: number; cmd: string }[] = [];

/** The state letter and parent of a process, or null when it is gone. */
function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // the name may hold spaces and parentheses
    return { state: f[0]!, ppid: Number(f[1]) };
  } catch {
    return null;
  }
}

/** Every live process descended from `root`, with its command line. */
function descendants(root: number): { pid: number; cmd: string }[] {
  const parent = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = procStat(Number(name));
    if (st !== null && st.state !== 'Z') parent.set(Number(name), st.ppid);
  }
  const out: { pid: number; cmd: string }[] = [];
  const want = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (want.has(ppid) && !want.has(pid)) {
        want.add(pid);
        grew = true;
        out.push({ pid, cmd: cmdline(pid) });
      }
    }
  }
  return out;
}

/** Gone, or a zombie waiting for whoever adopted it: either way no longer running. */
const running = (pid: number) => {
  const st = procStat(pid);
  return st !== null && st.state !== 'Z';
};

async function waitFor(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a small demo with its own TMPDIR; resolves once its trusted process has answered. */
async function startDemo(name: string): Promise<{ child: ChildProcess; tmp: string; out: () => string }> {
  const tmp = join(dir, name, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const child = spawn(
    process.execPath,
    [
      CLI,
      'demo',
      '--generated',
      '--train-images',
      '64',
      '--test-images',
      '16',
      '--threads',
      '1',
      '--no-report',
      '--out',
      join(dir, name, 'report'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: tmp } },
  );
  demos.push(child);
  let text = '';
  child.stdout!.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  child.stderr!.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  await waitFor(
    'the trusted process to answer',
    () => /^ {2}trusted process: .*SIMULATED/m.test(text),
    60_000,
  );
  return { child, tmp, out: () => text };
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** The command line of a running process (empty when it is gone). */
function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

after(() => {
  for (const c of demos) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  // Only a helper still running under its own command line: never a recycled pid.
  for (const h of helpers) if (running(h.pid) && cmdline(h.pid) === h.cmd) process.kill(h.pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('an interrupted demo', { timeout: 120_000, skip: !existsSync('/proc/self/stat') }, () => {
  it('SIGTERM: exits 143 with its accelerator and trusted process stopped, and its temporary files removed', async () => {
    const { child, tmp, out } = await startDemo('term');
    const kids = descendants(child.pid!);
    helpers.push(...kids);
    assert.ok(
      kids.some((k) => / accelerator /.test(k.cmd)),
      `an accelerator among ${JSON.stringify(kids)}`,
    );
    assert.ok(
      kids.some((k) => / enclave /.test(k.cmd)),
      `a trusted process among ${JSON.stringify(kids)}`,
    );
    assert.ok(readdirSync(tmp).length > 0, 'the demo works in the temporary directory');
    child.kill('SIGTERM');
    const { code, signal } = await exited(child);
    assert.deepEqual({ code, signal }, { code: 143, signal: null }, out());
    await waitFor('every helper to stop', () => kids.every((k) => !running(k.pid)), 5_000);
    assert.deepEqual(readdirSync(tmp), [], 'the data and key are removed');
  });

  it('SIGKILL: the accelerator and trusted process notice that their parent died and stop cleanly', async () => {
    const { child, tmp } = await startDemo('kill');
    const kids = descendants(child.pid!);
    helpers.push(...kids);
    assert.ok(kids.length >= 2, JSON.stringify(kids));
    const session = () => readdirSync(tmp).filter((n) => n.startsWith('tee-offload-session-'));
    await waitFor("the trusted process's session directory", () => session().length > 0, 10_000);
    child.kill('SIGKILL');
    await exited(child);
    await waitFor('every helper to stop by itself', () => kids.every((k) => !running(k.pid)), 15_000);
    assert.deepEqual(session(), [], "the trusted process removed its session's decrypted data");
  });
});
