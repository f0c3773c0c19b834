// MaxPool2d (floor mode, -inf padding, argmax = offset of the first maximum in the h·w plane, NaN
// propagates as in PyTorch) and AdaptiveAvgPool2d (PyTorch's bins [floor(i·h/oh), ceil((i+1)·h/oh)),
// which also up-samples, e.g. 1→7). Planes (n·c) are split across threads; every plane is written by one
// thread, so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common.h"
#include "signals.h"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace tee {

namespace {

struct PoolShape {
  int64_t n, c, h, w, k, s, p, oh, ow;
};

// Arguments 0..6: n, c, h, w, k, stride, padding.
PoolShape pool_shape(const Napi::CallbackInfo& info, const char* fn) {
  PoolShape g{};
  g.n = dim_arg(info, 0, fn);
  g.c = dim_arg(info, 1, fn);
  g.h = dim_arg(info, 2, fn);
  g.w = dim_arg(info, 3, fn);
  g.k = dim_arg(info, 4, fn);
  g.s = dim_arg(info, 5, fn);
  g.p = dim_arg(info, 6, fn, 0);
  if (2 * g.p > g.k) throw Napi::RangeError::New(info.Env(), std::string(fn) + ": padding must be at most k/2");
  g.oh = out_size(g.h, g.k, g.s, g.p);
  g.ow = out_size(g.w, g.k, g.s, g.p);
  if (g.oh < 1 || g.ow < 1) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the window does not fit the padded input");
  }
  return g;
}

#if defined(__AVX2__)
// The even elements of the 16 floats at p: p[0], p[2], …, p[14] (p[15] is read too).
inline __m256 even_lanes(const float* p) {
  const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
  const __m256 sh = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));  // p0 p2 p8 p10 | p4 p6 p12 p14
  return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(sh), _MM_SHUFFLE(3, 1, 2, 0)));
}

// Stride 2: eight adjacent outputs of row oy, from ox on, whose windows lie inside the row with one element
// to spare (the loads read 16 floats). The same scan as the scalar loop, lane by lane — rows ky0..ky1,
// columns 0..k, a value replaces the best when greater or NaN — so values and argmax are bit-identical.
inline void max_pool_s2_x8(const float* xp, int64_t w, int64_t k, int64_t p, int64_t iy0, int64_t ky0, int64_t ky1,
                           int64_t ox, float* y, int32_t* am) {
  const int64_t ix0 = 2 * ox - p;
  __m256 best = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
  __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>((iy0 + ky0) * w + ix0)), lane2);
  for (int64_t ky = ky0; ky < ky1; ky++) {
    const int64_t base = (iy0 + ky) * w + ix0;
    for (int64_t kx = 0; kx < k; kx++) {
      const __m256 v = even_lanes(xp + base + kx);
      const __m256 take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
      best = _mm256_blendv_ps(best, v, take);
      const __m256i at = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int32_t>(base + kx)), lane2);
      idx = _mm256_castps_si256(
          _mm256_blendv_ps(_mm256_castsi256_ps(idx), _mm256_castsi256_ps(at), take));
    }
  }
  _mm256_storeu_ps(y, best);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(am), idx);
}
#endif

