// Dense pyramidal Lucas-Kanade optical flow, batched over the consecutive pairs of T grey frames.
// Spec: vla_builder/kernels/reference_lk.py::lk_flow (same operations in the same order).
//
// Per level (coarse to fine), per pair p (prev = frame p, next = frame p + 1):
//   Ix, Iy    central differences of prev
//   G         box sums over the (2r+1)^2 window of [Ix^2, IxIy, Iy^2]
//   repeat `iters` times (`finest_iters` at level 0), with u the current flow of each pixel:
//     It      = next(x + u) - prev(x)            (bilinear; 0 where x + u leaves the image)
//     c       = grad * (grad . u - It)           per pixel
//     u      <- (G + reg I)^-1 (box_sum(c) + reg u)
// The last line is the Gauss-Newton step of the windowed LK equations, linearized around every pixel's own
// flow; it is a weighted average of the neighbours' corrected flows, hence stable with a fixed iteration count.
//   then (select_step > 0) candidate selection: every pixel takes the flow u(p + o), o in {0, +-step x, +-step y},
//     whose shifted flow field best warps its (2 select_radius + 1)^2 neighbourhood (sum |I1(q + u) - I0(q)|),
//     which moves flow across the band that the window smeared over a motion boundary
//   and at the finest level `refine_iters` red-black SOR sweeps of a per-pixel variational refinement
//     (brightness constancy + robust smoothness to the 4 neighbours), which removes the window's bias where the
//     flow varies (rotation, zoom) and keeps flow edges sharp.
//
// C ABI: vla_lk_workspace_bytes, vla_lk_flow (device pointers, a stream), vla_lk_flow_host (host pointers).
#include "common.cuh"

namespace vla {
namespace {

constexpr int kMaxLevels = 8;
constexpr int kMaxRadius = 16;

VLA_HD float bilinear(const float* img, int w, int h, float x, float y, int stride, int offset) {
  x = fminf(fmaxf(x, 0.f), float(w - 1));
  y = fminf(fmaxf(y, 0.f), float(h - 1));
  int x0 = int(floorf(x));
  int y0 = int(floorf(y));
  x0 = x0 < w - 2 ? x0 : w - 2;
  y0 = y0 < h - 2 ? y0 : h - 2;
  const float fx = x - float(x0);
  const float fy = y - float(y0);
  const float gx = 1.f - fx;
  const size_t i00 = (size_t(y0) * w + x0) * stride + offset, i10 = i00 + size_t(w) * stride;
  const float top = gx * img[i00] + fx * img[i00 + stride];
  const float bot = gx * img[i10] + fx * img[i10 + stride];
  return (1.f - fy) * top + fy * bot;
}

struct ToFloat {
  const uint8_t* src;
  float* dst;
  int w;
  size_t npx;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t i = size_t(b) * npx + size_t(y) * w + x;
    dst[i] = float(src[i]);
  }
};

struct PyrDown {
  const float* src;
  float* dst;
  int ws, hs, wd, hd;
  VLA_HD void operator()(int x, int y, int b) const {
    const float k[5] = {0.0625f, 0.25f, 0.375f, 0.25f, 0.0625f};
    const float* s = src + size_t(b) * ws * hs;
    float out = 0.f;
    for (int j = 0; j < 5; ++j) {
      const int yy = clampi(2 * y + j - 2, 0, hs - 1);
      float acc = 0.f;
      for (int i = 0; i < 5; ++i) {
        const int xx = clampi(2 * x + i - 2, 0, ws - 1);
        acc = acc + k[i] * s[size_t(yy) * ws + xx];
      }
      out = out + k[j] * acc;
    }
    dst[size_t(b) * wd * hd + size_t(y) * wd + x] = out;
  }
};

struct Gradients {
  const float* img;
  float *ix, *iy;
  int w, h;
  VLA_HD void operator()(int x, int y, int b) const {
    const float* s = img + size_t(b) * w * h;
    const size_t i = size_t(y) * w + x;
    const int xp = x + 1 < w ? x + 1 : w - 1, xm = x > 0 ? x - 1 : 0;
    const int yp = y + 1 < h ? y + 1 : h - 1, ym = y > 0 ? y - 1 : 0;
    ix[size_t(b) * w * h + i] = 0.5f * (s[size_t(y) * w + xp] - s[size_t(y) * w + xm]);
    iy[size_t(b) * w * h + i] = 0.5f * (s[size_t(yp) * w + x] - s[size_t(ym) * w + x]);
  }
};

// Horizontal window sums of [Ix^2, IxIy, Iy^2] into 3 planes of tmp (plane stride = n_frames * npx).
struct RowSumG {
  const float *ix, *iy;
  float* tmp;
  int w, h, r;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t row = size_t(b) * w * h + size_t(y) * w;
    float sxx = 0.f, sxy = 0.f, syy = 0.f;
    for (int i = -r; i <= r; ++i) {
      const int xx = x + i;
      const bool in = xx >= 0 && xx < w;
      const float gx = in ? ix[row + xx] : 0.f, gy = in ? iy[row + xx] : 0.f;
      sxx = sxx + (in ? gx * gx : 0.f);
      sxy = sxy + (in ? gx * gy : 0.f);
      syy = syy + (in ? gy * gy : 0.f);
    }
    tmp[row + x] = sxx;
    tmp[plane + row + x] = sxy;
    tmp[2 * plane + row + x] = syy;
  }
};

