// The accelerator's exact products modulo p = 2^24 − 3 (DESIGN.md "Integrity: exact mode"; the TS twin
// is src/accelerator/modp-ops.ts). Operands are centered representatives |v| ≤ (p−1)/2 < 2^23, checked
// here (a RangeError, never a wrong answer): each product is below 2^46 and 128 of them plus a reduced
// accumulator stay below 2^53, so float64 GEMM over chunks of at most 128 inner terms is exact whatever
// order the BLAS sums in. Each chunk is one dgemm accumulating onto a float64 buffer, reduced to centered
// representatives after every chunk. Chunks of the inner dimension are pointer offsets with the
// operands' own leading dimensions: nothing is transposed or packed.
// The wide* functions (arith 'wide', docs/protocol.md) take the same checked operands and return the
// exact integer product in a Float64Array, not reduced: one chunk spanning the whole inner dimension.
// Exact because the trusted side only sends operands whose every partial sum Σ|a_i·b_i| is at most 2^47
// (any summation order then stays exact); hostile operands merely get a rounded, wrong result (values
// stay finite: K < 2^31 terms below 2^46), which the trusted side's check refuses.
//   modpGemm(ta, tb, m, n, kk, a, b, c)            c [m,n] = op(a)·op(b) mod p (as dgemm's layouts)
//   modpConv2d(n,c,h,w,o,k,s,p, x, w, y)           x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow]
//   modpConv2dGradInput(n,c,h,w,o,k,s,p, dy, w, dx) dy [n,o,oh,ow], w → dx [n,c,h,w]
//   modpConv2dGradWeight(n,c,h,w,o,k,s,p, dy, x, dw) dy, x [n,c,h,w] → dw [o,c,k,k]
//   wideGemm, wideConv2d, wideConv2dGradInput, wideConv2dGradWeight: the same, c/y/dx/dw a Float64Array
//   modpFirstOutOfRange(a) → index of the first value outside [−(p−1)/2, (p−1)/2], or −1
#include "modp_gemm.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>

#include "common.h"
#include "signals.h"
#include "conv.h"
#include "gemm.h"

