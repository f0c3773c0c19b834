// The wide check's kernels on AVX-512 IFMA (52-bit multiply-adds), for CPUs that have it: the same residues
// as wide_verify.cc's limb kernels, chosen at run time. Inputs are validated by the callers (the bindings in
// wide_verify.cc); every function here runs only while in_use().
#pragma once

#include <cstdint>

#include "verify_kernels.h"

namespace tee {
namespace wide_ifma {

// The CPU has avx512f, avx512dq, avx512vl and avx512ifma (and the build has AVX2).
bool available();
// available() and not switched off by set_enabled(false).
bool in_use();
void set_enabled(bool on);

// out[b,j,c] = Σ_row r[j,row]·y[b,row,c] mod P (r residues); the first element of y that is not an integer
// within ±bound (it counts as 0), or −1.
int64_t fold_result(int64_t batch, int64_t rows, int64_t cols, int64_t reps, const double* y, const double* r,
                    double bound, int64_t p, double* out);
// Whether fold_operand takes rows of `cols` columns (64 or more, or the 9 and 1 of a grad-input check's
// weights); otherwise the limb kernels do.
bool fold_operand_applies(int64_t cols);
// out[b,j,c] = Σ_row r[j,row]·a[b,row,c] mod P for operands |a| < 2^24.
void fold_operand(int64_t batch, int64_t rows, int64_t cols, int64_t reps, const int32_t* a, const double* r,
                  int64_t p, double* out);
// out[j,i] = Σ_l a[i,l]·u[j,l] mod P (u residues).
void matvecs(int64_t m, int64_t kk, int64_t reps, const int32_t* a, const uint64_t* u, int64_t p, double* out);
// WideCorrResidues for strides 1 and 2: out[j,kh,kw] over residue planes dyf and xs.
void corr(int64_t n, int64_t reps, int64_t h, int64_t w, int64_t k, int64_t st, int64_t pad, int64_t oh,
          int64_t ow, const double* dyf, const double* xs, int64_t p, double* out);
// The rows check's channel sums (wide_verify.cc rows_check): z[kh,r] = Σ_c coef[kh,c]·m[c,r] mod P for
// residues m [chans, len] (float64) and coef [k, chans].
void rows_sums(const double* m, int64_t chans, int64_t len, int64_t k, const uint64_t* coef, int64_t p,
               uint64_t* z);
// A stride-1 convolution of x with residue weights wf [reps,c,k,k] (g.s must be 1); false (nothing
// computed) when some |x| ≥ 2^24.
bool conv(const verify::Geom& g, const int32_t* x, const uint64_t* wf, int64_t p, double* out);

}  // namespace wide_ifma
}  // namespace tee
