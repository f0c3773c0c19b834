// The wide check's kernels on AVX-512 IFMA (wide_ifma.h). Each multiplies values below 2^52 — residues, and
// operands or results lifted to non-negative representatives — in pairs of vpmadd52luq/vpmadd52huq, eight
// lanes at a time, summing the low and high 52 bits of every product into two uint64 lanes that are reduced
// mod P before they can overflow. Compiled with a target attribute (the rest of the addon keeps its build
// flags) and used only where the CPU reports the features.
#include "wide_ifma.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "wide_field.h"

// GCC 12's AVX-512 intrinsics (the unmasked forms pass an undefined vector to their masked builtins) set off
// -Wmaybe-uninitialized once inlined into these kernels: a false positive of the headers.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tee {
namespace wide_ifma {

#if defined(__x86_64__) && defined(__GNUC__) && defined(TEE_VERIFY_AVX2)
#define TEE_WIDE_IFMA 1
#endif

#ifdef TEE_WIDE_IFMA
namespace {

using wide::addmod;
using wide::first_invalid;
using wide::kOperandLimit;
using wide::kOperandMax;
using wide::Mod;
using wide::mulmod;
using wide::to_residue;
using verify::Geom;
using wide::valid_y;

#define TEE_IFMA_TARGET __attribute__((target("avx512f,avx512dq,avx512vl,avx512ifma")))

std::atomic<bool> g_enabled{true};

constexpr uint64_t kLow52 = (uint64_t(1) << 52) - 1;
// The IFMA kernels multiply non-negative representatives below 2^52: a value v with |v| < limit (≤ 2^47) is
// taken as v + lift, lift = (⌊limit/P⌋ + 1)·P ≡ 0 (mod P), which lies in [0, limit + P + limit) ⊂ [0, 2^52) for
// any P < 2^50 (adding P alone would leave negatives for a small modulus, such as the tests' P = 251).
inline int64_t lift(int64_t limit, int64_t p) { return (limit / p + 1) * p; }
// Products a lane may take between reductions: each adds below 2^52 to a low-half sum, so 2^11 of them stay
// below 2^63.
constexpr int64_t kIfmaLaneSteps = int64_t(1) << 11;
// Rows of a fold per load and store of its sums.
constexpr int64_t kGroup = 4;
// Operand folds take rows of at least this many columns along the columns (shorter rows other than the 9
// and 1 of fold_short would put one row in each vector).
constexpr int64_t kIfmaMinCols = 64;

// fold of short rows on IFMA — a grad-input check's weights [O, C, K] over C, K = 9 (3×3) or 1 — with the
// lanes along the flattened row W[o] (C·K elements) against the coefficients spread to match,
// rs[j][c·K + t] = r[j][c]: eight elements per step, step q of every period of K steps going to accumulator
// q (LCM(8, K) = 8K elements), so lane l of accumulator q only ever holds column (8q + l) mod K. A chunk of
// 128 periods keeps each lane below 128·2^52 = 2^59; the K·8 lanes then sum by column (< 2^62) and reduce.
template <int K>
TEE_IFMA_TARGET void ifma_fold_short_row(int64_t rows, int64_t reps, const int32_t* row, const uint64_t* rs,
                                         const Mod& md, uint64_t w52, double* out) {
  const int64_t len = rows * K;
  constexpr int64_t kPeriod = 8 * K;
  constexpr int64_t kChunk = kPeriod * 128;
  const int64_t up = lift(kOperandLimit, md.p);
  const __m512i liftv = _mm512_set1_epi64(up), zero = _mm512_setzero_si512();
    for (int64_t j = 0; j < reps; j++) {
      const uint64_t* rj = rs + j * len;
      uint64_t res[K] = {};
      for (int64_t c0 = 0; c0 < len; c0 += kChunk) {
        const int64_t c1 = std::min(len, c0 + kChunk);
        __m512i lo[K], hi[K];
        for (int q = 0; q < K; q++) lo[q] = hi[q] = zero;
        int64_t l = c0;
        for (; l + kPeriod <= c1; l += kPeriod) {
          for (int q = 0; q < K; q++) {
            __m512i x = _mm512_maskz_cvtepi32_epi64(0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + l + 8 * q)));
            x = _mm512_add_epi64(x, liftv);
            const __m512i rv = _mm512_loadu_si512(rj + l + 8 * q);
            lo[q] = _mm512_madd52lo_epu64(lo[q], x, rv);
            hi[q] = _mm512_madd52hi_epu64(hi[q], x, rv);
          }
        }
        uint64_t sl[K] = {}, sh[K] = {};
        for (int q = 0; q < K; q++) {
          alignas(64) uint64_t tl[8], th[8];
          _mm512_store_si512(tl, lo[q]);
          _mm512_store_si512(th, hi[q]);
          for (int k = 0; k < 8; k++) {
            sl[(8 * q + k) % K] += tl[k];
            sh[(8 * q + k) % K] += th[k];
          }
        }
        // The chunk's last partial period, one element at a time (fewer than 8K terms per column).
        for (; l < c1; l++) {
          const int32_t v = row[l];
          const unsigned __int128 t =
              static_cast<unsigned __int128>(static_cast<uint64_t>(v + up)) * rj[l];
          sl[(l - c0) % K] += static_cast<uint64_t>(t) & kLow52;
          sh[(l - c0) % K] += static_cast<uint64_t>(t >> 52);
        }
        for (int t = 0; t < K; t++) {
          const uint64_t v = md.add(md.reduce(static_cast<int64_t>(sl[t])),
                                    md.mul(md.reduce(static_cast<int64_t>(sh[t])), w52));
          res[t] = md.add(res[t], v);
        }
      }
      for (int t = 0; t < K; t++) out[j * K + t] = double(res[t]);
    }
}

