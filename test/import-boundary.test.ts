// The trust boundary is tested, not assumed: the accelerator never imports enclave/, secure/ or verify/;
// protocol/ and verify/ are leaves; lower layers never import upper ones (tensor ← kernels ← nn ← models).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';

const SRC = resolve('src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Top-level folder under src/ of each relative import in a file. */
function importedAreas(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const areas: string[] = [];
  for (const m of text.matchAll(
    /(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/g,
  )) {
    const spec = m[1] ?? m[2]!;
    const target = relative(SRC, resolve(dirname(file), spec));
    areas.push(target.includes('/') ? target.split('/')[0]! : '(root)');
  }
  return areas;
}

// area → areas it must never import
const FORBIDDEN: Record<string, string[]> = {
  tensor: [
    'kernels',
    'nn',
    'models',
    'io',
    'data',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  kernels: [
    'nn',
    'models',
    'io',
    'data',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  nn: [
    'models',
    'data',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  models: [
    'data',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  io: [
    'nn',
    'models',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  protocol: [
    'nn',
    'models',
    'io',
    'data',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  verify: [
    'nn',
    'models',
    'io',
    'data',
    'protocol',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  data: [
    'nn',
    'models',
    'train',
    'protocol',
    'verify',
    'secure',
    'enclave',
    'accelerator',
    'cli',
    'bench',
    'report',
    'gramine',
  ],
  train: ['protocol', 'secure', 'enclave', 'accelerator', 'cli', 'bench', 'report', 'gramine'],
  accelerator: ['enclave', 'secure', 'verify', 'cli'],
  // The data owner's side: it talks to the trusted process only through the session protocol.
  client: ['enclave', 'accelerator', 'verify', 'cli', 'bench', 'report'],
};

test('no source file imports across the trust boundary or up the layer order', () => {
  const violations: string[] = [];
  for (const file of tsFiles(SRC)) {
    const area = relative(SRC, file).split('/')[0]!;
    const forbidden = FORBIDDEN[area];
    if (!forbidden) continue;
    for (const target of importedAreas(file)) {
      if (forbidden.includes(target)) violations.push(`${relative(SRC, file)} imports ${target}/`);
    }
  }
  assert.deepEqual(violations, []);
});

test('the import scanner sees relative imports, re-exports and dynamic imports', () => {
  const areas = importedAreas(join(SRC, 'cli', 'main.ts'));
  assert.ok(areas.includes('(root)') || areas.includes('cli'), `scanner found ${areas.join(',')}`);
  assert.ok(areas.length >= 3);
});
