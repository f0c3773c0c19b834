// Naive, obviously-correct TypeScript implementation of the Kernels contract (api.ts). Tests compare
// the native addon against it; it is never used for real work. Sums accumulate in float64; results are
// stored into the caller's float32 arrays. No argument validation: the native face does that.
import type { AdaptiveGeom, ChannelGeom, ConvGeom, KernelInfo, Kernels, PoolGeom } from './api.js';
import { convOutSize } from './api.js';

// c [m,n] = op(a)·op(b) + beta·c, shared by sgemm and dgemm.
function gemm(
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  kk: number,
  a: Float32Array | Float64Array,
  b: Float32Array | Float64Array,
  beta: number,
  c: Float32Array | Float64Array,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < kk; p++) {
        const av = transA ? a[p * m + i]! : a[i * kk + p]!;
        const bv = transB ? b[j * kk + p]! : b[p * n + j]!;
        s += av * bv;
      }
      c[i * n + j] = beta === 0 ? s : s + beta * c[i * n + j]!;
    }
  }
}

// x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow]
function conv2dForward(g: ConvGeom, x: Float32Array, w: Float32Array, y: Float32Array): void {
  const { n, c, h, w: wd, o, k, stride, padding } = g;
  const oh = convOutSize(h, k, stride, padding);
  const ow = convOutSize(wd, k, stride, padding);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          let s = 0;
          for (let ic = 0; ic < c; ic++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * stride - padding + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * stride - padding + kx;
                if (ix < 0 || ix >= wd) continue;
                s += x[((b * c + ic) * h + iy) * wd + ix]! * w[((oc * c + ic) * k + ky) * k + kx]!;
              }
            }
          }
          y[((b * o + oc) * oh + oy) * ow + ox] = s;
        }
      }
    }
  }
}

// dy [n,o,oh,ow], w [o,c,k,k] → dx [n,c,h,w]
function conv2dBackwardInput(g: ConvGeom, dy: Float32Array, w: Float32Array, dx: Float32Array): void {
  const { n, c, h, w: wd, o, k, stride, padding } = g;
  const oh = convOutSize(h, k, stride, padding);
  const ow = convOutSize(wd, k, stride, padding);
  const acc = new Float64Array(n * c * h * wd);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      for (let oy = 0; oy < oh; oy++) {
        for (let ox = 0; ox < ow; ox++) {
          const d = dy[((b * o + oc) * oh + oy) * ow + ox]!;
          for (let ic = 0; ic < c; ic++) {
            for (let ky = 0; ky < k; ky++) {
              const iy = oy * stride - padding + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < k; kx++) {
                const ix = ox * stride - padding + kx;
                if (ix < 0 || ix >= wd) continue;
                acc[((b * c + ic) * h + iy) * wd + ix]! += d * w[((oc * c + ic) * k + ky) * k + kx]!;
              }
            }
          }
        }
      }
    }
  }
  dx.set(acc);
}

// dy [n,o,oh,ow], x [n,c,h,w] → dw [o,c,k,k]
function conv2dBackwardWeight(g: ConvGeom, dy: Float32Array, x: Float32Array, dw: Float32Array): void {
  const { n, c, h, w: wd, o, k, stride, padding } = g;
  const oh = convOutSize(h, k, stride, padding);
  const ow = convOutSize(wd, k, stride, padding);
  for (let oc = 0; oc < o; oc++) {
    for (let ic = 0; ic < c; ic++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          let s = 0;
          for (let b = 0; b < n; b++) {
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * stride - padding + ky;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * stride - padding + kx;
                if (ix < 0 || ix >= wd) continue;
                s += dy[((b * o + oc) * oh + oy) * ow + ox]! * x[((b * c + ic) * h + iy) * wd + ix]!;
              }
            }
          }
          dw[((oc * c + ic) * k + ky) * k + kx] = s;
        }
      }
    }
  }
}

// x [n,c,h,w] → y [n,c,oh,ow], argmax [n,c,oh,ow] (offset in the h·w plane; first maximum wins, NaN
// propagates as in PyTorch)
function maxPool2dForward(g: PoolGeom, x: Float32Array, y: Float32Array, argmax: Int32Array): void {
  const { n, c, h, w, k, stride, padding } = g;
  const oh = convOutSize(h, k, stride, padding);
  const ow = convOutSize(w, k, stride, padding);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = Number.NEGATIVE_INFINITY;
        let idx = -1;
        for (let ky = 0; ky < k; ky++) {
          const iy = oy * stride - padding + ky;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < k; kx++) {
            const ix = ox * stride - padding + kx;
            if (ix < 0 || ix >= w) continue;
            const v = x[p * h * w + iy * w + ix]!;
            if (idx < 0 || v > best || Number.isNaN(v)) {
              best = v;
              idx = iy * w + ix;
            }
          }
        }
        y[(p * oh + oy) * ow + ox] = best;
        argmax[(p * oh + oy) * ow + ox] = idx;
      }
    }
  }
}

