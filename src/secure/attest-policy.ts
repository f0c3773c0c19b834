// What a verified quote must also satisfy to be trusted with secrets: an allowed TCB status (only
// UpToDate by default), no DEBUG enclave (its memory is readable by the host), and optionally the
// enclave's identity (MRENCLAVE, MRSIGNER, ISVPRODID, minimum ISVSVN) and its report_data.
import { AttestError } from './attest-error.js';
import { checkReportDataEquals, REPORT_DATA_BYTES } from './attest-report-data.js';
import { isTcbStatus, type TcbStatus } from './dcap-tcb-status.js';
import type { DcapVerdict } from './dcap-verify.js';
import { toHex } from './quote.js';
import { bytesEqual } from './x509-der.js';

export interface AttestPolicy {
  /** TCB statuses accepted; never Revoked. */
  readonly allowedStatuses: readonly TcbStatus[];
  readonly allowDebug: boolean;
  readonly mrEnclave?: Uint8Array; // 32
  readonly mrSigner?: Uint8Array; // 32
  readonly isvProdId?: number;
  readonly minIsvSvn?: number;
  /** The exact 64-byte report_data expected (see expectedReportData). */
  readonly reportData?: Uint8Array;
}

export interface AttestPolicyInput {
  readonly allowedStatuses?: readonly string[];
  readonly allowDebug?: boolean;
  readonly mrEnclave?: Uint8Array | string;
  readonly mrSigner?: Uint8Array | string;
  readonly isvProdId?: number;
  readonly minIsvSvn?: number;
  readonly reportData?: Uint8Array | string;
}

export const DEFAULT_ATTEST_POLICY: AttestPolicy = Object.freeze({
  allowedStatuses: Object.freeze(['UpToDate'] as TcbStatus[]),
  allowDebug: false,
});

function bytesOf(v: Uint8Array | string | undefined, len: number, name: string): Uint8Array | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') {
    const s = v.replace(/^0x/i, '');
    if (s.length !== len * 2 || !/^[0-9a-fA-F]*$/.test(s)) {
      throw new RangeError(`${name} must be ${len} bytes of hex (${len * 2} digits), got '${v}'`);
    }
    const b = Buffer.from(s, 'hex');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  if (!(v instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array or hex string`);
  if (v.byteLength !== len) throw new RangeError(`${name} must be ${len} bytes, got ${v.byteLength}`);
  return v;
}

function u16(v: number | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0 || v > 0xffff)
    throw new RangeError(`${name} must be an integer in 0..65535, got ${v}`);
  return v;
}

/** A policy from options, defaults filled in and every value checked (TypeError/RangeError). */
export function makeAttestPolicy(input: AttestPolicyInput = {}): AttestPolicy {
  const statuses = input.allowedStatuses ?? DEFAULT_ATTEST_POLICY.allowedStatuses;
  if (statuses.length === 0) throw new RangeError('allowedStatuses must name at least one TCB status');
  for (const s of statuses) {
    if (!isTcbStatus(s)) throw new RangeError(`unknown TCB status '${s}'`);
    // A revoked platform or QE has known-extractable keys: its quotes prove nothing.
    if (s === 'Revoked') throw new RangeError('TCB status Revoked can never be allowed');
  }
  return {
    allowedStatuses: [...new Set(statuses)] as TcbStatus[],
    allowDebug: input.allowDebug ?? false,
    mrEnclave: bytesOf(input.mrEnclave, 32, 'mrEnclave'),
    mrSigner: bytesOf(input.mrSigner, 32, 'mrSigner'),
    isvProdId: u16(input.isvProdId, 'isvProdId'),
    minIsvSvn: u16(input.minIsvSvn, 'minIsvSvn'),
    reportData: bytesOf(input.reportData, REPORT_DATA_BYTES, 'reportData'),
  };
}

/**
 * Applies `policy` to a verified quote. The enclave's identity is checked before the platform's TCB
 * status, so that a wrong enclave is reported as such on any platform.
 */
export function checkAttestPolicy(verdict: DcapVerdict, policy: AttestPolicy): void {
  const body = verdict.quote.body;
  if (body.debug && !policy.allowDebug) {
    throw new AttestError(
      'debug-not-allowed',
      'debug enclave not allowed by policy: ATTRIBUTES.DEBUG is set',
    );
  }
  if (policy.mrEnclave && !bytesEqual(body.mrEnclave, policy.mrEnclave)) {
    throw new AttestError(
      'mrenclave-mismatch',
      `MRENCLAVE mismatch: the quote has ${toHex(body.mrEnclave)}, the policy pins ${toHex(policy.mrEnclave)}`,
    );
  }
  if (policy.mrSigner && !bytesEqual(body.mrSigner, policy.mrSigner)) {
    throw new AttestError(
      'mrsigner-mismatch',
      `MRSIGNER mismatch: the quote has ${toHex(body.mrSigner)}, the policy pins ${toHex(policy.mrSigner)}`,
    );
  }
  if (policy.isvProdId !== undefined && body.isvProdId !== policy.isvProdId) {
    throw new AttestError(
      'isvprodid-mismatch',
      `ISVPRODID mismatch: the quote has ${body.isvProdId}, the policy pins ${policy.isvProdId}`,
    );
  }
  if (policy.minIsvSvn !== undefined && body.isvSvn < policy.minIsvSvn) {
    throw new AttestError(
      'isvsvn-too-low',
      `ISVSVN too low: the quote has ${body.isvSvn}, the policy needs at least ${policy.minIsvSvn}`,
    );
  }
  if (policy.reportData) checkReportDataEquals(body.reportData, policy.reportData);
  if (!policy.allowedStatuses.includes(verdict.tcbStatus)) {
    const adv = verdict.advisoryIds.length > 0 ? `; advisories ${verdict.advisoryIds.join(', ')}` : '';
    throw new AttestError(
      'tcb-status-not-allowed',
      `TCB status ${verdict.tcbStatus} not allowed by policy (allowed: ${policy.allowedStatuses.join(', ')}${adv})`,
    );
  }
}
