// A minimal DER reader (ITU-T X.690): definite lengths, low tag numbers, every length checked
// against its parent. Enough to read what node:crypto's X509Certificate does not expose — CRLs,
// the raw issuer/subject names, validity times and the Intel SGX extension of a PCK certificate.
// Malformed input → TeeError E_FORMAT naming `what` was being read.
import { TeeError } from '../errors.js';

export const TAG_BOOLEAN = 0x01;
export const TAG_INTEGER = 0x02;
export const TAG_BIT_STRING = 0x03;
export const TAG_OCTET_STRING = 0x04;
export const TAG_OID = 0x06;
export const TAG_ENUMERATED = 0x0a;
export const TAG_UTC_TIME = 0x17;
export const TAG_GENERALIZED_TIME = 0x18;
export const TAG_SEQUENCE = 0x30;
export const TAG_SET = 0x31;

/** One TLV inside `buf`: the value is buf[valueStart, end). */
export interface DerNode {
  readonly buf: Uint8Array;
  readonly tag: number;
  readonly start: number;
  readonly valueStart: number;
  readonly end: number;
}

function derError(what: string, message: string): TeeError {
  return new TeeError('E_FORMAT', `${what}: malformed DER: ${message}`);
}

/** Reads the TLV at `offset`, which must end by `limit`. */
export function readDer(buf: Uint8Array, offset: number, limit: number, what: string): DerNode {
  if (offset + 2 > limit) throw derError(what, `truncated header at offset ${offset}`);
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw derError(what, `high tag number at offset ${offset}`);
  let len = buf[offset + 1]!;
  let valueStart = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw derError(what, `indefinite length at offset ${offset}`);
    if (n > 3) throw derError(what, `length of ${n} bytes at offset ${offset}`);
    if (valueStart + n > limit) throw derError(what, `truncated length at offset ${offset}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[valueStart + i]!;
    if (len < 0x80 || buf[valueStart] === 0) throw derError(what, `non-minimal length at offset ${offset}`);
    valueStart += n;
  }
  const end = valueStart + len;
  if (end > limit) throw derError(what, `value of ${len} bytes at offset ${offset} runs past its parent`);
  return { buf, tag, start: offset, valueStart, end };
}

/** Parses `bytes` as exactly one TLV (no trailing bytes). */
export function derRoot(bytes: Uint8Array, what: string): DerNode {
  const n = readDer(bytes, 0, bytes.byteLength, what);
  if (n.end !== bytes.byteLength) throw derError(what, `${bytes.byteLength - n.end} bytes after the value`);
  return n;
}

export function expectTag(n: DerNode, tag: number, what: string): DerNode {
  if (n.tag !== tag) {
    throw derError(
      what,
      `expected tag 0x${tag.toString(16)}, got 0x${n.tag.toString(16)} at offset ${n.start}`,
    );
  }
  return n;
}

/** The children of a constructed node, in order. */
export function derChildren(n: DerNode, what: string): DerNode[] {
  if ((n.tag & 0x20) === 0) throw derError(what, `tag 0x${n.tag.toString(16)} is not constructed`);
  const out: DerNode[] = [];
  let p = n.valueStart;
  while (p < n.end) {
    const c = readDer(n.buf, p, n.end, what);
    out.push(c);
    p = c.end;
  }
  return out;
}

/** The content bytes of a node. */
export function derValue(n: DerNode): Uint8Array {
  return n.buf.subarray(n.valueStart, n.end);
}

/** The whole encoding of a node (tag, length and value). */
export function derBytes(n: DerNode): Uint8Array {
  return n.buf.subarray(n.start, n.end);
}

export function decodeOid(n: DerNode, what: string): string {
  expectTag(n, TAG_OID, what);
  const v = derValue(n);
  if (v.byteLength === 0) throw derError(what, 'empty OID');
  const arcs: number[] = [];
  let acc = 0;
  for (let i = 0; i < v.byteLength; i++) {
    const b = v[i]!;
    if (acc === 0 && b === 0x80) throw derError(what, 'non-minimal OID arc');
    acc = acc * 128 + (b & 0x7f);
    if (acc > Number.MAX_SAFE_INTEGER / 128) throw derError(what, 'OID arc too large');
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(acc < 80 ? Math.floor(acc / 40) : 2, acc < 80 ? acc % 40 : acc - 80);
      else arcs.push(acc);
      acc = 0;
    } else if (i === v.byteLength - 1) throw derError(what, 'truncated OID');
  }
  return arcs.join('.');
}

/** A non-negative INTEGER or ENUMERATED that fits a JavaScript number. */
export function decodeSmallInt(n: DerNode, what: string, tag = TAG_INTEGER): number {
  expectTag(n, tag, what);
  const v = derValue(n);
  if (v.byteLength === 0 || v.byteLength > 6) throw derError(what, `integer of ${v.byteLength} bytes`);
  if (v[0]! & 0x80) throw derError(what, 'negative integer');
  let x = 0;
  for (const b of v) x = x * 256 + b;
  return x;
}

/** An INTEGER's magnitude as upper-case hex without leading zero bytes (certificate serials). */
export function decodeSerial(n: DerNode, what: string): string {
  expectTag(n, TAG_INTEGER, what);
  let v = derValue(n);
  if (v.byteLength === 0) throw derError(what, 'empty integer');
  while (v.byteLength > 1 && v[0] === 0) v = v.subarray(1);
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex').toUpperCase();
}

/** UTCTime (YYMMDDHHMMSSZ, RFC 5280 §4.1.2.5.1) or GeneralizedTime (YYYYMMDDHHMMSSZ). */
export function decodeTime(n: DerNode, what: string): Date {
  const s = Buffer.from(derValue(n)).toString('latin1');
  const utc = n.tag === TAG_UTC_TIME ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : null;
  const gen = n.tag === TAG_GENERALIZED_TIME ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(s) : null;
  const m = utc ?? gen;
  if (m === null) throw derError(what, `bad time '${s}' (tag 0x${n.tag.toString(16)})`);
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  // RFC 5280: a two-digit year YY ≥ 50 is 19YY, otherwise 20YY.
  const year = utc ? (y >= 50 ? 1900 + y : 2000 + y) : y;
  const t = new Date(Date.UTC(year, mo - 1, d, h, mi, se));
  if (t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d || h > 23 || mi > 59 || se > 59) {
    throw derError(what, `bad time '${s}'`);
  }
  return t;
}

/** The content of a BIT STRING with no unused bits. */
export function decodeBitString(n: DerNode, what: string): Uint8Array {
  expectTag(n, TAG_BIT_STRING, what);
  const v = derValue(n);
  if (v.byteLength === 0 || v[0] !== 0) throw derError(what, 'bit string with unused bits');
  return v.subarray(1);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
