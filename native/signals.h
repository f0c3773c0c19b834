// Every exported function runs with asynchronous signals blocked on its thread (export_function).
//
// Why: oneDNN's JIT sgemm kernels (AVX2 and AVX-512, up to its 3.11 releases; Debian ships 2.6) point
// the stack pointer into a heap workspace while they run. A signal delivered to that thread then pushes
// its frame onto the heap: heap corruption, a crash later or silently wrong numbers. Node installs
// handlers for SIGINT/SIGTERM (our graceful stop), SIGCHLD, SIGUSR1, and the CPU profiler sends SIGPROF
// to the main thread, so this is not hypothetical (test/kernels/signals.test.ts reproduces it without
// this guard). Blocking the signals while native code runs defers them to the return of the call
// (process-directed ones go to a thread that does not block them, e.g. libuv's or V8's). OpenMP worker
// threads are created inside these calls, so they inherit the blocked mask and keep it for their life.
// Synchronous signals (faults) stay unblocked: blocking them would only turn a crash into a hang.
#pragma once

#include <napi.h>

#include <exception>
#include <new>
#include <string>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <signal.h>
#endif

namespace tee {

class AsyncSignalsBlocked {
 public:
  AsyncSignalsBlocked() {
#if defined(__unix__) || defined(__APPLE__)
    sigset_t block;
    sigfillset(&block);
    for (const int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&block, s);
    active_ = pthread_sigmask(SIG_BLOCK, &block, &saved_) == 0;
#endif
  }
  ~AsyncSignalsBlocked() {
#if defined(__unix__) || defined(__APPLE__)
    if (active_) pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
#endif
  }
  AsyncSignalsBlocked(const AsyncSignalsBlocked&) = delete;
  AsyncSignalsBlocked& operator=(const AsyncSignalsBlocked&) = delete;

 private:
#if defined(__unix__) || defined(__APPLE__)
  sigset_t saved_{};
  bool active_ = false;
#endif
};

using NativeFunction = Napi::Value (*)(const Napi::CallbackInfo&);

// A C++ exception other than Napi::Error (std::bad_alloc from a buffer sized by hostile input, a
// std::length_error) would otherwise terminate the process: it becomes a JavaScript Error instead.
template <NativeFunction F>
Napi::Value with_signals_blocked(const Napi::CallbackInfo& info) {
  const AsyncSignalsBlocked blocked;
  try {
    return F(info);
  } catch (const Napi::Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw Napi::Error::New(info.Env(), "native: out of memory (an allocation failed)");
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), std::string("native: ") + e.what());
  }
}

// exports[name] = F, run with asynchronous signals blocked (see above).
template <NativeFunction F>
void export_function(Napi::Env env, Napi::Object exports, const char* name) {
  exports.Set(name, Napi::Function::New(env, with_signals_blocked<F>, name));
}

}  // namespace tee
