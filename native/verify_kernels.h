// The trusted side's Freivalds arithmetic (Freivalds 1977; DESIGN.md "Integrity"), shared by the exact and
// float bindings (modp_verify.cc) and the wide field's limb bindings (wide_verify.cc): both sides of
// Y·r = A·(B·r) for the six linear products, with several random vectors at once ("reps"). Five primitives
// cover every op: fold (Σ_r R[j,r]·A[b,r,c]), matvecs (A·u_j), and three convolutions with `reps` output
// channels (forward, transposed, weight-gradient correlation).
//
// exact (ExactT): int32 operands whose magnitude the binding has checked, int64 accumulators that take at
// most `budget` = (2^63 − p)/max_term terms between reductions mod p, hence never overflow: the result is
// exact by construction, in [0,p).
// float (Real): float32 operands (or their absolute values, for the τ bound) against float64 vectors,
// float64 accumulation; the caller bounds the rounding error.
#pragma once

#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "common.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TEE_VERIFY_AVX2 1
#endif

namespace tee {
namespace verify {

constexpr int64_t kMaxModulus = int64_t(1) << 24;

// ---- arithmetic policies: how a term is formed, when accumulators are reduced, what is stored ----

// Exact: int32 operands, int64 accumulators reduced mod p before `budget` terms could overflow them, results
// in [0, p) stored as O: int32 for the fields' primes (p ≤ 2^24, both operands below p), double for the
// wide check's limb products (p < 2^50, operand × 25-bit limb; wide_verify.cc).
template <typename O>
struct ExactT {
  using Acc = int64_t;
  using Out = O;
  static constexpr bool kAbs = false;
  int64_t p;
  int64_t budget;
  // max_term: the largest |a·b| one term can reach.
  ExactT(int64_t modulus, int64_t max_term)
      : p(modulus), budget((std::numeric_limits<int64_t>::max() - modulus) / max_term) {}
  explicit ExactT(int64_t modulus) : ExactT(modulus, (modulus - 1) * (modulus - 1)) {}
  static Acc mul(int32_t a, int32_t b) { return int64_t(a) * int64_t(b); }
  Acc reduce(Acc a) const { return a % p; }
  Out finish(Acc a) const {
    Acc r = a % p;
    return static_cast<Out>(r < 0 ? r + p : r);
  }
};
using Exact = ExactT<int32_t>;

template <bool ABS>
struct Real {
  using Acc = double;
  using Out = double;
  static constexpr bool kAbs = ABS;
  int64_t budget = std::numeric_limits<int64_t>::max();
  static Acc mul(float a, double b) { return double(ABS ? std::fabs(a) : a) * b; }
  // A folded vector (already non-negative in the abs pass) against an operand.
  static Acc mul(double a, float b) { return a * double(ABS ? std::fabs(b) : b); }
  Acc reduce(Acc a) const { return a; }
  Out finish(Acc a) const { return a; }
};

// Operand range check, every |v| ≤ lim (lim < 0: none; float operands are never range-checked). The
// stride-1 convolutions run it on each row as they copy it into their padded input (no pass of its own);
// the general loops before they start. A kernel that finds a value outside computes nothing with it and
// returns false; the binding then throws.
inline bool in_range(const int32_t* v, int64_t n, int32_t lim) {
  if (lim < 0) return true;
  int32_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad |= (v[i] > lim) | (v[i] < -lim);
  return bad == 0;
}
inline bool in_range(const float*, int64_t, int32_t) { return true; }
inline bool in_range(const double*, int64_t, int32_t) { return true; }

// Reduces n accumulators in place (before `budget` more terms could overflow them).
template <class Ar>
void reduce_all(const Ar& ar, typename Ar::Acc* acc, int64_t n) {
  for (int64_t i = 0; i < n; i++) acc[i] = ar.reduce(acc[i]);
}

// Rows [r0, r1) of image ni, from `reps` accumulator blocks of rb rows × len, finished into output planes
// of `rows` rows × len: the row-blocked convolutions' last step.
template <class Ar>
void finish_rows(const Ar& ar, const typename Ar::Acc* acc, int64_t ni, int64_t reps, int64_t rb, int64_t r0,
                 int64_t r1, int64_t rows, int64_t len, typename Ar::Out* out) {
  for (int64_t j = 0; j < reps; j++) {
    for (int64_t r = r0; r < r1; r++) {
      const typename Ar::Acc* a = acc + (j * rb + (r - r0)) * len;
      typename Ar::Out* o = out + ((ni * reps + j) * rows + r) * len;
      for (int64_t x = 0; x < len; x++) o[x] = ar.finish(a[x]);
    }
  }
}

// Runs body(task) for task in [0, tasks) on up to threads() threads; `work` (multiply-adds) decides
// whether a team is worth starting.
template <typename F>
void for_tasks(int64_t tasks, int64_t work, F body) {
  int nt = threads_for(work);
  if (nt > tasks) nt = static_cast<int>(tasks);
  if (nt <= 1) {
    for (int64_t t = 0; t < tasks; t++) body(t, 0);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int64_t t = 0; t < tasks; t++) body(t, thread_id());
}

inline int team_size(int64_t tasks, int64_t work) {
  int nt = threads_for(work);
  return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(nt, tasks)));
}

// Output columns [lo, hi) of the valid window positions: ox with 0 ≤ ox·s + kw − pad < w, ox < ow.
inline void valid_range(int64_t w, int64_t ow, int64_t kw, int64_t s, int64_t pad, int64_t* lo, int64_t* hi) {
  const int64_t first = pad - kw;  // ox·s ≥ pad − kw
  *lo = first <= 0 ? 0 : (first + s - 1) / s;
  const int64_t last = w - 1 + pad - kw;  // ox·s ≤ w − 1 + pad − kw
  *hi = last < 0 ? 0 : std::min(ow, last / s + 1);
  if (*hi < *lo) *hi = *lo;
}

