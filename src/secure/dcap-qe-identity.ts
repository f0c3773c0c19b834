// Intel's QE identity (enclave identity version 2): who the quoting enclave must be — MRSIGNER,
// ISVPRODID, MISCSELECT and ATTRIBUTES under masks — and its TCB levels by ISVSVN. Read only after
// its signature verified. The QE report is matched here; a mismatch means the quote was not produced
// by Intel's QE, whatever its signatures say.
import { AttestError } from './attest-error.js';
import {
  asObject,
  getArray,
  getDate,
  getHex,
  getInt,
  getString,
  getStringArray,
  type JsonObject,
  jsonError,
  parseJsonObject,
} from './dcap-json.js';
import { isTcbStatus, type TcbResult, type TcbStatus } from './dcap-tcb-status.js';
import { type SgxReportBody, toHex } from './quote.js';
import { bytesEqual } from './x509-der.js';

export interface QeTcbLevel {
  readonly isvSvn: number;
  readonly tcbDate: string;
  readonly status: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export interface QeIdentity {
  /** "QE" (SGX), "TD_QE" (TDX), "QVE". */
  readonly id: string;
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscSelect: Uint8Array; // 4
  readonly miscSelectMask: Uint8Array; // 4
  readonly attributes: Uint8Array; // 16
  readonly attributesMask: Uint8Array; // 16
  readonly mrSigner: Uint8Array; // 32
  readonly isvProdId: number;
  /** Highest ISVSVN first. */
  readonly levels: readonly QeTcbLevel[];
}

/** Parses the signed QE identity text (call only after its signature verified). */
export function parseQeIdentity(text: string): QeIdentity {
  const p = 'qe_identity';
  const o: JsonObject = parseJsonObject(text, p);
  const version = getInt(o, 'version', p);
  if (version !== 2) throw jsonError(`${p}.version`, `version 2 is read, got ${version}`);
  const levels = getArray(o, 'tcbLevels', p).map((v, i): QeTcbLevel => {
    const lp = `${p}.tcbLevels[${i}]`;
    const l = asObject(v, lp);
    const status = getString(l, 'tcbStatus', lp);
    if (!isTcbStatus(status)) throw jsonError(`${lp}.tcbStatus`, `unknown TCB status '${status}'`);
    return {
      isvSvn: getInt(asObject(l.tcb, `${lp}.tcb`), 'isvsvn', `${lp}.tcb`, 0xffff),
      tcbDate: getString(l, 'tcbDate', lp),
      status,
      advisoryIds: getStringArray(l, 'advisoryIDs', lp),
    };
  });
  if (levels.length === 0) throw jsonError(`${p}.tcbLevels`, 'empty');
  return {
    id: getString(o, 'id', p),
    version,
    issueDate: getDate(o, 'issueDate', p),
    nextUpdate: getDate(o, 'nextUpdate', p),
    tcbEvaluationDataNumber: getInt(o, 'tcbEvaluationDataNumber', p),
    miscSelect: getHex(o, 'miscselect', p, 4),
    miscSelectMask: getHex(o, 'miscselectMask', p, 4),
    attributes: getHex(o, 'attributes', p, 16),
    attributesMask: getHex(o, 'attributesMask', p, 16),
    mrSigner: getHex(o, 'mrsigner', p, 32),
    isvProdId: getInt(o, 'isvprodid', p, 0xffff),
    levels: [...levels].sort((a, b) => b.isvSvn - a.isvSvn),
  };
}

function masked(value: Uint8Array, mask: Uint8Array): Uint8Array {
  return value.map((b, i) => b & mask[i]!);
}

/** MISCSELECT as the 4 bytes of the report (little-endian u32), the byte order of the identity's hex. */
function miscSelectBytes(v: number): Uint8Array {
  return new Uint8Array([v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24]);
}

/**
 * Checks the (already signature-verified) QE report against the identity and returns the QE's TCB
 * status. Mismatch → qe-identity-mismatch; an ISVSVN below every level → tcb-level-not-found.
 */
export function matchQeIdentity(identity: QeIdentity, qe: SgxReportBody): TcbResult {
  const mismatch = (m: string) => new AttestError('qe-identity-mismatch', `QE identity mismatch: ${m}`);
  if (!bytesEqual(qe.mrSigner, identity.mrSigner)) {
    throw mismatch(`QE MRSIGNER ${toHex(qe.mrSigner)}, expected ${toHex(identity.mrSigner)}`);
  }
  if (qe.isvProdId !== identity.isvProdId) {
    throw mismatch(`QE ISVPRODID ${qe.isvProdId}, expected ${identity.isvProdId}`);
  }
  const misc = masked(miscSelectBytes(qe.miscSelect), identity.miscSelectMask);
  if (!bytesEqual(misc, masked(identity.miscSelect, identity.miscSelectMask))) {
    throw mismatch(
      `QE MISCSELECT ${toHex(miscSelectBytes(qe.miscSelect))} under mask ${toHex(identity.miscSelectMask)}`,
    );
  }
  // The mask covers the DEBUG flag, so a debug QE fails here.
  if (
    !bytesEqual(
      masked(qe.attributes, identity.attributesMask),
      masked(identity.attributes, identity.attributesMask),
    )
  ) {
    throw mismatch(
      `QE ATTRIBUTES ${toHex(qe.attributes)} under mask ${toHex(identity.attributesMask)}, expected ${toHex(identity.attributes)}`,
    );
  }
  const level = identity.levels.find((l) => qe.isvSvn >= l.isvSvn);
  if (!level) {
    throw new AttestError(
      'tcb-level-not-found',
      `TCB level not found: QE ISVSVN ${qe.isvSvn} is below every level of the QE identity (lowest ${identity.levels.at(-1)?.isvSvn})`,
    );
  }
  return { status: level.status, advisoryIds: level.advisoryIds, tcbDate: level.tcbDate };
}
