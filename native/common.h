// Shared helpers for the addon: argument unpacking (typed arrays are used zero-copy, their lengths
// re-checked here although native.ts validates first), the thread count, and per-thread workspaces.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace tee {

// ---- threads (threads.cc) ----
// The thread count every kernel uses (set by setThreads, default: all cores).
int threads();
void set_threads(int n);
int max_threads();

// Deterministic mode (set by setDeterministic): every kernel's result is a function of its inputs only,
// not of the thread count. Kernels whose natural split depends on the thread count (GEMM, convolution)
// then cut their work into pieces whose number and shape depend on the problem's shape alone, and the
// threads share out those pieces; sums are never split across threads in a way the thread count decides.
bool deterministic();
void set_deterministic(bool on);

// In deterministic mode work is cut into about this many pieces (fewer when they would be too small),
// whatever the thread count: enough to keep this many threads busy.
constexpr int64_t kDetPieces = 32;

// Ceiling of a / b for positive b.
inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Work below this many elements runs on the calling thread: spinning up a team costs microseconds.
constexpr int64_t kParallelGrain = 1 << 15;

// Number of threads to use for `work` elements of simple streaming work.
inline int threads_for(int64_t work) {
  int t = threads();
  if (work < kParallelGrain || t <= 1) return 1;
  int64_t by_size = work / kParallelGrain;
  return by_size < t ? static_cast<int>(by_size) : t;
}

inline int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Contiguous static partition of [0, n) into `parts`: part `i` is [begin, end).
inline void split_range(int64_t n, int parts, int i, int64_t* begin, int64_t* end) {
  int64_t q = n / parts, r = n % parts;
  *begin = i * q + (i < r ? i : r);
  *end = *begin + q + (i < r ? 1 : 0);
}

// ---- aligned growable buffers (one per slot; calls into the addon are sequential) ----
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { std::free(ptr_); }
  // At least `bytes` bytes, 64-byte aligned; contents are not preserved on growth.
  void* get(size_t bytes) {
    if (bytes > cap_) {
      std::free(ptr_);
      size_t cap = (bytes + 63) & ~static_cast<size_t>(63);
      ptr_ = std::aligned_alloc(64, cap);
      if (ptr_ == nullptr) {
        cap_ = 0;
        throw std::bad_alloc();
      }
      cap_ = cap;
    }
    return ptr_;
  }
  void release() {
    std::free(ptr_);
    ptr_ = nullptr;
    cap_ = 0;
  }
  template <typename T>
  T* as(size_t count) {
    return static_cast<T*>(get(count * sizeof(T)));
  }

 private:
  void* ptr_ = nullptr;
  size_t cap_ = 0;
};

// Workspaces per (thread id, slot), for kernels that run their own parallel regions. Fetch them (on the
// calling thread) before entering the region: the list may grow.
constexpr int kWorkspaceSlots = 2;
Buffer& thread_workspace(int tid, int slot = 0);

// ---- argument unpacking; throws a JS TypeError/RangeError (C++ exceptions are enabled) ----
template <typename T>
struct TypedArrayKind;
template <>
struct TypedArrayKind<float> {
  static constexpr napi_typedarray_type value = napi_float32_array;
  static constexpr const char* name = "Float32Array";
};
template <>
struct TypedArrayKind<double> {
  static constexpr napi_typedarray_type value = napi_float64_array;
  static constexpr const char* name = "Float64Array";
};
template <>
struct TypedArrayKind<int32_t> {
  static constexpr napi_typedarray_type value = napi_int32_array;
  static constexpr const char* name = "Int32Array";
};

// The data pointer of argument `i`, which must be a T typed array of exactly `need` elements.
template <typename T>
T* array_arg(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* fn, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayKind<T>::value) {
    throw Napi::TypeError::New(info.Env(),
                               std::string(fn) + ": " + what + " must be a " + TypedArrayKind<T>::name);
  }
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  if (static_cast<int64_t>(ta.ElementLength()) != need) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": " + what + " has " +
                                                std::to_string(ta.ElementLength()) + " elements, expected " +
                                                std::to_string(need));
  }
  return ta.Data();
}

// Like array_arg, but null (or undefined) gives nullptr.
template <typename T>
T* nullable_array_arg(const Napi::CallbackInfo& info, size_t i, int64_t need, const char* fn, const char* what) {
  if (info[i].IsNull() || info[i].IsUndefined()) return nullptr;
  return array_arg<T>(info, i, need, fn, what);
}

// Any typed array of T, whatever its length.
template <typename T>
T* any_array_arg(const Napi::CallbackInfo& info, size_t i, int64_t* length, const char* fn, const char* what) {
  Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != TypedArrayKind<T>::value) {
    throw Napi::TypeError::New(info.Env(),
                               std::string(fn) + ": " + what + " must be a " + TypedArrayKind<T>::name);
  }
  auto ta = v.As<Napi::TypedArrayOf<T>>();
  *length = static_cast<int64_t>(ta.ElementLength());
  return ta.Data();
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* fn);
// A non-negative integer below 2^31 (dimensions); `min` is the smallest accepted value.
int64_t dim_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, int64_t min = 1);
bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* fn);
void expect_args(const Napi::CallbackInfo& info, size_t n, const char* fn);

// floor((size + 2p - k) / s) + 1, or 0 when the window does not fit.
inline int64_t out_size(int64_t size, int64_t k, int64_t s, int64_t p) {
  int64_t span = size + 2 * p - k;
  return span < 0 ? 0 : span / s + 1;
}

// ---- registration of each concept's functions (one file each) ----
void register_threads(Napi::Env env, Napi::Object exports);
void register_gemm(Napi::Env env, Napi::Object exports);
void register_conv(Napi::Env env, Napi::Object exports);
void register_pooling(Napi::Env env, Napi::Object exports);
void register_batchnorm(Napi::Env env, Napi::Object exports);
void register_elementwise(Napi::Env env, Napi::Object exports);
void register_cross_entropy(Napi::Env env, Napi::Object exports);

}  // namespace tee
