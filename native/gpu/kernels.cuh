// The accelerator's GPU kernels: the element-wise passes around the GEMMs of the six linear products
// (int32 → float64 with the operand range check, im2col, col2im, reduction mod p, float64 → int32).
// This one file is compiled twice: at run time by NVRTC for the GPU (device_cuda.cc passes it in, with
// __CUDACC_RTC__ defined), and as plain C++ by the CPU emulation (device_emulated.cc), which runs each
// kernel body in a loop over its indices. Tests run the emulation, so the index arithmetic here is
// exercised on every machine, with or without a GPU. No includes: NVRTC has no standard headers.
#pragma once

#ifdef __CUDACC_RTC__
#define TEE_DEV __device__ __forceinline__
#else
#define TEE_DEV inline
#endif

namespace tee_gpu {

typedef long long i64;

// p = 2^24 − 3 and (p − 1)/2: operands are centered representatives |v| ≤ HALF_P.
#define TEE_GPU_P 16777213.0
#define TEE_GPU_HALF_P 8388606

// One convolution's geometry (per image). Passed by value to the kernels: the host's copy has the same
// layout (plain ints).
struct ConvGeom {
  int c, h, w, k, s, p, oh, ow;
};

// dst[i] = src[i]; *bad = 1 when |src[i]| > HALF_P (any offender sets it; the host finds the first).
TEE_DEV void k_i32_to_f64(i64 i, const int* src, double* dst, int* bad) {
  int v = src[i];
  if (v > TEE_GPU_HALF_P || v < -TEE_GPU_HALF_P) *bad = 1;
  dst[i] = (double)v;
}

// x [G][c][h][w] → col [G][c·k·k][oh·ow], zero outside the image (index i runs over col).
template <typename T>
TEE_DEV void k_im2col(i64 i, const T* x, T* col, ConvGeom g) {
  i64 t = i;
  const i64 q = t % g.ow;
  t /= g.ow;
  const i64 r = t % g.oh;
  t /= g.oh;
  const i64 kj = t % g.k;
  t /= g.k;
  const i64 ki = t % g.k;
  t /= g.k;
  const i64 ch = t % g.c;
  const i64 img = t / g.c;
  const i64 ih = r * g.s - g.p + ki;
  const i64 iw = q * g.s - g.p + kj;
  T v = 0;
  if (ih >= 0 && ih < g.h && iw >= 0 && iw < g.w) v = x[((img * g.c + ch) * g.h + ih) * g.w + iw];
  col[i] = v;
}

// col [G][c·k·k][oh·ow] → dx [G][c][h][w], each input position the sum of the window entries that read
// it (index i runs over dx; a gather, so no two threads write one element). For integers the sum is
// exact: at most k² terms, each a reduced value (modp) or a part of one output's exact sum (wide).
template <typename T>
TEE_DEV void k_col2im(i64 i, const T* col, T* dx, ConvGeom g) {
  i64 t = i;
  const i64 iw = t % g.w;
  t /= g.w;
  const i64 ih = t % g.h;
  t /= g.h;
  const i64 ch = t % g.c;
  const i64 img = t / g.c;
  const i64 plane = (i64)g.oh * g.ow;
  const T* base = col + (img * g.c + ch) * g.k * g.k * plane;
  T sum = 0;
  for (int ki = 0; ki < g.k; ++ki) {
    const i64 rr = ih + g.p - ki;
    if (rr < 0 || rr % g.s != 0) continue;
    const i64 r = rr / g.s;
    if (r >= g.oh) continue;
    for (int kj = 0; kj < g.k; ++kj) {
      const i64 qq = iw + g.p - kj;
      if (qq < 0 || qq % g.s != 0) continue;
      const i64 q = qq / g.s;
      if (q >= g.ow) continue;
      sum += base[((i64)ki * g.k + kj) * plane + r * g.ow + q];
    }
  }
  dx[i] = sum;
}

// c[i] (an exact integer, |c| < 2^53) → its centered representative mod p. c/P is within one ulp of the
// true quotient, so the rounded quotient is off by at most one and one fix-up step suffices; q·P and
// c − q·P are exact.
TEE_DEV void k_reduce_modp(i64 i, double* c) {
  const double v = c[i];
  double r = v - round(v / TEE_GPU_P) * TEE_GPU_P;
  if (r > TEE_GPU_HALF_P) r -= TEE_GPU_P;
  else if (r < -TEE_GPU_HALF_P) r += TEE_GPU_P;
  c[i] = r;
}

// Reduced float64 values (|v| ≤ HALF_P) → int32.
TEE_DEV void k_f64_to_i32(i64 i, const double* src, int* dst) { dst[i] = (int)src[i]; }

}  // namespace tee_gpu

#ifdef __CUDACC_RTC__
// The entry points device_cuda.cc looks up by name: grid-stride loops over n elements.
#define TEE_GPU_LOOP for (tee_gpu::i64 i = (tee_gpu::i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; \
                          i += (tee_gpu::i64)blockDim.x * gridDim.x)
extern "C" __global__ void tee_i32_to_f64(tee_gpu::i64 n, const int* src, double* dst, int* bad) {
  TEE_GPU_LOOP tee_gpu::k_i32_to_f64(i, src, dst, bad);
}
extern "C" __global__ void tee_im2col_f32(tee_gpu::i64 n, const float* x, float* col, tee_gpu::ConvGeom g) {
  TEE_GPU_LOOP tee_gpu::k_im2col<float>(i, x, col, g);
}
extern "C" __global__ void tee_im2col_f64(tee_gpu::i64 n, const double* x, double* col, tee_gpu::ConvGeom g) {
  TEE_GPU_LOOP tee_gpu::k_im2col<double>(i, x, col, g);
}
extern "C" __global__ void tee_col2im_f32(tee_gpu::i64 n, const float* col, float* dx, tee_gpu::ConvGeom g) {
  TEE_GPU_LOOP tee_gpu::k_col2im<float>(i, col, dx, g);
}
extern "C" __global__ void tee_col2im_f64(tee_gpu::i64 n, const double* col, double* dx, tee_gpu::ConvGeom g) {
  TEE_GPU_LOOP tee_gpu::k_col2im<double>(i, col, dx, g);
}
extern "C" __global__ void tee_reduce_modp(tee_gpu::i64 n, double* c) {
  TEE_GPU_LOOP tee_gpu::k_reduce_modp(i, c);
}
extern "C" __global__ void tee_f64_to_i32(tee_gpu::i64 n, const double* src, int* dst) {
  TEE_GPU_LOOP tee_gpu::k_f64_to_i32(i, src, dst);
}
#endif
