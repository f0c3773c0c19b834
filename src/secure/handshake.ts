// The attested handshake of DESIGN.md ("Channel, attestation, files"), over one TCP connection:
//   client → server  ClientHello  0x01 ‖ version ‖ nonce[32]
//   server → client  ServerHello  0x02 ‖ version ‖ server X25519 key[32] ‖ evidence kind ‖ evidence
//                    evidence binds report_data = SHA-256("tee-offload/v1" ‖ server key ‖ nonce) ‖ 0^32
//   client → server  ClientKey    0x03 ‖ client X25519 key[32], then a Finished record (encrypted)
//   server → client  a Finished record (encrypted)
// Keys: HKDF-SHA256(X25519 secret, salt = nonce, info = "tee-offload/v1 channel keys" ‖ transcript
// hash) → one AES-256-GCM key and IV per direction. The client refuses the server unless its
// evidence verifies (E_ATTEST) and refuses SIMULATED evidence unless allowSimulated is set.
import {
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type KeyObject,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { TeeError } from '../errors.js';
import {
  DEFAULT_MAX_RECORD_BYTES,
  RECORD_OVERHEAD,
  RecordCipher,
  RecordType,
  SecureChannel,
} from './channel.js';
import { FrameReader, frame } from './channel-frame-reader.js';
import { parseSimulatedEvidence } from './handshake-attestation.js';
import { hkdfInfo, hkdfSha256, PROTOCOL_LABEL, sha256 } from './hkdf.js';
import { asBytes, wipe } from './keys.js';

export const HANDSHAKE_VERSION = 1;
export const NONCE_BYTES = 32;
export const X25519_KEY_BYTES = 32;
export const REPORT_DATA_BYTES = 64;
/** Largest handshake message accepted: a DCAP quote with its certification data fits easily. */
export const DEFAULT_MAX_EVIDENCE_BYTES = 64 * 1024;
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

/** A Finished record: counter, type, a 32-byte hash and the tag. */
const FINISHED_RECORD_BYTES = RECORD_OVERHEAD + 32;
const MSG_CLIENT_HELLO = 0x01;
const MSG_SERVER_HELLO = 0x02;
const MSG_CLIENT_KEY = 0x03;
/** Evidence kinds on the wire. */
const EVIDENCE_KIND = { sgx: 1, simulated: 2 } as const;

export type EvidenceKind = keyof typeof EVIDENCE_KIND;

/** The trusted process's source of evidence: a DCAP quote under SGX, a labelled record otherwise. */
export interface AttestationProvider {
  readonly kind: EvidenceKind;
  /** Evidence whose report_data field is exactly `reportData` (64 bytes). */
  quote(reportData: Uint8Array): Promise<Uint8Array>;
}

/**
 * The client's check of SGX evidence: resolve if `evidence` is a valid quote whose report_data equals
 * `expectedReportData` and whose enclave identity and TCB satisfy the policy; throw (ideally
 * TeeError('E_ATTEST')) otherwise. SIMULATED evidence never reaches it: see allowSimulated.
 */
export type AttestationVerifier = (
  evidence: Uint8Array,
  expectedReportData: Uint8Array,
  info: { readonly kind: EvidenceKind },
) => Promise<void> | void;

export interface HandshakeOptions {
  /** Largest message of the channel (default 64 MiB); larger frames are E_FRAME before allocation. */
  readonly maxRecordBytes?: number;
  /** Give up the handshake after this long (E_NETWORK; default 30 s). */
  readonly timeoutMs?: number;
}

export interface ClientHandshakeOptions extends HandshakeOptions {
  /** Verifies SGX evidence; without one, an SGX server is refused (E_ATTEST). */
  readonly verifier?: AttestationVerifier;
  /** Accept a SIMULATED attestation (no TEE: development and tests only). Default false. */
  readonly allowSimulated?: boolean;
  /** Largest ServerHello accepted (default 64 KiB). */
  readonly maxEvidenceBytes?: number;
}

export interface ServerHandshakeOptions extends HandshakeOptions {
  readonly attestation: AttestationProvider;
}

/** report_data = SHA-256("tee-offload/v1" ‖ server public key ‖ client nonce), zero-padded to 64 bytes. */
export function expectedReportData(serverPublicKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  if (serverPublicKey.byteLength !== X25519_KEY_BYTES)
    throw new RangeError('server public key must be 32 bytes');
  if (nonce.byteLength !== NONCE_BYTES) throw new RangeError('nonce must be 32 bytes');
  const out = new Uint8Array(REPORT_DATA_BYTES);
  out.set(sha256(new TextEncoder().encode(PROTOCOL_LABEL), serverPublicKey, nonce), 0);
  return out;
}

// ---- X25519 ------------------------------------------------------------------------------------

/** DER SubjectPublicKeyInfo prefix of an X25519 key (RFC 8410): the raw 32 bytes follow it. */
const X25519_SPKI_PREFIX = Uint8Array.from([
  0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00,
]);

interface Ephemeral {
  readonly privateKey: KeyObject;
  readonly publicKey: Uint8Array;
}

/** DER PKCS#8 prefix of an X25519 private key (RFC 8410): the raw 32 bytes follow it. */
const X25519_PKCS8_PREFIX = Uint8Array.from([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);

// 32 fresh bytes from crypto.randomBytes imported as the private key (X25519 clamps any 32 bytes), rather
// than generateKeyPairSync: on Node 20 an export of a generated key can deadlock when a garbage collection
// during it finalizes the key-generation job, which shares the key's lock (a test process hung so, on an
// EC key's JWK export). An imported key has no such job.
function ephemeral(): Ephemeral {
  const pkcs8 = new Uint8Array(X25519_PKCS8_PREFIX.length + X25519_KEY_BYTES);
  pkcs8.set(X25519_PKCS8_PREFIX, 0);
  const secret = randomBytes(X25519_KEY_BYTES);
  pkcs8.set(secret, X25519_PKCS8_PREFIX.length);
  secret.fill(0);
  const privateKey = createPrivateKey({ key: Buffer.from(pkcs8.buffer), format: 'der', type: 'pkcs8' });
  pkcs8.fill(0);
  const der = asBytes(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
  return { privateKey, publicKey: der.slice(X25519_SPKI_PREFIX.length) };
}

function sharedSecret(own: Ephemeral, peer: Uint8Array): Uint8Array {
  try {
    const spki = new Uint8Array(X25519_SPKI_PREFIX.length + X25519_KEY_BYTES);
    spki.set(X25519_SPKI_PREFIX, 0);
    spki.set(peer, X25519_SPKI_PREFIX.length);
    const publicKey = createPublicKey({ key: Buffer.from(spki.buffer), format: 'der', type: 'spki' });
    const s = asBytes(diffieHellman({ privateKey: own.privateKey, publicKey }));
    // A low-order peer key gives the all-zero secret (RFC 7748 §6.1): refuse it.
    if (s.every((b) => b === 0)) throw new Error('all-zero shared secret');
    return s;
  } catch (e) {
    throw new TeeError('E_AUTH', "key agreement failed: the peer's X25519 public key is invalid", {
      cause: e,
    });
  }
}

// ---- key schedule ------------------------------------------------------------------------------

/** SHA-256 over the three handshake messages, each length-prefixed. */
function transcriptHash(...messages: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const m of messages) {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, m.byteLength);
    parts.push(len, m);
  }
  return sha256(...parts);
}

interface ChannelKeys {
  readonly clientToServer: RecordCipher;
  readonly serverToClient: RecordCipher;
}

function deriveChannelKeys(shared: Uint8Array, nonce: Uint8Array, th: Uint8Array): ChannelKeys {
  const okm = hkdfSha256(shared, nonce, hkdfInfo('channel keys', th), 2 * (32 + 12));
  // Copies: each RecordCipher owns (and wipes) its own key bytes.
  const keys = {
    clientToServer: new RecordCipher({ key: okm.slice(0, 32), iv: okm.slice(32, 44) }),
    serverToClient: new RecordCipher({ key: okm.slice(44, 76), iv: okm.slice(76, 88) }),
  };
  wipe(okm, shared);
  return keys;
}

/** The content of both Finished records: proves the sender derived the same keys from the same transcript. */
function finishedContent(role: 'client' | 'server', th: Uint8Array): Uint8Array {
  return sha256(new TextEncoder().encode(`${PROTOCOL_LABEL} ${role} finished`), th);
}

// ---- messages ----------------------------------------------------------------------------------

function malformed(what: string): TeeError {
  return new TeeError('E_FRAME', `malformed ${what}`);
}

async function nextMessage(reader: FrameReader, what: string): Promise<Uint8Array> {
  const m = await reader.next();
  if (m === null)
    throw new TeeError('E_NETWORK', `the peer closed the connection before sending its ${what}`);
  return m;
}

function send(socket: Socket, bytes: Uint8Array): void {
  socket.write(bytes);
}

/** Runs `body` under a timeout; on any failure the reader fails (socket destroyed) and the error is rethrown. */
async function guarded<T>(
  socket: Socket,
  reader: FrameReader,
  timeoutMs: number,
  body: () => Promise<T>,
): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TeeError('E_NETWORK', `the handshake did not complete within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([body(), timeout]);
  } catch (e) {
    const err =
      e instanceof TeeError
        ? e
        : new TeeError('E_NETWORK', `handshake failed: ${(e as Error).message}`, { cause: e });
    reader.fail(err);
    socket.destroy();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function checkCommon(o: HandshakeOptions): { maxRecordBytes: number; timeoutMs: number } {
  const maxRecordBytes = o.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  if (!Number.isInteger(maxRecordBytes) || maxRecordBytes < 1 || maxRecordBytes > 2 ** 31) {
    throw new RangeError(`maxRecordBytes must be an integer in 1..${2 ** 31}, got ${maxRecordBytes}`);
  }
  const timeoutMs = o.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be positive, got ${timeoutMs}`);
  return { maxRecordBytes, timeoutMs };
}

