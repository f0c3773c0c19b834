// Conv2d by im2col/col2im + GEMM, parallelised with our own OpenMP threads and a single-threaded GEMM in
// each (DESIGN.md: this beats one threaded GEMM per image). Columns are processed in blocks so that the
// per-thread col buffer stays within a couple of MiB; buffers are reused across calls.
// col [(ic·k + ky)·k + kx, oy·ow + ox] = x[ic, oy·s − p + ky, ox·s − p + kx] (0 outside the image).
// Each entry point splits its work by the thread count, which changes the GEMMs' shapes and hence the
// last bits; in deterministic mode the *_det variants below split it by the shape alone instead.
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

// ---- deterministic mode: pieces fixed by the shape ----
// A piece is a fixed list of GEMMs of fixed shapes (an image's column blocks, a group of output or input
// channels); the threads share out the pieces, and every sum runs inside one piece in one order, so the
// thread count only decides who computes a piece. Each GEMM is gemm_serial_f32 (single-threaded).

// The whole batch's col is materialised (for output-channel groups to share) up to this many floats.
constexpr int64_t kSharedColFloats = int64_t(1) << 23;
// The backward-weight's partial dw sums: at most this many floats in all, and at least kGroupCols
// output positions summed into each (≥ 2·kGroupCols flops per float of partial to add up).
constexpr int64_t kPartialFloats = int64_t(1) << 23;
constexpr int64_t kGroupCols = 1024;

// How many groups to cut `count` items into so that `pieces`·groups reaches kDetPieces, each group
// keeping at least `min_items` items (at least 1 group).
int64_t det_groups(int64_t count, int64_t pieces, int64_t min_items) {
  if (pieces >= kDetPieces) return 1;
  const int64_t want = ceil_div(kDetPieces, pieces);
  return std::max<int64_t>(1, std::min(want, count / std::max<int64_t>(min_items, 1)));
}

// Input channels per group for a GEMM of at least `rows` rows (channels·k·k).
int64_t channels_for(const ConvShape& g, int64_t rows) { return std::max<int64_t>(1, rows / (g.k * g.k)); }

// x [n,c,h,w], w [o,ckk] → y [n,o,oh·ow]. Pieces: (image, column block of col_block(g, ckk) positions,
// output-channel group); the channels are grouped only when the column blocks are few, every group then
// reading one col of the whole batch, made first.
void conv_fwd_im2col_det(const ConvShape& g, const float* x, const float* w, float* y) {
  const int64_t kk = g.k * g.k, ckk = g.c * kk, ohw = g.oh * g.ow, chw = g.c * g.h * g.w;
  const bool pw = is_pointwise(g);
  const int64_t blk = col_block(g, ckk), nblk = ceil_div(ohw, blk), chunks = g.n * nblk;
  int64_t og = det_groups(g.o, chunks, 16);
  const bool shared = !pw && og > 1 && g.n * ckk * ohw <= kSharedColFloats;
  if (!pw && !shared) og = 1;
  const int64_t pieces = chunks * og;
  const int nt = static_cast<int>(std::min<int64_t>(conv_threads(g), pieces));
  float* all = shared ? thread_workspace(0, 1).as<float>(static_cast<size_t>(g.n * ckk * ohw)) : nullptr;
  std::vector<float*> cols(nt, nullptr);
  for (int t = 0; t < nt && !pw && !shared; t++) {
    cols[t] = thread_workspace(t).as<float>(static_cast<size_t>(ckk * blk));
  }
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
    if (shared) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < g.n * g.c; i++) {  // col rows of (image, channel)
        const int64_t img = i / g.c, ic = i % g.c;
        im2col_block(g, x + img * chw, ic, ic + 1, 0, ohw, all + (img * ckk + ic * kk) * ohw);
      }
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t piece = 0; piece < pieces; piece++) {
      const int64_t chunk = piece / og, img = chunk / nblk, j0 = (chunk % nblk) * blk;
      const int64_t j1 = std::min(ohw, j0 + blk);
      int64_t o0, o1;
      split_range(g.o, static_cast<int>(og), static_cast<int>(piece % og), &o0, &o1);
      const float* colp = pw ? x + img * chw + j0 : shared ? all + img * ckk * ohw + j0 : nullptr;
      int64_t ldb = ohw;
      if (colp == nullptr) {
        float* col = cols[thread_id()];
        im2col_block(g, x + img * chw, 0, g.c, j0, j1, col);
        colp = col;
        ldb = j1 - j0;
      }
      // y[img, o0:o1, j0:j1] = w[o0:o1] · col
      gemm_serial_f32(false, false, o1 - o0, j1 - j0, ckk, 1.0f, w + o0 * ckk, ckk, colp, ldb, 0.0f,
                      y + (img * g.o + o0) * ohw + j0, ohw);
    }
  }
}

