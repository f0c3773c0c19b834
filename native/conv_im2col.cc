// Conv2d by im2col/col2im + GEMM, parallelised with our own OpenMP threads and a single-threaded GEMM in
// each (DESIGN.md: this beats one threaded GEMM per image). Columns are processed in blocks so that the
// per-thread col buffer stays within a couple of MiB; buffers are reused across calls.
// col [(ic·k + ky)·k + kx, oy·ow + ox] = x[ic, oy·s − p + ky, ox·s − p + kx] (0 outside the image).
#include <algorithm>
#include <cstring>

#include "common.h"
#include "conv.h"
#include "gemm.h"

namespace tee {

namespace {

// Target size of one col block, in floats (2 MiB).
constexpr int64_t kColBlockFloats = int64_t(1) << 19;

int64_t col_block(const ConvShape& g, int64_t rows) {
  const int64_t ohw = g.oh * g.ow;
  int64_t b = kColBlockFloats / std::max<int64_t>(rows, 1);
  b = std::max<int64_t>(b, 64);
  return std::min(b, ohw);
}

// Valid output columns [lo, hi) for kernel column kx: 0 <= ox·s − p + kx < w.
inline void valid_ox(const ConvShape& g, int64_t kx, int64_t* lo, int64_t* hi) {
  const int64_t a = g.p - kx;  // ox·s >= a
  *lo = a > 0 ? (a + g.s - 1) / g.s : 0;
  const int64_t b = g.w - 1 + g.p - kx;  // ox·s <= b
  *hi = b >= 0 ? std::min(g.ow, b / g.s + 1) : 0;
  if (*hi < *lo) *hi = *lo;
}

// col [(c1−c0)·k·k, j1−j0] ← image x [c,h,w], channels [c0,c1), output positions [j0,j1).
void im2col_block(const ConvShape& g, const float* x, int64_t c0, int64_t c1, int64_t j0, int64_t j1, float* col) {
  const int64_t nb = j1 - j0, k = g.k;
  for (int64_t ic = c0; ic < c1; ic++) {
    const float* plane = x + ic * g.h * g.w;
    for (int64_t ky = 0; ky < k; ky++) {
      for (int64_t kx = 0; kx < k; kx++) {
        float* out = col + (((ic - c0) * k + ky) * k + kx) * nb;
        int64_t lo, hi;
        valid_ox(g, kx, &lo, &hi);
        for (int64_t j = j0; j < j1;) {
          const int64_t oy = j / g.ow, ox0 = j % g.ow;
          const int64_t ox1 = std::min(g.ow, ox0 + (j1 - j));
          float* o = out + (j - j0) - ox0;  // o[ox] is column (oy, ox)
          const int64_t iy = oy * g.s - g.p + ky;
          if (iy < 0 || iy >= g.h) {
            for (int64_t ox = ox0; ox < ox1; ox++) o[ox] = 0.0f;
          } else {
            const float* row = plane + iy * g.w - g.p + kx;  // row[ox·s] = x[iy, ox·s − p + kx]
            const int64_t a = std::max(ox0, lo), b = std::min(ox1, hi);
            int64_t ox = ox0;
            for (; ox < a; ox++) o[ox] = 0.0f;
            if (g.s == 1) {
              for (; ox < b; ox++) o[ox] = row[ox];
            } else {
              for (; ox < b; ox++) o[ox] = row[ox * g.s];
            }
            for (; ox < ox1; ox++) o[ox] = 0.0f;
          }
          j += ox1 - ox0;
        }
      }
    }
  }
}

// image dx [c,h,w] += col2im(dcol) for channels [c0,c1), output positions [j0,j1).
void col2im_block_add(const ConvShape& g, const float* col, int64_t c0, int64_t c1, int64_t j0, int64_t j1,
                      float* dx) {
  const int64_t nb = j1 - j0, k = g.k;
  for (int64_t ic = c0; ic < c1; ic++) {
    float* plane = dx + ic * g.h * g.w;
    for (int64_t ky = 0; ky < k; ky++) {
      for (int64_t kx = 0; kx < k; kx++) {
        const float* in = col + (((ic - c0) * k + ky) * k + kx) * nb;
        int64_t lo, hi;
        valid_ox(g, kx, &lo, &hi);
        for (int64_t j = j0; j < j1;) {
          const int64_t oy = j / g.ow, ox0 = j % g.ow;
          const int64_t ox1 = std::min(g.ow, ox0 + (j1 - j));
          const float* src = in + (j - j0) - ox0;
          const int64_t iy = oy * g.s - g.p + ky;
          if (iy >= 0 && iy < g.h) {
            float* row = plane + iy * g.w - g.p + kx;
            const int64_t a = std::max(ox0, lo), b = std::min(ox1, hi);
            if (g.s == 1) {
              for (int64_t ox = a; ox < b; ox++) row[ox] += src[ox];
            } else {
              for (int64_t ox = a; ox < b; ox++) row[ox * g.s] += src[ox];
            }
          }
          j += ox1 - ox0;
        }
      }
    }
  }
}

bool is_pointwise(const ConvShape& g) { return g.k == 1 && g.s == 1 && g.p == 0; }

// Threads for a conv of this size (tiny convs stay on the calling thread).
int conv_threads(const ConvShape& g) {
  const double flops = 2.0 * g.n * g.o * g.oh * g.ow * g.c * g.k * g.k;
  return flops < 4e5 ? 1 : threads();
}

}  // namespace

// x [n,c,h,w], w [o,ckk] → y [n,o,oh·ow]: the n·oh·ow output columns are split evenly across threads.
void conv_fwd_im2col(const ConvShape& g, const float* x, const float* w, float* y) {
  const int64_t ckk = g.c * g.k * g.k, ohw = g.oh * g.ow, total = g.n * ohw, chw = g.c * g.h * g.w;
  int nt = static_cast<int>(std::min<int64_t>(conv_threads(g), total));
  const int64_t blk = col_block(g, ckk);
  const bool pw = is_pointwise(g);
  std::vector<float*> cols(nt, nullptr);
  for (int t = 0; t < nt && !pw; t++) cols[t] = thread_workspace(t).as<float>(static_cast<size_t>(ckk * blk));
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = thread_id();
    int64_t b0, e0;
    split_range(total, nt, t, &b0, &e0);
    for (int64_t pos = b0; pos < e0;) {
      const int64_t img = pos / ohw, j0 = pos % ohw;
      const int64_t j1 = std::min({ohw, j0 + blk, j0 + (e0 - pos)});
      const float* xi = x + img * chw;
      const float* colp = xi + j0;
      int64_t ldb = ohw;
      if (!pw) {
        im2col_block(g, xi, 0, g.c, j0, j1, cols[t]);
        colp = cols[t];
        ldb = j1 - j0;
      }
      gemm_f32(false, false, g.o, j1 - j0, ckk, 1.0f, w, ckk, colp, ldb, 0.0f, y + img * g.o * ohw + j0, ohw, 1);
      pos += j1 - j0;
    }
  }
}

