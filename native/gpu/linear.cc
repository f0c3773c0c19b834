// The six linear products on a GPU (device.h): float32 (arith f32), exactly mod p (modp: float64 GEMMs over
// the inner dimension in chunks of 128 terms, each chunk's sums reduced to centered representatives) and
// as exact integers (wide: one float64 GEMM over the whole inner dimension), with the layouts, operand
// checks and results of the CPU products (native/modp_gemm.cc, src/accelerator/modp-ops.ts). Row-major
// tensors are handed to the column-major GEMM as their transposes. Convolutions are im2col (or col2im)
// kernels around strided-batched GEMMs over groups of images whose columns fit the column budget
// (gpuOpen's columnBytes, default 1 GiB; one image at a time when even one is larger).
//
// JavaScript (src/accelerator/gpu-linear.ts):
//   gpuOpen(kind, kernelSource, libDirs, columnBytes, staging) → { kind, name, memoryBytes, computeCapability }
//       kind "cuda" or "emulated"; opens the process's one device (again: the same device's info, unless
//       staging differs); columnBytes: the im2col budget above; staging: large copies through page-locked
//       buffers (default true)
//   gpuLinear(op, arith, dims, a, b, out)
//       op 0..5: dense, denseGradInput, denseGradWeight, conv2d, conv2dGradInput, conv2dGradWeight;
//       arith 0 f32 (Float32Array operands and out), 1 modp (Int32Array operands and out), 2 wide (Int32Array
//       operands, Float64Array out); dims: dense [n, i, o] as the CPU products take them ([n, o, i] for
//       the gradients), conv [n, c, h, w, o, k, stride, padding]. An operand outside the centered range
//       throws a RangeError naming it ("... outside the centered range ..."); a device failure an Error.
#include <climits>
#include <mutex>

#include "../common.h"
#include "../signals.h"
#include "device.h"
#include "linear.h"

namespace tee::gpu {
namespace {

constexpr int64_t kChunk = 128;                             // modp: terms per exact float64 chunk
constexpr int64_t kDefaultColumnBytes = int64_t(1) << 30;   // im2col columns of one group of images
constexpr const char* kCentered = "outside the centered range [-8388606, 8388606]";

std::mutex g_mutex;  // one product at a time on the process's device
std::unique_ptr<Device> g_device;
int64_t g_column_bytes = kDefaultColumnBytes;  // set by gpuOpen
bool g_staging = true;                          // the open CUDA device's copies are staged

enum Op { kDense, kDenseGI, kDenseGW, kConv, kConvGI, kConvGW };
enum Arith { kF32, kModp, kWide };

struct Ctx {
  Device& d;
  Prec prec;
  bool reduce;  // modp
  size_t es;
};

void fits_int(int64_t v, const char* what) {
  if (v < 0 || v > INT_MAX) throw std::range_error(std::string("gpuLinear: ") + what + " does not fit a GEMM");
}

// C (+)= op(A)·op(B) over the inner dimension kk, in chunks of kChunk terms reduced after each (modp), or
// in one GEMM. accumulate = false: C's previous contents are ignored. c_elems: C's elements over the
// whole batch (what a reduction covers).
void gemm_chunked(const Ctx& x, bool ta, bool tb, int64_t m, int64_t n, int64_t kk, dptr a, int64_t lda,
                  int64_t sa, dptr b, int64_t ldb, int64_t sb, dptr c, int64_t ldc, int64_t sc, int64_t batch,
                  bool accumulate, int64_t c_elems) {
  fits_int(m, "m");
  fits_int(n, "n");
  fits_int(lda, "lda");
  fits_int(ldb, "ldb");
  fits_int(ldc, "ldc");
  fits_int(batch, "batch");
  if (m == 0 || n == 0 || batch == 0) return;
  if (kk == 0) {
    if (!accumulate) x.d.zero(c, size_t(c_elems) * x.es);
    return;
  }
  const int64_t chunk = x.reduce ? kChunk : kk;
  fits_int(std::min(chunk, kk), "k");
  for (int64_t k0 = 0; k0 < kk; k0 += chunk) {
    const int64_t kc = std::min(chunk, kk - k0);
    // op(A) is m×kk: columns k0.. of A (A stored m×kk) or rows k0.. (A stored kk×m, ta); op(B) kk×n likewise.
    const int64_t aoff = ta ? k0 : k0 * lda;
    const int64_t boff = tb ? k0 * ldb : k0;
    const double beta = (k0 == 0 && !accumulate) ? 0.0 : 1.0;
    x.d.gemm(x.prec, ta, tb, m, n, kc, a + aoff * x.es, lda, sa, b + boff * x.es, ldb, sb, beta, c, ldc, sc, batch);
    if (x.reduce) x.d.reduce_modp(c_elems, c);
  }
}

// An operand on the device in the compute precision: float32 as sent, or int32 checked and widened.
class Operand {
 public:
  Operand(const Ctx& x, const void* host, int64_t n, bool exact, const char* what) : buf_(x.d, size_t(n) * x.es) {
    if (!exact) {
      x.d.upload(buf_.get(), host, size_t(n) * 4);
      return;
    }
    Buffer raw(x.d, size_t(n) * 4);
    x.d.upload(raw.get(), host, size_t(n) * 4);
    if (!x.d.i32_to_f64(n, raw.get(), buf_.get())) {
      const int32_t* v = static_cast<const int32_t*>(host);
      for (int64_t i = 0; i < n; ++i) {
        if (v[i] > TEE_GPU_HALF_P || v[i] < -TEE_GPU_HALF_P) {
          throw std::range_error(std::string(what) + ": value " + std::to_string(v[i]) + " at index " +
                                 std::to_string(i) + " is " + kCentered);
        }
      }
    }
  }
  dptr get() const { return buf_.get(); }

