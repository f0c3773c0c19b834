// X.509 certificate revocation lists (RFC 5280 §5), read with the minimal DER reader since
// node:crypto has no CRL parser: issuer, thisUpdate/nextUpdate, revoked serials, and the
// ECDSA-SHA256 signature over the TBSCertList checked against the issuing CA's key.
import { verify as verifySignature } from 'node:crypto';
import { TeeError } from '../errors.js';
import { AttestError } from './attest-error.js';
import { type Certificate, sameName } from './x509-certificate.js';
import {
  bytesEqual,
  decodeBitString,
  decodeOid,
  decodeSerial,
  decodeTime,
  derBytes,
  derChildren,
  derRoot,
  expectTag,
  TAG_GENERALIZED_TIME,
  TAG_INTEGER,
  TAG_SEQUENCE,
  TAG_UTC_TIME,
} from './x509-der.js';

export const OID_ECDSA_WITH_SHA256 = '1.2.840.10045.4.3.2';
/** Largest CRL read (Intel's PCK CRLs run to a few hundred KB). */
export const MAX_CRL_BYTES = 8 * 1024 * 1024;

export interface Crl {
  /** What the CRL is, for messages ("root CA CRL", "PCK CRL"). */
  readonly what: string;
  readonly der: Uint8Array;
  readonly tbs: Uint8Array;
  readonly issuer: Uint8Array;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  /** Revoked serials, upper-case hex without leading zero bytes. */
  readonly revoked: ReadonlySet<string>;
  readonly signatureAlgorithm: string;
  /** DER-encoded ECDSA signature (the BIT STRING's content). */
  readonly signature: Uint8Array;
}

function isTime(tag: number | undefined): boolean {
  return tag === TAG_UTC_TIME || tag === TAG_GENERALIZED_TIME;
}

export function parseCrl(der: Uint8Array, what: string): Crl {
  if (der.byteLength > MAX_CRL_BYTES)
    throw new TeeError('E_FORMAT', `${what}: larger than ${MAX_CRL_BYTES} bytes`);
  const top = derChildren(expectTag(derRoot(der, what), TAG_SEQUENCE, what), what);
  if (top.length !== 3) throw new TeeError('E_FORMAT', `${what}: a CRL has 3 parts, got ${top.length}`);
  const [tbsNode, algNode, sigNode] = top as [(typeof top)[0], (typeof top)[0], (typeof top)[0]];
  const tbs = derChildren(expectTag(tbsNode, TAG_SEQUENCE, what), what);
  let i = 0;
  if (tbs[i]?.tag === TAG_INTEGER) i++; // version v2
  const innerAlg = tbs[i++];
  const issuerNode = tbs[i++];
  const thisNode = tbs[i++];
  if (!innerAlg || !issuerNode || !thisNode)
    throw new TeeError('E_FORMAT', `${what}: TBSCertList is missing fields`);
  const nextNode = isTime(tbs[i]?.tag) ? tbs[i++] : undefined;
  // A CRL without nextUpdate cannot be checked for freshness; RFC 5280 requires one, and so do we.
  if (!nextNode) throw new TeeError('E_FORMAT', `${what}: no nextUpdate`);
  const revoked = new Set<string>();
  if (tbs[i]?.tag === TAG_SEQUENCE) {
    for (const entry of derChildren(tbs[i++]!, what)) {
      const [serial] = derChildren(expectTag(entry, TAG_SEQUENCE, what), what);
      if (!serial) throw new TeeError('E_FORMAT', `${what}: empty revoked entry`);
      revoked.add(decodeSerial(serial, what));
    }
  }
  if (tbs[i]?.tag === 0xa0) i++; // crlExtensions
  if (i !== tbs.length) throw new TeeError('E_FORMAT', `${what}: unexpected fields in TBSCertList`);
  const algOid = decodeOid(derChildren(expectTag(algNode, TAG_SEQUENCE, what), what)[0]!, what);
  if (!bytesEqual(derBytes(algNode), derBytes(innerAlg))) {
    throw new TeeError('E_FORMAT', `${what}: the inner and outer signature algorithms differ`);
  }
  return {
    what,
    der,
    tbs: derBytes(tbsNode),
    issuer: derBytes(expectTag(issuerNode, TAG_SEQUENCE, what)),
    thisUpdate: decodeTime(thisNode, what),
    nextUpdate: decodeTime(nextNode, what),
    revoked,
    signatureAlgorithm: algOid,
    signature: decodeBitString(sigNode, what),
  };
}

/** Reads a CRL given as hex DER (as in dcap-qvl's collateral JSON) or PEM. */
export function decodeCrlText(text: string, what: string): Uint8Array {
  const t = text.trim();
  let buf: Buffer;
  const pem = /^-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----$/.exec(t);
  if (pem) buf = Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64');
  else if (/^(?:[0-9a-fA-F]{2})+$/.test(t)) buf = Buffer.from(t, 'hex');
  else throw new TeeError('E_FORMAT', `${what}: neither hex DER nor a PEM X509 CRL`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Checks that `crl` was issued by `issuer` (name and ECDSA-SHA256 signature) and is current at `at`.
 * Failures are E_ATTEST: crl-invalid, collateral-expired, collateral-not-yet-valid.
 */
export function verifyCrl(crl: Crl, issuer: Certificate, at: Date): void {
  if (!sameName(crl.issuer, issuer.subject)) {
    throw new AttestError('crl-invalid', `CRL invalid: the ${crl.what} is not issued by ${issuer.name}`);
  }
  if (crl.signatureAlgorithm !== OID_ECDSA_WITH_SHA256) {
    throw new AttestError(
      'crl-invalid',
      `CRL invalid: the ${crl.what} is signed with ${crl.signatureAlgorithm}`,
    );
  }
  let ok = false;
  try {
    ok = verifySignature('sha256', crl.tbs, issuer.x509.publicKey, crl.signature);
  } catch {
    ok = false;
  }
  if (!ok)
    throw new AttestError(
      'crl-invalid',
      `CRL invalid: the ${crl.what}'s signature by ${issuer.name} does not verify`,
    );
  checkWindow(crl.what, crl.thisUpdate, crl.nextUpdate, at);
}

/** A collateral item's validity window: issued ≤ at ≤ nextUpdate. */
export function checkWindow(what: string, issued: Date, nextUpdate: Date, at: Date): void {
  if (at.getTime() < issued.getTime()) {
    throw new AttestError(
      'collateral-not-yet-valid',
      `collateral not yet valid: the ${what} was issued at ${iso(issued)}, after the verification time ${iso(at)}`,
    );
  }
  if (at.getTime() > nextUpdate.getTime()) {
    throw new AttestError(
      'collateral-expired',
      `collateral expired at ${iso(nextUpdate)}: the ${what}'s nextUpdate is before the verification time ${iso(at)}`,
    );
  }
}

export function iso(d: Date): string {
  return d.toISOString().replace('.000Z', 'Z');
}
