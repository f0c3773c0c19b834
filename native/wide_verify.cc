// The wide field's check arithmetic (verify/freivalds-wide.ts): Freivalds modulo one prime P < 2^50, whose
// residues do not fit the int32 × int32 → int64 kernels of verify_kernels.h directly. Every vector mod P is
// split into two 25-bit limbs, v = lo + 2^25·hi with lo, hi ∈ [0, 2^25): the kernels then run unchanged on
// int32 operands (|a| < 2^24, checked) against limb rows (each term below 2^49, int64 accumulators reduced
// mod P every ~2^14 terms), each limb row giving its own output channel in [0, P), and a combine step folds
// the limb channels back together mod P with 128-bit products. The exact result Y (float64 integers, |y| ≤
// bound < 2^47) is split the same way, y = yl + 2^24·yh, inside the one pass that also refuses any element
// that is not an integer within the bound. Where the CPU has AVX-512 IFMA the bindings hand their hottest
// kernels to wide_ifma.cc instead (the same residues, without limbs).
#include "wide_verify.h"

#include <functional>

#include "signals.h"
#include "verify_kernels.h"
#include "wide_field.h"
#include "wide_ifma.h"

namespace tee {

namespace {

using verify::check_field;
using verify::conv_any;
using verify::conv_t_any;
using verify::conv_w_any;
using verify::Geom;
using verify::geom_args;
using verify::range_error;
using verify::round_near;

using Limbs = verify::ExactT<double>;

using wide::addmod;
using wide::first_invalid;
using wide::kLimbBase;
using wide::kLimbBits;
using wide::kOperandLimit;
using wide::kOperandMax;
using wide::Mod;
using wide::mulmod;
using wide::to_residue;
using wide::valid_y;

constexpr int kYLimbBits = 24;
constexpr double kYLimbBase = double(int64_t(1) << kYLimbBits);
// P < 2^50: both limbs of a residue are below 2^25.
constexpr int64_t kMaxWideModulus = int64_t(1) << 50;
// |y| ≤ bound < 2^47: then |yh|, |yl| ≤ 2^23, so a y limb is a valid operand and no y-limb product
// exceeds 2^48.
constexpr double kMaxResultBound = 140737488355328.0;  // 2^47

Limbs limbs_mod(int64_t p) { return Limbs(p, kOperandLimit * kLimbBase); }

int64_t wide_modulus_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const double v = number_arg(info, i, fn);
  if (!(v >= 3 && v < double(kMaxWideModulus)) || std::floor(v) != v) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the modulus must be an integer in [3, 2^50)");
  }
  return static_cast<int64_t>(v);
}

void check_limbs(const Napi::CallbackInfo& info, const int32_t* v, int64_t n, const char* fn, const char* what) {
  int32_t bad = 0;
  for (int64_t i = 0; i < n; i++) bad |= (v[i] < 0) | (v[i] >= kLimbBase);
  if (bad != 0) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " has a limb outside [0, 2^25)");
  }
}

// Residues mod P as float64 integers in [0, P): anything else is a RangeError.
void check_residues(const Napi::CallbackInfo& info, const double* v, int64_t n, int64_t p, const char* fn,
                    const char* what) {
  const double dp = double(p);
  for (int64_t i = 0; i < n; i++) {
    if (!(v[i] >= 0 && v[i] < dp) || std::floor(v[i]) != v[i]) {
      throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " has a value outside [0, P)");
    }
  }
}



// ---- int32 operand against limb rows: fold / matvecs / conv / convT / convW with a Limbs policy ----

#ifdef TEE_VERIFY_AVX2
// fold for short rows — a grad-input check's weights, [O, C, k²] folded over C with cols = k² (9, or 1) —
// where the generic loop runs along rows of k² elements and barely vectorizes. Here the four lanes are four
// limb rows: each element a[b,r,c] is broadcast and multiplied by row r's four limb coefficients, into one
// accumulator per column (COLS registers). Terms are below 2^49 in magnitude; at most `budget` of them
// between reductions, as in the generic loop, whose sums (exact integers) these equal. (Checking the
// operand's range in this loop instead of in a pass of its own was slower: a layer's weights fit the
// last-level cache, which the separate sequential pass fills for this one.)
template <int COLS>
void fold_short_rows(const Limbs& ar, int64_t batch, int64_t rows, int64_t lreps, const int32_t* a,
                     const int32_t* rl, double* out) {
  const int64_t groups = lreps / 4;
  // Coefficients transposed to [group, row, 4 limb rows]: one 16-byte load per row.
  std::vector<int32_t> rt(static_cast<size_t>(groups * rows * 4));
  for (int64_t g = 0; g < groups; g++)
    for (int64_t r = 0; r < rows; r++)
      for (int l = 0; l < 4; l++) rt[static_cast<size_t>((g * rows + r) * 4 + l)] = rl[(g * 4 + l) * rows + r];
  verify::for_tasks(batch, batch * rows * COLS * lreps, [&](int64_t b, int) {
    const int32_t* ab = a + b * rows * COLS;
    for (int64_t g = 0; g < groups; g++) {
      __m256i acc[COLS];
      for (int c = 0; c < COLS; c++) acc[c] = _mm256_setzero_si256();
      const int32_t* rg = rt.data() + g * rows * 4;
      int64_t terms = 0;
      for (int64_t r = 0; r < rows; r++) {
        const __m256i coef = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rg + 4 * r)));
        const int32_t* ar_ = ab + r * COLS;
        for (int c = 0; c < COLS; c++) {
          acc[c] = _mm256_add_epi64(acc[c], _mm256_mul_epi32(coef, _mm256_set1_epi64x(ar_[c])));
        }
        if (++terms >= ar.budget) {
          for (int c = 0; c < COLS; c++) {
            alignas(32) int64_t v[4];
            _mm256_store_si256(reinterpret_cast<__m256i*>(v), acc[c]);
            for (int l = 0; l < 4; l++) v[l] = ar.reduce(v[l]);
            acc[c] = _mm256_load_si256(reinterpret_cast<const __m256i*>(v));
          }
          terms = 0;
        }
      }
      for (int c = 0; c < COLS; c++) {
        alignas(32) int64_t v[4];
        _mm256_store_si256(reinterpret_cast<__m256i*>(v), acc[c]);
        for (int l = 0; l < 4; l++) out[(b * lreps + g * 4 + l) * COLS + c] = ar.finish(v[l]);
      }
    }
  });
}

// fold of 3×3 weights with two limb rows (one repetition: the default wide grad-input check, W [O, C, 9]
// folded over C): fold_short_rows needs four limb rows, and the generic loop runs along rows of nine
// elements. Here the lanes are the kernel's taps instead: each row's taps 0–3 and 4–7 are two vectors, tap
// 8 a scalar, against the row's two limb coefficients broadcast: four vector and two scalar products per
// row of nine. Same exact sums as the generic loop (terms below 2^49, at most `budget` between reductions).
void fold_taps9_pair(const Limbs& ar, int64_t batch, int64_t rows, const int32_t* a, const int32_t* rl,
                     double* out) {
  verify::for_tasks(batch, batch * rows * 9 * 2, [&](int64_t b, int) {
    const int32_t* ab = a + b * rows * 9;
    __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00;
    int64_t t08 = 0, t18 = 0;
    int64_t terms = 0;
    auto reduce = [&](__m256i& v) {
      alignas(32) int64_t x[4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(x), v);
      for (int l = 0; l < 4; l++) x[l] = ar.reduce(x[l]);
      v = _mm256_load_si256(reinterpret_cast<const __m256i*>(x));
    };
    for (int64_t r = 0; r < rows; r++) {
      const int32_t* w = ab + r * 9;
      const __m256i x0 = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w)));
      const __m256i x1 = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(w + 4)));
      // vpmuldq reads the low 32 bits of each lane: a limb (below 2^25) broadcast as int32 is enough.
      const __m256i c0 = _mm256_set1_epi32(rl[r]), c1 = _mm256_set1_epi32(rl[rows + r]);
      s00 = _mm256_add_epi64(s00, _mm256_mul_epi32(x0, c0));
      s01 = _mm256_add_epi64(s01, _mm256_mul_epi32(x1, c0));
      s10 = _mm256_add_epi64(s10, _mm256_mul_epi32(x0, c1));
      s11 = _mm256_add_epi64(s11, _mm256_mul_epi32(x1, c1));
      t08 += int64_t(w[8]) * rl[r];
      t18 += int64_t(w[8]) * rl[rows + r];
      if (++terms >= ar.budget) {
        reduce(s00), reduce(s01), reduce(s10), reduce(s11);
        t08 = ar.reduce(t08), t18 = ar.reduce(t18);
        terms = 0;
      }
    }
    alignas(32) int64_t v[2][9];
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v[0]), s00);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v[0] + 4), s01);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v[1]), s10);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(v[1] + 4), s11);
    v[0][8] = t08;
    v[1][8] = t18;
    for (int l = 0; l < 2; l++)
      for (int c = 0; c < 9; c++) out[(b * 2 + l) * 9 + c] = ar.finish(v[l][c]);
  });
}
#endif


