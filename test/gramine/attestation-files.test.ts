import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isTeeError } from '../../src/errors.js';
import {
  ATTESTATION_DIR,
  deriveSealingKey,
  detectGramine,
  getQuote,
  QUOTE_REPORT_DATA_OFFSET,
  readAttestationType,
  readQuote,
  readSealingKeyRaw,
  writeUserReportData,
} from '../../src/gramine/attestation-files.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-attest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const outsideGramine = !existsSync(ATTESTATION_DIR);
const attestE = (e: unknown) => isTeeError(e, 'E_ATTEST');

test('outside Gramine every /dev/attestation helper fails with E_ATTEST and creates nothing', {
  skip: !outsideGramine && 'running inside Gramine',
}, () => {
  assert.equal(detectGramine(), 'none');
  assert.throws(
    () => readAttestationType(),
    (e) => attestE(e) && /not running inside a Gramine SGX enclave/.test((e as Error).message),
  );
  assert.throws(() => writeUserReportData(new Uint8Array(64)), attestE);
  assert.throws(() => readQuote(), attestE);
  assert.throws(() => getQuote(new Uint8Array(64)), attestE);
  assert.throws(() => readSealingKeyRaw(), attestE);
  assert.throws(() => deriveSealingKey('checkpoints'), attestE);
  assert.ok(!existsSync(ATTESTATION_DIR));
});

// A stand-in for Gramine's pseudo-files, in a temporary directory.
function fakeSgx(name: string, type = 'dcap'): string {
  const d = join(dir, name);
  mkdirSync(join(d, 'keys'), { recursive: true });
  writeFileSync(join(d, 'attestation_type'), type);
  writeFileSync(join(d, 'user_report_data'), new Uint8Array(64));
  writeFileSync(
    join(d, 'keys', '_sgx_mrenclave'),
    Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  );
  return d;
}

function quoteWith(reportData: Uint8Array, size = 4600): Uint8Array {
  const q = new Uint8Array(size);
  q[0] = 3; // version 3
  if (size >= QUOTE_REPORT_DATA_OFFSET + 64) q.set(reportData, QUOTE_REPORT_DATA_OFFSET);
  return q;
}

test('tells gramine-sgx, gramine-direct and a plain process apart', () => {
  assert.equal(detectGramine(fakeSgx('detect')), 'gramine-sgx');
  const direct = join(dir, 'direct');
  mkdirSync(join(direct, 'keys'), { recursive: true });
  assert.equal(detectGramine(direct), 'gramine-direct');
  assert.equal(detectGramine(join(dir, 'nothing')), 'none');
});

test('a quote is taken over the report data just written, and must carry it', () => {
  const d = fakeSgx('quote');
  const rd = Uint8Array.from({ length: 64 }, (_, i) => 200 - i);
  writeFileSync(join(d, 'quote'), quoteWith(rd));
  assert.equal(readAttestationType(d), 'dcap');
  const q = getQuote(rd, d);
  assert.equal(q.byteLength, 4600);
  assert.deepEqual(new Uint8Array(readFileSync(join(d, 'user_report_data'))), rd);
  const other = rd.slice();
  other[63] ^= 1;
  assert.throws(
    () => getQuote(other, d),
    (e) => attestE(e) && /does not carry the report data/.test((e as Error).message),
  );
  writeFileSync(join(d, 'quote'), quoteWith(rd, 100));
  assert.throws(
    () => readQuote(d),
    (e) => attestE(e) && /gave 100 bytes/.test((e as Error).message),
  );
  assert.throws(() => writeUserReportData(new Uint8Array(32), d), RangeError);
});

test('an enclave without DCAP attestation gives no quote', () => {
  const d = fakeSgx('none', 'none');
  assert.throws(
    () => getQuote(new Uint8Array(64), d),
    (e) => attestE(e) && /not 'dcap'/.test((e as Error).message),
  );
});

test('the sealing key is read raw (16 bytes) and derived per purpose with HKDF', () => {
  const d = fakeSgx('keys');
  const raw = readSealingKeyRaw('_sgx_mrenclave', d);
  assert.deepEqual(
    raw,
    Uint8Array.from({ length: 16 }, (_, i) => i + 1),
  );
  const a = deriveSealingKey('checkpoints', { dir: d });
  const b = deriveSealingKey('checkpoints', { dir: d });
  const c = deriveSealingKey('datasets', { dir: d });
  assert.equal(a.byteLength, 32);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.throws(() => readSealingKeyRaw('_sgx_mrsigner', d), attestE); // not exposed here
  writeFileSync(join(d, 'keys', '_sgx_mrenclave'), new Uint8Array(0)); // a key never set reads empty
  assert.throws(
    () => readSealingKeyRaw('_sgx_mrenclave', d),
    (e) => attestE(e) && /gave 0 bytes/.test((e as Error).message),
  );
  assert.throws(() => deriveSealingKey('', { dir: d }), RangeError);
  assert.throws(() => readSealingKeyRaw('default' as '_sgx_mrenclave', d), RangeError);
});
