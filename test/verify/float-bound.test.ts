// The float check's cheap |·| bounds (float-bound.ts): at every folded element they lie at or above the exact
// T = |A|·(|B|·1) that the tolerance needs, they are the documented formula (a naive evaluation, position by
// position, agrees), they stay close to T on layer-like data, and the check still accepts honest products
// and refuses lies with them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels } from '../../src/kernels/index.js';
import { LocalLinearOps } from '../../src/kernels/local-linear-ops.js';
import { SeededRng } from '../../src/tensor/seeded-rng.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { CryptoRng } from '../../src/verify/crypto-rng.js';
import {
  gradWeightBound,
  gradWeightBoundPays,
  tapMaxBound,
  tapMaxPays,
} from '../../src/verify/float-bound.js';
import { freivaldsFloat } from '../../src/verify/freivalds-float.js';
import { type ConvGeometry, productGeometry } from '../../src/verify/product-geometry.js';

type Op = 'conv2d' | 'conv2dGradInput' | 'conv2dGradWeight';

interface Dims {
  n: number;
  c: number;
  h: number;
  w: number;
  o: number;
  k: number;
  s: number;
  pad: number;
}

function geometry(op: Op, d: Dims): ConvGeometry {
  const oh = Math.floor((d.h + 2 * d.pad - d.k) / d.s) + 1;
  const ow = Math.floor((d.w + 2 * d.pad - d.k) / d.s) + 1;
  if (op === 'conv2d') {
    return productGeometry(op, [d.n, d.c, d.h, d.w], [d.o, d.c, d.k, d.k], {
      stride: d.s,
      padding: d.pad,
    }) as ConvGeometry;
  }
  if (op === 'conv2dGradInput') {
    return productGeometry(op, [d.n, d.o, oh, ow], [d.o, d.c, d.k, d.k], {
      stride: d.s,
      padding: d.pad,
      inputHW: [d.h, d.w],
    }) as ConvGeometry;
  }
  return productGeometry(op, [d.n, d.o, oh, ow], [d.n, d.c, d.h, d.w], {
    stride: d.s,
    padding: d.pad,
    k: d.k,
  }) as ConvGeometry;
}

/** Values over six orders of magnitude, a fifth of them exact zeros (ReLU-like). */
function data(count: number, rng: SeededRng): Float32Array {
  const v = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    v[i] = rng.nextInt(5) === 0 ? 0 : (rng.nextFloat() * 2 - 1) * 10 ** (6 * rng.nextFloat() - 3);
  }
  return v;
}

// ---- naive float64 references, one position at a time ----

/** Every (result position, input position, tap) triple of a convolution, forward indexing. */
function forEachTap(
  g: ConvGeometry,
  f: (oy: number, ox: number, iy: number, ix: number, kh: number, kw: number) => void,
): void {
  for (let oy = 0; oy < g.oh; oy++)
    for (let ox = 0; ox < g.ow; ox++)
      for (let kh = 0; kh < g.k; kh++)
        for (let kw = 0; kw < g.k; kw++) {
          const iy = oy * g.stride + kh - g.padding;
          const ix = ox * g.stride + kw - g.padding;
          if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w) f(oy, ox, iy, ix, kh, kw);
        }
}

/** wabs [ch, k²] summed over the folded channels, and each channel's largest tap. */
function tapWeights(g: ConvGeometry, w: Float32Array, fwd: boolean): { wabs: Float64Array; m: Float64Array } {
  const kk = g.k * g.k;
  const chans = fwd ? g.c : g.o;
  const wabs = new Float64Array(chans * kk);
  for (let o = 0; o < g.o; o++)
    for (let c = 0; c < g.c; c++)
      for (let t = 0; t < kk; t++) wabs[(fwd ? c : o) * kk + t]! += Math.abs(w[(o * g.c + c) * kk + t]!);
  const m = new Float64Array(chans);
  for (let ch = 0; ch < chans; ch++)
    for (let t = 0; t < kk; t++) m[ch] = Math.max(m[ch]!, wabs[ch * kk + t]!);
  return { wabs, m };
}

