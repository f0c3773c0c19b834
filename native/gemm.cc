// sgemm/dgemm bindings and the GEMM dispatch: cblas (OpenBLAS) when built with USE_OPENBLAS, otherwise
// the built-in blocked kernel. Row-major throughout; a stored [kk,m] when transA, b stored [n,kk] when
// transB (api.ts). OpenBLAS is deterministic run to run for a fixed thread count; its results may differ
// in the last bits between thread counts (different K splits in some kernels).
#include "gemm.h"

#include "common.h"

#ifdef USE_OPENBLAS
#include <cblas.h>
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
  if constexpr (sizeof(T) == 4) {
    if (builtin)
      builtin_gemm_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, static_cast<float>(beta), c, ldc, threads());
    else
      gemm_f32(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, static_cast<float>(beta), c, ldc, threads());
  } else {
    if (builtin)
      builtin_gemm_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc, threads());
    else
      gemm_f64(ta, tb, m, n, k, 1.0, a, lda, b, ldb, beta, c, ldc, threads());
  }
  return info.Env().Undefined();
}

Napi::Value Sgemm(const Napi::CallbackInfo& info) { return Gemm<float>(info, "sgemm"); }
Napi::Value Dgemm(const Napi::CallbackInfo& info) { return Gemm<double>(info, "dgemm"); }

}  // namespace

void register_gemm(Napi::Env env, Napi::Object exports) {
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("dgemm", Napi::Function::New(env, Dgemm, "dgemm"));
}

}  // namespace tee