struct ColSumG {
  const float* tmp;
  float *gxx, *gxy, *gyy;
  int w, h, r;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t base = size_t(b) * w * h + x;
    float sxx = 0.f, sxy = 0.f, syy = 0.f;
    for (int j = -r; j <= r; ++j) {
      const int yy = y + j;
      const bool in = yy >= 0 && yy < h;
      const size_t i = base + size_t(in ? yy : 0) * w;
      sxx = sxx + (in ? tmp[i] : 0.f);
      sxy = sxy + (in ? tmp[plane + i] : 0.f);
      syy = syy + (in ? tmp[2 * plane + i] : 0.f);
    }
    const size_t o = size_t(b) * w * h + size_t(y) * w + x;
    gxx[o] = sxx;
    gxy[o] = sxy;
    gyy[o] = syy;
  }
};

struct Upsample {
  const float* coarse;  // (n, hc, wc, 2)
  float* fine;          // (n, h, w, 2)
  int wc, hc, w, h;
  VLA_HD void operator()(int x, int y, int b) const {
    const float* c = coarse + size_t(b) * wc * hc * 2;
    const float cx = float(x) * 0.5f, cy = float(y) * 0.5f;
    const size_t o = (size_t(b) * w * h + size_t(y) * w + x) * 2;
    fine[o] = 2.f * bilinear(c, wc, hc, cx, cy, 2, 0);
    fine[o + 1] = 2.f * bilinear(c, wc, hc, cx, cy, 2, 1);
  }
};

// c = grad * (grad . u - It), It = next(x + u) - prev(x) (0 when x + u leaves the image); 2 planes of cbuf.
struct WarpTerms {
  const float* img;  // this level's pyramid, (T, h, w): prev = frame b, next = frame b + 1
  const float *ix, *iy, *flow;
  float* cbuf;
  int w, h;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t npx = size_t(w) * h;
    const size_t i = size_t(b) * npx + size_t(y) * w + x;
    const float u = flow[2 * i], v = flow[2 * i + 1];
    const float wx = float(x) + u, wy = float(y) + v;
    const bool inside = wx >= 0.f && wx <= float(w - 1) && wy >= 0.f && wy <= float(h - 1);
    const float* next = img + size_t(b + 1) * npx;
    const float prev = img[i];
    const float it = inside ? bilinear(next, w, h, wx, wy, 1, 0) - prev : 0.f;
    const float gx = ix[i], gy = iy[i];
    const float g = gx * u + gy * v - it;
    cbuf[i] = gx * g;
    cbuf[plane + i] = gy * g;
  }
};

