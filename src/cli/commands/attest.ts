// `tee-offload attest verify`: DCAP-verify an SGX quote against its collateral, apply a policy and
// print what the quote says with the verdict. Exit 0 only when the policy accepts the quote; a
// rejection prints the fields and the verdict, then the E_ATTEST line (exit 8) from main.ts.
import { readFileSync } from 'node:fs';
import { TeeError } from '../../errors.js';
import { AttestError } from '../../secure/attest-error.js';
import { type AttestPolicy, checkAttestPolicy, makeAttestPolicy } from '../../secure/attest-policy.js';
import { readCollateralFile } from '../../secure/dcap-collateral.js';
import { TCB_STATUSES } from '../../secure/dcap-tcb-status.js';
import { type DcapVerdict, verifyDcapQuote } from '../../secure/dcap-verify.js';
import { INTEL_QE_VENDOR_ID, MAX_QUOTE_BYTES, parseQuote, type Quote, toHex } from '../../secure/quote.js';
import { iso } from '../../secure/x509-crl.js';
import { type Command, UsageError } from '../command.js';
import { intFlag, parseFlags } from '../parse.js';

const VERIFY_HELP = [
  'usage: tee-offload attest verify --quote FILE --collateral FILE.json [--at ISO-TIME]',
  '         [--mrenclave HEX] [--mrsigner HEX] [--isvprodid N] [--min-isvsvn N] [--report-data HEX]',
  '         [--allow-status STATUS,...] [--allow-debug] [--json]',
  '',
  'Verifies an SGX DCAP quote (version 3, ECDSA) with its collateral: the PCK certificate chain to the',
  'pinned Intel SGX Root CA, the root CA and PCK CRLs, the QE report and quote signatures, the QE',
  "identity, and the platform's TCB level in the TCB info; then applies the policy. Prints the quote's",
  'fields and the verdict. Exits 0 only when the policy accepts the quote, else 8 (E_ATTEST) with the',
  'reason (see docs/attestation.md), 3 (E_FORMAT) for a malformed quote or collateral.',
  '',
  'The collateral is JSON as produced by dcap-qvl (get_collateral): CRLs in hex, issuer chains in PEM,',
  'tcb_info/qe_identity as the signed JSON text with their hex signatures.',
  '',
  'options:',
  '  --quote FILE            the raw quote (binary)',
  '  --collateral FILE       the collateral JSON',
  '  --at ISO-TIME           verify as of this time (default: now), e.g. 2025-07-01T00:00:00Z',
  '  --mrenclave HEX         require this MRENCLAVE (64 hex digits)',
  '  --mrsigner HEX          require this MRSIGNER (64 hex digits)',
  '  --isvprodid N           require this ISVPRODID',
  '  --min-isvsvn N          require ISVSVN ≥ N',
  '  --report-data HEX       require this report_data (128 hex digits)',
  `  --allow-status S,...    TCB statuses to accept (default UpToDate; any of ${TCB_STATUSES.filter((s) => s !== 'Revoked').join(', ')})`,
  '  --allow-debug           accept a DEBUG enclave (never for secrets: the host can read its memory)',
  '  --json                  print one JSON object instead of text',
].join('\n');

const HELP = [
  'usage: tee-offload attest verify [options]',
  '',
  'Verify SGX attestation quotes.',
  '',
  VERIFY_HELP,
].join('\n');

function readQuoteFile(path: string): Uint8Array {
  try {
    const b = readFileSync(path);
    if (b.byteLength > MAX_QUOTE_BYTES) {
      throw new TeeError('E_FORMAT', `${path}: ${b.byteLength} bytes is larger than any quote`);
    }
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    if (e instanceof TeeError) throw e;
    throw new TeeError('E_IO', `cannot read quote ${path}: ${(e as Error).message}`, { cause: e });
  }
}

