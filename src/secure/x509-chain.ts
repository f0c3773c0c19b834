// Certificate chain verification for DCAP: leaf first, ending at a self-signed root whose SHA-256
// fingerprint must equal the pinned one (never "any root that verifies itself"); each link signed by
// the next certificate, which must be a CA; every certificate valid at the verification time; every
// non-root certificate checked against a CRL from its own issuer, the CRL itself verified against
// that issuer. Failures are AttestError (E_ATTEST) with a specific reason.
import { AttestError } from './attest-error.js';
import { type Certificate, fingerprint256, sameName } from './x509-certificate.js';
import { type Crl, iso, verifyCrl } from './x509-crl.js';

export interface ChainOptions {
  /** SHA-256 fingerprint of the trusted root certificate's DER, hex (case and colons ignored). */
  readonly rootFingerprint: string;
  readonly at: Date;
  /** CRLs that may cover the chain's certificates; each non-root certificate needs its issuer's. */
  readonly crls: readonly Crl[];
}

function normalizeFingerprint(f: string): string {
  return f.replace(/:/g, '').toUpperCase();
}

/**
 * Verifies `chain` (leaf first, root last). `what` names it in messages ("PCK chain", "TCB info
 * issuer chain"). Returns nothing: a chain either verifies or throws.
 */
export function verifyChain(chain: readonly Certificate[], what: string, opts: ChainOptions): void {
  const root = chain[chain.length - 1];
  if (!root || chain.length < 2) {
    throw new AttestError(
      'untrusted-root',
      `${what} does not reach the pinned Intel root: it has ${chain.length} certificate(s)`,
    );
  }
  const pinned = normalizeFingerprint(opts.rootFingerprint);
  const got = fingerprint256(root);
  if (got !== pinned) {
    throw new AttestError(
      'untrusted-root',
      `${what} does not reach the pinned Intel root: its last certificate (${root.name}) has SHA-256 fingerprint ${got}, pinned ${pinned}`,
    );
  }
  // The pinned root is trusted by its fingerprint; its self-signature and CA flag are checked too,
  // so that a mistyped pin of a non-CA certificate cannot pass.
  let selfSigned = false;
  try {
    selfSigned = sameName(root.issuer, root.subject) && root.x509.verify(root.x509.publicKey);
  } catch {
    selfSigned = false;
  }
  if (!selfSigned || !root.x509.ca) {
    throw new AttestError(
      'certificate-invalid',
      `certificate invalid: the pinned root ${root.name} is not a self-signed CA`,
    );
  }
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1]!;
    if (!sameName(cert.issuer, issuer.subject)) {
      throw new AttestError(
        'certificate-invalid',
        `certificate invalid: in the ${what}, ${cert.name} is not issued by the next certificate, ${issuer.name}`,
      );
    }
    if (!issuer.x509.ca) {
      throw new AttestError(
        'certificate-invalid',
        `certificate invalid: in the ${what}, ${issuer.name} is not a CA`,
      );
    }
    let ok = false;
    try {
      ok = cert.x509.verify(issuer.x509.publicKey);
    } catch {
      ok = false;
    }
    if (!ok) {
      throw new AttestError(
        'certificate-invalid',
        `certificate invalid: in the ${what}, the signature of ${issuer.name} on ${cert.name} does not verify`,
      );
    }
  }
  for (const cert of chain) checkValidity(cert, what, opts.at);
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i]!;
    const issuer = chain[i + 1]!;
    const crl = opts.crls.find((c) => sameName(c.issuer, cert.issuer));
    if (!crl) {
      throw new AttestError(
        'crl-invalid',
        `CRL invalid: no CRL from ${issuer.name} to check ${cert.name} of the ${what}`,
      );
    }
    verifyCrl(crl, issuer, opts.at);
    if (crl.revoked.has(cert.serial)) {
      throw new AttestError(
        'certificate-revoked',
        `certificate revoked: ${cert.name} (serial ${cert.serial}) of the ${what} is on the ${crl.what}`,
      );
    }
  }
}

function checkValidity(cert: Certificate, what: string, at: Date): void {
  if (at.getTime() < cert.notBefore.getTime()) {
    throw new AttestError(
      'certificate-not-yet-valid',
      `certificate not yet valid: ${cert.name} of the ${what} is valid from ${iso(cert.notBefore)}, after the verification time ${iso(at)}`,
    );
  }
  if (at.getTime() > cert.notAfter.getTime()) {
    throw new AttestError(
      'certificate-expired',
      `certificate expired at ${iso(cert.notAfter)}: ${cert.name} of the ${what} (verification time ${iso(at)})`,
    );
  }
}
