// A CUDA GPU, reached through libraries loaded at run time (dlopen): the driver (libcuda) for memory,
// copies and kernel launches, NVRTC to compile kernels.cuh for the device's own architecture, and cuBLAS
// for the GEMMs. Nothing here needs CUDA's headers or libraries at build time, so the addon builds and
// loads everywhere; open_cuda() fails with a DeviceError that names what is missing.
//
// Everything runs on the legacy default stream, in order; copies to the host synchronize (large ones
// are pipelined through two page-locked staging buffers, waited for chunk by chunk). cuBLAS runs in
// pedantic math mode: float32 products in true float32 (never TF32, whose 10-bit mantissa the float
// integrity check's error bound does not allow for), float64 in IEEE float64 — on integer operands whose
// partial sums stay below 2^53 every summation order gives the exact sum, which the exact ariths rely on.
#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "device.h"

namespace tee::gpu {
namespace {

// ---- the few CUDA types and entry points used, declared here (ABI of the driver, NVRTC and cuBLAS) ----
using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st*;
using CUmodule = struct CUmod_st*;
using CUfunction = struct CUfunc_st*;
using CUstream = struct CUstream_st*;
using CUevent = struct CUevent_st*;
using CUdeviceptr = unsigned long long;
using nvrtcResult = int;
using nvrtcProgram = struct _nvrtcProgram*;
using cublasStatus_t = int;
using cublasHandle_t = struct cublasContext*;

constexpr int kAttrCcMajor = 75;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
constexpr int kAttrCcMinor = 76;   // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
constexpr int kAttrSmCount = 16;   // CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT
constexpr int kCublasPedanticMath = 2;  // CUBLAS_PEDANTIC_MATH
constexpr int kCublasOpN = 0, kCublasOpT = 1;

struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int*);
  CUresult (*cuDeviceGet)(CUdevice*, int);
  CUresult (*cuDeviceGetName)(char*, int, CUdevice);
  CUresult (*cuDeviceTotalMem)(size_t*, CUdevice);
  CUresult (*cuDeviceGetAttribute)(int*, int, CUdevice);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuMemAlloc)(CUdeviceptr*, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void*, size_t);
  CUresult (*cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuModuleLoadData)(CUmodule*, const void*);
  CUresult (*cuModuleGetFunction)(CUfunction*, CUmodule, const char*);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                             CUstream, void**, void**);
  CUresult (*cuGetErrorString)(CUresult, const char**);
  CUresult (*cuMemAllocHost)(void**, size_t);
  CUresult (*cuMemcpyHtoDAsync)(CUdeviceptr, const void*, size_t, CUstream);
  CUresult (*cuMemcpyDtoHAsync)(void*, CUdeviceptr, size_t, CUstream);
  CUresult (*cuEventCreate)(CUevent*, unsigned);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  CUresult (*cuEventSynchronize)(CUevent);
};

struct Nvrtc {
  nvrtcResult (*create)(nvrtcProgram*, const char*, const char*, int, const char* const*, const char* const*);
  nvrtcResult (*compile)(nvrtcProgram, int, const char* const*);
  nvrtcResult (*logSize)(nvrtcProgram, size_t*);
  nvrtcResult (*log)(nvrtcProgram, char*);
  nvrtcResult (*cubinSize)(nvrtcProgram, size_t*);
  nvrtcResult (*cubin)(nvrtcProgram, char*);
  nvrtcResult (*destroy)(nvrtcProgram*);
  const char* (*errorString)(nvrtcResult);
};

struct Cublas {
  cublasStatus_t (*create)(cublasHandle_t*);
  cublasStatus_t (*setMathMode)(cublasHandle_t, int);
  cublasStatus_t (*sgemm)(cublasHandle_t, int, int, int, int, int, const float*, const float*, int, long long,
                          const float*, int, long long, const float*, float*, int, long long, int);
  cublasStatus_t (*dgemm)(cublasHandle_t, int, int, int, int, int, const double*, const double*, int, long long,
                          const double*, int, long long, const double*, double*, int, long long, int);
};