// (batch, rows, cols, lreps, a:I32[batch·rows·cols], rl:I32[lreps·rows], P, out:F64[batch·lreps·cols])
Napi::Value WideFold(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyFold";
  expect_args(info, 8, fn);
  const int64_t batch = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn),
                lreps = dim_arg(info, 3, fn);
  const int32_t* a = array_arg<int32_t>(info, 4, batch * rows * cols, fn, "a");
  const int32_t* rl = array_arg<int32_t>(info, 5, lreps * rows, fn, "rl");
  const Limbs ar = limbs_mod(wide_modulus_arg(info, 6, fn));
  double* out = array_arg<double>(info, 7, batch * lreps * cols, fn, "out");
  check_field(info, a, batch * rows * cols, kOperandLimit, fn, "a");
  check_limbs(info, rl, lreps * rows, fn, "rl");
#ifdef TEE_VERIFY_AVX2
  if (lreps == 2 && cols == 9) {
    fold_taps9_pair(ar, batch, rows, a, rl, out);
    return info.Env().Undefined();
  }
  if (lreps % 4 == 0 && (cols == 9 || cols == 1)) {
    if (cols == 9) fold_short_rows<9>(ar, batch, rows, lreps, a, rl, out);
    else fold_short_rows<1>(ar, batch, rows, lreps, a, rl, out);
    return info.Env().Undefined();
  }
#endif
  verify::fold(ar, batch, rows, cols, lreps, a, rl, out);
  return info.Env().Undefined();
}

#ifdef TEE_VERIFY_AVX2
// matvecs of int32 rows (|a| < 2^24) against limb vectors ul [lreps, kk] (limbs < 2^25), out[j,i] = Σ_l
// a[i,l]·ul[j,l] mod P: two rows and up to six limb vectors at a time, so that every 4-element load of a
// row or a vector serves several products (the generic loop loads both for every one). Each term is below
// 2^49 in magnitude; a lane takes at most 2^12 of them between reductions (below 2^61), so the four lanes'
// sum stays below 2^63.
constexpr int64_t kLaneChunk = int64_t(1) << 12;

// COMBINE: limb vectors come in (lo, hi) pairs and out gets one residue per pair, lo + 2^25·hi mod P
// ([lreps/2, m]); otherwise one per limb vector ([lreps, m]).
template <int G, bool COMBINE>
void limb_matvecs_group(int64_t m, int64_t kk, int64_t j0, const int32_t* a, const int32_t* ul, const Mod& md,
                        double* out, int64_t i0, int64_t i1) {
  static_assert(!COMBINE || G % 2 == 0, "limb pairs");
  for (int64_t i = i0; i < i1; i += 2) {
    const bool two = i + 1 < i1;
    const int32_t* r0 = a + i * kk;
    const int32_t* r1 = two ? r0 + kk : r0;
    uint64_t res[2][G] = {};
    for (int64_t c0 = 0; c0 < kk; c0 += 4 * kLaneChunk) {
      const int64_t c1 = std::min(kk, c0 + 4 * kLaneChunk);
      __m256i acc[2][G];
      for (int g = 0; g < G; g++) acc[0][g] = acc[1][g] = _mm256_setzero_si256();
      int64_t l = c0;
      for (; l + 4 <= c1; l += 4) {
        const __m256i x0 = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r0 + l)));
        const __m256i x1 = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r1 + l)));
        for (int g = 0; g < G; g++) {
          const __m256i u =
              _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ul + (j0 + g) * kk + l)));
          acc[0][g] = _mm256_add_epi64(acc[0][g], _mm256_mul_epi32(x0, u));
          acc[1][g] = _mm256_add_epi64(acc[1][g], _mm256_mul_epi32(x1, u));
        }
      }
      for (int rr = 0; rr < 2; rr++) {
        for (int g = 0; g < G; g++) {
          alignas(32) int64_t t[4];
          _mm256_store_si256(reinterpret_cast<__m256i*>(t), acc[rr][g]);
          int64_t sum = (t[0] + t[1]) + (t[2] + t[3]);
          const int32_t* row = rr == 0 ? r0 : r1;
          for (int64_t q = l; q < c1; q++) sum += int64_t(row[q]) * ul[(j0 + g) * kk + q];
          res[rr][g] = md.add(res[rr][g], md.reduce(sum));
        }
      }
    }
    for (int rr = 0; rr < (two ? 2 : 1); rr++) {
      if (COMBINE) {
        const uint64_t w1 = md.reduce(kLimbBase);
        for (int g = 0; g < G; g += 2) {
          out[(j0 + g) / 2 * m + i + rr] = double(md.add(res[rr][g], md.mul(res[rr][g + 1], w1)));
        }
      } else {
        for (int g = 0; g < G; g++) out[(j0 + g) * m + i + rr] = double(res[rr][g]);
      }
    }
  }
}

template <bool COMBINE>
void limb_matvecs(int64_t m, int64_t kk, int64_t lreps, const int32_t* a, const int32_t* ul, int64_t p,
                  double* out) {
  const int64_t rb = std::max<int64_t>(2, std::min<int64_t>(64, m / (4 * std::max(1, threads())) / 2 * 2));
  const int64_t blocks = (m + rb - 1) / rb;
  const Mod md(p);
  verify::for_tasks(blocks, m * kk * lreps, [&](int64_t task, int) {
    const int64_t i0 = task * rb, i1 = std::min(m, i0 + rb);
    int64_t j = 0;
    for (; j + 6 <= lreps; j += 6) limb_matvecs_group<6, COMBINE>(m, kk, j, a, ul, md, out, i0, i1);
    for (; j + 2 <= lreps; j += 2) limb_matvecs_group<2, COMBINE>(m, kk, j, a, ul, md, out, i0, i1);
    if constexpr (!COMBINE) {
      for (; j < lreps; j++) limb_matvecs_group<1, false>(m, kk, j, a, ul, md, out, i0, i1);
    }
  });
}
#endif

// (m, kk, lreps, a:I32[m·kk], ul:I32[lreps·kk], P, out:F64[lreps·m])
Napi::Value WideMatvecs(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyMatvecs";
  expect_args(info, 7, fn);
  const int64_t m = dim_arg(info, 0, fn), kk = dim_arg(info, 1, fn), lreps = dim_arg(info, 2, fn);
  const int32_t* a = array_arg<int32_t>(info, 3, m * kk, fn, "a");
  const int32_t* ul = array_arg<int32_t>(info, 4, lreps * kk, fn, "ul");
  const Limbs ar = limbs_mod(wide_modulus_arg(info, 5, fn));
  double* out = array_arg<double>(info, 6, lreps * m, fn, "out");
  check_field(info, a, m * kk, kOperandLimit, fn, "a");
  check_limbs(info, ul, lreps * kk, fn, "ul");
#ifdef TEE_VERIFY_AVX2
  limb_matvecs<false>(m, kk, lreps, a, ul, ar.p, out);
#else
  verify::matvecs(ar, m, kk, lreps, a, ul, out);
#endif
  return info.Env().Undefined();
}


// (m, kk, reps, a:I32[m·kk], ul:I32[2reps·kk], P, out:F64[reps·m]): matvecs whose limb channels come back
// combined, out[j,i] = Σ_l a[i,l]·(ul[2j,l] + 2^25·ul[2j+1,l]) mod P.
Napi::Value WideMatvecsCombined(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyMatvecsCombined";
  expect_args(info, 7, fn);
  const int64_t m = dim_arg(info, 0, fn), kk = dim_arg(info, 1, fn), reps = dim_arg(info, 2, fn);
  const int32_t* a = array_arg<int32_t>(info, 3, m * kk, fn, "a");
  const int32_t* ul = array_arg<int32_t>(info, 4, 2 * reps * kk, fn, "ul");
  const int64_t p = wide_modulus_arg(info, 5, fn);
  double* out = array_arg<double>(info, 6, reps * m, fn, "out");
  check_field(info, a, m * kk, kOperandLimit, fn, "a");
  check_limbs(info, ul, 2 * reps * kk, fn, "ul");
#ifdef TEE_VERIFY_AVX2
  limb_matvecs<true>(m, kk, 2 * reps, a, ul, p, out);
#else
  std::vector<double> limbs(static_cast<size_t>(2 * reps * m));
  verify::matvecs(limbs_mod(p), m, kk, 2 * reps, a, ul, limbs.data());
  const uint64_t up = static_cast<uint64_t>(p), w1 = to_residue(kLimbBase, p);
  for (int64_t j = 0; j < reps; j++)
    for (int64_t i = 0; i < m; i++) {
      const uint64_t lo = static_cast<uint64_t>(limbs[static_cast<size_t>(2 * j * m + i)]);
      const uint64_t hi = static_cast<uint64_t>(limbs[static_cast<size_t>((2 * j + 1) * m + i)]);
      out[j * m + i] = double(addmod(lo, mulmod(hi, w1, up), up));
    }
#endif
  return info.Env().Undefined();
}

