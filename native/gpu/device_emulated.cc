// The GPU device emulated on the CPU: host memory stands in for device memory, each kernel of
// kernels.cuh runs in a loop over its indices, and GEMM follows cuBLAS's column-major conventions on the
// engine's row-major GEMM (a column-major product is the row-major product of the transposes, operands
// swapped; float products accumulate in float, as a GPU's would; integers in float64 are exact in any
// order). It exists so that tests check linear.cc's layouts, leading dimensions, strides and chunking,
// and the kernels' index arithmetic, on machines without a GPU.
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "../common.h"
#include "../gemm.h"
#include "device.h"

namespace tee::gpu {
namespace {

template <typename T>
T* at(dptr p) {
  return reinterpret_cast<T*>(static_cast<uintptr_t>(p));
}

// Column-major C (m×n, ldc) = op(A)·op(B) + beta·C is row-major Cᵀ (n×m, ldc) = op(B)ᵀ·op(A)ᵀ: a
// column-major matrix is the row-major buffer of its transpose, so op(B)ᵀ is B's buffer transposed iff tb.
void gemm_one(Prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k, dptr a, int64_t lda, dptr b,
              int64_t ldb, double beta, dptr c, int64_t ldc) {
  if (prec == Prec::F64) {
    gemm_f64(tb, ta, n, m, k, 1.0, at<double>(b), ldb, at<double>(a), lda, beta, at<double>(c), ldc, threads());
  } else {
    gemm_f32(tb, ta, n, m, k, 1.0f, at<float>(b), ldb, at<float>(a), lda, float(beta), at<float>(c), ldc, threads());
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
    const size_t es = elem_bytes(prec);
    for (int64_t i = 0; i < batch; ++i)
      gemm_one(prec, ta, tb, m, n, k, a + i * sa * es, lda, b + i * sb * es, ldb, beta, c + i * sc * es, ldc);
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
