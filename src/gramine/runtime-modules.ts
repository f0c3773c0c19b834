// The packages under node_modules that the trusted process loads: the app's `dependencies`, and
// theirs, transitively (devDependencies are never loaded at run time). Packages that are only used
// to build the addon (headers, build tools) are left out: trusting more files than needed only
// slows signing and enlarges what an attacker may try to swap.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TeeError } from '../errors.js';

/** Build-time only: node-addon-api is C++ headers compiled into the addon; node-gyp builds it. */
export const BUILD_ONLY_PACKAGES: ReadonlySet<string> = new Set(['node-addon-api', 'node-gyp']);

function dependenciesOf(packageJson: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(packageJson, 'utf8'));
  } catch (e) {
    throw new TeeError('E_IO', `cannot read ${packageJson}: ${(e as Error).message}`, { cause: e });
  }
  const deps = (parsed as { dependencies?: unknown }).dependencies;
  if (deps === undefined || deps === null) return [];
  if (typeof deps !== 'object')
    throw new TeeError('E_FORMAT', `${packageJson}: "dependencies" is not an object`);
  return Object.keys(deps).sort();
}

/**
 * Directories (absolute, sorted) of the run-time packages of the app at `appDir`. A package is looked
 * up where npm hoists it (appDir/node_modules/NAME) or nested under the package that needs it; one
 * that is not installed is reported in `missing`.
 */
export function runtimePackages(appDir: string): { dirs: string[]; missing: string[] } {
  const dirs = new Set<string>();
  const missing = new Set<string>();
  const visit = (fromDir: string, name: string): void => {
    if (BUILD_ONLY_PACKAGES.has(name)) return;
    const candidates = [join(fromDir, 'node_modules', name), join(appDir, 'node_modules', name)];
    const dir = candidates.find((d) => existsSync(join(d, 'package.json')));
    if (dir === undefined) {
      missing.add(name);
      return;
    }
    if (dirs.has(dir)) return;
    dirs.add(dir);
    for (const dep of dependenciesOf(join(dir, 'package.json'))) visit(dir, dep);
  };
  for (const dep of dependenciesOf(join(appDir, 'package.json'))) visit(appDir, dep);
  return { dirs: [...dirs].sort(), missing: [...missing].sort() };
}
