// BatchNorm2d with PyTorch semantics: training mode normalises with the biased batch variance. For
// accuracy, statistics are accumulated in double (two passes: mean, then Σ(x − mean)²) and x − mean is
// formed in double: PyTorch's float x·α + (b − mean·α) loses ~|mean|/std ulps when the mean is large.
// Channels are split across threads; each channel is reduced by one thread in a fixed order, so results
// do not depend on the thread count.
#include <cmath>

#include "common.h"
#include "signals.h"

namespace tee {

namespace {

// x [n,c,hw] viewed per channel: arguments 0..2 are n, c, hw.
struct ChannelShape {
  int64_t n, c, hw;
};

ChannelShape channel_shape(const Napi::CallbackInfo& info, const char* fn) {
  return ChannelShape{dim_arg(info, 0, fn), dim_arg(info, 1, fn), dim_arg(info, 2, fn)};
}

// Σ x[i] in double with four independent accumulators (fixed order).
inline double sum_f64(const float* x, int64_t n) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a0 += x[i];
    a1 += x[i + 1];
    a2 += x[i + 2];
    a3 += x[i + 3];
  }
  for (; i < n; i++) a0 += x[i];
  return (a0 + a1) + (a2 + a3);
}

// Σ (x[i] − mu)² in double.
inline double sumsq_dev(const float* x, int64_t n, double mu) {
  double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const double d0 = x[i] - mu, d1 = x[i + 1] - mu, d2 = x[i + 2] - mu, d3 = x[i + 3] - mu;
    a0 += d0 * d0;
    a1 += d1 * d1;
    a2 += d2 * d2;
    a3 += d3 * d3;
  }
  for (; i < n; i++) {
    const double d = x[i] - mu;
    a0 += d * d;
  }
  return (a0 + a1) + (a2 + a3);
}

// Σ dy[i] and Σ dy[i]·(x[i] − mu) in double.
inline void sum_dy_dyx(const float* dy, const float* x, int64_t n, double mu, double* sdy, double* sdyx) {
  double s0 = 0, s1 = 0, t0 = 0, t1 = 0;
  int64_t i = 0;
  for (; i + 2 <= n; i += 2) {
    s0 += dy[i];
    s1 += dy[i + 1];
    t0 += dy[i] * (x[i] - mu);
    t1 += dy[i + 1] * (x[i + 1] - mu);
  }
  for (; i < n; i++) {
    s0 += dy[i];
    t0 += dy[i] * (x[i] - mu);
  }
  *sdy += s0 + s1;
  *sdyx += t0 + t1;
}

// y = (x − mu)·alpha + beta over one channel of every image.
inline void affine_channel(const ChannelShape& g, int64_t ch, const float* x, float* y, double mu, double alpha,
                           double beta) {
  for (int64_t b = 0; b < g.n; b++) {
    const float* xp = x + (b * g.c + ch) * g.hw;
    float* yp = y + (b * g.c + ch) * g.hw;
    for (int64_t i = 0; i < g.hw; i++) yp[i] = static_cast<float>((xp[i] - mu) * alpha + beta);
  }
}

int channel_threads(const ChannelShape& g) {
  return static_cast<int>(std::min<int64_t>(threads_for(g.n * g.c * g.hw), g.c));
}

// (n, c, hw, x, weight|null, bias|null, eps, y, mean, variance, invstd)
Napi::Value ForwardTrain(const Napi::CallbackInfo& info) {
  const char* fn = "batchNorm2dForwardTrain";
  expect_args(info, 11, fn);
  const ChannelShape g = channel_shape(info, fn);
  const int64_t total = g.n * g.c * g.hw;
  const float* x = array_arg<float>(info, 3, total, fn, "x");
  const float* weight = nullable_array_arg<float>(info, 4, g.c, fn, "weight");
  const float* bias = nullable_array_arg<float>(info, 5, g.c, fn, "bias");
  const double eps = number_arg(info, 6, fn);
  float* y = array_arg<float>(info, 7, total, fn, "y");
  float* mean = array_arg<float>(info, 8, g.c, fn, "mean");
  float* var = array_arg<float>(info, 9, g.c, fn, "variance");
  float* invstd = array_arg<float>(info, 10, g.c, fn, "invstd");
  const double count = static_cast<double>(g.n * g.hw);
  [[maybe_unused]] const int nt = channel_threads(g);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ch = 0; ch < g.c; ch++) {
    double s = 0;
    for (int64_t b = 0; b < g.n; b++) s += sum_f64(x + (b * g.c + ch) * g.hw, g.hw);
    const double mu = s / count;
    double q = 0;
    for (int64_t b = 0; b < g.n; b++) q += sumsq_dev(x + (b * g.c + ch) * g.hw, g.hw, mu);
    const double v = q / count;
    const double is = 1.0 / std::sqrt(v + eps);
    mean[ch] = static_cast<float>(mu);
    var[ch] = static_cast<float>(v);
    invstd[ch] = static_cast<float>(is);
    affine_channel(g, ch, x, y, mu, is * (weight ? weight[ch] : 1.0), bias ? bias[ch] : 0.0);
  }
  return info.Env().Undefined();
}

