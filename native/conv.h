// Conv2d kernels, two implementations behind one dispatch (conv.cc): oneDNN primitives (conv_onednn.cc,
// USE_ONEDNN) and im2col + GEMM on our own threads (conv_im2col.cc, always built).
// x [n,c,h,w], w [o,c,k,k] → y [n,o,oh,ow]; square kernel, same stride and padding on both axes.
#pragma once

#include <cstdint>

namespace tee {

struct ConvShape {
  int64_t n, c, h, w, o, k, s, p, oh, ow;
};

void conv_fwd_im2col(const ConvShape& g, const float* x, const float* w, float* y);
void conv_bwd_data_im2col(const ConvShape& g, const float* dy, const float* w, float* dx);
void conv_bwd_weight_im2col(const ConvShape& g, const float* dy, const float* x, float* dw);

bool onednn_built();
void conv_fwd_onednn(const ConvShape& g, const float* x, const float* w, float* y);
void conv_bwd_data_onednn(const ConvShape& g, const float* dy, const float* w, float* dx);
void conv_bwd_weight_onednn(const ConvShape& g, const float* dy, const float* x, float* dw);
// Drops cached primitives and buffers (tests; memory pressure).
void onednn_clear_cache();
// Whether oneDNN's forward (which = 0) or backward-data (which = 1) for g is computed by a direct JIT
// kernel ("jit:…", "jit_1x1:…"), which splits the work over threads by output element and sums each one
// inside a thread in an order fixed by the shape: thread-count independent (test/kernels checks it).
// Its GEMM-based kernels, and every backward-weight, split the sums by the thread count.
bool onednn_thread_independent(const ConvShape& g, int which);

// "onednn" or "im2col": the implementation the conv bindings use now.
const char* conv_backend_name();

}  // namespace tee
