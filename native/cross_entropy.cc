// Cross-entropy over logits [n,k] with integer labels: numerically stable log-softmax (max subtracted,
// sums in double), mean over the batch. Per-row losses are added in row order, so the loss does not
// depend on the thread count.
#include <cmath>
#include <string>
#include <vector>

#include "common.h"
#include "signals.h"

namespace tee {

namespace {

int64_t first_bad_label(const int32_t* labels, int64_t n, int64_t k) {
  for (int64_t i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= k) return i;
  }
  return -1;
}

void check_labels(const Napi::CallbackInfo& info, const char* fn, const int32_t* labels, int64_t n, int64_t k) {
  const int64_t bad = first_bad_label(labels, n, k);
  if (bad >= 0) {
    throw Napi::RangeError::New(info.Env(), std::string(fn) + ": label " + std::to_string(labels[bad]) +
                                                " at index " + std::to_string(bad) + " is outside [0, " +
                                                std::to_string(k) + ")");
  }
}

// (n, k, logits, labels, probs) → mean loss
Napi::Value Forward(const Napi::CallbackInfo& info) {
  const char* fn = "crossEntropyForward";
  expect_args(info, 5, fn);
  const int64_t n = dim_arg(info, 0, fn), k = dim_arg(info, 1, fn);
  const float* logits = array_arg<float>(info, 2, n * k, fn, "logits");
  const int32_t* labels = array_arg<int32_t>(info, 3, n, fn, "labels");
  float* probs = array_arg<float>(info, 4, n * k, fn, "probs");
  check_labels(info, fn, labels, n, k);
  std::vector<double> row_loss(static_cast<size_t>(n));
  double* rl = row_loss.data();
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(n * k * 8), n));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    const float* z = logits + i * k;
    float* pr = probs + i * k;
    double mx = -INFINITY;
    for (int64_t j = 0; j < k; j++) mx = z[j] > mx ? z[j] : mx;
    double s = 0;
    for (int64_t j = 0; j < k; j++) s += std::exp(static_cast<double>(z[j]) - mx);
    const double lse = mx + std::log(s);
    for (int64_t j = 0; j < k; j++) pr[j] = static_cast<float>(std::exp(static_cast<double>(z[j]) - lse));
    rl[i] = lse - z[labels[i]];
  }
  double total = 0;
  for (int64_t i = 0; i < n; i++) total += rl[i];
  return Napi::Number::New(info.Env(), total / static_cast<double>(n));
}

// (n, k, probs, labels, scale, dlogits): dlogits = scale·(probs − onehot(labels))/n
Napi::Value Backward(const Napi::CallbackInfo& info) {
  const char* fn = "crossEntropyBackward";
  expect_args(info, 6, fn);
  const int64_t n = dim_arg(info, 0, fn), k = dim_arg(info, 1, fn);
  const float* probs = array_arg<float>(info, 2, n * k, fn, "probs");
  const int32_t* labels = array_arg<int32_t>(info, 3, n, fn, "labels");
  const double scale = number_arg(info, 4, fn);
  float* dl = array_arg<float>(info, 5, n * k, fn, "dlogits");
  check_labels(info, fn, labels, n, k);
  const double f = scale / static_cast<double>(n);
  [[maybe_unused]] const int nt = static_cast<int>(std::min<int64_t>(threads_for(n * k), n));
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < k; j++) {
      const double t = labels[i] == j ? 1.0 : 0.0;
      dl[i * k + j] = static_cast<float>(f * (probs[i * k + j] - t));
    }
  }
  return info.Env().Undefined();
}

}  // namespace

void register_cross_entropy(Napi::Env env, Napi::Object exports) {
  export_function<Forward>(env, exports, "crossEntropyForward");
  export_function<Backward>(env, exports, "crossEntropyBackward");
}

}  // namespace tee