// (n, c, hw, x, weight|null, bias|null, runningMean, runningVar, eps, y)
Napi::Value ForwardEval(const Napi::CallbackInfo& info) {
  const char* fn = "batchNorm2dForwardEval";
  expect_args(info, 10, fn);
  const ChannelShape g = channel_shape(info, fn);
  const int64_t total = g.n * g.c * g.hw;
  const float* x = array_arg<float>(info, 3, total, fn, "x");
  const float* weight = nullable_array_arg<float>(info, 4, g.c, fn, "weight");
  const float* bias = nullable_array_arg<float>(info, 5, g.c, fn, "bias");
  const float* rmean = array_arg<float>(info, 6, g.c, fn, "runningMean");
  const float* rvar = array_arg<float>(info, 7, g.c, fn, "runningVar");
  const double eps = number_arg(info, 8, fn);
  float* y = array_arg<float>(info, 9, total, fn, "y");
  [[maybe_unused]] const int nt = channel_threads(g);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ch = 0; ch < g.c; ch++) {
    const double is = 1.0 / std::sqrt(static_cast<double>(rvar[ch]) + eps);
    affine_channel(g, ch, x, y, rmean[ch], is * (weight ? weight[ch] : 1.0), bias ? bias[ch] : 0.0);
  }
  return info.Env().Undefined();
}

// (n, c, hw, dy, x, weight|null, mean, invstd, dx, dweight|null, dbias|null)
// dx = (dy − Σdy/N − (x − mean)·invstd²·Σdy(x − mean)/N)·invstd·w; dweight = Σdy(x − mean)·invstd; dbias = Σdy.
Napi::Value Backward(const Napi::CallbackInfo& info) {
  const char* fn = "batchNorm2dBackward";
  expect_args(info, 11, fn);
  const ChannelShape g = channel_shape(info, fn);
  const int64_t total = g.n * g.c * g.hw;
  const float* dy = array_arg<float>(info, 3, total, fn, "dy");
  const float* x = array_arg<float>(info, 4, total, fn, "x");
  const float* weight = nullable_array_arg<float>(info, 5, g.c, fn, "weight");
  const float* mean = array_arg<float>(info, 6, g.c, fn, "mean");
  const float* invstd = array_arg<float>(info, 7, g.c, fn, "invstd");
  float* dx = array_arg<float>(info, 8, total, fn, "dx");
  float* dweight = nullable_array_arg<float>(info, 9, g.c, fn, "dweight");
  float* dbias = nullable_array_arg<float>(info, 10, g.c, fn, "dbias");
  const double count = static_cast<double>(g.n * g.hw);
  [[maybe_unused]] const int nt = channel_threads(g);
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t ch = 0; ch < g.c; ch++) {
    const double mu = mean[ch], is = invstd[ch];
    double sdy = 0, sdyx = 0;
    for (int64_t b = 0; b < g.n; b++) {
      const int64_t off = (b * g.c + ch) * g.hw;
      sum_dy_dyx(dy + off, x + off, g.hw, mu, &sdy, &sdyx);
    }
    if (dbias) dbias[ch] = static_cast<float>(sdy);
    if (dweight) dweight[ch] = static_cast<float>(sdyx * is);
    const double wv = weight ? weight[ch] : 1.0;
    // dx = (dy − a − (x − mu)·k)·scale
    const double scale = is * wv, a = sdy / count, k = sdyx * is * is / count;
    for (int64_t b = 0; b < g.n; b++) {
      const int64_t off = (b * g.c + ch) * g.hw;
      const float* dyp = dy + off;
      const float* xp = x + off;
      float* dxp = dx + off;
      for (int64_t i = 0; i < g.hw; i++) dxp[i] = static_cast<float>((dyp[i] - a - (xp[i] - mu) * k) * scale);
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void register_batchnorm(Napi::Env env, Napi::Object exports) {
  export_function<ForwardTrain>(env, exports, "batchNorm2dForwardTrain");
  export_function<ForwardEval>(env, exports, "batchNorm2dForwardEval");
  export_function<Backward>(env, exports, "batchNorm2dBackward");
}

}  // namespace tee
