// Exact mode's fixed-point encoding on the trusted side (src/verify/quantize.ts; docs/integrity.md): the
// operand norms that choose the scales (the largest L2² and L1 over the vectors whose inner products make
// up the outputs) together with max |v| in the same pass, quantization to centered integers (round half
// up, or stochastic with random bytes the caller draws from crypto.randomBytes) and dequantization. Each
// function does exactly what the TypeScript reference in src/verify/ does, in the same order of operations
// (float64), so results are bit-identical to it and independent of the thread count: a vector's sum always
// runs on one thread in a fixed order (contiguous segments in eight lanes: segment_sums); threads only
// share out vectors, and a maximum does not depend on order. Every product formed here is exact in float64
// (the square of a float32 or of an integer below 2^26; a scaling by a power of two), so a fused
// multiply-add rounds exactly as the separate add does.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "signals.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace tee {

namespace {

struct Norm {
  double l2 = 0, l1 = 0;
  // max |v| over every element read, and whether one was NaN (then the caller sees max = NaN).
  double mx = 0;
  bool nan = false;
  void take(double s2, double s1) {
    if (s2 > l2) l2 = s2;
    if (s1 > l1) l1 = s1;
  }
  void take_max(double m, bool bad) {
    if (m > mx) mx = m;
    nan = nan || bad;
  }
  void take(const Norm& o) {
    take(o.l2, o.l1);
    take_max(o.mx, o.nan);
  }
  double max_abs() const { return nan ? std::nan("") : mx; }
};

inline double absd(double v) { return std::fabs(v); }

// max |v| as an unsigned key that vectorizes as an integer maximum: a float's bits without the sign
// (ordered like |v|; any NaN is above +inf's 0x7f800000), an int32's magnitude.
inline uint32_t abs_key(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u & 0x7fffffffu;
}
inline uint32_t abs_key(int32_t v) { return v < 0 ? 0u - static_cast<uint32_t>(v) : static_cast<uint32_t>(v); }
inline void take_key(Norm* m, uint32_t key, float) {
  float f;
  std::memcpy(&f, &key, 4);
  m->take_max(key > 0x7f800000u ? 0.0 : double(f), key > 0x7f800000u);
}
inline void take_key(Norm* m, uint32_t key, int32_t) { m->take_max(double(key), false); }

template <typename S>
uint32_t max_key(const S* p, int64_t n) {
  uint32_t k = 0;
  for (int64_t i = 0; i < n; i++) k = std::max(k, abs_key(p[i]));
  return k;
}

// Σ v² and Σ |v| of one contiguous segment in the reference's order (operand-norms.ts segmentSums): eight
// lanes, lane j summing elements 8i + j in order, combined as ((l0+l4) + (l1+l5)) + ((l2+l6) + (l3+l7)),
// then the tail (len mod 8 elements) added in order. Every square is exact in float64 (a float32 or an
// int32 below 2^26 squared), so the AVX2 version's fused multiply-adds round exactly like the reference.
struct Sums {
  double s2, s1;
};

inline double combine8(const double* l) { return ((l[0] + l[4]) + (l[1] + l[5])) + ((l[2] + l[6]) + (l[3] + l[7])); }

// The eight lanes combined, then the tail [body, len) added in order.
template <typename S>
Sums finish_sums(const double* l2, const double* l1, const S* p, int64_t body, int64_t len) {
  Sums s{combine8(l2), combine8(l1)};
  for (int64_t i = body; i < len; i++) {
    const double v = double(p[i]);
    s.s2 += v * v;
    s.s1 += absd(v);
  }
  return s;
}

template <typename S>
Sums segment_sums_portable(const S* p, int64_t len) {
  double l2[8] = {0, 0, 0, 0, 0, 0, 0, 0}, l1[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int64_t body = len & ~int64_t(7);
  for (int64_t i = 0; i < body; i += 8) {
    for (int j = 0; j < 8; j++) {
      const double v = double(p[i + j]);
      l2[j] += v * v;
      l1[j] += absd(v);
    }
  }
  return finish_sums(l2, l1, p, body, len);
}

#if defined(__AVX2__) && defined(__FMA__)
inline __m256d load4d(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline __m256d load4d(const int32_t* p) { return _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }

template <typename S>
Sums segment_sums(const S* p, int64_t len) {
  const int64_t body = len & ~int64_t(7);
  if (body == 0) return segment_sums_portable(p, len);
  const __m256d sign = _mm256_set1_pd(-0.0);
  __m256d a2 = _mm256_setzero_pd(), b2 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
  for (int64_t i = 0; i < body; i += 8) {
    const __m256d x = load4d(p + i), y = load4d(p + i + 4);
    a2 = _mm256_fmadd_pd(x, x, a2);
    b2 = _mm256_fmadd_pd(y, y, b2);
    a1 = _mm256_add_pd(a1, _mm256_andnot_pd(sign, x));
    b1 = _mm256_add_pd(b1, _mm256_andnot_pd(sign, y));
  }
  alignas(32) double l2[8], l1[8];
  _mm256_store_pd(l2, a2);
  _mm256_store_pd(l2 + 4, b2);
  _mm256_store_pd(l1, a1);
  _mm256_store_pd(l1 + 4, b1);
  return finish_sums(l2, l1, p, body, len);
}
#else
template <typename S>
Sums segment_sums(const S* p, int64_t len) {
  return segment_sums_portable(p, len);
}
#endif

// Runs body(lo, hi, &norm) over [0, n) in contiguous pieces on up to threads() threads; the maxima meet.
template <typename F>
Norm over(int64_t n, int64_t work, F body) {
  int nt = threads_for(work);
  if (nt > n) nt = static_cast<int>(std::max<int64_t>(1, n));
  if (nt <= 1) {
    Norm m;
    body(0, n, &m);
    return m;
  }
  std::vector<Norm> parts(static_cast<size_t>(nt));
#pragma omp parallel for num_threads(nt) schedule(static, 1)
  for (int t = 0; t < nt; t++) {
    int64_t lo, hi;
    split_range(n, nt, t, &lo, &hi);
    body(lo, hi, &parts[static_cast<size_t>(t)]);
  }
  Norm m;
  for (const Norm& p : parts) m.take(p);
  return m;
}

// Per-column sums of rows [0, rows) of a (row stride `ld`, columns [0, n)) added into s2, s1, in the
// reference's order (operand-norms.ts columnSums): rows four at a time, s += (v0² + v1²) + (v2² + v3²),
// then the remaining rows one by one (four rows per load and store of a sum: the stores bounded the loop).
template <typename S>
uint32_t column_sums(const S* a, int64_t rows, int64_t ld, int64_t n, double* s2, double* s1) {
  uint32_t key = 0;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const S *p0 = a + r * ld, *p1 = p0 + ld, *p2 = p1 + ld, *p3 = p2 + ld;
    for (int64_t c = 0; c < n; c++) {
      const double v0 = double(p0[c]), v1 = double(p1[c]), v2 = double(p2[c]), v3 = double(p3[c]);
      s2[c] += (v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3);
      s1[c] += (absd(v0) + absd(v1)) + (absd(v2) + absd(v3));
    }
    key = std::max({key, max_key(p0, n), max_key(p1, n), max_key(p2, n), max_key(p3, n)});
  }
  for (; r < rows; r++) {
    const S* p = a + r * ld;
    for (int64_t c = 0; c < n; c++) {
      const double v = double(p[c]);
      s2[c] += v * v;
      s1[c] += absd(v);
    }
    key = std::max(key, max_key(p, n));
  }
  return key;
}

// rows of a [rows, cols]: one segment each.
template <typename S>
Norm row_norms(const S* a, int64_t rows, int64_t cols) {
  return over(rows, rows * cols, [&](int64_t lo, int64_t hi, Norm* m) {
    for (int64_t r = lo; r < hi; r++) {
      const Sums s = segment_sums(a + r * cols, cols);
      m->take(s.s2, s.s1);
    }
    take_key(m, max_key(a + lo * cols, (hi - lo) * cols), S());
  });
}

// columns of a [rows, cols]: each column's sum runs over the rows (column_sums; vectorized across columns).
template <typename S>
Norm col_norms(const S* a, int64_t rows, int64_t cols) {
  return over(cols, rows * cols, [&](int64_t lo, int64_t hi, Norm* m) {
    constexpr int64_t B = 256;
    double s2[B], s1[B];
    uint32_t key = 0;
    for (int64_t c0 = lo; c0 < hi; c0 += B) {
      const int64_t n = std::min(B, hi - c0);
      std::fill(s2, s2 + n, 0.0);
      std::fill(s1, s1 + n, 0.0);
      key = std::max(key, column_sums(a + c0, rows, cols, n, s2, s1));
      for (int64_t c = 0; c < n; c++) m->take(s2[c], s1[c]);
    }
    take_key(m, key, S());
  });
}

// a [n, ch, plane], one vector per channel: each image's plane is a segment, the segments' sums are added
// over the images in order.
template <typename S>
Norm channel_norms(const S* a, int64_t n, int64_t ch, int64_t plane) {
  return over(ch, n * ch * plane, [&](int64_t lo, int64_t hi, Norm* m) {
    uint32_t key = 0;
    for (int64_t c = lo; c < hi; c++) {
      double s2 = 0, s1 = 0;
      for (int64_t b = 0; b < n; b++) {
        const S* p = a + (b * ch + c) * plane;
        const Sums s = segment_sums(p, plane);
        s2 += s.s2;
        s1 += s.s1;
        key = std::max(key, max_key(p, plane));
      }
      m->take(s2, s1);
    }
    take_key(m, key, S());
  });
}

// Per image: the channel-summed squares and magnitudes of a [n, ch, h, w] as two planes (channel order),
// and max |v| of the image into m.
template <typename S>
void channel_sums(const S* a, int64_t b, int64_t ch, int64_t plane, double* s2, double* s1, Norm* m) {
  const int nt = threads_for(ch * plane);
  std::vector<uint32_t> keys(static_cast<size_t>(std::max(1, nt)), 0);
  auto body = [&](int64_t lo, int64_t hi, uint32_t* key) {
    std::fill(s2 + lo, s2 + hi, 0.0);
    std::fill(s1 + lo, s1 + hi, 0.0);
    uint32_t k = 0;
    for (int64_t c = 0; c < ch; c++) {
      const S* p = a + (b * ch + c) * plane;
      for (int64_t i = lo; i < hi; i++) {
        const double v = double(p[i]);
        s2[i] += v * v;
        s1[i] += absd(v);
      }
      k = std::max(k, max_key(p + lo, hi - lo));
    }
    *key = k;
  };
  if (nt <= 1) {
    body(0, plane, &keys[0]);
  } else {
#pragma omp parallel for num_threads(nt) schedule(static, 1)
    for (int t = 0; t < nt; t++) {
      int64_t lo, hi;
      split_range(plane, nt, t, &lo, &hi);
      body(lo, hi, &keys[static_cast<size_t>(t)]);
    }
  }
  for (uint32_t k : keys) take_key(m, k, S());
}

// conv2d: patches of x [n,c,h,w] at every output position (zero padding contributes nothing).
template <typename S>
Norm patch_norms(const S* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t k, int64_t s, int64_t pad) {
  const int64_t oh = out_size(h, k, s, pad), ow = out_size(w, k, s, pad);
  std::vector<double> s2(static_cast<size_t>(h * w)), s1(static_cast<size_t>(h * w));
  Norm m;
  for (int64_t b = 0; b < n; b++) {
    channel_sums(x, b, c, h * w, s2.data(), s1.data(), &m);
    m.take(over(oh, oh * ow * k * k, [&](int64_t lo, int64_t hi, Norm* mm) {
      for (int64_t oy = lo; oy < hi; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
          double p2 = 0, p1 = 0;
          for (int64_t ky = 0; ky < k; ky++) {
            const int64_t iy = oy * s - pad + ky;
            if (iy < 0 || iy >= h) continue;
            for (int64_t kx = 0; kx < k; kx++) {
              const int64_t ix = ox * s - pad + kx;
              if (ix < 0 || ix >= w) continue;
              p2 += s2[iy * w + ix];
              p1 += s1[iy * w + ix];
            }
          }
          mm->take(p2, p1);
        }
      }
    }));
  }
  return m;
}

// conv2dGradInput: windows of mh×mw output positions of dy [n,o,oh,ow].
template <typename S>
Norm window_norms(const S* dy, int64_t n, int64_t o, int64_t oh, int64_t ow, int64_t mh, int64_t mw) {
  std::vector<double> s2(static_cast<size_t>(oh * ow)), s1(static_cast<size_t>(oh * ow));
  Norm m;
  const int64_t ys = oh - mh + 1, xs = ow - mw + 1;
  for (int64_t b = 0; b < n; b++) {
    channel_sums(dy, b, o, oh * ow, s2.data(), s1.data(), &m);
    if (ys < 1 || xs < 1) continue;
    m.take(over(ys, ys * xs * mh * mw, [&](int64_t lo, int64_t hi, Norm* mm) {
      for (int64_t y0 = lo; y0 < hi; y0++) {
        for (int64_t x0 = 0; x0 < xs; x0++) {
          double p2 = 0, p1 = 0;
          for (int64_t y = y0; y < y0 + mh; y++) {
            for (int64_t x = x0; x < x0 + mw; x++) {
              p2 += s2[y * ow + x];
              p1 += s1[y * ow + x];
            }
          }
          mm->take(p2, p1);
        }
      }
    }));
  }
  return m;
}

// W[:, c, :, :] for each c of w [o, c, kk]: per column (c, t) of w as an [o, c·kk] matrix the sum over o
// (column_sums; vectorized across columns), then per c its kk column sums added in order of t.
template <typename S>
Norm filter_col_norms(const S* w, int64_t o, int64_t c, int64_t kk) {
  return over(c, o * c * kk, [&](int64_t lo, int64_t hi, Norm* m) {
    constexpr int64_t B = 64;  // channels per block
    std::vector<double> s2(static_cast<size_t>(B * kk)), s1(static_cast<size_t>(B * kk));
    uint32_t key = 0;
    for (int64_t c0 = lo; c0 < hi; c0 += B) {
      const int64_t nc = std::min(B, hi - c0), n = nc * kk;
      std::fill(s2.begin(), s2.begin() + n, 0.0);
      std::fill(s1.begin(), s1.begin() + n, 0.0);
      key = std::max(key, column_sums(w + c0 * kk, o, c * kk, n, s2.data(), s1.data()));
      for (int64_t ch = 0; ch < nc; ch++) {
        double t2 = 0, t1 = 0;
        for (int64_t t = 0; t < kk; t++) {
          t2 += s2[static_cast<size_t>(ch * kk + t)];
          t1 += s1[static_cast<size_t>(ch * kk + t)];
        }
        m->take(t2, t1);
      }
    }
    take_key(m, key, S());
  });
}

enum Kind { kRows = 0, kCols = 1, kChannels = 2, kPatches = 3, kWindows = 4, kFilterCols = 5 };

template <typename S>
Norm norms(int kind, const int64_t* d, const S* a) {
  switch (kind) {
    case kRows:
      return row_norms(a, d[0], d[1]);
    case kCols:
      return col_norms(a, d[0], d[1]);
    case kChannels:
      return channel_norms(a, d[0], d[1], d[2]);
    case kPatches:
      return patch_norms(a, d[0], d[1], d[2], d[3], d[4], d[5], d[6]);
    case kWindows:
      return window_norms(a, d[0], d[1], d[2], d[3], d[4], d[5]);
    default:
      return filter_col_norms(a, d[0], d[1], d[2]);
  }
}

// Elements of the operand each kind reads, from its dimensions.
int64_t norm_size(int kind, const int64_t* d) {
  switch (kind) {
    case kRows:
    case kCols:
      return d[0] * d[1];
    case kChannels:
    case kFilterCols:
      return d[0] * d[1] * d[2];
    default:
      return d[0] * d[1] * d[2] * d[3];
  }
}

// (kind, d0..d6, a:F32|I32, out:F64[3]) → out = [max L2², max L1, max |a[i]| (NaN when one is NaN)]
Napi::Value QuantNorms(const Napi::CallbackInfo& info) {
  const char* fn = "quantNorms";
  expect_args(info, 10, fn);
  const double kd = number_arg(info, 0, fn);
  if (!(kd >= 0 && kd <= 5) || std::floor(kd) != kd) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": unknown norm kind");
  }
  const int kind = static_cast<int>(kd);
  int64_t d[7];
  for (int i = 0; i < 7; i++) d[i] = dim_arg(info, static_cast<size_t>(1 + i), fn, 0);
  if (kind == kPatches && (out_size(d[2], d[4], d[5], d[6]) < 1 || out_size(d[3], d[4], d[5], d[6]) < 1 || d[5] < 1)) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": the kernel does not fit the input");
  }
  const int64_t need = norm_size(kind, d);
  double* out = array_arg<double>(info, 9, 3, fn, "out");
  Napi::Value v = info[8];
  Norm m;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
    m = norms(kind, d, array_arg<int32_t>(info, 8, need, fn, "a"));
  } else {
    m = norms(kind, d, array_arg<float>(info, 8, need, fn, "a"));
  }
  out[0] = m.l2;
  out[1] = m.l1;
  out[2] = m.max_abs();
  return info.Env().Undefined();
}

