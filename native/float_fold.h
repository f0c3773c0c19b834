// The float check's folds with the τ bound's |·| fold in the same pass (freivalds-float.ts): a float check
// folds the same operand (a weight, dY) and the same untrusted result twice — with its random vectors, and
// with ones over |·| for T and S — and both folds are bound by reading the operand. Here one read serves both:
//   out[b,j,c] = Σ_row r[j,row]·a[b,row,c]     out_abs[b,c] = Σ_row |a[b,row,c]|
// float32 operands, float64 products and sums (in any order: the caller's rounding bound covers it). Rows of
// nine columns (a grad-input check's 3×3 weights folded over C) have their own loop: the column loop of the
// general one would run nine iterations per row.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "verify_kernels.h"

namespace tee {
namespace verify {

// Columns [c0, c0+n) of image b, rows four at a time; acc: [reps + 1][n] (the last row of sums: |a|).
inline void fold_abs_block(int64_t rows, int64_t cols, int64_t reps, const float* a, const double* r, int64_t b,
                           int64_t c0, int64_t n, double* acc, double* out, double* out_abs) {
  std::fill(acc, acc + (reps + 1) * n, 0.0);
  double* sa = acc + reps * n;
  int64_t row = 0;
  for (; row + 4 <= rows; row += 4) {
    const float* p0 = a + (b * rows + row) * cols + c0;
    const float *p1 = p0 + cols, *p2 = p1 + cols, *p3 = p2 + cols;
    if (reps == 2) {
      const double* ra = r + row;
      const double* rb = r + rows + row;
      const double a0 = ra[0], a1 = ra[1], a2 = ra[2], a3 = ra[3];
      const double b0 = rb[0], b1 = rb[1], b2 = rb[2], b3 = rb[3];
      double* s0 = acc;
      double* s1 = acc + n;
      for (int64_t c = 0; c < n; c++) {
        const double x0 = p0[c], x1 = p1[c], x2 = p2[c], x3 = p3[c];
        s0[c] += (x0 * a0 + x1 * a1) + (x2 * a2 + x3 * a3);
        s1[c] += (x0 * b0 + x1 * b1) + (x2 * b2 + x3 * b3);
        sa[c] += (std::fabs(x0) + std::fabs(x1)) + (std::fabs(x2) + std::fabs(x3));
      }
      continue;
    }
    for (int64_t j = 0; j < reps; j++) {
      const double* rj = r + j * rows + row;
      const double r0 = rj[0], r1 = rj[1], r2 = rj[2], r3 = rj[3];
      double* s = acc + j * n;
      for (int64_t c = 0; c < n; c++) {
        s[c] += (double(p0[c]) * r0 + double(p1[c]) * r1) + (double(p2[c]) * r2 + double(p3[c]) * r3);
      }
    }
    for (int64_t c = 0; c < n; c++) {
      sa[c] += (std::fabs(double(p0[c])) + std::fabs(double(p1[c]))) +
               (std::fabs(double(p2[c])) + std::fabs(double(p3[c])));
    }
  }
  for (; row < rows; row++) {
    const float* p = a + (b * rows + row) * cols + c0;
    for (int64_t j = 0; j < reps; j++) {
      const double rv = r[j * rows + row];
      double* s = acc + j * n;
      for (int64_t c = 0; c < n; c++) s[c] += double(p[c]) * rv;
    }
    for (int64_t c = 0; c < n; c++) sa[c] += std::fabs(double(p[c]));
  }
  for (int64_t j = 0; j < reps; j++) std::copy(acc + j * n, acc + (j + 1) * n, out + (b * reps + j) * cols + c0);
  std::copy(sa, sa + n, out_abs + b * cols + c0);
}

#ifdef TEE_VERIFY_AVX2
// One image of nine-column rows with one or two vectors: columns 0–3 and 4–7 in two float64 vectors, column
// 8 in a scalar; two rows summed before they reach each accumulator (half the dependent additions).
template <int R>
void fold_abs_rows9(int64_t rows, const float* a, const double* r, double* out, double* out_abs) {
  constexpr int64_t reps = R;
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d lo[R], hi[R];
  for (int j = 0; j < R; j++) lo[j] = hi[j] = _mm256_setzero_pd();
  __m256d alo = _mm256_setzero_pd(), ahi = _mm256_setzero_pd();
  double last[R] = {};
  double alast = 0;
  int64_t row = 0;
  for (; row + 2 <= rows; row += 2) {
    const float* p = a + row * 9;
    const __m128 f0 = _mm_loadu_ps(p), f1 = _mm_loadu_ps(p + 4);
    const __m128 g0 = _mm_loadu_ps(p + 9), g1 = _mm_loadu_ps(p + 13);
    const __m256d x0 = _mm256_cvtps_pd(f0), x1 = _mm256_cvtps_pd(f1);
    const __m256d y0 = _mm256_cvtps_pd(g0), y1 = _mm256_cvtps_pd(g1);
    const double x8 = p[8], y8 = p[17];
    for (int j = 0; j < R; j++) {
      const double ra = r[j * rows + row], rb = r[j * rows + row + 1];
      const __m256d va = _mm256_set1_pd(ra), vb = _mm256_set1_pd(rb);
      lo[j] = _mm256_add_pd(lo[j], _mm256_fmadd_pd(x0, va, _mm256_mul_pd(y0, vb)));
      hi[j] = _mm256_add_pd(hi[j], _mm256_fmadd_pd(x1, va, _mm256_mul_pd(y1, vb)));
      last[j] += x8 * ra + y8 * rb;
    }
    alo = _mm256_add_pd(alo, _mm256_add_pd(_mm256_andnot_pd(sign, x0), _mm256_andnot_pd(sign, y0)));
    ahi = _mm256_add_pd(ahi, _mm256_add_pd(_mm256_andnot_pd(sign, x1), _mm256_andnot_pd(sign, y1)));
    alast += std::fabs(x8) + std::fabs(y8);
  }
  alignas(32) double t[8];
  for (int64_t j = 0; j < reps; j++) {
    _mm256_store_pd(t, lo[j]);
    _mm256_store_pd(t + 4, hi[j]);
    for (int q = 0; q < 8; q++) out[j * 9 + q] = t[q];
    out[j * 9 + 8] = last[j];
  }
  _mm256_store_pd(t, alo);
  _mm256_store_pd(t + 4, ahi);
  for (int q = 0; q < 8; q++) out_abs[q] = t[q];
  out_abs[8] = alast;
  for (; row < rows; row++) {
    const float* p = a + row * 9;
    for (int q = 0; q < 9; q++) {
      const double x = p[q];
      for (int64_t j = 0; j < reps; j++) out[j * 9 + q] += x * r[j * rows + row];
      out_abs[q] += std::fabs(x);
    }
  }
}
#endif

inline void fold_abs(int64_t batch, int64_t rows, int64_t cols, int64_t reps, const float* a, const double* r,
                     double* out, double* out_abs) {
  const int64_t work = batch * rows * cols * (reps + 1);
#ifdef TEE_VERIFY_AVX2
  if (cols == 9 && reps <= 2) {
    for_tasks(batch, work, [&](int64_t b, int) {
      if (reps == 2) fold_abs_rows9<2>(rows, a + b * rows * 9, r, out + b * 2 * 9, out_abs + b * 9);
      else fold_abs_rows9<1>(rows, a + b * rows * 9, r, out + b * 9, out_abs + b * 9);
    });
    return;
  }
#endif
  const int nt = std::max(1, threads_for(work));
  int64_t cb = (cols + 2 * nt - 1) / (2 * nt);
  cb = std::min(std::max<int64_t>(256, (cb + 63) / 64 * 64), cols);
  const int64_t blocks = (cols + cb - 1) / cb;
  const int teams = team_size(batch * blocks, work);
  std::vector<double> ws(static_cast<size_t>(teams * (reps + 1) * cb));
  for_tasks(batch * blocks, work, [&](int64_t task, int tid) {
    const int64_t b = task / blocks, c0 = (task % blocks) * cb, n = std::min(cb, cols - c0);
    fold_abs_block(rows, cols, reps, a, r, b, c0, n, ws.data() + static_cast<size_t>(tid) * (reps + 1) * cb, out,
                   out_abs);
  });
}

}  // namespace verify
}  // namespace tee
