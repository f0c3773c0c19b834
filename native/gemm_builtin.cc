// Portable cache-blocked GEMM (Goto/BLIS loop order: NC → KC → MC, packed A and B, an MR×NR register
// micro-kernel written with GCC vector extensions, so it compiles to AVX2+FMA with -mavx2 -mfma and to
// SSE2 otherwise). Used when OpenBLAS is not available. Threads split C into strips; each element of C is
// computed the same way whatever the split, so results do not depend on the thread count.
#include <algorithm>
#include <cstring>

#include "common.h"
#include "gemm.h"

namespace tee {

namespace {

typedef float v8f __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));

template <typename T>
struct Cfg;
template <>
struct Cfg<float> {
  typedef v8f V;
  static constexpr int W = 8;  // lanes per vector
  static constexpr int MR = 6;
  static constexpr int NR = 16;
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = 120;
  static constexpr int64_t NC = 3072;
};
template <>
struct Cfg<double> {
  typedef v4d V;
  static constexpr int W = 4;
  static constexpr int MR = 6;
  static constexpr int NR = 8;
  static constexpr int64_t KC = 256;
  static constexpr int64_t MC = 96;
  static constexpr int64_t NC = 2048;
};

// acc [MR,NR] = Ap [kc,MR]ᵀ · Bp [kc,NR]; then C[0:mr,0:nr] = alpha·acc + (first ? beta·C : C).
template <typename T>
inline void micro_kernel(int64_t kc, const T* __restrict ap, const T* __restrict bp, T* __restrict c,
                         int64_t ldc, int mr, int nr, T alpha, T beta, bool first) {
  typedef typename Cfg<T>::V V;
  constexpr int MR = Cfg<T>::MR, NR = Cfg<T>::NR, W = Cfg<T>::W, NV = NR / W;
  V acc[MR][NV];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NV; j++) acc[i][j] = V{} ;
  for (int64_t p = 0; p < kc; p++) {
    V b[NV];
    for (int j = 0; j < NV; j++) std::memcpy(&b[j], bp + j * W, sizeof(V));
    for (int i = 0; i < MR; i++) {
      const T a = ap[i];
      for (int j = 0; j < NV; j++) acc[i][j] += a * b[j];
    }
    ap += MR;
    bp += NR;
  }
  T tmp[MR * NR] __attribute__((aligned(32)));
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NV; j++) std::memcpy(tmp + i * NR + j * W, &acc[i][j], sizeof(V));
  for (int i = 0; i < mr; i++) {
    T* crow = c + i * ldc;
    const T* t = tmp + i * NR;
    if (first && beta == T(0)) {
      for (int j = 0; j < nr; j++) crow[j] = alpha * t[j];
    } else if (first && beta != T(1)) {
      for (int j = 0; j < nr; j++) crow[j] = beta * crow[j] + alpha * t[j];
    } else {
      for (int j = 0; j < nr; j++) crow[j] += alpha * t[j];
    }
  }
}

// Pack A[i0:i0+mc, p0:p0+kc] (element (i,p) at a[i*rs + p*cs]) into MR-row slivers, zero-padded.
template <typename T>
void pack_a(const T* a, int64_t rs, int64_t cs, int64_t mc, int64_t kc, T* out) {
  constexpr int MR = Cfg<T>::MR;
  for (int64_t ir = 0; ir < mc; ir += MR) {
    int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
    T* o = out + ir * kc;
    if (cs == 1) {
      for (int i = 0; i < mr; i++) {
        const T* row = a + (ir + i) * rs;
        for (int64_t p = 0; p < kc; p++) o[p * MR + i] = row[p];
      }
    } else {
      for (int64_t p = 0; p < kc; p++) {
        const T* col = a + p * cs + ir * rs;
        for (int i = 0; i < mr; i++) o[p * MR + i] = col[i * rs];
      }
    }
    for (int i = mr; i < MR; i++)
      for (int64_t p = 0; p < kc; p++) o[p * MR + i] = T(0);
  }
}

