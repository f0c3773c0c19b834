// Where the native addon is and the one place that loads it. Every face of the addon (kernels/native.ts,
// verify/native-modp.ts, accelerator/native-modp.ts, accelerator/gpu-linear.ts) requires the same file
// through here and checks for the functions it needs; the package root also holds the GPU kernels' source.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TeeError } from './errors.js';

const ADDON_FILE = 'tee_offload.node';
const here = dirname(fileURLToPath(import.meta.url));

/** The package root: from dist/src/native-addon.js, or from src/ when run as TypeScript. */
export function packageRoots(): string[] {
  return [resolve(here, '..', '..'), resolve(here, '..')];
}

/** The first of `relative` (a path under the package root) that exists, or undefined. */
export function packageFile(...relative: string[]): string | undefined {
  return packageRoots()
    .map((r) => resolve(r, ...relative))
    .find((p) => existsSync(p));
}

/** The addon's module object; E_NATIVE when it is not built or does not load. */
export function requireAddon(): unknown {
  const paths = packageRoots().flatMap((r) => [
    resolve(r, 'build', 'Release', ADDON_FILE),
    resolve(r, 'build', 'Debug', ADDON_FILE),
  ]);
  const found = paths.find((p) => existsSync(p));
  if (found === undefined) {
    throw new TeeError(
      'E_NATIVE',
      `the native addon is not built (looked for ${paths[0]}): run \`npm run build\` ` +
        '(needs a C++17 compiler, make and python3; OpenBLAS and oneDNN are optional)',
    );
  }
  try {
    return createRequire(import.meta.url)(found);
  } catch (e) {
    throw new TeeError('E_NATIVE', `the native addon ${found} failed to load: ${(e as Error).message}`, {
      cause: e,
    });
  }
}
