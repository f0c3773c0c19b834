// `tee-offload attest verify` on the real vectors, run in-process (main.ts registers commands; this
// checks the command itself and the exit status main maps its errors to).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { attestCommand } from '../../src/cli/commands/attest.js';
import { EXIT_CODES } from '../../src/cli/exit-codes.js';
import { isTeeError, type TeeError } from '../../src/errors.js';
import { isAttestError } from '../../src/secure/attest-error.js';
import { vectorPath } from './dcap-vectors.js';

const dir = mkdtempSync(join(tmpdir(), 'tee-offload-attest-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const QUOTE = vectorPath('sgx_quote');
const COLLATERAL = vectorPath('sgx_quote_collateral.json');
const BASE = ['verify', '--quote', QUOTE, '--collateral', COLLATERAL, '--at', '2025-07-01T00:00:00Z'];

async function run(args: string[]): Promise<{ out: string; code?: number; error?: TeeError }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(' '));
  try {
    const code = await attestCommand.run(args);
    return { out: lines.join('\n'), code };
  } catch (e) {
    if (!isTeeError(e)) throw e;
    return { out: lines.join('\n'), error: e };
  } finally {
    console.log = log;
  }
}

test('attest verify prints the quote’s fields and the verdict, exit 0 when the policy allows the status', async () => {
  const r = await run([...BASE, '--allow-status', 'UpToDate,ConfigurationAndSWHardeningNeeded']);
  assert.equal(r.code, 0, r.error?.message);
  assert.match(r.out, /^quote {8}SGX, DCAP version 3, attestation key type 2 \(ECDSA P-256\)$/m);
  assert.match(r.out, /^MRENCLAVE {4}33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb$/m);
  assert.match(r.out, /^MRSIGNER {5}815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6$/m);
  assert.match(r.out, /^ISVPRODID {4}0$/m);
  assert.match(r.out, /^ISVSVN {7}0$/m);
  assert.match(r.out, /^attributes {3}flags 0x0000000000000005 \(INIT MODE64\), xfrm 0x00000000000000e7$/m);
  assert.match(r.out, /^debug {8}no$/m);
  assert.match(r.out, /^report_data {2}48656c6c6f2c20776f726c6421(00)+$/m);
  assert.match(
    r.out,
    /^TCB status {3}ConfigurationAndSWHardeningNeeded \(platform ConfigurationAndSWHardeningNeeded, QE UpToDate\)$/m,
  );
  assert.match(r.out, /^advisories {3}INTEL-SA-00289, INTEL-SA-00615$/m);
  assert.match(r.out, /^verdict {6}accepted by the policy$/m);
});

test('with the default policy it prints the fields, then fails E_ATTEST (exit 8) with the status reason', async () => {
  const r = await run(BASE);
  assert.ok(isAttestError(r.error, 'tcb-status-not-allowed'));
  assert.equal(EXIT_CODES[r.error.code], 8);
  assert.match(r.error.message, /^TCB status ConfigurationAndSWHardeningNeeded not allowed by policy/);
  assert.match(r.out, /^MRENCLAVE/m);
  assert.match(r.out, /^verdict {6}REJECTED \(tcb-status-not-allowed\)$/m);
});