// (n, c, h, w, lreps, k, s, pad, x:I32[n·c·h·w], wl:I32[lreps·c·k·k], P, out:F64[n·lreps·oh·ow])
Napi::Value WideConv(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyConv";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* x = array_arg<int32_t>(info, 8, g.n * g.c * g.h * g.w, fn, "x");
  const int32_t* wl = array_arg<int32_t>(info, 9, g.reps * g.c * g.k * g.k, fn, "wl");
  const Limbs ar = limbs_mod(wide_modulus_arg(info, 10, fn));
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.oh * g.ow, fn, "out");
  check_limbs(info, wl, g.reps * g.c * g.k * g.k, fn, "wl");
  if (!conv_any(ar, g, x, wl, out, kOperandMax)) range_error(info, fn, "x");
  return info.Env().Undefined();
}


// wide_ifma::conv with the weights' residues in *w, wiped afterwards; a RangeError naming `what` when an
// operand is out of range.
void conv_ifma_or_throw(const Napi::CallbackInfo& info, const char* fn, const char* what, const Geom& g,
                        const int32_t* x, std::vector<uint64_t>* w, int64_t p, double* out) {
  const bool fine = wide_ifma::conv(g, x, w->data(), p, out);
  w->assign(w->size(), 0);
  if (!fine) range_error(info, fn, what);
}

// (n, c, h, w, reps, k, s, pad, x:I32[n·c·h·w], wf:F64[reps·c·k·k] residues, P, out:F64[n·reps·oh·ow]) → true
// with out = the convolution's residues where IFMA is in use (stride > 1 through the polyphase form), false
// (nothing done) otherwise: then the caller takes the limb path (wideVerifyConv and a combine).
Napi::Value WideConvIfma(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyConvIfma";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* x = array_arg<int32_t>(info, 8, g.n * g.c * g.h * g.w, fn, "x");
  const double* wf = array_arg<double>(info, 9, g.reps * g.c * g.k * g.k, fn, "wf");
  const int64_t p = wide_modulus_arg(info, 10, fn);
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.oh * g.ow, fn, "out");
  if (!wide_ifma::in_use()) return Napi::Boolean::New(info.Env(), false);
  check_residues(info, wf, g.reps * g.c * g.k * g.k, p, fn, "wf");
  if (g.s == 1) {
    std::vector<uint64_t> w(wf, wf + g.reps * g.c * g.k * g.k);
    conv_ifma_or_throw(info, fn, "x", g, x, &w, p, out);
  } else {
    // Stride s > 1 as a stride-1 convolution of the input's polyphase components (verify_kernels.h).
    if (!verify::in_range(x, g.n * g.c * g.h * g.w, kOperandMax)) range_error(info, fn, "x");
    const verify::Polyphase pp(g);
    std::vector<uint64_t> w = verify::polyphase_taps<double, uint64_t>(g, pp, wf);
    conv_ifma_or_throw(info, fn, "x", pp.geom(g), verify::polyphase_input(x, g, pp), &w, p, out);
  }
  return Napi::Boolean::New(info.Env(), true);
}

// (n, o, h, w, reps, k, s, pad, dy:I32[n·o·oh·ow], wg:F64[o·reps·k·k] residues, P, out:F64[n·reps·h·w]): the
// transposed convolution on IFMA for s = 1 (a convolution of dy with the flipped weights, padding k − 1 − pad),
// as WideConvIfma: false when it does not apply.
Napi::Value WideConvTIfma(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyConvTIfma";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* dy = array_arg<int32_t>(info, 8, g.n * g.c * g.oh * g.ow, fn, "dy");
  const double* wg = array_arg<double>(info, 9, g.c * g.reps * g.k * g.k, fn, "wg");
  const int64_t p = wide_modulus_arg(info, 10, fn);
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.h * g.w, fn, "out");
  if (!wide_ifma::in_use() || g.s != 1 || g.pad > g.k - 1) return Napi::Boolean::New(info.Env(), false);
  check_residues(info, wg, g.c * g.reps * g.k * g.k, p, fn, "wg");
  std::vector<uint64_t> flipped = verify::flipped_taps<double, uint64_t>(g, wg);
  conv_ifma_or_throw(info, fn, "dy", verify::transposed_as_conv(g), dy, &flipped, p, out);
  return Napi::Boolean::New(info.Env(), true);
}

// (n, o, h, w, lreps, k, s, pad, dy:I32[n·o·oh·ow], wl:I32[o·lreps·k·k], P, out:F64[n·lreps·h·w])
Napi::Value WideConvT(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyConvT";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* dy = array_arg<int32_t>(info, 8, g.n * g.c * g.oh * g.ow, fn, "dy");
  const int32_t* wl = array_arg<int32_t>(info, 9, g.c * g.reps * g.k * g.k, fn, "wl");
  const Limbs ar = limbs_mod(wide_modulus_arg(info, 10, fn));
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.h * g.w, fn, "out");
  check_limbs(info, wl, g.c * g.reps * g.k * g.k, fn, "wl");
  if (!conv_t_any(ar, g, dy, wl, out, kOperandMax)) range_error(info, fn, "dy");
  return info.Env().Undefined();
}

// (n, c, h, w, lreps, k, s, pad, dyl:I32[n·lreps·oh·ow], x:I32[n·c·h·w], P, out:F64[lreps·c·k·k])
Napi::Value WideConvW(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyConvW";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* dyl = array_arg<int32_t>(info, 8, g.n * g.reps * g.oh * g.ow, fn, "dyl");
  const int32_t* x = array_arg<int32_t>(info, 9, g.n * g.c * g.h * g.w, fn, "x");
  const Limbs ar = limbs_mod(wide_modulus_arg(info, 10, fn));
  double* out = array_arg<double>(info, 11, g.reps * g.c * g.k * g.k, fn, "out");
  check_limbs(info, dyl, g.n * g.reps * g.oh * g.ow, fn, "dyl");
  if (!conv_w_any(ar, g, dyl, x, out, kOperandMax)) range_error(info, fn, "x");
  return info.Env().Undefined();
}

// ---- residue × residue sums: the two-sided weight-gradient check ----

// Σ a_i·b_i mod P over residues a, b ∈ [0, P) given as float64 integers (exact: P < 2^50). Each pair is split
// into 25-bit limbs, a = a0 + 2^25·a1, so that a·b = a0·b0 + 2^25·(a0·b1 + a1·b0) + 2^50·a1·b1 with every
// partial product below 2^50; three int64 sums, the middle one taking two such terms per pair, are reduced
// mod P every kResidueBudget pairs (2^11 pairs: below 2^50 + 2^11·2^51 < 2^63).
constexpr int64_t kResidueBudget = int64_t(1) << 11;

struct ResidueSum {
  int64_t lo = 0, mid = 0, hi = 0, n = 0;
  void add(double a, double b, int64_t p) {
    const int64_t ia = static_cast<int64_t>(a), ib = static_cast<int64_t>(b);
    const int64_t a0 = ia & (kLimbBase - 1), a1 = ia >> kLimbBits, b0 = ib & (kLimbBase - 1), b1 = ib >> kLimbBits;
    lo += a0 * b0;
    mid += a0 * b1 + a1 * b0;
    hi += a1 * b1;
    if (++n == kResidueBudget) {
      lo %= p;
      mid %= p;
      hi %= p;
      n = 0;
    }
  }
  // lo + 2^25·mid + 2^50·hi mod P
  double value(int64_t p) const {
    const uint64_t up = static_cast<uint64_t>(p);
    uint64_t t = to_residue(lo, p);
    t = addmod(t, mulmod(to_residue(mid, p), to_residue(kLimbBase, p), up), up);
    t = addmod(t, mulmod(to_residue(hi, p), mulmod(to_residue(kLimbBase, p), to_residue(kLimbBase, p), up), up), up);
    return double(t);
  }
};


