// The Intel SGX extension of a PCK certificate (OID 1.2.840.113741.1.13.1, Intel "SGX PCK
// Certificate and CRL Profile" §1.5): a SEQUENCE of (OID, value) pairs giving the platform's PPID,
// TCB (16 SGX TCB component SVNs, PCESVN, CPUSVN), PCE ID, FMSPC and SGX type. The TCB info of the
// collateral is chosen by FMSPC and matched against these SVNs, so they are read strictly.
import { TeeError } from '../errors.js';
import type { Certificate } from './x509-certificate.js';
import {
  decodeOid,
  decodeSmallInt,
  derChildren,
  derRoot,
  derValue,
  expectTag,
  TAG_ENUMERATED,
  TAG_OCTET_STRING,
  TAG_SEQUENCE,
} from './x509-der.js';

export const OID_SGX_EXTENSIONS = '1.2.840.113741.1.13.1';
const OID_PPID = `${OID_SGX_EXTENSIONS}.1`;
const OID_TCB = `${OID_SGX_EXTENSIONS}.2`;
const OID_PCEID = `${OID_SGX_EXTENSIONS}.3`;
const OID_FMSPC = `${OID_SGX_EXTENSIONS}.4`;
const OID_SGX_TYPE = `${OID_SGX_EXTENSIONS}.5`;
const OID_PCESVN = `${OID_TCB}.17`;
const OID_CPUSVN = `${OID_TCB}.18`;

export interface SgxExtensions {
  readonly ppid: Uint8Array; // 16
  /** SGX TCB component SVNs 1..16 (each 0..255). */
  readonly tcbComponents: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Uint8Array; // 16
  readonly pceId: Uint8Array; // 2
  readonly fmspc: Uint8Array; // 6
  /** 0 Standard, 1 Scalable, 2 Scalable with integrity. */
  readonly sgxType: number;
}

function octets(n: ReturnType<typeof derRoot>, len: number, what: string): Uint8Array {
  const v = derValue(expectTag(n, TAG_OCTET_STRING, what));
  if (v.byteLength !== len)
    throw new TeeError('E_FORMAT', `${what}: ${len} bytes expected, got ${v.byteLength}`);
  return v;
}

/** Reads the SGX extension of a PCK certificate; a missing or malformed one is E_FORMAT. */
export function parseSgxExtensions(cert: Certificate): SgxExtensions {
  const what = `SGX extension of ${cert.name}`;
  const ext = cert.extensions.filter((e) => e.oid === OID_SGX_EXTENSIONS);
  if (ext.length !== 1) {
    throw new TeeError(
      'E_FORMAT',
      `${cert.name}: ${ext.length === 0 ? 'no' : 'more than one'} SGX extension`,
    );
  }
  const fields = new Map<string, ReturnType<typeof derRoot>>();
  for (const pair of derChildren(expectTag(derRoot(ext[0]!.value, what), TAG_SEQUENCE, what), what)) {
    const parts = derChildren(expectTag(pair, TAG_SEQUENCE, what), what);
    if (parts.length !== 2) throw new TeeError('E_FORMAT', `${what}: an entry has ${parts.length} parts`);
    const oid = decodeOid(parts[0]!, what);
    if (fields.has(oid)) throw new TeeError('E_FORMAT', `${what}: ${oid} appears twice`);
    fields.set(oid, parts[1]!);
  }
  const need = (oid: string, name: string) => {
    const n = fields.get(oid);
    if (!n) throw new TeeError('E_FORMAT', `${what}: no ${name} (${oid})`);
    return n;
  };
  const tcb = new Map<string, ReturnType<typeof derRoot>>();
  for (const pair of derChildren(expectTag(need(OID_TCB, 'TCB'), TAG_SEQUENCE, what), what)) {
    const parts = derChildren(expectTag(pair, TAG_SEQUENCE, what), what);
    if (parts.length !== 2) throw new TeeError('E_FORMAT', `${what}: a TCB entry has ${parts.length} parts`);
    const oid = decodeOid(parts[0]!, what);
    if (tcb.has(oid)) throw new TeeError('E_FORMAT', `${what}: ${oid} appears twice`);
    tcb.set(oid, parts[1]!);
  }
  const tcbField = (oid: string, name: string) => {
    const n = tcb.get(oid);
    if (!n) throw new TeeError('E_FORMAT', `${what}: no ${name} (${oid})`);
    return n;
  };
  const tcbComponents: number[] = [];
  for (let k = 1; k <= 16; k++) {
    const svn = decodeSmallInt(
      tcbField(`${OID_TCB}.${k}`, `TCB component ${k}`),
      `${what}, TCB component ${k}`,
    );
    if (svn > 255) throw new TeeError('E_FORMAT', `${what}: TCB component ${k} SVN ${svn} > 255`);
    tcbComponents.push(svn);
  }
  const pceSvn = decodeSmallInt(tcbField(OID_PCESVN, 'PCESVN'), `${what}, PCESVN`);
  if (pceSvn > 0xffff) throw new TeeError('E_FORMAT', `${what}: PCESVN ${pceSvn} > 65535`);
  return {
    ppid: octets(need(OID_PPID, 'PPID'), 16, `${what}, PPID`),
    tcbComponents,
    pceSvn,
    cpuSvn: octets(tcbField(OID_CPUSVN, 'CPUSVN'), 16, `${what}, CPUSVN`),
    pceId: octets(need(OID_PCEID, 'PCE ID'), 2, `${what}, PCE ID`),
    fmspc: octets(need(OID_FMSPC, 'FMSPC'), 6, `${what}, FMSPC`),
    sgxType: decodeSmallInt(need(OID_SGX_TYPE, 'SGX type'), `${what}, SGX type`, TAG_ENUMERATED),
  };
}
