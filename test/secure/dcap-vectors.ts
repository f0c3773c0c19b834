// The real SGX/TDX quotes and collateral of ../shared/vectors/sgx (from Phala-Network/dcap-qvl,
// sample/, MIT; TEE_OFFLOAD_VECTORS overrides the folder), and dcap-qvl's own verifier (Rust compiled
// to WebAssembly, @phala/dcap-qvl-web) as an independent second opinion. A missing vectors folder
// fails loudly: CI has it, and a skipped attestation test proves nothing.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { initSync, js_verify } from '@phala/dcap-qvl-web';

export const VECTORS_DIR = resolve(
  process.env.TEE_OFFLOAD_VECTORS ?? join(process.cwd(), '..', 'shared', 'vectors'),
  'sgx',
);

/** A time inside every validity window of the SGX collateral (TCB info 2025-06-19 … 2025-07-19). */
export const INSIDE_WINDOW = new Date('2025-07-01T00:00:00Z');

export function vectorPath(name: string): string {
  const p = join(VECTORS_DIR, name);
  if (!existsSync(p))
    throw new Error(`test vector not found: ${p} (set TEE_OFFLOAD_VECTORS or check out ../shared/vectors)`);
  return p;
}

export function readVector(name: string): Uint8Array {
  const b = readFileSync(vectorPath(name));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function readCollateralJson(name: string): Record<string, string> {
  return JSON.parse(readFileSync(vectorPath(name), 'utf8')) as Record<string, string>;
}

let qvlReady = false;

export interface QvlReport {
  readonly status: string;
  readonly advisory_ids: string[];
  readonly report: {
    SgxEnclave?: Record<string, string | number>;
    TD10?: Record<string, string | number>;
  };
}

/** dcap-qvl's verdict: its report, or the error text it threw. */
export function qvlVerify(quote: Uint8Array, collateral: unknown, at: Date): QvlReport | { error: string } {
  if (!qvlReady) {
    const pkg = createRequire(import.meta.url).resolve('@phala/dcap-qvl-web');
    initSync({ module: readFileSync(join(dirname(pkg), 'dcap-qvl-web_bg.wasm')) });
    qvlReady = true;
  }
  try {
    return js_verify(quote, collateral, BigInt(Math.floor(at.getTime() / 1000))) as QvlReport;
  } catch (e) {
    return { error: String(e) };
  }
}
