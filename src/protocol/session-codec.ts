// One session message in one record of the attested channel (the channel encrypts and authenticates it):
//   u32 big-endian header length ‖ header (UTF-8 JSON object, with `type` and `bodyBytes`) ‖ body.
// The decoder checks the declared header length against MAX_HEADER_BYTES and the record's size before
// reading, parses the JSON, checks that the body is exactly `bodyBytes` long (no leftover bytes) and
// then the header against its type (session-messages.ts). Anything else is E_FRAME.
import {
  BODY_TYPES,
  type ClientMessage,
  checkMessage,
  type EnclaveMessage,
  isJsonObject,
  MAX_BODY_BYTES,
  MAX_HEADER_BYTES,
  MAX_SESSION_MESSAGE_BYTES,
  type SessionMessage,
  sessionFrameError,
} from './session-messages.js';

const HEADER_LENGTH_BYTES = 4;

/** JSON with NaN/±Infinity written as null (JSON.stringify's own rule), body removed, bodyBytes added. */
export function encodeSessionMessage(m: SessionMessage): Uint8Array {
  const body = 'body' in m ? m.body : new Uint8Array(0);
  if (body.byteLength > MAX_BODY_BYTES) {
    throw new RangeError(`message body of ${body.byteLength} bytes exceeds ${MAX_BODY_BYTES}`);
  }
  if (body.byteLength > 0 && !BODY_TYPES.includes(m.type)) {
    throw new RangeError(`a '${m.type}' message carries no body`);
  }
  const fields = Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'body'));
  const header = new TextEncoder().encode(JSON.stringify({ ...fields, bodyBytes: body.byteLength }));
  if (header.byteLength > MAX_HEADER_BYTES) {
    throw new RangeError(`message header of ${header.byteLength} bytes exceeds ${MAX_HEADER_BYTES}`);
  }
  const out = new Uint8Array(HEADER_LENGTH_BYTES + header.byteLength + body.byteLength);
  new DataView(out.buffer).setUint32(0, header.byteLength);
  out.set(header, HEADER_LENGTH_BYTES);
  out.set(body, HEADER_LENGTH_BYTES + header.byteLength);
  return out;
}

/** Decodes and checks a message the client sent (for the trusted process). */
export function decodeClientMessage(bytes: Uint8Array): ClientMessage {
  return decode(bytes, 'client') as ClientMessage;
}

/** Decodes and checks a message the trusted process sent (for the client). */
export function decodeEnclaveMessage(bytes: Uint8Array): EnclaveMessage {
  return decode(bytes, 'enclave') as EnclaveMessage;
}

function decode(bytes: Uint8Array, from: 'client' | 'enclave'): SessionMessage {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('a session message is a Uint8Array');
  if (bytes.byteLength > MAX_SESSION_MESSAGE_BYTES) {
    throw sessionFrameError('record', `${bytes.byteLength} bytes exceeds ${MAX_SESSION_MESSAGE_BYTES}`);
  }
  if (bytes.byteLength < HEADER_LENGTH_BYTES)
    throw sessionFrameError('record', 'shorter than its header length');
  const headerLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
  if (headerLength > MAX_HEADER_BYTES) {
    throw sessionFrameError('record', `header of ${headerLength} bytes exceeds ${MAX_HEADER_BYTES}`);
  }
  if (HEADER_LENGTH_BYTES + headerLength > bytes.byteLength) {
    throw sessionFrameError(
      'record',
      `declares a ${headerLength}-byte header but holds ${bytes.byteLength - HEADER_LENGTH_BYTES} bytes`,
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(
        bytes.subarray(HEADER_LENGTH_BYTES, HEADER_LENGTH_BYTES + headerLength),
      ),
    );
  } catch {
    throw sessionFrameError('header', 'not UTF-8 JSON');
  }
  if (!isJsonObject(header)) throw sessionFrameError('header', 'not a JSON object');
  const body = bytes.subarray(HEADER_LENGTH_BYTES + headerLength);
  const { bodyBytes, ...fields } = header;
  if (typeof bodyBytes !== 'number' || !Number.isSafeInteger(bodyBytes) || bodyBytes < 0) {
    throw sessionFrameError('header', 'bodyBytes is not a non-negative integer');
  }
  if (bodyBytes > MAX_BODY_BYTES)
    throw sessionFrameError('header', `bodyBytes ${bodyBytes} exceeds ${MAX_BODY_BYTES}`);
  if (bodyBytes !== body.byteLength) {
    throw sessionFrameError(
      'record',
      `bodyBytes says ${bodyBytes} but ${body.byteLength} bytes follow the header`,
    );
  }
  return checkMessage(fields, body, from);
}
