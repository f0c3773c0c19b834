// Strict readers for the JSON documents of DCAP collateral (TCB info, QE identity, the collateral
// bundle): each field has the expected type and shape or the document is E_FORMAT, naming the path.
import { TeeError } from '../errors.js';

export type JsonObject = Readonly<Record<string, unknown>>;

export function jsonError(path: string, message: string): TeeError {
  return new TeeError('E_FORMAT', `${path}: ${message}`);
}

export function parseJsonObject(text: string, what: string): JsonObject {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new TeeError('E_FORMAT', `${what}: not JSON (${(e as Error).message})`, { cause: e });
  }
  return asObject(v, what);
}

export function asObject(v: unknown, path: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw jsonError(path, 'expected an object');
  return v as JsonObject;
}

export function getString(o: JsonObject, key: string, path: string): string {
  const v = o[key];
  if (typeof v !== 'string')
    throw jsonError(`${path}.${key}`, v === undefined ? 'missing' : 'expected a string');
  return v;
}

export function getOptionalString(o: JsonObject, key: string, path: string): string | undefined {
  return o[key] === undefined || o[key] === null ? undefined : getString(o, key, path);
}

/** A non-negative integer up to `max`. */
export function getInt(o: JsonObject, key: string, path: string, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) {
    throw jsonError(`${path}.${key}`, v === undefined ? 'missing' : `expected an integer in 0..${max}`);
  }
  return v;
}

export function getArray(o: JsonObject, key: string, path: string): readonly unknown[] {
  const v = o[key];
  if (!Array.isArray(v)) throw jsonError(`${path}.${key}`, v === undefined ? 'missing' : 'expected an array');
  return v;
}

/** A hex string of exactly `bytes` bytes. */
export function getHex(o: JsonObject, key: string, path: string, bytes: number): Uint8Array {
  const s = getString(o, key, path);
  if (s.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw jsonError(`${path}.${key}`, `expected ${bytes} bytes of hex, got '${s.slice(0, 80)}'`);
  }
  const b = Buffer.from(s, 'hex');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** An RFC 3339 UTC time as Intel writes them ("2025-06-19T10:56:11Z", optional fraction). */
export function getDate(o: JsonObject, key: string, path: string): Date {
  const s = getString(o, key, path);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) || Number.isNaN(Date.parse(s))) {
    throw jsonError(`${path}.${key}`, `expected a UTC time like 2025-06-19T10:56:11Z, got '${s}'`);
  }
  return new Date(s);
}

export function getStringArray(o: JsonObject, key: string, path: string): string[] {
  if (o[key] === undefined) return [];
  return getArray(o, key, path).map((v, i) => {
    if (typeof v !== 'string') throw jsonError(`${path}.${key}[${i}]`, 'expected a string');
    return v;
  });
}
