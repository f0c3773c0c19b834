// DCAP verification on a synthetic PKI (dcap-fake-pki.ts), for what real quotes cannot show: every
// TCB status and how the QE's combines with the platform's, a DEBUG enclave, revoked certificates,
// collateral signed by the wrong key, a platform below every TCB level, and report_data bound to a
// session key end to end.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { type AttestReason, isAttestError } from '../../src/secure/attest-error.js';
import { expectedReportData } from '../../src/secure/attest-report-data.js';
import { verifyAttestation } from '../../src/secure/attest-verify.js';
import { parseCollateral } from '../../src/secure/dcap-collateral.js';
import { verifyDcapQuote } from '../../src/secure/dcap-verify.js';
import { FAKE_TCB_STATUSES, type FakeOptions, makeFakeDcap } from './dcap-fake-pki.js';

function verifyFake(o: FakeOptions = {}) {
  const f = makeFakeDcap(o);
  return verifyDcapQuote(f.quote, parseCollateral(f.collateral), {
    at: f.at,
    rootFingerprint: f.rootFingerprint,
  });
}

function assertReason(fn: () => unknown, reason: AttestReason, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestError(e), `expected AttestError ${reason}, got ${String(e)}`);
    assert.equal(e.reason, reason, e.message);
    assert.equal(e.code, 'E_ATTEST');
    if (message) assert.match(e.message, message);
    return true;
  });
}

test('a synthetic quote from an up-to-date platform and QE verifies and passes the default policy', () => {
  const f = makeFakeDcap();
  const v = verifyAttestation(
    f.quote,
    parseCollateral(f.collateral),
    {},
    { at: f.at, rootFingerprint: f.rootFingerprint },
  );
  assert.equal(v.tcbStatus, 'UpToDate');
  assert.deepEqual(v.advisoryIds, []);
  // …and only under its own root: the pinned Intel root rejects it.
  assertReason(() => verifyDcapQuote(f.quote, parseCollateral(f.collateral), { at: f.at }), 'untrusted-root');
});

test('each platform TCB level gives its status and advisories (TCB info version 3 and 2)', () => {
  for (const version of [3, 2] as const) {
    for (const [k, status] of FAKE_TCB_STATUSES.entries()) {
      const v = verifyFake({ platformSvn: 7 - k, tcbInfoVersion: version });
      assert.equal(v.platformTcb.status, status, `svn ${7 - k}, v${version}`);
      assert.equal(v.tcbStatus, status);
      assert.deepEqual(v.advisoryIds, k === 0 ? [] : [`FAKE-SA-${String(k).padStart(5, '0')}`]);
    }
  }
  // Between levels, the highest level the platform meets applies.
  assert.equal(verifyFake({ platformSvn: 200 }).tcbStatus, 'UpToDate');
});

test('a platform below every TCB level (components or PCESVN) is tcb-level-not-found', () => {
  assertReason(
    () => verifyFake({ platformSvn: 0 }),
    'tcb-level-not-found',
    /^TCB level not found: the platform's TCB/,
  );
  assertReason(() => verifyFake({ pceSvn: 9 }), 'tcb-level-not-found', /PCESVN 9/);
});

test('an out-of-date QE makes the quote out of date, keeping "configuration needed"; a revoked QE revokes it', () => {
  const cases: [number, number, string, string[]][] = [
    [7, 6, 'OutOfDate', ['FAKE-SA-QE001']],
    [6, 7, 'OutOfDate', ['FAKE-SA-00001', 'FAKE-SA-QE001']], // SWHardeningNeeded + QE OutOfDate
    [5, 6, 'OutOfDateConfigurationNeeded', ['FAKE-SA-00002', 'FAKE-SA-QE001']],
    [4, 6, 'OutOfDateConfigurationNeeded', ['FAKE-SA-00003', 'FAKE-SA-QE001']],
    [3, 6, 'OutOfDate', ['FAKE-SA-00004', 'FAKE-SA-QE001']],
    [7, 2, 'Revoked', ['FAKE-SA-QE002']],
    [4, 9, 'ConfigurationAndSWHardeningNeeded', ['FAKE-SA-00003']],
  ];
  for (const [platformSvn, qeIsvSvn, status, advisories] of cases) {
    const v = verifyFake({ platformSvn, qeIsvSvn });
    assert.equal(v.tcbStatus, status, `platform ${platformSvn}, QE ${qeIsvSvn}`);
    assert.deepEqual(v.advisoryIds, advisories);
  }
  assertReason(() => verifyFake({ qeIsvSvn: 1 }), 'tcb-level-not-found', /QE ISVSVN 1 is below every level/);
});