 private:
  Buffer buf_;
};

int64_t images_per_group(int64_t n, int64_t per_image_elems, size_t es) {
  const int64_t bytes = std::max<int64_t>(per_image_elems * int64_t(es), 1);
  return std::max<int64_t>(1, std::min<int64_t>(n, g_column_bytes / bytes));
}

// Runs one product; y is the device result in the compute precision, y_elems long.
void run(const Ctx& x, int op, const int64_t* d, dptr a, dptr b, dptr y, int64_t y_elems) {
  switch (op) {
    case kDense: {  // x [n,i], w [o,i] → y [n,o]; column-major: yᵀ [o,n] = (wᵀ)ᵀ·xᵀ
      const int64_t n = d[0], i = d[1], o = d[2];
      gemm_chunked(x, true, false, o, n, i, b, i, 0, a, i, 0, y, o, 0, 1, false, y_elems);
      return;
    }
    case kDenseGI: {  // dy [n,o], w [o,i] → dx [n,i]; column-major: dxᵀ [i,n] = wᵀ·dyᵀ
      const int64_t n = d[0], o = d[1], i = d[2];
      gemm_chunked(x, false, false, i, n, o, b, i, 0, a, o, 0, y, i, 0, 1, false, y_elems);
      return;
    }
    case kDenseGW: {  // dy [n,o], x [n,i] → dw [o,i]; column-major: dwᵀ [i,o] = xᵀ·(dyᵀ)ᵀ
      const int64_t n = d[0], o = d[1], i = d[2];
      gemm_chunked(x, false, true, i, o, n, b, i, 0, a, o, 0, y, i, 0, 1, false, y_elems);
      return;
    }
    default:
      break;
  }
  const int64_t n = d[0], c = d[1], h = d[2], w = d[3], o = d[4], k = d[5], s = d[6], p = d[7];
  const int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
  const tee_gpu::ConvGeom g{int(c), int(h), int(w), int(k), int(s), int(p), int(oh), int(ow)};
  const int64_t ckk = c * k * k, plane = oh * ow, chw = c * h * w;
  const int64_t group = images_per_group(n, ckk * plane, x.es);
  Buffer col(x.d, size_t(group * ckk * plane) * x.es);
  for (int64_t i0 = 0; i0 < n; i0 += group) {
    const int64_t gi = std::min(group, n - i0);
    switch (op) {
      case kConv:  // y_i [o, plane] = w [o, ckk] · col_i [ckk, plane]
        x.d.im2col(x.prec, gi * ckk * plane, a + i0 * chw * x.es, col.get(), g);
        gemm_chunked(x, false, false, plane, o, ckk, col.get(), plane, ckk * plane, b, ckk, 0,
                     y + i0 * o * plane * x.es, plane, o * plane, gi, false, gi * o * plane);
        break;
      case kConvGI: {  // col_i [ckk, plane] = wᵀ · dy_i, then col2im
        gemm_chunked(x, false, true, plane, ckk, o, a + i0 * o * plane * x.es, plane, o * plane, b, ckk, 0,
                     col.get(), plane, ckk * plane, gi, false, gi * ckk * plane);
        const dptr dx = y + i0 * chw * x.es;
        x.d.col2im(x.prec, gi * chw, col.get(), dx, g);
        if (x.reduce) x.d.reduce_modp(gi * chw, dx);
        break;
      }
      case kConvGW:  // dw [o, ckk] += dy_i [o, plane] · col_iᵀ, image by image
        x.d.im2col(x.prec, gi * ckk * plane, b + i0 * chw * x.es, col.get(), g);
        for (int64_t j = 0; j < gi; ++j) {
          gemm_chunked(x, true, false, ckk, o, plane, col.get() + j * ckk * plane * x.es, plane, 0,
                       a + (i0 + j) * o * plane * x.es, plane, 0, y, ckk, 0, 1, i0 + j > 0, y_elems);
        }
        break;
      default:
        throw std::range_error("gpuLinear: unknown op " + std::to_string(op));
    }
  }
  if (op == kConvGW && n == 0) x.d.zero(y, size_t(y_elems) * x.es);
}

const char* const kOpNames[] = {"dense", "denseGradInput", "denseGradWeight",
                                "conv2d", "conv2dGradInput", "conv2dGradWeight"};

Napi::Value GpuOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string kind = info[0].As<Napi::String>().Utf8Value();
  const std::string source = info[1].As<Napi::String>().Utf8Value();
  std::vector<std::string> dirs;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array arr = info[2].As<Napi::Array>();
    for (uint32_t i = 0; i < arr.Length(); ++i) dirs.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  if (info.Length() > 3 && info[3].IsNumber()) {
    const double cb = info[3].As<Napi::Number>().DoubleValue();
    if (!(cb >= 1 && cb <= 9.0e15)) throw Napi::RangeError::New(env, "gpuOpen: columnBytes must be >= 1");
    g_column_bytes = int64_t(cb);
  }
  const bool staging = !(info.Length() > 4 && info[4].IsBoolean()) || info[4].As<Napi::Boolean>().Value();
  if (!g_device || g_device->info().kind != kind || (kind == "cuda" && staging != g_staging)) {
    try {
      g_device.reset();
      g_device = kind == "cuda" ? open_cuda(dirs, source, staging) : open_emulated();
      g_staging = staging;
    } catch (const std::exception& e) {
      throw Napi::Error::New(env, e.what());
    }
  }
  const DeviceInfo& di = g_device->info();
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", di.kind);
  o.Set("name", di.name);
  o.Set("memoryBytes", double(di.memory_bytes));
  o.Set("computeCapability", std::to_string(di.cc_major) + "." + std::to_string(di.cc_minor));
  return o;
}

template <typename T>
std::pair<void*, int64_t> view(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw std::range_error(std::string("gpuLinear: ") + what + " must be a typed array");
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  const napi_typedarray_type want = std::is_same<T, float>::value     ? napi_float32_array
                                    : std::is_same<T, int32_t>::value ? napi_int32_array
                                                                      : napi_float64_array;
  if (t.TypedArrayType() != want) throw std::range_error(std::string("gpuLinear: ") + what + " has the wrong type");
  // The view's own data pointer: also right for a view of a SharedArrayBuffer (the accelerator's pooled
  // buffers), where ArrayBuffer() fails.
  auto typed = v.As<Napi::TypedArrayOf<T>>();
  return {static_cast<void*>(typed.Data()), int64_t(typed.ElementLength())};
}

Napi::Value GpuLinear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  try {
    const int op = info[0].As<Napi::Number>().Int32Value();
    const int arith = info[1].As<Napi::Number>().Int32Value();
    if (op < 0 || op > 5) throw std::range_error("gpuLinear: unknown op " + std::to_string(op));
    if (arith < 0 || arith > 2) throw std::range_error("gpuLinear: unknown arith " + std::to_string(arith));
    Napi::Array dv = info[2].As<Napi::Array>();
    const uint32_t nd = op < kConv ? 3 : 8;
    if (dv.Length() != nd) throw std::range_error("gpuLinear: dims must hold " + std::to_string(nd) + " numbers");
    int64_t d[8] = {0};
    for (uint32_t i = 0; i < nd; ++i) {
      const double v = dv.Get(i).As<Napi::Number>().DoubleValue();
      if (!(v >= 0 && v <= double(INT_MAX) && v == double(int64_t(v))))
        throw std::range_error("gpuLinear: dims must be integers in [0, 2^31)");
      d[i] = int64_t(v);
    }
    int64_t a_len, b_len, y_len;
    // Element counts from dims below 2^31 each: checked products, so that no count wraps around and
    // matches an array by accident (the server has checked the shapes already; this addon does not rely on it).
    const auto mul = [](std::initializer_list<int64_t> f) {
      int64_t r = 1;
      for (int64_t v : f) {
        if (v != 0 && r > (int64_t(1) << 53) / v) throw std::range_error("gpuLinear: dims too large");
        r *= v;
      }
      return r;
    };
    if (op < kConv) {
      const int64_t n = d[0], p = d[1], q = d[2];  // dense: [n,i,o]; gradients: [n,o,i]
      a_len = mul({n, p});
      b_len = op == kDenseGW ? mul({n, q}) : mul({p, q});
      y_len = op == kDenseGW ? mul({p, q}) : mul({n, q});
    } else {
      const int64_t n = d[0], c = d[1], h = d[2], w = d[3], o = d[4], k = d[5], s = d[6], p = d[7];
      if (k < 1 || s < 1 || h + 2 * p < k || w + 2 * p < k)
        throw std::range_error("gpuLinear: convolution geometry out of range");
      const int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
      const int64_t x_len = mul({n, c, h, w}), w_len = mul({o, c, k, k}), y2 = mul({n, o, oh, ow});
      mul({c, k, k, oh, ow});  // one image's columns
      if (op == kConv) a_len = x_len, b_len = w_len, y_len = y2;
      else if (op == kConvGI) a_len = y2, b_len = w_len, y_len = x_len;
      else a_len = y2, b_len = x_len, y_len = w_len;
    }
    const bool exact = arith != kF32;
    std::pair<void*, int64_t> av, bv, yv;
    if (exact) {
      av = view<int32_t>(info[3], "a");
      bv = view<int32_t>(info[4], "b");
      yv = arith == kWide ? view<double>(info[5], "out") : view<int32_t>(info[5], "out");
    } else {
      av = view<float>(info[3], "a");
      bv = view<float>(info[4], "b");
      yv = view<float>(info[5], "out");
    }
    if (av.second != a_len || bv.second != b_len || yv.second != y_len)
      throw std::range_error("gpuLinear: operand lengths do not match the dims");

    std::lock_guard<std::mutex> lock(g_mutex);
    if (!g_device) throw std::runtime_error("gpuLinear: no device is open (gpuOpen first)");
    Device& dev = *g_device;
    const Ctx x{dev, exact ? Prec::F64 : Prec::F32, arith == kModp, exact ? size_t(8) : size_t(4)};
    const std::string name = kOpNames[op];
    Operand a(x, av.first, a_len, exact, (name + ": a").c_str());
    Operand b(x, bv.first, b_len, exact, (name + ": b").c_str());
    Buffer y(dev, size_t(std::max<int64_t>(y_len, 1)) * x.es);
    run(x, op, d, a.get(), b.get(), y.get(), y_len);
    if (arith == kModp) {
      Buffer yi(dev, size_t(std::max<int64_t>(y_len, 1)) * 4);
      dev.f64_to_i32(y_len, y.get(), yi.get());
      dev.download(yv.first, yi.get(), size_t(y_len) * 4);
    } else {
      dev.download(yv.first, y.get(), size_t(y_len) * x.es);
    }
    return env.Undefined();
  } catch (const std::range_error& e) {
    throw Napi::RangeError::New(env, e.what());
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

}  // namespace

void register_gpu(Napi::Env env, Napi::Object exports) {
  export_function<GpuOpen>(env, exports, "gpuOpen");
  export_function<GpuLinear>(env, exports, "gpuLinear");
}

}  // namespace tee::gpu