template <int K>
void ifma_fold_short(int64_t batch, int64_t rows, int64_t reps, const int32_t* a, const uint64_t* rs,
                     const Mod& md, double* out) {
  const uint64_t w52 = to_residue(int64_t(1) << 52, md.p);
  verify::for_tasks(batch, batch * rows * K * reps * 2, [&](int64_t b, int) {
    ifma_fold_short_row<K>(rows, reps, a + b * rows * K, rs, md, w52, out + b * reps * K);
  });
}
// matvecs on IFMA, out[j,i] = Σ_l a[i,l]·u[j,l] mod P with u residues (< 2^50) and the row's operands lifted
// (lift, above): eight columns per step, G vectors at a time sharing each load of the row. Each lane's low and
// high sums take at most kMatvecChunk/8 = 128 products (< 2^59 and < 2^55) before the chunk's lanes are
// summed (< 2^62) and reduced, so neither the lanes nor their sums overflow. A row's last columns come in a
// masked load (zeros beyond the row).
constexpr int64_t kMatvecChunk = 1024;

// Two vectors of 16 lanes' sums (each below 2^63) reduced into 16 residues r[0..15], and cleared.
TEE_IFMA_TARGET inline void flush_lanes16(__m512i* a, __m512i* b, uint64_t* r, const Mod& md) {
  alignas(64) uint64_t t[16];
  _mm512_store_si512(t, *a);
  _mm512_store_si512(t + 8, *b);
  for (int l = 0; l < 16; l++) r[l] = md.add(r[l], md.reduce(static_cast<int64_t>(t[l])));
  *a = *b = _mm512_setzero_si512();
}

TEE_IFMA_TARGET inline uint64_t lane_sum(__m512i v) {
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, v);
  return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));
}

// How a row is cut and its lanes combined. A lifted operand is below 2^51 and a residue below 2^50, so each
// step adds below 2^52 to a lane's low sum and below 2^49 to its high sum. Where w52 = 2^52 mod P is small
// (108 for P = 2^50 − 27) the lanes combine as lo + w52·hi before one horizontal sum: chunks of n steps with
// 8·n·(2^52 + w52·2^49) < 2^63 (17 steps for the default P) — a short row pays one reduction per vector
// instead of two and a modular product. Otherwise chunks of kMatvecChunk columns, lo and hi apart.
struct MatvecChunks {
  uint64_t w52;
  bool fused;
  int64_t len;
  explicit MatvecChunks(int64_t p) : w52(to_residue(int64_t(1) << 52, p)), fused(false), len(kMatvecChunk) {
    if (w52 < (uint64_t(1) << 12)) {
      const uint64_t step = (uint64_t(1) << 52) + (w52 << 49);
      const int64_t n = static_cast<int64_t>((uint64_t(1) << 63) / (8 * step));
      if (n >= 4) {
        fused = true;
        len = 8 * std::min<int64_t>(n - 1, kMatvecChunk / 8);
      }
    }
  }
};

// Columns [c0, c1) of one row (lifted by liftv) against G vectors u[g·kk + ·]: the lanes' low and high sums
// (lo, hi cleared first); the last step loads under a mask (zeros beyond c1).
template <int G>
TEE_IFMA_TARGET inline void chunk_sums(const int32_t* row, int64_t c0, int64_t c1, int64_t kk, const uint64_t* u,
                                       __m512i liftv, __m512i (&lo)[G], __m512i (&hi)[G]) {
  for (int g = 0; g < G; g++) lo[g] = hi[g] = _mm512_setzero_si512();
  for (int64_t l = c0; l < c1; l += 8) {
    const __mmask8 live = l + 8 <= c1 ? __mmask8(0xff) : __mmask8((1u << (c1 - l)) - 1);
    __m512i x = _mm512_maskz_cvtepi32_epi64(0xff, _mm256_maskz_loadu_epi32(live, row + l));
    x = _mm512_add_epi64(x, liftv);
    for (int g = 0; g < G; g++) {
      const __m512i uv = _mm512_maskz_loadu_epi64(live, u + g * kk + l);
      lo[g] = _mm512_madd52lo_epu64(lo[g], x, uv);
      hi[g] = _mm512_madd52hi_epu64(hi[g], x, uv);
    }
  }
}

template <int G>
TEE_IFMA_TARGET void ifma_matvecs_each(int64_t m, int64_t kk, int64_t j0, const int32_t* a, const uint64_t* u,
                                       const Mod& md, const MatvecChunks& ch, double* out, int64_t i0, int64_t i1) {
  const __m512i liftv = _mm512_set1_epi64(lift(kOperandLimit, md.p));
  const __m512i w52v = _mm512_set1_epi64(static_cast<int64_t>(ch.w52));
  for (int64_t i = i0; i < i1; i++) {
    const int32_t* row = a + i * kk;
    uint64_t res[G] = {};
    for (int64_t c0 = 0; c0 < kk; c0 += ch.len) {
      const int64_t c1 = std::min(kk, c0 + ch.len);
      __m512i lo[G], hi[G];
      chunk_sums<G>(row, c0, c1, kk, u + j0 * kk, liftv, lo, hi);
      for (int g = 0; g < G; g++) {
        uint64_t t;
        if (ch.fused) {
          // lo + (2^52 mod P)·hi per lane, one sum and one reduction (MatvecChunks bounds it below 2^63).
          t = md.reduce(static_cast<int64_t>(lane_sum(_mm512_add_epi64(lo[g], _mm512_mullo_epi64(hi[g], w52v)))));
        } else {
          const uint64_t sl = lane_sum(lo[g]), sh = lane_sum(hi[g]);
          t = md.add(md.reduce(static_cast<int64_t>(sl)), md.mul(md.reduce(static_cast<int64_t>(sh)), ch.w52));
        }
        res[g] = md.add(res[g], t);
      }
    }
    for (int g = 0; g < G; g++) out[(j0 + g) * m + i] = double(res[g]);
  }
}

