// Bindings of the trusted side's Freivalds arithmetic (verify_kernels.h): exact mod p ("modpVerify*": int32
// operands with |v| ≤ p−1, p ≤ 2^24, checked: a wrong value is a RangeError, never a wrong answer; results in
// [0,p)) and float64 ("f64Verify*": float32 operands against float64 vectors).
#include "modp_verify.h"

#include "signals.h"
#include "float_fold.h"
#include "verify_kernels.h"

namespace tee {

namespace {

using verify::check_field;
using verify::conv_any;
using verify::conv_t_any;
using verify::conv_w_any;
using verify::Exact;
using verify::field_limit;
using verify::fold;
using verify::fold_abs;
using verify::Geom;
using verify::geom_args;
using verify::matvecs;
using verify::modulus_arg;
using verify::range_error;
using verify::Real;

// ---- exact bindings ----

// (batch, rows, cols, reps, a:Int32[batch·rows·cols], r:Int32[reps·rows], p, out:Int32[batch·reps·cols])
Napi::Value ModpFold(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyFold";
  expect_args(info, 8, fn);
  const int64_t batch = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn),
                reps = dim_arg(info, 3, fn);
  const int32_t* a = array_arg<int32_t>(info, 4, batch * rows * cols, fn, "a");
  const int32_t* r = array_arg<int32_t>(info, 5, reps * rows, fn, "r");
  const Exact ar(modulus_arg(info, 6, fn));
  int32_t* out = array_arg<int32_t>(info, 7, batch * reps * cols, fn, "out");
  check_field(info, a, batch * rows * cols, ar.p, fn, "a");
  check_field(info, r, reps * rows, ar.p, fn, "r");
  fold(ar, batch, rows, cols, reps, a, r, out);
  return info.Env().Undefined();
}

// (m, kk, reps, a:Int32[m·kk], u:Int32[reps·kk], p, out:Int32[reps·m])
Napi::Value ModpMatvecs(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyMatvecs";
  expect_args(info, 7, fn);
  const int64_t m = dim_arg(info, 0, fn), kk = dim_arg(info, 1, fn), reps = dim_arg(info, 2, fn);
  const int32_t* a = array_arg<int32_t>(info, 3, m * kk, fn, "a");
  const int32_t* u = array_arg<int32_t>(info, 4, reps * kk, fn, "u");
  const Exact ar(modulus_arg(info, 5, fn));
  int32_t* out = array_arg<int32_t>(info, 6, reps * m, fn, "out");
  check_field(info, a, m * kk, ar.p, fn, "a");
  check_field(info, u, reps * kk, ar.p, fn, "u");
  matvecs(ar, m, kk, reps, a, u, out);
  return info.Env().Undefined();
}

// (n, c, h, w, reps, k, s, pad, x:Int32[n·c·h·w], wf:Int32[reps·c·k·k], p, out:Int32[n·reps·oh·ow])
Napi::Value ModpConv(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyConv";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* x = array_arg<int32_t>(info, 8, g.n * g.c * g.h * g.w, fn, "x");
  const int32_t* wf = array_arg<int32_t>(info, 9, g.reps * g.c * g.k * g.k, fn, "wf");
  const Exact ar(modulus_arg(info, 10, fn));
  int32_t* out = array_arg<int32_t>(info, 11, g.n * g.reps * g.oh * g.ow, fn, "out");
  check_field(info, wf, g.reps * g.c * g.k * g.k, ar.p, fn, "wf");
  if (!conv_any(ar, g, x, wf, out, field_limit(ar.p))) range_error(info, fn, "x");
  return info.Env().Undefined();
}

// (n, o, h, w, reps, k, s, pad, dy:Int32[n·o·oh·ow], wg:Int32[o·reps·k·k], p, out:Int32[n·reps·h·w])
Napi::Value ModpConvT(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyConvT";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* dy = array_arg<int32_t>(info, 8, g.n * g.c * g.oh * g.ow, fn, "dy");
  const int32_t* wg = array_arg<int32_t>(info, 9, g.c * g.reps * g.k * g.k, fn, "wg");
  const Exact ar(modulus_arg(info, 10, fn));
  int32_t* out = array_arg<int32_t>(info, 11, g.n * g.reps * g.h * g.w, fn, "out");
  check_field(info, wg, g.c * g.reps * g.k * g.k, ar.p, fn, "wg");
  if (!conv_t_any(ar, g, dy, wg, out, field_limit(ar.p))) range_error(info, fn, "dy");
  return info.Env().Undefined();
}

// (n, c, h, w, reps, k, s, pad, dyf:Int32[n·reps·oh·ow], x:Int32[n·c·h·w], p, out:Int32[reps·c·k·k])
Napi::Value ModpConvW(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyConvW";
  expect_args(info, 12, fn);
  const Geom g = geom_args(info, fn);
  const int32_t* dyf = array_arg<int32_t>(info, 8, g.n * g.reps * g.oh * g.ow, fn, "dyf");
  const int32_t* x = array_arg<int32_t>(info, 9, g.n * g.c * g.h * g.w, fn, "x");
  const Exact ar(modulus_arg(info, 10, fn));
  int32_t* out = array_arg<int32_t>(info, 11, g.reps * g.c * g.k * g.k, fn, "out");
  check_field(info, dyf, g.n * g.reps * g.oh * g.ow, ar.p, fn, "dyf");
  if (!conv_w_any(ar, g, dyf, x, out, field_limit(ar.p))) range_error(info, fn, "x");
  return info.Env().Undefined();
}

// (a:Int32, p) → the index of the first element outside the centered range [−(p−1)/2, (p−1)/2], or −1.
Napi::Value ModpRange(const Napi::CallbackInfo& info) {
  const char* fn = "modpVerifyRange";
  expect_args(info, 2, fn);
  int64_t n;
  const int32_t* a = any_array_arg<int32_t>(info, 0, &n, fn, "a");
  const int64_t p = modulus_arg(info, 1, fn);
  const int32_t half = static_cast<int32_t>((p - 1) / 2);
  const int64_t block = 4096;
  for (int64_t b = 0; b < n; b += block) {
    const int64_t e = std::min(n, b + block);
    int32_t bad = 0;
    for (int64_t i = b; i < e; i++) bad |= (a[i] > half) | (a[i] < -half);
    if (bad != 0) {
      for (int64_t i = b; i < e; i++) {
        if (a[i] > half || a[i] < -half) return Napi::Number::New(info.Env(), double(i));
      }
    }
  }
  return Napi::Number::New(info.Env(), -1);
}

// ---- float bindings: the last boolean argument selects |operand| (the τ pass) ----

template <bool ABS>
void f64_fold(const Napi::CallbackInfo& info, const char* fn) {
  const int64_t batch = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn),
                reps = dim_arg(info, 3, fn);
  const float* a = array_arg<float>(info, 4, batch * rows * cols, fn, "a");
  const double* r = array_arg<double>(info, 5, reps * rows, fn, "r");
  double* out = array_arg<double>(info, 7, batch * reps * cols, fn, "out");
  fold(Real<ABS>(), batch, rows, cols, reps, a, r, out);
}

