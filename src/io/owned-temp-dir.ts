// Temporary directories that a killed process leaves behind: SIGKILL (or a crash of the runtime) gives no
// chance to clean up, so each directory made here carries an `owner` file with its creator's pid, and the
// next run of the same command removes those whose owner no longer exists (sweepStaleTempDirs).
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const OWNER = 'owner';

/** A new directory `<parent>/<prefix>XXXXXX` (mode 0700) marked as this process's. */
export function makeOwnedTempDir(prefix: string, parent: string = tmpdir()): string {
  const dir = mkdtempSync(join(parent, prefix));
  writeFileSync(join(dir, OWNER), `${process.pid}\n`, { mode: 0o600 });
  return dir;
}

// Whether a process with this pid exists (EPERM: it does, under another user).
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes `<parent>/<prefix>*` directories made by makeOwnedTempDir whose owner process is gone; leaves
 * anything else alone (no owner file, an unreadable one, a live owner, this process). Returns the paths
 * removed.
 */
export function sweepStaleTempDirs(prefix: string, parent: string = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const dir = join(parent, name);
    let text: string;
    try {
      text = readFileSync(join(dir, OWNER), 'utf8');
    } catch {
      continue;
    }
    const pid = Number(text.trim());
    if (!Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    try {
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // Not ours to remove (permissions): leave it.
    }
  }
  return removed;
}