// (n, reps, h, w, k, s, pad, dyf:F64[n·reps·oh·ow], xs:F64[n·reps·h·w], P, out:F64[reps·k·k]), residues in
// [0, P): out[j,kh,kw] = Σ_b Σ_(oy,ox) dyf[b,j,oy,ox]·xs[b,j,oy·s+kh−pad,ox·s+kw−pad] mod P (zero outside
// the input) — the correlation of a folded dY with a folded X, one plane each.
Napi::Value WideCorrResidues(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyCorrResidues";
  expect_args(info, 11, fn);
  const int64_t n = dim_arg(info, 0, fn), reps = dim_arg(info, 1, fn), h = dim_arg(info, 2, fn),
                w = dim_arg(info, 3, fn), k = dim_arg(info, 4, fn), st = dim_arg(info, 5, fn, 1),
                pad = dim_arg(info, 6, fn, 0);
  const int64_t oh = out_size(h, k, st, pad), ow = out_size(w, k, st, pad);
  if (k < 1 || oh < 1 || ow < 1) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the kernel does not fit the input");
  const double* dyf = array_arg<double>(info, 7, n * reps * oh * ow, fn, "dyf");
  const double* xs = array_arg<double>(info, 8, n * reps * h * w, fn, "xs");
  const int64_t p = wide_modulus_arg(info, 9, fn);
  double* out = array_arg<double>(info, 10, reps * k * k, fn, "out");
  check_residues(info, dyf, n * reps * oh * ow, p, fn, "dyf");
  check_residues(info, xs, n * reps * h * w, p, fn, "xs");
  if (wide_ifma::in_use() && st <= 2) {
    wide_ifma::corr(n, reps, h, w, k, st, pad, oh, ow, dyf, xs, p, out);
    return info.Env().Undefined();
  }
  verify::for_tasks(reps * k * k, n * reps * k * k * oh * ow, [&](int64_t task, int) {
    const int64_t j = task / (k * k), kh = (task / k) % k, kw = task % k;
    ResidueSum acc;
    for (int64_t b = 0; b < n; b++) {
      const double* d = dyf + (b * reps + j) * oh * ow;
      const double* x = xs + (b * reps + j) * h * w;
      for (int64_t oy = 0; oy < oh; oy++) {
        const int64_t iy = oy * st + kh - pad;
        if (iy < 0 || iy >= h) continue;
        for (int64_t ox = 0; ox < ow; ox++) {
          const int64_t ix = ox * st + kw - pad;
          if (ix < 0 || ix >= w) continue;
          acc.add(d[oy * ow + ox], x[iy * w + ix], p);
        }
      }
    }
    out[task] = acc.value(p);
  });
  return info.Env().Undefined();
}

// (reps, rows, cols, s:F64[reps·rows], v:F64[reps·rows·cols], P, out:F64[reps·cols]), residues in [0, P):
// out[j,t] = Σ_row s[j,row]·v[j,row,t] mod P.
Napi::Value WideDotResidues(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyDotResidues";
  expect_args(info, 7, fn);
  const int64_t reps = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn);
  const double* sv = array_arg<double>(info, 3, reps * rows, fn, "s");
  const double* v = array_arg<double>(info, 4, reps * rows * cols, fn, "v");
  const int64_t p = wide_modulus_arg(info, 5, fn);
  double* out = array_arg<double>(info, 6, reps * cols, fn, "out");
  check_residues(info, sv, reps * rows, p, fn, "s");
  check_residues(info, v, reps * rows * cols, p, fn, "v");
  for (int64_t j = 0; j < reps; j++) {
    for (int64_t t = 0; t < cols; t++) {
      ResidueSum acc;
      for (int64_t r = 0; r < rows; r++) acc.add(sv[j * rows + r], v[(j * rows + r) * cols + t], p);
      out[j * cols + t] = acc.value(p);
    }
  }
  return info.Env().Undefined();
}

// ---- structured checks of a convolution: vectors over channels, output rows and output columns ----
//
// The forward and grad-input checks contract the result with r ⊗ u ⊗ v (channels ⊗ rows ⊗ columns) instead
// of r alone (freivalds-wide.ts convSides): the right side then needs each input row correlated with the
// column vector once per kernel column (matvecs against spread vectors, in TypeScript), and these sums over
// rows, all of them residue × residue.

// Residues in [0, P) as their two 25-bit limbs.
struct LimbRows {
  std::vector<int32_t> lo, hi;
  LimbRows(const double* v, int64_t n) : lo(static_cast<size_t>(n)), hi(static_cast<size_t>(n)) {
    for (int64_t i = 0; i < n; i++) {
      const int64_t x = static_cast<int64_t>(v[i]);
      lo[static_cast<size_t>(i)] = static_cast<int32_t>(x & (kLimbBase - 1));
      hi[static_cast<size_t>(i)] = static_cast<int32_t>(x >> kLimbBits);
    }
  }
  ~LimbRows() {
    std::fill(lo.begin(), lo.end(), 0);
    std::fill(hi.begin(), hi.end(), 0);
  }
};

struct LimbView {
  const int32_t* lo;
  const int32_t* hi;
  LimbView at(int64_t off) const { return {lo + off, hi + off}; }
};

inline LimbView view(const LimbRows& r) { return {r.lo.data(), r.hi.data()}; }

// Σ_a A[a]·B[a·s + off] mod P over a ∈ [0, la) with 0 ≤ a·s + off < lb. Terms a0·b0, a0·b1 + a1·b0,
// a1·b1 go to three int64 sums (the middle one below 2^51 per pair), each lane reduced after at most
// kResidueBudget pairs; the result is lo + 2^25·mid + 2^50·hi mod P.
uint64_t shifted_dot(LimbView A, int64_t la, LimbView B, int64_t lb, int64_t s, int64_t off, const Mod& md) {
  int64_t a0, a1;
  verify::valid_range(lb, la, off, s, 0, &a0, &a1);
  uint64_t lo = 0, mid = 0, hi = 0;  // residues
  int64_t a = a0;
#ifdef TEE_VERIFY_AVX2
  if (s == 1) {
    const int32_t *al = A.lo, *ah = A.hi, *bl = B.lo + off, *bh = B.hi + off;
    while (a + 4 <= a1) {
      const int64_t end = std::min(a1, a + 4 * kResidueBudget);
      __m256i vlo = _mm256_setzero_si256(), vmid = _mm256_setzero_si256(), vhi = _mm256_setzero_si256();
      for (; a + 4 <= end; a += 4) {
        const __m256i x0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(al + a)));
        const __m256i x1 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ah + a)));
        const __m256i y0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bl + a)));
        const __m256i y1 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(bh + a)));
        vlo = _mm256_add_epi64(vlo, _mm256_mul_epu32(x0, y0));
        vmid = _mm256_add_epi64(vmid, _mm256_add_epi64(_mm256_mul_epu32(x0, y1), _mm256_mul_epu32(x1, y0)));
        vhi = _mm256_add_epi64(vhi, _mm256_mul_epu32(x1, y1));
      }
      // Per lane at most 2^11 pairs: lo and hi lanes below 2^61 (four sum below 2^63), mid lanes below 2^62
      // (two sum below 2^63).
      alignas(32) int64_t t[3][4];
      _mm256_store_si256(reinterpret_cast<__m256i*>(t[0]), vlo);
      _mm256_store_si256(reinterpret_cast<__m256i*>(t[1]), vmid);
      _mm256_store_si256(reinterpret_cast<__m256i*>(t[2]), vhi);
      lo = md.add(lo, md.reduce((t[0][0] + t[0][1]) + (t[0][2] + t[0][3])));
      mid = md.add(mid, md.add(md.reduce(t[1][0] + t[1][1]), md.reduce(t[1][2] + t[1][3])));
      hi = md.add(hi, md.reduce((t[2][0] + t[2][1]) + (t[2][2] + t[2][3])));
    }
  }
#endif
  int64_t slo = 0, smid = 0, shi = 0, n = 0;
  for (; a < a1; a++) {
    const int64_t b = a * s + off;
    const int64_t x0 = A.lo[a], x1 = A.hi[a], y0 = B.lo[b], y1 = B.hi[b];
    slo += x0 * y0;
    smid += x0 * y1 + x1 * y0;
    shi += x1 * y1;
    if (++n == kResidueBudget) {
      lo = md.add(lo, md.reduce(slo));
      mid = md.add(mid, md.reduce(smid));
      hi = md.add(hi, md.reduce(shi));
      slo = smid = shi = n = 0;
    }
  }
  lo = md.add(lo, md.reduce(slo));
  mid = md.add(mid, md.reduce(smid));
  hi = md.add(hi, md.reduce(shi));
  const uint64_t w1 = md.reduce(kLimbBase), w2 = md.mul(w1, w1);
  return md.add(lo, md.add(md.mul(mid, w1), md.mul(hi, w2)));
}