// (batch, rows, cols, reps, a:F32, r:F64, abs, out:F64)
Napi::Value F64Fold(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyFold";
  expect_args(info, 8, fn);
  if (bool_arg(info, 6, fn)) f64_fold<true>(info, fn);
  else f64_fold<false>(info, fn);
  return info.Env().Undefined();
}

// (batch, rows, cols, reps, a:F32, r:F64, out:F64, outAbs:F64): the fold with r and, in the same pass, the
// fold of |a| with ones (float_fold.h).
Napi::Value F64FoldAbs(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyFoldAbs";
  expect_args(info, 8, fn);
  const int64_t batch = dim_arg(info, 0, fn), rows = dim_arg(info, 1, fn), cols = dim_arg(info, 2, fn),
                reps = dim_arg(info, 3, fn);
  const float* a = array_arg<float>(info, 4, batch * rows * cols, fn, "a");
  const double* r = array_arg<double>(info, 5, reps * rows, fn, "r");
  double* out = array_arg<double>(info, 6, batch * reps * cols, fn, "out");
  double* out_abs = array_arg<double>(info, 7, batch * cols, fn, "outAbs");
  fold_abs(batch, rows, cols, reps, a, r, out, out_abs);
  return info.Env().Undefined();
}

template <bool ABS>
void f64_matvecs(const Napi::CallbackInfo& info, const char* fn) {
  const int64_t m = dim_arg(info, 0, fn), kk = dim_arg(info, 1, fn), reps = dim_arg(info, 2, fn);
  const float* a = array_arg<float>(info, 3, m * kk, fn, "a");
  const double* u = array_arg<double>(info, 4, reps * kk, fn, "u");
  double* out = array_arg<double>(info, 6, reps * m, fn, "out");
  matvecs(Real<ABS>(), m, kk, reps, a, u, out);
}