// dy [n,c,oh,ow], argmax → dx [n,c,h,w]
function maxPool2dBackward(g: PoolGeom, dy: Float32Array, argmax: Int32Array, dx: Float32Array): void {
  const { n, c, h, w, k, stride, padding } = g;
  const plane = convOutSize(h, k, stride, padding) * convOutSize(w, k, stride, padding);
  const acc = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < plane; i++) acc[p * h * w + argmax[p * plane + i]!]! += dy[p * plane + i]!;
  }
  dx.set(acc);
}

function binStart(i: number, size: number, out: number): number {
  return Math.floor((i * size) / out);
}
function binEnd(i: number, size: number, out: number): number {
  return Math.ceil(((i + 1) * size) / out);
}

// x [n,c,h,w] → y [n,c,oh,ow]
function adaptiveAvgPool2dForward(g: AdaptiveGeom, x: Float32Array, y: Float32Array): void {
  const { n, c, h, w, oh, ow } = g;
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = binStart(oy, h, oh);
      const y1 = binEnd(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = binStart(ox, w, ow);
        const x1 = binEnd(ox, w, ow);
        let s = 0;
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) s += x[p * h * w + iy * w + ix]!;
        y[(p * oh + oy) * ow + ox] = s / ((y1 - y0) * (x1 - x0));
      }
    }
  }
}

// dy [n,c,oh,ow] → dx [n,c,h,w]
function adaptiveAvgPool2dBackward(g: AdaptiveGeom, dy: Float32Array, dx: Float32Array): void {
  const { n, c, h, w, oh, ow } = g;
  const acc = new Float64Array(n * c * h * w);
  for (let p = 0; p < n * c; p++) {
    for (let oy = 0; oy < oh; oy++) {
      const y0 = binStart(oy, h, oh);
      const y1 = binEnd(oy, h, oh);
      for (let ox = 0; ox < ow; ox++) {
        const x0 = binStart(ox, w, ow);
        const x1 = binEnd(ox, w, ow);
        const d = dy[(p * oh + oy) * ow + ox]! / ((y1 - y0) * (x1 - x0));
        for (let iy = y0; iy < y1; iy++) for (let ix = x0; ix < x1; ix++) acc[p * h * w + iy * w + ix]! += d;
      }
    }
  }
  dx.set(acc);
}

// x [n,c,hw] → y; mean, variance (biased), invstd [c]
function batchNorm2dForwardTrain(
  g: ChannelGeom,
  x: Float32Array,
  weight: Float32Array | null,
  bias: Float32Array | null,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  invstd: Float32Array,
): void {
  const { n, c, hw } = g;
  const count = n * hw;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += x[(b * c + ch) * hw + i]!;
    const mu = s / count;
    let v = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const d = x[(b * c + ch) * hw + i]! - mu;
        v += d * d;
      }
    }
    v /= count;
    const is = 1 / Math.sqrt(v + eps);
    mean[ch] = mu;
    variance[ch] = v;
    invstd[ch] = is;
    const wv = weight ? weight[ch]! : 1;
    const bv = bias ? bias[ch]! : 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const j = (b * c + ch) * hw + i;
        y[j] = (x[j]! - mu) * is * wv + bv;
      }
    }
  }
}

// x [n,c,hw] → y with running statistics
function batchNorm2dForwardEval(
  g: ChannelGeom,
  x: Float32Array,
  weight: Float32Array | null,
  bias: Float32Array | null,
  runningMean: Float32Array,
  runningVar: Float32Array,
  eps: number,
  y: Float32Array,
): void {
  const { n, c, hw } = g;
  for (let ch = 0; ch < c; ch++) {
    const is = 1 / Math.sqrt(runningVar[ch]! + eps);
    const wv = weight ? weight[ch]! : 1;
    const bv = bias ? bias[ch]! : 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const j = (b * c + ch) * hw + i;
        y[j] = (x[j]! - runningMean[ch]!) * is * wv + bv;
      }
    }
  }
}

// dy, x [n,c,hw]; mean, invstd [c] → dx; dweight = Σ dy·x̂, dbias = Σ dy;
// dx = w·invstd·(dy − mean(dy) − x̂·mean(dy·x̂))
function batchNorm2dBackward(
  g: ChannelGeom,
  dy: Float32Array,
  x: Float32Array,
  weight: Float32Array | null,
  mean: Float32Array,
  invstd: Float32Array,
  dx: Float32Array,
  dweight: Float32Array | null,
  dbias: Float32Array | null,
): void {
  const { n, c, hw } = g;
  const count = n * hw;
  for (let ch = 0; ch < c; ch++) {
    const mu = mean[ch]!;
    const is = invstd[ch]!;
    let sdy = 0;
    let sdyx = 0;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const j = (b * c + ch) * hw + i;
        sdy += dy[j]!;
        sdyx += dy[j]! * (x[j]! - mu) * is;
      }
    }
    if (dbias) dbias[ch] = sdy;
    if (dweight) dweight[ch] = sdyx;
    const wv = weight ? weight[ch]! : 1;
    for (let b = 0; b < n; b++) {
      for (let i = 0; i < hw; i++) {
        const j = (b * c + ch) * hw + i;
        const xhat = (x[j]! - mu) * is;
        dx[j] = wv * is * (dy[j]! - sdy / count - (xhat * sdyx) / count);
      }
    }
  }
}

