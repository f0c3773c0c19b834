// sgemm/dgemm bindings and the GEMM dispatch: cblas (OpenBLAS) when built with USE_OPENBLAS, otherwise
// the built-in blocked kernel. Row-major throughout; a stored [kk,m] when transA, b stored [n,kk] when
// transB (api.ts). OpenBLAS is deterministic run to run for a fixed thread count, but an element's bits
// depend on how C is partitioned (its threads' split, and even a single-threaded call's m and n pick
// different kernels), so they change with the thread count. Deterministic mode therefore computes fixed
// tiles of C, each by single-threaded OpenBLAS (gemm_tiled_*). The built-in kernel computes every element
// the same way whatever the split (gemm_builtin.cc) and needs no such mode.
#include "gemm.h"

#include <algorithm>

#include "common.h"
#include "gemm_thin.h"
#include "signals.h"

#ifdef USE_OPENBLAS
#include <cblas.h>
#endif
#ifdef USE_ONEDNN
#include <oneapi/dnnl/dnnl.h>
#endif

namespace tee {

namespace {
int g_blas_threads = 0;
}

const char* blas_name() {
#ifdef USE_OPENBLAS
  return "openblas";
#else
  return "builtin";
#endif
}

void blas_set_threads(int n) {
  if (n == g_blas_threads) return;
#ifdef USE_OPENBLAS
  openblas_set_num_threads(n);
#endif
  g_blas_threads = n;
}

BlasSerialRegion::BlasSerialRegion() { blas_set_threads(1); }
BlasSerialRegion::~BlasSerialRegion() { blas_set_threads(threads()); }

void gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
              const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int nthreads) {
#ifdef USE_OPENBLAS
  (void)nthreads;  // OpenBLAS's own pool size is managed by set_threads / BlasSerialRegion
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
    return;
  }
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
#else
  builtin_gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nthreads);
#endif
}

void gemm_f64(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a, int64_t lda,
              const double* b, int64_t ldb, double beta, double* c, int64_t ldc, int nthreads) {
#ifdef USE_OPENBLAS
  (void)nthreads;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0 ? 0.0 : beta * c[i * ldc + j];
    return;
  }
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
#else
  builtin_gemm_f64(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nthreads);
#endif
}

void gemm_serial_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
#ifdef USE_ONEDNN
  if (m > 0 && n > 0 && k > 0) {
    // oneDNN's sgemm runs on omp_get_max_threads() threads (splitting k) unless it is called inside an
    // active parallel region: make it 1 for this task (the setting is per task, restored after).
#ifdef _OPENMP
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    const dnnl_status_t st =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
#ifdef _OPENMP
    omp_set_num_threads(saved);
#endif
    if (st == dnnl_success) return;
  }
#endif
  gemm_f32(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, 1);
}

namespace {

// Tiles of C for deterministic mode: rows × cols tiles of tm × tn (the last row and column smaller).
struct Tiles {
  int64_t tm, tn, rows, cols;
};

// A function of (m, n, k) only. Small products are one tile (one call); larger ones start from 256×256
// tiles and halve the longer side until there are kDetPieces tiles, none below kMinTileFlops.
Tiles gemm_tiles(int64_t m, int64_t n, int64_t k) {
  constexpr double kSerialFlops = 4e6, kMinTileFlops = 1e6;
  constexpr int64_t kMaxTile = 256, kMinRows = 16, kMinCols = 64;
  const auto flops = [k](int64_t tm, int64_t tn) { return 2.0 * static_cast<double>(tm * tn) * k; };
  if (flops(m, n) < kSerialFlops) return Tiles{m, n, 1, 1};
  int64_t tm = std::min(m, kMaxTile), tn = std::min(n, kMaxTile);
  while (ceil_div(m, tm) * ceil_div(n, tn) < kDetPieces && flops(tm, tn) >= 2 * kMinTileFlops) {
    if (tn >= tm && tn >= 2 * kMinCols) {
      tn = ceil_div(tn, 32) * 16;  // half, rounded up to a multiple of 16 columns
    } else if (tm >= 2 * kMinRows) {
      tm = ceil_div(tm, 16) * 8;
    } else {
      break;
    }
  }
  return Tiles{tm, tn, ceil_div(m, tm), ceil_div(n, tn)};
}

template <typename T, typename Gemm1>
void gemm_tiled(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                int64_t ldb, T beta, T* c, int64_t ldc, Gemm1 gemm1) {
  if (m <= 0 || n <= 0) return;
  const Tiles t = gemm_tiles(m, n, k);
  const int64_t count = t.rows * t.cols;
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads(), count));
  BlasSerialRegion serial;  // one tile, one single-threaded call, even on one thread
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
  for (int64_t i = 0; i < count; i++) {
    const int64_t i0 = (i / t.cols) * t.tm, j0 = (i % t.cols) * t.tn;
    const int64_t mb = std::min(t.tm, m - i0), nb = std::min(t.tn, n - j0);
    const T* ap = ta ? a + i0 : a + i0 * lda;  // op(A) rows [i0, i0+mb)
    const T* bp = tb ? b + j0 * ldb : b + j0;  // op(B) columns [j0, j0+nb)
    gemm1(ta, tb, mb, nb, k, alpha, ap, lda, bp, ldb, beta, c + i0 * ldc + j0, ldc);
  }
}

}  // namespace

