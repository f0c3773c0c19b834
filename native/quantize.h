// Exact mode's quantization and scale-selection norms (quantize.cc).
#pragma once

#include <napi.h>

namespace tee {

void register_quantize(Napi::Env env, Napi::Object exports);

}  // namespace tee
