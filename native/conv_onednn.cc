// Conv2d through oneDNN (what PyTorch's CPU convolution uses): primitives are created with
// format_tag::any so oneDNN picks its blocked layouts, and reorders convert from/to the caller's plain
// NCHW/OIHW arrays. Everything is created once per geometry and thread count and cached: primitive
// descriptors, primitives, reorders and memory objects; blocked buffers and the (user-mode) scratchpad
// live in growable arenas shared by all geometries (calls are sequential). The engine and stream are
// created once. oneDNN's CPU primitives are deterministic run to run for a fixed thread count; results
// may differ in the last bits between thread counts (backward-weight reduces per-thread partial sums, and
// the GEMM-based forward and backward-data split the GEMM's k): onednn_thread_independent tells which
// are not, for deterministic mode (conv.cc).
#include "conv.h"

#ifdef USE_ONEDNN

#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>

#include <oneapi/dnnl/dnnl.hpp>

#include "common.h"

namespace tee {

namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& cpu_stream() {
  static dnnl::stream s(cpu_engine());
  return s;
}

// Arena slots: the source-side, weight-side and destination-side blocked buffers, and the scratchpad.
enum Slot { kSrc = 0, kWei = 1, kDst = 2, kScratch = 3, kSlots = 4 };
Buffer g_arena[kSlots];

void* arena(Slot s, size_t bytes) { return g_arena[s].get(bytes < 64 ? 64 : bytes); }

// One operand of a primitive: the caller's plain array and, when the primitive wants another layout,
// the cached reorder to it (inputs) or from it (outputs).
struct Port {
  memory user;
  memory inner;
  dnnl::reorder re;
  bool same = true;
  Slot slot = kSrc;

  void init(const memory::desc& plain, const memory::desc& want, bool input, Slot s) {
    slot = s;
    user = memory(plain, cpu_engine(), DNNL_MEMORY_NONE);
    same = plain == want;
    if (!same) {
      inner = memory(want, cpu_engine(), DNNL_MEMORY_NONE);
      re = input ? dnnl::reorder(user, inner) : dnnl::reorder(inner, user);
    }
  }
  // Input: returns the memory to pass to the primitive (reordered into the arena when needed).
  memory& in(const float* p) {
    user.set_data_handle(const_cast<float*>(p));
    if (same) return user;
    inner.set_data_handle(arena(slot, inner.get_desc().get_size()));
    re.execute(cpu_stream(), user, inner);
    return inner;
  }
  // Output: the memory the primitive writes; call out_done() after executing it.
  memory& out(float* p) {
    user.set_data_handle(p);
    if (same) return user;
    inner.set_data_handle(arena(slot, inner.get_desc().get_size()));
    return inner;
  }
  void out_done() {
    if (!same) re.execute(cpu_stream(), inner, user);
  }
};

struct Entry {
  memory::desc x_md, w_md, y_md;
  memory::dims strides, pad_l, pad_r;
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  Port fx, fw, fy;
  memory fwd_scratch;

  bool fwd_direct = false;  // a direct JIT kernel (onednn_thread_independent)

  bool bd_ready = false;
  bool bd_direct = false;
  dnnl::convolution_backward_data bd;
  Port bdy, bw, bdx;
  memory bd_scratch;

