// Full DCAP verification of an SGX ECDSA quote against its collateral, with node:crypto only
// (Intel "SGX ECDSA Quote Library API" §A, "SGX PCK Certificate and CRL Profile", PCS API v4).
// Order: the trust chains first (PCK chain, CRLs, TCB info and QE identity signers, all to the pinned
// Intel root), then the signed documents, then the quote from the outside in — QE report signed by the
// PCK key, QE report binding the attestation key, the QE being Intel's, the quote signed by the
// attestation key — and last the platform's TCB level. Nothing in the quote is trusted before the
// signature covering it verified. Policy (status, debug, pins) is attest-policy.ts's job.
import { createHash, createPublicKey, type KeyObject, verify as verifySignature } from 'node:crypto';
import { AttestError } from './attest-error.js';
import type { DcapCollateral } from './dcap-collateral.js';
import { INTEL_SGX_ROOT_CA_FINGERPRINT } from './dcap-intel-root.js';
import { matchQeIdentity, parseQeIdentity } from './dcap-qe-identity.js';
import { matchTcbLevel, parseTcbInfo } from './dcap-tcb-info.js';
import { combineTcbStatus, type TcbResult, type TcbStatus } from './dcap-tcb-status.js';
import {
  CERT_DATA_PCK_CHAIN,
  INTEL_QE_VENDOR_ID,
  parseQuote,
  type Quote,
  type SgxQuote,
  toHex,
} from './quote.js';
import { type Certificate, parsePemChain } from './x509-certificate.js';
import { verifyChain } from './x509-chain.js';
import { checkWindow } from './x509-crl.js';
import { bytesEqual } from './x509-der.js';
import { parseSgxExtensions } from './x509-sgx-extensions.js';

export interface DcapVerifyOptions {
  /** The time certificates and collateral must be valid at (default: now). */
  readonly at?: Date;
  /**
   * SHA-256 fingerprint of the trusted root (default: the pinned Intel SGX Root CA). Changing it is
   * for tests with a synthetic PKI only; the CLI has no flag for it.
   */
  readonly rootFingerprint?: string;
}

/** What a cryptographically verified quote says; attest-policy.ts decides whether to accept it. */
export interface DcapVerdict {
  readonly quote: SgxQuote;
  /** The quote's TCB status: the platform's combined with the QE's. */
  readonly tcbStatus: TcbStatus;
  readonly advisoryIds: readonly string[];
  readonly platformTcb: TcbResult;
  readonly qeTcb: TcbResult;
  /** FMSPC and PCE ID of the platform (from the PCK certificate), hex. */
  readonly fmspc: string;
  readonly pceId: string;
  readonly tcbEvaluationDataNumber: number;
  /** The earliest nextUpdate/notAfter of everything used: the verdict is good until then. */
  readonly validUntil: Date;
  readonly at: Date;
}

/** Common names in Intel's PKI ("SGX PCK Certificate and CRL Profile" §1). */
const PCK_NAME = 'Intel SGX PCK Certificate';
const PCK_CA_NAMES = ['Intel SGX PCK Processor CA', 'Intel SGX PCK Platform CA'];
const TCB_SIGNING_NAME = 'Intel SGX TCB Signing';

function publicKeyFromXY(xy: Uint8Array): KeyObject {
  const b64 = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64url');
  return createPublicKey({
    key: { kty: 'EC', crv: 'P-256', x: b64(xy.subarray(0, 32)), y: b64(xy.subarray(32, 64)) },
    format: 'jwk',
  });
}

