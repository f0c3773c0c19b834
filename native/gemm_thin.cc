// The thin float32 GEMMs of gemm_thin.h. Every element's sum runs in one fixed order (vector lanes and
// scalar tails alike use fused multiply-adds in the order of p), so results do not depend on the split.
#include "gemm_thin.h"

#include <algorithm>
#include <cmath>

#include "common.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define TEE_THIN_AVX2 1
#endif

namespace tee {

namespace {

// Outputs at least this large are written with streaming stores (they cannot stay in cache).
constexpr int64_t kStreamBytes = int64_t(8) << 20;

// Rows [r0, r1) of c = Σ_p a(i, p)·b_p: t = a0·b0, then t = fma(a_p, b_p, t) for p = 1 … K−1.
template <int K>
void small_k_rows(int64_t r0, int64_t r1, int64_t n, const float* a, int64_t a_row, int64_t a_col, const float* b,
                  int64_t ldb, float* c, int64_t ldc, bool stream) {
  for (int64_t i = r0; i < r1; i++) {
    float* row = c + i * ldc;
    float co[K];
    for (int p = 0; p < K; p++) co[p] = a[i * a_row + p * a_col];
    const auto scalar = [&](int64_t j) {
      float t = co[0] * b[j];
      for (int p = 1; p < K; p++) t = std::fma(co[p], b[p * ldb + j], t);
      row[j] = t;
    };
    int64_t j = 0;
#ifdef TEE_THIN_AVX2
    __m256 v[K];
    for (int p = 0; p < K; p++) v[p] = _mm256_set1_ps(co[p]);
    const auto vec = [&](int64_t jj) {
      __m256 t = _mm256_mul_ps(v[0], _mm256_loadu_ps(b + jj));
      for (int p = 1; p < K; p++) t = _mm256_fmadd_ps(v[p], _mm256_loadu_ps(b + p * ldb + jj), t);
      return t;
    };
    if (stream) {
      // Scalar up to a 32-byte boundary, then aligned streaming stores.
      while (j < n && (reinterpret_cast<uintptr_t>(row + j) & 31) != 0) scalar(j++);
      for (; j + 8 <= n; j += 8) _mm256_stream_ps(row + j, vec(j));
    } else {
      for (; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, vec(j));
    }
#else
    (void)stream;
#endif
    for (; j < n; j++) scalar(j);
  }
}

// Columns [j0, j1) of c = a · b (one row): c accumulates a[p]·b_p for p in order, four rows of b per pass
// over a block of c (fma(a3, b3, fma(a2, b2, fma(a1, b1, fma(a0, b0, c)))): the same order, so the same bits,
// as one row at a time). Blocks of 32 KiB of c.
void row_columns(int64_t j0, int64_t j1, int64_t k, const float* a, const float* b, int64_t ldb, float* c) {
  constexpr int64_t kBlock = 8192;
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t je = std::min(j1, jb + kBlock);
    std::fill(c + jb, c + je, 0.0f);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const float *b0 = b + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      const float a0 = a[p], a1 = a[p + 1], a2 = a[p + 2], a3 = a[p + 3];
      int64_t j = jb;
#ifdef TEE_THIN_AVX2
      const __m256 v0 = _mm256_set1_ps(a0), v1 = _mm256_set1_ps(a1), v2 = _mm256_set1_ps(a2), v3 = _mm256_set1_ps(a3);
      for (; j + 8 <= je; j += 8) {
        __m256 t = _mm256_fmadd_ps(v0, _mm256_loadu_ps(b0 + j), _mm256_loadu_ps(c + j));
        t = _mm256_fmadd_ps(v1, _mm256_loadu_ps(b1 + j), t);
        t = _mm256_fmadd_ps(v2, _mm256_loadu_ps(b2 + j), t);
        _mm256_storeu_ps(c + j, _mm256_fmadd_ps(v3, _mm256_loadu_ps(b3 + j), t));
      }
#endif
      for (; j < je; j++) c[j] = std::fma(a3, b3[j], std::fma(a2, b2[j], std::fma(a1, b1[j], std::fma(a0, b0[j], c[j]))));
    }
    for (; p < k; p++) {
      const float* bp = b + p * ldb;
      for (int64_t j = jb; j < je; j++) c[j] = std::fma(a[p], bp[j], c[j]);
    }
  }
}

template <typename F>
void dispatch_thin(int64_t count, F&& f) {
  switch (count) {
    case 1: return f(std::integral_constant<int, 1>());
    case 2: return f(std::integral_constant<int, 2>());
    case 3: return f(std::integral_constant<int, 3>());
    case 4: return f(std::integral_constant<int, 4>());
    case 5: return f(std::integral_constant<int, 5>());
    case 6: return f(std::integral_constant<int, 6>());
    case 7: return f(std::integral_constant<int, 7>());
    default: return f(std::integral_constant<int, 8>());
  }
}

// Runs body(t, parts) on `parts` threads (one part each), or on the calling thread when parts is 1.
template <typename F>
void on_parts(int parts, F&& body) {
  [[maybe_unused]] const int nt = std::max(1, parts);
#pragma omp parallel num_threads(nt) if (nt > 1)
  body(nt > 1 ? thread_id() : 0, nt);
}

}  // namespace

void gemm_small_k_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_row, int64_t a_col,
                      const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const bool stream = m * n * int64_t(sizeof(float)) >= kStreamBytes;
  dispatch_thin(std::clamp<int64_t>(k, 1, kThinMax), [&](auto kc) {
    constexpr int K = decltype(kc)::value;
    on_parts(static_cast<int>(std::min<int64_t>(threads_for(m * n), m)), [&](int t, int parts) {
      int64_t r0, r1;
      split_range(m, parts, t, &r0, &r1);
      small_k_rows<K>(r0, r1, n, a, a_row, a_col, b, ldb, c, ldc, stream);
    });
  });
#ifdef TEE_THIN_AVX2
  if (stream) _mm_sfence();
#endif
}

void gemm_row_f32(int64_t n, int64_t k, const float* a, const float* b, int64_t ldb, float* c) {
  if (n <= 0) return;
  if (k <= 0) {
    std::fill(c, c + n, 0.0f);
    return;
  }
  // Threads take column ranges in multiples of 64 (whole cache lines of c and of each row of b).
  const int64_t units = ceil_div(n, 64);
  on_parts(static_cast<int>(std::min<int64_t>(threads_for(n * k), units)), [&](int t, int parts) {
    int64_t u0, u1;
    split_range(units, parts, t, &u0, &u1);
    row_columns(u0 * 64, std::min(n, u1 * 64), k, a, b, ldb, c);
  });
}

}  // namespace tee
