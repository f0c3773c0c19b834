// A GPU as the accelerator's linear products see it: device memory, copies, column-major GEMM (cuBLAS's
// conventions) and the element-wise kernels of kernels.cuh. Two implementations: CudaDevice
// (device_cuda.cc: the CUDA driver, NVRTC and cuBLAS, all loaded with dlopen at run time, so the addon
// builds and loads on machines without CUDA) and EmulatedDevice (device_emulated.cc: the same kernels
// and GEMM semantics on the CPU, for tests). linear.cc drives either through this interface.
#pragma once

#include <cmath>  // round(), for kernels.cuh compiled as C++
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels.cuh"

namespace tee::gpu {

// A device address (CUdeviceptr on CUDA, a host pointer in the emulation).
using dptr = uint64_t;

enum class Prec { F32, F64 };

inline size_t elem_bytes(Prec p) { return p == Prec::F64 ? 8 : 4; }

// A failure of the device or its libraries (reported to JavaScript as E_NATIVE).
class DeviceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeviceInfo {
  std::string kind;  // "cuda" or "emulated"
  std::string name;
  uint64_t memory_bytes = 0;
  int cc_major = 0, cc_minor = 0;
};

class Device {
 public:
  virtual ~Device() = default;
  virtual const DeviceInfo& info() const = 0;

  virtual dptr alloc(size_t bytes) = 0;
  virtual void release(dptr p, size_t bytes) = 0;
  virtual void upload(dptr dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, dptr src, size_t bytes) = 0;
  virtual void zero(dptr p, size_t bytes) = 0;

  // Column-major C = op(A)·op(B) + beta·C (alpha = 1) for `batch` matrices whose A, B and C start
  // sa, sb, sc elements apart (0: shared). m, n, k, the leading dimensions and the batch fit in int.
  virtual void gemm(Prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k, dptr a, int64_t lda, int64_t sa,
                    dptr b, int64_t ldb, int64_t sb, double beta, dptr c, int64_t ldc, int64_t sc,
                    int64_t batch) = 0;

  // The kernels of kernels.cuh over n elements. i32_to_f64 returns false when some |src| > HALF_P.
  virtual bool i32_to_f64(int64_t n, dptr src, dptr dst) = 0;
  virtual void im2col(Prec prec, int64_t n, dptr x, dptr col, const tee_gpu::ConvGeom& g) = 0;
  virtual void col2im(Prec prec, int64_t n, dptr col, dptr dx, const tee_gpu::ConvGeom& g) = 0;
  virtual void reduce_modp(int64_t n, dptr c) = 0;
  virtual void f64_to_i32(int64_t n, dptr src, dptr dst) = 0;
};

// Device memory that frees itself.
class Buffer {
 public:
  Buffer(Device& d, size_t bytes) : d_(&d), bytes_(bytes), p_(bytes ? d.alloc(bytes) : 0) {}
  ~Buffer() {
    if (p_ != 0) d_->release(p_, bytes_);
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  dptr get() const { return p_; }
  size_t bytes() const { return bytes_; }

 private:
  Device* d_;
  size_t bytes_;
  dptr p_;
};

// Opens the first CUDA device. lib_dirs are searched before the loader's own path for libcuda,
// libnvrtc and libcublas; kernel_source is kernels.cuh's text. Throws DeviceError with the reason
// (no driver, no device, a library missing, a compile error).
// staging: large copies through page-locked buffers (false: plain copies from pageable memory, for A/B
// measurements).
std::unique_ptr<Device> open_cuda(const std::vector<std::string>& lib_dirs, const std::string& kernel_source,
                                  bool staging = true);

std::unique_ptr<Device> open_emulated();

}  // namespace tee::gpu