function parseTime(s: string | undefined): Date {
  if (s === undefined) return new Date();
  const d = new Date(s);
  if (
    !/^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d))?$/.test(s) ||
    Number.isNaN(d.getTime())
  ) {
    throw new UsageError(`--at must be an ISO 8601 time like 2025-07-01T00:00:00Z, got '${s}'`);
  }
  return d;
}

function flagNames(flags: bigint): string {
  const names = [
    [0x01n, 'INIT'],
    [0x02n, 'DEBUG'],
    [0x04n, 'MODE64'],
    [0x10n, 'PROVISIONKEY'],
    [0x20n, 'EINITTOKENKEY'],
    [0x80n, 'KSS'],
  ] as const;
  return names
    .filter(([bit]) => (flags & bit) !== 0n)
    .map(([, n]) => n)
    .join(' ');
}

/** The quote's fields as a plain object (hex strings), for --json and the text listing. */
export function describeQuote(q: Quote): Record<string, unknown> {
  const h = q.header;
  const common = {
    version: h.version,
    teeType: q.kind === 'sgx' ? 'SGX' : 'TDX',
    attestationKeyType: h.attestationKeyType,
    qeVendorId: h.qeVendorId,
    qeSvn: h.qeSvn,
    pceSvn: h.pceSvn,
  };
  if (q.kind === 'tdx') {
    return {
      ...common,
      mrtd: toHex(q.body.mrTd),
      mrSeam: toHex(q.body.mrSeam),
      tdAttributes: toHex(q.body.tdAttributes),
      debug: q.body.debug,
      reportData: toHex(q.body.reportData),
    };
  }
  const b = q.body;
  return {
    ...common,
    mrEnclave: toHex(b.mrEnclave),
    mrSigner: toHex(b.mrSigner),
    isvProdId: b.isvProdId,
    isvSvn: b.isvSvn,
    cpuSvn: toHex(b.cpuSvn),
    miscSelect: b.miscSelect,
    attributes: {
      flags: `0x${b.flags.toString(16).padStart(16, '0')}`,
      flagNames: flagNames(b.flags),
      xfrm: `0x${b.xfrm.toString(16).padStart(16, '0')}`,
      debug: b.debug,
    },
    reportData: toHex(b.reportData),
  };
}

function printQuote(q: Quote): void {
  const d = describeQuote(q);
  const h = q.header;
  const vendor = h.qeVendorId === INTEL_QE_VENDOR_ID ? ' (Intel)' : '';
  console.log(
    `quote        ${d.teeType}, DCAP version ${h.version}, attestation key type ${h.attestationKeyType}${h.attestationKeyType === 2 ? ' (ECDSA P-256)' : ''}`,
  );
  console.log(`QE vendor    ${h.qeVendorId}${vendor}`);
  if (q.kind === 'tdx') {
    console.log(`MRTD         ${d.mrtd}`);
    console.log(`debug        ${q.body.debug ? 'YES' : 'no'}`);
    console.log(`report_data  ${d.reportData}`);
    return;
  }
  const b = q.body;
  console.log(`MRENCLAVE    ${d.mrEnclave}`);
  console.log(`MRSIGNER     ${d.mrSigner}`);
  console.log(`ISVPRODID    ${b.isvProdId}`);
  console.log(`ISVSVN       ${b.isvSvn}`);
  console.log(`CPUSVN       ${d.cpuSvn}`);
  console.log(`MISCSELECT   0x${b.miscSelect.toString(16).padStart(8, '0')}`);
  const a = d.attributes as { flags: string; flagNames: string; xfrm: string };
  console.log(`attributes   flags ${a.flags} (${a.flagNames || 'none'}), xfrm ${a.xfrm}`);
  console.log(`debug        ${b.debug ? 'YES (the host can read this enclave’s memory)' : 'no'}`);
  console.log(`report_data  ${d.reportData}`);
}