// ---- fold: a [batch, rows, cols], r [reps, rows] → out [batch, reps, cols], out[b,j,c] = Σ_r r[j,r]·a[b,r,c]
template <class Ar, typename S, typename V>
void fold(const Ar& ar, int64_t batch, int64_t rows, int64_t cols, int64_t reps, const S* a, const V* r,
          typename Ar::Out* out) {
  using Acc = typename Ar::Acc;
  const int64_t work = batch * rows * cols * reps;
  const int nt = std::max(1, threads_for(work));
  int64_t cb = (cols + 2 * nt - 1) / (2 * nt);
  cb = std::max<int64_t>(256, (cb + 63) / 64 * 64);
  cb = std::min(cb, cols);
  const int64_t blocks = (cols + cb - 1) / cb;
  const int teams = team_size(batch * blocks, work);
  std::vector<Acc> ws(static_cast<size_t>(teams * reps * cb));
  for_tasks(batch * blocks, work, [&](int64_t task, int tid) {
    const int64_t b = task / blocks, c0 = (task % blocks) * cb, n = std::min(cb, cols - c0);
    Acc* acc = ws.data() + static_cast<size_t>(tid) * reps * cb;
    std::fill(acc, acc + reps * cb, Acc(0));
    int64_t terms = 0;
    int64_t row = 0;
    // Four rows at a time, so that each sum is loaded and stored once per four terms (the stores bounded
    // the one-row loop). Exact sums do not depend on their order (at most `budget` terms between
    // reductions still holds); a float64 sum's order is covered by the caller's rounding bound.
    if (ar.budget >= 8) {
      for (; row + 4 <= rows; row += 4) {
        const S* p0 = a + (b * rows + row) * cols + c0;
        const S *p1 = p0 + cols, *p2 = p1 + cols, *p3 = p2 + cols;
        for (int64_t j = 0; j < reps; j++) {
          const V* rj = r + j * rows + row;
          const V r0 = rj[0], r1 = rj[1], r2 = rj[2], r3 = rj[3];
          Acc* aj = acc + j * cb;
          for (int64_t c = 0; c < n; c++) {
            aj[c] += (Ar::mul(p0[c], r0) + Ar::mul(p1[c], r1)) + (Ar::mul(p2[c], r2) + Ar::mul(p3[c], r3));
          }
        }
        terms += 4;
        if (terms + 4 > ar.budget) {
          reduce_all(ar, acc, reps * cb);
          terms = 0;
        }
      }
    }
    for (; row < rows; row++) {
      const S* ar_row = a + (b * rows + row) * cols + c0;
      for (int64_t j = 0; j < reps; j++) {
        const V rv = r[j * rows + row];
        Acc* aj = acc + j * cb;
        for (int64_t c = 0; c < n; c++) aj[c] += Ar::mul(ar_row[c], rv);
      }
      if (++terms >= ar.budget) {
        reduce_all(ar, acc, reps * cb);
        terms = 0;
      }
    }
    for (int64_t j = 0; j < reps; j++) {
      typename Ar::Out* o = out + (b * reps + j) * cols + c0;
      for (int64_t c = 0; c < n; c++) o[c] = ar.finish(acc[j * cb + c]);
    }
  });
}

// Σ_{l0 ≤ l < l1} a[l]·u[l]. Integer sums vectorize as written; a float64 sum does not (the compiler
// may not reorder it), so the float version keeps four lanes of partial sums explicitly. (Any order is
// covered by the caller's rounding bound.)
template <class Ar, typename S, typename V>
typename Ar::Acc dot(const Ar&, const S* a, const V* u, int64_t l0, int64_t l1) {
  typename Ar::Acc s = 0;
  for (int64_t l = l0; l < l1; l++) s += Ar::mul(a[l], u[l]);
  return s;
}

#ifdef TEE_VERIFY_AVX2
template <bool ABS>
double dot(const Real<ABS>&, const float* a, const double* u, int64_t l0, int64_t l1) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  const __m128 sign = _mm_set1_ps(-0.0f);
  int64_t l = l0;
  for (; l + 8 <= l1; l += 8) {
    __m128 f0 = _mm_loadu_ps(a + l), f1 = _mm_loadu_ps(a + l + 4);
    if (ABS) {
      f0 = _mm_andnot_ps(sign, f0);
      f1 = _mm_andnot_ps(sign, f1);
    }
    s0 = _mm256_fmadd_pd(_mm256_cvtps_pd(f0), _mm256_loadu_pd(u + l), s0);
    s1 = _mm256_fmadd_pd(_mm256_cvtps_pd(f1), _mm256_loadu_pd(u + l + 4), s1);
  }
  alignas(32) double t[4];
  _mm256_store_pd(t, _mm256_add_pd(s0, s1));
  double s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; l < l1; l++) s += Real<ABS>::mul(a[l], u[l]);
  return s;
}
#endif

// ---- matvecs: a [m, kk], u [reps, kk] → out [reps, m], out[j,i] = Σ_l a[i,l]·u[j,l]
template <class Ar, typename S, typename V>
void matvecs(const Ar& ar, int64_t m, int64_t kk, int64_t reps, const S* a, const V* u, typename Ar::Out* out) {
  using Acc = typename Ar::Acc;
  const int64_t work = m * kk * reps;
  const int64_t rb = std::max<int64_t>(1, std::min<int64_t>(64, m / (4 * std::max(1, threads()))));
  const int64_t blocks = (m + rb - 1) / rb;
  const int64_t chunk = std::min<int64_t>(ar.budget, kk);
  for_tasks(blocks, work, [&](int64_t task, int) {
    const int64_t i1 = std::min(m, (task + 1) * rb);
    for (int64_t i = task * rb; i < i1; i++) {
      const S* arow = a + i * kk;
      for (int64_t j = 0; j < reps; j++) {
        const V* urow = u + j * kk;
        Acc acc = 0;
        for (int64_t l0 = 0; l0 < kk; l0 += chunk) {
          const int64_t l1 = std::min(kk, l0 + chunk);
          acc = ar.reduce(acc + ar.reduce(dot(ar, arow, urow, l0, l1)));
        }
        out[j * m + i] = ar.finish(acc);
      }
    }
  });
}

struct Geom {
  int64_t n, c, h, w, reps, k, s, pad, oh, ow;
};

