// Row-major GEMM used by every kernel: C[m,n] = alpha·op(A)·op(B) + beta·C with leading dimensions.
// OpenBLAS (cblas) when built with USE_OPENBLAS, else the built-in cache-blocked kernel (gemm_builtin.cc).
// `nthreads` is the number of threads this one call may use: 1 inside our own parallel regions.
#pragma once

#include <cstdint>

namespace tee {

void gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
              int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int nthreads);
void gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
              int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc, int nthreads);

// The built-in kernel, always compiled (tests and the no-OpenBLAS build use it).
void builtin_gemm_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int nthreads);
void builtin_gemm_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                      const double* a, int64_t lda, const double* b, int64_t ldb, double beta, double* c,
                      int64_t ldc, int nthreads);

// One single-threaded GEMM whose bits depend on the operands and the shapes only (deterministic mode's
// pieces; safe to call from inside a parallel region): oneDNN's sgemm when built in (it has AVX-512
// kernels, which this OpenBLAS may not), else gemm_f32(…, 1) (hold a BlasSerialRegion for OpenBLAS).
void gemm_serial_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                     int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// Deterministic mode's GEMM (what the sgemm/dgemm bindings use then): C is cut into tiles whose sizes
// depend on m, n and k only, each computed by one single-threaded call, the tiles shared out over
// threads(); K is never split, so every element's sum has the same order whatever the thread count.
void gemm_tiled_f32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                    int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);
void gemm_tiled_f64(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                    int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc);

// "openblas" or "builtin".
const char* blas_name();
// Tell the BLAS library how many threads to use (called by set_threads).
void blas_set_threads(int n);

// While alive, the BLAS library runs single-threaded: for calls from inside our own parallel regions
// (one BLAS call per thread, as DESIGN.md's measurements recommend for im2col convolution).
class BlasSerialRegion {
 public:
  BlasSerialRegion();
  ~BlasSerialRegion();
  BlasSerialRegion(const BlasSerialRegion&) = delete;
  BlasSerialRegion& operator=(const BlasSerialRegion&) = delete;
};

}  // namespace tee
