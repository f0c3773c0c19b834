// The attestation policy on the real SGX quote (its status is ConfigurationAndSWHardeningNeeded,
// its report_data "Hello, world!"), policy construction errors, and the report_data binding helper
// against a known answer computed outside Node (Python hashlib).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { TeeError } from '../../src/errors.js';
import { AttestError, type AttestReason, isAttestError } from '../../src/secure/attest-error.js';
import { DEFAULT_ATTEST_POLICY, makeAttestPolicy } from '../../src/secure/attest-policy.js';
import { checkReportData, expectedReportData } from '../../src/secure/attest-report-data.js';
import { verifyAttestation } from '../../src/secure/attest-verify.js';
import { parseCollateral } from '../../src/secure/dcap-collateral.js';
import { expectedReportData as handshakeReportData } from '../../src/secure/handshake.js';
import { INSIDE_WINDOW, readCollateralJson, readVector } from './dcap-vectors.js';

const quote = readVector('sgx_quote');
const collateral = parseCollateral(readCollateralJson('sgx_quote_collateral.json'));
const at = { at: INSIDE_WINDOW };
const STATUS = 'ConfigurationAndSWHardeningNeeded';
const MRENCLAVE = '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb';
const MRSIGNER = '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6';

function assertReason(fn: () => unknown, reason: AttestReason, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isAttestError(e), String(e));
    assert.equal(e.reason, reason);
    assert.match(e.message, message);
    return true;
  });
}

test('the default policy (UpToDate only) rejects the real quote with the status reason and its advisories', () => {
  assert.deepEqual(DEFAULT_ATTEST_POLICY.allowedStatuses, ['UpToDate']);
  assert.equal(DEFAULT_ATTEST_POLICY.allowDebug, false);
  assertReason(
    () => verifyAttestation(quote, collateral, {}, at),
    'tcb-status-not-allowed',
    /^TCB status ConfigurationAndSWHardeningNeeded not allowed by policy \(allowed: UpToDate; advisories INTEL-SA-00289, INTEL-SA-00615\)$/,
  );
});

test('allowing ConfigurationAndSWHardeningNeeded accepts it, with the right pins', () => {
  const v = verifyAttestation(
    quote,
    collateral,
    { allowedStatuses: [STATUS], mrEnclave: MRENCLAVE, mrSigner: MRSIGNER, isvProdId: 0 },
    at,
  );
  assert.equal(v.tcbStatus, STATUS);
  assert.deepEqual(v.advisoryIds, ['INTEL-SA-00289', 'INTEL-SA-00615']);
});

test('a wrong MRENCLAVE or MRSIGNER pin is rejected, naming both values', () => {
  const wrong = `00${MRENCLAVE.slice(2)}`;
  assertReason(
    () => verifyAttestation(quote, collateral, { allowedStatuses: [STATUS], mrEnclave: wrong }, at),
    'mrenclave-mismatch',
    new RegExp(`^MRENCLAVE mismatch: the quote has ${MRENCLAVE}, the policy pins ${wrong}$`),
  );
  assertReason(
    () => verifyAttestation(quote, collateral, { allowedStatuses: [STATUS], mrSigner: MRENCLAVE }, at),
    'mrsigner-mismatch',
    /^MRSIGNER mismatch/,
  );
  // Identity is checked before the platform: a wrong enclave is reported as such under any status.
  assertReason(
    () => verifyAttestation(quote, collateral, { mrEnclave: wrong }, at),
    'mrenclave-mismatch',
    /^MRENCLAVE/,
  );
});

test('the real quote’s report_data ("Hello, world!") does not bind a session key', () => {
  const key = new Uint8Array(32).fill(7);
  const nonce = new Uint8Array(32).fill(9);
  assertReason(
    () =>
      verifyAttestation(
        quote,
        collateral,
        { allowedStatuses: [STATUS], reportData: expectedReportData(key, nonce) },
        at,
      ),
    'report-data-mismatch',
    /^report_data does not bind the session key/,
  );
  const hello = new Uint8Array(64);
  hello.set(Buffer.from('Hello, world!', 'latin1'));
  verifyAttestation(quote, collateral, { allowedStatuses: [STATUS], reportData: hello }, at);
});