// The right side of a structured convolution check for one repetition, summed over (kw, b) tasks:
//   Σ_kw Σ_b Σ_kh Σ_a U[b, a]·Z[kw,kh,b](a·s + kh − pad)   (forward: U = u over output rows, Z over input rows)
//   Σ_kw Σ_b Σ_kh Σ_a Z[kw,kh,b](a)·U[b, a·s + kh − pad]   (grad-input: Z over dY rows, U over dX rows)
// with Z[kw,kh,b](row) = Σ_ch coef(ch, kh, kw)·M[kw,b](ch, row), a fold of the matrix M [chans, len]
// (the rows against the spread column vector) with residue coefficients. The fold runs on 25-bit limbs
// in int64 lanes — three sums per element (lo·lo, lo·hi + hi·lo, hi·hi, each term below 2^51), reduced
// every 2^11 channels — so that a reduction mod P happens once per (kh, row), not once per channel.
struct RowsCheck {
  int64_t n, chans, len, ulen, k, s, pad;
  bool forward;                        // which side carries the shift
  bool ifma;                           // the sums on IFMA (from mres) or on limbs (from m)
  LimbView m;                          // [k, n, chans, len] limbs of one repetition's M (without IFMA)
  const double* mres;                  // the same as residues (with IFMA)
  const double* u;                     // [n, ulen] residues of one repetition
  std::function<uint64_t(int64_t ch, int64_t kh, int64_t kw)> coef;
};

// z[kh,r] = Σ_c coef[kh,c]·m[c,r] mod P on 25-bit limbs: per column three int64 sums (lo·lo, the cross
// terms, hi·hi), reduced into z every kResidueBudget channels.
void rows_sums_limbs(LimbView mb, int64_t chans, int64_t len, int64_t k, const uint64_t* cres, const Mod& md,
                     uint64_t* z) {
  const uint64_t w1 = md.reduce(kLimbBase), w2 = md.mul(w1, w1);
  std::vector<int32_t> cl(static_cast<size_t>(k * chans)), ch(cl.size());
  for (size_t i = 0; i < cl.size(); i++) {
    cl[i] = static_cast<int32_t>(cres[i] & (kLimbBase - 1));
    ch[i] = static_cast<int32_t>(cres[i] >> kLimbBits);
  }
  // acc[(kh·3 + part)·len + row]
  std::vector<int64_t> acc(static_cast<size_t>(3 * k * len), 0);
  auto flush = [&] {
    for (int64_t kh = 0; kh < k; kh++)
      for (int64_t r = 0; r < len; r++) {
        int64_t* a = acc.data() + kh * 3 * len + r;
        uint64_t& zz = z[kh * len + r];
        const uint64_t mid = md.mul(md.reduce(a[len]), w1), hi = md.mul(md.reduce(a[2 * len]), w2);
        zz = md.add(zz, md.add(md.reduce(a[0]), md.add(mid, hi)));
        a[0] = a[len] = a[2 * len] = 0;
      }
  };
  int64_t since = 0;
  for (int64_t c = 0; c < chans; c++) {
    const int32_t* m0 = mb.lo + c * len;
    const int32_t* m1 = mb.hi + c * len;
    for (int64_t kh = 0; kh < k; kh++) {
      const int64_t c0 = cl[static_cast<size_t>(kh * chans + c)], c1 = ch[static_cast<size_t>(kh * chans + c)];
      int64_t* lo = acc.data() + kh * 3 * len;
      int64_t* mid = lo + len;
      int64_t* hi = mid + len;
      int64_t r = 0;
#ifdef TEE_VERIFY_AVX2
      const __m256i v0 = _mm256_set1_epi64x(c0), v1 = _mm256_set1_epi64x(c1);
      for (; r + 4 <= len; r += 4) {
        const __m256i x0 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m0 + r)));
        const __m256i x1 = _mm256_cvtepu32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(m1 + r)));
        __m256i* pl = reinterpret_cast<__m256i*>(lo + r);
        __m256i* pm = reinterpret_cast<__m256i*>(mid + r);
        __m256i* ph = reinterpret_cast<__m256i*>(hi + r);
        _mm256_storeu_si256(pl, _mm256_add_epi64(_mm256_loadu_si256(pl), _mm256_mul_epu32(x0, v0)));
        const __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(x0, v1), _mm256_mul_epu32(x1, v0));
        _mm256_storeu_si256(pm, _mm256_add_epi64(_mm256_loadu_si256(pm), cross));
        _mm256_storeu_si256(ph, _mm256_add_epi64(_mm256_loadu_si256(ph), _mm256_mul_epu32(x1, v1)));
      }
#endif
      for (; r < len; r++) {
        const int64_t x0 = m0[r], x1 = m1[r];
        lo[r] += x0 * c0;
        mid[r] += x0 * c1 + x1 * c0;
        hi[r] += x1 * c1;
      }
    }
    if (++since == kResidueBudget) {
      flush();
      since = 0;
    }
  }
  flush();
}

uint64_t rows_check(const RowsCheck& rc, const Mod& md) {
  const int64_t k = rc.k, len = rc.len, chans = rc.chans;
  const int64_t tasks = k * rc.n;
  std::vector<uint64_t> part(static_cast<size_t>(tasks), 0);
  verify::for_tasks(tasks, tasks * k * chans * len, [&](int64_t t, int) {
    const int64_t kw = t / rc.n, b = t % rc.n;
    std::vector<uint64_t> cres(static_cast<size_t>(k * chans));
    for (int64_t kh = 0; kh < k; kh++)
      for (int64_t c = 0; c < chans; c++) cres[static_cast<size_t>(kh * chans + c)] = rc.coef(c, kh, kw);
    // z[kh, row]: the rows of image b through kernel column kw, summed over channels with the coefficients.
    std::vector<uint64_t> z(static_cast<size_t>(k * len), 0);
    const int64_t at = (kw * rc.n + b) * chans * len;
    if (rc.ifma) wide_ifma::rows_sums(rc.mres + at, chans, len, k, cres.data(), md.p, z.data());
    else rows_sums_limbs(rc.m.at(at), chans, len, k, cres.data(), md, z.data());
    // Σ_kh Σ_a against u, shifted on the side that carries the stride.
    const double* ub = rc.u + b * rc.ulen;
    uint64_t sum = 0;
    for (int64_t kh = 0; kh < k; kh++) {
      const uint64_t* zk = z.data() + kh * len;
      const int64_t na = rc.forward ? rc.ulen : len;    // a runs over the unshifted side
      const int64_t nb = rc.forward ? len : rc.ulen;    // a·s + kh − pad indexes the other
      int64_t a0, a1;
      verify::valid_range(nb, na, kh - rc.pad, rc.s, 0, &a0, &a1);
      for (int64_t a = a0; a < a1; a++) {
        const int64_t at = a * rc.s + kh - rc.pad;
        const uint64_t uv = static_cast<uint64_t>(rc.forward ? ub[a] : ub[at]);
        sum = md.add(sum, md.mul(uv, rc.forward ? zk[at] : zk[a]));
      }
    }
    part[static_cast<size_t>(t)] = sum;
  });
  uint64_t s = 0;
  for (uint64_t v : part) s = md.add(s, v);
  return s;
}

// (forward, n, chans, len, ulen, reps, k, s, pad, m:F64[reps·k·n·chans·len], u:F64[reps·n·ulen],
//  coef:F64[reps·chans·k·k], P, out:F64[reps]), residues in [0, P): the right side of a structured
// convolution check (RowsCheck above) for each repetition j:
//   forward:    Σ_(kw,b,ch,kh,a) coef[j,ch,kh,kw]·u[j,b,a]·m[j,kw,b,ch,a·s+kh−pad]   (a < ulen = oh, len = h)
//   grad-input: Σ_(kw,b,ch,kh,a) coef[j,ch,kh,kw]·m[j,kw,b,ch,a]·u[j,b,a·s+kh−pad]   (a < len = oh, ulen = h)
// (indices outside their row count 0): m the rows (input rows, or dY's) against the column vector spread
// for each kernel column, coef the weights folded over the other channel axis.
Napi::Value WideRowsCheck(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyRowsCheck";
  expect_args(info, 14, fn);
  const bool forward = info[0].ToBoolean().Value();
  const int64_t n = dim_arg(info, 1, fn), chans = dim_arg(info, 2, fn), len = dim_arg(info, 3, fn),
                ulen = dim_arg(info, 4, fn), reps = dim_arg(info, 5, fn), k = dim_arg(info, 6, fn),
                st = dim_arg(info, 7, fn), pad = dim_arg(info, 8, fn, 0);
  const int64_t mlen = reps * k * n * chans * len;
  const double* m = array_arg<double>(info, 9, mlen, fn, "m");
  const double* u = array_arg<double>(info, 10, reps * n * ulen, fn, "u");
  const double* coef = array_arg<double>(info, 11, reps * chans * k * k, fn, "coef");
  const int64_t p = wide_modulus_arg(info, 12, fn);
  double* out = array_arg<double>(info, 13, reps, fn, "out");
  check_residues(info, m, mlen, p, fn, "m");
  check_residues(info, u, reps * n * ulen, p, fn, "u");
  check_residues(info, coef, reps * chans * k * k, p, fn, "coef");
  // The limb rows only where the limb kernel runs (the IFMA one takes the residues).
  const bool ifma = wide_ifma::in_use();
  const LimbRows ml(m, ifma ? 0 : mlen);
  const Mod md(p);
  for (int64_t j = 0; j < reps; j++) {
    const int64_t off = ifma ? 0 : j * k * n * chans * len;
    const RowsCheck rc{n,
                       chans,
                       len,
                       ulen,
                       k,
                       st,
                       pad,
                       forward,
                       ifma,
                       view(ml).at(off),
                       m + j * k * n * chans * len,
                       u + j * n * ulen,
                       [&](int64_t ch, int64_t kh, int64_t kw) {
                         return static_cast<uint64_t>(coef[((j * chans + ch) * k + kh) * k + kw]);
                       }};
    out[j] = double(rows_check(rc, md));
  }
  return info.Env().Undefined();
}

