// Where the shared PyTorch fixtures live: TEE_OFFLOAD_FIXTURES, else ../shared/fixtures from the
// repository root (tests run from there).
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const FIXTURES_DIR = resolve(process.env.TEE_OFFLOAD_FIXTURES ?? '../shared/fixtures');

export function fixturePath(...parts: string[]): string {
  return join(FIXTURES_DIR, ...parts);
}

export function fixtureFiles(sub: string, ext = '.safetensors'): string[] {
  return readdirSync(join(FIXTURES_DIR, sub))
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => join(FIXTURES_DIR, sub, f));
}
