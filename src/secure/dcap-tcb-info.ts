// Intel's TCB info (PCS API v3/v4, "tcbInfo" versions 2 and 3): for one FMSPC, the TCB levels —
// 16 SGX TCB component SVNs and a PCESVN (plus 16 TDX components for TDX) — each with a status and
// advisories. Read only after its signature verified; the platform's level is the first, from the
// highest, whose every component the platform's SVNs meet (Intel DCAP QVL's matching rule).
import { TeeError } from '../errors.js';
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

export interface TcbLevel {
  readonly sgxComponents: readonly number[]; // 16
  readonly pceSvn: number;
  /** TDX TCB info only (16), else empty. */
  readonly tdxComponents: readonly number[];
  readonly tcbDate: string;
  readonly status: TcbStatus;
  readonly advisoryIds: readonly string[];
}

export interface TcbInfo {
  readonly id: 'SGX' | 'TDX';
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly fmspc: Uint8Array; // 6
  readonly pceId: Uint8Array; // 2
  readonly tcbEvaluationDataNumber: number;
  /** Sorted from the highest TCB down. */
  readonly levels: readonly TcbLevel[];
}

function components(v: unknown, path: string): number[] {
  if (!Array.isArray(v) || v.length !== 16) throw jsonError(path, 'expected 16 TCB components');
  return v.map((c, i) => getInt(asObject(c, `${path}[${i}]`), 'svn', `${path}[${i}]`, 255));
}

function parseLevel(v: unknown, path: string, version: number, id: string): TcbLevel {
  const o = asObject(v, path);
  const tcb = asObject(o.tcb, `${path}.tcb`);
  let sgxComponents: number[];
  if (version === 2) {
    // Version 2 names the components sgxtcbcomp01svn … sgxtcbcomp16svn.
    sgxComponents = [];
    for (let k = 1; k <= 16; k++) {
      sgxComponents.push(getInt(tcb, `sgxtcbcomp${String(k).padStart(2, '0')}svn`, `${path}.tcb`, 255));
    }
  } else {
    sgxComponents = components(tcb.sgxtcbcomponents, `${path}.tcb.sgxtcbcomponents`);
  }
  const tdxComponents = id === 'TDX' ? components(tcb.tdxtcbcomponents, `${path}.tcb.tdxtcbcomponents`) : [];
  const status = getString(o, 'tcbStatus', path);
  if (!isTcbStatus(status)) throw jsonError(`${path}.tcbStatus`, `unknown TCB status '${status}'`);
  return {
    sgxComponents,
    pceSvn: getInt(tcb, 'pcesvn', `${path}.tcb`, 0xffff),
    tdxComponents,
    tcbDate: getString(o, 'tcbDate', path),
    status,
    advisoryIds: getStringArray(o, 'advisoryIDs', path),
  };
}

function compareLevels(a: TcbLevel, b: TcbLevel): number {
  for (let i = 0; i < 16; i++)
    if (a.sgxComponents[i] !== b.sgxComponents[i]) return b.sgxComponents[i]! - a.sgxComponents[i]!;
  if (a.pceSvn !== b.pceSvn) return b.pceSvn - a.pceSvn;
  for (let i = 0; i < a.tdxComponents.length; i++) {
    if (a.tdxComponents[i] !== b.tdxComponents[i])
      return (b.tdxComponents[i] ?? 0) - (a.tdxComponents[i] ?? 0);
  }
  return 0;
}

/** Parses the signed TCB info text (call only after its signature verified). */
export function parseTcbInfo(text: string): TcbInfo {
  const p = 'tcb_info';
  const o: JsonObject = parseJsonObject(text, p);
  const id = getString(o, 'id', p);
  if (id !== 'SGX' && id !== 'TDX') throw jsonError(`${p}.id`, `expected SGX or TDX, got '${id}'`);
  const version = getInt(o, 'version', p);
  if (version !== 2 && version !== 3)
    throw jsonError(`${p}.version`, `versions 2 and 3 are read, got ${version}`);
  if (id === 'TDX' && version !== 3) throw jsonError(`${p}.version`, 'TDX TCB info is version 3');
  if (o.tcbType !== undefined && getInt(o, 'tcbType', p) !== 0) {
    throw jsonError(`${p}.tcbType`, 'only tcbType 0 (16 components compared one by one) is defined');
  }
  const levels = getArray(o, 'tcbLevels', p).map((l, i) =>
    parseLevel(l, `${p}.tcbLevels[${i}]`, version, id),
  );
  if (levels.length === 0) throw new TeeError('E_FORMAT', `${p}.tcbLevels: empty`);
  return {
    id,
    version,
    issueDate: getDate(o, 'issueDate', p),
    nextUpdate: getDate(o, 'nextUpdate', p),
    fmspc: getHex(o, 'fmspc', p, 6),
    pceId: getHex(o, 'pceId', p, 2),
    tcbEvaluationDataNumber: getInt(o, 'tcbEvaluationDataNumber', p),
    levels: [...levels].sort(compareLevels),
  };
}

/**
 * The platform's TCB level: the first (highest) level whose SGX components are all ≤ the PCK
 * certificate's, whose PCESVN is ≤ the certificate's, and (TDX) whose TDX components are all ≤ the
 * TD report's TEE_TCB_SVN. Undefined when the platform is below every level.
 */
export function matchTcbLevel(
  info: TcbInfo,
  sgxComponents: readonly number[],
  pceSvn: number,
  tdxComponents?: Uint8Array,
): TcbResult | undefined {
  for (const level of info.levels) {
    if (pceSvn < level.pceSvn) continue;
    if (level.sgxComponents.some((svn, i) => sgxComponents[i]! < svn)) continue;
    if (tdxComponents && level.tdxComponents.some((svn, i) => tdxComponents[i]! < svn)) continue;
    return { status: level.status, advisoryIds: level.advisoryIds, tcbDate: level.tcbDate };
  }
  return undefined;
}
