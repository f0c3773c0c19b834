// The X.509 pieces of DCAP on real Intel material: PEM chains (strict), the SGX extension of real
// PCK certificates, real CRLs (the TDX collateral's PCK CRL revokes 44 certificates), chain
// verification errors, and the minimal DER reader's refusals.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { isAttestError } from '../../src/secure/attest-error.js';
import { INTEL_SGX_ROOT_CA_FINGERPRINT } from '../../src/secure/dcap-intel-root.js';
import { parseQuote } from '../../src/secure/quote.js';
import { parsePemChain } from '../../src/secure/x509-certificate.js';
import { verifyChain } from '../../src/secure/x509-chain.js';
import { decodeCrlText, parseCrl, verifyCrl } from '../../src/secure/x509-crl.js';
import { decodeOid, decodeTime, derRoot, readDer } from '../../src/secure/x509-der.js';
import { parseSgxExtensions } from '../../src/secure/x509-sgx-extensions.js';
import { INSIDE_WINDOW, readCollateralJson, readVector } from './dcap-vectors.js';

const sgxCollateral = readCollateralJson('sgx_quote_collateral.json');
const tdxCollateral = readCollateralJson('tdx_quote_collateral.json');

function chainOf(name: string) {
  const q = parseQuote(readVector(name));
  return parsePemChain(Buffer.from(q.signatureData.certification.data).toString('latin1'), name);
}

function formatError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => isTeeError(e, 'E_FORMAT') && message.test((e as Error).message));
}

test('the SGX quote’s PCK chain is PCK certificate → Processor CA → Intel SGX Root CA', () => {
  const chain = chainOf('sgx_quote');
  assert.deepEqual(
    chain.map((c) => c.name),
    ['Intel SGX PCK Certificate', 'Intel SGX PCK Processor CA', 'Intel SGX Root CA'],
  );
  assert.equal(chain[0]!.serial, '81B77732B761E98EB9B963A4ABD1E5B9BF5DD8D6');
  assert.equal(chain[0]!.notBefore.toISOString(), '2023-09-20T21:53:43.000Z');
  assert.equal(chain[2]!.notAfter.toISOString(), '2049-12-31T23:59:59.000Z');
  assert.equal(chain[0]!.x509.checkIssued(chain[1]!.x509), true);
});