// dy [n,o,oh·ow], w [o,ckk] → dx [n,c,h,w]: dcol = wᵀ·dy, then col2im. Split by image when there are
// enough images, else by input-channel group (each thread owns whole dx channels: no write races).
void conv_bwd_data_im2col(const ConvShape& g, const float* dy, const float* w, float* dx) {
  const int64_t kk = g.k * g.k, ckk = g.c * kk, ohw = g.oh * g.ow, chw = g.c * g.h * g.w, hw = g.h * g.w;
  int nt = conv_threads(g);
  const bool by_image = nt <= 1 || g.n % nt == 0 || g.n >= 2 * nt || g.c < nt;
  if (by_image) {
    nt = static_cast<int>(std::min<int64_t>(nt, g.n));
  } else {
    nt = static_cast<int>(std::min<int64_t>(nt, g.c));
  }
  const int64_t blk = col_block(g, ckk);
  const bool pw = is_pointwise(g);
  std::vector<float*> cols(nt, nullptr);
  for (int t = 0; t < nt && !pw; t++) cols[t] = thread_workspace(t).as<float>(static_cast<size_t>(ckk * blk));
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = thread_id();
    int64_t i0 = 0, i1 = g.n, c0 = 0, c1 = g.c;
    if (by_image) {
      split_range(g.n, nt, t, &i0, &i1);
    } else {
      split_range(g.c, nt, t, &c0, &c1);
    }
    const int64_t rows = (c1 - c0) * kk;
    for (int64_t img = i0; img < i1; img++) {
      const float* dyi = dy + img * g.o * ohw;
      float* dxi = dx + img * chw;
      if (pw) {
        // dx[c0:c1] = w[:, c0:c1]ᵀ · dy
        gemm_f32(true, false, rows, ohw, g.o, 1.0f, w + c0 * kk, ckk, dyi, ohw, 0.0f, dxi + c0 * hw, ohw, 1);
        continue;
      }
      std::memset(dxi + c0 * hw, 0, sizeof(float) * static_cast<size_t>((c1 - c0) * hw));
      for (int64_t j0 = 0; j0 < ohw; j0 += blk) {
        const int64_t j1 = std::min(ohw, j0 + blk);
        gemm_f32(true, false, rows, j1 - j0, g.o, 1.0f, w + c0 * kk, ckk, dyi + j0, ohw, 0.0f, cols[t], j1 - j0, 1);
        col2im_block_add(g, cols[t], c0, c1, j0, j1, dxi);
      }
    }
  }
}

