// The two fixed-size records of the wire protocol (docs/protocol.md): the 32-byte hello each side sends
// first, and the 16-byte header in front of every frame. All integers are little-endian. Decoders here
// validate every field and throw TeeError E_FRAME with an exact message; they never allocate.
import { TeeError } from '../errors.js';
import { MAX_FRAME_BYTES_LIMIT, MAX_RANK, PROTOCOL_VERSION } from './limits.js';

/** 'TEEO' read as a little-endian u32: the first four bytes of a hello. */
export const HELLO_MAGIC = 0x4f454554;
export const HELLO_BYTES = 32;
/** 'TF' read as a little-endian u16: the first two bytes of every frame header. */
export const FRAME_MAGIC = 0x4654;
export const HEADER_BYTES = 16;

export const FrameType = { request: 1, result: 2, error: 3 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export type Role = 'client' | 'accelerator';
const ROLE_IDS: Record<Role, number> = { client: 1, accelerator: 2 };

/** Capability bits of a hello: which arithmetics an accelerator serves (a client sends 0). */
export const CAP_F32 = 1;
export const CAP_MODP = 2;
/** Arith wide: exact integer products of centered operands, float64 results (protocol 3). */
export const CAP_WIDE = 4;
const KNOWN_CAPS = CAP_F32 | CAP_MODP | CAP_WIDE;

export interface Hello {
  readonly version: number;
  readonly role: Role;
  /** The largest frame payload this side accepts. */
  readonly maxFrameBytes: number;
  readonly maxRank: number;
  readonly maxDim: number;
  readonly capabilities: number;
  /** Accelerator: its operand cache per connection, in MiB (0: none; operand-cache.ts). Client: 0. */
  readonly cacheMiB?: number;
}

export interface FrameHeader {
  readonly type: FrameType;
  /** Request id, echoed by the reply; 0 in an error frame about the connection itself. */
  readonly id: number;
  readonly length: number;
}

export function frameError(message: string): TeeError {
  return new TeeError('E_FRAME', message);
}

function hex(n: number, digits: number): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

// hello: magic u32 | version u16 | role u8 | reserved u8 | maxFrameBytes u64 | maxRank u32 | maxDim u32
//        | capabilities u32 | cache MiB u32 (accelerator; 0 from a client)
export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  b.writeUInt32LE(HELLO_MAGIC, 0);
  b.writeUInt16LE(h.version, 4);
  b.writeUInt8(ROLE_IDS[h.role], 6);
  writeU64(b, 8, h.maxFrameBytes);
  b.writeUInt32LE(h.maxRank, 16);
  b.writeUInt32LE(h.maxDim, 20);
  b.writeUInt32LE(h.capabilities, 24);
  b.writeUInt32LE(h.role === 'accelerator' ? (h.cacheMiB ?? 0) : 0, 28);
  return b;
}

/** Decodes the 32 bytes of a hello that must come from `from`. */
export function decodeHello(b: Buffer, from: Role): Hello {
  if (b.length !== HELLO_BYTES) throw frameError(`hello has ${b.length} bytes, expected ${HELLO_BYTES}`);
  const magic = b.readUInt32LE(0);
  if (magic !== HELLO_MAGIC) {
    throw frameError(
      `bad hello magic ${hex(magic, 8)} (expected ${hex(HELLO_MAGIC, 8)}): not a tee-offload peer`,
    );
  }
  const version = b.readUInt16LE(4);
  if (version !== PROTOCOL_VERSION) {
    throw frameError(`peer speaks protocol version ${version}, this side speaks ${PROTOCOL_VERSION}`);
  }
  const roleId = b.readUInt8(6);
  if (roleId !== ROLE_IDS[from]) throw frameError(`hello role ${roleId} is not ${ROLE_IDS[from]} (${from})`);
  if (b.readUInt8(7) !== 0) throw frameError('hello reserved bytes are not zero');
  const cacheMiB = b.readUInt32LE(28);
  if (from === 'client' && cacheMiB !== 0) throw frameError('a client hello announces a cache');
  if (cacheMiB > 2 ** 22) throw frameError(`hello announces a cache of ${cacheMiB} MiB, over 4 TiB`);
  const maxFrameBytes = readU64(b, 8);
  if (maxFrameBytes < 1024 || maxFrameBytes > MAX_FRAME_BYTES_LIMIT) {
    throw frameError(
      `hello announces a frame limit of ${maxFrameBytes} bytes, outside [1024, ${MAX_FRAME_BYTES_LIMIT}]`,
    );
  }
  const maxRank = b.readUInt32LE(16);
  if (maxRank !== MAX_RANK) throw frameError(`hello announces max rank ${maxRank}, expected ${MAX_RANK}`);
  const maxDim = b.readUInt32LE(20);
  if (maxDim < 1 || maxDim > 2 ** 31 - 1) throw frameError(`hello announces max dimension ${maxDim}`);
  const capabilities = b.readUInt32LE(24);
  if ((capabilities & ~KNOWN_CAPS) !== 0) {
    throw frameError(`hello announces unknown capabilities ${hex(capabilities, 8)}`);
  }
  return {
    version,
    role: from,
    maxFrameBytes,
    maxRank,
    maxDim,
    capabilities,
    ...(from === 'accelerator' ? { cacheMiB } : {}),
  };
}

// header: magic u16 | version u8 | type u8 | request id u32 | payload length u64
export function encodeHeader(type: FrameType, id: number, length: number): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt16LE(FRAME_MAGIC, 0);
  b.writeUInt8(PROTOCOL_VERSION, 2);
  b.writeUInt8(type, 3);
  b.writeUInt32LE(id >>> 0, 4);
  writeU64(b, 8, length);
  return b;
}

/** Validates a header against the largest payload this side accepts (checked before any allocation). */
export function decodeHeader(b: Buffer, offset: number, maxPayloadBytes: number): FrameHeader {
  const magic = b.readUInt16LE(offset);
  if (magic !== FRAME_MAGIC)
    throw frameError(`bad frame magic ${hex(magic, 4)} (expected ${hex(FRAME_MAGIC, 4)})`);
  const version = b.readUInt8(offset + 2);
  if (version !== PROTOCOL_VERSION) {
    throw frameError(`frame of protocol version ${version}, this side speaks ${PROTOCOL_VERSION}`);
  }
  const type = b.readUInt8(offset + 3);
  if (type !== FrameType.request && type !== FrameType.result && type !== FrameType.error) {
    throw frameError(`unknown frame type ${type}`);
  }
  const id = b.readUInt32LE(offset + 4);
  const length = readU64(b, offset + 8);
  if (length > maxPayloadBytes) {
    throw frameError(`frame payload of ${length} bytes exceeds the limit of ${maxPayloadBytes} bytes`);
  }
  return { type: type as FrameType, id, length };
}

/** A u64 as a number: exact below 2^53, and above it still larger than every limit it is checked against. */
export function readU64(b: Buffer, offset: number): number {
  return b.readUInt32LE(offset + 4) * 2 ** 32 + b.readUInt32LE(offset);
}

export function writeU64(b: Buffer, offset: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError(`u64 field must be a safe integer >= 0, got ${n}`);
  b.writeUInt32LE(n % 2 ** 32, offset);
  b.writeUInt32LE(Math.floor(n / 2 ** 32), offset + 4);
}