/**
 * The client side (the data owner): sends a nonce, verifies the server's evidence against the key it
 * offers, then derives the channel keys. Resolves with the channel once the server proved it holds them.
 */
export async function clientHandshake(
  socket: Socket,
  options: ClientHandshakeOptions = {},
): Promise<SecureChannel> {
  const { maxRecordBytes, timeoutMs } = checkCommon(options);
  const maxEvidence = options.maxEvidenceBytes ?? DEFAULT_MAX_EVIDENCE_BYTES;
  socket.setNoDelay(true);
  const reader = new FrameReader(socket, 2 + X25519_KEY_BYTES + 1 + maxEvidence);
  return guarded(socket, reader, timeoutMs, async () => {
    const nonce = new Uint8Array(randomBytes(NONCE_BYTES));
    const hello = new Uint8Array(2 + NONCE_BYTES);
    hello[0] = MSG_CLIENT_HELLO;
    hello[1] = HANDSHAKE_VERSION;
    hello.set(nonce, 2);
    send(socket, frame(hello));

    const sh = await nextMessage(reader, 'ServerHello');
    if (sh.length < 2 + X25519_KEY_BYTES + 1 || sh[0] !== MSG_SERVER_HELLO) throw malformed('ServerHello');
    if (sh[1] !== HANDSHAKE_VERSION) {
      throw new TeeError(
        'E_FRAME',
        `the server speaks handshake version ${sh[1]}, this client ${HANDSHAKE_VERSION}`,
      );
    }
    const serverKey = sh.slice(2, 2 + X25519_KEY_BYTES);
    const kindByte = sh[2 + X25519_KEY_BYTES]!;
    const evidence = sh.subarray(3 + X25519_KEY_BYTES);
    const reportData = expectedReportData(serverKey, nonce);
    let kind: EvidenceKind;
    if (kindByte === EVIDENCE_KIND.simulated) {
      kind = 'simulated';
      if (!options.allowSimulated) {
        throw new TeeError(
          'E_ATTEST',
          'the server offered SIMULATED attestation (no TEE); refused (allowSimulated is for development only)',
        );
      }
      const rd = parseSimulatedEvidence(evidence);
      if (!timingSafeEqual(rd, reportData)) {
        throw new TeeError(
          'E_ATTEST',
          "the SIMULATED attestation's report_data does not bind the server key and nonce",
        );
      }
    } else if (kindByte === EVIDENCE_KIND.sgx) {
      kind = 'sgx';
      if (!options.verifier)
        throw new TeeError(
          'E_ATTEST',
          'the server sent an SGX quote but no attestation verifier is configured',
        );
      try {
        await options.verifier(evidence, reportData, { kind });
      } catch (e) {
        if (e instanceof TeeError && e.code === 'E_ATTEST') throw e;
        throw new TeeError('E_ATTEST', `the server's attestation was refused: ${(e as Error).message}`, {
          cause: e,
        });
      }
    } else {
      throw new TeeError('E_ATTEST', `the server sent evidence of unknown kind ${kindByte}`);
    }

    // Only now, with the evidence bound to serverKey accepted, is the key agreement done.
    const own = ephemeral();
    const ck = new Uint8Array(1 + X25519_KEY_BYTES);
    ck[0] = MSG_CLIENT_KEY;
    ck.set(own.publicKey, 1);
    const th = transcriptHash(hello, sh, ck);
    const keys = deriveChannelKeys(sharedSecret(own, serverKey), nonce, th);
    const channel = new SecureChannel(
      socket,
      reader,
      keys.clientToServer,
      keys.serverToClient,
      { attestation: kind, transcriptHash: th },
      maxRecordBytes,
    );
    send(socket, frame(ck));
    await channel.write(RecordType.finished, finishedContent('client', th));
    await expectFinished(channel, finishedContent('server', th));
    return channel;
  });
}

