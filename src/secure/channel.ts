// The record layer of the attested channel (made by handshake.ts): AES-256-GCM with one key and IV
// per direction, a 64-bit counter per direction carried in each record and used as the nonce
// (IV XOR counter, as TLS 1.3), length and counter authenticated as AAD. A record that is replayed,
// reordered, dropped or modified is E_AUTH and closes the channel for good; a frame over the limit is
// E_FRAME before anything is allocated. Wire format byte by byte: docs/encryption.md.
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { Socket } from 'node:net';
import { TeeError } from '../errors.js';
import { FRAME_LENGTH_BYTES, type FrameReader } from './channel-frame-reader.js';
import { asBytes, wipe } from './keys.js';

export const RECORD_COUNTER_BYTES = 8;
export const RECORD_TAG_BYTES = 16;
/** Counter, content type and tag around the data of one record. */
export const RECORD_OVERHEAD = RECORD_COUNTER_BYTES + 1 + RECORD_TAG_BYTES;
/** Default largest message: 64 MiB (a batch of activations). */
export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024 * 1024;
const MAX_COUNTER = 2n ** 64n - 1n;

/** Content types, inside the encryption (so authenticated). */
export const RecordType = { data: 0, close: 1, finished: 2 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

/** One direction's traffic secret: a 32-byte AES key and a 12-byte IV. */
export interface DirectionKeys {
  readonly key: Uint8Array;
  readonly iv: Uint8Array;
}

/** Seals and opens records of one direction; the counter advances only on success. */
export class RecordCipher {
  private counter = 0n;
  private readonly nonce = new Uint8Array(12);
  private readonly aad = new Uint8Array(FRAME_LENGTH_BYTES + RECORD_COUNTER_BYTES);

  constructor(private readonly keys: DirectionKeys) {
    if (keys.key.length !== 32 || keys.iv.length !== 12)
      throw new RangeError('a direction needs a 32-byte key and a 12-byte IV');
  }

  get nextCounter(): bigint {
    return this.counter;
  }

  private setNonce(counter: bigint, length: number): void {
    // nonce = IV XOR (0^32 ‖ counter_64): unique per record while the counter does not wrap.
    this.nonce.set(this.keys.iv);
    const dv = new DataView(this.nonce.buffer);
    dv.setBigUint64(4, dv.getBigUint64(4) ^ counter);
    const a = new DataView(this.aad.buffer);
    a.setUint32(0, length);
    a.setBigUint64(FRAME_LENGTH_BYTES, counter);
  }

  /**
   * One framed record, as the pieces to write in order: u32 length ‖ u64 counter, then
   * AES-GCM(data ‖ type), then the tag. The content type goes last (as in TLS 1.3) so that the
   * receiver's data starts at offset 0 of its array (typed-array views of it are aligned).
   */
  seal(type: RecordType, data: Uint8Array): Uint8Array[] {
    if (this.counter >= MAX_COUNTER)
      throw new TeeError('E_FRAME', 'record counter exhausted: open a new channel');
    const counter = this.counter;
    const length = RECORD_OVERHEAD + data.byteLength;
    this.setNonce(counter, length);
    const c = createCipheriv('aes-256-gcm', this.keys.key, this.nonce, { authTagLength: RECORD_TAG_BYTES });
    c.setAAD(this.aad);
    const body = asBytes(c.update(data));
    const last = asBytes(c.update(Uint8Array.of(type)));
    c.final();
    const head = new Uint8Array(FRAME_LENGTH_BYTES + RECORD_COUNTER_BYTES);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, length);
    dv.setBigUint64(FRAME_LENGTH_BYTES, counter);
    this.counter++;
    return [head, body, last, asBytes(c.getAuthTag())];
  }

  /** Opens a record (the frame without its length prefix): its type and data, once authentic. */
  open(record: Uint8Array): { type: RecordType; data: Uint8Array } {
    if (record.byteLength < RECORD_OVERHEAD) {
      throw new TeeError(
        'E_AUTH',
        `record of ${record.byteLength} bytes is shorter than the ${RECORD_OVERHEAD}-byte minimum`,
      );
    }
    const counter = new DataView(record.buffer, record.byteOffset, record.byteLength).getBigUint64(0);
    if (counter !== this.counter) {
      throw new TeeError(
        'E_AUTH',
        counter < this.counter
          ? `record ${counter} was replayed or reordered (expected record ${this.counter})`
          : `record ${counter} arrived where record ${this.counter} was expected (records were dropped or reordered)`,
      );
    }
    this.setNonce(counter, record.byteLength);
    const d = createDecipheriv('aes-256-gcm', this.keys.key, this.nonce, { authTagLength: RECORD_TAG_BYTES });
    d.setAAD(this.aad);
    d.setAuthTag(record.subarray(record.byteLength - RECORD_TAG_BYTES));
    const plain = asBytes(
      d.update(record.subarray(RECORD_COUNTER_BYTES, record.byteLength - RECORD_TAG_BYTES)),
    );
    try {
      // Verify the tag before releasing plaintext: nothing of `plain` is looked at before final().
      d.final();
    } catch {
      wipe(plain);
      throw new TeeError(
        'E_AUTH',
        `record ${counter} failed authentication (modified in transit, or not from the peer)`,
      );
    }
    const type = plain[plain.length - 1]!;
    if (type !== RecordType.data && type !== RecordType.close && type !== RecordType.finished) {
      wipe(plain);
      throw new TeeError('E_FRAME', `record ${counter} has unknown content type ${type}`);
    }
    this.counter++;
    return { type: type as RecordType, data: plain.subarray(0, plain.length - 1) };
  }

  dispose(): void {
    wipe(this.keys.key, this.keys.iv);
  }
}