  bool bw_ready = false;
  dnnl::convolution_backward_weights bwt;
  Port wx, wdy, wdw;
  memory bw_scratch;
};

struct Key {
  int64_t v[9];
  bool operator==(const Key& o) const { return std::memcmp(v, o.v, sizeof v) == 0; }
};
struct KeyHash {
  size_t operator()(const Key& k) const {
    size_t h = 1469598103934665603ull;
    for (int64_t x : k.v) h = (h ^ static_cast<size_t>(x)) * 1099511628211ull;
    return h;
  }
};

// Geometries seen in one model are few; the cap only bounds memory when tests sweep many shapes.
constexpr size_t kMaxEntries = 512;
std::unordered_map<Key, std::unique_ptr<Entry>, KeyHash> g_cache;

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

memory::desc any_md(const memory::dims& d) { return memory::desc(d, dt::f32, tag::any); }

// The scratchpad memory object for a primitive, bound to the shared arena.
memory scratch_for(const memory::desc& md) { return memory(md, cpu_engine(), DNNL_MEMORY_NONE); }
memory& bind_scratch(memory& m) {
  m.set_data_handle(arena(kScratch, m.get_desc().get_size()));
  return m;
}

// oneDNN's direct JIT kernels ("jit:avx2", "jit_1x1:avx512_core", …) split a forward or backward-data
// over threads by output element (image, channel block, rows) and sum each element inside one thread.
bool direct_jit(const std::string& impl) { return impl.rfind("jit:", 0) == 0 || impl.rfind("jit_1x1:", 0) == 0; }

Entry& entry_for(const ConvShape& g) {
  const Key key{{g.n, g.c, g.h, g.w, g.o, g.k, g.s, g.p, threads()}};
  auto it = g_cache.find(key);
  if (it != g_cache.end()) return *it->second;
  if (g_cache.size() >= kMaxEntries) g_cache.clear();
  auto e = std::make_unique<Entry>();
  const memory::dims xd{g.n, g.c, g.h, g.w}, wd{g.o, g.c, g.k, g.k}, yd{g.n, g.o, g.oh, g.ow};
  e->x_md = memory::desc(xd, dt::f32, tag::nchw);
  e->w_md = memory::desc(wd, dt::f32, tag::oihw);
  e->y_md = memory::desc(yd, dt::f32, tag::nchw);
  e->strides = {g.s, g.s};
  e->pad_l = {g.p, g.p};
  // Floor mode: oneDNN checks oh = (h − k + pl + pr)/s + 1 with integer division, so pr = pl is valid.
  e->pad_r = {g.p, g.p};
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                     any_md(xd), any_md(wd), any_md(yd), e->strides, e->pad_l, e->pad_r);
  e->fwd_pd = dnnl::convolution_forward::primitive_desc(fd, user_scratchpad(), cpu_engine());
  e->fwd = dnnl::convolution_forward(e->fwd_pd);
  e->fwd_direct = direct_jit(e->fwd_pd.impl_info_str());
  e->fx.init(e->x_md, e->fwd_pd.src_desc(), true, kSrc);
  e->fw.init(e->w_md, e->fwd_pd.weights_desc(), true, kWei);
  e->fy.init(e->y_md, e->fwd_pd.dst_desc(), false, kDst);
  e->fwd_scratch = scratch_for(e->fwd_pd.scratchpad_desc());
  Entry& ref = *e;
  g_cache.emplace(key, std::move(e));
  return ref;
}

void prepare_bwd_data(const ConvShape& g, Entry& e) {
  if (e.bd_ready) return;
  const memory::dims xd{g.n, g.c, g.h, g.w}, wd{g.o, g.c, g.k, g.k}, yd{g.n, g.o, g.oh, g.ow};
  dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, any_md(xd), any_md(wd), any_md(yd),
                                          e.strides, e.pad_l, e.pad_r);
  dnnl::convolution_backward_data::primitive_desc pd(d, user_scratchpad(), cpu_engine(), e.fwd_pd);
  e.bd_direct = direct_jit(pd.impl_info_str());
  e.bd = dnnl::convolution_backward_data(pd);
  e.bdy.init(e.y_md, pd.diff_dst_desc(), true, kDst);
  e.bw.init(e.w_md, pd.weights_desc(), true, kWei);
  e.bdx.init(e.x_md, pd.diff_src_desc(), false, kSrc);
  e.bd_scratch = scratch_for(pd.scratchpad_desc());
  e.bd_ready = true;
}

