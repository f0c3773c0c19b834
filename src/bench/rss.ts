// Resident memory of this process from /proc/self/status (Linux), with the peak ("high-water mark")
// reset between workloads so that each one reports its own peak. Elsewhere, maxRSS (never reset).
import { readFileSync, writeFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

function statusKiB(field: string): number | null {
  try {
    const m = readFileSync('/proc/self/status', 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Current RSS in KiB. */
export function rssKiB(): number {
  return statusKiB('VmRSS') ?? Math.round(process.memoryUsage.rss() / 1024);
}

/** Peak RSS in KiB since the last successful `resetPeakRss` (or since the process started). */
export function peakRssKiB(): number {
  return statusKiB('VmHWM') ?? process.resourceUsage().maxRSS;
}

/** Resets the peak to the current RSS (Linux ≥ 4.0: `5` into clear_refs); false when unsupported. */
export function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

let gc: (() => void) | null = null;

/** A full garbage collection, so that one workload's garbage does not count in the next one's RSS. */
export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
}
