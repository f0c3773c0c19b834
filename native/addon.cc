// The tee-offload native addon: registers every kernel family's bindings and sets the default thread
// count (all cores). Loaded by src/kernels/native.ts.
#include "common.h"
#include "gpu/linear.h"
#include "modp_gemm.h"
#include "modp_verify.h"
#include "wide_verify.h"
#include "quantize.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
#if defined(__AVX2__) || defined(__FMA__)
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    throw Napi::Error::New(env,
                           "the addon was built with AVX2/FMA but this CPU lacks them: rebuild it on this machine "
                           "(or with TEE_OFFLOAD_PORTABLE=1)");
  }
#endif
  tee::register_threads(env, exports);
  tee::register_gemm(env, exports);
  tee::register_conv(env, exports);
  tee::register_pooling(env, exports);
  tee::register_batchnorm(env, exports);
  tee::register_elementwise(env, exports);
  tee::register_cross_entropy(env, exports);
  tee::register_modp_verify(env, exports);
  tee::register_wide_verify(env, exports);
  tee::register_modp_gemm(env, exports);
  tee::register_quantize(env, exports);
  tee::gpu::register_gpu(env, exports);
  tee::set_threads(tee::max_threads());
  return exports;
}

}  // namespace

NODE_API_MODULE(tee_offload, Init)
