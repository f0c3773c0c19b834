// A naive, independent reference for the six products, written from the definitions and sharing no code
// with the native kernels: modulo p (centered representatives in and out, float64 with a reduction every
// 64 terms: |term| < 2^46 for p ≤ 2^24, so 64 of them and a reduced partial sum stay below 2^53 and every
// step is exact), or plainly in float64. Used by the in-process test transport and the quantization tests.
import { centered } from '../../src/verify/field.js';
import { convOut, type LinearOpKind, type ProductParams } from '../../src/verify/product-geometry.js';

interface Acc {
  add(a: number, b: number): void;
  value(): number;
}

class ModpAcc implements Acc {
  private s = 0;
  private n = 0;
  constructor(private readonly p: number) {}
  add(a: number, b: number): void {
    this.s += a * b;
    if (++this.n === 64) {
      this.s %= this.p;
      this.n = 0;
    }
  }
  value(): number {
    return centered(this.s % this.p, this.p);
  }
}

class FloatAcc implements Acc {
  private s = 0;
  add(a: number, b: number): void {
    this.s += a * b;
  }
  value(): number {
    return this.s;
  }
}

/** y = op(a, b) mod p, shapes as in protocol/linear-request.ts. */
export function modpReference(
  op: LinearOpKind,
  a: { shape: readonly number[]; data: Int32Array },
  b: { shape: readonly number[]; data: Int32Array },
  params: ProductParams,
  p: number,
): { shape: number[]; data: Int32Array } {
  const y = product(op, a, b, params, () => new ModpAcc(p));
  return { shape: y.shape, data: Int32Array.from(y.data) };
}

/** y = op(a, b) in float64 (sums in index order). */
export function floatReference(
  op: LinearOpKind,
  a: { shape: readonly number[]; data: ArrayLike<number> },
  b: { shape: readonly number[]; data: ArrayLike<number> },
  params: ProductParams,
): { shape: number[]; data: Float64Array } {
  return product(op, a, b, params, () => new FloatAcc());
}

function product(
  op: LinearOpKind,
  a: { shape: readonly number[]; data: ArrayLike<number> },
  b: { shape: readonly number[]; data: ArrayLike<number> },
  params: ProductParams,
  makeAcc: () => Acc,
): { shape: number[]; data: Float64Array } {
  const A = a.data;
  const B = b.data;
  switch (op) {
    case 'dense': {
      const [n, i] = a.shape as [number, number];
      const [o] = b.shape as [number];
      const y = new Float64Array(n * o);
      for (let r = 0; r < n; r++)
        for (let c = 0; c < o; c++) {
          const acc = makeAcc();
          for (let l = 0; l < i; l++) acc.add(A[r * i + l]!, B[c * i + l]!);
          y[r * o + c] = acc.value();
        }
      return { shape: [n, o], data: y };
    }
    case 'denseGradInput': {
      const [n, o] = a.shape as [number, number];
      const i = b.shape[1]!;
      const y = new Float64Array(n * i);
      for (let r = 0; r < n; r++)
        for (let c = 0; c < i; c++) {
          const acc = makeAcc();
          for (let l = 0; l < o; l++) acc.add(A[r * o + l]!, B[l * i + c]!);
          y[r * i + c] = acc.value();
        }
      return { shape: [n, i], data: y };
    }
    case 'denseGradWeight': {
      const [n, o] = a.shape as [number, number];
      const i = b.shape[1]!;
      const y = new Float64Array(o * i);
      for (let r = 0; r < o; r++)
        for (let c = 0; c < i; c++) {
          const acc = makeAcc();
          for (let l = 0; l < n; l++) acc.add(A[l * o + r]!, B[l * i + c]!);
          y[r * i + c] = acc.value();
        }
      return { shape: [o, i], data: y };
    }
    case 'conv2d': {
      const [n, c, h, w] = a.shape as [number, number, number, number];
      const [o, , k] = b.shape as [number, number, number];
      const s = params.stride ?? 1;
      const pd = params.padding ?? 0;
      const oh = convOut(h, k, s, pd);
      const ow = convOut(w, k, s, pd);
      const y = new Float64Array(n * o * oh * ow);
      for (let b0 = 0; b0 < n; b0++)
        for (let oc = 0; oc < o; oc++)
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < ow; ox++) {
              const acc = makeAcc();
              for (let ic = 0; ic < c; ic++)
                for (let ky = 0; ky < k; ky++) {
                  const iy = oy * s - pd + ky;
                  if (iy < 0 || iy >= h) continue;
                  for (let kx = 0; kx < k; kx++) {
                    const ix = ox * s - pd + kx;
                    if (ix < 0 || ix >= w) continue;
                    acc.add(A[((b0 * c + ic) * h + iy) * w + ix]!, B[((oc * c + ic) * k + ky) * k + kx]!);
                  }
                }
              y[((b0 * o + oc) * oh + oy) * ow + ox] = acc.value();
            }
      return { shape: [n, o, oh, ow], data: y };
    }
    case 'conv2dGradInput': {
      const [n, o, oh, ow] = a.shape as [number, number, number, number];
      const [, c, k] = b.shape as [number, number, number];
      const [h, w] = params.inputHW!;
      const s = params.stride ?? 1;
      const pd = params.padding ?? 0;
      const y = new Float64Array(n * c * h * w);
      for (let b0 = 0; b0 < n; b0++)
        for (let ic = 0; ic < c; ic++)
          for (let iy = 0; iy < h; iy++)
            for (let ix = 0; ix < w; ix++) {
              const acc = makeAcc();
              for (let oc = 0; oc < o; oc++)
                for (let ky = 0; ky < k; ky++) {
                  const ty = iy + pd - ky;
                  if (ty < 0 || ty % s !== 0 || ty / s >= oh) continue;
                  for (let kx = 0; kx < k; kx++) {
                    const tx = ix + pd - kx;
                    if (tx < 0 || tx % s !== 0 || tx / s >= ow) continue;
                    acc.add(
                      A[((b0 * o + oc) * oh + ty / s) * ow + tx / s]!,
                      B[((oc * c + ic) * k + ky) * k + kx]!,
                    );
                  }
                }
              y[((b0 * c + ic) * h + iy) * w + ix] = acc.value();
            }
      return { shape: [n, c, h, w], data: y };
    }
    case 'conv2dGradWeight': {
      const [n, o, oh, ow] = a.shape as [number, number, number, number];
      const [, c, h, w] = b.shape as [number, number, number, number];
      const k = params.k!;
      const s = params.stride ?? 1;
      const pd = params.padding ?? 0;
      const y = new Float64Array(o * c * k * k);
      for (let oc = 0; oc < o; oc++)
        for (let ic = 0; ic < c; ic++)
          for (let ky = 0; ky < k; ky++)
            for (let kx = 0; kx < k; kx++) {
              const acc = makeAcc();
              for (let b0 = 0; b0 < n; b0++)
                for (let oy = 0; oy < oh; oy++) {
                  const iy = oy * s - pd + ky;
                  if (iy < 0 || iy >= h) continue;
                  for (let ox = 0; ox < ow; ox++) {
                    const ix = ox * s - pd + kx;
                    if (ix < 0 || ix >= w) continue;
                    acc.add(A[((b0 * o + oc) * oh + oy) * ow + ox]!, B[((b0 * c + ic) * h + iy) * w + ix]!);
                  }
                }
              y[((oc * c + ic) * k + ky) * k + kx] = acc.value();
            }
      return { shape: [o, c, k, k], data: y };
    }
  }
}