void gemm_tiled_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                    const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  gemm_tiled<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, gemm_serial_f32);
}

void gemm_tiled_f64(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                    int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  // oneDNN has no dgemm: single-threaded OpenBLAS (gemm_tiled holds the BlasSerialRegion).
  const auto serial = [](bool ta1, bool tb1, int64_t m1, int64_t n1, int64_t k1, double al, const double* a1,
                         int64_t lda1, const double* b1, int64_t ldb1, double be, double* c1, int64_t ldc1) {
    gemm_f64(ta1, tb1, m1, n1, k1, al, a1, lda1, b1, ldb1, be, c1, ldc1, 1);
  };
  gemm_tiled<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, serial);
}

namespace {

// gemm(transA, transB, m, n, kk, a, b, beta, c[, builtin]); the optional last flag forces the built-in
// kernel (tests use it to check the fallback even when OpenBLAS is built in).
template <typename T>
Napi::Value Gemm(const Napi::CallbackInfo& info, const char* fn) {
  if (info.Length() != 9 && info.Length() != 10) expect_args(info, 9, fn);
  const bool ta = bool_arg(info, 0, fn), tb = bool_arg(info, 1, fn);
  const int64_t m = dim_arg(info, 2, fn, 0), n = dim_arg(info, 3, fn, 0), k = dim_arg(info, 4, fn, 0);
  const T* a = array_arg<T>(info, 5, m * k, fn, "a");
  const T* b = array_arg<T>(info, 6, k * n, fn, "b");
  const double beta = number_arg(info, 7, fn);
  T* c = array_arg<T>(info, 8, m * n, fn, "c");
  const bool builtin = info.Length() == 10 && bool_arg(info, 9, fn);
  const int64_t lda = ta ? (m > 0 ? m : 1) : (k > 0 ? k : 1);
  const int64_t ldb = tb ? (k > 0 ? k : 1) : (n > 0 ? n : 1);
  const int64_t ldc = n > 0 ? n : 1;
  // The built-in kernel is the same whatever the split; OpenBLAS needs fixed tiles for determinism.
#ifdef USE_OPENBLAS
  const bool tiled = !builtin && deterministic();
#else
  const bool tiled = false;
#endif
  if constexpr (sizeof(T) == 4) {
    const float fb = static_cast<float>(beta);
    // A small batch's fully-connected products, streamed (gemm_thin.h): the weight gradient (k ≤ 8) and one
    // image's input gradient (m = 1). They overwrite c (beta 0 only) and do not depend on the split.
    if (!builtin && fb == 0.0f && k <= kThinMax && (!tb || k == 1) && m * n >= kParallelGrain) {
      gemm_small_k_f32(m, n, k, a, ta ? 1 : lda, ta ? lda : 1, b, ldb, c, ldc);
      return info.Env().Undefined();
    }
    if (!builtin && fb == 0.0f && m == 1 && !ta && !tb && n * k >= kParallelGrain) {
      gemm_row_f32(n, k, a, b, ldb, c);
      return info.Env().Undefined();
    }
    if (builtin)
      builtin_gemm_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, fb, c, ldc, threads());
    else if (tiled)
      gemm_tiled_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, fb, c, ldc);
    else
      gemm_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, fb, c, ldc, threads());
  } else {
    if (builtin)
      builtin_gemm_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc, threads());
    else if (tiled)
      gemm_tiled_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc);
    else
      gemm_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc, threads());
  }
  return info.Env().Undefined();
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) { return Gemm<float>(info, "sgemm"); }
Napi::Value Dgemm(const Napi::CallbackInfo& info) { return Gemm<double>(info, "dgemm"); }

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  export_function<Sgemm>(env, exports, "sgemm");
  export_function<Dgemm>(env, exports, "dgemm");
}

}  // namespace tee