namespace tee {

namespace {

constexpr double kP = 16777213.0;
constexpr double kInvP = 1.0 / 16777213.0;
constexpr int32_t kHalf = 8388606;  // (p − 1) / 2
constexpr int64_t kChunk = 128;
static_assert(static_cast<double>(kChunk) * kHalf * kHalf + kHalf < 9007199254740992.0,
              "a chunk of products must stay below 2^53");

// Per-JS-thread workspaces (the main thread and a worker may both call in).
thread_local Buffer t_a, t_b, t_c, t_col, t_img;

// The element type of a product: centered int32 mod p, or (kWide) the exact integer in float64.
template <bool kWide>
using Out = std::conditional_t<kWide, double, int32_t>;

// |v| < 2^53 exact integer → centered representative. q = rint(v/p) is off by at most one (the quotient
// is computed to within 2^-52 relative), so one fix-up step suffices; q·p < 2^53 and v − q·p are exact.
inline double reduce1(double v) {
  double r = v - std::nearbyint(v * kInvP) * kP;
  if (r > kHalf) r -= kP;
  if (r < -kHalf) r += kP;
  return r;
}

void reduce_all(double* c, int64_t n) {
  const int nt = threads_for(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) c[i] = reduce1(c[i]);
}

int64_t first_out_of_range(const int32_t* a, int64_t n) {
  int64_t first = n;
  const int nt = threads_for(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) reduction(min : first) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    if ((a[i] > kHalf || a[i] < -kHalf) && i < first) first = i;
  }
  return first == n ? -1 : first;
}

void check_range(Napi::Env env, const int32_t* a, int64_t n, const char* what) {
  const int64_t i = first_out_of_range(a, n);
  if (i >= 0) {
    throw Napi::RangeError::New(env, std::string(what) + ": value " + std::to_string(a[i]) + " at index " +
                                         std::to_string(i) + " is outside the centered range [-8388606, 8388606]");
  }
}

void to_f64(const int32_t* a, double* out, int64_t n) {
  const int nt = threads_for(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = a[i];
}

void to_i32(const double* c, int32_t* out, int64_t n) {
  const int nt = threads_for(n);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<int32_t>(c[i]);
}

// c [m,n] ← c + op(a)·op(b) mod p; c holds centered values on entry and on return (ldc = n).
// a is [m,kk] (lda ≥ kk) or, transposed, stored [kk,m] (lda ≥ m); b is [kk,n] or stored [n,kk].
// Our own threads each take a block of c (columns, or rows when c is narrow) and run every chunk of the
// inner dimension on it with a single-threaded BLAS, reducing their block after each chunk: no team of
// BLAS threads spins against our OpenMP team (on few cores that contention costs 10x).
// reduce = false (arith wide): c ← c + op(a)·op(b) exactly, one chunk over the whole inner dimension.
void gemm_modp(bool ta, bool tb, int64_t m, int64_t n, int64_t kk, const double* a, int64_t lda, const double* b,
               int64_t ldb, double* c, bool reduce) {
  if (m <= 0 || n <= 0) return;
  const double work = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(kk);
  const bool by_cols = n >= m || n >= 64 * threads();
  const int64_t span = by_cols ? n : m;
  int nt = work < 2e6 ? 1 : static_cast<int>(std::min<int64_t>(threads(), std::max<int64_t>(1, span / 16)));
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int64_t lo, hi;
    split_range(span, nt, thread_id(), &lo, &hi);
    if (hi > lo) {
      // This thread's block: rows [r0,r1) × columns [c0,c1) of c.
      const int64_t r0 = by_cols ? 0 : lo, r1 = by_cols ? m : hi;
      const int64_t c0 = by_cols ? lo : 0, c1 = by_cols ? hi : n;
      const double* a0 = ta ? a + r0 : a + r0 * lda;
      const double* b0 = tb ? b + c0 * ldb : b + c0;
      double* cb = c + r0 * n + c0;
      const int64_t chunk = reduce ? kChunk : std::max<int64_t>(kk, 1);
      for (int64_t k0 = 0; k0 < kk; k0 += chunk) {
        const int64_t kc = std::min(chunk, kk - k0);
        const double* ap = ta ? a0 + k0 * lda : a0 + k0;
        const double* bp = tb ? b0 + k0 : b0 + k0 * ldb;
        gemm_f64(ta, tb, r1 - r0, c1 - c0, kc, 1.0, ap, lda, bp, ldb, 1.0, cb, n, 1);
        if (!reduce) continue;
        for (int64_t i = 0; i < r1 - r0; i++) {
          double* row = cb + i * n;
          for (int64_t j = 0; j < c1 - c0; j++) row[j] = reduce1(row[j]);
        }
      }
    }
  }
}

inline void valid_ox(const ConvShape& g, int64_t kx, int64_t* lo, int64_t* hi) {
  const int64_t a = g.p - kx;
  *lo = a > 0 ? (a + g.s - 1) / g.s : 0;
  const int64_t b = g.w - 1 + g.p - kx;
  *hi = b >= 0 ? std::min(g.ow, b / g.s + 1) : 0;
  if (*hi < *lo) *hi = *lo;
}

// col [c·k·k, oh·ow] ← one image x [c,h,w] (zero padding); rows of col are ld apart (ld ≥ oh·ow), so that
// several images' columns can sit side by side in one matrix.
void im2col(const ConvShape& g, const int32_t* x, double* col, int64_t ld) {
  const int64_t k = g.k, ohw = g.oh * g.ow;
  const int nt = threads_for(g.c * k * k * ohw);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ic = 0; ic < g.c; ic++) {
    const int32_t* plane = x + ic * g.h * g.w;
    for (int64_t ky = 0; ky < k; ky++) {
      for (int64_t kx = 0; kx < k; kx++) {
        double* out = col + ((ic * k + ky) * k + kx) * ld;
        int64_t lo, hi;
        valid_ox(g, kx, &lo, &hi);
        for (int64_t oy = 0; oy < g.oh; oy++) {
          double* o = out + oy * g.ow;
          const int64_t iy = oy * g.s - g.p + ky;
          if (iy < 0 || iy >= g.h) {
            std::fill(o, o + g.ow, 0.0);
            continue;
          }
          const int32_t* row = plane + iy * g.w - g.p + kx;  // row[ox·s] = x[iy, ox·s − p + kx]
          std::fill(o, o + lo, 0.0);
          for (int64_t ox = lo; ox < hi; ox++) o[ox] = row[ox * g.s];
          std::fill(o + hi, o + g.ow, 0.0);
        }
      }
    }
  }
}

