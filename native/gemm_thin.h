// Two thin float32 GEMM shapes that a single-image step of a fully-connected layer produces, written as
// the streams they are (gemm_thin.cc): a GEMM library takes them at 15–20 GB/s where one core streams ~30.
#pragma once

#include <cstdint>

namespace tee {

// c [m, n] = a [m] ⊗ b [n] (k = 1: the weight gradient dyᵀ·x of one image), rows ldc apart. Every element
// is one product, so the result does not depend on the split; large outputs bypass the cache (streaming
// stores: the caller's next pass reads them from memory anyway).
void gemm_outer_f32(int64_t m, int64_t n, const float* a, const float* b, float* c, int64_t ldc);

// c [n] = a [k] · b [k, n] (m = 1: the input gradient dy·W of one image), b's rows ldb apart: b streamed
// row by row into c, each element summed over k in order (the same bits at any thread count).
void gemm_row_f32(int64_t n, int64_t k, const float* a, const float* b, int64_t ldb, float* c);

}  // namespace tee
