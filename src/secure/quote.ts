// Parser for Intel DCAP ECDSA quotes: SGX version 3 and version 4 (SGX or TDX), as laid out in
// Intel's "SGX ECDSA Quote Library API" (appendix A, quote format) and the TDX DCAP quote spec.
// Only structure is checked here — every length against what is left — never a signature: a parsed
// quote is still untrusted until dcap-verify.ts has checked it. Malformed input → TeeError E_FORMAT.
import { TeeError } from '../errors.js';

export const QUOTE_HEADER_BYTES = 48;
export const SGX_REPORT_BODY_BYTES = 384;
export const TDX_REPORT_BODY_BYTES = 584;
export const TEE_TYPE_SGX = 0x00;
export const TEE_TYPE_TDX = 0x81;
export const ATT_KEY_TYPE_ECDSA_P256 = 2;
/** QE vendor ID of Intel's quoting enclave. */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** Certification data types (Quote Library API, table "Certification Data Type"). */
export const CERT_DATA_PCK_CHAIN = 5;
export const CERT_DATA_QE_REPORT = 6;
/** SGX ATTRIBUTES.FLAGS bits (SDM vol. 3D, SECS). */
export const SGX_FLAG_INIT = 0x01n;
export const SGX_FLAG_DEBUG = 0x02n;
export const SGX_FLAG_MODE64 = 0x04n;
/** A quote larger than this is not one (real ones are ~5 KB; the PCK chain is the bulk). */
export const MAX_QUOTE_BYTES = 64 * 1024;

export interface QuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  /** 0x00 SGX, 0x81 TDX (version 4); zero (reserved) in version 3, which is SGX only. */
  readonly teeType: number;
  /** Version 3 only (reserved in version 4). */
  readonly qeSvn: number;
  readonly pceSvn: number;
  /** 16 bytes, hex. */
  readonly qeVendorId: string;
  /** 20 bytes of user data (the first 16 are the platform's QE ID for Intel's QE). */
  readonly userData: Uint8Array;
}

/** sgx_report_body_t: the enclave's identity as measured by the CPU. */
export interface SgxReportBody {
  readonly cpuSvn: Uint8Array; // 16
  readonly miscSelect: number; // u32
  readonly attributes: Uint8Array; // 16: FLAGS u64 LE ‖ XFRM u64 LE
  readonly flags: bigint;
  readonly xfrm: bigint;
  readonly debug: boolean;
  readonly mrEnclave: Uint8Array; // 32
  readonly mrSigner: Uint8Array; // 32
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Uint8Array; // 64
  /** The 384 raw bytes (what the QE report signature covers). */
  readonly raw: Uint8Array;
}

/** TDX 1.0 TD report body (TDX quote v4). */
export interface TdReportBody {
  readonly teeTcbSvn: Uint8Array; // 16
  readonly mrSeam: Uint8Array; // 48
  readonly mrSignerSeam: Uint8Array; // 48
  readonly seamAttributes: Uint8Array; // 8
  readonly tdAttributes: Uint8Array; // 8
  readonly xfam: Uint8Array; // 8
  readonly mrTd: Uint8Array; // 48
  readonly mrConfigId: Uint8Array; // 48
  readonly mrOwner: Uint8Array; // 48
  readonly mrOwnerConfig: Uint8Array; // 48
  readonly rtmr: readonly Uint8Array[]; // 4 × 48
  readonly reportData: Uint8Array; // 64
  /** TD attributes bit 0 (TUD.DEBUG). */
  readonly debug: boolean;
  readonly raw: Uint8Array;
}

export interface CertificationData {
  readonly type: number;
  readonly data: Uint8Array;
}

export interface QuoteSignatureData {
  /** ECDSA P-256 signature over header ‖ report body, r ‖ s (64 bytes). */
  readonly signature: Uint8Array;
  /** The attestation public key, x ‖ y (64 bytes). */
  readonly attestationKey: Uint8Array;
  readonly qeReport: SgxReportBody;
  /** ECDSA P-256 signature of the PCK key over the QE report body, r ‖ s. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The innermost certification data (type 5 = PEM PCK chain for Intel's QE). */
  readonly certification: CertificationData;
}

export interface SgxQuote {
  readonly kind: 'sgx';
  readonly header: QuoteHeader;
  readonly body: SgxReportBody;
  readonly signatureData: QuoteSignatureData;
  /** header ‖ body: the bytes the quote signature covers. */
  readonly signedBytes: Uint8Array;
}

export interface TdxQuote {
  readonly kind: 'tdx';
  readonly header: QuoteHeader;
  readonly body: TdReportBody;
  readonly signatureData: QuoteSignatureData;
  readonly signedBytes: Uint8Array;
}