// Σ of each vector's eight lanes, for eight vectors at once: lane r of the result is the sum of v[r]'s lanes
// (pairs of lanes, then 128-bit halves, then 256-bit halves added across the vectors).
TEE_IFMA_TARGET inline __m512i lane_sums8(const __m512i* v) {
  __m512i s[4], t[2];
  for (int k = 0; k < 4; k++)
    s[k] = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2 * k], v[2 * k + 1]), _mm512_unpackhi_epi64(v[2 * k], v[2 * k + 1]));
  for (int k = 0; k < 2; k++)
    t[k] = _mm512_add_epi64(_mm512_shuffle_i64x2(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i64x2(s[2 * k], s[2 * k + 1], _MM_SHUFFLE(3, 1, 3, 1)));
  return _mm512_add_epi64(_mm512_shuffle_i64x2(t[0], t[1], _MM_SHUFFLE(2, 0, 2, 0)),
                          _mm512_shuffle_i64x2(t[0], t[1], _MM_SHUFFLE(3, 1, 3, 1)));
}

// v mod P lane by lane for 0 ≤ v < 2^63 and P ≥ 2^40 (so v/P < 2^23 and the float64 quotient is off by at
// most one): q = ⌊v·(1/P)⌋, r = v − q·P in [−P, 2P), one correction each way.
TEE_IFMA_TARGET inline __m512i reduce8(__m512i v, __m512i pv, __m512d inv) {
  const __m512i q = _mm512_cvttpd_epu64(_mm512_mul_pd(_mm512_cvtepu64_pd(v), inv));
  __m512i r = _mm512_sub_epi64(v, _mm512_mullo_epi64(q, pv));
  r = _mm512_mask_add_epi64(r, _mm512_cmplt_epi64_mask(r, _mm512_setzero_si512()), r, pv);
  return _mm512_mask_sub_epi64(r, _mm512_cmpge_epi64_mask(r, pv), r, pv);
}

// Short rows (one chunk each) eight at a time: each row's lanes combined as lo + w52·hi (MatvecChunks), the
// eight rows' lane sums in one vector, reduced in one vector.
template <int G>
TEE_IFMA_TARGET void ifma_matvecs_short(int64_t m, int64_t kk, int64_t j0, const int32_t* a, const uint64_t* u,
                                        const Mod& md, const MatvecChunks& ch, double* out, int64_t i0, int64_t i1) {
  const __m512i liftv = _mm512_set1_epi64(lift(kOperandLimit, md.p));
  const __m512i w52v = _mm512_set1_epi64(static_cast<int64_t>(ch.w52)), pv = _mm512_set1_epi64(md.p);
  const __m512d inv = _mm512_set1_pd(md.inv);
  int64_t i = i0;
  for (; i + 8 <= i1; i += 8) {
    __m512i comb[G][8];
    for (int r = 0; r < 8; r++) {
      const int32_t* row = a + (i + r) * kk;
      __m512i lo[G], hi[G];
      chunk_sums<G>(row, 0, kk, kk, u + j0 * kk, liftv, lo, hi);
      for (int g = 0; g < G; g++) comb[g][r] = _mm512_add_epi64(lo[g], _mm512_mullo_epi64(hi[g], w52v));
    }
    for (int g = 0; g < G; g++) {
      alignas(64) uint64_t res[8];
      _mm512_store_si512(res, reduce8(lane_sums8(comb[g]), pv, inv));
      for (int r = 0; r < 8; r++) out[(j0 + g) * m + i + r] = double(res[r]);
    }
  }
  if (i < i1) ifma_matvecs_each<G>(m, kk, j0, a, u, md, ch, out, i, i1);
}

template <int G>
void ifma_matvecs_rows(int64_t m, int64_t kk, int64_t j0, const int32_t* a, const uint64_t* u, const Mod& md,
                       const MatvecChunks& ch, double* out, int64_t i0, int64_t i1) {
  if (ch.fused && kk <= ch.len && md.p >= (int64_t(1) << 40)) {
    ifma_matvecs_short<G>(m, kk, j0, a, u, md, ch, out, i0, i1);
  } else {
    ifma_matvecs_each<G>(m, kk, j0, a, u, md, ch, out, i0, i1);
  }
}