// ---- conv: x [n,c,h,w], wf [reps,c,k,k] → out [n,reps,oh,ow] (a convolution with `reps` output channels)
template <class Ar, typename S, typename V>
void conv(const Ar& ar, const Geom& g, const S* x, const V* wf, typename Ar::Out* out) {
  using Acc = typename Ar::Acc;
  const int64_t rb = std::max<int64_t>(1, std::min<int64_t>(g.oh, 2048 / std::max<int64_t>(1, g.ow)));
  const int64_t blocks = (g.oh + rb - 1) / rb;
  const int64_t work = g.n * g.c * g.k * g.k * g.oh * g.ow * g.reps;
  const int teams = team_size(g.n * blocks, work);
  const int64_t per = g.reps * rb * g.ow;
  std::vector<Acc> ws(static_cast<size_t>(teams * per));
  std::vector<V> wv_all(static_cast<size_t>(teams * g.reps));
  for_tasks(g.n * blocks, work, [&](int64_t task, int tid) {
    const int64_t ni = task / blocks, oy0 = (task % blocks) * rb, oy1 = std::min(g.oh, oy0 + rb);
    Acc* acc = ws.data() + static_cast<size_t>(tid) * per;
    V* wv = wv_all.data() + static_cast<size_t>(tid) * g.reps;
    std::fill(acc, acc + per, Acc(0));
    int64_t terms = 0;
    for (int64_t ci = 0; ci < g.c; ci++) {
      const S* xc = x + (ni * g.c + ci) * g.h * g.w;
      for (int64_t kh = 0; kh < g.k; kh++) {
        for (int64_t kw = 0; kw < g.k; kw++) {
          for (int64_t j = 0; j < g.reps; j++) wv[j] = wf[((j * g.c + ci) * g.k + kh) * g.k + kw];
          int64_t lo, hi;
          valid_range(g.w, g.ow, kw, g.s, g.pad, &lo, &hi);
          for (int64_t oy = oy0; oy < oy1; oy++) {
            const int64_t iy = oy * g.s + kh - g.pad;
            if (iy < 0 || iy >= g.h) continue;
            const S* xr = xc + iy * g.w;
            for (int64_t j = 0; j < g.reps; j++) {
              Acc* a = acc + (j * rb + (oy - oy0)) * g.ow;
              const V v = wv[j];
              if (g.s == 1) {
                const S* xs = xr + kw - g.pad;
                for (int64_t ox = lo; ox < hi; ox++) a[ox] += Ar::mul(xs[ox], v);
              } else {
                for (int64_t ox = lo; ox < hi; ox++) a[ox] += Ar::mul(xr[ox * g.s + kw - g.pad], v);
              }
            }
          }
          if (++terms == ar.budget) {
            reduce_all(ar, acc, per);
            terms = 0;
          }
        }
      }
    }
    finish_rows(ar, acc, ni, g.reps, rb, oy0, oy1, g.oh, g.ow, out);
  });
}

// ---- fast path for stride 1: a zero-padded copy of the input, then register-blocked rows ----
// Each task computes BW output columns of one output row for R vectors at once: every tap (c, kh, kw)
// loads BW inputs once and multiplies them by the R folded weights, with R·BW accumulators kept in
// registers (R·BW/4 ymm). No bounds checks: the padding supplies the zeros.

// x [n,c,h,w] → xp [n,c,hp,wp]: x at (pad, pad), zeros around (and in extra columns on the right). The
// buffer is reused across calls on the same thread (one per thread: worker threads may load the addon
// too), so no page is faulted in twice.
// With lim ≥ 0, each copied row is checked (|x| ≤ lim, in_range) while it is in cache; *ok is false when
// one was not.
template <typename S>
const S* pad_input(const S* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad, int64_t hp, int64_t wp,
                   int32_t lim = -1, bool* ok = nullptr) {
  static thread_local std::vector<S> buf;
  const size_t need = static_cast<size_t>(n * c * hp * wp);
  if (buf.size() < need) buf.resize(need);
  S* dst = buf.data();
  const int64_t planes = n * c;
  std::atomic<bool> good{true};
  for_tasks(planes, planes * hp * wp, [&](int64_t pl, int) {
    S* d = dst + pl * hp * wp;
    std::fill(d, d + pad * wp, S(0));
    bool fine = true;
    for (int64_t y = 0; y < h; y++) {
      S* row = d + (y + pad) * wp;
      std::fill(row, row + pad, S(0));
      std::copy(x + (pl * h + y) * w, x + (pl * h + y + 1) * w, row + pad);
      fine &= in_range(row + pad, w, lim);
      std::fill(row + pad + w, row + wp, S(0));
    }
    std::fill(d + (h + pad) * wp, d + hp * wp, S(0));
    if (!fine) good.store(false, std::memory_order_relaxed);
  });
  if (ok != nullptr) *ok = good.load();
  return dst;
}

// One block: BW = 16 output columns of one output row, R vectors, taps (c, kh, kw) over the padded input.
// Portable version; the AVX2 specialisations below keep the R·16 accumulators in registers.
template <class Ar, typename S, typename V, int R>
struct Block16 {
  using Acc = typename Ar::Acc;
  static void run(const Ar& ar, const S* xc, int64_t c, int64_t k, int64_t plane, int64_t wp, const V* wf,
                  Acc (&acc)[R][16]) {
    for (int j = 0; j < R; j++)
      for (int l = 0; l < 16; l++) acc[j][l] = 0;
    int64_t terms = 0;
    for (int64_t ci = 0; ci < c; ci++) {
      for (int64_t kh = 0; kh < k; kh++) {
        for (int64_t kw = 0; kw < k; kw++) {
          const S* xs = xc + ci * plane + kh * wp + kw;
          for (int j = 0; j < R; j++) {
            const V v = wf[((j * c + ci) * k + kh) * k + kw];
            for (int l = 0; l < 16; l++) acc[j][l] += Ar::mul(xs[l], v);
          }
          if (++terms == ar.budget) {
            for (int j = 0; j < R; j++)
              for (int l = 0; l < 16; l++) acc[j][l] = ar.reduce(acc[j][l]);
            terms = 0;
          }
        }
      }
    }
  }
};