struct RowSum2 {
  const float* src;  // 2 planes
  float* dst;        // 2 planes
  int w, h, r;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t row = size_t(b) * w * h + size_t(y) * w;
    float s0 = 0.f, s1 = 0.f;
    for (int i = -r; i <= r; ++i) {
      const int xx = x + i;
      const bool in = xx >= 0 && xx < w;
      s0 = s0 + (in ? src[row + xx] : 0.f);
      s1 = s1 + (in ? src[plane + row + xx] : 0.f);
    }
    dst[row + x] = s0;
    dst[plane + row + x] = s1;
  }
};

// Vertical window sums of the 2 row-summed planes, then the 2x2 solve; updates the flow in place (each pixel
// reads and writes only its own flow here, so there is no race).
struct ColSumSolve {
  const float *tmp, *gxx, *gxy, *gyy;
  float* flow;
  int w, h, r;
  size_t plane;
  float reg;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t base = size_t(b) * w * h + x;
    float cx = 0.f, cy = 0.f;
    for (int j = -r; j <= r; ++j) {
      const int yy = y + j;
      const bool in = yy >= 0 && yy < h;
      const size_t i = base + size_t(in ? yy : 0) * w;
      cx = cx + (in ? tmp[i] : 0.f);
      cy = cy + (in ? tmp[plane + i] : 0.f);
    }
    const size_t o = size_t(b) * w * h + size_t(y) * w + x;
    const float u = flow[2 * o], v = flow[2 * o + 1];
    const float a = gxx[o] + reg, c = gyy[o] + reg, bxy = gxy[o];
    const float det = a * c - bxy * bxy;
    const float rx = cx + reg * u, ry = cy + reg * v;
    const float num_u = c * rx - bxy * ry, num_v = a * ry - bxy * rx;
    if (det > 0.f) {
      flow[2 * o] = num_u / det;
      flow[2 * o + 1] = num_v / det;
    }
  }
};

// Candidate k of the selection pass (same order as reference_lk.select_offsets).
VLA_HD void select_offset(int k, int step, int& dx, int& dy) {
  dx = k == 1 ? step : (k == 2 ? -step : 0);
  dy = k == 3 ? step : (k == 4 ? -step : 0);
}

constexpr int kSelectCands = 5;

// Per-pixel selection costs |I1(q + u(q + o)) - I0(q)| (clamped sampling), one plane of `res` per candidate o.
struct SelectResidual {
  const float* img;  // this level's pyramid (T, h, w)
  const float* flow;
  float* res;  // kSelectCands planes
  int w, h, step;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t npx = size_t(w) * h;
    const float* next = img + size_t(b + 1) * npx;
    const float* fl = flow + size_t(b) * npx * 2;
    const size_t o = size_t(b) * npx + size_t(y) * w + x;
    const float prev = img[o];
    for (int k = 0; k < kSelectCands; ++k) {
      int dx, dy;
      select_offset(k, step, dx, dy);
      const size_t j = (size_t(clampi(y + dy, 0, h - 1)) * w + clampi(x + dx, 0, w - 1)) * 2;
      const float uo = fl[j], vo = fl[j + 1];
      res[k * plane + o] = fabsf(bilinear(next, w, h, float(x) + uo, float(y) + vo, 1, 0) - prev);
    }
  }
};

// Horizontal window sums of the kSelectCands cost planes.
struct RowSumCands {
  const float* src;
  float* dst;
  int w, h, r;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t row = size_t(b) * w * h + size_t(y) * w;
    for (int k = 0; k < kSelectCands; ++k) {
      const float* s = src + k * plane + row;
      float acc = 0.f;
      for (int i = -r; i <= r; ++i) {
        const int xx = x + i;
        acc = acc + ((xx >= 0 && xx < w) ? s[xx] : 0.f);
      }
      dst[k * plane + row + x] = acc;
    }
  }
};