void ifma_matvecs(int64_t m, int64_t kk, int64_t reps, const int32_t* a, const uint64_t* u, int64_t p, double* out) {
  const int64_t rb = std::max<int64_t>(1, std::min<int64_t>(64, m / (4 * std::max(1, threads()))));
  const int64_t blocks = (m + rb - 1) / rb;
  const Mod md(p);
  const MatvecChunks ch(p);
  verify::for_tasks(blocks, m * kk * reps, [&](int64_t task, int) {
    const int64_t i0 = task * rb, i1 = std::min(m, i0 + rb);
    int64_t j = 0;
    for (; j + 3 <= reps; j += 3) ifma_matvecs_rows<3>(m, kk, j, a, u, md, ch, out, i0, i1);
    for (; j + 2 <= reps; j += 2) ifma_matvecs_rows<2>(m, kk, j, a, u, md, ch, out, i0, i1);
    for (; j < reps; j++) ifma_matvecs_rows<1>(m, kk, j, a, u, md, ch, out, i0, i1);
  });
}
// A stride-1 check convolution on IFMA, out[b,j,oy,ox] = Σ_(c,kh,kw) wf[j,c,kh,kw]·x[b,c,oy+kh−pad,ox+kw−pad]
// mod P, over the zero-padded input (pad_input; padding zeros lift to a multiple of P): one output row of 16
// columns per block, its input (lifted, below 2^51) against each folded weight (a residue) broadcast, the
// products' 52-bit halves summed in four vectors and reduced every 2^11 taps.
TEE_IFMA_TARGET void conv_row_ifma(const int32_t* xrow, int64_t c, int64_t k, int64_t plane, int64_t wp, int64_t ow,
                                   const uint64_t* wj, const Mod& md, int64_t lifted, uint64_t w52, double* orow) {
  const __m512i liftv = _mm512_set1_epi64(lifted);
  for (int64_t ox0 = 0; ox0 < ow; ox0 += 16) {
    __m512i lo0 = _mm512_setzero_si512(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
    uint64_t rl[16] = {}, rh[16] = {};
    int64_t steps = 0;
    for (int64_t ci = 0; ci < c; ci++) {
      for (int64_t kh = 0; kh < k; kh++) {
        const int32_t* xs = xrow + ci * plane + kh * wp + ox0;
        const uint64_t* wt = wj + (ci * k + kh) * k;
        for (int64_t kw = 0; kw < k; kw++) {
          const __m512i xv = _mm512_loadu_si512(xs + kw);
          const __m512i x0 = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_castsi512_si256(xv)), liftv);
          const __m512i x1 = _mm512_add_epi64(_mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(xv, 1)), liftv);
          const __m512i wv = _mm512_set1_epi64(static_cast<int64_t>(wt[kw]));
          lo0 = _mm512_madd52lo_epu64(lo0, x0, wv);
          hi0 = _mm512_madd52hi_epu64(hi0, x0, wv);
          lo1 = _mm512_madd52lo_epu64(lo1, x1, wv);
          hi1 = _mm512_madd52hi_epu64(hi1, x1, wv);
          if (++steps == kIfmaLaneSteps) {
            flush_lanes16(&lo0, &lo1, rl, md);
            flush_lanes16(&hi0, &hi1, rh, md);
            steps = 0;
          }
        }
      }
    }
    flush_lanes16(&lo0, &lo1, rl, md);
    flush_lanes16(&hi0, &hi1, rh, md);
    const int64_t n = std::min<int64_t>(16, ow - ox0);
    for (int64_t l = 0; l < n; l++) orow[ox0 + l] = double(md.add(rl[l], md.mul(rh[l], w52)));
  }
}

// The stride-1 convolution on IFMA for every image and output row; false (nothing computed) when some |x|
// exceeds the operand range.
bool conv_ifma(const Geom& g, const int32_t* x, const uint64_t* wf, int64_t p, double* out) {
  constexpr int64_t BW = 16;
  const int64_t blocks = (g.ow + BW - 1) / BW;
  const int64_t hp = g.h + 2 * g.pad;
  const int64_t wp = blocks * BW + g.k - 1;
  bool ok = true;
  const int32_t* xpd = verify::pad_input(x, g.n, g.c, g.h, g.w, g.pad, hp, wp, kOperandMax, &ok);
  if (!ok) return false;
  const Mod md(p);
  const int64_t lifted = lift(kOperandLimit, p);
  const uint64_t w52 = to_residue(int64_t(1) << 52, p);
  verify::for_tasks(g.n * g.oh, g.n * g.c * g.k * g.k * g.oh * g.ow * g.reps, [&](int64_t task, int) {
    const int64_t ni = task / g.oh, oy = task % g.oh;
    for (int64_t j = 0; j < g.reps; j++) {
      conv_row_ifma(xpd + (ni * g.c * hp + oy) * wp, g.c, g.k, hp * wp, wp, g.ow, wf + j * g.c * g.k * g.k, md, lifted,
                    w52, out + ((ni * g.reps + j) * g.oh + oy) * g.ow);
    }
  });
  return true;
}