// Math.round(y) (nearest, halves up) for y = a float32 times a power of two: y + 0.5 is exact for every
// such y of magnitude ≥ 2^-30, and for smaller ones it cannot reach 1, so ⌊y + 0.5⌋ equals Math.round(y)
// (as an integer: −0 and 0 both store 0).
inline double round_half_up(double y) { return std::floor(y + 0.5); }

// q = ⌊v·scale + 0.5⌋ (rnd null) or ⌊v·scale + u·2^-16⌋ (u: 2 bytes per element) over [lo, hi) into out; false when an element did
// not fit [−half, half] or was NaN (it stores 0). Every step is one float64 rounding at most (v·scale is
// exact: a float32 times a power of two), so the fused multiply-adds of the AVX2 loop give exactly the
// scalar loop's integers (the compiler did not vectorize that one: it ran at a third of this speed).
bool quantize_range(const float* v, int64_t lo, int64_t hi, double scale, double half, const uint8_t* rnd,
                    int32_t* out) {
  int bad_any = 0;
  int64_t i = lo;
#if defined(__AVX2__) && defined(__FMA__)
  const __m256d sc = _mm256_set1_pd(scale), hv = _mm256_set1_pd(half), sign = _mm256_set1_pd(-0.0);
  const __m256d point5 = _mm256_set1_pd(0.5), two16 = _mm256_set1_pd(0x1p-16);
  __m256d okall = _mm256_castsi256_pd(_mm256_set1_epi64x(-1));
  for (; i + 8 <= hi; i += 8) {
    const __m256 f = _mm256_loadu_ps(v + i);
    __m256d x[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(f)), _mm256_cvtps_pd(_mm256_extractf128_ps(f, 1))};
    for (int h = 0; h < 2; h++) {
      if (rnd != nullptr) {
        // Four uint16 widened to int32 (exact), then to float64 (exact).
        const __m128i u16 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(rnd + 2 * (i + 4 * h)));
        const __m256d ud = _mm256_cvtepi32_pd(_mm_cvtepu16_epi32(u16));
        x[h] = _mm256_floor_pd(_mm256_fmadd_pd(ud, two16, _mm256_mul_pd(x[h], sc)));
      } else {
        x[h] = _mm256_floor_pd(_mm256_fmadd_pd(x[h], sc, point5));
      }
      const __m256d ok = _mm256_cmp_pd(_mm256_andnot_pd(sign, x[h]), hv, _CMP_LE_OQ);
      okall = _mm256_and_pd(okall, ok);
      x[h] = _mm256_and_pd(x[h], ok);
    }
    const __m256i q = _mm256_set_m128i(_mm256_cvtpd_epi32(x[1]), _mm256_cvtpd_epi32(x[0]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), q);
  }
  bad_any |= _mm256_movemask_pd(okall) != 0xf;