export type Quote = SgxQuote | TdxQuote;

function formatError(message: string): TeeError {
  return new TeeError('E_FORMAT', `quote: ${message}`);
}

/** A bounds-checked little-endian cursor over a slice of the quote. */
class Cursor {
  private pos: number;
  constructor(
    private readonly buf: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }

  get offset(): number {
    return this.pos;
  }

  get left(): number {
    return this.end - this.pos;
  }

  bytes(n: number, what: string): Uint8Array {
    if (n > this.left) {
      throw formatError(`${what} needs ${n} bytes at offset ${this.pos}, only ${this.left} left`);
    }
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** A cursor over the next n bytes, which this one skips. */
  sub(n: number, what: string): Cursor {
    const start = this.pos;
    this.bytes(n, what);
    return new Cursor(this.buf, start, start + n);
  }

  /** Fails unless every byte has been read. */
  done(what: string): void {
    if (this.left !== 0)
      throw formatError(`${this.left} unexpected bytes after ${what} at offset ${this.pos}`);
  }

  u16(what: string): number {
    const b = this.bytes(2, what);
    return b[0]! | (b[1]! << 8);
  }

  u32(what: string): number {
    const b = this.bytes(4, what);
    return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
  }
}

function u64le(b: Uint8Array, at: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  return v;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function parseHeader(c: Cursor): QuoteHeader {
  const version = c.u16('header.version');
  const attestationKeyType = c.u16('header.att_key_type');
  const teeType = c.u32('header.tee_type');
  const qeSvn = c.u16('header.qe_svn');
  const pceSvn = c.u16('header.pce_svn');
  const qeVendorId = toHex(c.bytes(16, 'header.qe_vendor_id'));
  const userData = c.bytes(20, 'header.user_data');
  return { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData };
}

/** Parses a 384-byte sgx_report_body_t (the ISV enclave's or the QE's). */
export function parseSgxReportBody(raw: Uint8Array): SgxReportBody {
  if (raw.byteLength !== SGX_REPORT_BODY_BYTES) {
    throw formatError(`an SGX report body is ${SGX_REPORT_BODY_BYTES} bytes, got ${raw.byteLength}`);
  }
  const c = new Cursor(raw, 0, raw.byteLength);
  const cpuSvn = c.bytes(16, 'report.cpusvn');
  const miscSelect = c.u32('report.miscselect');
  c.bytes(28, 'report.reserved1');
  const attributes = c.bytes(16, 'report.attributes');
  const mrEnclave = c.bytes(32, 'report.mrenclave');
  c.bytes(32, 'report.reserved2');
  const mrSigner = c.bytes(32, 'report.mrsigner');
  c.bytes(96, 'report.reserved3');
  const isvProdId = c.u16('report.isvprodid');
  const isvSvn = c.u16('report.isvsvn');
  c.bytes(60, 'report.reserved4');
  const reportData = c.bytes(64, 'report.report_data');
  const flags = u64le(attributes, 0);
  return {
    cpuSvn,
    miscSelect,
    attributes,
    flags,
    xfrm: u64le(attributes, 8),
    debug: (flags & SGX_FLAG_DEBUG) !== 0n,
    mrEnclave,
    mrSigner,
    isvProdId,
    isvSvn,
    reportData,
    raw,
  };
}

function parseTdReportBody(raw: Uint8Array): TdReportBody {
  const c = new Cursor(raw, 0, raw.byteLength);
  const teeTcbSvn = c.bytes(16, 'td_report.tee_tcb_svn');
  const mrSeam = c.bytes(48, 'td_report.mrseam');
  const mrSignerSeam = c.bytes(48, 'td_report.mrsignerseam');
  const seamAttributes = c.bytes(8, 'td_report.seam_attributes');
  const tdAttributes = c.bytes(8, 'td_report.td_attributes');
  const xfam = c.bytes(8, 'td_report.xfam');
  const mrTd = c.bytes(48, 'td_report.mrtd');
  const mrConfigId = c.bytes(48, 'td_report.mrconfigid');
  const mrOwner = c.bytes(48, 'td_report.mrowner');
  const mrOwnerConfig = c.bytes(48, 'td_report.mrownerconfig');
  const rtmr = [0, 1, 2, 3].map((i) => c.bytes(48, `td_report.rtmr${i}`));
  const reportData = c.bytes(64, 'td_report.report_data');
  return {
    teeTcbSvn,
    mrSeam,
    mrSignerSeam,
    seamAttributes,
    tdAttributes,
    xfam,
    mrTd,
    mrConfigId,
    mrOwner,
    mrOwnerConfig,
    rtmr,
    reportData,
    debug: (tdAttributes[0]! & 0x01) !== 0,
    raw,
  };
}

function parseCertificationData(c: Cursor, what: string): { type: number; body: Cursor } {
  const type = c.u16(`${what}.type`);
  const size = c.u32(`${what}.size`);
  return { type, body: c.sub(size, `${what}.data (declared size ${size})`) };
}

/** QE report ‖ its signature ‖ QE auth data ‖ certification data (v3 inline, v4 inside type 6). */
function parseQeSection(c: Cursor, what: string) {
  const qeReport = parseSgxReportBody(c.bytes(SGX_REPORT_BODY_BYTES, `${what}.qe_report`));
  const qeReportSignature = c.bytes(64, `${what}.qe_report_signature`);
  const authSize = c.u16(`${what}.qe_auth_data.size`);
  const qeAuthData = c.bytes(authSize, `${what}.qe_auth_data (declared size ${authSize})`);
  const cert = parseCertificationData(c, `${what}.certification_data`);
  const data = cert.body.bytes(cert.body.left, `${what}.certification_data`);
  c.done(`${what}.certification_data`);
  return { qeReport, qeReportSignature, qeAuthData, certification: { type: cert.type, data } };
}

function parseSignatureData(c: Cursor, version: number): QuoteSignatureData {
  const signature = c.bytes(64, 'signature_data.quote_signature');
  const attestationKey = c.bytes(64, 'signature_data.attestation_key');
  if (version === 3) return { signature, attestationKey, ...parseQeSection(c, 'signature_data') };
  // Version 4: the QE section is wrapped in certification data of type 6.
  const outer = parseCertificationData(c, 'signature_data.certification_data');
  c.done('signature_data.certification_data');
  if (outer.type !== CERT_DATA_QE_REPORT) {
    throw formatError(
      `version 4 certification data must be of type ${CERT_DATA_QE_REPORT} (QE report), got ${outer.type}`,
    );
  }
  return { signature, attestationKey, ...parseQeSection(outer.body, 'qe_report_certification_data') };
}

/**
 * Parses a DCAP quote: version 3 (SGX) or 4 (SGX or TDX), ECDSA signature data. Bytes after the
 * signature data must be zero (some quote generators pad to a fixed buffer); anything else is
 * E_FORMAT, as is every length that runs past the end.
 */
export function parseQuote(bytes: Uint8Array): Quote {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('quote must be a Uint8Array');
  if (bytes.byteLength > MAX_QUOTE_BYTES) {
    throw formatError(`${bytes.byteLength} bytes is larger than any quote (limit ${MAX_QUOTE_BYTES})`);
  }
  const c = new Cursor(bytes, 0, bytes.byteLength);
  const header = parseHeader(c);
  if (header.version !== 3 && header.version !== 4) {
    throw formatError(`unsupported quote version ${header.version} (versions 3 and 4 are read)`);
  }
  if (header.attestationKeyType !== ATT_KEY_TYPE_ECDSA_P256) {
    throw formatError(
      `unsupported attestation key type ${header.attestationKeyType} (2 = ECDSA-256-with-P-256 is read)`,
    );
  }
  const teeType = header.version === 3 ? TEE_TYPE_SGX : header.teeType;
  if (header.version === 3 && header.teeType !== 0) {
    throw formatError(`version 3 quotes are SGX only; header bytes 4..8 must be zero, got ${header.teeType}`);
  }
  if (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX) {
    throw formatError(`unknown TEE type 0x${teeType.toString(16)} (0x00 SGX, 0x81 TDX)`);
  }
  const bodyBytes = teeType === TEE_TYPE_SGX ? SGX_REPORT_BODY_BYTES : TDX_REPORT_BODY_BYTES;
  const rawBody = c.bytes(bodyBytes, 'report body');
  const signedBytes = bytes.subarray(0, c.offset);
  const sigSize = c.u32('signature_data.size');
  const sig = c.sub(sigSize, `signature_data (declared size ${sigSize})`);
  const signatureData = parseSignatureData(sig, header.version);
  for (let i = c.offset; i < bytes.byteLength; i++) {
    if (bytes[i] !== 0) {
      throw formatError(`${bytes.byteLength - c.offset} bytes after the signature data, not all zero`);
    }
  }
  if (teeType === TEE_TYPE_SGX) {
    return { kind: 'sgx', header, body: parseSgxReportBody(rawBody), signatureData, signedBytes };
  }
  return { kind: 'tdx', header, body: parseTdReportBody(rawBody), signatureData, signedBytes };
}