// Sums per task: tasks in any order, each into its own slot, then summed mod P in a fixed order.
template <typename F>
void sum_tasks(int64_t tasks, int64_t work, const Mod& md, double* out, F body) {
  std::vector<uint64_t> part(static_cast<size_t>(tasks), 0);
  verify::for_tasks(tasks, work, [&](int64_t t, int) { part[static_cast<size_t>(t)] = body(t); });
  uint64_t s = 0;
  for (uint64_t v : part) s = md.add(s, v);
  *out = double(s);
}

// (n, reps, rows, cols, y:F64[n·reps·rows·cols], u:F64[reps·n·rows], v:F64[reps·cols], P, out:F64[reps]):
// out[j] = Σ_b Σ_row u[j,b,row]·Σ_col v[j,col]·y[b,j,row,col] mod P — a folded result against rows ⊗ columns.
Napi::Value WideBilinear(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyBilinear";
  expect_args(info, 9, fn);
  const int64_t n = dim_arg(info, 0, fn), reps = dim_arg(info, 1, fn), rows = dim_arg(info, 2, fn),
                cols = dim_arg(info, 3, fn);
  const double* y = array_arg<double>(info, 4, n * reps * rows * cols, fn, "y");
  const double* u = array_arg<double>(info, 5, reps * n * rows, fn, "u");
  const double* v = array_arg<double>(info, 6, reps * cols, fn, "v");
  const int64_t p = wide_modulus_arg(info, 7, fn);
  double* out = array_arg<double>(info, 8, reps, fn, "out");
  check_residues(info, y, n * reps * rows * cols, p, fn, "y");
  check_residues(info, u, reps * n * rows, p, fn, "u");
  check_residues(info, v, reps * cols, p, fn, "v");
  const LimbRows yl(y, n * reps * rows * cols), vl(v, reps * cols);
  const Mod md(p);
  for (int64_t j = 0; j < reps; j++) {
    sum_tasks(n * rows, n * rows * cols, md, out + j, [&](int64_t t) {
      const int64_t b = t / rows, row = t % rows;
      const uint64_t coef = static_cast<uint64_t>(u[(j * n + b) * rows + row]);
      const LimbView yr = view(yl).at(((b * reps + j) * rows + row) * cols);
      return md.mul(coef, shifted_dot(view(vl).at(j * cols), cols, yr, cols, 1, 0, md));
    });
  }
  return info.Env().Undefined();
}

// ---- limbs back together ----

// (outer, reps, parts, inner, src:F64[outer·2reps·parts·inner], P, out:F64[outer·reps·inner])
// out[o,j,i] = Σ_t Σ_s 2^(25s + 24t)·src[o, 2j+s, t·inner + i] mod P: s the vector's limb, t the part of a
// split result (parts 1 for an operand, 2 for y = yl + 2^24·yh stacked along the inner axis).
Napi::Value WideCombine(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyCombine";
  expect_args(info, 7, fn);
  const int64_t outer = dim_arg(info, 0, fn), reps = dim_arg(info, 1, fn), parts = dim_arg(info, 2, fn),
                inner = dim_arg(info, 3, fn, 0);
  if (parts > 2) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": parts must be 1 or 2");
  const int64_t p = wide_modulus_arg(info, 5, fn);
  const int64_t lrows = 2 * reps * parts * inner;
  const double* src = array_arg<double>(info, 4, outer * lrows, fn, "src");
  double* out = array_arg<double>(info, 6, outer * reps * inner, fn, "out");
  check_residues(info, src, outer * lrows, p, fn, "src");
  const uint64_t up = static_cast<uint64_t>(p);
  const uint64_t w[2][2] = {{1 % up, to_residue(kLimbBase, p)},
                            {to_residue(int64_t(1) << kYLimbBits, p),
                             mulmod(to_residue(int64_t(1) << kYLimbBits, p), to_residue(kLimbBase, p), up)}};
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t j = 0; j < reps; j++) {
      const double* lo = src + ((o * reps + j) * 2) * parts * inner;
      const double* hi = lo + parts * inner;
      double* d = out + (o * reps + j) * inner;
      for (int64_t i = 0; i < inner; i++) {
        uint64_t s = 0;
        for (int64_t t = 0; t < parts; t++) {
          s = addmod(s, mulmod(static_cast<uint64_t>(lo[t * inner + i]), w[t][0], up), up);
          s = addmod(s, mulmod(static_cast<uint64_t>(hi[t * inner + i]), w[t][1], up), up);
        }
        d[i] = double(s);
      }
    }
  }
  return info.Env().Undefined();
}

// ---- the untrusted result ----

// y = yl + 2^24·yh with |yl|, |yh| ≤ 2^23 (exact: |y| < 2^47, and every step is an exact float64 operation).
inline void split_y(double u, int32_t* yl, int32_t* yh) {
  const double h = round_near(u * (1.0 / kYLimbBase));
  *yh = static_cast<int32_t>(h);
  *yl = static_cast<int32_t>(u - h * kYLimbBase);
}


double bound_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  const double bound = number_arg(info, i, fn);
  if (!(bound >= 0 && bound < kMaxResultBound)) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": bound must lie in [0, 2^47)");
  }
  return bound;
}

// (y:F64) → the index of the first element that is not an integer of magnitude below 2^53 (NaN and ±Inf
// fail), or −1: the wire form of a wide result (protocol/linear-codec.ts checkWide, natively; the
// client runs it on every reply before anything else reads the values).
Napi::Value WideFirstNonInteger(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyFirstNonInteger";
  expect_args(info, 1, fn);
  int64_t n;
  const double* y = any_array_arg<double>(info, 0, &n, fn, "y");
  constexpr double kLimit = 9007199254740992.0;  // 2^53
  auto bad_at = [&](int64_t i) { return !(std::fabs(y[i]) < kLimit) || std::floor(y[i]) != y[i]; };
  constexpr int64_t kBlock = 4096;
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t e = std::min(n, b + kBlock);
    bool bad = false;
    int64_t i = b;
#ifdef TEE_VERIFY_AVX2
    const __m256d sign = _mm256_set1_pd(-0.0), limit = _mm256_set1_pd(kLimit);
    __m256d ok = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
    for (; i + 4 <= e; i += 4) {
      const __m256d v = _mm256_loadu_pd(y + i);
      ok = _mm256_and_pd(ok, _mm256_and_pd(_mm256_cmp_pd(_mm256_andnot_pd(sign, v), limit, _CMP_LT_OQ),
                                           _mm256_cmp_pd(_mm256_floor_pd(v), v, _CMP_EQ_OQ)));
    }
    bad = _mm256_movemask_pd(ok) != 0xf;
#endif
    for (; i < e; i++) bad |= bad_at(i);
    if (bad) {
      for (int64_t j = b; j < e; j++)
        if (bad_at(j)) return Napi::Number::New(info.Env(), double(j));
    }
  }
  return Napi::Number::New(info.Env(), -1);
}

// (y:F64, bound, yl:I32, yh:I32) → the index of the first element that is not an integer within ±bound, or
// −1; yl/yh get its limbs (0 for a refused element). For the dense checks' matvecs (folds use FoldResult).
Napi::Value WideSplitResult(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifySplitResult";
  expect_args(info, 4, fn);
  int64_t n;
  const double* y = any_array_arg<double>(info, 0, &n, fn, "y");
  const double bound = bound_arg(info, 1, fn);
  int32_t* yl = array_arg<int32_t>(info, 2, n, fn, "yl");
  int32_t* yh = array_arg<int32_t>(info, 3, n, fn, "yh");
  int64_t bad = -1;
  for (int64_t i = 0; i < n; i++) {
    const bool ok = valid_y(y[i], bound);
    if (!ok && bad < 0) bad = i;
    split_y(ok ? y[i] : 0.0, yl + i, yh + i);
  }
  return Napi::Number::New(info.Env(), double(bad));
}