/** T and the tap-max bound of a forward or grad-input product, naively: [n, result plane]. */
function naiveTapMax(
  g: ConvGeometry,
  a: Float32Array,
  w: Float32Array,
): { t: Float64Array; bound: Float64Array } {
  const fwd = g.op === 'conv2d';
  const { wabs, m } = tapWeights(g, w, fwd);
  const kk = g.k * g.k;
  const plane = fwd ? g.oh * g.ow : g.h * g.w;
  const t = new Float64Array(g.n * plane);
  const bound = new Float64Array(g.n * plane);
  const chans = fwd ? g.c : g.o;
  for (let b = 0; b < g.n; b++) {
    forEachTap(g, (oy, ox, iy, ix, kh, kw) => {
      for (let ch = 0; ch < chans; ch++) {
        // Forward: result (oy, ox) reads x[ch](iy, ix). Grad-input: dx(iy, ix) reads dy[ch](oy, ox).
        const v = fwd
          ? Math.abs(a[((b * g.c + ch) * g.h + iy) * g.w + ix]!)
          : Math.abs(a[((b * g.o + ch) * g.oh + oy) * g.ow + ox]!);
        const at = fwd ? b * plane + oy * g.ow + ox : b * plane + iy * g.w + ix;
        t[at]! += v * wabs[ch * kk + kh * g.k + kw]!;
        bound[at]! += v * m[ch]!;
      }
    });
  }
  return { t, bound };
}

/** T and the phase-split window bound of a weight gradient, naively: [c·k²] (before its inflation). */
function naiveGradWeight(
  g: ConvGeometry,
  dy: Float32Array,
  x: Float32Array,
): { t: Float64Array; bound: Float64Array } {
  const kk = g.k * g.k;
  const d = new Float64Array(g.n * g.oh * g.ow);
  for (let b = 0; b < g.n; b++)
    for (let o = 0; o < g.o; o++)
      for (let q = 0; q < g.oh * g.ow; q++)
        d[b * g.oh * g.ow + q]! += Math.abs(dy[(b * g.o + o) * g.oh * g.ow + q]!);
  // Dmax[b, iy, ix]: the largest D over the result positions whose window covers (iy, ix).
  const dmax = new Float64Array(g.n * g.h * g.w);
  const t = new Float64Array(g.c * kk);
  for (let b = 0; b < g.n; b++) {
    forEachTap(g, (oy, ox, iy, ix, kh, kw) => {
      const dv = d[(b * g.oh + oy) * g.ow + ox]!;
      const at = (b * g.h + iy) * g.w + ix;
      dmax[at] = Math.max(dmax[at]!, dv);
      for (let c = 0; c < g.c; c++) {
        t[c * kk + kh * g.k + kw]! += dv * Math.abs(x[((b * g.c + c) * g.h + iy) * g.w + ix]!);
      }
    });
  }
  const s = g.stride;
  const mod = (v: number): number => ((v % s) + s) % s;
  const bound = new Float64Array(g.c * kk);
  for (let c = 0; c < g.c; c++)
    for (let kh = 0; kh < g.k; kh++)
      for (let kw = 0; kw < g.k; kw++) {
        let sum = 0;
        for (let b = 0; b < g.n; b++)
          for (let iy = 0; iy < g.h; iy++)
            for (let ix = 0; ix < g.w; ix++) {
              if (mod(iy) !== mod(kh - g.padding) || mod(ix) !== mod(kw - g.padding)) continue;
              sum += dmax[(b * g.h + iy) * g.w + ix]! * Math.abs(x[((b * g.c + c) * g.h + iy) * g.w + ix]!);
            }
        bound[c * kk + kh * g.k + kw] = sum;
      }
  return { t, bound };
}

