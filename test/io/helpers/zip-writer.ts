// Builds small ZIP archives for tests (stored or deflated entries, optional ZIP64 records), laid out
// as PyTorch writes them: data-descriptor flag set and zero sizes in the local headers.
import { deflateRawSync } from 'node:zlib';
import { crc32 } from '../../../src/io/crc32.js';

export interface ZipInput {
  readonly name: string;
  readonly data: Uint8Array;
  readonly deflate?: boolean;
}

class Out {
  private readonly parts: Uint8Array[] = [];
  length = 0;
  bytes(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.byteLength;
  }
  u16(v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.bytes(b);
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.bytes(b);
  }
  u64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), true);
    this.bytes(b);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
}

export function buildZip(
  entries: readonly ZipInput[],
  options: { zip64?: boolean; comment?: string } = {},
): Uint8Array {
  const out = new Out();
  const enc = new TextEncoder();
  const central: {
    name: Uint8Array;
    crc: number;
    csize: number;
    size: number;
    offset: number;
    method: number;
  }[] = [];
  for (const e of entries) {
    const name = enc.encode(e.name);
    const method = e.deflate ? 8 : 0;
    const body = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const offset = out.length;
    out.u32(0x04034b50);
    out.u16(20);
    out.u16(0x0808); // data descriptor + UTF-8, as PyTorch
    out.u16(method);
    out.u32(0); // time, date
    out.u32(0); // crc (in the descriptor)
    out.u32(0);
    out.u32(0);
    out.u16(name.byteLength);
    out.u16(0);
    out.bytes(name);
    out.bytes(body);
    const crc = crc32(e.data);
    out.u32(0x08074b50);
    out.u32(crc);
    out.u32(body.byteLength);
    out.u32(e.data.byteLength);
    central.push({ name, crc, csize: body.byteLength, size: e.data.byteLength, offset, method });
  }
  const cdOffset = out.length;
  for (const c of central) {
    out.u32(0x02014b50);
    out.u16(45);
    out.u16(45);
    out.u16(0x0808);
    out.u16(c.method);
    out.u32(0);
    out.u32(c.crc);
    out.u32(options.zip64 ? 0xffffffff : c.csize);
    out.u32(options.zip64 ? 0xffffffff : c.size);
    out.u16(c.name.byteLength);
    out.u16(options.zip64 ? 28 : 0);
    out.u16(0);
    out.u16(0);
    out.u16(0);
    out.u32(0);
    out.u32(options.zip64 ? 0xffffffff : c.offset);
    out.bytes(c.name);
    if (options.zip64) {
      out.u16(0x0001);
      out.u16(24);
      out.u64(c.size);
      out.u64(c.csize);
      out.u64(c.offset);
    }
  }
  const cdSize = out.length - cdOffset;
  if (options.zip64) {
    const z = out.length;
    out.u32(0x06064b50);
    out.u64(44);
    out.u16(45);
    out.u16(45);
    out.u32(0);
    out.u32(0);
    out.u64(central.length);
    out.u64(central.length);
    out.u64(cdSize);
    out.u64(cdOffset);
    out.u32(0x07064b50);
    out.u32(0);
    out.u64(z);
    out.u32(1);
  }
  const comment = enc.encode(options.comment ?? '');
  out.u32(0x06054b50);
  out.u16(0);
  out.u16(0);
  out.u16(options.zip64 ? 0xffff : central.length);
  out.u16(options.zip64 ? 0xffff : central.length);
  out.u32(options.zip64 ? 0xffffffff : cdSize);
  out.u32(options.zip64 ? 0xffffffff : cdOffset);
  out.u16(comment.byteLength);
  out.bytes(comment);
  return out.concat();
}