#ifdef TEE_VERIFY_AVX2
// Exact: int32 inputs sign-extended to int64 lanes, vpmuldq (low 32 × low 32 → 64) and vpaddq.
template <typename O, int R>
struct Block16<ExactT<O>, int32_t, int32_t, R> {
  static void run(const ExactT<O>& ar, const int32_t* xc, int64_t c, int64_t k, int64_t plane, int64_t wp,
                  const int32_t* wf, int64_t (&out)[R][16]) {
    __m256i acc[R][4];
    for (int j = 0; j < R; j++)
      for (int q = 0; q < 4; q++) acc[j][q] = _mm256_setzero_si256();
    int64_t terms = 0;
    for (int64_t ci = 0; ci < c; ci++) {
      for (int64_t kh = 0; kh < k; kh++) {
        for (int64_t kw = 0; kw < k; kw++) {
          const int32_t* xs = xc + ci * plane + kh * wp + kw;
          __m256i x[4];
          for (int q = 0; q < 4; q++) x[q] = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(xs + 4 * q)));
          for (int j = 0; j < R; j++) {
            const __m256i v = _mm256_set1_epi64x(wf[((j * c + ci) * k + kh) * k + kw]);
            for (int q = 0; q < 4; q++) acc[j][q] = _mm256_add_epi64(acc[j][q], _mm256_mul_epi32(x[q], v));
          }
          if (++terms == ar.budget) {
            for (int j = 0; j < R; j++) {
              for (int q = 0; q < 4; q++) {
                alignas(32) int64_t t[4];
                _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc[j][q]);
                for (int l = 0; l < 4; l++) t[l] = ar.reduce(t[l]);
                acc[j][q] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t));
              }
            }
            terms = 0;
          }
        }
      }
    }
    for (int j = 0; j < R; j++)
      for (int q = 0; q < 4; q++) _mm256_storeu_si256(reinterpret_cast<__m256i*>(&out[j][4 * q]), acc[j][q]);
  }
};

// Float: float32 inputs widened to float64 lanes, FMA against the float64 vectors (|x| in the τ pass).
template <bool ABS, int R>
struct Block16<Real<ABS>, float, double, R> {
  static void run(const Real<ABS>&, const float* xc, int64_t c, int64_t k, int64_t plane, int64_t wp,
                  const double* wf, double (&out)[R][16]) {
    __m256d acc[R][4];
    for (int j = 0; j < R; j++)
      for (int q = 0; q < 4; q++) acc[j][q] = _mm256_setzero_pd();
    const __m128 sign = _mm_set1_ps(-0.0f);
    for (int64_t ci = 0; ci < c; ci++) {
      for (int64_t kh = 0; kh < k; kh++) {
        for (int64_t kw = 0; kw < k; kw++) {
          const float* xs = xc + ci * plane + kh * wp + kw;
          __m256d x[4];
          for (int q = 0; q < 4; q++) {
            __m128 f = _mm_loadu_ps(xs + 4 * q);
            if (ABS) f = _mm_andnot_ps(sign, f);
            x[q] = _mm256_cvtps_pd(f);
          }
          for (int j = 0; j < R; j++) {
            const __m256d v = _mm256_set1_pd(wf[((j * c + ci) * k + kh) * k + kw]);
            for (int q = 0; q < 4; q++) acc[j][q] = _mm256_fmadd_pd(x[q], v, acc[j][q]);
          }
        }
      }
    }
    for (int j = 0; j < R; j++)
      for (int q = 0; q < 4; q++) _mm256_storeu_pd(&out[j][4 * q], acc[j][q]);
  }
};
#endif

template <class Ar, typename S, typename V, int R>
bool conv_s1_fast(const Ar& ar, const Geom& g, const S* x, const V* wf, typename Ar::Out* out, int32_t lim) {
  using Acc = typename Ar::Acc;
  constexpr int64_t BW = 16;
  const int64_t blocks = (g.ow + BW - 1) / BW;
  const int64_t hp = g.h + 2 * g.pad;
  const int64_t wp = blocks * BW + g.k - 1;
  bool ok = true;
  const S* xpd = pad_input(x, g.n, g.c, g.h, g.w, g.pad, hp, wp, lim, &ok);
  if (!ok) return false;
  const int64_t work = g.n * g.c * g.k * g.k * g.oh * g.ow * R;
  for_tasks(g.n * g.oh, work, [&](int64_t task, int) {
    const int64_t ni = task / g.oh, oy = task % g.oh;
    for (int64_t b = 0; b < blocks; b++) {
      const int64_t ox0 = b * BW;
      Acc acc[R][BW];
      Block16<Ar, S, V, R>::run(ar, xpd + (ni * g.c * hp + oy) * wp + ox0, g.c, g.k, hp * wp, wp, wf, acc);
      const int64_t n = std::min<int64_t>(BW, g.ow - ox0);
      for (int j = 0; j < R; j++) {
        typename Ar::Out* o = out + ((ni * R + j) * g.oh + oy) * g.ow + ox0;
        for (int64_t l = 0; l < n; l++) o[l] = ar.finish(acc[j][l]);
      }
    }
  });
  return true;
}


// ---- stride s > 1 as stride 1: the polyphase components of the padded input ----
// With P = min(s, k) phases per axis and k' = ⌈k/s⌉:
//   x'[n][c·P² + ph·P + pw][i][j] = xpad[n][c][s·i + ph][s·j + pw]   (xpad: x inside `pad` zeros; zeros beyond)
//   w'[r][c·P² + ph·P + pw][a][b] = w[r][c][s·a + ph][s·b + pw]       (0 where s·a + ph ≥ k or s·b + pw ≥ k)
// for i < oh + k' − 1, j < ow + k' − 1. A stride-1, unpadded convolution of x' with w' is the stride-s
// convolution of x with w: each tap (kh, kw) = (s·a + ph, s·b + pw) appears exactly once, the added taps
// multiply zero weights. Exact sums are the same sums; a float64 sum only gains exact zero terms (its
// rounding bound is unchanged). The stride-1 kernels vectorize where the strided loops gather.
struct Polyphase {
  int64_t s, phases, kp, hq, wq;  // phases = P; hq × wq: each phase plane
  explicit Polyphase(const Geom& g)
      : s(g.s),
        phases(std::min(g.s, g.k)),
        kp((g.k + g.s - 1) / g.s),
        hq(g.oh + (g.k + g.s - 1) / g.s - 1),
        wq(g.ow + (g.k + g.s - 1) / g.s - 1) {}
  // The stride-1 geometry over x' (input planes c·P², hq × wq, kernel k', no padding; same output).
  Geom geom(const Geom& g) const {
    Geom t = g;
    t.c = g.c * phases * phases;
    t.h = hq;
    t.w = wq;
    t.k = kp;
    t.s = 1;
    t.pad = 0;
    return t;
  }
  // Where tap (kh, kw) of input channel ci goes in w' [reps][c·P²][k'][k'] (per vector r: plus r·c·P²·k'²).
  int64_t tap(int64_t ci, int64_t kh, int64_t kw) const {
    return ((ci * phases * phases + (kh % s) * phases + (kw % s)) * kp + kh / s) * kp + kw / s;
  }
};

