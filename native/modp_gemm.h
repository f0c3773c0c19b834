// The accelerator's exact products modulo p = 2^24 − 3 (modp_gemm.cc): chunked float64 GEMM and
// im2col/col2im convolutions on centered int32 representatives; and the same products unreduced, as
// exact integers in float64 (arith wide).
#pragma once

#include <napi.h>

namespace tee {

void register_modp_gemm(Napi::Env env, Napi::Object exports);

}  // namespace tee
