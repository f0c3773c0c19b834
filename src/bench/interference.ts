// Other processes on a shared machine: the CPU time the whole machine spent (from /proc/stat) minus
// what the timed side spent itself is time taken by someone else. A sample during which others ran
// is retaken; before a workload, the harness waits (bounded) for a quiet moment. Off Linux both are
// no-ops (busy time unknown).
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const JIFFY_MS = 10; // USER_HZ is 100 on every Linux architecture Node supports

/** Machine-wide busy CPU milliseconds since boot (all cores), or null when /proc/stat is unreadable. */
export function machineBusyMs(): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const busy = f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
    return Number.isFinite(busy) ? busy * JIFFY_MS : null;
  } catch {
    return null;
  }
}

/**
 * Foreign CPU during an interval, as cores kept busy by others: (machine busy − own) / wall. The
 * resolution is one jiffy per core, so samples should last ≥ 100 ms for this to mean much.
 */
export function foreignCores(
  busyBefore: number | null,
  busyAfter: number | null,
  ownCpuMs: number,
  wallMs: number,
): number {
  if (busyBefore === null || busyAfter === null || wallMs <= 0) return 0;
  return Math.max(0, (busyAfter - busyBefore - ownCpuMs) / wallMs);
}

/**
 * Waits until a 500 ms window in which the machine was busy less than `threshold` of a core (we are
 * idle meanwhile), at most `maxMs`. Returns the milliseconds waited, or -1 if it gave up.
 */
export async function waitQuiet(maxMs: number, threshold = 0.1): Promise<number> {
  const start = Date.now();
  for (;;) {
    const b0 = machineBusyMs();
    const t0 = Date.now();
    await sleep(500);
    const busy = foreignCores(b0, machineBusyMs(), 0, Date.now() - t0);
    if (busy < threshold) return Date.now() - start;
    if (Date.now() - start >= maxMs) return -1;
  }
}