// image [c,h,w] += col2im(col), col [c·k·k, oh·ow] with rows ld apart: at most k² terms below 2^23 per
// pixel (k² ≤ 2^30).
void col2im_add(const ConvShape& g, const double* col, double* img, int64_t ld) {
  const int64_t k = g.k, ohw = g.oh * g.ow;
  const int nt = threads_for(g.c * k * k * ohw);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ic = 0; ic < g.c; ic++) {
    double* plane = img + ic * g.h * g.w;
    for (int64_t ky = 0; ky < k; ky++) {
      for (int64_t kx = 0; kx < k; kx++) {
        const double* in = col + ((ic * k + ky) * k + kx) * ld;
        int64_t lo, hi;
        valid_ox(g, kx, &lo, &hi);
        for (int64_t oy = 0; oy < g.oh; oy++) {
          const int64_t iy = oy * g.s - g.p + ky;
          if (iy < 0 || iy >= g.h) continue;
          double* row = plane + iy * g.w - g.p + kx;
          const double* src = in + oy * g.ow;
          for (int64_t ox = lo; ox < hi; ox++) row[ox * g.s] += src[ox];
        }
      }
    }
  }
}

// Images per GEMM: as many as keep a group's im2col matrix (ckk × G·oh·ow doubles) within 64 MiB. One
// GEMM over G images instead of G small ones: small spatial sizes (ResNet's 7×7, 4×4 layers) otherwise
// spend their time in per-call overhead and single-thread blocks.
int64_t group_images(int64_t n, int64_t ckk, int64_t ohw) {
  constexpr int64_t kGroupBytes = int64_t{64} << 20;
  const int64_t per = std::max<int64_t>(1, ckk * ohw * static_cast<int64_t>(sizeof(double)));
  return std::max<int64_t>(1, std::min<int64_t>(n, kGroupBytes / per));
}

// dst [o, ld] (columns j·ohw … of image j) ← src [gi, o, ohw] int32.
void gather_images(const int32_t* src, int64_t gi, int64_t o, int64_t ohw, double* dst, int64_t ld) {
  const int nt = threads_for(gi * o * ohw);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t oc = 0; oc < o; oc++) {
    for (int64_t j = 0; j < gi; j++) {
      const int32_t* s = src + (j * o + oc) * ohw;
      double* d = dst + oc * ld + j * ohw;
      for (int64_t t = 0; t < ohw; t++) d[t] = s[t];
    }
  }
}

// dst [gi, o, ohw] ← src [o, ld] (int32: reduced, so every value fits; double: a copy).
template <typename T>
void scatter_images(const double* src, int64_t gi, int64_t o, int64_t ohw, T* dst, int64_t ld) {
  const int nt = threads_for(gi * o * ohw);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t oc = 0; oc < o; oc++) {
    for (int64_t j = 0; j < gi; j++) {
      const double* s = src + oc * ld + j * ohw;
      T* d = dst + (j * o + oc) * ohw;
      for (int64_t t = 0; t < ohw; t++) d[t] = static_cast<T>(s[t]);
    }
  }
}

// Arguments 0..7: n, c, h, w, o, k, stride, padding (n, c, o may be 0).
ConvShape conv_dims(const Napi::CallbackInfo& info, const char* fn) {
  ConvShape g{};
  g.n = dim_arg(info, 0, fn, 0);
  g.c = dim_arg(info, 1, fn, 0);
  g.h = dim_arg(info, 2, fn);
  g.w = dim_arg(info, 3, fn);
  g.o = dim_arg(info, 4, fn, 0);
  g.k = dim_arg(info, 5, fn);
  g.s = dim_arg(info, 6, fn);
  g.p = dim_arg(info, 7, fn, 0);
  g.oh = out_size(g.h, g.k, g.s, g.p);
  g.ow = out_size(g.w, g.k, g.s, g.p);
  if (g.oh < 1 || g.ow < 1) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the kernel does not fit the padded input");
  }
  if (g.k > 32768) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": kernel size above 32768");
  return g;
}