// dy [n,o,oh·ow], x [n,c,h,w] → dw [o,ckk] = Σ_img dy_img · col_imgᵀ. The n·oh·ow output columns (the
// GEMM's inner dimension) are split evenly across threads, as in the forward; each thread sums into its
// own partial dw, and the partials are added in thread order: deterministic for a fixed thread count.
void conv_bwd_weight_im2col(const ConvShape& g, const float* dy, const float* x, float* dw) {
  const int64_t ckk = g.c * g.k * g.k, ohw = g.oh * g.ow, total = g.n * ohw, chw = g.c * g.h * g.w;
  const int64_t wsize = g.o * ckk;
  int nt = static_cast<int>(std::min<int64_t>(conv_threads(g), total));
  const int64_t blk = col_block(g, ckk);
  const bool pw = is_pointwise(g);
  std::vector<float*> cols(nt, nullptr), accs(nt, nullptr);
  for (int t = 0; t < nt; t++) {
    if (!pw) cols[t] = thread_workspace(t, 0).as<float>(static_cast<size_t>(ckk * blk));
    accs[t] = t == 0 ? dw : thread_workspace(t, 1).as<float>(static_cast<size_t>(wsize));
  }
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    const int t = thread_id();
    int64_t b0, e0;
    split_range(total, nt, t, &b0, &e0);
    float* acc = accs[t];
    float beta = 0.0f;
    for (int64_t pos = b0; pos < e0;) {
      const int64_t img = pos / ohw, j0 = pos % ohw;
      const int64_t j1 = std::min({ohw, j0 + blk, j0 + (e0 - pos)});
      const float* xi = x + img * chw;
      const float* colp = xi + j0;
      int64_t ldb = ohw;
      if (!pw) {
        im2col_block(g, xi, 0, g.c, j0, j1, cols[t]);
        colp = cols[t];
        ldb = j1 - j0;
      }
      // acc [o, ckk] (+)= dy[:, j0:j1] · colᵀ
      gemm_f32(false, true, g.o, ckk, j1 - j0, 1.0f, dy + img * g.o * ohw + j0, ohw, colp, ldb, beta, acc, ckk, 1);
      beta = 1.0f;
      pos += j1 - j0;
    }
    if (beta == 0.0f) std::memset(acc, 0, sizeof(float) * static_cast<size_t>(wsize));
#pragma omp barrier
    if (nt > 1) {
      int64_t r0, r1;
      split_range(wsize, nt, t, &r0, &r1);
      for (int u = 1; u < nt; u++) {
        const float* a = accs[u];
        for (int64_t i = r0; i < r1; i++) dw[i] += a[i];
      }
    }
  }
}

}  // namespace tee