function describeVerdict(v: DcapVerdict): Record<string, unknown> {
  return {
    tcbStatus: v.tcbStatus,
    advisoryIds: v.advisoryIds,
    platformTcbStatus: v.platformTcb.status,
    qeTcbStatus: v.qeTcb.status,
    fmspc: v.fmspc,
    pceId: v.pceId,
    tcbEvaluationDataNumber: v.tcbEvaluationDataNumber,
    validUntil: iso(v.validUntil),
    at: iso(v.at),
  };
}

function printVerdict(v: DcapVerdict): void {
  console.log(`TCB status   ${v.tcbStatus} (platform ${v.platformTcb.status}, QE ${v.qeTcb.status})`);
  console.log(`advisories   ${v.advisoryIds.length > 0 ? v.advisoryIds.join(', ') : 'none'}`);
  console.log(`FMSPC        ${v.fmspc}`);
  console.log(`valid until  ${iso(v.validUntil)} (verified as of ${iso(v.at)})`);
}

async function runVerify(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    quote: { type: 'string' },
    collateral: { type: 'string' },
    at: { type: 'string' },
    mrenclave: { type: 'string' },
    mrsigner: { type: 'string' },
    isvprodid: { type: 'string' },
    'min-isvsvn': { type: 'string' },
    'report-data': { type: 'string' },
    'allow-status': { type: 'string' },
    'allow-debug': { type: 'boolean' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(VERIFY_HELP);
    return 0;
  }
  const quotePath = values.quote as string | undefined;
  const collateralPath = values.collateral as string | undefined;
  if (!quotePath || !collateralPath)
    throw new UsageError('attest verify needs --quote FILE and --collateral FILE');
  const at = parseTime(values.at as string | undefined);
  const num = (name: string) => {
    const v = values[name] as string | undefined;
    return v === undefined ? undefined : intFlag(v, name, 0, 0);
  };
  let policy: AttestPolicy;
  try {
    policy = makeAttestPolicy({
      allowedStatuses: (values['allow-status'] as string | undefined)
        ?.split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
      allowDebug: values['allow-debug'] === true,
      mrEnclave: values.mrenclave as string | undefined,
      mrSigner: values.mrsigner as string | undefined,
      isvProdId: num('isvprodid'),
      minIsvSvn: num('min-isvsvn'),
      reportData: values['report-data'] as string | undefined,
    });
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new UsageError(e.message);
    throw e;
  }

  const quote = parseQuote(readQuoteFile(quotePath));
  const collateral = readCollateralFile(collateralPath);
  const json = values.json === true;
  if (!json) printQuote(quote);
  let verdict: DcapVerdict | undefined;
  try {
    verdict = verifyDcapQuote(quote, collateral, { at });
    if (!json) printVerdict(verdict);
    checkAttestPolicy(verdict, policy);
  } catch (e) {
    if (e instanceof AttestError) {
      if (json) {
        const out = {
          quote: describeQuote(quote),
          verdict: {
            accepted: false,
            reason: e.reason,
            message: e.message,
            ...(verdict ? describeVerdict(verdict) : {}),
          },
        };
        console.log(JSON.stringify(out));
      } else {
        console.log(`verdict      REJECTED (${e.reason})`);
      }
    }
    throw e;
  }
  if (json) {
    console.log(
      JSON.stringify({
        quote: describeQuote(quote),
        verdict: { accepted: true, ...describeVerdict(verdict) },
      }),
    );
  } else {
    console.log('verdict      accepted by the policy');
  }
  return 0;
}

export const attestCommand: Command = {
  name: 'attest',
  summary: 'verify an SGX DCAP quote with its collateral against a policy',
  help: HELP,
  async run(argv) {
    const [sub, ...rest] = argv;
    if (sub === 'verify') return runVerify(rest);
    if (sub === undefined || sub === '--help' || sub === '-h') {
      console.log(HELP);
      return sub === undefined ? 2 : 0;
    }
    throw new UsageError(`unknown attest subcommand '${sub}' (verify)`);
  },
};