test('the policy accepts only the statuses it lists, and never Revoked', () => {
  const f = makeFakeDcap({ platformSvn: 4 });
  const c = parseCollateral(f.collateral);
  const opts = { at: f.at, rootFingerprint: f.rootFingerprint };
  assertReason(
    () => verifyAttestation(f.quote, c, {}, opts),
    'tcb-status-not-allowed',
    /^TCB status ConfigurationAndSWHardeningNeeded not allowed by policy \(allowed: UpToDate; advisories FAKE-SA-00003\)$/,
  );
  const v = verifyAttestation(
    f.quote,
    c,
    { allowedStatuses: ['UpToDate', 'ConfigurationAndSWHardeningNeeded'] },
    opts,
  );
  assert.equal(v.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
  const r = makeFakeDcap({ platformSvn: 1 });
  assertReason(
    () =>
      verifyAttestation(
        r.quote,
        parseCollateral(r.collateral),
        { allowedStatuses: ['UpToDate', 'OutOfDate'] },
        {
          at: r.at,
          rootFingerprint: r.rootFingerprint,
        },
      ),
    'tcb-status-not-allowed',
    /^TCB status Revoked not allowed/,
  );
});

test('a DEBUG enclave verifies but the policy rejects it unless allowDebug', () => {
  const f = makeFakeDcap({ debug: true });
  const c = parseCollateral(f.collateral);
  const opts = { at: f.at, rootFingerprint: f.rootFingerprint };
  assert.equal(verifyDcapQuote(f.quote, c, opts).quote.body.debug, true);
  assertReason(
    () => verifyAttestation(f.quote, c, {}, opts),
    'debug-not-allowed',
    /^debug enclave not allowed by policy/,
  );
  assert.equal(verifyAttestation(f.quote, c, { allowDebug: true }, opts).tcbStatus, 'UpToDate');
});

test('report_data bound to the session key passes; another key or nonce is rejected', () => {
  const key = randomBytes(32);
  const nonce = randomBytes(32);
  const f = makeFakeDcap({ reportData: expectedReportData(key, nonce) });
  const c = parseCollateral(f.collateral);
  const opts = { at: f.at, rootFingerprint: f.rootFingerprint };
  verifyAttestation(f.quote, c, { reportData: expectedReportData(key, nonce) }, opts);
  for (const [k, n] of [
    [randomBytes(32), nonce],
    [key, randomBytes(32)],
  ] as const) {
    assertReason(
      () => verifyAttestation(f.quote, c, { reportData: expectedReportData(k, n) }, opts),
      'report-data-mismatch',
      /^report_data does not bind the session key/,
    );
  }
});

test('MRENCLAVE, MRSIGNER, ISVPRODID and ISVSVN pins are enforced', () => {
  const f = makeFakeDcap();
  const c = parseCollateral(f.collateral);
  const opts = { at: f.at, rootFingerprint: f.rootFingerprint };
  const ok = { mrEnclave: 'e1'.repeat(32), mrSigner: '51'.repeat(32), isvProdId: 3, minIsvSvn: 2 };
  verifyAttestation(f.quote, c, ok, opts);
  assertReason(
    () => verifyAttestation(f.quote, c, { ...ok, mrEnclave: 'e2'.repeat(32) }, opts),
    'mrenclave-mismatch',
    /^MRENCLAVE mismatch/,
  );
  assertReason(
    () => verifyAttestation(f.quote, c, { ...ok, mrSigner: '52'.repeat(32) }, opts),
    'mrsigner-mismatch',
    /^MRSIGNER mismatch/,
  );
  assertReason(
    () => verifyAttestation(f.quote, c, { ...ok, isvProdId: 4 }, opts),
    'isvprodid-mismatch',
    /^ISVPRODID mismatch/,
  );
  assertReason(
    () => verifyAttestation(f.quote, c, { ...ok, minIsvSvn: 3 }, opts),
    'isvsvn-too-low',
    /^ISVSVN too low/,
  );
});

test('a revoked PCK certificate or PCK CA is rejected (certificate-revoked)', () => {
  assertReason(
    () => verifyFake({ revokePck: true }),
    'certificate-revoked',
    /^certificate revoked: Intel SGX PCK Certificate \(serial 81B7\) of the PCK chain is on the PCK CRL/,
  );
  assertReason(
    () => verifyFake({ revokePckCa: true }),
    'certificate-revoked',
    /^certificate revoked: Intel SGX PCK Processor CA \(serial 02\) .* is on the root CA CRL/,
  );
});

test('a PCK CRL signed by another key is crl-invalid', () => {
  assertReason(
    () => verifyFake({ pckCrlWrongKey: true }),
    'crl-invalid',
    /PCK CRL's signature by Intel SGX PCK Processor CA does not verify/,
  );
});

test('a TCB info signed by a PCK key (chained to the root) is refused: only the TCB signing certificate may sign it', () => {
  assertReason(
    () => verifyFake({ tcbInfoSignedByPck: true, platformSvn: 1 }),
    'certificate-invalid',
    /the TCB info issuer chain is Intel SGX PCK Certificate → Intel SGX PCK Processor CA → Fake SGX Root CA, expected Intel SGX TCB Signing → root/,
  );
});

test('TCB info for another FMSPC is tcb-info-mismatch; a QE with another MRSIGNER is qe-identity-mismatch', () => {
  assertReason(
    () => verifyFake({ tcbInfoFmspc: '00906ed50001' }),
    'tcb-info-mismatch',
    /FMSPC 00906ed50001, the PCK certificate's is 00906ed50000/,
  );
  assertReason(
    () => verifyFake({ qeMrSigner: new Uint8Array(32).fill(1) }),
    'qe-identity-mismatch',
    /^QE identity mismatch: QE MRSIGNER/,
  );
});