// Vertical window sums of the costs, the first minimum over the candidates, and its flow copied src -> dst.
struct SelectColPick {
  const float* tmp;
  const float* src;
  float* dst;
  int w, h, r, step;
  size_t plane;
  VLA_HD void operator()(int x, int y, int b) const {
    const size_t npx = size_t(w) * h;
    const size_t base = size_t(b) * npx + x;
    float best = 0.f;
    int kb = 0;
    for (int k = 0; k < kSelectCands; ++k) {
      float cost = 0.f;
      for (int j = -r; j <= r; ++j) {
        const int yy = y + j;
        const bool in = yy >= 0 && yy < h;
        cost = cost + (in ? tmp[k * plane + base + size_t(in ? yy : 0) * w] : 0.f);
      }
      if (k == 0 || cost < best) {
        best = cost;
        kb = k;
      }
    }
    int dx, dy;
    select_offset(kb, step, dx, dy);
    const size_t j = (size_t(b) * npx + size_t(clampi(y + dy, 0, h - 1)) * w + clampi(x + dx, 0, w - 1)) * 2;
    const size_t o = (size_t(b) * npx + size_t(y) * w + x) * 2;
    dst[o] = src[j];
    dst[o + 1] = src[j + 1];
  }
};

// One colour of a red-black SOR sweep of the variational refinement, in place (a pixel of this colour reads only
// its own flow and its 4 neighbours, which have the other colour). Launched over ceil(w/2) x h: column xi of row
// y is pixel x = 2 xi + ((y + colour) & 1), i.e. (x + y) % 2 == colour.
struct RefineSor {
  const float* img;  // level-0 pyramid (T, h, w)
  const float *ix, *iy;
  float* flow;
  int w, h, colour;
  float ae, e2, omega;  // smooth * eps, eps^2
  VLA_HD void operator()(int xi, int y, int b) const {
    const int x = 2 * xi + ((y + colour) & 1);
    if (x >= w) return;
    const size_t npx = size_t(w) * h;
    const size_t i = size_t(b) * npx + size_t(y) * w + x;
    const float u = flow[2 * i], v = flow[2 * i + 1];
    const float wx = float(x) + u, wy = float(y) + v;
    const bool inside = wx >= 0.f && wx <= float(w - 1) && wy >= 0.f && wy <= float(h - 1);
    const float* next = img + size_t(b + 1) * npx;
    const float it = inside ? bilinear(next, w, h, wx, wy, 1, 0) - img[i] : 0.f;
    float acc_u = 0.f, acc_v = 0.f, ws = 0.f;
    for (int n = 0; n < 4; ++n) {
      const int xn = clampi(x + (n == 0 ? 1 : (n == 1 ? -1 : 0)), 0, w - 1);
      const int yn = clampi(y + (n == 2 ? 1 : (n == 3 ? -1 : 0)), 0, h - 1);
      const size_t j = size_t(b) * npx + size_t(yn) * w + xn;
      const float un = flow[2 * j], vn = flow[2 * j + 1];
      const float du = un - u, dv = vn - v;
      const float wt = ae / sqrtf(du * du + dv * dv + e2);
      acc_u = acc_u + wt * un;
      acc_v = acc_v + wt * vn;
      ws = ws + wt;
    }
    const float gx = ix[i], gy = iy[i];
    const float g = gx * u + gy * v - it;
    const float a = gx * gx + ws, c = gy * gy + ws, bxy = gx * gy;
    const float ru = gx * g + acc_u, rv = gy * g + acc_v;
    const float det = a * c - bxy * bxy;
    if (det > 0.f) {
      const float nu = (c * ru - bxy * rv) / det, nv = (a * rv - bxy * ru) / det;
      flow[2 * i] = u + omega * (nu - u);
      flow[2 * i + 1] = v + omega * (nv - v);
    }
  }
};

struct Layout {
  int levels;
  int w[kMaxLevels], h[kMaxLevels];
  float* img[kMaxLevels];  // (T, h_l, w_l)
  float *ix, *iy, *gxx, *gxy, *gyy, *flow_a, *flow_b, *cbuf, *tmp;  // level-0 sized, reused per level
  // (tmp: kSelectCands planes; gxx .. cbuf: one block of kSelectCands planes)
  size_t bytes;
};

size_t align_up(size_t v) { return (v + 255) & ~size_t(255); }

