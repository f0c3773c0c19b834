// The wide field's check arithmetic (wide_verify.cc): Freivalds modulo one prime P < 2^50 with vectors split
// into 25-bit limbs, and the validating fold of the exact float64 result.
#pragma once

#include <napi.h>

namespace tee {

void register_wide_verify(Napi::Env env, Napi::Object exports);

}  // namespace tee