// Whether a strided kernel goes through its polyphase form: measured (1 thread, ResNet-18/AlexNet layers) to
// win with AVX2 from two vectors on (the wide check's two limbs, the float check's two repetitions) or from
// k ≥ 5, up to the fast paths' vector counts; one vector over a small kernel stays with the strided loop
// (the two input copies cost more than its few multiply-adds).
inline bool use_polyphase(const Geom& g, int64_t max_reps) {
#ifdef TEE_VERIFY_AVX2
  return g.s > 1 && g.reps <= max_reps && (g.reps >= 2 || g.k >= 5);
#else
  (void)g;
  (void)max_reps;
  return false;
#endif
}

// x' (above) in a buffer reused across calls on this thread.
template <typename S>
const S* polyphase_input(const S* x, const Geom& g, const Polyphase& pp) {
  static thread_local std::vector<S> buf;
  const int64_t pp2 = pp.phases * pp.phases;
  const int64_t planes = g.n * g.c * pp2;
  const size_t need = static_cast<size_t>(planes * pp.hq * pp.wq);
  if (buf.size() < need) buf.resize(need);
  S* dst = buf.data();
  for_tasks(planes, static_cast<int64_t>(need), [&](int64_t t, int) {
    const int64_t plane = t / pp2, ph = (t % pp2) / pp.phases, pw = t % pp.phases;  // plane = n·c + ci
    const S* xc = x + plane * g.h * g.w;
    S* d = dst + t * pp.hq * pp.wq;
    for (int64_t i = 0; i < pp.hq; i++) {
      S* row = d + i * pp.wq;
      const int64_t iy = pp.s * i + ph - g.pad;
      if (iy < 0 || iy >= g.h) {
        std::fill(row, row + pp.wq, S(0));
        continue;
      }
      const S* xr = xc + iy * g.w;
      for (int64_t j = 0; j < pp.wq; j++) {
        const int64_t ix = pp.s * j + pw - g.pad;
        row[j] = (ix >= 0 && ix < g.w) ? xr[ix] : S(0);
      }
    }
  });
  return dst;
}

template <class Ar, typename S, typename V>
bool conv_any(const Ar& ar, const Geom& g, const S* x, const V* wf, typename Ar::Out* out, int32_t lim = -1);

// w' (above) from folded weights wf [reps,c,k,k]: [reps][c·P²][k'][k'], converted to W, zeros at the added taps.
template <typename V, typename W>
std::vector<W> polyphase_taps(const Geom& g, const Polyphase& pp, const V* wf) {
  const Geom t = pp.geom(g);
  std::vector<W> w(static_cast<size_t>(g.reps * t.c * t.k * t.k), W(0));
  const int64_t per = t.c * t.k * t.k;
  for (int64_t j = 0; j < g.reps; j++)
    for (int64_t ci = 0; ci < g.c; ci++)
      for (int64_t kh = 0; kh < g.k; kh++)
        for (int64_t kw = 0; kw < g.k; kw++)
          w[static_cast<size_t>(j * per + pp.tap(ci, kh, kw))] = static_cast<W>(wf[((j * g.c + ci) * g.k + kh) * g.k + kw]);
  return w;
}

// conv with stride > 1 through its polyphase form (above).
template <class Ar, typename S, typename V>
bool conv_strided(const Ar& ar, const Geom& g, const S* x, const V* wf, typename Ar::Out* out, int32_t lim) {
  if (!in_range(x, g.n * g.c * g.h * g.w, lim)) return false;
  const Polyphase pp(g);
  const std::vector<V> w = polyphase_taps<V, V>(g, pp, wf);
  return conv_any(ar, pp.geom(g), polyphase_input(x, g, pp), w.data(), out, -1);
}

// conv with the fast path where it applies (stride 1, 1 to 3 vectors; stride > 1 through its polyphase form),
// else the general loop; false (and nothing computed) when lim ≥ 0 and some |x| > lim.
template <class Ar, typename S, typename V>
bool conv_any(const Ar& ar, const Geom& g, const S* x, const V* wf, typename Ar::Out* out, int32_t lim) {
  if (use_polyphase(g, 3)) return conv_strided(ar, g, x, wf, out, lim);
  if (g.s == 1) {
    switch (g.reps) {
      case 1:
        return conv_s1_fast<Ar, S, V, 1>(ar, g, x, wf, out, lim);
      case 2:
        return conv_s1_fast<Ar, S, V, 2>(ar, g, x, wf, out, lim);
      case 3:
        return conv_s1_fast<Ar, S, V, 3>(ar, g, x, wf, out, lim);
      default:
        break;
    }
  }
  if (!in_range(x, g.n * g.c * g.h * g.w, lim)) return false;
  conv(ar, g, x, wf, out);
  return true;
}

