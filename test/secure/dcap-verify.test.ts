// DCAP verification of the real SGX quote with its real collateral: the verdict (status and
// advisories) agrees with dcap-qvl's; flipped bytes anywhere in the quote or the collateral, times
// outside the collateral's window and a wrong trust anchor are rejected, each for its reason.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import { type AttestReason, isAttestError } from '../../src/secure/attest-error.js';
import { parseCollateral } from '../../src/secure/dcap-collateral.js';
import {
  INTEL_SGX_ROOT_CA_FINGERPRINT,
  INTEL_SGX_ROOT_CA_PUBLIC_KEY,
} from '../../src/secure/dcap-intel-root.js';
import { verifyDcapQuote } from '../../src/secure/dcap-verify.js';
import { INSIDE_WINDOW, qvlVerify, readCollateralJson, readVector } from './dcap-vectors.js';

const quote = readVector('sgx_quote');
const collateralJson = readCollateralJson('sgx_quote_collateral.json');
const collateral = parseCollateral(collateralJson);

function flipped(b: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const c = new Uint8Array(b);
  c[at]! ^= mask;
  return c;
}

function flippedText(s: string, at: number): string {
  return s.slice(0, at) + String.fromCharCode(s.charCodeAt(at) ^ 0x01) + s.slice(at + 1);
}

/** Runs fn and returns the AttestError reason, 'E_FORMAT', or fails on acceptance or another error. */
function rejection(fn: () => unknown, what: string): AttestReason | 'E_FORMAT' {
  try {
    fn();
  } catch (e) {
    if (isAttestError(e)) {
      assert.equal(e.code, 'E_ATTEST');
      return e.reason;
    }
    if (isTeeError(e, 'E_FORMAT')) return 'E_FORMAT';
    throw new Error(`${what}: unexpected error ${String(e)}`, { cause: e });
  }
  assert.fail(`${what} was accepted`);
}

