// The GPU backend's N-API bindings (linear.cc): gpuOpen and gpuLinear.
#pragma once

#include <napi.h>

namespace tee::gpu {

void register_gpu(Napi::Env env, Napi::Object exports);

}  // namespace tee::gpu