function randomDims(rng: SeededRng): Dims {
  const d = (lo: number, hi: number): number => lo + rng.nextInt(hi - lo + 1);
  for (;;) {
    const k = [1, 2, 3, 5, 7][rng.nextInt(5)]!;
    const dims = {
      n: d(1, 3),
      c: d(1, 20),
      h: d(1, 13),
      w: d(1, 13),
      o: d(1, 20),
      k,
      s: d(1, 3),
      pad: d(0, k - 1),
    };
    if (dims.h + 2 * dims.pad >= k && dims.w + 2 * dims.pad >= k) return dims;
  }
}

function assertBound(
  what: string,
  bound: Float64Array,
  t: Float64Array,
  naive: Float64Array,
  inflate = 1,
): void {
  assert.equal(bound.length, t.length, `${what}: length`);
  for (let i = 0; i < t.length; i++) {
    // At or above T (the exact |·| sum); the same value as the formula evaluated naively.
    assert.ok(bound[i]! >= t[i]! * (1 - 1e-12), `${what}: element ${i}: bound ${bound[i]} below T ${t[i]}`);
    const want = naive[i]! * inflate;
    assert.ok(
      Math.abs(bound[i]! - want) <= 1e-12 * Math.max(Math.abs(want), 1e-300),
      `${what}: element ${i}: ${bound[i]}, the formula gives ${want}`,
    );
  }
}

