// BigInt evaluations of the Freivalds-check primitives' definitions (native/verify_kernels.h), for the
// native kernel tests: exact results mod p for any integer inputs (int32 operands, residues as float64).
import { convOut } from '../../src/verify/product-geometry.js';

export function mod(v: bigint, p: number): number {
  const r = v % BigInt(p);
  return Number(r < 0n ? r + BigInt(p) : r);
}

export function foldRef(
  batch: number,
  rows: number,
  cols: number,
  reps: number,
  a: ArrayLike<number>,
  r: ArrayLike<number>,
  p: number,
): number[] {
  const out: number[] = [];
  for (let b = 0; b < batch; b++)
    for (let j = 0; j < reps; j++)
      for (let c = 0; c < cols; c++) {
        let s = 0n;
        for (let q = 0; q < rows; q++) s += BigInt(r[j * rows + q]!) * BigInt(a[(b * rows + q) * cols + c]!);
        out.push(mod(s, p));
      }
  return out;
}

export function matvecsRef(
  m: number,
  kk: number,
  reps: number,
  a: ArrayLike<number>,
  u: ArrayLike<number>,
  p: number,
): number[] {
  const out: number[] = [];
  for (let j = 0; j < reps; j++)
    for (let i = 0; i < m; i++) {
      let s = 0n;
      for (let l = 0; l < kk; l++) s += BigInt(a[i * kk + l]!) * BigInt(u[j * kk + l]!);
      out.push(mod(s, p));
    }
  return out;
}

export interface Dims {
  n: number;
  c: number;
  h: number;
  w: number;
  k: number;
  stride: number;
  padding: number;
}

// x [n,c,h,w], wf [reps,c,k,k] → [n,reps,oh,ow]
export function convRef(
  g: Dims,
  reps: number,
  x: ArrayLike<number>,
  wf: ArrayLike<number>,
  p: number,
): number[] {
  const oh = convOut(g.h, g.k, g.stride, g.padding);
  const ow = convOut(g.w, g.k, g.stride, g.padding);
  const out: number[] = [];
  for (let n = 0; n < g.n; n++)
    for (let j = 0; j < reps; j++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++) {
          let s = 0n;
          for (let c = 0; c < g.c; c++)
            for (let ky = 0; ky < g.k; ky++)
              for (let kx = 0; kx < g.k; kx++) {
                const iy = oy * g.stride - g.padding + ky;
                const ix = ox * g.stride - g.padding + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                s +=
                  BigInt(x[((n * g.c + c) * g.h + iy) * g.w + ix]!) *
                  BigInt(wf[((j * g.c + c) * g.k + ky) * g.k + kx]!);
              }
          out.push(mod(s, p));
        }
  return out;
}

// dy [n,c,oh,ow] (c = O), wg [c,reps,k,k] → [n,reps,h,w]
export function convTRef(
  g: Dims,
  reps: number,
  dy: ArrayLike<number>,
  wg: ArrayLike<number>,
  p: number,
): number[] {
  const oh = convOut(g.h, g.k, g.stride, g.padding);
  const ow = convOut(g.w, g.k, g.stride, g.padding);
  const acc = new Array<bigint>(g.n * reps * g.h * g.w).fill(0n);
  for (let n = 0; n < g.n; n++)
    for (let o = 0; o < g.c; o++)
      for (let oy = 0; oy < oh; oy++)
        for (let ox = 0; ox < ow; ox++)
          for (let j = 0; j < reps; j++)
            for (let ky = 0; ky < g.k; ky++)
              for (let kx = 0; kx < g.k; kx++) {
                const iy = oy * g.stride - g.padding + ky;
                const ix = ox * g.stride - g.padding + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                acc[((n * reps + j) * g.h + iy) * g.w + ix]! +=
                  BigInt(dy[((n * g.c + o) * oh + oy) * ow + ox]!) *
                  BigInt(wg[((o * reps + j) * g.k + ky) * g.k + kx]!);
              }
  return acc.map((v) => mod(v, p));
}

// dyf [n,reps,oh,ow], x [n,c,h,w] → [reps,c,k,k]
export function convWRef(
  g: Dims,
  reps: number,
  dyf: ArrayLike<number>,
  x: ArrayLike<number>,
  p: number,
): number[] {
  const oh = convOut(g.h, g.k, g.stride, g.padding);
  const ow = convOut(g.w, g.k, g.stride, g.padding);
  const out: number[] = [];
  for (let j = 0; j < reps; j++)
    for (let c = 0; c < g.c; c++)
      for (let ky = 0; ky < g.k; ky++)
        for (let kx = 0; kx < g.k; kx++) {
          let s = 0n;
          for (let n = 0; n < g.n; n++)
            for (let oy = 0; oy < oh; oy++)
              for (let ox = 0; ox < ow; ox++) {
                const iy = oy * g.stride - g.padding + ky;
                const ix = ox * g.stride - g.padding + kx;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                s +=
                  BigInt(dyf[((n * reps + j) * oh + oy) * ow + ox]!) *
                  BigInt(x[((n * g.c + c) * g.h + iy) * g.w + ix]!);
              }
          out.push(mod(s, p));
        }
  return out;
}

export const GEOMS: Dims[] = [
  { n: 2, c: 3, h: 5, w: 7, k: 3, stride: 1, padding: 1 },
  { n: 1, c: 2, h: 8, w: 6, k: 3, stride: 2, padding: 1 },
  { n: 2, c: 1, h: 4, w: 4, k: 1, stride: 2, padding: 0 },
  { n: 1, c: 2, h: 9, w: 9, k: 5, stride: 2, padding: 2 },
  { n: 1, c: 1, h: 3, w: 3, k: 3, stride: 1, padding: 0 },
  // Strided geometries, computed through their polyphase (stride-1) forms: ResNet's stem, AlexNet's first
  // layer, kernels smaller than the stride, an even kernel, rows past the 16-column blocks with a tail.
  { n: 1, c: 2, h: 23, w: 21, k: 7, stride: 2, padding: 3 },
  { n: 2, c: 1, h: 19, w: 23, k: 11, stride: 4, padding: 2 },
  { n: 1, c: 3, h: 17, w: 18, k: 1, stride: 3, padding: 0 },
  { n: 1, c: 2, h: 13, w: 14, k: 2, stride: 3, padding: 1 },
  { n: 2, c: 2, h: 20, w: 37, k: 3, stride: 2, padding: 1 },
  { n: 1, c: 3, h: 9, w: 10, k: 4, stride: 2, padding: 2 },
  { n: 1, c: 1, h: 7, w: 7, k: 5, stride: 3, padding: 0 },
];

/** The strided ones among GEOMS. */
export const STRIDED_GEOMS: Dims[] = GEOMS.filter((g) => g.stride > 1);
