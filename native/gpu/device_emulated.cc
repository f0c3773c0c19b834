// The GPU device emulated on the CPU: host memory stands in for device memory, each kernel of
// kernels.cuh runs in a loop over its indices, and GEMM follows cuBLAS's column-major conventions with a
// plain loop (float products accumulate in float, as a GPU's would; integers in float64 are exact in any
// order). Slow and single-threaded on purpose: it exists so that tests check linear.cc's layouts, strides
// and chunking, and the kernels' index arithmetic, on machines without a GPU.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "device.h"

namespace tee::gpu {
namespace {

template <typename T>
T* at(dptr p) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(p));
}

template <typename T>
void gemm_one(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb,
              double beta, T* c, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      T sum = 0;
      for (int64_t l = 0; l < k; ++l) {
        const T av = ta ? a[i * lda + l] : a[l * lda + i];
        const T bv = tb ? b[l * ldb + j] : b[j * ldb + l];
        sum += av * bv;
      }
      T& out = c[j * ldc + i];
      out = beta == 0 ? sum : static_cast<T>(beta) * out + sum;
    }
  }
}

class EmulatedDevice final : public Device {
 public:
  EmulatedDevice() {
    info_.kind = "emulated";
    info_.name = "CPU emulation of the GPU backend";
  }

  const DeviceInfo& info() const override { return info_; }

  dptr alloc(size_t bytes) override {
    // Poisoned, so that a kernel that fails to write an element shows up as a wrong result.
    void* p = std::malloc(bytes);
    if (p == nullptr) throw DeviceError("emulated device: out of memory");
    std::memset(p, 0x7f, bytes);
    return static_cast<dptr>(reinterpret_cast<uintptr_t>(p));
  }
  void release(dptr p, size_t) override { std::free(at<void>(p)); }
  void upload(dptr dst, const void* src, size_t bytes) override { std::memcpy(at<void>(dst), src, bytes); }
  void download(void* dst, dptr src, size_t bytes) override { std::memcpy(dst, at<void>(src), bytes); }
  void zero(dptr p, size_t bytes) override { std::memset(at<void>(p), 0, bytes); }

  void gemm(Prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k, dptr a, int64_t lda, int64_t sa, dptr b,
            int64_t ldb, int64_t sb, double beta, dptr c, int64_t ldc, int64_t sc, int64_t batch) override {
    for (int64_t i = 0; i < batch; ++i) {
      if (prec == Prec::F64) {
        gemm_one(ta, tb, m, n, k, at<double>(a) + i * sa, lda, at<double>(b) + i * sb, ldb, beta,
                 at<double>(c) + i * sc, ldc);
      } else {
        gemm_one(ta, tb, m, n, k, at<float>(a) + i * sa, lda, at<float>(b) + i * sb, ldb, beta,
                 at<float>(c) + i * sc, ldc);
      }
    }
  }

  bool i32_to_f64(int64_t n, dptr src, dptr dst) override {
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) tee_gpu::k_i32_to_f64(i, at<int>(src), at<double>(dst), &bad);
    return bad == 0;
  }
  void im2col(Prec prec, int64_t n, dptr x, dptr col, const tee_gpu::ConvGeom& g) override {
    for (int64_t i = 0; i < n; ++i) {
      if (prec == Prec::F64) tee_gpu::k_im2col<double>(i, at<double>(x), at<double>(col), g);
      else tee_gpu::k_im2col<float>(i, at<float>(x), at<float>(col), g);
    }
  }
  void col2im(Prec prec, int64_t n, dptr col, dptr dx, const tee_gpu::ConvGeom& g) override {
    for (int64_t i = 0; i < n; ++i) {
      if (prec == Prec::F64) tee_gpu::k_col2im<double>(i, at<double>(col), at<double>(dx), g);
      else tee_gpu::k_col2im<float>(i, at<float>(col), at<float>(dx), g);
    }
  }
  void reduce_modp(int64_t n, dptr c) override {
    for (int64_t i = 0; i < n; ++i) tee_gpu::k_reduce_modp(i, at<double>(c));
  }
  void f64_to_i32(int64_t n, dptr src, dptr dst) override {
    for (int64_t i = 0; i < n; ++i) tee_gpu::k_f64_to_i32(i, at<double>(src), at<int>(dst));
  }

 private:
  DeviceInfo info_;
};

}  // namespace

std::unique_ptr<Device> open_emulated() { return std::make_unique<EmulatedDevice>(); }

}  // namespace tee::gpu