test('expectedReportData is SHA-256("tee-offload/v1" ‖ key ‖ nonce) then 32 zeros (known answer)', () => {
  const key = new Uint8Array(32).map((_, i) => i);
  const nonce = new Uint8Array(16).fill(0xa5);
  const rd = expectedReportData(key, nonce);
  assert.equal(rd.byteLength, 64);
  assert.equal(
    Buffer.from(rd.subarray(0, 32)).toString('hex'),
    '8c6979950e5a6fe0605ece7fb68cad9f334cbb1d53c5f1922b3c7985cd40bbaf',
  );
  assert.ok(rd.subarray(32).every((b) => b === 0));
  checkReportData(rd, key, nonce);
  const other = new Uint8Array(nonce);
  other[0] = 0;
  assert.throws(
    () => checkReportData(rd, key, other),
    (e: unknown) => isAttestError(e, 'report-data-mismatch'),
  );
  assert.throws(
    () => checkReportData(rd.subarray(0, 32), key, nonce),
    (e: unknown) => isAttestError(e, 'report-data-mismatch'),
  );
});

test('expectedReportData agrees with the handshake’s for its 32-byte keys and nonces', () => {
  for (let i = 0; i < 8; i++) {
    const key = randomBytes(32);
    const nonce = randomBytes(32);
    assert.deepEqual(expectedReportData(key, nonce), handshakeReportData(key, nonce));
  }
});

test('expectedReportData refuses keys that are not 32 bytes and nonces shorter than 16 (RangeError)', () => {
  assert.throws(
    () => expectedReportData(new Uint8Array(31), new Uint8Array(16)),
    /publicKey must be 32 bytes/,
  );
  assert.throws(
    () => expectedReportData(new Uint8Array(32), new Uint8Array(15)),
    /nonce must be 16\.\.1024 bytes, got 15/,
  );
  assert.throws(() => expectedReportData('k' as unknown as Uint8Array, new Uint8Array(16)), TypeError);
});

test('makeAttestPolicy checks every option with an exact message', () => {
  const bad: [Parameters<typeof makeAttestPolicy>[0], RegExp][] = [
    [{ allowedStatuses: [] }, /at least one TCB status/],
    [{ allowedStatuses: ['Fine'] }, /unknown TCB status 'Fine'/],
    [{ allowedStatuses: ['UpToDate', 'Revoked'] }, /Revoked can never be allowed/],
    [{ mrEnclave: 'abc' }, /mrEnclave must be 32 bytes of hex \(64 digits\), got 'abc'/],
    [{ mrSigner: new Uint8Array(31) }, /mrSigner must be 32 bytes, got 31/],
    [{ reportData: '00'.repeat(32) }, /reportData must be 64 bytes of hex/],
    [{ isvProdId: 70000 }, /isvProdId must be an integer in 0\.\.65535/],
    [{ minIsvSvn: -1 }, /minIsvSvn must be an integer/],
  ];
  for (const [input, message] of bad) {
    assert.throws(
      () => makeAttestPolicy(input),
      (e: unknown) => e instanceof RangeError && message.test(e.message),
    );
  }
  const p = makeAttestPolicy({
    allowedStatuses: ['UpToDate', 'UpToDate', 'SWHardeningNeeded'],
    mrEnclave: `0x${MRENCLAVE.toUpperCase()}`,
  });
  assert.deepEqual(p.allowedStatuses, ['UpToDate', 'SWHardeningNeeded']);
  assert.equal(Buffer.from(p.mrEnclave!).toString('hex'), MRENCLAVE);
});

test('AttestError is a TeeError with code E_ATTEST and a reason', () => {
  const e = new AttestError('quote-signature-invalid', 'quote signature invalid: x');
  assert.ok(e instanceof TeeError);
  assert.equal(e.code, 'E_ATTEST');
  assert.equal(e.reason, 'quote-signature-invalid');
  assert.ok(isAttestError(e, 'quote-signature-invalid'));
  assert.ok(!isAttestError(e, 'untrusted-root'));
  assert.ok(!isAttestError(new TeeError('E_ATTEST', 'x')));
});
