// HKDF-SHA256 (RFC 5869), SHA-256 and HMAC-SHA256 over node:crypto, returning plain Uint8Arrays
// the caller can wipe, and the labels every derivation of tee-offload uses ("tee-offload/v1 …"), so
// that a key derived for one purpose (a file, a channel direction, sealing) never equals another.
import { createHash, createHmac, hkdfSync } from 'node:crypto';

/** Protocol label: the prefix of every derivation label and of the attestation report_data. */
export const PROTOCOL_LABEL = 'tee-offload/v1';

/** Largest output of HKDF-SHA256: 255 blocks of 32 bytes (RFC 5869 §2.3). */
export const HKDF_SHA256_MAX_LENGTH = 255 * 32;

/** OKM = HKDF-Expand(HKDF-Extract(salt, ikm), info, length), in its own ArrayBuffer. */
export function hkdfSha256(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > HKDF_SHA256_MAX_LENGTH) {
    throw new RangeError(
      `HKDF-SHA256 length must be an integer in 1..${HKDF_SHA256_MAX_LENGTH}, got ${length}`,
    );
  }
  if (info.byteLength > 1024)
    throw new RangeError(`HKDF info must be at most 1024 bytes, got ${info.byteLength}`);
  // hkdfSync returns a fresh ArrayBuffer: this view is its only reference, so wiping it wipes the key.
  return new Uint8Array(hkdfSync('sha256', ikm, salt, info, length));
}

/** `info` for a derivation: "tee-offload/v1 <purpose>" then each context part, length-prefixed. */
export function hkdfInfo(purpose: string, ...context: Uint8Array[]): Uint8Array {
  const label = new TextEncoder().encode(`${PROTOCOL_LABEL} ${purpose}`);
  // Length prefixes make the encoding unambiguous: ("ab","c") and ("a","bc") give different infos.
  const out = new Uint8Array(label.length + context.reduce((n, c) => n + 4 + c.byteLength, 0));
  const dv = new DataView(out.buffer);
  out.set(label, 0);
  let at = label.length;
  for (const c of context) {
    dv.setUint32(at, c.byteLength);
    out.set(c, at + 4);
    at += 4 + c.byteLength;
  }
  return out;
}

export function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  const d = h.digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}
