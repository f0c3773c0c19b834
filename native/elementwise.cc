// Element-wise kernels: ReLU forward/backward, per-channel bias add and sum, axpy, and the SGD update
// (torch.optim.SGD, dampening 0). Large arrays are split into contiguous ranges across threads; small
// ones run on the calling thread. Element-wise results never depend on the thread count.
#include <cmath>

#include "common.h"
#include "signals.h"

namespace tee {

namespace {

// Runs f(begin, end) over [0, n) on threads_for(n) threads, contiguous static ranges.
template <typename F>
void parallel_ranges(int64_t n, F f) {
  const int nt = threads_for(n);
  if (nt <= 1) {
    f(int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(nt)
  {
    int64_t b, e;
    split_range(n, nt, thread_id(), &b, &e);
    f(b, e);
  }
}

// The ReLU loops are written so that the compiler vectorises them (8 floats per AVX2 instruction): both
// operands are loaded unconditionally into locals and the result is a select on a compare, with no
// branch and no conditional load (a conditional load of dy kept GCC from if-converting the backward
// loop, which then ran scalar with a data-dependent branch). `!(v > 0)` keeps torch's semantics: 0 at
// v = 0 and at v = -0, NaN passes through (forward) and passes dy through (backward), as
// `v <= 0 ? 0 : …` did. The outputs may alias the inputs element for element, so no `restrict`: GCC
// versions the loop with a run-time overlap check, and exact aliasing takes the vector path too.
inline void relu_forward_range(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    y[i] = v <= 0.0f ? 0.0f : v;
  }
}

inline void relu_backward_range(const float* dy, const float* x, float* dx, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const float d = dy[i];
    const float v = x[i];
    dx[i] = v <= 0.0f ? 0.0f : d;
  }
}

// x, y of one length; y may alias x. y = max(x, 0), NaN propagates (torch.relu).
Napi::Value ReluForward(const Napi::CallbackInfo& info) {
  const char* fn = "reluForward";
  expect_args(info, 2, fn);
  int64_t n;
  const float* x = any_array_arg<float>(info, 0, &n, fn, "x");
  float* y = array_arg<float>(info, 1, n, fn, "y");
  parallel_ranges(n, [=](int64_t b, int64_t e) { relu_forward_range(x + b, y + b, e - b); });
  return info.Env().Undefined();
}

// dx = x > 0 ? dy : 0 (0 at x = 0); dx may alias dy.
Napi::Value ReluBackward(const Napi::CallbackInfo& info) {
  const char* fn = "reluBackward";
  expect_args(info, 3, fn);
  int64_t n;
  const float* dy = any_array_arg<float>(info, 0, &n, fn, "dy");
  const float* x = array_arg<float>(info, 1, n, fn, "x");
  float* dx = array_arg<float>(info, 2, n, fn, "dx");
  parallel_ranges(n, [=](int64_t b, int64_t e) { relu_backward_range(dy + b, x + b, dx + b, e - b); });
  return info.Env().Undefined();
}

// (n, c, hw, y, bias): y [n,c,hw] += bias[c]
Napi::Value AddChannelBias(const Napi::CallbackInfo& info) {
  const char* fn = "addChannelBias";
  expect_args(info, 5, fn);
  const int64_t n = dim_arg(info, 0, fn), c = dim_arg(info, 1, fn), hw = dim_arg(info, 2, fn);
  float* y = array_arg<float>(info, 3, n * c * hw, fn, "y");
  const float* bias = array_arg<float>(info, 4, c, fn, "bias");
  const int64_t planes = n * c;
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(planes * hw), planes));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t pl = 0; pl < planes; pl++) {
    float* yp = y + pl * hw;
    const float bv = bias[pl % c];
    for (int64_t i = 0; i < hw; i++) yp[i] += bv;
  }
  return info.Env().Undefined();
}

// (n, c, hw, dy, out): out[c] += Σ_{n,hw} dy[n,c,hw], summed in double per channel.
Napi::Value SumChannels(const Napi::CallbackInfo& info) {
  const char* fn = "sumChannels";
  expect_args(info, 5, fn);
  const int64_t n = dim_arg(info, 0, fn), c = dim_arg(info, 1, fn), hw = dim_arg(info, 2, fn);
  const float* dy = array_arg<float>(info, 3, n * c * hw, fn, "dy");
  float* out = array_arg<float>(info, 4, c, fn, "out");
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(n * c * hw), c));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ch = 0; ch < c; ch++) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (int64_t b = 0; b < n; b++) {
      const float* p = dy + (b * c + ch) * hw;
      int64_t i = 0;
      for (; i + 4 <= hw; i += 4) {
        s0 += p[i];
        s1 += p[i + 1];
        s2 += p[i + 2];
        s3 += p[i + 3];
      }
      for (; i < hw; i++) s0 += p[i];
    }
    out[ch] = static_cast<float>(out[ch] + ((s0 + s1) + (s2 + s3)));
  }
  return info.Env().Undefined();
}

