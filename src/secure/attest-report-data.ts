// The binding between a quote and the session: the enclave puts
// SHA-256("tee-offload/v1" ‖ its X25519 public key ‖ the client's nonce) in the first 32 bytes of
// report_data (the rest zero), so a quote proves that this enclave holds this key for this session
// and cannot be replayed into another (DESIGN.md, "Channel, attestation, files").
import { createHash, timingSafeEqual } from 'node:crypto';
import { AttestError } from './attest-error.js';
import { PROTOCOL_LABEL } from './hkdf.js';

export const REPORT_DATA_BYTES = 64;
export const SESSION_PUBLIC_KEY_BYTES = 32;
export const MIN_NONCE_BYTES = 16;
export const MAX_NONCE_BYTES = 1024;

function checkInputs(publicKey: Uint8Array, nonce: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array)) throw new TypeError('publicKey must be a Uint8Array');
  if (!(nonce instanceof Uint8Array)) throw new TypeError('nonce must be a Uint8Array');
  // Fixed key length keeps key ‖ nonce unambiguous without a length prefix.
  if (publicKey.byteLength !== SESSION_PUBLIC_KEY_BYTES) {
    throw new RangeError(
      `publicKey must be ${SESSION_PUBLIC_KEY_BYTES} bytes (raw X25519), got ${publicKey.byteLength}`,
    );
  }
  if (nonce.byteLength < MIN_NONCE_BYTES || nonce.byteLength > MAX_NONCE_BYTES) {
    throw new RangeError(
      `nonce must be ${MIN_NONCE_BYTES}..${MAX_NONCE_BYTES} bytes, got ${nonce.byteLength}`,
    );
  }
}

/** The 64-byte report_data an enclave must quote for `publicKey` and the client's `nonce`. */
export function expectedReportData(publicKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  checkInputs(publicKey, nonce);
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(createHash('sha256').update(PROTOCOL_LABEL, 'utf8').update(publicKey).update(nonce).digest(), 0);
  return out;
}

/** Throws AttestError report-data-mismatch unless `reportData` binds `publicKey` and `nonce`. */
export function checkReportData(reportData: Uint8Array, publicKey: Uint8Array, nonce: Uint8Array): void {
  checkReportDataEquals(reportData, expectedReportData(publicKey, nonce));
}

export function checkReportDataEquals(reportData: Uint8Array, expected: Uint8Array): void {
  if (reportData.byteLength !== REPORT_DATA_BYTES || !timingSafeEqual(reportData, expected)) {
    throw new AttestError(
      'report-data-mismatch',
      'report_data does not bind the session key: it is not SHA-256("tee-offload/v1" ‖ public key ‖ nonce) ‖ 32 zeros',
    );
  }
}
