// A synthetic DCAP world for tests: a fake root CA, PCK CA, PCK certificate with an SGX extension,
// TCB signing certificate, CRLs, signed TCB info and QE identity, and a quote signed through the
// QE report chain — all built here with a small DER writer and node:crypto keys. It lets tests reach
// what the real vectors cannot: every TCB status, a DEBUG enclave, revoked certificates, a chosen
// report_data, a TCB info signed by the wrong key. The verifier trusts it only through the
// rootFingerprint option, which the CLI does not expose.
import { createECDH, createHash, createPrivateKey, createPublicKey, type KeyObject, sign } from 'node:crypto';

type Bytes = Uint8Array;

function cat(...parts: Bytes[]): Bytes {
  return new Uint8Array(Buffer.concat(parts));
}

function derLength(n: number): Bytes {
  if (n < 0x80) return new Uint8Array([n]);
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return new Uint8Array([0x80 | out.length, ...out]);
}

export function tlv(tag: number, ...content: Bytes[]): Bytes {
  const body = cat(...content);
  return cat(new Uint8Array([tag]), derLength(body.byteLength), body);
}

const seq = (...c: Bytes[]) => tlv(0x30, ...c);
const set = (...c: Bytes[]) => tlv(0x31, ...c);
const octet = (b: Bytes) => tlv(0x04, b);
const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, 'utf8'));
const bool = (b: boolean) => tlv(0x01, new Uint8Array([b ? 0xff : 0]));
const bitString = (b: Bytes) => tlv(0x03, new Uint8Array([0]), b);

function intContent(v: number | bigint): Bytes {
  let x = BigInt(v);
  const out: number[] = [];
  do {
    out.unshift(Number(x & 0xffn));
    x >>= 8n;
  } while (x > 0n);
  if (out[0]! & 0x80) out.unshift(0);
  return new Uint8Array(out);
}

const int = (v: number | bigint) => tlv(0x02, intContent(v));
const enumerated = (v: number) => tlv(0x0a, intContent(v));

function oid(s: string): Bytes {
  const arcs = s.split('.').map(Number);
  const out: number[] = [arcs[0]! * 40 + arcs[1]!];
  for (const a of arcs.slice(2)) {
    const enc: number[] = [a & 0x7f];
    for (let v = Math.floor(a / 128); v > 0; v = Math.floor(v / 128)) enc.unshift((v & 0x7f) | 0x80);
    out.push(...enc);
  }
  return tlv(0x06, new Uint8Array(out));
}