// x [n,c,h,w] → y [n,c,oh,ow], argmax [n,c,oh,ow]
Napi::Value MaxPoolForward(const Napi::CallbackInfo& info) {
  const char* fn = "maxPool2dForward";
  expect_args(info, 10, fn);
  const PoolShape g = pool_shape(info, fn);
  const int64_t planes = g.n * g.c, hw = g.h * g.w, ohw = g.oh * g.ow;
  const float* x = array_arg<float>(info, 7, planes * hw, fn, "x");
  float* y = array_arg<float>(info, 8, planes * ohw, fn, "y");
  int32_t* am = array_arg<int32_t>(info, 9, planes * ohw, fn, "argmax");
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(planes * ohw * g.k * g.k), planes));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t pl = 0; pl < planes; pl++) {
    const float* xp = x + pl * hw;
    float* yp = y + pl * ohw;
    int32_t* ap = am + pl * ohw;
    for (int64_t oy = 0; oy < g.oh; oy++) {
      const int64_t iy0 = oy * g.s - g.p;
      const int64_t ky0 = std::max<int64_t>(0, -iy0), ky1 = std::min(g.k, g.h - iy0);
      // Outputs [vx0, vx1) go eight at a time (stride 2, windows inside the row with one element to spare).
      int64_t vx0 = 0, vx1 = 0;
#if defined(__AVX2__)
      if (g.s == 2) {
        vx0 = (g.p + 1) / 2;                       // first ox with 2·ox − p ≥ 0
        const int64_t last = (g.w - 1 + g.p - g.k) / 2;  // last ox with 2·ox − p + k ≤ w − 1
        for (vx1 = vx0; vx1 + 7 <= last; vx1 += 8) {
          max_pool_s2_x8(xp, g.w, g.k, g.p, iy0, ky0, ky1, vx1, yp + oy * g.ow + vx1, ap + oy * g.ow + vx1);
        }
        if (vx1 == vx0) vx0 = vx1 = 0;
      }
#endif
      for (int64_t ox = 0; ox < g.ow; ox++) {
        if (ox == vx0 && vx1 > vx0) {
          ox = vx1 - 1;
          continue;
        }
        const int64_t ix0 = ox * g.s - g.p;
        const int64_t kx0 = std::max<int64_t>(0, -ix0), kx1 = std::min(g.k, g.w - ix0);
        float best = -std::numeric_limits<float>::infinity();
        int64_t idx = (iy0 + ky0) * g.w + ix0 + kx0;  // the first element of the window, as in PyTorch
        for (int64_t ky = ky0; ky < ky1; ky++) {
          const int64_t base = (iy0 + ky) * g.w + ix0;
          for (int64_t kx = kx0; kx < kx1; kx++) {
            const float v = xp[base + kx];
            if (v > best || std::isnan(v)) {
              best = v;
              idx = base + kx;
            }
          }
        }
        yp[oy * g.ow + ox] = best;
        ap[oy * g.ow + ox] = static_cast<int32_t>(idx);
      }
    }
  }
  return info.Env().Undefined();
}

// dy [n,c,oh,ow], argmax → dx [n,c,h,w] (zeroed, then scatter-added)
Napi::Value MaxPoolBackward(const Napi::CallbackInfo& info) {
  const char* fn = "maxPool2dBackward";
  expect_args(info, 10, fn);
  const PoolShape g = pool_shape(info, fn);
  const int64_t planes = g.n * g.c, hw = g.h * g.w, ohw = g.oh * g.ow;
  const float* dy = array_arg<float>(info, 7, planes * ohw, fn, "dy");
  const int32_t* am = array_arg<int32_t>(info, 8, planes * ohw, fn, "argmax");
  float* dx = array_arg<float>(info, 9, planes * hw, fn, "dx");
  int64_t bad = 0;
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(planes * (hw + ohw)), planes));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static) reduction(+ : bad)
  for (int64_t pl = 0; pl < planes; pl++) {
    float* dxp = dx + pl * hw;
    const float* dyp = dy + pl * ohw;
    const int32_t* ap = am + pl * ohw;
    std::memset(dxp, 0, sizeof(float) * static_cast<size_t>(hw));
    for (int64_t i = 0; i < ohw; i++) {
      const int64_t j = ap[i];
      if (j < 0 || j >= hw) {
        bad++;  // a corrupted argmax must not write outside the plane
        continue;
      }
      dxp[j] += dyp[i];
    }
  }
  if (bad > 0) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + std::to_string(bad) +
                                                " argmax entries lie outside their h*w plane");
  }
  return info.Env().Undefined();
}

struct AdaptiveShape {
  int64_t n, c, h, w, oh, ow;
};

