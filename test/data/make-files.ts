// Small data files built in the tests: CIFAR-10 records, IDX arrays, ustar archives, temp folders.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export function tempDir(): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), 'tee-data-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The pixel byte j of record i in the generated CIFAR-10 files. */
export function cifarPixel(i: number, j: number): number {
  return (i * 31 + j * 7) & 0xff;
}

/** CIFAR-10 records with the given labels; record i's pixels follow cifarPixel(first + i, j). */
export function cifarRecords(labels: readonly number[], first = 0): Uint8Array {
  const out = new Uint8Array(labels.length * 3073);
  labels.forEach((label, i) => {
    out[i * 3073] = label;
    for (let j = 0; j < 3072; j++) out[i * 3073 + 1 + j] = cifarPixel(first + i, j);
  });
  return out;
}

/** An unsigned-byte IDX array: magic 0x0000080R, big-endian dims, then the data. */
export function idxBytes(dims: readonly number[], data: Uint8Array, magic = 0x800 + dims.length): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, k) => {
    view.setUint32(4 + 4 * k, d, false);
  });
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A ustar archive of regular files (with the two closing zero blocks). */
export function tarBytes(files: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of files) {
    const h = new Uint8Array(512);
    h.set(enc.encode(f.name), 0);
    h.set(enc.encode('0000644\0'), 100);
    h.set(enc.encode('0000000\0'), 108);
    h.set(enc.encode('0000000\0'), 116);
    h.set(enc.encode(`${f.data.length.toString(8).padStart(11, '0')}\0`), 124);
    h.set(enc.encode('00000000000\0'), 136);
    h[156] = 0x30;
    h.set(enc.encode('ustar\0'), 257);
    h.set(enc.encode('00'), 263);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    blocks.push(h);
    const body = new Uint8Array(Math.ceil(f.data.length / 512) * 512);
    body.set(f.data);
    blocks.push(body);
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** The six CIFAR-10 files with `perFile` records each, labels cycling 0..9. */
export function cifarFileSet(perFile: number): { name: string; data: Uint8Array }[] {
  const names = [
    'data_batch_1.bin',
    'data_batch_2.bin',
    'data_batch_3.bin',
    'data_batch_4.bin',
    'data_batch_5.bin',
    'test_batch.bin',
  ];
  return names.map((name, k) => ({
    name,
    data: cifarRecords(
      Array.from({ length: perFile }, (_, i) => (k * perFile + i) % 10),
      k * perFile,
    ),
  }));
}

/** gzip-compressed bytes as a plain Uint8Array. */
export function gzip(bytes: Uint8Array): Uint8Array {
  const b = gzipSync(bytes);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