function utcTime(d: Date): Bytes {
  const p = (n: number) => String(n).padStart(2, '0');
  const s = `${p(d.getUTCFullYear() % 100)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return tlv(0x17, Buffer.from(s, 'latin1'));
}

const ECDSA_SHA256 = seq(oid('1.2.840.10045.4.3.2'));

function name(cn: string): Bytes {
  return seq(set(seq(oid('2.5.4.3'), utf8(cn))), set(seq(oid('2.5.4.10'), utf8('Fake Intel Corporation'))));
}

export interface KeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

// Not generateKeyPairSync: on Node 20 a JWK export of a generated EC key (the attestation key, below) can
// deadlock when a garbage collection during the export finalizes the key-generation job, which shares the
// key's lock (a test run hung there, in ExportJWKEcKey → GC → ~KeyGenJob). Keys made by ECDH and imported
// have no such job.
export function newKey(): KeyPair {
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const point = ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
  const d = Buffer.alloc(32);
  const raw = ecdh.getPrivateKey();
  raw.copy(d, 32 - raw.length);
  const b64 = (b: Buffer) => b.toString('base64url');
  const privateKey = createPrivateKey({
    key: {
      kty: 'EC',
      crv: 'P-256',
      x: b64(point.subarray(1, 33)),
      y: b64(point.subarray(33, 65)),
      d: b64(d),
    },
    format: 'jwk',
  });
  return { privateKey, publicKey: createPublicKey(privateKey) };
}

export interface CertSpec {
  readonly serial: bigint;
  readonly subject: string;
  readonly issuer: string;
  readonly key: KeyObject;
  readonly signer: KeyObject;
  readonly ca: boolean;
  readonly notBefore?: Date;
  readonly notAfter?: Date;
  readonly extensions?: readonly Bytes[];
}

export function makeCert(s: CertSpec): Bytes {
  const spki = new Uint8Array(s.key.export({ type: 'spki', format: 'der' }));
  const basic = seq(oid('2.5.29.19'), bool(true), octet(s.ca ? seq(bool(true)) : seq()));
  const tbs = seq(
    tlv(0xa0, int(2)),
    int(s.serial),
    ECDSA_SHA256,
    name(s.issuer),
    seq(
      utcTime(s.notBefore ?? new Date('2020-01-01T00:00:00Z')),
      utcTime(s.notAfter ?? new Date('2040-01-01T00:00:00Z')),
    ),
    name(s.subject),
    spki,
    tlv(0xa3, seq(basic, ...(s.extensions ?? []))),
  );
  return seq(tbs, ECDSA_SHA256, bitString(new Uint8Array(sign('sha256', tbs, s.signer))));
}

export interface CrlSpec {
  readonly issuer: string;
  readonly signer: KeyObject;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
  readonly revoked?: readonly bigint[];
}

export function makeCrl(s: CrlSpec): Bytes {
  const revoked = s.revoked ?? [];
  const tbs = seq(
    int(1),
    ECDSA_SHA256,
    name(s.issuer),
    utcTime(s.thisUpdate),
    utcTime(s.nextUpdate),
    ...(revoked.length > 0 ? [seq(...revoked.map((r) => seq(int(r), utcTime(s.thisUpdate))))] : []),
  );
  return seq(tbs, ECDSA_SHA256, bitString(new Uint8Array(sign('sha256', tbs, s.signer))));
}

const SGX = '1.2.840.113741.1.13.1';

export interface PlatformTcb {
  readonly components: readonly number[]; // 16
  readonly pceSvn: number;
  readonly fmspc: string; // 12 hex digits
  readonly pceId: string; // 4 hex digits
}

export function sgxExtension(p: PlatformTcb): Bytes {
  const comps = p.components.map((c, i) => seq(oid(`${SGX}.2.${i + 1}`), int(c)));
  const value = seq(
    seq(oid(`${SGX}.1`), octet(new Uint8Array(16).fill(0xab))),
    seq(
      oid(`${SGX}.2`),
      seq(
        ...comps,
        seq(oid(`${SGX}.2.17`), int(p.pceSvn)),
        seq(oid(`${SGX}.2.18`), octet(new Uint8Array(p.components))),
      ),
    ),
    seq(oid(`${SGX}.3`), octet(Buffer.from(p.pceId, 'hex'))),
    seq(oid(`${SGX}.4`), octet(Buffer.from(p.fmspc, 'hex'))),
    seq(oid(`${SGX}.5`), enumerated(0)),
  );
  return seq(oid(SGX), octet(value));
}

export function pem(der: Bytes): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN CERTIFICATE-----\n${lines}\n-----END CERTIFICATE-----\n`;
}

function hex(b: Bytes): string {
  return Buffer.from(b).toString('hex');
}

function p1363(data: Bytes, key: KeyObject): Bytes {
  return new Uint8Array(sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }));
}

function u16(v: number): Bytes {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(v);
  return new Uint8Array(b);
}

function u32(v: number): Bytes {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return new Uint8Array(b);
}

export interface ReportSpec {
  readonly flags: bigint;
  readonly mrEnclave: Bytes;
  readonly mrSigner: Bytes;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly reportData: Bytes;
}

/** sgx_report_body_t, 384 bytes. */
export function reportBody(r: ReportSpec): Bytes {
  const b = Buffer.alloc(384);
  b.fill(0x0b, 0, 16); // CPUSVN
  b.writeBigUInt64LE(r.flags, 48);
  b.writeBigUInt64LE(0xe7n, 56); // XFRM
  Buffer.from(r.mrEnclave).copy(b, 64);
  Buffer.from(r.mrSigner).copy(b, 128);
  b.writeUInt16LE(r.isvProdId, 256);
  b.writeUInt16LE(r.isvSvn, 258);
  Buffer.from(r.reportData).copy(b, 320);
  return new Uint8Array(b);
}

export const FAKE_QE_MRSIGNER = new Uint8Array(32).fill(0x8c);
export const FAKE_FMSPC = '00906ed50000';
export const FAKE_AT = new Date('2025-06-01T00:00:00Z');
const ISSUED = '2025-05-01T00:00:00Z';
const NEXT = '2025-12-01T00:00:00Z';