// Pack B[p0:p0+kc, j0:j0+nc] (element (p,j) at b[p*rs + j*cs]) into NR-column slivers, zero-padded.
template <typename T>
void pack_b(const T* b, int64_t rs, int64_t cs, int64_t kc, int64_t nc, T* out) {
  constexpr int NR = Cfg<T>::NR;
  for (int64_t jr = 0; jr < nc; jr += NR) {
    int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
    T* o = out + jr * kc;
    if (cs == 1) {
      for (int64_t p = 0; p < kc; p++) {
        const T* row = b + p * rs + jr;
        T* op = o + p * NR;
        int j = 0;
        for (; j < nr; j++) op[j] = row[j];
        for (; j < NR; j++) op[j] = T(0);
      }
    } else {
      for (int j = 0; j < nr; j++) {
        const T* col = b + (jr + j) * cs;
        for (int64_t p = 0; p < kc; p++) o[p * NR + j] = col[p * rs];
      }
      for (int j = nr; j < NR; j++)
        for (int64_t p = 0; p < kc; p++) o[p * NR + j] = T(0);
    }
  }
}

// Single-threaded blocked GEMM on a sub-problem.
template <typename T>
void gemm_serial(int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t rsa, int64_t csa, const T* b,
                 int64_t rsb, int64_t csb, T beta, T* c, int64_t ldc) {
  constexpr int MR = Cfg<T>::MR, NR = Cfg<T>::NR;
  constexpr int64_t KC = Cfg<T>::KC, MC = Cfg<T>::MC, NC = Cfg<T>::NC;
  static thread_local Buffer pa_buf, pb_buf;
  T* pa = pa_buf.as<T>(static_cast<size_t>(MC * KC));
  const int64_t nc_max = std::min<int64_t>(NC, (n + NR - 1) / NR * NR);
  T* pb = pb_buf.as<T>(static_cast<size_t>(nc_max * KC));
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = std::min(NC, n - jc);
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = std::min(KC, k - pc);
      const bool first = pc == 0;
      pack_b(b + pc * rsb + jc * csb, rsb, csb, kc, nc, pb);
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = std::min(MC, m - ic);
        pack_a(a + ic * rsa + pc * csa, rsa, csa, mc, kc, pa);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
            micro_kernel<T>(kc, pa + ir * kc, pb + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha,
                            beta, first);
          }
        }
      }
    }
  }
}

template <typename T>
void builtin_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
                  int64_t ldb, T beta, T* c, int64_t ldc, int nthreads) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    for (int64_t i = 0; i < m; i++)
      for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  // op(A)(i,p) = a[i*rsa + p*csa]; op(B)(p,j) = b[p*rsb + j*csb].
  const int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1;
  const int64_t rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
  const double flops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  int nt = nthreads;
  if (flops < 2e6) nt = 1;
  if (nt <= 1) {
    gemm_serial<T>(m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c, ldc);
    return;
  }
  // Split the larger of m, n into nt strips aligned to the register block.
  const bool by_cols = n >= m;
  const int64_t unit = by_cols ? Cfg<T>::NR : Cfg<T>::MR;
  const int64_t units = ((by_cols ? n : m) + unit - 1) / unit;
  if (units < nt) nt = static_cast<int>(units);
#pragma omp parallel num_threads(nt)
  {
    const int t = thread_id();
    int64_t u0, u1;
    split_range(units, nt, t, &u0, &u1);
    const int64_t total = by_cols ? n : m;
    const int64_t s0 = std::min(total, u0 * unit), s1 = std::min(total, u1 * unit);
    if (s1 > s0) {
      if (by_cols) {
        gemm_serial<T>(m, s1 - s0, k, alpha, a, rsa, csa, b + s0 * csb, rsb, csb, beta, c + s0, ldc);
      } else {
        gemm_serial<T>(s1 - s0, n, k, alpha, a + s0 * rsa, rsa, csa, b, rsb, csb, beta, c + s0 * ldc, ldc);
      }
    }
  }
}

}  // namespace

void builtin_gemm_f32(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a, int64_t lda,
                      const float* b, int64_t ldb, float beta, float* c, int64_t ldc, int nthreads) {
  builtin_gemm<float>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nthreads);
}

void builtin_gemm_f64(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                      int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc,
                      int nthreads) {
  builtin_gemm<double>(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nthreads);
}

}  // namespace tee