// Carves the workspace (base may be null to only measure). Returns false on bad sizes.
bool make_layout(int T, int H, int W, int levels, char* base, Layout& L) {
  if (T < 2 || H < 2 || W < 2 || levels < 1 || levels > kMaxLevels) return false;
  L.levels = levels;
  L.w[0] = W;
  L.h[0] = H;
  for (int l = 1; l < levels; ++l) {
    L.w[l] = (L.w[l - 1] + 1) / 2;
    L.h[l] = (L.h[l - 1] + 1) / 2;
    if (L.w[l] < 2 || L.h[l] < 2) return false;
  }
  const size_t P = size_t(T - 1), npx0 = size_t(W) * H;
  size_t off = 0;
  auto take = [&](size_t n_floats) {
    float* p = base ? reinterpret_cast<float*>(base + off) : nullptr;
    off += align_up(n_floats * sizeof(float));
    return p;
  };
  for (int l = 0; l < levels; ++l) L.img[l] = take(size_t(T) * L.w[l] * L.h[l]);
  L.ix = take(P * npx0);
  L.iy = take(P * npx0);
  // gxx, gxy, gyy, cbuf (2 planes) are one block of kSelectCands level-0 planes: after the LK iterations of a
  // level they are dead, and the selection uses the block for its kSelectCands planes of row sums
  L.gxx = take(P * npx0 * kSelectCands);
  L.gxy = L.gxx + P * npx0;
  L.gyy = L.gxy + P * npx0;
  L.cbuf = L.gyy + P * npx0;
  L.flow_a = take(P * npx0 * 2);
  L.flow_b = take(P * npx0 * 2);
  L.tmp = take(P * npx0 * kSelectCands);  // 3 planes for the G sums, kSelectCands for the selection costs
  L.bytes = off;
  return true;
}

#define VLA_TRY(call)        \
  do {                       \
    const int rc_ = (call);  \
    if (rc_ != 0) return rc_; \
  } while (0)

struct LKArgs {
  int levels, radius, iters, finest_iters;  // LK iterations per level, and at level 0
  float reg;
  int select_step, select_radius, refine_iters;
  float smooth, smooth_eps, omega;
};

