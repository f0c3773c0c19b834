// The helper processes this process started (trusted processes, accelerators), tracked from spawn to
// exit, so that a signal or 'exit' handler can stop every one still running: an interrupted command must
// not leave a trusted process (and its session directory of decrypted data) behind it.
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

/** Tracks `child` until it exits. */
export function trackChild(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
}

/**
 * Asks a child to stop: by closing its IPC channel when it was given one (the child stops when the
 * channel closes, cli/until-stopped.ts; asking again does nothing), else SIGTERM. Not a signal on
 * purpose: when a terminal's Ctrl-C reached the child too, or we asked already, a second signal would
 * end it before it has cleaned up (a trusted process removes its session directory).
 */
export function askToStop(child: ChildProcess): void {
  // `send` exists on a child spawned with an IPC channel, also once the channel is closed.
  if (typeof child.send !== 'function') child.kill('SIGTERM');
  else if (child.connected) child.disconnect();
}

/** Stops every tracked child still running (askToStop, SIGKILL after `graceMs`); how many there were. */
export async function stopTrackedChildren(graceMs: number): Promise<number> {
  const running = [...live].filter((c) => c.exitCode === null && c.signalCode === null);
  await Promise.all(
    running.map(
      (c) =>
        new Promise<void>((resolve) => {
          const t = setTimeout(() => c.kill('SIGKILL'), graceMs);
          c.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          askToStop(c);
        }),
    ),
  );
  return running.length;
}

/** SIGKILLs every tracked child still running (synchronous: safe in an 'exit' handler); how many. */
export function killTrackedChildrenSync(): number {
  let n = 0;
  for (const c of live) {
    if (c.exitCode === null && c.signalCode === null && c.kill('SIGKILL')) n++;
  }
  live.clear();
  return n;
}