test('the SGX extension of real PCK certificates: FMSPC, PCE ID, TCB components, PCESVN, SGX type', () => {
  const sgx = parseSgxExtensions(chainOf('sgx_quote')[0]!);
  assert.equal(Buffer.from(sgx.fmspc).toString('hex'), '00a067110000');
  assert.equal(Buffer.from(sgx.pceId).toString('hex'), '0000');
  assert.deepEqual(sgx.tcbComponents, [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual([...sgx.cpuSvn], sgx.tcbComponents);
  assert.equal(sgx.pceSvn, 13);
  assert.equal(sgx.sgxType, 0);
  assert.equal(sgx.ppid.byteLength, 16);
  // The TDX quote's platform (a Platform CA, scalable SGX type) agrees with its TCB info's FMSPC.
  const tdx = parseSgxExtensions(chainOf('tdx_quote')[0]!);
  assert.equal(Buffer.from(tdx.fmspc).toString('hex'), 'b0c06f000000');
  assert.equal(tdx.sgxType, 1);
  assert.equal(tdx.pceSvn, 11);
  // A certificate without the extension (the CA) is E_FORMAT.
  formatError(() => parseSgxExtensions(chainOf('sgx_quote')[1]!), /no SGX extension/);
});

test('real CRLs: windows, revoked serials (44 in the TDX PCK CRL), signatures by their issuers', () => {
  const root = parseCrl(decodeCrlText(sgxCollateral.root_ca_crl!, 'root CA CRL'), 'root CA CRL');
  assert.equal(root.thisUpdate.toISOString(), '2025-03-20T11:21:57.000Z');
  assert.equal(root.nextUpdate.toISOString(), '2026-04-03T11:21:57.000Z');
  assert.equal(root.revoked.size, 0);
  const tdxPck = parseCrl(decodeCrlText(tdxCollateral.pck_crl!, 'PCK CRL'), 'PCK CRL');
  assert.equal(tdxPck.revoked.size, 44);
  assert.ok(tdxPck.revoked.has('6FC34E5023E728923435D61AA4B83C618166AD35'));
  const tdxChain = chainOf('tdx_quote');
  verifyCrl(tdxPck, tdxChain[1]!, INSIDE_WINDOW); // signed by the Platform CA
  assert.throws(
    () => verifyCrl(tdxPck, chainOf('sgx_quote')[1]!, INSIDE_WINDOW),
    (e: unknown) =>
      isAttestError(e, 'crl-invalid') &&
      /not issued by Intel SGX PCK Processor CA/.test((e as Error).message),
  );
  assert.ok(!tdxPck.revoked.has(tdxChain[0]!.serial));
  // PEM form reads the same.
  const der = decodeCrlText(sgxCollateral.root_ca_crl!, 'x');
  const b64 = Buffer.from(der).toString('base64');
  const pem = `-----BEGIN X509 CRL-----\n${b64.match(/.{1,64}/g)!.join('\n')}\n-----END X509 CRL-----\n`;
  assert.deepEqual(decodeCrlText(pem, 'pem'), der);
});

test('a chain in the wrong order, or missing a CRL, is rejected for that reason', () => {
  const chain = chainOf('sgx_quote');
  const root = parseCrl(decodeCrlText(sgxCollateral.root_ca_crl!, 'r'), 'root CA CRL');
  const pck = parseCrl(decodeCrlText(sgxCollateral.pck_crl!, 'p'), 'PCK CRL');
  const opts = { rootFingerprint: INTEL_SGX_ROOT_CA_FINGERPRINT, at: INSIDE_WINDOW, crls: [root, pck] };
  verifyChain(chain, 'PCK chain', opts);
  assert.throws(
    () => verifyChain([chain[1]!, chain[0]!, chain[2]!], 'PCK chain', opts),
    (e: unknown) => isAttestError(e, 'certificate-invalid'),
  );
  assert.throws(
    () => verifyChain(chain, 'PCK chain', { ...opts, crls: [pck] }),
    (e: unknown) =>
      isAttestError(e, 'crl-invalid') && /no CRL from Intel SGX Root CA/.test((e as Error).message),
  );
  assert.throws(
    () => verifyChain([chain[2]!], 'PCK chain', opts),
    (e: unknown) => isAttestError(e, 'untrusted-root'),
  );
  // Fingerprints are compared without case or colons.
  verifyChain(chain, 'PCK chain', { ...opts, rootFingerprint: chain[2]!.x509.fingerprint256.toLowerCase() });
});

test('PEM chains are strict: CRLF is fine; stray text, bad base64 and non-canonical padding bits are not', () => {
  const pem = sgxCollateral.pck_crl_issuer_chain!;
  assert.equal(parsePemChain(pem.replace(/\n/g, '\r\n'), 'crlf').length, 2);
  assert.equal(parsePemChain(`${pem}\0\0`, 'nul').length, 2);
  formatError(() => parsePemChain(`x${pem}`, 'chain'), /chain: unexpected text before certificate 1/);
  formatError(() => parsePemChain(`${pem}junk`, 'chain'), /unexpected text after certificate 2/);
  formatError(() => parsePemChain(pem.replace('\n', '\n '), 'chain'), /unexpected text|not PEM/);
  // The root's base64 ends "qI=": 'I' (8) carries 2 unused bits; 'J' (9) decodes to the same bytes.
  assert.ok(pem.includes('qI=\n-----END'));
  formatError(
    () => parsePemChain(pem.replace('qI=\n-----END', 'qJ=\n-----END'), 'chain'),
    /not canonical base64/,
  );
  formatError(() => parsePemChain('', 'chain'), /no PEM certificate/);
  formatError(
    () => parsePemChain('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'chain'),
    /not an X\.509 certificate/,
  );
});

test('the DER reader refuses indefinite, non-minimal and overrunning lengths, and reads OIDs and times', () => {
  formatError(() => readDer(new Uint8Array([0x30, 0x80, 0, 0]), 0, 4, 't'), /indefinite length/);
  formatError(
    () => readDer(new Uint8Array([0x30, 0x81, 0x05, 0, 0, 0, 0, 0]), 0, 8, 't'),
    /non-minimal length/,
  );
  formatError(() => readDer(new Uint8Array([0x30, 0x05, 0, 0]), 0, 4, 't'), /runs past its parent/);
  formatError(() => readDer(new Uint8Array([0x1f, 0x01, 0]), 0, 3, 't'), /high tag number/);
  formatError(() => derRoot(new Uint8Array([0x05, 0x00, 0x00]), 't'), /1 bytes after the value/);
  const oid = derRoot(
    new Uint8Array([0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01, 0x04]),
    'oid',
  );
  assert.equal(decodeOid(oid, 'oid'), '1.2.840.113741.1.13.1.4');
  const utc = derRoot(new Uint8Array([0x17, 13, ...Buffer.from('491231235959Z')]), 't');
  assert.equal(decodeTime(utc, 't').toISOString(), '2049-12-31T23:59:59.000Z');
  const old = derRoot(new Uint8Array([0x17, 13, ...Buffer.from('500101000000Z')]), 't');
  assert.equal(decodeTime(old, 't').getUTCFullYear(), 1950);
  formatError(
    () => decodeTime(derRoot(new Uint8Array([0x17, 13, ...Buffer.from('250230000000Z')]), 't'), 't'),
    /bad time/,
  );
});
