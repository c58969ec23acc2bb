// Dense pyramidal Lucas-Kanade optical flow, batched over the consecutive pairs of T grey frames.
// Spec: vla_builder/kernels/reference_lk.py::lk_flow (same operations in the same order).
//
// Per level (coarse to fine), per pair p (prev = frame p, next = frame p + 1):
//   Ix, Iy    central differences of prev
//   G         box sums over the (2r+1)^2 window of [Ix^2, IxIy, Iy^2]
//   repeat `iters` times, with u the current flow of each pixel:
//     It      = next(x + u) - prev(x)            (bilinear; 0 where x + u leaves the image)
//     c       = grad * (grad . u - It)           per pixel
//     u      <- (G + reg I)^-1 (box_sum(c) + reg u)
// The last line is the Gauss-Newton step of the windowed LK equations, linearized around every pixel's own
// flow; it is a weighted average of the neighbours' corrected flows, hence stable with a fixed iteration count.
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

struct Layout {
  int levels;
  int w[kMaxLevels], h[kMaxLevels];
  float* img[kMaxLevels];  // (T, h_l, w_l)
  float *ix, *iy, *gxx, *gxy, *gyy, *flow_a, *flow_b, *cbuf, *tmp;  // level-0 sized, reused per level
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
  L.gxx = take(P * npx0);
  L.gxy = take(P * npx0);
  L.gyy = take(P * npx0);
  L.flow_a = take(P * npx0 * 2);
  L.flow_b = take(P * npx0 * 2);
  L.cbuf = take(P * npx0 * 2);
  L.tmp = take(P * npx0 * 3);
  L.bytes = off;
  return true;
}

#define VLA_TRY(call)        \
  do {                       \
    const int rc_ = (call);  \
    if (rc_ != 0) return rc_; \
  } while (0)

template <class Exec>
int lk_run(const Exec& ex, const uint8_t* gray, int T, int H, int W, int levels, int radius, int iters, float reg,
           float* flow_out, void* workspace, size_t workspace_bytes) {
  if (!gray || !flow_out || !workspace || radius < 1 || radius > kMaxRadius || iters < 0) return kErrBadArgs;
  Layout L;
  if (!make_layout(T, H, W, levels, static_cast<char*>(workspace), L)) return kErrBadArgs;
  if (L.bytes > workspace_bytes) return kErrWorkspace;
  const int P = T - 1;
  VLA_TRY(ex.for_each_2d(ToFloat{gray, L.img[0], W, size_t(W) * H}, W, H, T));
  for (int l = 1; l < levels; ++l)
    VLA_TRY(ex.for_each_2d(PyrDown{L.img[l - 1], L.img[l], L.w[l - 1], L.h[l - 1], L.w[l], L.h[l]}, L.w[l], L.h[l], T));
  for (int l = levels - 1; l >= 0; --l) {
    const int w = L.w[l], h = L.h[l];
    const size_t plane = size_t(P) * w * h;
    float* flow = l == 0 ? flow_out : (l % 2 ? L.flow_a : L.flow_b);
    if (l == levels - 1) {
      VLA_TRY(ex.zero(flow, plane * 2 * sizeof(float)));
    } else {
      const float* coarse = (l + 1) % 2 ? L.flow_a : L.flow_b;
      VLA_TRY(ex.for_each_2d(Upsample{coarse, flow, L.w[l + 1], L.h[l + 1], w, h}, w, h, P));
    }
    VLA_TRY(ex.for_each_2d(Gradients{L.img[l], L.ix, L.iy, w, h}, w, h, P));
    VLA_TRY(ex.for_each_2d(RowSumG{L.ix, L.iy, L.tmp, w, h, radius, plane}, w, h, P));
    VLA_TRY(ex.for_each_2d(ColSumG{L.tmp, L.gxx, L.gxy, L.gyy, w, h, radius, plane}, w, h, P));
    for (int it = 0; it < iters; ++it) {
      VLA_TRY(ex.for_each_2d(WarpTerms{L.img[l], L.ix, L.iy, flow, L.cbuf, w, h, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(RowSum2{L.cbuf, L.tmp, w, h, radius, plane}, w, h, P));
      VLA_TRY(ex.for_each_2d(ColSumSolve{L.tmp, L.gxx, L.gxy, L.gyy, flow, w, h, radius, plane, reg}, w, h, P));
    }
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
VLA_EXPORT int vla_lk_flow(const uint8_t* gray, int T, int H, int W, int levels, int radius, int iters, float reg,
                           float* flow_out, void* workspace, size_t workspace_bytes, void* stream) {
  return vla::lk_run(vla::GpuExec{static_cast<cudaStream_t>(stream)}, gray, T, H, W, levels, radius, iters, reg,
                     flow_out, workspace, workspace_bytes);
}

// The same computation on the CPU (host pointers), for checking the kernel arithmetic without a GPU.
VLA_EXPORT int vla_lk_flow_host(const uint8_t* gray, int T, int H, int W, int levels, int radius, int iters, float reg,
                                float* flow_out, void* workspace, size_t workspace_bytes) {
  return vla::lk_run(vla::HostExec{}, gray, T, H, W, levels, radius, iters, reg, flow_out, workspace,
                     workspace_bytes);
}