AdaptiveShape adaptive_shape(const Napi::CallbackInfo& info, const char* fn) {
  AdaptiveShape g{};
  g.n = dim_arg(info, 0, fn);
  g.c = dim_arg(info, 1, fn);
  g.h = dim_arg(info, 2, fn);
  g.w = dim_arg(info, 3, fn);
  g.oh = dim_arg(info, 4, fn);
  g.ow = dim_arg(info, 5, fn);
  return g;
}

inline int64_t bin_start(int64_t i, int64_t size, int64_t out) { return (i * size) / out; }
inline int64_t bin_end(int64_t i, int64_t size, int64_t out) { return ((i + 1) * size + out - 1) / out; }

// x [n,c,h,w] → y [n,c,oh,ow]
Napi::Value AdaptiveForward(const Napi::CallbackInfo& info) {
  const char* fn = "adaptiveAvgPool2dForward";
  expect_args(info, 8, fn);
  const AdaptiveShape g = adaptive_shape(info, fn);
  const int64_t planes = g.n * g.c, hw = g.h * g.w, ohw = g.oh * g.ow;
  const float* x = array_arg<float>(info, 6, planes * hw, fn, "x");
  float* y = array_arg<float>(info, 7, planes * ohw, fn, "y");
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(planes * (hw + ohw)), planes));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t pl = 0; pl < planes; pl++) {
    const float* xp = x + pl * hw;
    float* yp = y + pl * ohw;
    for (int64_t oy = 0; oy < g.oh; oy++) {
      const int64_t y0 = bin_start(oy, g.h, g.oh), y1 = bin_end(oy, g.h, g.oh);
      for (int64_t ox = 0; ox < g.ow; ox++) {
        const int64_t x0 = bin_start(ox, g.w, g.ow), x1 = bin_end(ox, g.w, g.ow);
        double s = 0;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) s += xp[iy * g.w + ix];
        yp[oy * g.ow + ox] = static_cast<float>(s / static_cast<double>((y1 - y0) * (x1 - x0)));
      }
    }
  }
  return info.Env().Undefined();
}

// dy [n,c,oh,ow] → dx [n,c,h,w]
Napi::Value AdaptiveBackward(const Napi::CallbackInfo& info) {
  const char* fn = "adaptiveAvgPool2dBackward";
  expect_args(info, 8, fn);
  const AdaptiveShape g = adaptive_shape(info, fn);
  const int64_t planes = g.n * g.c, hw = g.h * g.w, ohw = g.oh * g.ow;
  const float* dy = array_arg<float>(info, 6, planes * ohw, fn, "dy");
  float* dx = array_arg<float>(info, 7, planes * hw, fn, "dx");
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(planes * (hw + ohw)), planes));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t pl = 0; pl < planes; pl++) {
    float* dxp = dx + pl * hw;
    const float* dyp = dy + pl * ohw;
    std::memset(dxp, 0, sizeof(float) * static_cast<size_t>(hw));
    for (int64_t oy = 0; oy < g.oh; oy++) {
      const int64_t y0 = bin_start(oy, g.h, g.oh), y1 = bin_end(oy, g.h, g.oh);
      for (int64_t ox = 0; ox < g.ow; ox++) {
        const int64_t x0 = bin_start(ox, g.w, g.ow), x1 = bin_end(ox, g.w, g.ow);
        const float d = dyp[oy * g.ow + ox] / static_cast<float>((y1 - y0) * (x1 - x0));
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) dxp[iy * g.w + ix] += d;
      }
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void register_pooling(Napi::Env env, Napi::Object exports) {
  export_function<MaxPoolForward>(env, exports, "maxPool2dForward");
  export_function<MaxPoolBackward>(env, exports, "maxPool2dBackward");
  export_function<AdaptiveForward>(env, exports, "adaptiveAvgPool2dForward");
  export_function<AdaptiveBackward>(env, exports, "adaptiveAvgPool2dBackward");
}

}  // namespace tee
