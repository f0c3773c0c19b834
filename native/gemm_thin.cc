// The thin float32 GEMMs of gemm_thin.h: threads split the output's columns (row products) or rows
// (outer products), never a sum.
#include "gemm_thin.h"

#include <algorithm>
#include <cmath>

#include "common.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace tee {

namespace {

// Outputs at least this large are written with streaming stores (they cannot stay in cache).
constexpr int64_t kStreamBytes = int64_t(8) << 20;

void outer_rows(int64_t r0, int64_t r1, int64_t n, const float* a, const float* b, float* c, int64_t ldc,
                bool stream) {
  for (int64_t i = r0; i < r1; i++) {
    float* row = c + i * ldc;
    const float ai = a[i];
    int64_t j = 0;
#if defined(__AVX2__) && defined(__FMA__)
    const __m256 va = _mm256_set1_ps(ai);
    if (stream) {
      // Scalar up to a 32-byte boundary, then aligned streaming stores.
      while (j < n && (reinterpret_cast<uintptr_t>(row + j) & 31) != 0) {
        row[j] = ai * b[j];
        j++;
      }
      for (; j + 8 <= n; j += 8) _mm256_stream_ps(row + j, _mm256_mul_ps(va, _mm256_loadu_ps(b + j)));
    } else {
      for (; j + 8 <= n; j += 8) _mm256_storeu_ps(row + j, _mm256_mul_ps(va, _mm256_loadu_ps(b + j)));
    }
#else
    (void)stream;
#endif
    for (; j < n; j++) row[j] = ai * b[j];
  }
}

void row_columns(int64_t j0, int64_t j1, int64_t k, const float* a, const float* b, int64_t ldb, float* c) {
  // c[j0:j1] accumulates a[p]·b[p, j0:j1] for p in order, four rows per pass over a block of c (each c
  // element then makes one trip through the core per four rows: fma(a3, b3, fma(a2, b2, fma(a1, b1,
  // fma(a0, b0, c)))) — the same order, so the same bits, as one row at a time). Blocks of 32 KiB of c.
  constexpr int64_t kBlock = 8192;
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t je = std::min(j1, jb + kBlock);
    std::fill(c + jb, c + je, 0.0f);
    int64_t p = 0;
    for (; p + 4 <= k; p += 4) {
      const float *b0 = b + p * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      const float a0 = a[p], a1 = a[p + 1], a2 = a[p + 2], a3 = a[p + 3];
      int64_t j = jb;
#if defined(__AVX2__) && defined(__FMA__)
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
      const float ap = a[p];
      const float* bp = b + p * ldb;
      for (int64_t j = jb; j < je; j++) c[j] = std::fma(ap, bp[j], c[j]);
    }
  }
}

}  // namespace

void gemm_outer_f32(int64_t m, int64_t n, const float* a, const float* b, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  const bool stream = m * n * int64_t(sizeof(float)) >= kStreamBytes;
  [[maybe_unused]] const int nt = threads_for(m * n);
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int64_t r0, r1;
    split_range(m, nt > 1 ? nt : 1, nt > 1 ? thread_id() : 0, &r0, &r1);
    outer_rows(r0, r1, n, a, b, c, ldc, stream);
  }
#if defined(__AVX2__) && defined(__FMA__)
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
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(n * k), units));
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    int64_t u0, u1;
    split_range(units, nt > 1 ? nt : 1, nt > 1 ? thread_id() : 0, &u0, &u1);
    row_columns(u0 * 64, std::min(n, u1 * 64), k, a, b, ldb, c);
  }
}

}  // namespace tee