// Small output planes with several images: the lanes run over images instead of output columns (a row of 7,
// 4, 2 or 1 columns would leave most of a 16-column block empty). The input is copied once, padded and
// transposed to xt[c][row][col][image] (range-checked on the way); then every output position takes, per tap,
// the next eight images' inputs against the folded weight. Same sums, in the same lanes' arithmetic.
TEE_IFMA_TARGET void conv_images_ifma(const int32_t* xt, int64_t n, int64_t c, int64_t k, int64_t hp, int64_t wp,
                                      int64_t oy, int64_t ox, int64_t b0, const uint64_t* wj, const Mod& md,
                                      int64_t lifted, uint64_t w52, uint64_t* res) {
  const __m512i liftv = _mm512_set1_epi64(lifted);
  const __mmask8 live = b0 + 8 <= n ? __mmask8(0xff) : __mmask8((1u << (n - b0)) - 1);
  __m512i lo = _mm512_setzero_si512(), hi = lo, spare = lo;
  uint64_t rl[16] = {}, rh[16] = {};
  int64_t steps = 0;
  for (int64_t ci = 0; ci < c; ci++) {
    for (int64_t kh = 0; kh < k; kh++) {
      const int32_t* xs = xt + ((ci * hp + oy + kh) * wp + ox) * n + b0;
      const uint64_t* wt = wj + (ci * k + kh) * k;
      for (int64_t kw = 0; kw < k; kw++) {
        const __m512i x = _mm512_add_epi64(
            _mm512_maskz_cvtepi32_epi64(0xff, _mm256_maskz_loadu_epi32(live, xs + kw * n)), liftv);
        const __m512i wv = _mm512_set1_epi64(static_cast<int64_t>(wt[kw]));
        lo = _mm512_madd52lo_epu64(lo, x, wv);
        hi = _mm512_madd52hi_epu64(hi, x, wv);
        if (++steps == kIfmaLaneSteps) {
          flush_lanes16(&lo, &spare, rl, md);
          flush_lanes16(&hi, &spare, rh, md);
          steps = 0;
        }
      }
    }
  }
  flush_lanes16(&lo, &spare, rl, md);
  flush_lanes16(&hi, &spare, rh, md);
  for (int l = 0; l < 8; l++) res[l] = md.add(rl[l], md.mul(rh[l], w52));
}

bool conv_images(const Geom& g, const int32_t* x, const uint64_t* wf, int64_t p, double* out) {
  const int64_t hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad;
  std::vector<int32_t> xt(static_cast<size_t>(g.c * hp * wp * g.n), 0);
  int32_t bad = 0;
  for (int64_t b = 0; b < g.n; b++)
    for (int64_t ci = 0; ci < g.c; ci++)
      for (int64_t iy = 0; iy < g.h; iy++)
        for (int64_t ix = 0; ix < g.w; ix++) {
          const int32_t v = x[((b * g.c + ci) * g.h + iy) * g.w + ix];
          bad |= (v > kOperandMax) | (v < -kOperandMax);
          xt[static_cast<size_t>(((ci * hp + iy + g.pad) * wp + ix + g.pad) * g.n + b)] = v;
        }
  if (bad != 0) return false;
  const Mod md(p);
  const int64_t lifted = lift(kOperandLimit, p);
  const uint64_t w52 = to_residue(int64_t(1) << 52, p);
  const int64_t groups = (g.n + 7) / 8, plane = g.oh * g.ow;
  verify::for_tasks(plane * groups * g.reps, g.n * g.c * g.k * g.k * plane * g.reps, [&](int64_t task, int) {
    const int64_t j = task / (plane * groups), pos = (task / groups) % plane, b0 = (task % groups) * 8;
    uint64_t res[8];
    conv_images_ifma(xt.data(), g.n, g.c, g.k, hp, wp, pos / g.ow, pos % g.ow, b0, wf + j * g.c * g.k * g.k, md,
                     lifted, w52, res);
    for (int64_t b = b0; b < std::min(g.n, b0 + 8); b++) out[(b * g.reps + j) * plane + pos] = double(res[b - b0]);
  });
  return true;
}

// One tap of WideCorrResidues on IFMA (stride 1 or 2): along each output row, eight residue pairs per step
// into lane sums of the 52-bit halves of their products (residues are below 2^50), the input's row taken
// every st-th element (two loads and a permutation for st = 2); lanes are reduced into two residues every
// 2^11 steps (a lane then holds below 2^11·2^52 = 2^63).
// The lanes of two IFMA sums (each below 2^63) reduced into two residues, and cleared.
TEE_IFMA_TARGET inline void flush_lanes(__m512i* lo, __m512i* hi, uint64_t* rlo, uint64_t* rhi, const Mod& md) {
  alignas(64) uint64_t tl[8], th[8];
  _mm512_store_si512(tl, *lo);
  _mm512_store_si512(th, *hi);
  for (int l = 0; l < 8; l++) {
    *rlo = md.add(*rlo, md.reduce(static_cast<int64_t>(tl[l])));
    *rhi = md.add(*rhi, md.reduce(static_cast<int64_t>(th[l])));
  }
  *lo = *hi = _mm512_setzero_si512();
}