void prepare_bwd_weight(const ConvShape& g, Entry& e) {
  if (e.bw_ready) return;
  const memory::dims xd{g.n, g.c, g.h, g.w}, wd{g.o, g.c, g.k, g.k}, yd{g.n, g.o, g.oh, g.ow};
  dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, any_md(xd), any_md(wd),
                                             any_md(yd), e.strides, e.pad_l, e.pad_r);
  dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratchpad(), cpu_engine(), e.fwd_pd);
  e.bwt = dnnl::convolution_backward_weights(pd);
  e.wx.init(e.x_md, pd.src_desc(), true, kSrc);
  e.wdy.init(e.y_md, pd.diff_dst_desc(), true, kDst);
  e.wdw.init(e.w_md, pd.diff_weights_desc(), false, kWei);
  e.bw_scratch = scratch_for(pd.scratchpad_desc());
  e.bw_ready = true;
}

}  // namespace

bool onednn_built() { return true; }

bool onednn_thread_independent(const ConvShape& g, int which) {
  if (which != 0 && which != 1) return false;
  Entry& e = entry_for(g);
  if (which == 0) return e.fwd_direct;
  prepare_bwd_data(g, e);
  return e.bd_direct;
}

void onednn_clear_cache() {
  g_cache.clear();
  for (Buffer& b : g_arena) b.release();
}

void conv_fwd_onednn(const ConvShape& g, const float* x, const float* w, float* y) {
  Entry& e = entry_for(g);
  memory& X = e.fx.in(x);
  memory& W = e.fw.in(w);
  memory& Y = e.fy.out(y);
  e.fwd.execute(cpu_stream(), {{DNNL_ARG_SRC, X},
                               {DNNL_ARG_WEIGHTS, W},
                               {DNNL_ARG_DST, Y},
                               {DNNL_ARG_SCRATCHPAD, bind_scratch(e.fwd_scratch)}});
  e.fy.out_done();
  cpu_stream().wait();
}

void conv_bwd_data_onednn(const ConvShape& g, const float* dy, const float* w, float* dx) {
  Entry& e = entry_for(g);
  prepare_bwd_data(g, e);
  memory& DY = e.bdy.in(dy);
  memory& W = e.bw.in(w);
  memory& DX = e.bdx.out(dx);
  e.bd.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, DY},
                              {DNNL_ARG_WEIGHTS, W},
                              {DNNL_ARG_DIFF_SRC, DX},
                              {DNNL_ARG_SCRATCHPAD, bind_scratch(e.bd_scratch)}});
  e.bdx.out_done();
  cpu_stream().wait();
}

void conv_bwd_weight_onednn(const ConvShape& g, const float* dy, const float* x, float* dw) {
  Entry& e = entry_for(g);
  prepare_bwd_weight(g, e);
  memory& X = e.wx.in(x);
  memory& DY = e.wdy.in(dy);
  memory& DW = e.wdw.out(dw);
  e.bwt.execute(cpu_stream(), {{DNNL_ARG_SRC, X},
                               {DNNL_ARG_DIFF_DST, DY},
                               {DNNL_ARG_DIFF_WEIGHTS, DW},
                               {DNNL_ARG_SCRATCHPAD, bind_scratch(e.bw_scratch)}});
  e.wdw.out_done();
  cpu_stream().wait();
}

}  // namespace tee

#else  // !USE_ONEDNN

#include <stdexcept>

namespace tee {

bool onednn_built() { return false; }
void onednn_clear_cache() {}
bool onednn_thread_independent(const ConvShape&, int) { return false; }
void conv_fwd_onednn(const ConvShape&, const float*, const float*, float*) {
  throw std::runtime_error("oneDNN was not available when the addon was built");
}
void conv_bwd_data_onednn(const ConvShape&, const float*, const float*, float*) {
  throw std::runtime_error("oneDNN was not available when the addon was built");
}
void conv_bwd_weight_onednn(const ConvShape&, const float*, const float*, float*) {
  throw std::runtime_error("oneDNN was not available when the addon was built");
}

}  // namespace tee

#endif