/** TCB levels from the highest down: all components = 7 − k, PCESVN 10, one status each. */
export const FAKE_TCB_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;

function tcbLevelsJson(version: 2 | 3): unknown[] {
  return FAKE_TCB_STATUSES.map((status, k) => {
    const svn = 7 - k;
    const tcb: Record<string, unknown> =
      version === 3
        ? { sgxtcbcomponents: Array.from({ length: 16 }, () => ({ svn })), pcesvn: 10 }
        : Object.fromEntries([
            ...Array.from({ length: 16 }, (_, i) => [`sgxtcbcomp${String(i + 1).padStart(2, '0')}svn`, svn]),
            ['pcesvn', 10],
          ]);
    return {
      tcb,
      tcbDate: '2024-03-13T00:00:00Z',
      tcbStatus: status,
      ...(k > 0 ? { advisoryIDs: [`FAKE-SA-${String(k).padStart(5, '0')}`] } : {}),
    };
  });
}

export interface FakeOptions {
  /** Platform SVN: every TCB component = this (7 UpToDate … 1 Revoked, 0 below every level). */
  readonly platformSvn?: number;
  readonly pceSvn?: number;
  /** QE ISVSVN: ≥ 8 UpToDate, 6–7 OutOfDate, 2–5 Revoked, < 2 below every level. */
  readonly qeIsvSvn?: number;
  readonly qeMrSigner?: Bytes;
  readonly debug?: boolean;
  readonly mrEnclave?: Bytes;
  readonly mrSigner?: Bytes;
  readonly reportData?: Bytes;
  readonly revokePck?: boolean;
  readonly revokePckCa?: boolean;
  /** Sign the TCB info with the PCK key (chain PCK → PCK CA → root) instead of the TCB signing key. */
  readonly tcbInfoSignedByPck?: boolean;
  readonly tcbInfoFmspc?: string;
  readonly tcbInfoVersion?: 2 | 3;
  /** Sign the PCK CRL with the TCB signing key (wrong issuer key). */
  readonly pckCrlWrongKey?: boolean;
}

export interface FakeDcap {
  readonly quote: Uint8Array;
  readonly collateral: Record<string, string>;
  readonly rootFingerprint: string;
  readonly at: Date;
}