// ---- transposed conv: dy [n,o,oh,ow], wg [o,reps,k,k] → out [n,reps,h,w] (g.c holds o here)
template <class Ar, typename S, typename V>
void conv_t(const Ar& ar, const Geom& g, const S* dy, const V* wg, typename Ar::Out* out) {
  using Acc = typename Ar::Acc;
  const int64_t o = g.c;
  const int64_t rb = std::max<int64_t>(1, std::min<int64_t>(g.h, 2048 / std::max<int64_t>(1, g.w)));
  const int64_t blocks = (g.h + rb - 1) / rb;
  const int64_t work = g.n * o * g.k * g.k * g.oh * g.ow * g.reps;
  const int teams = team_size(g.n * blocks, work);
  const int64_t per = g.reps * rb * g.w;
  std::vector<Acc> ws(static_cast<size_t>(teams * per));
  std::vector<V> wv_all(static_cast<size_t>(teams * g.reps));
  for_tasks(g.n * blocks, work, [&](int64_t task, int tid) {
    const int64_t ni = task / blocks, iy0 = (task % blocks) * rb, iy1 = std::min(g.h, iy0 + rb);
    Acc* acc = ws.data() + static_cast<size_t>(tid) * per;
    V* wv = wv_all.data() + static_cast<size_t>(tid) * g.reps;
    std::fill(acc, acc + per, Acc(0));
    int64_t terms = 0;
    for (int64_t oc = 0; oc < o; oc++) {
      const S* dyc = dy + (ni * o + oc) * g.oh * g.ow;
      for (int64_t kh = 0; kh < g.k; kh++) {
        for (int64_t kw = 0; kw < g.k; kw++) {
          for (int64_t j = 0; j < g.reps; j++) wv[j] = wg[((oc * g.reps + j) * g.k + kh) * g.k + kw];
          int64_t lo, hi;
          valid_range(g.w, g.ow, kw, g.s, g.pad, &lo, &hi);
          for (int64_t iy = iy0; iy < iy1; iy++) {
            const int64_t t = iy + g.pad - kh;  // = oy·s
            if (t < 0 || t % g.s != 0 || t / g.s >= g.oh) continue;
            const S* dr = dyc + (t / g.s) * g.ow;
            for (int64_t j = 0; j < g.reps; j++) {
              Acc* a = acc + (j * rb + (iy - iy0)) * g.w;
              const V v = wv[j];
              if (g.s == 1) {
                Acc* as = a + kw - g.pad;
                for (int64_t ox = lo; ox < hi; ox++) as[ox] += Ar::mul(dr[ox], v);
              } else {
                for (int64_t ox = lo; ox < hi; ox++) a[ox * g.s + kw - g.pad] += Ar::mul(dr[ox], v);
              }
            }
          }
          if (++terms == ar.budget) {
            reduce_all(ar, acc, per);
            terms = 0;
          }
        }
      }
    }
    finish_rows(ar, acc, ni, g.reps, rb, iy0, iy1, g.h, g.w, out);
  });
}

template <class Ar, typename S, typename V>
bool conv_t_any(const Ar& ar, const Geom& g, const S* dy, const V* wg, typename Ar::Out* out, int32_t lim = -1);

// convT with stride s > 1, output phase by output phase: the outputs iy with iy + pad ≡ ph (mod s) take
// only the taps kh = s·a + ph, so out[s·q + ph − pad] = Σ_{o,a} dy[q − a]·wg[s·a + ph], a stride-1
// transposed convolution of dy with that sub-kernel (k' × k', zeros where s·a + ph ≥ k), q < oh + k' − 1.
// Outputs no tap reaches (phases ph ≥ k, rows past the last window) are zero. Sums as the strided loop's.
template <class Ar, typename S, typename V>
bool conv_t_strided(const Ar& ar, const Geom& g, const S* dy, const V* wg, typename Ar::Out* out, int32_t lim) {
  if (!in_range(dy, g.n * g.c * g.oh * g.ow, lim)) return false;
  using Out = typename Ar::Out;
  const int64_t s = g.s, k = g.k, o = g.c, kp = (k + s - 1) / s, phases = std::min(s, k);
  Geom t = g;  // dy [n,o,oh,ow] → [n,reps,hq,wq]
  t.h = g.oh + kp - 1;
  t.w = g.ow + kp - 1;
  t.k = kp;
  t.s = 1;
  t.pad = 0;
  std::fill(out, out + g.n * g.reps * g.h * g.w, Out(0));
  std::vector<V> w(static_cast<size_t>(o * g.reps * kp * kp));
  std::vector<Out> part(static_cast<size_t>(g.n * g.reps * t.h * t.w));
  for (int64_t ph = 0; ph < phases; ph++) {
    for (int64_t pw = 0; pw < phases; pw++) {
      std::fill(w.begin(), w.end(), V(0));
      for (int64_t oc = 0; oc < o; oc++)
        for (int64_t j = 0; j < g.reps; j++)
          for (int64_t a = 0; s * a + ph < k; a++)
            for (int64_t b = 0; s * b + pw < k; b++)
              w[((oc * g.reps + j) * kp + a) * kp + b] = wg[((oc * g.reps + j) * k + s * a + ph) * k + s * b + pw];
      if (!conv_t_any(ar, t, dy, w.data(), part.data(), -1)) return false;
      for (int64_t nj = 0; nj < g.n * g.reps; nj++) {
        for (int64_t q = 0; q < t.h; q++) {
          const int64_t iy = s * q + ph - g.pad;
          if (iy < 0 || iy >= g.h) continue;
          const Out* src = part.data() + (nj * t.h + q) * t.w;
          Out* dst = out + (nj * g.h + iy) * g.w;
          for (int64_t r = 0; r < t.w; r++) {
            const int64_t ix = s * r + pw - g.pad;
            if (ix >= 0 && ix < g.w) dst[ix] = src[r];
          }
        }
      }
    }
  }
  return true;
}

// convT with stride 1 is a stride-1 convolution of dy, padded by k−1−pad, with the kernel flipped and
// its two channel axes swapped: wg [o,reps,k,k] → [reps,o,k,k] reversed in (kh, kw). Stride > 1: by output
// phase (conv_t_strided).
// A stride-1 transposed convolution (pad ≤ k − 1) as a convolution of dy: wg [o,reps,k,k] flipped into
// [reps,o,k,k] (converted to W), and the geometry over dy's planes with padding k − 1 − pad.
template <typename V, typename W>
std::vector<W> flipped_taps(const Geom& g, const V* wg) {
  const int64_t o = g.c, k = g.k;
  std::vector<W> flipped(static_cast<size_t>(g.reps * o * k * k));
  for (int64_t oc = 0; oc < o; oc++)
    for (int64_t j = 0; j < g.reps; j++)
      for (int64_t kh = 0; kh < k; kh++)
        for (int64_t kw = 0; kw < k; kw++)
          flipped[static_cast<size_t>(((j * o + oc) * k + (k - 1 - kh)) * k + (k - 1 - kw))] =
              static_cast<W>(wg[((oc * g.reps + j) * k + kh) * k + kw]);
  return flipped;
}

inline Geom transposed_as_conv(const Geom& g) {
  Geom t = g;
  t.h = g.oh;
  t.w = g.ow;
  t.pad = g.k - 1 - g.pad;
  t.oh = g.h;
  t.ow = g.w;
  return t;
}

template <class Ar, typename S, typename V>
bool conv_t_any(const Ar& ar, const Geom& g, const S* dy, const V* wg, typename Ar::Out* out, int32_t lim) {
  if (use_polyphase(g, 3)) return conv_t_strided(ar, g, dy, wg, out, lim);
  if (g.s == 1 && g.pad <= g.k - 1 && g.reps <= 3) {
    const std::vector<V> flipped = flipped_taps<V, V>(g, wg);
    return conv_any(ar, transposed_as_conv(g), dy, flipped.data(), out, lim);
  }
  if (!in_range(dy, g.n * g.c * g.oh * g.ow, lim)) return false;
  conv_t(ar, g, dy, wg, out);
  return true;
}