test('--json prints one object with the fields and the verdict, accepted or not', async () => {
  const ok = await run([...BASE, '--allow-status', 'ConfigurationAndSWHardeningNeeded', '--json']);
  assert.equal(ok.code, 0);
  const j = JSON.parse(ok.out) as { quote: Record<string, unknown>; verdict: Record<string, unknown> };
  assert.equal(j.quote.version, 3);
  assert.equal(j.quote.mrEnclave, '33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
  assert.deepEqual(j.quote.attributes, {
    flags: '0x0000000000000005',
    flagNames: 'INIT MODE64',
    xfrm: '0x00000000000000e7',
    debug: false,
  });
  assert.equal(j.verdict.accepted, true);
  assert.equal(j.verdict.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
  assert.deepEqual(j.verdict.advisoryIds, ['INTEL-SA-00289', 'INTEL-SA-00615']);
  const bad = await run([...BASE, '--mrenclave', '00'.repeat(32), '--json']);
  assert.ok(isAttestError(bad.error, 'mrenclave-mismatch'));
  const jb = JSON.parse(bad.out) as { verdict: Record<string, unknown> };
  assert.equal(jb.verdict.accepted, false);
  assert.equal(jb.verdict.reason, 'mrenclave-mismatch');
  assert.equal(jb.verdict.tcbStatus, 'ConfigurationAndSWHardeningNeeded');
});

test('a wrong --mrenclave, a time outside the window and a tampered quote each fail with their reason', async () => {
  const pin = await run([
    ...BASE,
    '--allow-status',
    'ConfigurationAndSWHardeningNeeded',
    '--mrenclave',
    'ab'.repeat(32),
  ]);
  assert.ok(isAttestError(pin.error, 'mrenclave-mismatch'));
  const late = await run([
    'verify',
    '--quote',
    QUOTE,
    '--collateral',
    COLLATERAL,
    '--at',
    '2026-01-01T00:00:00Z',
  ]);
  assert.ok(isAttestError(late.error, 'collateral-expired'));
  assert.match(late.out, /^verdict {6}REJECTED \(collateral-expired\)$/m);
  const bytes = Buffer.from((await import('node:fs')).readFileSync(QUOTE));
  bytes[200] = (bytes[200] ?? 0) ^ 1;
  const tampered = join(dir, 'tampered_quote');
  writeFileSync(tampered, bytes);
  const t = await run([
    'verify',
    '--quote',
    tampered,
    '--collateral',
    COLLATERAL,
    '--at',
    '2025-07-01T00:00:00Z',
  ]);
  assert.ok(isAttestError(t.error, 'quote-signature-invalid'));
});

test('usage errors: missing files, bad --at, unknown status, bad hex; I/O and format errors keep their codes', async () => {
  const cases: [string[], RegExp][] = [
    [['verify', '--quote', QUOTE], /needs --quote FILE and --collateral FILE/],
    [[...BASE.slice(0, 5), '--at', 'yesterday'], /--at must be an ISO 8601 time/],
    [[...BASE, '--allow-status', 'Fine'], /unknown TCB status 'Fine'/],
    [[...BASE, '--allow-status', 'Revoked'], /Revoked can never be allowed/],
    [[...BASE, '--mrsigner', 'xyz'], /mrSigner must be 32 bytes of hex/],
    [[...BASE, '--isvprodid', 'x'], /--isvprodid must be an integer/],
    [['frobnicate'], /unknown attest subcommand 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = await run(args);
    assert.equal(r.error?.code, 'E_USAGE', `${args.join(' ')}: ${r.error?.message}`);
    assert.match(r.error.message, message);
  }
  const missing = await run(['verify', '--quote', join(dir, 'nope'), '--collateral', COLLATERAL]);
  assert.equal(missing.error?.code, 'E_IO');
  const notQuote = join(dir, 'not_a_quote');
  writeFileSync(notQuote, 'hello');
  const f = await run(['verify', '--quote', notQuote, '--collateral', COLLATERAL]);
  assert.equal(f.error?.code, 'E_FORMAT');
  assert.equal(EXIT_CODES.E_FORMAT, 3);
});

test('help: the command, the subcommand, and exit 2 without a subcommand', async () => {
  assert.match(attestCommand.help, /^usage: tee-offload attest verify/);
  assert.match(attestCommand.help, /--allow-status S,\.\.\./);
  const h = await run(['verify', '--help']);
  assert.equal(h.code, 0);
  assert.match(h.out, /--collateral FILE/);
  assert.equal((await run([])).code, 2);
  assert.equal((await run(['--help'])).code, 0);
});
