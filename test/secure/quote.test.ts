// The quote parser on real SGX (v3) and TDX (v4) quotes: fields against the vectors' README and
// against dcap-qvl's independent parse; every truncation and every inflated length is E_FORMAT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import {
  parseQuote,
  parseSgxReportBody,
  type SgxQuote,
  type TdxQuote,
  toHex,
} from '../../src/secure/quote.js';
import { INSIDE_WINDOW, qvlVerify, readCollateralJson, readVector } from './dcap-vectors.js';

const sgxBytes = readVector('sgx_quote');
const tdxBytes = readVector('tdx_quote');

function copy(b: Uint8Array): Uint8Array {
  return new Uint8Array(b);
}

function assertFormat(fn: () => unknown, message?: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(isTeeError(e, 'E_FORMAT'), `expected E_FORMAT, got ${String(e)}`);
    if (message) assert.match((e as Error).message, message);
    return true;
  });
}

test('parses the SGX quote: header and report body as the vectors README reads them', () => {
  const q = parseQuote(sgxBytes) as SgxQuote;
  assert.equal(q.kind, 'sgx');
  assert.equal(q.header.version, 3);
  assert.equal(q.header.attestationKeyType, 2);
  assert.equal(q.header.teeType, 0);
  assert.equal(q.header.qeSvn, 10);
  assert.equal(q.header.pceSvn, 15);
  assert.equal(q.header.qeVendorId, '939a7233f79c4ca9940a0db3957f0607');
  assert.equal(q.header.userData.byteLength, 20);
  assert.equal(q.body.flags, 0x05n);
  assert.equal(q.body.debug, false);
  assert.equal(q.body.xfrm, 0xe7n);
  assert.equal(toHex(q.body.mrEnclave), '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
  assert.equal(toHex(q.body.mrSigner), '815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6');
  assert.equal(q.body.isvProdId, 0);
  assert.equal(q.body.isvSvn, 0);
  assert.equal(q.body.reportData.byteLength, 64);
  assert.equal(Buffer.from(q.body.reportData.subarray(0, 13)).toString('latin1'), 'Hello, world!');
  assert.ok(q.body.reportData.subarray(13).every((b) => b === 0));
  assert.equal(q.signedBytes.byteLength, 48 + 384);
});

test('parses the SGX quote: signature data, QE report, auth data and a type-5 PEM chain', () => {
  const q = parseQuote(sgxBytes) as SgxQuote;
  const s = q.signatureData;
  assert.equal(s.signature.byteLength, 64);
  assert.equal(s.attestationKey.byteLength, 64);
  assert.equal(s.qeReport.raw.byteLength, 384);
  assert.equal(s.qeReportSignature.byteLength, 64);
  assert.equal(s.qeAuthData.byteLength, 32);
  assert.deepEqual(
    [...s.qeAuthData],
    Array.from({ length: 32 }, (_, i) => i),
  );
  assert.equal(s.certification.type, 5);
  const pem = Buffer.from(s.certification.data).toString('latin1');
  assert.equal(pem.match(/-----BEGIN CERTIFICATE-----/g)?.length, 3);
  // 48 + 384 + 4 + 4164 = 4600: the signature data ends the quote.
  assert.equal(sgxBytes.byteLength, 48 + 384 + 4 + 4164);
  assert.equal(s.qeReport.isvProdId, 1);
  assert.equal(s.qeReport.isvSvn, 10);
  assert.equal(
    toHex(s.qeReport.mrSigner),
    '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff',
  );
});

test('the SGX fields equal those of dcap-qvl’s independent parse', () => {
  const r = qvlVerify(sgxBytes, readCollateralJson('sgx_quote_collateral.json'), INSIDE_WINDOW);
  assert.ok(!('error' in r), JSON.stringify(r));
  const e = r.report.SgxEnclave!;
  const q = parseQuote(sgxBytes) as SgxQuote;
  assert.equal(toHex(q.body.cpuSvn), e.cpu_svn);
  assert.equal(q.body.miscSelect, e.misc_select);
  assert.equal(toHex(q.body.attributes), e.attributes);
  assert.equal(toHex(q.body.mrEnclave), e.mr_enclave);
  assert.equal(toHex(q.body.mrSigner), e.mr_signer);
  assert.equal(q.body.isvProdId, e.isv_prod_id);
  assert.equal(q.body.isvSvn, e.isv_svn);
  assert.equal(toHex(q.body.reportData), e.report_data);
});

test('parses the TDX quote (version 4, type-6 certification data wrapping the QE section)', () => {
  const q = parseQuote(tdxBytes) as TdxQuote;
  assert.equal(q.kind, 'tdx');
  assert.equal(q.header.version, 4);
  assert.equal(q.header.teeType, 0x81);
  assert.equal(q.signedBytes.byteLength, 48 + 584);
  assert.equal(q.signatureData.certification.type, 5);
  assert.equal(q.signatureData.qeAuthData.byteLength, 32);
  assert.equal(q.body.rtmr.length, 4);
  assert.equal(q.body.debug, false);
  const r = qvlVerify(tdxBytes, readCollateralJson('tdx_quote_collateral.json'), INSIDE_WINDOW);
  assert.ok(!('error' in r), JSON.stringify(r));
  const td = r.report.TD10!;
  assert.equal(toHex(q.body.teeTcbSvn), td.tee_tcb_svn);
  assert.equal(toHex(q.body.mrSeam), td.mr_seam);
  assert.equal(toHex(q.body.mrSignerSeam), td.mr_signer_seam);
  assert.equal(toHex(q.body.tdAttributes), td.td_attributes);
  assert.equal(toHex(q.body.mrTd), td.mr_td);
  assert.equal(toHex(q.body.rtmr[3]!), td.rt_mr3);
  assert.equal(toHex(q.body.reportData), td.report_data);
});

test('every truncation of the SGX quote is E_FORMAT', () => {
  for (let n = 0; n < sgxBytes.byteLength; n += n < 1100 ? 1 : 97) {
    assertFormat(() => parseQuote(sgxBytes.subarray(0, n)));
  }
  assertFormat(() => parseQuote(sgxBytes.subarray(0, sgxBytes.byteLength - 1)), /needs \d+ bytes|left/);
});

test('every truncation of the TDX quote inside its signature data is E_FORMAT', () => {
  for (let n = 0; n < 632 + 4 + 4300; n += 53) assertFormat(() => parseQuote(tdxBytes.subarray(0, n)));
});

test('inflated or shrunk lengths are E_FORMAT naming the field', () => {
  const cases: [number, number, RegExp][] = [
    [432, 4165, /signature_data \(declared size 4165\)/], // signature data length
    [432, 4163, /unexpected bytes|needs/], // shorter: the inner structure overruns
    [1012, 33, /qe_auth_data|certification_data|unexpected/], // QE auth data size
    [1012, 0xffff, /qe_auth_data \(declared size 65535\)/],
    [1048, 0x7fffffff, /certification_data\.data \(declared size 2147483647\)/],
  ];
  for (const [at, value, msg] of cases) {
    const b = copy(sgxBytes);
    const dv = new DataView(b.buffer);
    if (at === 1012) dv.setUint16(at, value, true);
    else dv.setUint32(at, value, true);
    assertFormat(() => parseQuote(b), msg);
  }
});

test('unsupported versions, key types and TEE types are E_FORMAT with the value', () => {
  const v = copy(sgxBytes);
  v[0] = 5;
  assertFormat(() => parseQuote(v), /unsupported quote version 5/);
  const k = copy(sgxBytes);
  k[2] = 3;
  assertFormat(() => parseQuote(k), /attestation key type 3/);
  const t = copy(sgxBytes);
  t[4] = 0x81; // a version 3 quote cannot be TDX
  assertFormat(() => parseQuote(t), /version 3 quotes are SGX only/);
  const u = copy(tdxBytes);
  u[4] = 0x42;
  assertFormat(() => parseQuote(u), /unknown TEE type 0x42/);
  const c = copy(tdxBytes);
  c[636 + 128] = 5; // v4 outer certification data must be type 6
  assertFormat(() => parseQuote(c), /must be of type 6/);
});

test('zero padding after the signature data is accepted, anything else is not', () => {
  const padded = new Uint8Array(sgxBytes.byteLength + 16);
  padded.set(sgxBytes);
  assert.equal(parseQuote(padded).kind, 'sgx');
  padded[padded.byteLength - 1] = 1;
  assertFormat(() => parseQuote(padded), /after the signature data, not all zero/);
  assertFormat(() => parseQuote(new Uint8Array(70_000)), /larger than any quote/);
});

test('a report body of the wrong size is E_FORMAT; the DEBUG flag is read from ATTRIBUTES', () => {
  assertFormat(() => parseSgxReportBody(new Uint8Array(383)), /384 bytes/);
  const raw = new Uint8Array(384);
  raw[48] = 0x07;
  const body = parseSgxReportBody(raw);
  assert.equal(body.debug, true);
  assert.equal(body.flags, 7n);
  assert.throws(() => parseQuote('x' as unknown as Uint8Array), TypeError);
});
