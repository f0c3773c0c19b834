// The failure of an attestation check: a TeeError with code E_ATTEST and a machine-readable
// `reason` (docs/attestation.md lists each). The message starts with a fixed human tag for the
// reason (e.g. "quote signature invalid") followed by the specifics.
import { TeeError } from '../errors.js';

export type AttestReason =
  | 'unsupported-quote' // a quote kind this verifier does not accept (TDX, other QE vendor, cert data type)
  | 'untrusted-root' // a certificate chain does not end at the pinned Intel SGX Root CA
  | 'certificate-invalid' // a chain link is not signed by the next certificate, or is not a CA
  | 'certificate-expired' // a certificate's notAfter is before the verification time
  | 'certificate-not-yet-valid' // a certificate's notBefore is after the verification time
  | 'certificate-revoked' // a certificate's serial is on its issuer's CRL
  | 'crl-invalid' // a CRL is missing, from the wrong issuer, or its signature fails
  | 'collateral-expired' // a CRL, TCB info or QE identity is past its nextUpdate
  | 'collateral-not-yet-valid' // a CRL, TCB info or QE identity is issued after the verification time
  | 'tcb-info-signature-invalid'
  | 'tcb-info-mismatch' // the TCB info is for another platform (FMSPC, PCE ID) or TEE
  | 'qe-identity-signature-invalid'
  | 'qe-identity-mismatch' // the quoting enclave is not Intel's QE (MRSIGNER, ISVPRODID, masks)
  | 'qe-report-signature-invalid'
  | 'qe-report-data-mismatch' // the QE report does not bind the attestation key
  | 'quote-signature-invalid'
  | 'tcb-level-not-found' // the platform's TCB is below every TCB level (or the QE's)
  | 'tcb-status-not-allowed'
  | 'debug-not-allowed'
  | 'mrenclave-mismatch'
  | 'mrsigner-mismatch'
  | 'isvprodid-mismatch'
  | 'isvsvn-too-low'
  | 'report-data-mismatch';

export class AttestError extends TeeError {
  readonly reason: AttestReason;
  constructor(reason: AttestReason, message: string, options?: { cause?: unknown }) {
    super('E_ATTEST', message, options);
    this.name = 'AttestError';
    this.reason = reason;
  }
}

export function isAttestError(e: unknown, reason?: AttestReason): e is AttestError {
  return e instanceof AttestError && (reason === undefined || e.reason === reason);
}
