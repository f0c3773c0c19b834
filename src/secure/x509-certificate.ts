// X.509 certificates for DCAP: node:crypto's X509Certificate checks signatures and gives the public
// key; the DER reader gives what it does not expose exactly (raw issuer/subject names for CRL
// matching, validity as Dates, the serial's bytes, extensions by OID). PEM chains as found in quotes
// and collateral (leaf first, NUL or whitespace between blocks) are split here.
import { X509Certificate } from 'node:crypto';
import { TeeError } from '../errors.js';
import {
  bytesEqual,
  decodeOid,
  decodeSerial,
  decodeTime,
  derBytes,
  derChildren,
  derRoot,
  derValue,
  expectTag,
  TAG_BOOLEAN,
  TAG_INTEGER,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
} from './x509-der.js';

export interface CertExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** The extnValue OCTET STRING's content. */
  readonly value: Uint8Array;
}

export interface Certificate {
  readonly x509: X509Certificate;
  readonly der: Uint8Array;
  /** Serial as upper-case hex without leading zero bytes (as CRL entries are compared). */
  readonly serial: string;
  /** DER of the issuer and subject Names, compared byte for byte (RFC 5280 §7.1 allows it for one CA's own output). */
  readonly issuer: Uint8Array;
  readonly subject: Uint8Array;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly extensions: readonly CertExtension[];
  /** One line for messages: the subject's CN (or the whole subject). */
  readonly name: string;
}

/** Largest PEM chain read (Intel's are 3 certificates, ~3.5 KB). */
const MAX_CHAIN_CERTS = 8;

export function parseCertificate(der: Uint8Array, what: string): Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (e) {
    throw new TeeError('E_FORMAT', `${what}: not an X.509 certificate (${(e as Error).message})`, {
      cause: e,
    });
  }
  const root = expectTag(derRoot(der, what), TAG_SEQUENCE, what);
  const [tbsNode] = derChildren(root, what);
  const tbs = derChildren(expectTag(tbsNode!, TAG_SEQUENCE, what), what);
  let i = 0;
  if (tbs[0]?.tag === 0xa0) i++; // [0] EXPLICIT version
  const serialNode = tbs[i++];
  i++; // signature AlgorithmIdentifier
  const issuerNode = tbs[i++];
  const validityNode = tbs[i++];
  const subjectNode = tbs[i++];
  i++; // subjectPublicKeyInfo
  if (!serialNode || !issuerNode || !validityNode || !subjectNode) {
    throw new TeeError('E_FORMAT', `${what}: TBSCertificate is missing fields`);
  }
  const [nb, na] = derChildren(expectTag(validityNode, TAG_SEQUENCE, what), what);
  if (!nb || !na) throw new TeeError('E_FORMAT', `${what}: validity is missing a time`);
  const extensions: CertExtension[] = [];
  for (; i < tbs.length; i++) {
    const n = tbs[i]!;
    if (n.tag !== 0xa3) continue; // [1]/[2] unique identifiers
    const [list] = derChildren(n, what);
    for (const ext of derChildren(expectTag(list!, TAG_SEQUENCE, what), what)) {
      const parts = derChildren(expectTag(ext, TAG_SEQUENCE, what), what);
      if (parts.length < 2 || parts.length > 3)
        throw new TeeError('E_FORMAT', `${what}: malformed extension`);
      const oid = decodeOid(parts[0]!, what);
      let critical = false;
      if (parts.length === 3) critical = derValue(expectTag(parts[1]!, TAG_BOOLEAN, what))[0] !== 0;
      const valueNode = expectTag(parts[parts.length - 1]!, TAG_OCTET_STRING, what);
      extensions.push({ oid, critical, value: derValue(valueNode) });
    }
  }
  expectTag(serialNode, TAG_INTEGER, what);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(x509.subject)?.[1];
  return {
    x509,
    der,
    serial: decodeSerial(serialNode, what),
    issuer: derBytes(expectTag(issuerNode, TAG_SEQUENCE, what)),
    subject: derBytes(expectTag(subjectNode, TAG_SEQUENCE, what)),
    notBefore: decodeTime(nb, what),
    notAfter: decodeTime(na, what),
    extensions,
    name: cn ?? x509.subject.replace(/\n/g, ', '),
  };
}

/**
 * Splits a PEM certificate chain (leaf first). Only CERTIFICATE blocks with canonical base64 in lines
 * ending in LF (or CRLF), and LF/CR/NUL between blocks, are read; anything else is E_FORMAT, so that
 * no byte of the chain can change without being noticed.
 */
export function parsePemChain(pem: string, what: string): Certificate[] {
  const re = /-----BEGIN CERTIFICATE-----\r?\n([A-Za-z0-9+/=\r\n]+?)-----END CERTIFICATE-----/g;
  const certs: Certificate[] = [];
  let last = 0;
  const gap = /^[\r\n\0]*$/;
  for (let m = re.exec(pem); m !== null; m = re.exec(pem)) {
    const n = certs.length + 1;
    if (!gap.test(pem.slice(last, m.index)))
      throw new TeeError('E_FORMAT', `${what}: unexpected text before certificate ${n}`);
    last = m.index + m[0].length;
    if (n > MAX_CHAIN_CERTS)
      throw new TeeError('E_FORMAT', `${what}: more than ${MAX_CHAIN_CERTS} certificates`);
    const lines = m[1]!.split(/\r?\n/);
    if (lines.pop() !== '' || lines.some((l) => l.length === 0 || l.length > 76)) {
      throw new TeeError(
        'E_FORMAT',
        `${what}: certificate ${n} is not PEM (base64 lines ending in a newline)`,
      );
    }
    const b64 = lines.join('');
    const buf = Buffer.from(b64, 'base64');
    // Canonical only: Buffer ignores stray padding bits, which would let a flipped character pass.
    if (buf.toString('base64') !== b64) {
      throw new TeeError('E_FORMAT', `${what}: certificate ${n} is not canonical base64`);
    }
    certs.push(
      parseCertificate(
        new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength),
        `${what}, certificate ${n}`,
      ),
    );
  }
  if (!gap.test(pem.slice(last)))
    throw new TeeError('E_FORMAT', `${what}: unexpected text after certificate ${certs.length}`);
  if (certs.length === 0) throw new TeeError('E_FORMAT', `${what}: no PEM certificate`);
  return certs;
}

export function sameName(a: Uint8Array, b: Uint8Array): boolean {
  return bytesEqual(a, b);
}

/** The SHA-256 fingerprint of a certificate's DER, upper-case hex without separators. */
export function fingerprint256(cert: Certificate): string {
  return cert.x509.fingerprint256.replace(/:/g, '').toUpperCase();
}