function reluForward(x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i] = Math.max(x[i]!, 0); // NaN propagates, as in torch.relu
}

function reluBackward(dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = x[i]! <= 0 ? 0 : dy[i]!;
}

// logits [n,k], labels [n] → mean loss; probs [n,k]
function crossEntropyForward(
  n: number,
  k: number,
  logits: Float32Array,
  labels: Int32Array,
  probs: Float32Array,
): number {
  let loss = 0;
  for (let i = 0; i < n; i++) {
    let mx = Number.NEGATIVE_INFINITY;
    for (let j = 0; j < k; j++) mx = Math.max(mx, logits[i * k + j]!);
    let s = 0;
    for (let j = 0; j < k; j++) s += Math.exp(logits[i * k + j]! - mx);
    const lse = mx + Math.log(s);
    for (let j = 0; j < k; j++) probs[i * k + j] = Math.exp(logits[i * k + j]! - lse);
    loss += lse - logits[i * k + labels[i]!]!;
  }
  return loss / n;
}

// dlogits [n,k] = scale·(probs − onehot(labels)) / n
function crossEntropyBackward(
  n: number,
  k: number,
  probs: Float32Array,
  labels: Int32Array,
  scale: number,
  dlogits: Float32Array,
): void {
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      const t = labels[i] === j ? 1 : 0;
      dlogits[i * k + j] = (scale * (probs[i * k + j]! - t)) / n;
    }
  }
}

function addChannelBias(g: ChannelGeom, y: Float32Array, bias: Float32Array): void {
  const { n, c, hw } = g;
  for (let b = 0; b < n; b++) {
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < hw; i++) y[(b * c + ch) * hw + i]! += bias[ch]!;
  }
}

function sumChannels(g: ChannelGeom, dy: Float32Array, out: Float32Array): void {
  const { n, c, hw } = g;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i < hw; i++) s += dy[(b * c + ch) * hw + i]!;
    out[ch]! += s;
  }
}

function axpy(a: number, x: Float32Array, y: Float32Array): void {
  for (let i = 0; i < x.length; i++) y[i]! += a * x[i]!;
}

// fma(a, b, c) rounded to float32: a·b of two float32 values is exact in float64, so only the final sum
// is rounded twice (float64, then float32), which differs from a true fused operation only in rare ties.
function fmaf(a: number, b: number, c: number): number {
  return Math.fround(a * b + c);
}

// torch.optim.SGD (dampening 0) with PyTorch's float32 rounding: `add(x, alpha=a)` is a fused multiply-add
// in ATen's vectorised kernel, `mul_` then `add_` round twice, and the hyper-parameters become float32.
function sgdStep(
  p: Float32Array,
  grad: Float32Array,
  buf: Float32Array | null,
  lr: number,
  momentum: number,
  weightDecay: number,
  nesterov: boolean,
  first: boolean,
): void {
  const f = Math.fround;
  const [lr32, m32, wd32] = [f(lr), f(momentum), f(weightDecay)];
  for (let i = 0; i < p.length; i++) {
    let d = wd32 !== 0 ? fmaf(wd32, p[i]!, grad[i]!) : grad[i]!;
    if (m32 !== 0 && buf) {
      const bv = first ? d : f(f(m32 * buf[i]!) + d);
      buf[i] = bv;
      d = nesterov ? fmaf(m32, bv, d) : bv;
    }
    p[i] = fmaf(-lr32, d, p[i]!);
  }
}

export const referenceKernels: Kernels = {
  name: 'reference',
  sgemm: gemm,
  dgemm: gemm,
  conv2dForward,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  maxPool2dForward,
  maxPool2dBackward,
  adaptiveAvgPool2dForward,
  adaptiveAvgPool2dBackward,
  batchNorm2dForwardTrain,
  batchNorm2dForwardEval,
  batchNorm2dBackward,
  reluForward,
  reluBackward,
  crossEntropyForward,
  crossEntropyBackward,
  addChannelBias,
  sumChannels,
  axpy,
  sgdStep,
  setThreads(): void {},
  // Single-threaded and sequential: always deterministic.
  setDeterministic(): void {},
  info(): KernelInfo {
    return {
      blas: 'reference',
      conv: 'reference',
      threads: 1,
      maxThreads: 1,
      deterministic: true,
      cpuFeatures: [],
    };
  },
};