#endif
  for (; i < hi; i++) {
    double x;
    if (rnd != nullptr) {
      uint16_t u;
      std::memcpy(&u, rnd + 2 * i, 2);  // little-endian hosts only (x86-64, arm64)
      x = std::floor(double(v[i]) * scale + double(u) * 0x1p-16);
    } else {
      x = round_half_up(double(v[i]) * scale);
    }
    const bool ok = std::fabs(x) <= half;
    bad_any |= !ok;
    out[i] = static_cast<int32_t>(ok ? x : 0.0);
  }
  return bad_any == 0;
}

// (v:F32, bits, half, random:Uint8Array|null, out:I32) → index of the first element whose integer does
// not fit [−half, half] (or is not finite), else −1. Nearest: q = Math.round(v·2^bits). Stochastic
// (random given, 2 bytes per element, little-endian): q = ⌊v·2^bits + u⌋ with u = uint16/2^16.
Napi::Value Quantize(const Napi::CallbackInfo& info) {
  const char* fn = "quantQuantize";
  expect_args(info, 5, fn);
  int64_t n;
  const float* v = any_array_arg<float>(info, 0, &n, fn, "v");
  const double bits = number_arg(info, 1, fn);
  const double half = number_arg(info, 2, fn);
  if (!(std::fabs(bits) <= 1024) || std::floor(bits) != bits) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": bits must be an integer");
  }
  const uint8_t* rnd = nullptr;
  if (!info[3].IsNull() && !info[3].IsUndefined()) {
    if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(info.Env(), std::string(fn) + ": random must be a Uint8Array or null");
    }
    auto r = info[3].As<Napi::Uint8Array>();
    if (static_cast<int64_t>(r.ElementLength()) != 2 * n) {
      throw Napi::RangeError::New(info.Env(), std::string(fn) + ": random must hold 2 bytes per element");
    }
    rnd = r.Data();
  }
  int32_t* out = array_arg<int32_t>(info, 4, n, fn, "out");
  const double scale = std::ldexp(1.0, static_cast<int>(bits));
  const int nt = std::max(1, threads_for(n));
  std::vector<int64_t> first(static_cast<size_t>(nt), -1);
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
  for (int t = 0; t < nt; t++) {
    int64_t lo, hi;
    split_range(n, nt, t, &lo, &hi);
    // Branch-free: a NaN or out-of-range integer stores 0 and raises a flag; the first such index is found
    // by a second scan only when the flag is up.
    const int bad_any = quantize_range(v, lo, hi, scale, half, rnd, out) ? 0 : 1;
    int64_t bad = -1;
    if (bad_any) {
      for (int64_t i = lo; i < hi && bad < 0; i++) {
        const double y = rnd != nullptr ? 0.0 : round_half_up(double(v[i]) * scale);
        double x = y;
        if (rnd != nullptr) {
          uint16_t u;
          std::memcpy(&u, rnd + 2 * i, 2);
          x = std::floor(double(v[i]) * scale + double(u) * 0x1p-16);
        }
        if (!(std::fabs(x) <= half)) bad = i;
      }
    }
    first[static_cast<size_t>(t)] = bad;
  }
  for (int t = 0; t < nt; t++) {
    if (first[static_cast<size_t>(t)] >= 0) return Napi::Number::New(info.Env(), double(first[static_cast<size_t>(t)]));
  }
  return Napi::Number::New(info.Env(), -1);
}