// The fold of the result: out[b,j,c] = Σ_row r[j,row]·y[b,row,c] mod P, for r in [0, P) and y validated on
// the way. Per column four int64 sums (yl·rl, yl·rh, yh·rl, yh·rh) with y = yl + 2^24·yh (|yl| < 2^24,
// |yh| ≤ 2^23), each term below 2^49, reduced every 2^13 rows (|sum| < 2^50 + 2^13·2^49 < 2^63); combined
// at the end with the limb weights 1, 2^25, 2^24, 2^49.
struct FoldResultArgs {
  int64_t batch, rows, cols, reps, p;
  double bound;
  const double* y;
  const int32_t* rl;  // [reps, rows]
  const int32_t* rh;  // [reps, rows]
  double* out;
};

constexpr int64_t kFoldBudgetRows = int64_t(1) << 13;
constexpr int64_t kGroup = 4;
// How far ahead (elements) the result's rows are prefetched: four rows stream at once, which the hardware
// prefetcher alone followed at ~20 GB/s where one stream reads at ~30 (a cold 19 MB result: 0.94 → 0.72 ms).
constexpr int64_t kPrefetchAhead = 128;

// Columns [c0, c1) of one row into the four sums, one element at a time; false when one is refused (it
// then counts as 0).
bool fold_result_tail(const FoldResultArgs& a, const double* yr, int64_t row, int64_t c0, int64_t c1,
                      int64_t stride, int64_t* acc) {
  bool all = true;
  for (int64_t c = c0; c < c1; c++) {
    const bool ok = valid_y(yr[c], a.bound);
    all &= ok;
    int32_t yl, yh;
    split_y(ok ? yr[c] : 0.0, &yl, &yh);
    for (int64_t j = 0; j < a.reps; j++) {
      const int64_t vl = a.rl[j * a.rows + row], vh = a.rh[j * a.rows + row];
      int64_t* s = acc + 4 * j * stride + c;
      s[0] += int64_t(yl) * vl;
      s[stride] += int64_t(yl) * vh;
      s[2 * stride] += int64_t(yh) * vl;
      s[3 * stride] += int64_t(yh) * vh;
    }
  }
  return all;
}

// One task: columns [c0, c0+n) of image b, into acc (4·reps·n int64). Returns the global index of the
// first invalid element among them (the task visits them in index order), or −1.
int64_t fold_result_block(const FoldResultArgs& a, int64_t b, int64_t c0, int64_t n, int64_t stride,
                          int64_t* acc) {
  std::fill(acc, acc + 4 * a.reps * stride, int64_t(0));
  int64_t bad = -1;
  int64_t since = 0;
  // Rows added since the last reduction: at most kFoldBudgetRows (a group adds up to kGroup at once).
  auto added = [&](int64_t rows) {
    since += rows;
    if (since > kFoldBudgetRows - kGroup) {
      for (int64_t i = 0; i < 4 * a.reps * stride; i++) acc[i] %= a.p;
      since = 0;
    }
  };
  int64_t row = 0;
#ifdef TEE_VERIFY_AVX2
  // Groups of kGroup rows: each column's four sums are loaded and stored once per group, not once per row
  // (the stores, four per column and row, were what bounded this loop).
  const __m256d sign = _mm256_set1_pd(-0.0), boundv = _mm256_set1_pd(a.bound);
  const __m256d magic = _mm256_set1_pd(6755399441055744.0);
  const __m256i magic_bits = _mm256_castpd_si256(magic), low24 = _mm256_set1_epi64x((int64_t(1) << kYLimbBits) - 1);
  const int64_t nv = n / 4 * 4;
  const int64_t q = stride / 4;  // the four sums lie `stride` (a multiple of 4) apart
  for (; row + kGroup <= a.rows; row += kGroup) {
    const double* yr[kGroup];
    for (int g = 0; g < kGroup; g++) yr[g] = a.y + (b * a.rows + row + g) * a.cols + c0;
    // Integrality (t − 1.5·2^52 == v, false for NaN) is and-ed into okall; the range as the largest |v|
    // (a NaN, lost by the maximum, already fails integrality; ±inf passes it and fails the range).
    __m256d okall = _mm256_castsi256_pd(_mm256_set1_epi64x(-1)), mx = _mm256_setzero_pd();
    // One repetition (the default): the group's limb coefficients stay in registers across the columns.
    __m256i cl[kGroup], ch[kGroup];
    for (int g = 0; g < kGroup; g++) {
      cl[g] = _mm256_set1_epi64x(a.rl[row + g]);
      ch[g] = _mm256_set1_epi64x(a.rh[row + g]);
    }
    for (int64_t c = 0; c < nv; c += 4) {
      if ((c & 7) == 0)
        for (int g = 0; g < kGroup; g++) _mm_prefetch(reinterpret_cast<const char*>(yr[g] + c + kPrefetchAhead), _MM_HINT_T0);
      for (int64_t j = 0; j < a.reps; j++) {
        __m256i* s = reinterpret_cast<__m256i*>(acc + 4 * j * stride + c);
        __m256i s0 = _mm256_loadu_si256(s), s1 = _mm256_loadu_si256(s + q), s2 = _mm256_loadu_si256(s + 2 * q),
                s3 = _mm256_loadu_si256(s + 3 * q);
        for (int g = 0; g < kGroup; g++) {
          // t = v + 1.5·2^52 holds an integer |v| < 2^51 exactly in its low mantissa bits: t − 1.5·2^52 == v
          // tests integrality, and bits(t) − bits(1.5·2^52) is v as an int64.
          // An element refused here leaves garbage in the sums (wrapping int64 lanes): the caller discards
          // the whole fold then.
          const __m256d v = _mm256_loadu_pd(yr[g] + c);
          const __m256d t = _mm256_add_pd(v, magic);
          okall = _mm256_and_pd(okall, _mm256_cmp_pd(_mm256_sub_pd(t, magic), v, _CMP_EQ_OQ));
          mx = _mm256_max_pd(mx, _mm256_andnot_pd(sign, v));
          const __m256i y = _mm256_sub_epi64(_mm256_castpd_si256(t), magic_bits);
          // y = ih·2^24 + il with il ∈ [0, 2^24) and ih = ⌊y / 2^24⌋ ∈ [−2^23, 2^23]: vpmuldq reads the low 32
          // bits of each lane as signed, which after a logical shift are ih's.
          const __m256i il = _mm256_and_si256(y, low24);
          const __m256i ih = _mm256_srli_epi64(y, kYLimbBits);
          const __m256i vl = a.reps == 1 ? cl[g] : _mm256_set1_epi64x(a.rl[j * a.rows + row + g]);
          const __m256i vh = a.reps == 1 ? ch[g] : _mm256_set1_epi64x(a.rh[j * a.rows + row + g]);
          s0 = _mm256_add_epi64(s0, _mm256_mul_epi32(il, vl));
          s1 = _mm256_add_epi64(s1, _mm256_mul_epi32(il, vh));
          s2 = _mm256_add_epi64(s2, _mm256_mul_epi32(ih, vl));
          s3 = _mm256_add_epi64(s3, _mm256_mul_epi32(ih, vh));
        }
        _mm256_storeu_si256(s, s0);
        _mm256_storeu_si256(s + q, s1);
        _mm256_storeu_si256(s + 2 * q, s2);
        _mm256_storeu_si256(s + 3 * q, s3);
      }
    }
    bool tail_ok = true;
    for (int g = 0; g < kGroup; g++) tail_ok &= fold_result_tail(a, yr[g], row + g, nv, n, stride, acc);
    const bool in_range = _mm256_movemask_pd(_mm256_cmp_pd(mx, boundv, _CMP_LE_OQ)) == 0xf;
    if (bad < 0 && (!tail_ok || !in_range || _mm256_movemask_pd(okall) != 0xf)) {
      // The first refused element in index order: rows in order, each row from its first column.
      for (int g = 0; g < kGroup && bad < 0; g++) {
        const int64_t i = first_invalid(yr[g], 0, n, a.bound);
        if (i >= 0) bad = (b * a.rows + row + g) * a.cols + c0 + i;
      }
    }
    added(kGroup);
  }
#endif
  for (; row < a.rows; row++) {
    const double* yr = a.y + (b * a.rows + row) * a.cols + c0;
    if (!fold_result_tail(a, yr, row, 0, n, stride, acc) && bad < 0) {
      bad = (b * a.rows + row) * a.cols + c0 + first_invalid(yr, 0, n, a.bound);
    }
    added(1);
  }
  const uint64_t up = static_cast<uint64_t>(a.p);
  const uint64_t w1 = to_residue(kLimbBase, a.p), w2 = to_residue(int64_t(1) << kYLimbBits, a.p);
  const uint64_t w3 = mulmod(w1, w2, up);
  for (int64_t j = 0; j < a.reps; j++) {
    const int64_t* s = acc + 4 * j * stride;
    double* o = a.out + (b * a.reps + j) * a.cols + c0;
    for (int64_t c = 0; c < n; c++) {
      uint64_t t = to_residue(s[c], a.p);
      t = addmod(t, mulmod(to_residue(s[stride + c], a.p), w1, up), up);
      t = addmod(t, mulmod(to_residue(s[2 * stride + c], a.p), w2, up), up);
      t = addmod(t, mulmod(to_residue(s[3 * stride + c], a.p), w3, up), up);
      o[c] = double(t);
    }
  }
  return bad;
}


