// Thread count (OpenMP team size for our kernels and oneDNN, OpenBLAS's pool), deterministic mode, CPU
// features detected at run time, info(), and the small argument helpers shared by every binding.
#include <atomic>
#include <cmath>
#include <string>

#include "common.h"
#include "signals.h"
#include "conv.h"
#include "gemm.h"

namespace tee {

namespace {

// Without OpenMP every kernel runs on the calling thread (and OpenBLAS is kept to one thread too).
int detect_cores() {
#ifdef _OPENMP
  int n = omp_get_num_procs();  // honours the process's CPU affinity mask
#else
  int n = 1;
#endif
  return n < 1 ? 1 : n;
}

int g_max_threads = detect_cores();
int g_threads = 0;  // 0 until the first set_threads (done at module load)
std::atomic<bool> g_deterministic{true};  // Node worker threads may call kernels concurrently
std::vector<Buffer*> g_workspaces;

struct Feature {
  const char* name;
  bool present;
};

std::vector<std::string> cpu_features() {
  __builtin_cpu_init();
  const Feature all[] = {
      {"sse2", __builtin_cpu_supports("sse2") != 0},
      {"sse3", __builtin_cpu_supports("sse3") != 0},
      {"ssse3", __builtin_cpu_supports("ssse3") != 0},
      {"sse4.1", __builtin_cpu_supports("sse4.1") != 0},
      {"sse4.2", __builtin_cpu_supports("sse4.2") != 0},
      {"popcnt", __builtin_cpu_supports("popcnt") != 0},
      {"aes", __builtin_cpu_supports("aes") != 0},
      {"pclmul", __builtin_cpu_supports("pclmul") != 0},
      {"avx", __builtin_cpu_supports("avx") != 0},
      {"avx2", __builtin_cpu_supports("avx2") != 0},
      {"fma", __builtin_cpu_supports("fma") != 0},
      {"bmi", __builtin_cpu_supports("bmi") != 0},
      {"bmi2", __builtin_cpu_supports("bmi2") != 0},
      {"avx512f", __builtin_cpu_supports("avx512f") != 0},
      {"avx512bw", __builtin_cpu_supports("avx512bw") != 0},
      {"avx512vl", __builtin_cpu_supports("avx512vl") != 0},
      {"avx512dq", __builtin_cpu_supports("avx512dq") != 0},
      {"avx512ifma", __builtin_cpu_supports("avx512ifma") != 0},
      {"avx512vnni", __builtin_cpu_supports("avx512vnni") != 0},
  };
  std::vector<std::string> out;
  for (const Feature& f : all) {
    if (f.present) out.emplace_back(f.name);
  }
  return out;
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("blas", blas_name());
  o.Set("conv", conv_backend_name());
#ifdef USE_ONEDNN
  o.Set("onednnBuilt", true);
#else
  o.Set("onednnBuilt", false);
#endif
#ifdef USE_OPENBLAS
  o.Set("openblasBuilt", true);
#else
  o.Set("openblasBuilt", false);
#endif
#ifdef _OPENMP
  o.Set("openmp", true);
#else
  o.Set("openmp", false);
#endif
#if defined(__AVX2__) && defined(__FMA__)
  o.Set("simd", "avx2+fma");
#else
  o.Set("simd", "portable");
#endif
  o.Set("threads", threads());
  o.Set("maxThreads", max_threads());
  o.Set("deterministic", deterministic());
  Napi::Array feats = Napi::Array::New(env);
  uint32_t i = 0;
  for (const std::string& f : cpu_features()) feats.Set(i++, f);
  o.Set("cpuFeatures", feats);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "setThreads");
  int64_t n = dim_arg(info, 0, "setThreads");
  if (n > 1024) throw Napi::RangeError::New(info.Env(), "setThreads: at most 1024 threads");
  set_threads(static_cast<int>(n));
  return info.Env().Undefined();
}

Napi::Value SetDeterministic(const Napi::CallbackInfo& info) {
  expect_args(info, 1, "setDeterministic");
  set_deterministic(bool_arg(info, 0, "setDeterministic"));
  return info.Env().Undefined();
}

}  // namespace

bool deterministic() { return g_deterministic.load(std::memory_order_relaxed); }
void set_deterministic(bool on) { g_deterministic.store(on, std::memory_order_relaxed); }

int threads() {
  if (g_threads == 0) set_threads(g_max_threads);
  return g_threads;
}

int max_threads() { return g_max_threads; }

void set_threads(int n) {
  if (n < 1) n = 1;
#ifndef _OPENMP
  n = 1;  // no way to run more
#endif
#ifdef _OPENMP
  omp_set_num_threads(n);  // oneDNN's OpenMP runtime reads this at primitive creation/execution
#endif
  blas_set_threads(n);
  g_threads = n;
}

Buffer& thread_workspace(int tid, int slot) {
  const size_t i = static_cast<size_t>(tid) * kWorkspaceSlots + static_cast<size_t>(slot);
  while (g_workspaces.size() <= i) g_workspaces.push_back(new Buffer());
  return *g_workspaces[i];
}

void expect_args(const Napi::CallbackInfo& info, size_t n, const char* fn) {
  if (info.Length() != n) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": expected " + std::to_string(n) +
                                               " arguments, got " + std::to_string(info.Length()));
  }
}

double number_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsNumber()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be a number");
  }
  return info[i].As<Napi::Number>().DoubleValue();
}

int64_t dim_arg(const Napi::CallbackInfo& info, size_t i, const char* fn, int64_t min) {
  double d = number_arg(info, i, fn);
  if (!(d >= static_cast<double>(min)) || d > 2147483647.0 || std::floor(d) != d) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) +
                                                " must be an integer >= " + std::to_string(min));
  }
  return static_cast<int64_t>(d);
}

bool bool_arg(const Napi::CallbackInfo& info, size_t i, const char* fn) {
  if (!info[i].IsBoolean()) {
    throw Napi::TypeError::New(info.Env(), std::string(fn) + ": argument " + std::to_string(i) + " must be a boolean");
  }
  return info[i].As<Napi::Boolean>().Value();
}

void register_threads(Napi::Env env, Napi::Object exports) {
  export_function<Info>(env, exports, "info");
  export_function<SetThreads>(env, exports, "setThreads");
  export_function<SetDeterministic>(env, exports, "setDeterministic");
}

}  // namespace tee