export function makeFakeDcap(o: FakeOptions = {}): FakeDcap {
  const root = newKey();
  const pckCa = newKey();
  const pck = newKey();
  const tcb = newKey();
  const att = newKey();
  const ROOT = 'Fake SGX Root CA';
  const PCK_CA = 'Intel SGX PCK Processor CA';
  const rootDer = makeCert({
    serial: 1n,
    subject: ROOT,
    issuer: ROOT,
    key: root.publicKey,
    signer: root.privateKey,
    ca: true,
  });
  const pckCaDer = makeCert({
    serial: 2n,
    subject: PCK_CA,
    issuer: ROOT,
    key: pckCa.publicKey,
    signer: root.privateKey,
    ca: true,
  });
  const tcbDer = makeCert({
    serial: 3n,
    subject: 'Intel SGX TCB Signing',
    issuer: ROOT,
    key: tcb.publicKey,
    signer: root.privateKey,
    ca: false,
  });
  const svn = o.platformSvn ?? 7;
  const pckDer = makeCert({
    serial: 0x81b7n,
    subject: 'Intel SGX PCK Certificate',
    issuer: PCK_CA,
    key: pck.publicKey,
    signer: pckCa.privateKey,
    ca: false,
    extensions: [
      sgxExtension({
        components: new Array(16).fill(svn),
        pceSvn: o.pceSvn ?? 10,
        fmspc: FAKE_FMSPC,
        pceId: '0000',
      }),
    ],
  });

  // The quote: header ‖ ISV report, signed by the attestation key; the QE report binds that key.
  const header = cat(
    u16(3),
    u16(2),
    u32(0),
    u16(10),
    u16(15),
    Buffer.from('939a7233f79c4ca9940a0db3957f0607', 'hex'),
    new Uint8Array(20),
  );
  const body = reportBody({
    flags: o.debug ? 0x07n : 0x05n,
    mrEnclave: o.mrEnclave ?? new Uint8Array(32).fill(0xe1),
    mrSigner: o.mrSigner ?? new Uint8Array(32).fill(0x51),
    isvProdId: 3,
    isvSvn: 2,
    reportData: o.reportData ?? new Uint8Array(64),
  });
  const jwk = att.publicKey.export({ format: 'jwk' });
  const attKey = cat(Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url'));
  const authData = new Uint8Array(32).map((_, i) => i);
  const qeReportData = new Uint8Array(64);
  qeReportData.set(createHash('sha256').update(attKey).update(authData).digest());
  const qeReport = reportBody({
    flags: 0x15n,
    mrEnclave: new Uint8Array(32).fill(0x0e),
    mrSigner: o.qeMrSigner ?? FAKE_QE_MRSIGNER,
    isvProdId: 1,
    isvSvn: o.qeIsvSvn ?? 8,
    reportData: qeReportData,
  });
  const chainPem = Buffer.from(`${pem(pckDer)}${pem(pckCaDer)}${pem(rootDer)}\0`, 'latin1');
  const sigData = cat(
    p1363(cat(header, body), att.privateKey),
    attKey,
    qeReport,
    p1363(qeReport, pck.privateKey),
    u16(authData.byteLength),
    authData,
    u16(5),
    u32(chainPem.byteLength),
    chainPem,
  );
  const quote = cat(header, body, u32(sigData.byteLength), sigData);

  const version = o.tcbInfoVersion ?? 3;
  const tcbInfo = JSON.stringify({
    id: 'SGX',
    version,
    issueDate: ISSUED,
    nextUpdate: NEXT,
    fmspc: (o.tcbInfoFmspc ?? FAKE_FMSPC).toUpperCase(),
    pceId: '0000',
    ...(version === 3 ? { tcbType: 0 } : {}),
    tcbEvaluationDataNumber: 17,
    tcbLevels: tcbLevelsJson(version),
  });
  const qeIdentity = JSON.stringify({
    id: 'QE',
    version: 2,
    issueDate: ISSUED,
    nextUpdate: NEXT,
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: hex(FAKE_QE_MRSIGNER).toUpperCase(),
    isvprodid: 1,
    tcbLevels: [
      { tcb: { isvsvn: 8 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' },
      {
        tcb: { isvsvn: 6 },
        tcbDate: '2021-11-10T00:00:00Z',
        tcbStatus: 'OutOfDate',
        advisoryIDs: ['FAKE-SA-QE001'],
      },
      {
        tcb: { isvsvn: 2 },
        tcbDate: '2019-01-01T00:00:00Z',
        tcbStatus: 'Revoked',
        advisoryIDs: ['FAKE-SA-QE002'],
      },
    ],
  });
  const thisUpdate = new Date(ISSUED);
  const nextUpdate = new Date(NEXT);
  const tcbSignerKey = o.tcbInfoSignedByPck ? pck.privateKey : tcb.privateKey;
  const collateral = {
    pck_crl_issuer_chain: pem(pckCaDer) + pem(rootDer),
    root_ca_crl: hex(
      makeCrl({
        issuer: ROOT,
        signer: root.privateKey,
        thisUpdate,
        nextUpdate,
        revoked: o.revokePckCa ? [9n, 2n] : [9n],
      }),
    ),
    pck_crl: hex(
      makeCrl({
        issuer: PCK_CA,
        signer: o.pckCrlWrongKey ? tcb.privateKey : pckCa.privateKey,
        thisUpdate,
        nextUpdate,
        revoked: o.revokePck ? [0x1234n, 0x81b7n] : [0x1234n],
      }),
    ),
    tcb_info_issuer_chain: o.tcbInfoSignedByPck
      ? pem(pckDer) + pem(pckCaDer) + pem(rootDer)
      : pem(tcbDer) + pem(rootDer),
    tcb_info: tcbInfo,
    tcb_info_signature: hex(p1363(Buffer.from(tcbInfo, 'utf8'), tcbSignerKey)),
    qe_identity_issuer_chain: pem(tcbDer) + pem(rootDer),
    qe_identity: qeIdentity,
    qe_identity_signature: hex(p1363(Buffer.from(qeIdentity, 'utf8'), tcb.privateKey)),
  };
  return {
    quote,
    collateral,
    rootFingerprint: createHash('sha256').update(rootDer).digest('hex'),
    at: FAKE_AT,
  };
}