template <class Exec>
int lk_run(const Exec& ex, const uint8_t* gray, int T, int H, int W, const LKArgs& a, float* flow_out, void* workspace,
           size_t workspace_bytes) {
  const int radius = a.radius, levels = a.levels;
  if (!gray || !flow_out || !workspace || radius < 1 || radius > kMaxRadius || a.iters < 0 || a.finest_iters < 0 ||
      a.select_step < 0 || a.select_radius < 0 || a.select_radius > kMaxRadius || a.refine_iters < 0)
    return kErrBadArgs;
  Layout L;
  if (!make_layout(T, H, W, levels, static_cast<char*>(workspace), L)) return kErrBadArgs;
  if (L.bytes > workspace_bytes) return kErrWorkspace;
  const int P = T - 1;
  const bool select = a.select_step > 0;
  VLA_TRY(ex.for_each_2d(ToFloat{gray, L.img[0], W, size_t(W) * H}, W, H, T));
  for (int l = 1; l < levels; ++l)
    VLA_TRY(ex.for_each_2d(PyrDown{L.img[l - 1], L.img[l], L.w[l - 1], L.h[l - 1], L.w[l], L.h[l]}, L.w[l], L.h[l], T));
  float* coarse = nullptr;  // the previous level's result: flow_a or flow_b
  for (int l = levels - 1; l >= 0; --l) {
    const int w = L.w[l], h = L.h[l];
    const size_t plane = size_t(P) * w * h;
    // the LK iterations run in `flow`; the selection copies into `res` (no selection: res = flow). The level's
    // result ends in flow_out at level 0; otherwise in flow_a / flow_b, whichever the upsampling has freed.
    float* free_buf = coarse == L.flow_a ? L.flow_b : L.flow_a;
    float* flow = (l == 0 && !select) ? flow_out : free_buf;
    float* res = l == 0 ? flow_out : (select ? (coarse ? coarse : L.flow_b) : flow);
    if (l == levels - 1) {
      VLA_TRY(ex.zero(flow, plane * 2 * sizeof(float)));
    } else {
      VLA_TRY(ex.for_each_2d(Upsample{coarse, flow, L.w[l + 1], L.h[l + 1], w, h}, w, h, P));
    }
    VLA_TRY(ex.for_each_2d(Gradients{L.img[l], L.ix, L.iy, w, h}, w, h, P));
    VLA_TRY(ex.for_each_2d(RowSumG{L.ix, L.iy, L.tmp, w, h, radius, plane}, w, h, P));
    VLA_TRY(ex.for_each_2d(ColSumG{L.tmp, L.gxx, L.gxy, L.gyy, w, h, radius, plane}, w, h, P));
    for (int it = 0; it < (l == 0 ? a.finest_iters : a.iters); ++it) {
      VLA_TRY(ex.for_each_2d(WarpTerms{L.img[l], L.ix, L.iy, flow, L.cbuf, w, h, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(RowSum2{L.cbuf, L.tmp, w, h, radius, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(ColSumSolve{L.tmp, L.gxx, L.gxy, L.gyy, flow, w, h, radius, plane, a.reg}, w, h, P));
    }
    if (select) {
      float* rows = L.gxx;  // the G / cbuf block, dead now
      VLA_TRY(ex.for_each_2d(SelectResidual{L.img[l], flow, L.tmp, w, h, a.select_step, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(RowSumCands{L.tmp, rows, w, h, a.select_radius, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(SelectColPick{rows, flow, res, w, h, a.select_radius, a.select_step, plane}, w, h, P));
    }
    if (l == 0 && a.refine_iters > 0) {
      const float ae = a.smooth * a.smooth_eps, e2 = a.smooth_eps * a.smooth_eps;
      for (int it = 0; it < a.refine_iters; ++it)
        for (int colour = 0; colour < 2; ++colour)
          VLA_TRY(ex.for_each_2d(RefineSor{L.img[0], L.ix, L.iy, res, w, h, colour, ae, e2, a.omega}, (w + 1) / 2, h,
                                 P));
    }
    coarse = res;
  }
  return 0;
}

}  // namespace
}  // namespace vla

// Bytes of scratch that vla_lk_flow needs for T frames of H x W with `levels` pyramid levels (0: bad sizes).
VLA_EXPORT size_t vla_lk_workspace_bytes(int T, int H, int W, int levels) {
  vla::Layout L;
  return vla::make_layout(T, H, W, levels, nullptr, L) ? L.bytes : 0;
}

// gray: (T, H, W) uint8 device; flow_out: (T-1, H, W, 2) float32 device, px, pair t = frame t -> frame t+1.
// Parameters: reference_lk.LKParams (reg = reg_per_px * window area).
VLA_EXPORT int vla_lk_flow(const uint8_t* gray, int T, int H, int W, int levels, int radius, int iters,
                           int finest_iters, float reg, int select_step, int select_radius, int refine_iters,
                           float smooth, float smooth_eps, float omega, float* flow_out, void* workspace,
                           size_t workspace_bytes, void* stream) {
  const vla::LKArgs a{levels,        radius,       iters,  finest_iters, reg,  select_step,
                      select_radius, refine_iters, smooth, smooth_eps,   omega};
  return vla::lk_run(vla::GpuExec{static_cast<cudaStream_t>(stream)}, gray, T, H, W, a, flow_out, workspace,
                     workspace_bytes);
}

// The same computation on the CPU (host pointers), for checking the kernel arithmetic without a GPU.
VLA_EXPORT int vla_lk_flow_host(const uint8_t* gray, int T, int H, int W, int levels, int radius, int iters,
                                int finest_iters, float reg, int select_step, int select_radius, int refine_iters,
                                float smooth, float smooth_eps, float omega, float* flow_out, void* workspace,
                                size_t workspace_bytes) {
  const vla::LKArgs a{levels,        radius,       iters,  finest_iters, reg,  select_step,
                      select_radius, refine_iters, smooth, smooth_eps,   omega};
  return vla::lk_run(vla::HostExec{}, gray, T, H, W, a, flow_out, workspace, workspace_bytes);
}