// dy [n,o,oh·ow], w [o,ckk] → dx [n,c,h,w]. Pieces: (image, input-channel group), each owning its part
// of dx and adding its column blocks' col2im into it in order.
void conv_bwd_data_im2col_det(const ConvShape& g, const float* dy, const float* w, float* dx) {
  const int64_t kk = g.k * g.k, ckk = g.c * kk, ohw = g.oh * g.ow, chw = g.c * g.h * g.w, hw = g.h * g.w;
  const bool pw = is_pointwise(g);
  const int64_t blk = col_block(g, ckk);
  const int64_t cg = det_groups(g.c, g.n, channels_for(g, 64)), pieces = g.n * cg;
  const int nt = static_cast<int>(std::min<int64_t>(conv_threads(g), pieces));
  const int64_t rows_max = ceil_div(g.c, cg) * kk;
  std::vector<float*> cols(nt, nullptr);
  for (int t = 0; t < nt && !pw; t++) cols[t] = thread_workspace(t).as<float>(static_cast<size_t>(rows_max * blk));
  BlasSerialRegion serial;
#pragma omp parallel for num_threads(nt) if (nt > 1) schedule(dynamic, 1)
  for (int64_t piece = 0; piece < pieces; piece++) {
    const int64_t img = piece / cg;
    int64_t c0, c1;
    split_range(g.c, static_cast<int>(cg), static_cast<int>(piece % cg), &c0, &c1);
    const int64_t rows = (c1 - c0) * kk;
    const float* dyi = dy + img * g.o * ohw;
    float* dxi = dx + img * chw;
    if (pw) {
      // dx[c0:c1] = w[:, c0:c1]ᵀ · dy
      gemm_serial_f32(true, false, rows, ohw, g.o, 1.0f, w + c0, ckk, dyi, ohw, 0.0f, dxi + c0 * hw, ohw);
      continue;
    }
    float* col = cols[thread_id()];
    std::memset(dxi + c0 * hw, 0, sizeof(float) * static_cast<size_t>((c1 - c0) * hw));
    for (int64_t j0 = 0; j0 < ohw; j0 += blk) {
      const int64_t j1 = std::min(ohw, j0 + blk);
      gemm_serial_f32(true, false, rows, j1 - j0, g.o, 1.0f, w + c0 * kk, ckk, dyi + j0, ohw, 0.0f, col, j1 - j0);
      col2im_block_add(g, col, c0, c1, j0, j1, dxi);
    }
  }
}

// dy [n,o,oh·ow], x [n,c,h,w] → dw [o,ckk]. Pieces: (input-channel group, group of consecutive column
// blocks of the batch). A channel group owns columns [c0·k·k, c1·k·k) of dw; column group 0 sums into dw
// and group i > 0 into partial i, and the partials are added to dw in group order.
void conv_bwd_weight_im2col_det(const ConvShape& g, const float* dy, const float* x, float* dw) {
  const int64_t kk = g.k * g.k, ckk = g.c * kk, ohw = g.oh * g.ow, chw = g.c * g.h * g.w, hw = g.h * g.w;
  const int64_t wsize = g.o * ckk;
  const bool pw = is_pointwise(g);
  const int64_t blk = col_block(g, ckk), nblk = ceil_div(ohw, blk), chunks = g.n * nblk;
  const int64_t cg = det_groups(g.c, 1, channels_for(g, 256));
  const int64_t kg = std::min({det_groups(chunks, cg, 1), std::max<int64_t>(1, g.n * ohw / kGroupCols),
                               1 + kPartialFloats / wsize});
  const int64_t pieces = cg * kg;
  const int nt = static_cast<int>(std::min<int64_t>(conv_threads(g), pieces));
  const int64_t rows_max = ceil_div(g.c, cg) * kk;
  float* partial = kg > 1 ? thread_workspace(0, 1).as<float>(static_cast<size_t>((kg - 1) * wsize)) : nullptr;
  std::vector<float*> cols(nt, nullptr);
  for (int t = 0; t < nt && !pw; t++) cols[t] = thread_workspace(t).as<float>(static_cast<size_t>(rows_max * blk));
  BlasSerialRegion serial;
#pragma omp parallel num_threads(nt) if (nt > 1)
  {
#pragma omp for schedule(dynamic, 1)
    for (int64_t piece = 0; piece < pieces; piece++) {
      const int64_t grp = piece / cg;  // column group
      int64_t c0, c1, k0, k1;
      split_range(g.c, static_cast<int>(cg), static_cast<int>(piece % cg), &c0, &c1);
      split_range(chunks, static_cast<int>(kg), static_cast<int>(grp), &k0, &k1);
      float* acc = (grp == 0 ? dw : partial + (grp - 1) * wsize) + c0 * kk;
      const int64_t rows = (c1 - c0) * kk;
      float beta = 0.0f;
      for (int64_t chunk = k0; chunk < k1; chunk++) {
        const int64_t img = chunk / nblk, j0 = (chunk % nblk) * blk, j1 = std::min(ohw, j0 + blk);
        const float* colp = pw ? x + img * chw + c0 * hw + j0 : nullptr;
        int64_t ldb = ohw;
        if (colp == nullptr) {
          float* col = cols[thread_id()];
          im2col_block(g, x + img * chw, c0, c1, j0, j1, col);
          colp = col;
          ldb = j1 - j0;
        }
        // acc [o, rows] (+)= dy[img, :, j0:j1] · colᵀ
        gemm_serial_f32(false, true, g.o, rows, j1 - j0, 1.0f, dy + img * g.o * ohw + j0, ohw, colp, ldb, beta, acc,
                        ckk);
        beta = 1.0f;
      }
    }
    if (kg > 1) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < wsize; i++) {
        float s = dw[i];
        for (int64_t p = 0; p < kg - 1; p++) s += partial[p * wsize + i];
        dw[i] = s;
      }
    }
  }
}

}  // namespace

// x [n,c,h,w], w [o,ckk] → y [n,o,oh·ow]: the n·oh·ow output columns are split evenly across threads.
void conv_fwd_im2col(const ConvShape& g, const float* x, const float* w, float* y) {
  if (deterministic()) return conv_fwd_im2col_det(g, x, w, y);
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
  if (deterministic()) return conv_bwd_data_im2col_det(g, dy, w, dx);
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
// own partial dw, and the partials are added in thread order: deterministic for a fixed thread count only.
void conv_bwd_weight_im2col(const ConvShape& g, const float* dy, const float* x, float* dw) {
  if (deterministic()) return conv_bwd_weight_im2col_det(g, dy, x, dw);
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