async function expectFinished(channel: SecureChannel, expected: Uint8Array): Promise<void> {
  const r = await channel.receiveRecord();
  if (
    r === null ||
    r.type !== RecordType.finished ||
    r.data.length !== expected.length ||
    !timingSafeEqual(r.data, expected)
  ) {
    const e = new TeeError('E_AUTH', 'the peer’s Finished record does not match the handshake transcript');
    channel.destroy();
    throw e;
  }
}

/**
 * The server side (the trusted process): answers a client's nonce with a fresh X25519 key and
 * evidence binding it, then derives the channel keys. Resolves with the channel once the client's
 * Finished record verified.
 */
export async function serverHandshake(
  socket: Socket,
  options: ServerHandshakeOptions,
): Promise<SecureChannel> {
  const { maxRecordBytes, timeoutMs } = checkCommon(options);
  if (!options.attestation) throw new TypeError('serverHandshake needs an attestation provider');
  socket.setNoDelay(true);
  const reader = new FrameReader(socket, 2 + NONCE_BYTES);
  return guarded(socket, reader, timeoutMs, async () => {
    const hello = await nextMessage(reader, 'ClientHello');
    if (hello.length !== 2 + NONCE_BYTES || hello[0] !== MSG_CLIENT_HELLO) throw malformed('ClientHello');
    if (hello[1] !== HANDSHAKE_VERSION) {
      throw new TeeError(
        'E_FRAME',
        `the client speaks handshake version ${hello[1]}, this server ${HANDSHAKE_VERSION}`,
      );
    }
    const nonce = hello.slice(2);
    const own = ephemeral();
    const evidence = await options.attestation.quote(expectedReportData(own.publicKey, nonce));
    const kind = EVIDENCE_KIND[options.attestation.kind];
    if (kind === undefined) throw new TypeError(`unknown attestation kind '${options.attestation.kind}'`);
    const sh = new Uint8Array(3 + X25519_KEY_BYTES + evidence.byteLength);
    sh[0] = MSG_SERVER_HELLO;
    sh[1] = HANDSHAKE_VERSION;
    sh.set(own.publicKey, 2);
    sh[2 + X25519_KEY_BYTES] = kind;
    sh.set(evidence, 3 + X25519_KEY_BYTES);
    // Next come ClientKey and the client's Finished record (possibly in one TCP segment): nothing larger.
    reader.maxFrameBytes = FINISHED_RECORD_BYTES;
    send(socket, frame(sh));

    const ck = await nextMessage(reader, 'ClientKey');
    if (ck.length !== 1 + X25519_KEY_BYTES || ck[0] !== MSG_CLIENT_KEY) throw malformed('ClientKey');
    const th = transcriptHash(hello, sh, ck);
    const keys = deriveChannelKeys(sharedSecret(own, ck.subarray(1)), nonce, th);
    const channel = new SecureChannel(
      socket,
      reader,
      keys.serverToClient,
      keys.clientToServer,
      { attestation: 'none', transcriptHash: th },
      maxRecordBytes,
    );
    // The client's Finished record is small: keep the frame limit tight until it verified.
    reader.maxFrameBytes = FINISHED_RECORD_BYTES;
    await expectFinished(channel, finishedContent('client', th));
    reader.maxFrameBytes = maxRecordBytes + RECORD_OVERHEAD;
    await channel.write(RecordType.finished, finishedContent('server', th));
    return channel;
  });
}

export interface ConnectOptions extends ClientHandshakeOptions {
  readonly host: string;
  readonly port: number;
}

/** Opens a TCP connection and runs the client handshake on it. */
export function connectSecure(options: ConnectOptions): Promise<SecureChannel> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: options.host, port: options.port });
    const onError = (e: Error) =>
      reject(
        new TeeError('E_NETWORK', `cannot connect to ${options.host}:${options.port}: ${e.message}`, {
          cause: e,
        }),
      );
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      clientHandshake(socket, options).then(resolve, reject);
    });
  });
}