// (m, kk, reps, a:F32, u:F64, abs, out:F64)
Napi::Value F64Matvecs(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyMatvecs";
  expect_args(info, 7, fn);
  if (bool_arg(info, 5, fn)) f64_matvecs<true>(info, fn);
  else f64_matvecs<false>(info, fn);
  return info.Env().Undefined();
}

template <bool ABS>
void f64_conv(const Napi::CallbackInfo& info, const char* fn) {
  const Geom g = geom_args(info, fn);
  const float* x = array_arg<float>(info, 8, g.n * g.c * g.h * g.w, fn, "x");
  const double* wf = array_arg<double>(info, 9, g.reps * g.c * g.k * g.k, fn, "wf");
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.oh * g.ow, fn, "out");
  conv_any(Real<ABS>(), g, x, wf, out);
}

// (n, c, h, w, reps, k, s, pad, x:F32, wf:F64, abs, out:F64)
Napi::Value F64Conv(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyConv";
  expect_args(info, 12, fn);
  if (bool_arg(info, 10, fn)) f64_conv<true>(info, fn);
  else f64_conv<false>(info, fn);
  return info.Env().Undefined();
}

template <bool ABS>
void f64_conv_t(const Napi::CallbackInfo& info, const char* fn) {
  const Geom g = geom_args(info, fn);
  const float* dy = array_arg<float>(info, 8, g.n * g.c * g.oh * g.ow, fn, "dy");
  const double* wg = array_arg<double>(info, 9, g.c * g.reps * g.k * g.k, fn, "wg");
  double* out = array_arg<double>(info, 11, g.n * g.reps * g.h * g.w, fn, "out");
  conv_t_any(Real<ABS>(), g, dy, wg, out);
}

// (n, o, h, w, reps, k, s, pad, dy:F32, wg:F64, abs, out:F64)
Napi::Value F64ConvT(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyConvT";
  expect_args(info, 12, fn);
  if (bool_arg(info, 10, fn)) f64_conv_t<true>(info, fn);
  else f64_conv_t<false>(info, fn);
  return info.Env().Undefined();
}

template <bool ABS>
void f64_conv_w(const Napi::CallbackInfo& info, const char* fn) {
  const Geom g = geom_args(info, fn);
  const double* dyf = array_arg<double>(info, 8, g.n * g.reps * g.oh * g.ow, fn, "dyf");
  const float* x = array_arg<float>(info, 9, g.n * g.c * g.h * g.w, fn, "x");
  double* out = array_arg<double>(info, 11, g.reps * g.c * g.k * g.k, fn, "out");
  conv_w_any(Real<ABS>(), g, dyf, x, out);
}

// (n, c, h, w, reps, k, s, pad, dyf:F64, x:F32, abs, out:F64)
Napi::Value F64ConvW(const Napi::CallbackInfo& info) {
  const char* fn = "f64VerifyConvW";
  expect_args(info, 12, fn);
  if (bool_arg(info, 10, fn)) f64_conv_w<true>(info, fn);
  else f64_conv_w<false>(info, fn);
  return info.Env().Undefined();
}

// (a:F32) → the index of the first NaN or ±Inf, or −1.
Napi::Value F32Finite(const Napi::CallbackInfo& info) {
  const char* fn = "f32VerifyFinite";
  expect_args(info, 1, fn);
  int64_t n;
  const float* a = any_array_arg<float>(info, 0, &n, fn, "a");
  for (int64_t i = 0; i < n; i++) {
    if (!std::isfinite(a[i])) return Napi::Number::New(info.Env(), double(i));
  }
  return Napi::Number::New(info.Env(), -1);
}

}  // namespace

void register_modp_verify(Napi::Env env, Napi::Object exports) {
  export_function<ModpFold>(env, exports, "modpVerifyFold");
  export_function<ModpMatvecs>(env, exports, "modpVerifyMatvecs");
  export_function<ModpConv>(env, exports, "modpVerifyConv");
  export_function<ModpConvT>(env, exports, "modpVerifyConvT");
  export_function<ModpConvW>(env, exports, "modpVerifyConvW");
  export_function<ModpRange>(env, exports, "modpVerifyRange");
  export_function<F64Fold>(env, exports, "f64VerifyFold");
  export_function<F64FoldAbs>(env, exports, "f64VerifyFoldAbs");
  export_function<F64Matvecs>(env, exports, "f64VerifyMatvecs");
  export_function<F64Conv>(env, exports, "f64VerifyConv");
  export_function<F64ConvT>(env, exports, "f64VerifyConvT");
  export_function<F64ConvW>(env, exports, "f64VerifyConvW");
  export_function<F32Finite>(env, exports, "f32VerifyFinite");
}

}  // namespace tee