describe('float check |·| bounds', () => {
  it('the tap-max bound of forward and grad-input products lies above T and is the formula (300 geometries)', () => {
    const rng = new SeededRng(71);
    for (let t = 0; t < 300; t++) {
      const d = randomDims(rng);
      for (const op of ['conv2d', 'conv2dGradInput'] as const) {
        const g = geometry(op, d);
        const a = data(op === 'conv2d' ? d.n * d.c * d.h * d.w : d.n * d.o * g.oh * g.ow, rng);
        const w = data(d.o * d.c * d.k * d.k, rng);
        const naive = naiveTapMax(g, a, w);
        assertBound(`${op} #${t} ${JSON.stringify(d)}`, tapMaxBound(g, a, w), naive.t, naive.bound);
      }
    }
  });

  it('the weight-gradient bound lies above T at every tap and is the formula, phase by phase (300 geometries)', () => {
    const rng = new SeededRng(72);
    for (let t = 0; t < 300; t++) {
      const d = randomDims(rng);
      const g = geometry('conv2dGradWeight', d);
      const dy = data(d.n * d.o * g.oh * g.ow, rng);
      const x = data(d.n * d.c * d.h * d.w, rng);
      const naive = naiveGradWeight(g, dy, x);
      const inflate = 1 + (d.n * d.h * d.w + d.o + 4) * 2 ** -51;
      assertBound(
        `conv2dGradWeight #${t} ${JSON.stringify(d)}`,
        gradWeightBound(g, dy, x),
        naive.t,
        naive.bound,
        inflate,
      );
    }
  });

  it('stays within 1.3× of T (median) on layer-like data: 64 channels, 3×3, stride 1 and 2', () => {
    const rng = new SeededRng(73);
    const layer = (n: number, scale: number): Float32Array => {
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = Math.max(0, rng.nextFloat() * 2 - 1) * scale;
      return v;
    };
    const weights = (n: number): Float32Array => {
      const v = new Float32Array(n);
      for (let i = 0; i < n; i++) v[i] = (rng.nextFloat() * 2 - 1) * 0.06;
      return v;
    };
    for (const s of [1, 2]) {
      const d = { n: 2, c: 64, h: 16, w: 16, o: 64, k: 3, s, pad: 1 };
      for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
        const g = geometry(op, d);
        let ratios: number[];
        if (op === 'conv2dGradWeight') {
          const dy = weights(d.n * d.o * g.oh * g.ow);
          const x = layer(d.n * d.c * d.h * d.w, 1);
          assert.ok(gradWeightBoundPays(g));
          const b = gradWeightBound(g, dy, x);
          const { t } = naiveGradWeight(g, dy, x);
          ratios = Array.from(t, (v, i) => b[i]! / v);
        } else {
          const a = layer(op === 'conv2d' ? d.n * d.c * d.h * d.w : d.n * d.o * g.oh * g.ow, 1);
          const w = weights(d.o * d.c * 9);
          assert.ok(tapMaxPays(g));
          const b = tapMaxBound(g, a, w);
          const { t } = naiveTapMax(g, a, w);
          ratios = Array.from(t, (v, i) => (v > 0 ? b[i]! / v : 1));
        }
        ratios.sort((x, y) => x - y);
        const median = ratios[ratios.length >> 1]!;
        assert.ok(median >= 1 && median < 1.3, `${op} stride ${s}: median bound/T ${median}`);
      }
    }
  });

  it('the check with the bounds accepts honest products and refuses a lie far above rounding, as the full one does', async () => {
    const rng = new SeededRng(74);
    const crng = new CryptoRng();
    const ops = new LocalLinearOps(kernels);
    const d = { n: 2, c: 24, h: 10, w: 10, o: 20, k: 3, s: 2, pad: 1 };
    for (const op of ['conv2d', 'conv2dGradInput', 'conv2dGradWeight'] as const) {
      const g = geometry(op, d);
      const p = { stride: d.s, padding: d.pad };
      let a: Float32Array;
      let b: Float32Array;
      let y: Float32Array;
      if (op === 'conv2d') {
        a = data(d.n * d.c * d.h * d.w, rng);
        b = data(d.o * d.c * 9, rng);
        y = (await ops.conv2d(new Tensor([d.n, d.c, d.h, d.w], a), new Tensor([d.o, d.c, 3, 3], b), p)).data;
      } else if (op === 'conv2dGradInput') {
        a = data(d.n * d.o * g.oh * g.ow, rng);
        b = data(d.o * d.c * 9, rng);
        y = (
          await ops.conv2dGradInput(
            new Tensor([d.n, d.o, g.oh, g.ow], a),
            new Tensor([d.o, d.c, 3, 3], b),
            p,
            [d.h, d.w],
          )
        ).data;
      } else {
        a = data(d.n * d.o * g.oh * g.ow, rng);
        b = data(d.n * d.c * d.h * d.w, rng);
        y = (
          await ops.conv2dGradWeight(
            new Tensor([d.n, d.o, g.oh, g.ow], a),
            new Tensor([d.n, d.c, d.h, d.w], b),
            p,
            3,
          )
        ).data;
      }
      for (const bound of ['tap-max', 'full'] as const) {
        const honest = freivaldsFloat(g, a, b, y, { rng: crng, bound });
        assert.ok(honest.ok, `${op} ${bound}: ${honest.reason}`);
      }
      // A lie far above the rounding allowance: every element moved by 10^3 × its own magnitude (plus 1).
      const lie = y.slice();
      for (let i = 0; i < lie.length; i++) lie[i] = lie[i]! + 1000 * Math.abs(lie[i]!) + 1;
      for (const bound of ['tap-max', 'full'] as const) {
        assert.equal(freivaldsFloat(g, a, b, lie, { rng: crng, bound }).ok, false, `${op} ${bound}`);
      }
    }
  });

  it('refuses an unknown bound and a product it does not bound', () => {
    const g = geometry('conv2d', { n: 1, c: 16, h: 4, w: 4, o: 2, k: 3, s: 1, pad: 1 });
    const a = new Float32Array(16 * 16);
    const w = new Float32Array(2 * 16 * 9);
    const y = new Float32Array(2 * 16);
    assert.throws(
      () => freivaldsFloat(g, a, w, y, { rng: new CryptoRng(), bound: 'loose' as 'full' }),
      /bound must be 'tap-max' or 'full'/,
    );
    assert.throws(() => gradWeightBound(g, a, w), /no bound for conv2d/);
    const gw = geometry('conv2dGradWeight', { n: 1, c: 16, h: 4, w: 4, o: 2, k: 3, s: 1, pad: 1 });
    assert.throws(() => tapMaxBound(gw, a, w), /no bound for conv2dGradWeight/);
  });
});