// (a, x, y): y += a·x
Napi::Value Axpy(const Napi::CallbackInfo& info) {
  const char* fn = "axpy";
  expect_args(info, 3, fn);
  const float a = static_cast<float>(number_arg(info, 0, fn));
  int64_t n;
  const float* x = any_array_arg<float>(info, 1, &n, fn, "x");
  float* y = array_arg<float>(info, 2, n, fn, "y");
  parallel_ranges(n, [=](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; i++) y[i] += a * x[i];
  });
  return info.Env().Undefined();
}

// One SGD element update rounded as PyTorch 1.13 rounds it on an AVX2 CPU: `add(x, alpha=a)` is a fused
// multiply-add (ATen's vectorised add kernel uses fmadd), `mul_` then `add_` round twice. Hyper-parameters
// are float, as ATen converts Python scalars for float tensors:
//   d = fma(wd, p, g); buf = round(m·buf) + d; d = nesterov ? fma(m, buf, d) : buf; p = fma(−lr, d, p).
// Contraction is off so that only the explicit fmaf calls fuse. The mode flags are template parameters
// so that each of the loops has no branch inside and vectorises (the same operations per element in the
// same order, so the result is that of the scalar loop, bit for bit).
template <bool kDecay, bool kMomentum, bool kFirst, bool kNesterov>
__attribute__((optimize("fp-contract=off"))) void sgd_loop(float* p, const float* g, float* buf, float lr, float m,
                                                           float wd, int64_t b, int64_t e) {
  for (int64_t i = b; i < e; i++) {
    const float pv = p[i];
    float d = kDecay ? std::fmaf(wd, pv, g[i]) : g[i];
    if (kMomentum) {
      const float bv = kFirst ? d : m * buf[i] + d;
      buf[i] = bv;
      d = kNesterov ? std::fmaf(m, bv, d) : bv;
    }
    p[i] = std::fmaf(-lr, d, pv);
  }
}

template <bool kDecay>
void sgd_range_decay(float* p, const float* g, float* buf, float lr, float m, float wd, bool nesterov, bool first,
                     int64_t b, int64_t e) {
  if (buf == nullptr) return sgd_loop<kDecay, false, false, false>(p, g, buf, lr, m, wd, b, e);
  if (first) {
    if (nesterov) return sgd_loop<kDecay, true, true, true>(p, g, buf, lr, m, wd, b, e);
    return sgd_loop<kDecay, true, true, false>(p, g, buf, lr, m, wd, b, e);
  }
  if (nesterov) return sgd_loop<kDecay, true, false, true>(p, g, buf, lr, m, wd, b, e);
  sgd_loop<kDecay, true, false, false>(p, g, buf, lr, m, wd, b, e);
}

void sgd_range(float* p, const float* g, float* buf, float lr, float m, float wd, bool nesterov, bool first,
               int64_t b, int64_t e) {
  if (wd != 0.0f) return sgd_range_decay<true>(p, g, buf, lr, m, wd, nesterov, first, b, e);
  sgd_range_decay<false>(p, g, buf, lr, m, wd, nesterov, first, b, e);
}

// (p, grad, buf|null, lr, momentum, weightDecay, nesterov, first)
Napi::Value SgdStep(const Napi::CallbackInfo& info) {
  const char* fn = "sgdStep";
  expect_args(info, 8, fn);
  int64_t n;
  float* p = any_array_arg<float>(info, 0, &n, fn, "p");
  const float* g = array_arg<float>(info, 1, n, fn, "grad");
  float* buf = nullable_array_arg<float>(info, 2, n, fn, "buf");
  const float lr = static_cast<float>(number_arg(info, 3, fn));
  const float m = static_cast<float>(number_arg(info, 4, fn));
  const float wd = static_cast<float>(number_arg(info, 5, fn));
  const bool nesterov = bool_arg(info, 6, fn), first = bool_arg(info, 7, fn);
  if (m != 0.0f && buf == nullptr) {
    throw Napi::TypeError::New(info.Env(), "sgdStep: a momentum buffer is required when momentum is not 0");
  }
  float* b = m != 0.0f ? buf : nullptr;
  parallel_ranges(n, [=](int64_t s, int64_t e) { sgd_range(p, g, b, lr, m, wd, nesterov, first, s, e); });
  return info.Env().Undefined();
}

}  // namespace

void register_elementwise(Napi::Env env, Napi::Object exports) {
  export_function<ReluForward>(env, exports, "reluForward");
  export_function<ReluBackward>(env, exports, "reluBackward");
  export_function<AddChannelBias>(env, exports, "addChannelBias");
  export_function<SumChannels>(env, exports, "sumChannels");
  export_function<Axpy>(env, exports, "axpy");
  export_function<SgdStep>(env, exports, "sgdStep");
}

}  // namespace tee
