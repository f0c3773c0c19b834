// Runs every compiled test file under dist/test with node:test (the summary line is node's own).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...collect(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = collect('dist/test');
if (files.length === 0) {
  console.error('no test files under dist/test: run `tsc -p .` first');
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=1', ...process.argv.slice(2), ...files],
  {
    stdio: 'inherit',
  },
);
process.exit(r.status ?? 1);
