// The Freivalds-check arithmetic of the trusted side (modp_verify.cc): folds and small products, exact
// modulo p (int32 operands, 64-bit integer accumulators) or in float64 (float32 operands).
#pragma once

#include <napi.h>

namespace tee {

void register_modp_verify(Napi::Env env, Napi::Object exports);

}  // namespace tee