// ---- weight-gradient correlation: dyf [n,reps,oh,ow], x [n,c,h,w] → out [reps,c,k,k]
template <class Ar, typename V, typename S>
void conv_w(const Ar& ar, const Geom& g, const V* dyf, const S* x, typename Ar::Out* out) {
  using Acc = typename Ar::Acc;
  const int64_t work = g.n * g.c * g.k * g.k * g.oh * g.ow * g.reps;
  const int64_t chunk = std::min<int64_t>(ar.budget, std::max<int64_t>(1, g.ow));
  for_tasks(g.c * g.reps, work, [&](int64_t task, int) {
    const int64_t ci = task / g.reps, j = task % g.reps;
    for (int64_t kh = 0; kh < g.k; kh++) {
      for (int64_t kw = 0; kw < g.k; kw++) {
        int64_t lo, hi;
        valid_range(g.w, g.ow, kw, g.s, g.pad, &lo, &hi);
        Acc acc = 0;
        for (int64_t ni = 0; ni < g.n; ni++) {
          const V* dyj = dyf + (ni * g.reps + j) * g.oh * g.ow;
          const S* xc = x + (ni * g.c + ci) * g.h * g.w;
          for (int64_t oy = 0; oy < g.oh; oy++) {
            const int64_t iy = oy * g.s + kh - g.pad;
            if (iy < 0 || iy >= g.h) continue;
            const V* dr = dyj + oy * g.ow;
            const S* xr = xc + iy * g.w + kw - g.pad;
            for (int64_t c0 = lo; c0 < hi; c0 += chunk) {
              const int64_t c1 = std::min(hi, c0 + chunk);
              Acc s = 0;
              if (g.s == 1) {
                for (int64_t ox = c0; ox < c1; ox++) s += Ar::mul(dr[ox], xr[ox]);
              } else {
                for (int64_t ox = c0; ox < c1; ox++) s += Ar::mul(dr[ox], xr[ox * g.s]);
              }
              acc = ar.reduce(acc + ar.reduce(s));
            }
          }
        }
        out[((j * g.c + ci) * g.k + kh) * g.k + kw] = ar.finish(acc);
      }
    }
  });
}