export interface SecureChannelInfo {
  /** 'sgx' or 'simulated': what the server's attestation was (as seen by the client; 'none' server-side). */
  readonly attestation: 'sgx' | 'simulated' | 'none';
  /** SHA-256 of the handshake transcript: binds upper-layer protocols to this channel. */
  readonly transcriptHash: Uint8Array;
}

/**
 * An authenticated, encrypted message channel over a socket. send() and receive() carry whole
 * messages (≤ maxRecordBytes each), in order; receive() resolves null once the peer closed the
 * channel with an authenticated close record. Any failure (E_AUTH, E_FRAME, E_NETWORK) closes the
 * channel: the socket is destroyed, the keys are wiped, and every later call fails with that error.
 */
export class SecureChannel {
  private failure: Error | null = null;
  private sendClosed = false;
  private peerClosed = false;
  private receiving: Promise<unknown> = Promise.resolve();

  /** Made by clientHandshake/serverHandshake, not directly. */
  constructor(
    private readonly socket: Socket,
    private readonly reader: FrameReader,
    private readonly sender: RecordCipher,
    private readonly receiver: RecordCipher,
    readonly info: SecureChannelInfo,
    readonly maxRecordBytes: number,
  ) {
    reader.maxFrameBytes = maxRecordBytes + RECORD_OVERHEAD;
  }

  /** Encrypts and sends one message; resolves once the socket took it. */
  send(data: Uint8Array): Promise<void> {
    if (!(data instanceof Uint8Array)) throw new TypeError('send() takes a Uint8Array');
    if (data.byteLength > this.maxRecordBytes) {
      throw new RangeError(
        `message of ${data.byteLength} bytes exceeds maxRecordBytes (${this.maxRecordBytes})`,
      );
    }
    return this.write(RecordType.data, data);
  }

  /** @internal handshake Finished and close records. */
  write(type: RecordType, data: Uint8Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.sendClosed)
      return Promise.reject(new TeeError('E_NETWORK', 'the channel is closed for sending'));
    const pieces = this.sender.seal(type, data);
    return new Promise((resolve, reject) => {
      // Corked: the pieces leave in one write, without first copying them into one array.
      this.socket.cork();
      for (let i = 0; i < pieces.length - 1; i++) this.socket.write(pieces[i]!);
      this.socket.write(pieces[pieces.length - 1]!, (e) =>
        e ? reject(new TeeError('E_NETWORK', `send failed: ${e.message}`, { cause: e })) : resolve(),
      );
      this.socket.uncork();
    });
  }

  /** The next message, or null once the peer closed the channel. Calls are served in order. */
  receive(): Promise<Uint8Array | null> {
    const r = this.receiving.then(() => this.receiveOne());
    this.receiving = r.catch(() => {});
    return r;
  }

  /** @internal the next record of any type (the handshake reads its Finished record with this). */
  async receiveRecord(): Promise<{ type: RecordType; data: Uint8Array } | null> {
    if (this.failure !== null) throw this.failure;
    if (this.peerClosed) return null;
    let rec: Uint8Array | null;
    try {
      rec = await this.reader.next();
    } catch (e) {
      throw this.fail(e as Error);
    }
    if (rec === null) {
      throw this.fail(
        new TeeError(
          'E_NETWORK',
          'the peer ended the connection without an authenticated close (records may have been dropped)',
        ),
      );
    }
    try {
      return this.receiver.open(rec);
    } catch (e) {
      throw this.fail(e as Error);
    }
  }

  private async receiveOne(): Promise<Uint8Array | null> {
    const r = await this.receiveRecord();
    if (r === null) return null;
    if (r.type === RecordType.close) {
      this.peerClosed = true;
      this.receiver.dispose();
      if (this.sendClosed) this.socket.destroy();
      return null;
    }
    if (r.type !== RecordType.data)
      throw this.fail(new TeeError('E_FRAME', `unexpected record of type ${r.type}`));
    return r.data;
  }

  /** Messages until the peer closes the channel. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    for (;;) {
      const m = await this.receive();
      if (m === null) return;
      yield m;
    }
  }

  /**
   * Sends an authenticated close record and ends our side of the connection; the peer's receive()
   * then resolves null. Messages the peer sends before its own close can still be received.
   */
  async close(): Promise<void> {
    if (this.failure !== null || this.sendClosed) return;
    try {
      await this.write(RecordType.close, new Uint8Array(0));
    } catch {
      // the connection is already gone: closing is all that was asked
    }
    this.sendClosed = true;
    this.sender.dispose();
    if (this.peerClosed) this.socket.destroy();
    else this.socket.end();
  }

  /** Closes at once without a close record (the peer sees E_NETWORK); wipes the keys. */
  destroy(): void {
    this.fail(new TeeError('E_NETWORK', 'the channel was destroyed'));
  }

  /** The error that closed the channel, or null. */
  get error(): Error | null {
    return this.failure;
  }

  private fail(e: Error): Error {
    if (this.failure === null) {
      this.failure = e;
      this.reader.fail(e);
      this.sender.dispose();
      this.receiver.dispose();
      this.socket.destroy();
    }
    return this.failure;
  }
}