TEE_IFMA_TARGET double corr_tap_ifma(int64_t n, int64_t reps, int64_t h, int64_t w, int64_t st, int64_t pad,
                                     int64_t oh, int64_t ow, const double* dyf, const double* xs, const Mod& md,
                                     int64_t j, int64_t kh, int64_t kw) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
  __m512i lo = zero, hi = zero;
  uint64_t rlo = 0, rhi = 0;
  int64_t steps = 0;
  // Output columns whose input column ox·st + kw − pad lies inside [0, w).
  const int64_t o0 = std::max<int64_t>(0, (pad - kw + st - 1) / st);
  const int64_t o1 = std::min<int64_t>(ow, (w - 1 - kw + pad) / st + 1);
  for (int64_t b = 0; b < n; b++) {
    const double* d = dyf + (b * reps + j) * oh * ow;
    const double* x = xs + (b * reps + j) * h * w;
    for (int64_t oy = 0; oy < oh; oy++) {
      const int64_t iy = oy * st + kh - pad;
      if (iy < 0 || iy >= h || o0 >= o1) continue;
      const double* dr = d + oy * ow;
      const double* xr = x + iy * w + o0 * st + kw - pad;
      for (int64_t ox = o0; ox < o1; ox += 8) {
        const int64_t cnt = std::min<int64_t>(8, o1 - ox);
        const __mmask8 live = __mmask8((1u << cnt) - 1);
        const __m512i dv = _mm512_cvtpd_epu64(_mm512_maskz_loadu_pd(live, dr + ox));
        __m512d xv;
        if (st == 1) {
          xv = _mm512_maskz_loadu_pd(live, xr + (ox - o0));
        } else {
          // Elements 0, 2, …, 2(cnt − 1) of the next 2·cnt − 1 input columns.
          const int64_t span = 2 * cnt - 1;
          const __mmask8 m0 = __mmask8(span >= 8 ? 0xff : (1u << span) - 1);
          const __mmask8 m1 = __mmask8(span > 8 ? (1u << (span - 8)) - 1 : 0);
          const double* q = xr + 2 * (ox - o0);
          xv = _mm512_permutex2var_pd(_mm512_maskz_loadu_pd(m0, q), even, _mm512_maskz_loadu_pd(m1, q + 8));
        }
        const __m512i xi = _mm512_cvtpd_epu64(xv);
        lo = _mm512_madd52lo_epu64(lo, dv, xi);
        hi = _mm512_madd52hi_epu64(hi, dv, xi);
        if (++steps == kIfmaLaneSteps) {
          flush_lanes(&lo, &hi, &rlo, &rhi, md);
          steps = 0;
        }
      }
    }
  }
  flush_lanes(&lo, &hi, &rlo, &rhi, md);
  return double(md.add(rlo, md.mul(rhi, to_residue(int64_t(1) << 52, md.p))));
}
// Rows between reductions of the IFMA sums: a low half is below 2^52, so 2^11 of them on top of a reduced
// sum (< 2^50) stay below 2^64; high halves are below 2^48.
constexpr int64_t kIfmaBudgetRows = int64_t(1) << 11;
// The IFMA loop consumes its rows faster: prefetched further ahead (cold 19 MB result: 0.89 → 0.75 ms).
constexpr int64_t kIfmaPrefetchAhead = 256;

// Rows of the source of an IFMA fold: the untrusted result (float64, validated: an integer within ±bound,
// a refused element counts as 0) or an operand (int32 already range-checked). Either way an element comes out
// lifted to a non-negative representative below 2^52 (lift, above): eight at a time (with the lanes that
// passed) or one at a time.
// (Scalars only: the vector constants are made inside the IFMA-targeted functions, where they inline.)
struct ResultRows {
  using T = double;
  double bound;
  int64_t p;
  int64_t up;  // lift(⌊bound⌋ + 1, p)
  TEE_IFMA_TARGET __m512i load8(const double* y, __mmask8* okall) const {
    const __m512d v = _mm512_loadu_pd(y);
    const __mmask8 ok = _mm512_cmp_pd_mask(_mm512_abs_pd(v), _mm512_set1_pd(bound), _CMP_LE_OQ) &
                        _mm512_cmp_pd_mask(_mm512_mask_roundscale_pd(v, 0xff, v, _MM_FROUND_TO_NEAREST_INT), v,
                                           _CMP_EQ_OQ);
    *okall &= ok;
    const __m512i q = _mm512_maskz_cvtpd_epi64(ok, v);
    return _mm512_add_epi64(q, _mm512_set1_epi64(up));
  }
  uint64_t load1(const double* y, bool* ok) const {
    const bool fine = valid_y(*y, bound);
    *ok &= fine;
    const int64_t q = fine ? static_cast<int64_t>(*y) : 0;
    return static_cast<uint64_t>(q + up);
  }
  int64_t first_invalid_in(const double* y, int64_t n) const { return first_invalid(y, 0, n, bound); }
};

struct OperandRows {
  using T = int32_t;
  int64_t p;
  int64_t up;  // lift(2^24, p)
  TEE_IFMA_TARGET __m512i load8(const int32_t* a, __mmask8*) const {
    const __m512i q = _mm512_maskz_cvtepi32_epi64(0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)));
    return _mm512_add_epi64(q, _mm512_set1_epi64(up));
  }
  uint64_t load1(const int32_t* a, bool*) const { return static_cast<uint64_t>(*a + up); }
  int64_t first_invalid_in(const int32_t*, int64_t) const { return -1; }
};