/** ECDSA P-256 / SHA-256 with a raw r ‖ s signature (the encoding of quotes and collateral). */
function verifyP1363(data: Uint8Array, key: KeyObject, signature: Uint8Array): boolean {
  try {
    return verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/**
 * Checks the shape of a verified chain: its length and the common names of the certificates below
 * the root. Without this, any key the root vouches for — a PCK key extracted from one platform
 * included — could sign a TCB info or QE identity.
 */
function checkChainRoles(
  chain: readonly Certificate[],
  roles: readonly (readonly string[])[],
  what: string,
): void {
  const expected = roles.length + 1;
  const bad = chain.length !== expected || roles.some((names, i) => !names.includes(chain[i]!.name));
  if (bad) {
    const want = roles.map((names) => names.join(' or ')).join(' → ');
    const got = chain.map((c) => c.name).join(' → ');
    throw new AttestError(
      'certificate-invalid',
      `certificate invalid: the ${what} is ${got}, expected ${want} → root`,
    );
  }
  if (chain[0]!.x509.ca)
    throw new AttestError('certificate-invalid', `certificate invalid: the ${what} leaf is a CA`);
}

/** Verifies a signed collateral document (TCB info, QE identity) and its issuer chain. */
function verifySignedDocument(
  text: string,
  signature: Uint8Array,
  chain: readonly Certificate[],
  what: string,
  reason: 'tcb-info-signature-invalid' | 'qe-identity-signature-invalid',
): void {
  const signer = chain[0]!;
  // The signature covers the exact UTF-8 bytes of the document as Intel served them.
  if (!verifyP1363(Buffer.from(text, 'utf8'), signer.x509.publicKey, signature)) {
    throw new AttestError(reason, `${what} signature invalid: not signed by ${signer.name}`);
  }
}

/**
 * Verifies a DCAP quote (bytes or parsed) against its collateral and returns what it attests.
 * Throws E_FORMAT for malformed input and AttestError (E_ATTEST, with a reason) for a quote that
 * does not verify. Does not apply a policy: see verifyAttestation in attest-verify.ts.
 */
export function verifyDcapQuote(
  input: Uint8Array | Quote,
  collateral: DcapCollateral,
  options: DcapVerifyOptions = {},
): DcapVerdict {
  const at = options.at ?? new Date();
  if (Number.isNaN(at.getTime())) throw new RangeError('verification time is not a valid date');
  const rootFingerprint = options.rootFingerprint ?? INTEL_SGX_ROOT_CA_FINGERPRINT;
  const quote = input instanceof Uint8Array ? parseQuote(input) : input;
  if (quote.kind === 'tdx') {
    throw new AttestError(
      'unsupported-quote',
      'unsupported quote: TDX quotes are not supported by this verifier',
    );
  }
  if (quote.header.qeVendorId !== INTEL_QE_VENDOR_ID) {
    throw new AttestError(
      'unsupported-quote',
      `unsupported quote: QE vendor ${quote.header.qeVendorId} is not Intel's`,
    );
  }
  const sig = quote.signatureData;
  if (sig.certification.type !== CERT_DATA_PCK_CHAIN) {
    throw new AttestError(
      'unsupported-quote',
      `unsupported quote: certification data type ${sig.certification.type} (only 5, a PEM PCK chain, is read)`,
    );
  }

  // 1. Trust chains, CRLs, and the validity of everything at `at`.
  const pckChain = parsePemChain(
    Buffer.from(sig.certification.data).toString('latin1'),
    'PCK chain in the quote',
  );
  const crls = [collateral.rootCaCrl, collateral.pckCrl];
  const chainOpts = { rootFingerprint, at, crls };
  verifyChain(pckChain, 'PCK chain', chainOpts);
  verifyChain(collateral.pckCrlIssuerChain, 'PCK CRL issuer chain', chainOpts);
  verifyChain(collateral.tcbInfoIssuerChain, 'TCB info issuer chain', chainOpts);
  verifyChain(collateral.qeIdentityIssuerChain, 'QE identity issuer chain', chainOpts);
  checkChainRoles(pckChain, [[PCK_NAME], PCK_CA_NAMES], 'PCK chain');
  checkChainRoles(collateral.tcbInfoIssuerChain, [[TCB_SIGNING_NAME]], 'TCB info issuer chain');
  checkChainRoles(collateral.qeIdentityIssuerChain, [[TCB_SIGNING_NAME]], 'QE identity issuer chain');
  const pck = pckChain[0]!;

  // 2. The signed documents, then their contents.
  verifySignedDocument(
    collateral.tcbInfoText,
    collateral.tcbInfoSignature,
    collateral.tcbInfoIssuerChain,
    'TCB info',
    'tcb-info-signature-invalid',
  );
  verifySignedDocument(
    collateral.qeIdentityText,
    collateral.qeIdentitySignature,
    collateral.qeIdentityIssuerChain,
    'QE identity',
    'qe-identity-signature-invalid',
  );
  const tcbInfo = parseTcbInfo(collateral.tcbInfoText);
  const qeIdentity = parseQeIdentity(collateral.qeIdentityText);
  checkWindow('TCB info', tcbInfo.issueDate, tcbInfo.nextUpdate, at);
  checkWindow('QE identity', qeIdentity.issueDate, qeIdentity.nextUpdate, at);
  if (tcbInfo.id !== 'SGX') {
    throw new AttestError(
      'tcb-info-mismatch',
      `TCB info mismatch: it is for ${tcbInfo.id}, the quote is SGX`,
    );
  }
  if (qeIdentity.id !== 'QE') {
    throw new AttestError(
      'qe-identity-mismatch',
      `QE identity mismatch: it is for '${qeIdentity.id}', the quote needs 'QE'`,
    );
  }

  // 3. The QE report, signed by the PCK key.
  if (!verifyP1363(sig.qeReport.raw, pck.x509.publicKey, sig.qeReportSignature)) {
    throw new AttestError(
      'qe-report-signature-invalid',
      `QE report signature invalid: not signed by the PCK key of ${pck.name}`,
    );
  }
  // 4. The QE report binds the attestation key: report_data = SHA-256(key ‖ QE auth data) ‖ 32 zeros.
  const binding = createHash('sha256').update(sig.attestationKey).update(sig.qeAuthData).digest();
  const rd = sig.qeReport.reportData;
  if (!bytesEqual(rd.subarray(0, 32), binding) || rd.subarray(32).some((b) => b !== 0)) {
    throw new AttestError(
      'qe-report-data-mismatch',
      'QE report does not bind the attestation key: report_data ≠ SHA-256(attestation key ‖ QE auth data)',
    );
  }
  // 5. The QE is Intel's, and its TCB level.
  const qeTcb = matchQeIdentity(qeIdentity, sig.qeReport);

  // 6. The quote (header ‖ enclave report), signed by the attestation key.
  let attestationKey: KeyObject;
  try {
    attestationKey = publicKeyFromXY(sig.attestationKey);
  } catch {
    throw new AttestError(
      'quote-signature-invalid',
      'quote signature invalid: the attestation key is not a P-256 point',
    );
  }
  if (!verifyP1363(quote.signedBytes, attestationKey, sig.signature)) {
    throw new AttestError(
      'quote-signature-invalid',
      'quote signature invalid: header ‖ report body not signed by the attestation key',
    );
  }

  // 7. The platform's TCB level, from the PCK certificate's SVNs, in the TCB info for its FMSPC.
  const ext = parseSgxExtensions(pck);
  if (!bytesEqual(ext.fmspc, tcbInfo.fmspc)) {
    throw new AttestError(
      'tcb-info-mismatch',
      `TCB info mismatch: it is for FMSPC ${toHex(tcbInfo.fmspc)}, the PCK certificate's is ${toHex(ext.fmspc)}`,
    );
  }
  if (!bytesEqual(ext.pceId, tcbInfo.pceId)) {
    throw new AttestError(
      'tcb-info-mismatch',
      `TCB info mismatch: it is for PCE ID ${toHex(tcbInfo.pceId)}, the PCK certificate's is ${toHex(ext.pceId)}`,
    );
  }
  const platformTcb = matchTcbLevel(tcbInfo, ext.tcbComponents, ext.pceSvn);
  if (!platformTcb) {
    throw new AttestError(
      'tcb-level-not-found',
      `TCB level not found: the platform's TCB (components ${ext.tcbComponents.join(',')}, PCESVN ${ext.pceSvn}) is below every level of the TCB info`,
    );
  }
  const combined = combineTcbStatus(platformTcb, qeTcb);

  const deadlines = [
    tcbInfo.nextUpdate,
    qeIdentity.nextUpdate,
    collateral.rootCaCrl.nextUpdate,
    collateral.pckCrl.nextUpdate,
    ...[pckChain, collateral.tcbInfoIssuerChain, collateral.qeIdentityIssuerChain]
      .flat()
      .map((c) => c.notAfter),
  ];
  return {
    quote,
    tcbStatus: combined.status,
    advisoryIds: combined.advisoryIds,
    platformTcb,
    qeTcb,
    fmspc: toHex(ext.fmspc),
    pceId: toHex(ext.pceId),
    tcbEvaluationDataNumber: Math.min(tcbInfo.tcbEvaluationDataNumber, qeIdentity.tcbEvaluationDataNumber),
    validUntil: new Date(Math.min(...deadlines.map((d) => d.getTime()))),
    at,
  };
}