void* open_lib(const std::vector<std::string>& dirs, const std::vector<std::string>& names, std::string& tried) {
  for (const auto& n : names) {
    for (const auto& d : dirs) {
      const std::string path = d + "/" + n;
      if (void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    }
    if (void* h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) return h;
    tried += (tried.empty() ? "" : ", ") + n;
  }
  return nullptr;
}

template <typename F>
void sym(void* lib, const char* what, std::initializer_list<const char*> names, F& out) {
  for (const char* n : names) {
    if (void* p = dlsym(lib, n)) {
      out = reinterpret_cast<F>(p);
      return;
    }
  }
  throw DeviceError(std::string("CUDA: ") + what + " lacks the entry point " + *names.begin());
}

class CudaDevice final : public Device {
 public:
  CudaDevice(const std::vector<std::string>& dirs, const std::string& source, bool staging) {
    load_libraries(dirs);
    check(drv_.cuInit(0), "cuInit");
    int count = 0;
    check(drv_.cuDeviceGetCount(&count), "cuDeviceGetCount");
    if (count < 1) throw DeviceError("CUDA: the driver sees no GPU");
    check(drv_.cuDeviceGet(&dev_, 0), "cuDeviceGet");
    char name[256] = {0};
    check(drv_.cuDeviceGetName(name, sizeof name - 1, dev_), "cuDeviceGetName");
    size_t mem = 0;
    check(drv_.cuDeviceTotalMem(&mem, dev_), "cuDeviceTotalMem");
    check(drv_.cuDeviceGetAttribute(&info_.cc_major, kAttrCcMajor, dev_), "cuDeviceGetAttribute");
    check(drv_.cuDeviceGetAttribute(&info_.cc_minor, kAttrCcMinor, dev_), "cuDeviceGetAttribute");
    check(drv_.cuDeviceGetAttribute(&sms_, kAttrSmCount, dev_), "cuDeviceGetAttribute");
    info_.kind = "cuda";
    info_.name = name;
    info_.memory_bytes = mem;
    check(drv_.cuDevicePrimaryCtxRetain(&ctx_, dev_), "cuDevicePrimaryCtxRetain");
    current();
    compile_kernels(source);
    if (staging) open_staging();
    if (blas_.create(&handle_) != 0) throw DeviceError("cuBLAS: cublasCreate failed");
    if (blas_.setMathMode(handle_, kCublasPedanticMath) != 0) throw DeviceError("cuBLAS: cublasSetMathMode failed");
  }

  // The driver, the context and cuBLAS's handle live as long as the process: tearing them down while
  // another thread may still hold the addon buys nothing.
  ~CudaDevice() override { trim(); }

  const DeviceInfo& info() const override { return info_; }

  dptr alloc(size_t bytes) override {
    current();
    std::lock_guard<std::mutex> lock(pool_mutex_);
    // A freed block of the same size class, else a new one (on failure, the cache is freed and retried).
    const size_t cls = size_class(bytes);
    auto it = free_.find(cls);
    if (it != free_.end() && !it->second.empty()) {
      const dptr p = it->second.back();
      it->second.pop_back();
      cached_bytes_ -= cls;
      return p;
    }
    CUdeviceptr p = 0;
    CUresult r = drv_.cuMemAlloc(&p, cls);
    if (r != 0) {
      trim_locked();
      r = drv_.cuMemAlloc(&p, cls);
    }
    check(r, "cuMemAlloc");
    return p;
  }

  void release(dptr p, size_t bytes) override {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    const size_t cls = size_class(bytes);
    free_[cls].push_back(p);
    cached_bytes_ += cls;
    if (cached_bytes_ > kMaxCachedBytes) trim_locked();
  }

  // Large copies (kStageMin and up) go through two page-locked staging buffers, pipelined: the host
  // copies one chunk while the DMA engine moves the other. Smaller ones, or all when no staging memory
  // could be had, are plain synchronous copies from pageable memory (staged by the driver itself).
  void upload(dptr dst, const void* src, size_t bytes) override {
    current();
    if (bytes == 0) return;
    if (bytes < kStageMin || !staged_) {
      check(drv_.cuMemcpyHtoD(dst, src, bytes), "cuMemcpyHtoD");
      return;
    }
    const char* from = static_cast<const char*>(src);
    bool pending[2] = {false, false};
    int i = 0;
    for (size_t off = 0; off < bytes; off += kStageBytes, i ^= 1) {
      const size_t len = std::min(kStageBytes, bytes - off);
      if (pending[i]) check(drv_.cuEventSynchronize(stage_done_[i]), "cuEventSynchronize");
      std::memcpy(stage_[i], from + off, len);
      check(drv_.cuMemcpyHtoDAsync(dst + off, stage_[i], len, nullptr), "cuMemcpyHtoDAsync");
      check(drv_.cuEventRecord(stage_done_[i], nullptr), "cuEventRecord");
      pending[i] = true;
    }
    for (int j = 0; j < 2; ++j) {
      if (pending[j]) check(drv_.cuEventSynchronize(stage_done_[j]), "cuEventSynchronize");
    }
  }
  void download(void* dst, dptr src, size_t bytes) override {
    current();
    if (bytes == 0) return;
    if (bytes < kStageMin || !staged_) {
      check(drv_.cuMemcpyDtoH(dst, src, bytes), "cuMemcpyDtoH");
      return;
    }
    char* to = static_cast<char*>(dst);
    const size_t chunks = (bytes + kStageBytes - 1) / kStageBytes;
    auto issue = [&](size_t c) {
      const size_t off = c * kStageBytes, len = std::min(kStageBytes, bytes - off);
      check(drv_.cuMemcpyDtoHAsync(stage_[c & 1], src + off, len, nullptr), "cuMemcpyDtoHAsync");
      check(drv_.cuEventRecord(stage_done_[c & 1], nullptr), "cuEventRecord");
    };
    issue(0);
    for (size_t c = 0; c < chunks; ++c) {
      if (c + 1 < chunks) issue(c + 1);  // the other buffer: its previous chunk was copied out already
      check(drv_.cuEventSynchronize(stage_done_[c & 1]), "cuEventSynchronize");
      const size_t off = c * kStageBytes, len = std::min(kStageBytes, bytes - off);
      std::memcpy(to + off, stage_[c & 1], len);
    }
  }
  void zero(dptr p, size_t bytes) override {
    current();
    if (bytes) check(drv_.cuMemsetD8(p, 0, bytes), "cuMemsetD8");
  }

  void gemm(Prec prec, bool ta, bool tb, int64_t m, int64_t n, int64_t k, dptr a, int64_t lda, int64_t sa, dptr b,
            int64_t ldb, int64_t sb, double beta, dptr c, int64_t ldc, int64_t sc, int64_t batch) override {
    current();
    const int opa = ta ? kCublasOpT : kCublasOpN, opb = tb ? kCublasOpT : kCublasOpN;
    cublasStatus_t s;
    if (prec == Prec::F64) {
      const double one = 1, bt = beta;
      s = blas_.dgemm(handle_, opa, opb, int(m), int(n), int(k), &one, reinterpret_cast<const double*>(a), int(lda),
                      sa, reinterpret_cast<const double*>(b), int(ldb), sb, &bt, reinterpret_cast<double*>(c),
                      int(ldc), sc, int(batch));
    } else {
      const float one = 1, bt = float(beta);
      s = blas_.sgemm(handle_, opa, opb, int(m), int(n), int(k), &one, reinterpret_cast<const float*>(a), int(lda),
                      sa, reinterpret_cast<const float*>(b), int(ldb), sb, &bt, reinterpret_cast<float*>(c),
                      int(ldc), sc, int(batch));
    }
    if (s != 0) throw DeviceError("cuBLAS: GEMM failed with status " + std::to_string(s));
  }

  bool i32_to_f64(int64_t n, dptr src, dptr dst) override {
    Buffer flag(*this, sizeof(int));
    zero(flag.get(), sizeof(int));
    dptr f = flag.get();
    launch(k_i32_to_f64_, n, {&src, &dst, &f});
    int bad = 0;
    download(&bad, flag.get(), sizeof bad);
    return bad == 0;
  }
  void im2col(Prec prec, int64_t n, dptr x, dptr col, const tee_gpu::ConvGeom& g) override {
    tee_gpu::ConvGeom gg = g;
    launch(prec == Prec::F64 ? k_im2col_f64_ : k_im2col_f32_, n, {&x, &col, &gg});
  }
  void col2im(Prec prec, int64_t n, dptr col, dptr dx, const tee_gpu::ConvGeom& g) override {
    tee_gpu::ConvGeom gg = g;
    launch(prec == Prec::F64 ? k_col2im_f64_ : k_col2im_f32_, n, {&col, &dx, &gg});
  }
  void reduce_modp(int64_t n, dptr c) override { launch(k_reduce_modp_, n, {&c}); }
  void f64_to_i32(int64_t n, dptr src, dptr dst) override { launch(k_f64_to_i32_, n, {&src, &dst}); }

 private:
  static constexpr size_t kMaxCachedBytes = size_t(8) << 30;
  static constexpr size_t kStageBytes = size_t(8) << 20;  // each of the two staging buffers
  // Smaller copies go direct: on the lent H100 the driver's own path from pageable memory was faster up
  // to a few tens of MB (VGG19-BN's conv weight gradients, ≤ 19 MB each: 62 ms direct vs 121 ms staged
  // per step) and slower for the classifier's 150–800 MB operands and results (VGG19-BN's three
  // weight-gradient products, wide: 853 ms direct vs 699 ms staged).
  static constexpr size_t kStageMin = size_t(64) << 20;

  // Two page-locked buffers and their completion events; without them copies stay pageable.
  void open_staging() {
    for (int i = 0; i < 2; ++i) {
      if (drv_.cuMemAllocHost(&stage_[i], kStageBytes) != 0) return;
      if (drv_.cuEventCreate(&stage_done_[i], 0) != 0) return;
    }
    staged_ = true;
  }

  // Sizes round up to a power of two below 1 MiB, to a whole MiB above: few classes, little waste.
  static size_t size_class(size_t bytes) {
    if (bytes <= (size_t(1) << 20)) {
      size_t c = 256;
      while (c < bytes) c <<= 1;
      return c;
    }
    return (bytes + (size_t(1) << 20) - 1) & ~((size_t(1) << 20) - 1);
  }

  void trim() {
    std::lock_guard<std::mutex> lock(pool_mutex_);
    trim_locked();
  }
  void trim_locked() {
    for (auto& [cls, list] : free_) {
      for (dptr p : list) drv_.cuMemFree(p);
      list.clear();
    }
    cached_bytes_ = 0;
  }

  void current() { check(drv_.cuCtxSetCurrent(ctx_), "cuCtxSetCurrent"); }

  void check(CUresult r, const char* what) {
    if (r == 0) return;
    const char* msg = nullptr;
    if (drv_.cuGetErrorString) drv_.cuGetErrorString(r, &msg);
    throw DeviceError(std::string("CUDA: ") + what + " failed: " + (msg ? msg : "error " + std::to_string(r)));
  }

  void launch(CUfunction f, int64_t n, std::initializer_list<void*> args) {
    if (n <= 0) return;
    current();
    long long nn = n;
    std::vector<void*> params;
    params.push_back(&nn);
    params.insert(params.end(), args.begin(), args.end());
    const unsigned block = 256;
    const int64_t want = (n + block - 1) / block;
    const unsigned grid = unsigned(std::min<int64_t>(want, int64_t(sms_) * 32));
    check(drv_.cuLaunchKernel(f, grid, 1, 1, block, 1, 1, 0, nullptr, params.data(), nullptr), "cuLaunchKernel");
  }

  void load_libraries(const std::vector<std::string>& dirs) {
    std::string tried;
    void* cuda = open_lib(dirs, {"libcuda.so.1", "libcuda.so"}, tried);
    if (!cuda) throw DeviceError("CUDA: no driver library (tried " + tried + ")");
    sym(cuda, "libcuda", {"cuInit"}, drv_.cuInit);
    sym(cuda, "libcuda", {"cuDeviceGetCount"}, drv_.cuDeviceGetCount);
    sym(cuda, "libcuda", {"cuDeviceGet"}, drv_.cuDeviceGet);
    sym(cuda, "libcuda", {"cuDeviceGetName"}, drv_.cuDeviceGetName);
    sym(cuda, "libcuda", {"cuDeviceTotalMem_v2"}, drv_.cuDeviceTotalMem);
    sym(cuda, "libcuda", {"cuDeviceGetAttribute"}, drv_.cuDeviceGetAttribute);
    sym(cuda, "libcuda", {"cuDevicePrimaryCtxRetain"}, drv_.cuDevicePrimaryCtxRetain);
    sym(cuda, "libcuda", {"cuCtxSetCurrent"}, drv_.cuCtxSetCurrent);
    sym(cuda, "libcuda", {"cuCtxSynchronize"}, drv_.cuCtxSynchronize);
    sym(cuda, "libcuda", {"cuMemAlloc_v2"}, drv_.cuMemAlloc);
    sym(cuda, "libcuda", {"cuMemFree_v2"}, drv_.cuMemFree);
    sym(cuda, "libcuda", {"cuMemcpyHtoD_v2"}, drv_.cuMemcpyHtoD);
    sym(cuda, "libcuda", {"cuMemcpyDtoH_v2"}, drv_.cuMemcpyDtoH);
    sym(cuda, "libcuda", {"cuMemsetD8_v2"}, drv_.cuMemsetD8);
    sym(cuda, "libcuda", {"cuModuleLoadData"}, drv_.cuModuleLoadData);
    sym(cuda, "libcuda", {"cuModuleGetFunction"}, drv_.cuModuleGetFunction);
    sym(cuda, "libcuda", {"cuLaunchKernel"}, drv_.cuLaunchKernel);
    sym(cuda, "libcuda", {"cuGetErrorString"}, drv_.cuGetErrorString);
    sym(cuda, "libcuda", {"cuMemAllocHost_v2"}, drv_.cuMemAllocHost);
    sym(cuda, "libcuda", {"cuMemcpyHtoDAsync_v2"}, drv_.cuMemcpyHtoDAsync);
    sym(cuda, "libcuda", {"cuMemcpyDtoHAsync_v2"}, drv_.cuMemcpyDtoHAsync);
    sym(cuda, "libcuda", {"cuEventCreate"}, drv_.cuEventCreate);
    sym(cuda, "libcuda", {"cuEventRecord"}, drv_.cuEventRecord);
    sym(cuda, "libcuda", {"cuEventSynchronize"}, drv_.cuEventSynchronize);

    tried.clear();
    void* rtc = open_lib(dirs,
                         {"libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"}, tried);
    if (!rtc) throw DeviceError("CUDA: no NVRTC library (tried " + tried + ")");
    sym(rtc, "libnvrtc", {"nvrtcCreateProgram"}, rtc_.create);
    sym(rtc, "libnvrtc", {"nvrtcCompileProgram"}, rtc_.compile);
    sym(rtc, "libnvrtc", {"nvrtcGetProgramLogSize"}, rtc_.logSize);
    sym(rtc, "libnvrtc", {"nvrtcGetProgramLog"}, rtc_.log);
    sym(rtc, "libnvrtc", {"nvrtcGetCUBINSize"}, rtc_.cubinSize);
    sym(rtc, "libnvrtc", {"nvrtcGetCUBIN"}, rtc_.cubin);
    sym(rtc, "libnvrtc", {"nvrtcDestroyProgram"}, rtc_.destroy);
    sym(rtc, "libnvrtc", {"nvrtcGetErrorString"}, rtc_.errorString);

    tried.clear();
    void* blas = open_lib(dirs, {"libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11"}, tried);
    if (!blas) throw DeviceError("CUDA: no cuBLAS library (tried " + tried + ")");
    sym(blas, "libcublas", {"cublasCreate_v2", "cublasCreate"}, blas_.create);
    sym(blas, "libcublas", {"cublasSetMathMode"}, blas_.setMathMode);
    sym(blas, "libcublas", {"cublasSgemmStridedBatched"}, blas_.sgemm);
    sym(blas, "libcublas", {"cublasDgemmStridedBatched"}, blas_.dgemm);
  }

  void compile_kernels(const std::string& source) {
    nvrtcProgram prog = nullptr;
    nvrtcResult r = rtc_.create(&prog, source.c_str(), "kernels.cuh", 0, nullptr, nullptr);
    if (r != 0) throw DeviceError(std::string("NVRTC: nvrtcCreateProgram failed: ") + rtc_.errorString(r));
    const std::string arch =
        "--gpu-architecture=sm_" + std::to_string(info_.cc_major) + std::to_string(info_.cc_minor);
    const char* opts[] = {arch.c_str(), "--std=c++17", "--fmad=false"};
    r = rtc_.compile(prog, 3, opts);
    if (r != 0) {
      size_t n = 0;
      rtc_.logSize(prog, &n);
      std::string log(n, '\0');
      if (n) rtc_.log(prog, log.data());
      rtc_.destroy(&prog);
      throw DeviceError(std::string("NVRTC: compiling the kernels for ") + arch + " failed: " + log);
    }
    size_t n = 0;
    rtc_.cubinSize(prog, &n);
    std::vector<char> cubin(n);
    rtc_.cubin(prog, cubin.data());
    rtc_.destroy(&prog);
    check(drv_.cuModuleLoadData(&module_, cubin.data()), "cuModuleLoadData");
    check(drv_.cuModuleGetFunction(&k_i32_to_f64_, module_, "tee_i32_to_f64"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_im2col_f32_, module_, "tee_im2col_f32"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_im2col_f64_, module_, "tee_im2col_f64"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_col2im_f32_, module_, "tee_col2im_f32"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_col2im_f64_, module_, "tee_col2im_f64"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_reduce_modp_, module_, "tee_reduce_modp"), "cuModuleGetFunction");
    check(drv_.cuModuleGetFunction(&k_f64_to_i32_, module_, "tee_f64_to_i32"), "cuModuleGetFunction");
  }

  Driver drv_{};
  Nvrtc rtc_{};
  Cublas blas_{};
  DeviceInfo info_;
  CUdevice dev_ = 0;
  CUcontext ctx_ = nullptr;
  CUmodule module_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  int sms_ = 1;
  void* stage_[2] = {nullptr, nullptr};
  CUevent stage_done_[2] = {nullptr, nullptr};
  bool staged_ = false;
  CUfunction k_i32_to_f64_ = nullptr, k_im2col_f32_ = nullptr, k_im2col_f64_ = nullptr, k_col2im_f32_ = nullptr,
             k_col2im_f64_ = nullptr, k_reduce_modp_ = nullptr, k_f64_to_i32_ = nullptr;
  std::mutex pool_mutex_;
  std::map<size_t, std::vector<dptr>> free_;
  size_t cached_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Device> open_cuda(const std::vector<std::string>& lib_dirs, const std::string& kernel_source,
                                  bool staging) {
  return std::make_unique<CudaDevice>(lib_dirs, kernel_source, staging);
}

}  // namespace tee::gpu