// An IFMA fold, out[b,j,c] = Σ_row r[j,row]·x[b,row,c] mod P: each product of residues split as lo52 +
// 2^52·hi52 into two uint64 sums per column, combined mod P at the end — the same residues as the limb
// paths. Columns [c0, c0+n) of image b; acc: [reps][2][n]. Returns the global index of the first refused
// element among them (in index order), or −1.
template <class Src>
TEE_IFMA_TARGET int64_t fold_block_ifma(const Src& src, const typename Src::T* x, int64_t rows, int64_t cols,
                                        int64_t reps, const uint64_t* r, int64_t p, int64_t b, int64_t c0,
                                        int64_t n, uint64_t* acc, double* out) {
  const int64_t stride = n;
  std::fill(acc, acc + 2 * reps * stride, uint64_t(0));
  const uint64_t up = static_cast<uint64_t>(p);
  const int64_t nv = n / 8 * 8;
  int64_t bad = -1;
  int64_t since = 0;
  for (int64_t row = 0; row < rows; row += kGroup) {
    const int64_t gn = std::min<int64_t>(kGroup, rows - row);
    const typename Src::T* xr[kGroup];
    for (int g = 0; g < gn; g++) xr[g] = x + (b * rows + row + g) * cols + c0;
    __mmask8 okall = 0xff;
    for (int64_t c = 0; c < nv; c += 8) {
      for (int g = 0; g < gn; g++)
        _mm_prefetch(reinterpret_cast<const char*>(xr[g] + c + kIfmaPrefetchAhead), _MM_HINT_T0);
      for (int64_t j = 0; j < reps; j++) {
        uint64_t* lo_p = acc + 2 * j * stride + c;
        __m512i lo = _mm512_loadu_si512(lo_p), hi = _mm512_loadu_si512(lo_p + stride);
        for (int g = 0; g < gn; g++) {
          const __m512i v = src.load8(xr[g] + c, &okall);
          const __m512i rv = _mm512_set1_epi64(static_cast<int64_t>(r[j * rows + row + g]));
          lo = _mm512_madd52lo_epu64(lo, v, rv);
          hi = _mm512_madd52hi_epu64(hi, v, rv);
        }
        _mm512_storeu_si512(lo_p, lo);
        _mm512_storeu_si512(lo_p + stride, hi);
      }
    }
    bool tail_ok = true;
    for (int g = 0; g < gn; g++) {
      for (int64_t c = nv; c < n; c++) {
        const uint64_t v = src.load1(xr[g] + c, &tail_ok);
        for (int64_t j = 0; j < reps; j++) {
          const unsigned __int128 t = static_cast<unsigned __int128>(v) * r[j * rows + row + g];
          acc[2 * j * stride + c] += static_cast<uint64_t>(t) & kLow52;
          acc[(2 * j + 1) * stride + c] += static_cast<uint64_t>(t >> 52);
        }
      }
    }
    if (bad < 0 && (!tail_ok || okall != 0xff)) {
      for (int g = 0; g < gn && bad < 0; g++) {
        const int64_t i = src.first_invalid_in(xr[g], n);
        if (i >= 0) bad = (b * rows + row + g) * cols + c0 + i;
      }
    }
    since += gn;
    if (since > kIfmaBudgetRows - kGroup) {
      for (int64_t i = 0; i < 2 * reps * stride; i++) acc[i] %= up;
      since = 0;
    }
  }
  const uint64_t w52 = to_residue(int64_t(1) << 52, p);
  for (int64_t j = 0; j < reps; j++) {
    const uint64_t* lo = acc + 2 * j * stride;
    double* o = out + (b * reps + j) * cols + c0;
    for (int64_t c = 0; c < n; c++) o[c] = double(addmod(lo[c] % up, mulmod(lo[stride + c] % up, w52, up), up));
  }
  return bad;
}

// The whole fold on IFMA: tasks over (image, column block); the first refused element's index or −1.
template <class Src>
int64_t fold_ifma(const Src& src, const typename Src::T* x, int64_t batch, int64_t rows, int64_t cols,
                  int64_t reps, const double* r, int64_t p, double* out) {
  std::vector<uint64_t> r64(static_cast<size_t>(reps * rows));
  for (size_t i = 0; i < r64.size(); i++) r64[i] = static_cast<uint64_t>(r[i]);
  const int64_t work = batch * rows * cols * reps * 2;
  const int nt = std::max(1, threads_for(work));
  int64_t cb = (cols + 2 * nt - 1) / (2 * nt);
  cb = std::min(std::max<int64_t>(256, (cb + 63) / 64 * 64), cols);
  const int64_t blocks = (cols + cb - 1) / cb;
  const int teams = verify::team_size(batch * blocks, work);
  std::vector<uint64_t> ws(static_cast<size_t>(teams) * 2 * reps * cb);
  std::vector<int64_t> bad(static_cast<size_t>(batch * blocks), -1);
  verify::for_tasks(batch * blocks, work, [&](int64_t task, int tid) {
    const int64_t b = task / blocks, c0 = (task % blocks) * cb;
    const int64_t n = std::min(cb, cols - c0);
    uint64_t* acc = ws.data() + static_cast<size_t>(tid) * 2 * reps * cb;
    bad[static_cast<size_t>(task)] = fold_block_ifma(src, x, rows, cols, reps, r64.data(), p, b, c0, n, acc, out);
  });
  r64.assign(r64.size(), 0);
  int64_t first = -1;
  for (int64_t v : bad)
    if (v >= 0 && (first < 0 || v < first)) first = v;
  return first;
}

