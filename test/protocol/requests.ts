// Shared by the protocol and accelerator tests: small random requests for every op and arith (seeded),
// and frame helpers.

import { PROTOCOL_VERSION } from '../../src/protocol/limits.js';
import { HALF_P } from '../../src/protocol/linear-codec.js';
import type { Arith, LinearOpName, LinearRequest, WireTensor } from '../../src/protocol/linear-request.js';
import { LINEAR_OPS } from '../../src/protocol/linear-request.js';
import type { SeededRng } from '../../src/tensor/seeded-rng.js';

export const ARITHS: readonly Arith[] = ['f32', 'modp', 'wide'];

export function tensor(rng: SeededRng, shape: number[], arith: Arith, extremes = 0): WireTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (arith === 'f32') {
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) data[i] = 2 * rng.nextFloat() - 1;
    return { shape, data };
  }
  // modp and wide operands alike: centered representatives.
  const data = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    // A fraction `extremes` of the values sit at ±(p−1)/2, the worst case for the exactness bound.
    if (rng.nextFloat() < extremes) data[i] = rng.nextInt(2) === 0 ? HALF_P : -HALF_P;
    else data[i] = rng.nextInt(2 * HALF_P + 1) - HALF_P;
  }
  return { shape, data };
}

export interface Dims {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  k: number;
  stride: number;
  padding: number;
  i: number;
}

export function convOut(size: number, k: number, s: number, p: number): number {
  return Math.floor((size + 2 * p - k) / s) + 1;
}

/** A request of `op` with these dimensions (dense ops use n, i, o; conv ops the rest). */
export function makeRequest(
  rng: SeededRng,
  op: LinearOpName,
  arith: Arith,
  d: Dims,
  extremes = 0,
): LinearRequest {
  const t = (shape: number[]) => tensor(rng, shape, arith, extremes);
  const oh = convOut(d.h, d.k, d.stride, d.padding);
  const ow = convOut(d.w, d.k, d.stride, d.padding);
  const conv = { stride: d.stride, padding: d.padding };
  switch (op) {
    case 'dense':
      return { op, arith, a: t([d.n, d.i]), b: t([d.o, d.i]) };
    case 'denseGradInput':
      return { op, arith, a: t([d.n, d.o]), b: t([d.o, d.i]) };
    case 'denseGradWeight':
      return { op, arith, a: t([d.n, d.o]), b: t([d.n, d.i]) };
    case 'conv2d':
      return { op, arith, a: t([d.n, d.c, d.h, d.w]), b: t([d.o, d.c, d.k, d.k]), ...conv };
    case 'conv2dGradInput':
      return {
        op,
        arith,
        a: t([d.n, d.o, oh, ow]),
        b: t([d.o, d.c, d.k, d.k]),
        ...conv,
        inputHW: [d.h, d.w],
      };
    case 'conv2dGradWeight':
      return { op, arith, a: t([d.n, d.o, oh, ow]), b: t([d.n, d.c, d.h, d.w]), ...conv, k: d.k };
  }
}

export function randomDims(rng: SeededRng): Dims {
  const r = (lo: number, hi: number) => lo + rng.nextInt(hi - lo + 1);
  const k = r(1, 3);
  return {
    n: r(1, 3),
    c: r(1, 3),
    h: r(k, 6),
    w: r(k, 6),
    o: r(1, 4),
    k,
    stride: r(1, 2),
    padding: r(0, 1),
    i: r(1, 5),
  };
}

export function randomRequest(rng: SeededRng): LinearRequest {
  const op = LINEAR_OPS[rng.nextInt(LINEAR_OPS.length)]!;
  const arith = ARITHS[rng.nextInt(ARITHS.length)]!;
  return makeRequest(rng, op, arith, randomDims(rng));
}

export function concat(parts: Buffer[]): Buffer {
  return Buffer.concat(parts);
}

/** A request payload written field by field with no validation (to send what a client never would). */
export function rawRequestPayload(req: LinearRequest): Buffer {
  const parts: Buffer[] = [];
  const fixed = Buffer.alloc(32);
  fixed.writeUInt8(LINEAR_OPS.indexOf(req.op), 0);
  fixed.writeUInt8(ARITHS.indexOf(req.arith), 1);
  fixed.writeUInt32LE(req.stride ?? 0, 4);
  fixed.writeUInt32LE(req.padding ?? 0, 8);
  fixed.writeUInt32LE(req.inputHW?.[0] ?? 0, 12);
  fixed.writeUInt32LE(req.inputHW?.[1] ?? 0, 16);
  fixed.writeUInt32LE(req.k ?? 0, 20);
  parts.push(fixed);
  for (const t of [req.a, req.b]) {
    const h = Buffer.alloc(12 + 4 * t.shape.length);
    h.writeUInt8(t.shape.length, 0);
    h.writeUInt8(t.data instanceof Float32Array ? 1 : 2, 1);
    t.shape.forEach((d, i) => {
      h.writeUInt32LE(d, 4 + 4 * i);
    });
    h.writeUInt32LE(t.data.byteLength, 4 + 4 * t.shape.length);
    parts.push(h, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return Buffer.concat(parts);
}

/** A whole request frame around a raw payload. */
export function rawRequestFrame(id: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(0x4654, 0);
  h.writeUInt8(PROTOCOL_VERSION, 2);
  h.writeUInt8(1, 3);
  h.writeUInt32LE(id, 4);
  h.writeUInt32LE(payload.length, 8);
  return Buffer.concat([h, payload]);
}
