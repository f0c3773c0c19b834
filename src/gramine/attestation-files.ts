// Gramine's /dev/attestation pseudo-files, as the trusted process uses them under gramine-sgx: which
// attestation scheme the manifest chose, the 64 bytes of user report data bound into the next quote,
// the DCAP quote itself, and the SGX sealing keys. Outside an SGX enclave these files do not exist and
// every function fails with E_ATTEST, saying so; nothing here ever creates a file.
// Layout of a quote: Intel SGX ECDSA Quote Library Reference (quote v3, report body at byte 48).

import { hkdfSync } from 'node:crypto';
import { closeSync, constants, existsSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { TeeError } from '../errors.js';

export const ATTESTATION_DIR = '/dev/attestation';
export const USER_REPORT_DATA_BYTES = 64;
/** Gramine's key files hold 128-bit keys (the SGX sealing keys are EGETKEY outputs). */
export const SEALING_KEY_BYTES = 16;
/** Header (48) + report body (384): the shortest quote that carries report_data. */
export const MIN_QUOTE_BYTES = 432;
/** Where report_data sits in a quote: the last 64 bytes of the report body. */
export const QUOTE_REPORT_DATA_OFFSET = 368;
/** Largest quote accepted (a DCAP quote with its certification chain is ~5 KiB). */
export const MAX_QUOTE_BYTES = 64 * 1024;

export type SgxSealingKeyName = '_sgx_mrenclave' | '_sgx_mrsigner';

/** Under which Gramine this process runs, from the pseudo-files Gramine exposes (none outside Gramine). */
export type GramineHost = 'gramine-sgx' | 'gramine-direct' | 'none';

/**
 * Gramine on SGX exposes /dev/attestation/attestation_type; gramine-direct has /dev/attestation/keys
 * but no attestation_type; a plain process has neither. A host cannot fake these files inside an
 * enclave, but outside one anything can: use this to choose a code path, never as evidence.
 */
export function detectGramine(dir: string = ATTESTATION_DIR): GramineHost {
  if (existsSync(join(dir, 'attestation_type'))) return 'gramine-sgx';
  if (existsSync(join(dir, 'keys'))) return 'gramine-direct';
  return 'none';
}

function notHere(path: string, e: unknown): TeeError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? `${path} does not exist: not running inside a Gramine SGX enclave (launcher gramine-sgx) with sgx.remote_attestation = "dcap"`
      : `cannot access ${path}: ${(e as Error).message}`;
  return new TeeError('E_ATTEST', why, { cause: e });
}

function read(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw notHere(path, e);
  }
}

/** The attestation scheme of the enclave ("dcap", or "none" when the manifest asks for none). */
export function readAttestationType(dir: string = ATTESTATION_DIR): string {
  return read(join(dir, 'attestation_type')).toString('utf8').replace(/\0+$/, '').trim();
}