template <typename T>
void dequantize_into(const T* y, int64_t n, double bits, float* out) {
  const double scale = std::ldexp(1.0, -static_cast<int>(bits));
  const int nt = std::max(1, threads_for(n));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
  for (int64_t i = 0; i < n; i++) out[i] = static_cast<float>(double(y[i]) * scale);
}

// (y:I32 | F64, bits, out:F32): out = y·2^-bits (exact in float64, one rounding to float32). A Float64Array
// y holds the exact integers of a wide-field product (|y| < 2^53, already verified).
Napi::Value Dequantize(const Napi::CallbackInfo& info) {
  const char* fn = "quantDequantize";
  expect_args(info, 3, fn);
  const bool wide = info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array;
  const double bits = number_arg(info, 1, fn);
  if (!(std::fabs(bits) <= 1024) || std::floor(bits) != bits) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": bits must be an integer");
  }
  int64_t n;
  if (wide) {
    const double* y = any_array_arg<double>(info, 0, &n, fn, "y");
    dequantize_into(y, n, bits, array_arg<float>(info, 2, n, fn, "out"));
  } else {
    const int32_t* y = any_array_arg<int32_t>(info, 0, &n, fn, "y");
    dequantize_into(y, n, bits, array_arg<float>(info, 2, n, fn, "out"));
  }
  return info.Env().Undefined();
}

}  // namespace

void register_quantize(Napi::Env env, Napi::Object exports) {
  export_function<QuantNorms>(env, exports, "quantNorms");
  export_function<Quantize>(env, exports, "quantQuantize");
  export_function<Dequantize>(env, exports, "quantDequantize");
}

}  // namespace tee
