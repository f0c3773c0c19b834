// Conv2d bindings and the choice of implementation: oneDNN when it was built in, im2col otherwise;
// setConvBackend switches at run time (tests exercise both paths in one process). In deterministic mode
// a oneDNN call whose result would depend on the thread count (every backward-weight; a forward or
// backward-data not done by a direct JIT kernel) runs on im2col's deterministic path instead.
#include <exception>
#include <mutex>
#include <string>

#include "common.h"
#include "signals.h"
#include "conv.h"

namespace tee {

namespace {

bool g_use_onednn = onednn_built();

// The primitive cache, the arenas and the im2col workspaces are process-wide: calls from several Node
// worker threads take turns (uncontended, the lock costs nanoseconds).
std::mutex g_conv_mutex;

// Arguments 0..7: n, c, h, w, o, k, stride, padding.
ConvShape conv_shape(const Napi::CallbackInfo& info, const char* fn) {
  ConvShape g{};
  g.n = dim_arg(info, 0, fn);
  g.c = dim_arg(info, 1, fn);
  g.h = dim_arg(info, 2, fn);
  g.w = dim_arg(info, 3, fn);
  g.o = dim_arg(info, 4, fn);
  g.k = dim_arg(info, 5, fn);
  g.s = dim_arg(info, 6, fn);
  g.p = dim_arg(info, 7, fn, 0);
  g.oh = out_size(g.h, g.k, g.s, g.p);
  g.ow = out_size(g.w, g.k, g.s, g.p);
  if (g.oh < 1 || g.ow < 1) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the kernel does not fit the padded input");
  }
  return g;
}

typedef void (*ConvFn)(const ConvShape&, const float*, const float*, float*);

// f(g, a, b, out) with a, b, out of the given element counts; oneDNN errors become JS errors.
Napi::Value run_conv(const Napi::CallbackInfo& info, const char* fn, int which) {
  expect_args(info, 11, fn);
  const ConvShape g = conv_shape(info, fn);
  const int64_t xs = g.n * g.c * g.h * g.w, ws = g.o * g.c * g.k * g.k, ys = g.n * g.o * g.oh * g.ow;
  static const ConvFn onednn[3] = {conv_fwd_onednn, conv_bwd_data_onednn, conv_bwd_weight_onednn};
  static const ConvFn im2col[3] = {conv_fwd_im2col, conv_bwd_data_im2col, conv_bwd_weight_im2col};
  const float* a;
  const float* b;
  float* out;
  if (which == 0) {  // x, w → y
    a = array_arg<float>(info, 8, xs, fn, "x");
    b = array_arg<float>(info, 9, ws, fn, "w");
    out = array_arg<float>(info, 10, ys, fn, "y");
  } else if (which == 1) {  // dy, w → dx
    a = array_arg<float>(info, 8, ys, fn, "dy");
    b = array_arg<float>(info, 9, ws, fn, "w");
    out = array_arg<float>(info, 10, xs, fn, "dx");
  } else {  // dy, x → dw
    a = array_arg<float>(info, 8, ys, fn, "dy");
    b = array_arg<float>(info, 9, xs, fn, "x");
    out = array_arg<float>(info, 10, ws, fn, "dw");
  }
  std::lock_guard<std::mutex> lock(g_conv_mutex);
  try {
    const bool onednn_here = g_use_onednn && (!deterministic() || onednn_thread_independent(g, which));
    (onednn_here ? onednn : im2col)[which](g, a, b, out);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string(fn) + ": " + (g_use_onednn ? "oneDNN: " : "") + e.what());
  }
  return info.Env().Undefined();
}

Napi::Value Forward(const Napi::CallbackInfo& info) { return run_conv(info, "conv2dForward", 0); }
Napi::Value BackwardInput(const Napi::CallbackInfo& info) { return run_conv(info, "conv2dBackwardInput", 1); }
Napi::Value BackwardWeight(const Napi::CallbackInfo& info) { return run_conv(info, "conv2dBackwardWeight", 2); }

Napi::Value SetConvBackend(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "setConvBackend");
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "setConvBackend: expected a string");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  std::lock_guard<std::mutex> lock(g_conv_mutex);
  if (name == "im2col") {
    g_use_onednn = false;
  } else if (name == "onednn") {
    if (!onednn_built()) {
      throw Napi::Error::New(info.Env(), "setConvBackend: oneDNN was not available when the addon was built");
    }
    g_use_onednn = true;
  } else {
    throw Napi::RangeError::New(info.Env(), "setConvBackend: unknown backend '" + name + "'");
  }
  return info.Env().Undefined();
}

Napi::Value ClearConvCache(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(g_conv_mutex);
  onednn_clear_cache();
  return info.Env().Undefined();
}

}  // namespace

const char* conv_backend_name() { return g_use_onednn ? "onednn" : "im2col"; }

void register_conv(Napi::Env env, Napi::Object exports) {
  export_function<Forward>(env, exports, "conv2dForward");
  export_function<BackwardInput>(env, exports, "conv2dBackwardInput");
  export_function<BackwardWeight>(env, exports, "conv2dBackwardWeight");
  export_function<SetConvBackend>(env, exports, "setConvBackend");
  export_function<ClearConvCache>(env, exports, "clearConvCache");
}

}  // namespace tee