// One handler per product for both ariths: kWide = false is modp* (reduced, Int32Array out), kWide = true
// is wide* (exact, Float64Array out, written in place where the layout allows).
template <bool kWide>
Napi::Value ExactGemm(const Napi::CallbackInfo& info) {
  const char* fn = kWide ? "wideGemm" : "modpGemm";
  expect_args(info, 8, fn);
  const bool ta = bool_arg(info, 0, fn), tb = bool_arg(info, 1, fn);
  const int64_t m = dim_arg(info, 2, fn, 0), n = dim_arg(info, 3, fn, 0), kk = dim_arg(info, 4, fn, 0);
  const int32_t* a = array_arg<int32_t>(info, 5, m * kk, fn, "a");
  const int32_t* b = array_arg<int32_t>(info, 6, kk * n, fn, "b");
  Out<kWide>* c = array_arg<Out<kWide>>(info, 7, m * n, fn, "c");
  check_range(info.Env(), a, m * kk, "a");
  check_range(info.Env(), b, kk * n, "b");
  double* af = t_a.as<double>(static_cast<size_t>(std::max<int64_t>(1, m * kk)));
  double* bf = t_b.as<double>(static_cast<size_t>(std::max<int64_t>(1, kk * n)));
  double* cf;
  if constexpr (kWide) {
    cf = c;
  } else {
    cf = t_c.as<double>(static_cast<size_t>(std::max<int64_t>(1, m * n)));
  }
  to_f64(a, af, m * kk);
  to_f64(b, bf, kk * n);
  std::fill(cf, cf + m * n, 0.0);
  const int64_t lda = ta ? std::max<int64_t>(m, 1) : std::max<int64_t>(kk, 1);
  const int64_t ldb = tb ? std::max<int64_t>(kk, 1) : std::max<int64_t>(n, 1);
  gemm_modp(ta, tb, m, n, kk, af, lda, bf, ldb, cf, !kWide);
  if constexpr (!kWide) to_i32(cf, c, m * n);
  return info.Env().Undefined();
}

// y_i [o, oh·ow] = w [o, ckk] · col_i [ckk, oh·ow], for a group of images at once (columns side by side)
template <bool kWide>
Napi::Value ExactConv2d(const Napi::CallbackInfo& info) {
  const char* fn = kWide ? "wideConv2d" : "modpConv2d";
  expect_args(info, 11, fn);
  const ConvShape g = conv_dims(info, fn);
  const int64_t ckk = g.c * g.k * g.k, ohw = g.oh * g.ow, chw = g.c * g.h * g.w;
  const int32_t* x = array_arg<int32_t>(info, 8, g.n * chw, fn, "x");
  const int32_t* w = array_arg<int32_t>(info, 9, g.o * ckk, fn, "w");
  Out<kWide>* y = array_arg<Out<kWide>>(info, 10, g.n * g.o * ohw, fn, "y");
  check_range(info.Env(), x, g.n * chw, "a");
  check_range(info.Env(), w, g.o * ckk, "b");
  const int64_t gmax = group_images(g.n, ckk, ohw);
  double* wf = t_a.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ckk)));
  double* col = t_col.as<double>(static_cast<size_t>(std::max<int64_t>(1, ckk * ohw * gmax)));
  double* acc = t_c.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ohw * gmax)));
  to_f64(w, wf, g.o * ckk);
  for (int64_t i0 = 0; i0 < g.n; i0 += gmax) {
    const int64_t gi = std::min(gmax, g.n - i0), ld = gi * ohw;
    for (int64_t j = 0; j < gi; j++) im2col(g, x + (i0 + j) * chw, col + j * ohw, ld);
    std::fill(acc, acc + g.o * ld, 0.0);
    gemm_modp(false, false, g.o, ld, ckk, wf, std::max<int64_t>(ckk, 1), col, ld, acc, !kWide);
    scatter_images(acc, gi, g.o, ohw, y + i0 * g.o * ohw, ld);
  }
  return info.Env().Undefined();
}

// col [ckk, oh·ow] = wᵀ · dy_i [o, oh·ow]; dx_i = col2im(col)
template <bool kWide>
Napi::Value ExactConv2dGradInput(const Napi::CallbackInfo& info) {
  const char* fn = kWide ? "wideConv2dGradInput" : "modpConv2dGradInput";
  expect_args(info, 11, fn);
  const ConvShape g = conv_dims(info, fn);
  const int64_t ckk = g.c * g.k * g.k, ohw = g.oh * g.ow, chw = g.c * g.h * g.w;
  const int32_t* dy = array_arg<int32_t>(info, 8, g.n * g.o * ohw, fn, "dy");
  const int32_t* w = array_arg<int32_t>(info, 9, g.o * ckk, fn, "w");
  Out<kWide>* dx = array_arg<Out<kWide>>(info, 10, g.n * chw, fn, "dx");
  check_range(info.Env(), dy, g.n * g.o * ohw, "a");
  check_range(info.Env(), w, g.o * ckk, "b");
  const int64_t gmax = group_images(g.n, ckk, ohw);
  double* wf = t_a.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ckk)));
  double* dyf = t_b.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ohw * gmax)));
  double* col = t_col.as<double>(static_cast<size_t>(std::max<int64_t>(1, ckk * ohw * gmax)));
  double* img = kWide ? nullptr : t_img.as<double>(static_cast<size_t>(std::max<int64_t>(1, chw)));
  to_f64(w, wf, g.o * ckk);
  for (int64_t i0 = 0; i0 < g.n; i0 += gmax) {
    const int64_t gi = std::min(gmax, g.n - i0), ld = gi * ohw;
    gather_images(dy + i0 * g.o * ohw, gi, g.o, ohw, dyf, ld);
    std::fill(col, col + ckk * ld, 0.0);
    gemm_modp(true, false, ckk, ld, g.o, wf, std::max<int64_t>(ckk, 1), dyf, ld, col, !kWide);
    for (int64_t j = 0; j < gi; j++) {
      // wide: col2im sums straight into dx (each sum is part of one output's exact sum, so it is exact).
      if constexpr (kWide) img = dx + (i0 + j) * chw;
      std::fill(img, img + chw, 0.0);
      col2im_add(g, col + j * ohw, img, ld);
      if constexpr (!kWide) {
        reduce_all(img, chw);
        to_i32(img, dx + (i0 + j) * chw, chw);
      }
    }
  }
  return info.Env().Undefined();
}