test('the SGX quote verifies inside the window: ConfigurationAndSWHardeningNeeded, INTEL-SA-00289 and -00615', () => {
  const v = verifyDcapQuote(quote, collateral, { at: INSIDE_WINDOW });
  assert.equal(v.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
  assert.deepEqual(v.advisoryIds, ['INTEL-SA-00289', 'INTEL-SA-00615']);
  assert.equal(v.platformTcb.status, 'ConfigurationAndSWHardeningNeeded');
  assert.equal(v.qeTcb.status, 'UpToDate');
  assert.equal(v.fmspc, '00a067110000');
  assert.equal(v.pceId, '0000');
  assert.equal(v.tcbEvaluationDataNumber, 17);
  // The QE identity's nextUpdate (2025-07-19T10:01:18Z) is the earliest deadline.
  assert.equal(v.validUntil.toISOString(), '2025-07-19T10:01:18.000Z');
});

test('dcap-qvl (independent, Rust → wasm) gives the same status and advisories at several times', () => {
  for (const t of ['2025-06-19T10:56:11Z', '2025-07-01T00:00:00Z', '2025-07-19T10:01:18Z']) {
    const at = new Date(t);
    const ours = verifyDcapQuote(quote, collateral, { at });
    const theirs = qvlVerify(quote, collateralJson, at);
    assert.ok(!('error' in theirs), `${t}: ${JSON.stringify(theirs)}`);
    assert.equal(ours.tcbStatus, theirs.status, t);
    assert.deepEqual([...ours.advisoryIds].sort(), [...theirs.advisory_ids].sort(), t);
  }
});

test('the pinned root is the one the vectors chain to (fingerprint and public key)', () => {
  const root = collateral.pckCrlIssuerChain.at(-1)!;
  assert.equal(root.x509.fingerprint256.replace(/:/g, ''), INTEL_SGX_ROOT_CA_FINGERPRINT);
  const jwk = root.x509.publicKey.export({ format: 'jwk' });
  const point = `04${Buffer.from(jwk.x!, 'base64url').toString('hex')}${Buffer.from(jwk.y!, 'base64url').toString('hex')}`;
  assert.equal(point, INTEL_SGX_ROOT_CA_PUBLIC_KEY);
});

test('flipped bytes in the quote are rejected, each for the reason of the part they hit', () => {
  // offset → expected reason (XOR 0x01 unless noted)
  const cases: [number, AttestReason | 'E_FORMAT', string][] = [
    [0, 'E_FORMAT', 'header.version'],
    [2, 'E_FORMAT', 'header.att_key_type'],
    [8, 'quote-signature-invalid', 'header.qe_svn'],
    [10, 'quote-signature-invalid', 'header.pce_svn'],
    [12, 'unsupported-quote', 'header.qe_vendor_id'],
    [28, 'quote-signature-invalid', 'header.user_data'],
    [48, 'quote-signature-invalid', 'report.cpusvn'],
    [64, 'quote-signature-invalid', 'report.miscselect'],
    [112, 'quote-signature-invalid', 'report.mrenclave'],
    [176, 'quote-signature-invalid', 'report.mrsigner'],
    [304, 'quote-signature-invalid', 'report.isvprodid'],
    [306, 'quote-signature-invalid', 'report.isvsvn'],
    [368, 'quote-signature-invalid', 'report.report_data'],
    [431, 'quote-signature-invalid', 'report.report_data (last byte)'],
    [432, 'E_FORMAT', 'signature_data.size'],
    [436, 'quote-signature-invalid', 'quote signature (r)'],
    [499, 'quote-signature-invalid', 'quote signature (s)'],
    [500, 'qe-report-data-mismatch', 'attestation key'],
    [564, 'qe-report-signature-invalid', 'QE report'],
    [947, 'qe-report-signature-invalid', 'QE report (report_data)'],
    [948, 'qe-report-signature-invalid', 'QE report signature'],
    [1012, 'E_FORMAT', 'QE auth data size'],
    [1014, 'qe-report-data-mismatch', 'QE auth data'],
    [1046, 'unsupported-quote', 'certification data type'],
    [1048, 'E_FORMAT', 'certification data size'],
    [quote.byteLength - 1, 'E_FORMAT', 'NUL after the PEM chain'],
  ];
  for (const [at, reason, what] of cases) {
    assert.equal(
      rejection(() => verifyDcapQuote(flipped(quote, at), collateral, { at: INSIDE_WINDOW }), what),
      reason,
      what,
    );
  }
  // The debug flag: setting it breaks the quote signature before any policy is consulted.
  assert.equal(
    rejection(() => verifyDcapQuote(flipped(quote, 96, 0x02), collateral, { at: INSIDE_WINDOW }), 'DEBUG'),
    'quote-signature-invalid',
  );
});

test('flipped bytes in the PEM chain of the quote are rejected (PCK, CA and root certificates)', () => {
  const pem = Buffer.from(quote.subarray(1052)).toString('latin1');
  const starts = [...pem.matchAll(/-----BEGIN CERTIFICATE-----\n/g)].map((m) => 1052 + m.index + m[0].length);
  const expect = [new Set(['certificate-invalid', 'E_FORMAT']), new Set(['certificate-invalid', 'E_FORMAT'])];
  for (const [k, start] of starts.entries()) {
    for (const off of [0, 100, 401, 777]) {
      const r = rejection(
        () => verifyDcapQuote(flipped(quote, start + off), collateral, { at: INSIDE_WINDOW }),
        `cert ${k}`,
      );
      // A changed root copy no longer has the pinned fingerprint.
      if (k === 2) assert.ok(r === 'untrusted-root' || r === 'E_FORMAT', `root +${off}: ${r}`);
      else assert.ok(expect[k]!.has(r), `cert ${k} +${off}: ${r}`);
    }
  }
});

test('a sample of single-bit flips across the whole quote is rejected, as dcap-qvl rejects it', () => {
  // dcap-qvl tolerates whitespace changes in the PEM chain and trusts its own copy of the root, so
  // the second opinion is asked about the binary part only (header, body, signature data).
  const pemStart = 1052;
  let n = 0;
  for (let at = 0; at < quote.byteLength; at += 13) {
    const bad = flipped(quote, at);
    rejection(() => verifyDcapQuote(bad, collateral, { at: INSIDE_WINDOW }), `byte ${at}`);
    if (at < pemStart)
      assert.ok('error' in qvlVerify(bad, collateralJson, INSIDE_WINDOW), `dcap-qvl accepted byte ${at}`);
    n++;
  }
  assert.ok(n > 300);
});

test('flipped characters in each collateral part are rejected for that part’s reason', () => {
  const parts: [string, readonly (AttestReason | 'E_FORMAT')[]][] = [
    ['tcb_info', ['tcb-info-signature-invalid']],
    ['tcb_info_signature', ['tcb-info-signature-invalid', 'E_FORMAT']],
    ['qe_identity', ['qe-identity-signature-invalid']],
    ['qe_identity_signature', ['qe-identity-signature-invalid', 'E_FORMAT']],
    ['root_ca_crl', ['crl-invalid', 'E_FORMAT']],
    ['pck_crl', ['crl-invalid', 'E_FORMAT']],
    ['tcb_info_issuer_chain', ['certificate-invalid', 'untrusted-root', 'E_FORMAT']],
    ['qe_identity_issuer_chain', ['certificate-invalid', 'untrusted-root', 'E_FORMAT']],
    ['pck_crl_issuer_chain', ['certificate-invalid', 'untrusted-root', 'E_FORMAT']],
  ];
  for (const [key, reasons] of parts) {
    const text = collateralJson[key]!;
    const step = Math.max(1, Math.floor(text.length / 40));
    for (let at = 0; at < text.length; at += step) {
      const bad = { ...collateralJson, [key]: flippedText(text, at) };
      const r = rejection(
        () => verifyDcapQuote(quote, parseCollateral(bad), { at: INSIDE_WINDOW }),
        `${key}[${at}]`,
      );
      assert.ok(reasons.includes(r), `${key}[${at}]: ${r}`);
    }
  }
});

test('a TCB info body changed to claim UpToDate is rejected for its signature', () => {
  const forged = collateralJson.tcb_info!.replace(
    '"tcbStatus":"ConfigurationAndSWHardeningNeeded"',
    '"tcbStatus":"UpToDate"',
  );
  assert.notEqual(forged, collateralJson.tcb_info);
  const bad = parseCollateral({ ...collateralJson, tcb_info: forged });
  assert.equal(
    rejection(() => verifyDcapQuote(quote, bad, { at: INSIDE_WINDOW }), 'forged TCB info'),
    'tcb-info-signature-invalid',
  );
});

test('collateral in the wrong part is rejected (no PCK CRL, TCB info as QE identity, another platform’s)', () => {
  // CRLs are found by issuer, so swapping the two slots is harmless; a missing PCK CRL is not.
  const swapped = parseCollateral({
    ...collateralJson,
    pck_crl: collateralJson.root_ca_crl!,
    root_ca_crl: collateralJson.pck_crl!,
  });
  assert.equal(
    verifyDcapQuote(quote, swapped, { at: INSIDE_WINDOW }).tcbStatus,
    'ConfigurationAndSWHardeningNeeded',
  );
  const noPckCrl = parseCollateral({ ...collateralJson, pck_crl: collateralJson.root_ca_crl! });
  assert.throws(
    () => verifyDcapQuote(quote, noPckCrl, { at: INSIDE_WINDOW }),
    (e: unknown) =>
      isAttestError(e, 'crl-invalid') &&
      /^CRL invalid: no CRL from Intel SGX PCK Processor CA to check Intel SGX PCK Certificate/.test(
        (e as Error).message,
      ),
  );
  const both = parseCollateral({
    ...collateralJson,
    qe_identity: collateralJson.tcb_info!,
    qe_identity_signature: collateralJson.tcb_info_signature!,
  });
  assert.equal(
    rejection(() => verifyDcapQuote(quote, both, { at: INSIDE_WINDOW }), 'TCB info as QE identity'),
    'E_FORMAT',
  );
  // The TDX collateral is for another FMSPC and another TEE.
  const tdx = parseCollateral(readCollateralJson('tdx_quote_collateral.json'));
  const r = rejection(() => verifyDcapQuote(quote, tdx, { at: INSIDE_WINDOW }), 'TDX collateral');
  assert.ok(r === 'tcb-info-mismatch' || r === 'qe-identity-mismatch' || r === 'crl-invalid', r);
});

test('times outside the collateral window are rejected: not yet valid before, expired after', () => {
  const cases: [string, AttestReason, RegExp][] = [
    [
      '2025-06-19T10:56:10Z',
      'collateral-not-yet-valid',
      /^collateral not yet valid: the TCB info was issued at 2025-06-19T10:56:11Z/,
    ],
    ['2025-06-01T00:00:00Z', 'collateral-not-yet-valid', /^collateral not yet valid: the PCK CRL/],
    [
      '2025-07-19T10:01:19Z',
      'collateral-expired',
      /^collateral expired at 2025-07-19T10:01:18Z: the QE identity/,
    ],
    [
      '2025-07-19T10:30:00Z',
      'collateral-expired',
      /^collateral expired at 2025-07-19T10:23:18Z: the PCK CRL/,
    ],
    [
      '2031-01-01T00:00:00Z',
      'certificate-expired',
      /^certificate expired at 2030-09-20T21:53:43Z: Intel SGX PCK Certificate/,
    ],
    [
      '2018-01-01T00:00:00Z',
      'certificate-not-yet-valid',
      /^certificate not yet valid: Intel SGX PCK Certificate/,
    ],
  ];
  for (const [t, reason, message] of cases) {
    assert.throws(
      () => verifyDcapQuote(quote, collateral, { at: new Date(t) }),
      (e: unknown) => isAttestError(e, reason) && message.test((e as Error).message),
      t,
    );
  }
  // The default time is now, long after the 2025 collateral.
  assert.throws(
    () => verifyDcapQuote(quote, collateral),
    (e: unknown) => isAttestError(e),
  );
  assert.throws(() => verifyDcapQuote(quote, collateral, { at: new Date('nope') }), RangeError);
});

test('another trust anchor is not the pinned Intel root: every chain fails untrusted-root', () => {
  assert.throws(
    () => verifyDcapQuote(quote, collateral, { at: INSIDE_WINDOW, rootFingerprint: '00'.repeat(32) }),
    (e: unknown) =>
      isAttestError(e, 'untrusted-root') &&
      /^PCK chain does not reach the pinned Intel root: its last certificate \(Intel SGX Root CA\)/.test(
        (e as Error).message,
      ),
  );
});

test('a PCK chain cut short of the root is rejected', () => {
  const text = Buffer.from(quote.subarray(1052)).toString('latin1');
  const cut = text.slice(0, text.lastIndexOf('-----BEGIN CERTIFICATE-----'));
  const bytes = new Uint8Array(1052 + cut.length);
  bytes.set(quote.subarray(0, 1052));
  bytes.set(Buffer.from(cut, 'latin1'), 1052);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(432, bytes.byteLength - 436, true);
  dv.setUint32(1048, cut.length, true);
  assert.throws(
    () => verifyDcapQuote(bytes, collateral, { at: INSIDE_WINDOW }),
    (e: unknown) => isAttestError(e, 'untrusted-root'),
  );
});

test('the TDX quote is refused clearly: TDX quotes are not supported by this verifier', () => {
  const tdx = readVector('tdx_quote');
  const c = parseCollateral(readCollateralJson('tdx_quote_collateral.json'));
  assert.throws(
    () => verifyDcapQuote(tdx, c, { at: INSIDE_WINDOW }),
    (e: unknown) =>
      isAttestError(e, 'unsupported-quote') &&
      /TDX quotes are not supported by this verifier/.test((e as Error).message),
  );
});

test('malformed collateral is E_FORMAT naming the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [
      { ...collateralJson, tcb_info_signature: 'abcd' },
      /collateral\.tcb_info_signature: expected 64 bytes of hex/,
    ],
    [{ ...collateralJson, root_ca_crl: 'zz' }, /root CA CRL: neither hex DER nor a PEM X509 CRL/],
    [{ ...collateralJson, pck_crl: '3000' }, /PCK CRL: a CRL has 3 parts, got 0/],
    [{ ...collateralJson, qe_identity: undefined }, /collateral\.qe_identity: missing/],
    [
      { ...collateralJson, tcb_info_issuer_chain: 'no pem here' },
      /TCB info issuer chain: no PEM certificate|unexpected text/,
    ],
    [{ ...collateralJson, pck_certificate_chain: 'x' }, /pck_certificate_chain: not supported/],
  ];
  for (const [c, message] of cases) {
    assert.throws(
      () => parseCollateral(c),
      (e: unknown) => isTeeError(e, 'E_FORMAT') && message.test((e as Error).message),
    );
  }
  assert.throws(
    () => parseCollateral('{'),
    (e: unknown) => isTeeError(e, 'E_FORMAT') && /collateral: not JSON/.test((e as Error).message),
  );
  assert.throws(
    () => parseCollateral([]),
    (e: unknown) => isTeeError(e, 'E_FORMAT'),
  );
});