// Weight-gradient correlation, stride 1, k ∈ {1, 2, 3, 4}, 1 or 2 vectors: for one input channel and one
// kernel row kh, the R·K sums over (n, oy, ox) advance together, four columns at a time, sharing every
// load of dyf and of the padded input.
#ifdef TEE_VERIFY_AVX2
inline __m256i load4(const int32_t* p) {
  return _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline __m256d load4(const double* p) { return _mm256_loadu_pd(p); }
template <bool ABS>
inline __m256d load4x(const float* p) {
  __m128 f = _mm_loadu_ps(p);
  if (ABS) f = _mm_andnot_ps(_mm_set1_ps(-0.0f), f);
  return _mm256_cvtps_pd(f);
}
inline __m256i madd(__m256i acc, __m256i a, __m256i b) { return _mm256_add_epi64(acc, _mm256_mul_epi32(a, b)); }
inline __m256d madd(__m256d acc, __m256d a, __m256d b) { return _mm256_fmadd_pd(a, b, acc); }
template <typename O>
inline int64_t hsum(const ExactT<O>& ar, __m256i v) {
  alignas(32) int64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
  return ar.reduce(ar.reduce(t[0]) + ar.reduce(t[1]) + ar.reduce(t[2]) + ar.reduce(t[3]));
}
template <bool ABS>
inline double hsum(const Real<ABS>&, __m256d v) {
  alignas(32) double t[4];
  _mm256_store_pd(t, v);
  return (t[0] + t[1]) + (t[2] + t[3]);
}

template <class Ar, typename V, typename S, int R, int K>
bool conv_w_fast(const Ar& ar, const Geom& g, const V* dyf, const S* x, typename Ar::Out* out, int32_t lim) {
  using Acc = typename Ar::Acc;
  using Vec = decltype(load4(static_cast<const V*>(nullptr)));
  const int64_t hp = g.h + 2 * g.pad;
  const int64_t wp = (g.ow + 3) / 4 * 4 + K - 1 + 4;
  bool ok = true;
  const S* xp = pad_input(x, g.n, g.c, g.h, g.w, g.pad, hp, wp, lim, &ok);
  if (!ok) return false;
  const int64_t quads = g.ow / 4, tail = quads * 4;
  // Per row, a vector lane takes `quads` terms and a tail sum up to 3: reduce before `budget` terms.
  const int64_t rows_per_reduce = std::max<int64_t>(1, ar.budget / std::max<int64_t>({1, quads, g.ow - tail}));
  const int64_t work = g.n * g.c * K * K * g.oh * g.ow * R;
  for_tasks(g.c * K, work, [&](int64_t task, int) {
    const int64_t ci = task / K, kh = task % K;
    Vec acc[R][K];
    Acc part[R][K];
    for (int j = 0; j < R; j++)
      for (int q = 0; q < K; q++) {
        acc[j][q] = Vec{};
        part[j][q] = 0;
      }
    int64_t rows = 0;
    for (int64_t ni = 0; ni < g.n; ni++) {
      const S* xc = xp + ((ni * g.c + ci) * hp + kh) * wp;
      for (int64_t oy = 0; oy < g.oh; oy++) {
        const S* xr = xc + oy * wp;
        const V* d[R];
        for (int j = 0; j < R; j++) d[j] = dyf + ((ni * R + j) * g.oh + oy) * g.ow;
        for (int64_t qd = 0; qd < quads; qd++) {
          const int64_t ox = 4 * qd;
          Vec dv[R];
          for (int j = 0; j < R; j++) dv[j] = load4(d[j] + ox);
          for (int kw = 0; kw < K; kw++) {
            Vec xv;
            if constexpr (std::is_same_v<S, float>) xv = load4x<Ar::kAbs>(xr + ox + kw);
            else xv = load4(xr + ox + kw);
            for (int j = 0; j < R; j++) acc[j][kw] = madd(acc[j][kw], dv[j], xv);
          }
        }
        for (int64_t ox = tail; ox < g.ow; ox++)
          for (int kw = 0; kw < K; kw++)
            for (int j = 0; j < R; j++) part[j][kw] += Ar::mul(d[j][ox], xr[ox + kw]);
        if (++rows == rows_per_reduce) {
          for (int j = 0; j < R; j++)
            for (int kw = 0; kw < K; kw++) {
              part[j][kw] = ar.reduce(part[j][kw] + hsum(ar, acc[j][kw]));
              acc[j][kw] = Vec{};
            }
          rows = 0;
        }
      }
    }
    for (int j = 0; j < R; j++)
      for (int kw = 0; kw < K; kw++)
        out[((j * g.c + ci) * K + kh) * K + kw] = ar.finish(ar.reduce(part[j][kw] + hsum(ar, acc[j][kw])));
  });
  return true;
}
#endif

template <class Ar, typename V, typename S>
bool conv_w_any(const Ar& ar, const Geom& g, const V* dyf, const S* x, typename Ar::Out* out, int32_t lim = -1);

// Weight-gradient correlation with stride > 1 through the polyphase input (Polyphase above): the stride-1
// correlation of dyf with x' gives w' [reps][c·P²][k'][k'], whose taps (kh, kw) are read back into
// [reps][c][k][k] (the added taps are dropped).
template <class Ar, typename V, typename S>
bool conv_w_strided(const Ar& ar, const Geom& g, const V* dyf, const S* x, typename Ar::Out* out, int32_t lim) {
  if (!in_range(x, g.n * g.c * g.h * g.w, lim)) return false;
  const Polyphase pp(g);
  const Geom t = pp.geom(g);
  const int64_t per = t.c * t.k * t.k;
  std::vector<typename Ar::Out> wq(static_cast<size_t>(g.reps * per));
  if (!conv_w_any(ar, t, dyf, polyphase_input(x, g, pp), wq.data(), -1)) return false;
  for (int64_t j = 0; j < g.reps; j++)
    for (int64_t ci = 0; ci < g.c; ci++)
      for (int64_t kh = 0; kh < g.k; kh++)
        for (int64_t kw = 0; kw < g.k; kw++) out[((j * g.c + ci) * g.k + kh) * g.k + kw] = wq[j * per + pp.tap(ci, kh, kw)];
  return true;
}

template <class Ar, typename V, typename S>
bool conv_w_any(const Ar& ar, const Geom& g, const V* dyf, const S* x, typename Ar::Out* out, int32_t lim) {
  if (use_polyphase(g, 2) && (g.k + g.s - 1) / g.s <= 4) return conv_w_strided(ar, g, dyf, x, out, lim);
#ifdef TEE_VERIFY_AVX2
  // k ≤ 4 covers the stride-1 kernels and the polyphase forms of strided ones (3×3 s2 → k' = 2, 7×7 s2 → 4,
  // 11×11 s4 → 3).
  if (g.s == 1 && g.reps <= 2 && g.k >= 1 && g.k <= 4) {
    if (g.reps == 1) {
      switch (g.k) {
        case 1: return conv_w_fast<Ar, V, S, 1, 1>(ar, g, dyf, x, out, lim);
        case 2: return conv_w_fast<Ar, V, S, 1, 2>(ar, g, dyf, x, out, lim);
        case 3: return conv_w_fast<Ar, V, S, 1, 3>(ar, g, dyf, x, out, lim);
        default: return conv_w_fast<Ar, V, S, 1, 4>(ar, g, dyf, x, out, lim);
      }
    }
    switch (g.k) {
      case 1: return conv_w_fast<Ar, V, S, 2, 1>(ar, g, dyf, x, out, lim);
      case 2: return conv_w_fast<Ar, V, S, 2, 2>(ar, g, dyf, x, out, lim);
      case 3: return conv_w_fast<Ar, V, S, 2, 3>(ar, g, dyf, x, out, lim);
      default: return conv_w_fast<Ar, V, S, 2, 4>(ar, g, dyf, x, out, lim);
    }
  }
#endif
  if (!in_range(x, g.n * g.c * g.h * g.w, lim)) return false;
  conv_w(ar, g, dyf, x, out);
  return true;
}

// Round to nearest (ties to even) for |v| < 2^51 without a libm call: adding 1.5·2^52 leaves no
// fraction bits. Not folded away: the addon is built without -ffast-math.
inline double round_near(double v) {
  constexpr double kMagic = 6755399441055744.0;
  return (v + kMagic) - kMagic;
}

// ---- argument helpers ----

inline int64_t modulus_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const double v = number_arg(info, i, fn);
  if (!(v >= 2 && v <= double(kMaxModulus)) || std::floor(v) != v) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the modulus must be an integer in [2, 2^24]");
  }
  return static_cast<int64_t>(v);
}

// Every element of a field operand must satisfy |v| ≤ p − 1 (what the overflow budget assumes).
[[noreturn]] inline void range_error(const Napi::CallbackInfo& info, const char* fn, const char* what) {
  throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " has a value outside (−p, p)");
}

// The largest |v| a value of (−p, p) may have.
inline int32_t field_limit(int64_t p) { return static_cast<int32_t>(p - 1); }

inline void check_field(const Napi::CallbackInfo& info, const int32_t* a, int64_t n, int64_t p, const char* fn,
                 const char* what) {
  if (!in_range(a, n, field_limit(p))) range_error(info, fn, what);
}

// (n, c, h, w, reps, k, stride, padding) at argument offset 0; oh/ow derived.
inline Geom geom_args(const Napi::CallbackInfo& info, const char* fn) {
  Geom g;
  g.n = dim_arg(info, 0, fn);
  g.c = dim_arg(info, 1, fn);
  g.h = dim_arg(info, 2, fn);
  g.w = dim_arg(info, 3, fn);
  g.reps = dim_arg(info, 4, fn);
  g.k = dim_arg(info, 5, fn);
  g.s = dim_arg(info, 6, fn);
  g.pad = dim_arg(info, 7, fn, 0);
  g.oh = out_size(g.h, g.k, g.s, g.pad);
  g.ow = out_size(g.w, g.k, g.s, g.pad);
  if (g.oh < 1 || g.ow < 1) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the kernel does not fit the input");
  }
  return g;
}

}  // namespace verify
}  // namespace tee