/** Writes the 64 bytes that the next quote (or report) will carry as report_data. */
export function writeUserReportData(data: Uint8Array, dir: string = ATTESTATION_DIR): void {
  if (!(data instanceof Uint8Array) || data.byteLength !== USER_REPORT_DATA_BYTES) {
    throw new RangeError(
      `user report data must be ${USER_REPORT_DATA_BYTES} bytes, got ${data instanceof Uint8Array ? data.byteLength : typeof data}`,
    );
  }
  const path = join(dir, 'user_report_data');
  let fd: number;
  try {
    // No O_CREAT: outside Gramine this must fail, not leave a file behind.
    fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  } catch (e) {
    throw notHere(path, e);
  }
  try {
    let off = 0;
    while (off < data.byteLength) off += writeSync(fd, data, off, data.byteLength - off);
  } catch (e) {
    throw new TeeError('E_ATTEST', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  } finally {
    closeSync(fd); // Gramine takes the new report data when the file is closed
  }
}

/** The quote Gramine produces for the report data last written (E_ATTEST if malformed or too big). */
export function readQuote(dir: string = ATTESTATION_DIR): Uint8Array {
  const path = join(dir, 'quote');
  const q = read(path);
  if (q.byteLength < MIN_QUOTE_BYTES || q.byteLength > MAX_QUOTE_BYTES) {
    throw new TeeError(
      'E_ATTEST',
      `${path} gave ${q.byteLength} bytes; a quote has ${MIN_QUOTE_BYTES}..${MAX_QUOTE_BYTES}`,
    );
  }
  return new Uint8Array(q.buffer, q.byteOffset, q.byteLength);
}

/** The report_data field of a quote (a view, not a copy). */
export function quoteReportData(quote: Uint8Array): Uint8Array {
  if (quote.byteLength < MIN_QUOTE_BYTES) {
    throw new TeeError('E_ATTEST', `a quote has at least ${MIN_QUOTE_BYTES} bytes, got ${quote.byteLength}`);
  }
  return quote.subarray(QUOTE_REPORT_DATA_OFFSET, QUOTE_REPORT_DATA_OFFSET + USER_REPORT_DATA_BYTES);
}

/**
 * A DCAP quote over `reportData`: writes it, reads the quote, and checks that the quote carries it
 * (a stale quote, or another process's report data, would bind the wrong key). Needs attestation
 * type "dcap".
 */
export function getQuote(reportData: Uint8Array, dir: string = ATTESTATION_DIR): Uint8Array {
  const type = readAttestationType(dir);
  if (type !== 'dcap') {
    throw new TeeError(
      'E_ATTEST',
      `attestation type is '${type}', not 'dcap': set sgx.remote_attestation = "dcap"`,
    );
  }
  writeUserReportData(reportData, dir);
  const quote = readQuote(dir);
  const got = quoteReportData(quote);
  let diff = 0;
  for (let i = 0; i < USER_REPORT_DATA_BYTES; i++) diff |= got[i]! ^ reportData[i]!;
  if (diff !== 0) throw new TeeError('E_ATTEST', 'the quote does not carry the report data just written');
  return quote;
}

/**
 * The raw SGX sealing key `name` (16 bytes; wipe it after use). Gramine derives it with EGETKEY from
 * this enclave's MRENCLAVE (or MRSIGNER) on this CPU. The manifest's encrypted mount already uses
 * _sgx_mrenclave: Gramine's docs forbid using the same key for anything else without a KDF, so
 * application code should call deriveSealingKey, not use this directly.
 */
export function readSealingKeyRaw(
  name: SgxSealingKeyName = '_sgx_mrenclave',
  dir: string = ATTESTATION_DIR,
): Uint8Array {
  if (name !== '_sgx_mrenclave' && name !== '_sgx_mrsigner') {
    throw new RangeError(`sealing key name must be _sgx_mrenclave or _sgx_mrsigner, got '${name}'`);
  }
  const path = join(dir, 'keys', name);
  const k = read(path);
  if (k.byteLength !== SEALING_KEY_BYTES) {
    k.fill(0);
    throw new TeeError('E_ATTEST', `${path} gave ${k.byteLength} bytes, not a ${SEALING_KEY_BYTES}-byte key`);
  }
  const out = new Uint8Array(k);
  k.fill(0);
  return out;
}

/**
 * A 32-byte key for `purpose` derived from the SGX sealing key: HKDF-SHA256 (RFC 5869) with info
 * "tee-offload/v1 sealing <purpose>" and an empty salt. Different purposes give independent keys,
 * and none equals the key of Gramine's encrypted mount. The raw key is wiped before returning.
 */
export function deriveSealingKey(
  purpose: string,
  opts: { name?: SgxSealingKeyName; dir?: string } = {},
): Uint8Array {
  if (typeof purpose !== 'string' || purpose.length === 0 || purpose.length > 200) {
    throw new RangeError('purpose must be a non-empty string of at most 200 characters');
  }
  const raw = readSealingKeyRaw(opts.name ?? '_sgx_mrenclave', opts.dir ?? ATTESTATION_DIR);
  try {
    const info = new TextEncoder().encode(`tee-offload/v1 sealing ${purpose}`);
    return new Uint8Array(hkdfSync('sha256', raw, new Uint8Array(0), info, 32));
  } finally {
    raw.fill(0);
  }
}