// dw [o, ckk] = Σ_i dy_i [o, oh·ow] · col_iᵀ: a group of images is one GEMM with inner dimension G·oh·ow.
template <bool kWide>
Napi::Value ExactConv2dGradWeight(const Napi::CallbackInfo& info) {
  const char* fn = kWide ? "wideConv2dGradWeight" : "modpConv2dGradWeight";
  expect_args(info, 11, fn);
  const ConvShape g = conv_dims(info, fn);
  const int64_t ckk = g.c * g.k * g.k, ohw = g.oh * g.ow, chw = g.c * g.h * g.w;
  const int32_t* dy = array_arg<int32_t>(info, 8, g.n * g.o * ohw, fn, "dy");
  const int32_t* x = array_arg<int32_t>(info, 9, g.n * chw, fn, "x");
  Out<kWide>* dw = array_arg<Out<kWide>>(info, 10, g.o * ckk, fn, "dw");
  check_range(info.Env(), dy, g.n * g.o * ohw, "a");
  check_range(info.Env(), x, g.n * chw, "b");
  const int64_t gmax = group_images(g.n, ckk, ohw);
  double* dyf = t_b.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ohw * gmax)));
  double* col = t_col.as<double>(static_cast<size_t>(std::max<int64_t>(1, ckk * ohw * gmax)));
  double* acc;
  if constexpr (kWide) {
    acc = dw;
  } else {
    acc = t_c.as<double>(static_cast<size_t>(std::max<int64_t>(1, g.o * ckk)));
  }
  std::fill(acc, acc + g.o * ckk, 0.0);
  for (int64_t i0 = 0; i0 < g.n; i0 += gmax) {
    const int64_t gi = std::min(gmax, g.n - i0), ld = gi * ohw;
    gather_images(dy + i0 * g.o * ohw, gi, g.o, ohw, dyf, ld);
    for (int64_t j = 0; j < gi; j++) im2col(g, x + (i0 + j) * chw, col + j * ohw, ld);
    // op(a) = dy_group [o, ld], op(b) = colᵀ [ld, ckk] with col stored [ckk, ld].
    gemm_modp(false, true, g.o, ckk, ld, dyf, ld, col, ld, acc, !kWide);
  }
  if constexpr (!kWide) to_i32(acc, dw, g.o * ckk);
  return info.Env().Undefined();
}

Napi::Value ModpFirstOutOfRange(const Napi::CallbackInfo& info) {
  const char* fn = "modpFirstOutOfRange";
  expect_args(info, 1, fn);
  int64_t n = 0;
  const int32_t* a = any_array_arg<int32_t>(info, 0, &n, fn, "a");
  return Napi::Number::New(info.Env(), static_cast<double>(first_out_of_range(a, n)));
}

}  // namespace

void register_modp_gemm(Napi::Env env, Napi::Object exports) {
  export_function<ExactGemm<false>>(env, exports, "modpGemm");
  export_function<ExactConv2d<false>>(env, exports, "modpConv2d");
  export_function<ExactConv2dGradInput<false>>(env, exports, "modpConv2dGradInput");
  export_function<ExactConv2dGradWeight<false>>(env, exports, "modpConv2dGradWeight");
  export_function<ExactGemm<true>>(env, exports, "wideGemm");
  export_function<ExactConv2d<true>>(env, exports, "wideConv2d");
  export_function<ExactConv2dGradInput<true>>(env, exports, "wideConv2dGradInput");
  export_function<ExactConv2dGradWeight<true>>(env, exports, "wideConv2dGradWeight");
  export_function<ModpFirstOutOfRange>(env, exports, "modpFirstOutOfRange");
}

}  // namespace tee