// (batch, rows, cols, reps, y:F64[batch·rows·cols], r:F64[reps·rows] in [0,P), bound, P,
//  out:F64[batch·reps·cols]) → the index of the first element of y that is not an integer within ±bound, or
// −1 (out is then meaningless — the AVX2 loop folds a refused element's bits as they come — and the caller
// discards it).
Napi::Value WideFoldResult(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyFoldResult";
  expect_args(info, 9, fn);
  FoldResultArgs a{};
  a.batch = dim_arg(info, 0, fn);
  a.rows = dim_arg(info, 1, fn);
  a.cols = dim_arg(info, 2, fn);
  a.reps = dim_arg(info, 3, fn);
  a.y = array_arg<double>(info, 4, a.batch * a.rows * a.cols, fn, "y");
  const double* r = array_arg<double>(info, 5, a.reps * a.rows, fn, "r");
  a.bound = bound_arg(info, 6, fn);
  a.p = wide_modulus_arg(info, 7, fn);
  a.out = array_arg<double>(info, 8, a.batch * a.reps * a.cols, fn, "out");
  check_residues(info, r, a.reps * a.rows, a.p, fn, "r");
  if (wide_ifma::in_use()) {
    const int64_t first = wide_ifma::fold_result(a.batch, a.rows, a.cols, a.reps, a.y, r, a.bound, a.p, a.out);
    return Napi::Number::New(info.Env(), double(first));
  }
  std::vector<int32_t> rl(static_cast<size_t>(a.reps * a.rows)), rh(rl.size());
  for (size_t i = 0; i < rl.size(); i++) {
    const int64_t v = static_cast<int64_t>(r[i]);
    rl[i] = static_cast<int32_t>(v & (kLimbBase - 1));
    rh[i] = static_cast<int32_t>(v >> kLimbBits);
  }
  a.rl = rl.data();
  a.rh = rh.data();
  // Column blocks: a multiple of 4 (the vector loop's stride between the four sums), at least 256.
  const int64_t work = a.batch * a.rows * a.cols * a.reps * 4;
  const int nt = std::max(1, threads_for(work));
  int64_t cb = (a.cols + 2 * nt - 1) / (2 * nt);
  cb = std::min(std::max<int64_t>(256, (cb + 63) / 64 * 64), (a.cols + 3) / 4 * 4);
  const int64_t blocks = (a.cols + cb - 1) / cb;
  const int teams = verify::team_size(a.batch * blocks, work);
  std::vector<int64_t> ws(static_cast<size_t>(teams) * 4 * a.reps * cb);
  std::vector<int64_t> bad(static_cast<size_t>(a.batch * blocks), -1);
  verify::for_tasks(a.batch * blocks, work, [&](int64_t task, int tid) {
    const int64_t b = task / blocks, c0 = (task % blocks) * cb;
    const int64_t n = std::min(cb, a.cols - c0);
    // The vector loop lays its four sums a multiple of 4 apart.
    const int64_t stride = (n + 3) / 4 * 4;
    int64_t* acc = ws.data() + static_cast<size_t>(tid) * 4 * a.reps * cb;
    bad[static_cast<size_t>(task)] = fold_result_block(a, b, c0, n, stride, acc);
  });
  int64_t first = -1;
  for (int64_t v : bad)
    if (v >= 0 && (first < 0 || v < first)) first = v;
  rl.assign(rl.size(), 0);
  rh.assign(rh.size(), 0);
  return Napi::Number::New(info.Env(), double(first));
}

// (batch, rows, cols, reps, a:I32[batch·rows·cols], r:F64[reps·rows] in [0,P), P, out:F64[batch·reps·cols])
// → true with out = the fold's residues when the IFMA kernels are in use and take rows of this length, false
// (nothing done) otherwise — then the caller takes the limb path (wideVerifyFold and a combine).

Napi::Value WideFoldIfma(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyFoldIfma";
  expect_args(info, 8, fn);
  const int64_t batch = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn),
                reps = dim_arg(info, 3, fn);
  const int32_t* a = array_arg<int32_t>(info, 4, batch * rows * cols, fn, "a");
  const double* r = array_arg<double>(info, 5, reps * rows, fn, "r");
  const int64_t p = wide_modulus_arg(info, 6, fn);
  double* out = array_arg<double>(info, 7, batch * reps * cols, fn, "out");
  if (!wide_ifma::in_use() || !wide_ifma::fold_operand_applies(cols)) return Napi::Boolean::New(info.Env(), false);
  check_field(info, a, batch * rows * cols, kOperandLimit, fn, "a");
  check_residues(info, r, reps * rows, p, fn, "r");
  wide_ifma::fold_operand(batch, rows, cols, reps, a, r, p, out);
  return Napi::Boolean::New(info.Env(), true);
}

// (m, kk, reps, a:I32[m·kk], u:F64[reps·kk] residues, P, out:F64[reps·m]) → true with out[j,i] = Σ_l a[i,l]·u[j,l]
// mod P where the IFMA kernels are in use, false (nothing done) otherwise: then the caller splits u into limbs
// for wideVerifyMatvecsCombined.
Napi::Value WideMatvecsIfma(const Napi::CallbackInfo& info) {
  const char* fn = "wideVerifyMatvecsIfma";
  expect_args(info, 7, fn);
  const int64_t m = dim_arg(info, 0, fn), kk = dim_arg(info, 1, fn), reps = dim_arg(info, 2, fn);
  const int32_t* a = array_arg<int32_t>(info, 3, m * kk, fn, "a");
  const double* u = array_arg<double>(info, 4, reps * kk, fn, "u");
  const int64_t p = wide_modulus_arg(info, 5, fn);
  double* out = array_arg<double>(info, 6, reps * m, fn, "out");
  if (!wide_ifma::in_use()) return Napi::Boolean::New(info.Env(), false);
  check_field(info, a, m * kk, kOperandLimit, fn, "a");
  check_residues(info, u, reps * kk, p, fn, "u");
  std::vector<uint64_t> uv(u, u + reps * kk);
  wide_ifma::matvecs(m, kk, reps, a, uv.data(), p, out);
  uv.assign(uv.size(), 0);
  return Napi::Boolean::New(info.Env(), true);
}

// (on: boolean) → whether the IFMA kernels are in use now: on where the CPU has them, unless switched off
// (the tests compare both paths; a benchmark can measure either).
// With no argument it only reports.
Napi::Value WideSetIfma(const Napi::CallbackInfo& info) {
  if (info.Length() > 0) wide_ifma::set_enabled(info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), wide_ifma::in_use());
}

}  // namespace

void register_wide_verify(Napi::Env env, Napi::Object exports) {
  export_function<WideFold>(env, exports, "wideVerifyFold");
  export_function<WideMatvecs>(env, exports, "wideVerifyMatvecs");
  export_function<WideMatvecsCombined>(env, exports, "wideVerifyMatvecsCombined");
  export_function<WideConv>(env, exports, "wideVerifyConv");
  export_function<WideConvT>(env, exports, "wideVerifyConvT");
  export_function<WideConvW>(env, exports, "wideVerifyConvW");
  export_function<WideCombine>(env, exports, "wideVerifyCombine");
  export_function<WideSplitResult>(env, exports, "wideVerifySplitResult");
  export_function<WideFoldResult>(env, exports, "wideVerifyFoldResult");
  export_function<WideSetIfma>(env, exports, "wideVerifySetIfma");
  export_function<WideFoldIfma>(env, exports, "wideVerifyFoldIfma");
  export_function<WideMatvecsIfma>(env, exports, "wideVerifyMatvecsIfma");
  export_function<WideConvIfma>(env, exports, "wideVerifyConvIfma");
  export_function<WideConvTIfma>(env, exports, "wideVerifyConvTIfma");
  export_function<WideCorrResidues>(env, exports, "wideVerifyCorrResidues");
  export_function<WideDotResidues>(env, exports, "wideVerifyDotResidues");
  export_function<WideRowsCheck>(env, exports, "wideVerifyRowsCheck");
  export_function<WideBilinear>(env, exports, "wideVerifyBilinear");
  export_function<WideFirstNonInteger>(env, exports, "wideVerifyFirstNonInteger");
}

}  // namespace tee
