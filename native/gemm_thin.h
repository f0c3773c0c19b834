// Thin float32 GEMMs: products of a fully-connected layer at a small batch, written as the memory streams
// they are (gemm_thin.cc). A GEMM library takes them at 14–20 GB/s where one core streams ~30 GB/s of reads
// and ~40 GB/s of streaming writes. (The forward x·Wᵀ stays with the library: a dot-product form of it for
// four images measured slower, 28.6 → 36.1 ms.) Each output element is computed the same way whatever the
// thread count (threads split output rows or columns, never a sum).
#pragma once

#include <cstdint>

namespace tee {

constexpr int64_t kThinMax = 8;

// c [m, n] = Σ_{p<k} a(i, p) · b [p, n] with a(i, p) = a[i·a_row + p·a_col], b's rows ldb apart, k ≤ kThinMax:
// the weight gradient dyᵀ·x of a small batch. Large outputs bypass the cache (streaming stores: the
// caller's next pass reads them from memory anyway).
void gemm_small_k_f32(int64_t m, int64_t n, int64_t k, const float* a, int64_t a_row, int64_t a_col,
                      const float* b, int64_t ldb, float* c, int64_t ldc);

// c [n] = a [k] · b [k, n] (one image's input gradient dy·W), b's rows ldb apart: b streamed four rows per
// pass over blocks of c, each element summed over k in order. 20.2 → 15.0 ms for VGG's 25088×4096 (the
// library's 20 GB/s); the same four-row form for four images measured slower than the library (24 → 29 ms).
void gemm_row_f32(int64_t n, int64_t k, const float* a, const float* b, int64_t ldb, float* c);

}  // namespace tee