// rows_sums on IFMA: per channel and kernel row, the row's residues (exact in float64, converted eight at a
// time) against the coefficient broadcast, into low and high sums per column kept in memory; every 2^11
// channels the sums are reduced into z.
TEE_IFMA_TARGET void rows_sums_ifma(const double* m, int64_t chans, int64_t len, int64_t k, const uint64_t* coef,
                                    const Mod& md, uint64_t* z) {
  std::vector<uint64_t> acc(static_cast<size_t>(2 * k * len), 0);  // [kh][lo, hi][len]
  std::fill(z, z + k * len, uint64_t(0));
  const uint64_t w52 = to_residue(int64_t(1) << 52, md.p);
  auto flush = [&]() {
    for (int64_t kh = 0; kh < k; kh++) {
      uint64_t* lo = acc.data() + 2 * kh * len;
      for (int64_t r = 0; r < len; r++) {
        const uint64_t v = md.add(md.reduce(static_cast<int64_t>(lo[r])),
                                  md.mul(md.reduce(static_cast<int64_t>(lo[len + r])), w52));
        z[kh * len + r] = md.add(z[kh * len + r], v);
        lo[r] = lo[len + r] = 0;
      }
    }
  };
  int64_t since = 0;
  for (int64_t c = 0; c < chans; c++) {
    const double* mr = m + c * len;
    for (int64_t kh = 0; kh < k; kh++) {
      const __m512i cv = _mm512_set1_epi64(static_cast<int64_t>(coef[kh * chans + c]));
      uint64_t* lo = acc.data() + 2 * kh * len;
      uint64_t* hi = lo + len;
      for (int64_t r = 0; r < len; r += 8) {
        const __mmask8 live = r + 8 <= len ? __mmask8(0xff) : __mmask8((1u << (len - r)) - 1);
        const __m512i x = _mm512_cvtpd_epu64(_mm512_maskz_loadu_pd(live, mr + r));
        _mm512_mask_storeu_epi64(lo + r, live, _mm512_madd52lo_epu64(_mm512_maskz_loadu_epi64(live, lo + r), x, cv));
        _mm512_mask_storeu_epi64(hi + r, live, _mm512_madd52hi_epu64(_mm512_maskz_loadu_epi64(live, hi + r), x, cv));
      }
    }
    if (++since == kIfmaLaneSteps) {
      flush();
      since = 0;
    }
  }
  flush();
}

}  // namespace

bool available() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512ifma");
  return has;
}
bool in_use() { return g_enabled.load(std::memory_order_relaxed) && available(); }
void set_enabled(bool on) { g_enabled.store(on); }

int64_t fold_result(int64_t batch, int64_t rows, int64_t cols, int64_t reps, const double* y, const double* r,
                    double bound, int64_t p, double* out) {
  return fold_ifma(ResultRows{bound, p, lift(static_cast<int64_t>(bound) + 1, p)}, y, batch, rows, cols, reps, r, p,
                   out);
}

bool fold_operand_applies(int64_t cols) { return cols >= kIfmaMinCols || cols == 9 || cols == 1; }

void fold_operand(int64_t batch, int64_t rows, int64_t cols, int64_t reps, const int32_t* a, const double* r,
                  int64_t p, double* out) {
  if (cols == 9 || cols == 1) {
    std::vector<uint64_t> rs(static_cast<size_t>(reps * rows * cols));
    for (int64_t j = 0; j < reps; j++)
      for (int64_t c = 0; c < rows; c++)
        for (int64_t t = 0; t < cols; t++)
          rs[static_cast<size_t>((j * rows + c) * cols + t)] = static_cast<uint64_t>(r[j * rows + c]);
    const Mod md(p);
    if (cols == 9) ifma_fold_short<9>(batch, rows, reps, a, rs.data(), md, out);
    else ifma_fold_short<1>(batch, rows, reps, a, rs.data(), md, out);
    rs.assign(rs.size(), 0);
  } else {
    fold_ifma(OperandRows{p, lift(kOperandLimit, p)}, a, batch, rows, cols, reps, r, p, out);
  }
}

void matvecs(int64_t m, int64_t kk, int64_t reps, const int32_t* a, const uint64_t* u, int64_t p, double* out) {
  ifma_matvecs(m, kk, reps, a, u, p, out);
}

void corr(int64_t n, int64_t reps, int64_t h, int64_t w, int64_t k, int64_t st, int64_t pad, int64_t oh,
          int64_t ow, const double* dyf, const double* xs, int64_t p, double* out) {
  const Mod md(p);
  verify::for_tasks(reps * k * k, n * reps * k * k * oh * ow, [&](int64_t task, int) {
    const int64_t j = task / (k * k), kh = (task / k) % k, kw = task % k;
    out[task] = corr_tap_ifma(n, reps, h, w, st, pad, oh, ow, dyf, xs, md, j, kh, kw);
  });
}

void rows_sums(const double* m, int64_t chans, int64_t len, int64_t k, const uint64_t* coef, int64_t p,
               uint64_t* z) {
  rows_sums_ifma(m, chans, len, k, coef, Mod(p), z);
}

bool conv(const verify::Geom& g, const int32_t* x, const uint64_t* wf, int64_t p, double* out) {
  // Lanes over output columns fill ow/(16·⌈ow/16⌉) of each block, lanes over images n/(8·⌈n/8⌉): the fuller.
  const double by_columns = double(g.ow) / double(16 * ((g.ow + 15) / 16));
  const double by_images = double(g.n) / double(8 * ((g.n + 7) / 8));
  return by_images > by_columns ? conv_images(g, x, wf, p, out) : conv_ifma(g, x, wf, p, out);
}

#else
bool available() { return false; }
bool in_use() { return false; }
void set_enabled(bool) {}
int64_t fold_result(int64_t, int64_t, int64_t, int64_t, const double*, const double*, double, int64_t, double*) {
  return -1;
}
bool fold_operand_applies(int64_t) { return false; }
void fold_operand(int64_t, int64_t, int64_t, int64_t, const int32_t*, const double*, int64_t, double*) {}
void matvecs(int64_t, int64_t, int64_t, const int32_t*, const uint64_t*, int64_t, double*) {}
void corr(int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, const double*,
          const double*, int64_t, double*) {}
void rows_sums(const double*, int64_t, int64_t, int64_t, const uint64_t*, int64_t, uint64_t*) {}
bool conv(const verify::Geom&, const int32_t*, const uint64_t*, int64_t, double*) { return false; }
#endif

}  // namespace wide_ifma
}  // namespace tee
