// Per-box flow: the median of u and of v inside each track's box interior, for all tracks of all pairs in one
// launch (one block per pair x track x component). Spec: reference_lk.py::box_median_flow_px, which equals
// reference.py::box_flow_norm before its division by (w, h).
//
// Statistic: the exact median (mean of the two middle values for an even count), found by a 4-pass radix select
// over the float bits (no sort, no extra memory; each pass is one read of the box). The interior rects
// ([x0, x1) x [y0, y1), the box shrunk by 20 % per side) come from the host, computed by the same Python as the
// spec, so both look at the same pixels; x0 < 0 marks an absent box (result NaN).
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

struct BoxValues {
  const float* flow;  // (H, W, 2) of one pair
  int W, x0, y0, bw, n, comp;
  VLA_HD int size() const { return n; }
  VLA_HD bool get(int i, float& v) const {
    const int y = y0 + i / bw, x = x0 + i % bw;
    v = flow[(size_t(y) * W + x) * 2 + comp];
    return true;
  }
};

VLA_HD bool box_values(const float* flow, int P_index, int H, int W, const int* rect, int comp, BoxValues& out) {
  const int x0 = rect[0], y0 = rect[1], x1 = rect[2], y1 = rect[3];
  if (x0 < 0 || x1 <= x0 || y1 <= y0 || x1 > W || y1 > H || y0 < 0) return false;
  out = BoxValues{flow + size_t(P_index) * H * W * 2, W, x0, y0, x1 - x0, (x1 - x0) * (y1 - y0), comp};
  return true;
}

__global__ void __launch_bounds__(kThreads) box_median_kernel(const float* flow, int H, int W, const int* rects, int K,
                                                              float* out) {
  __shared__ unsigned hist[256];
  __shared__ unsigned state[3];
  const int k = blockIdx.x, p = blockIdx.y, comp = blockIdx.z;
  const size_t o = (size_t(p) * K + k) * 2 + comp;
  BoxValues src;
  if (!box_values(flow, p, H, W, rects + (size_t(p) * K + k) * 4, comp, src)) {
    if (threadIdx.x == 0) out[o] = vla::nan_f();
    return;  // uniform over the block: no thread reaches a barrier
  }
  float m;
  if (src.n % 2) {
    m = vla::block_select_kth(src, unsigned(src.n - 1) / 2, hist, state);
  } else {
    const float lo = vla::block_select_kth(src, unsigned(src.n) / 2 - 1, hist, state);
    const float hi = vla::block_select_kth(src, unsigned(src.n) / 2, hist, state);
    m = (lo + hi) * 0.5f;
  }
  if (threadIdx.x == 0) out[o] = m;
}

}  // namespace

// flow: (P, H, W, 2) float32 device; rects: (P, K, 4) int32 device; out: (P, K, 2) float32 device, px.
VLA_EXPORT int vla_box_median_flow(const float* flow, int P, int H, int W, const int* rects, int K, float* out,
                                   void* stream) {
  if (P < 0 || K < 0 || H < 1 || W < 1) return vla::kErrBadArgs;
  if (P == 0 || K == 0) return 0;
  if (!flow || !rects || !out) return vla::kErrBadArgs;
  for (int p0 = 0; p0 < P; p0 += 65535) {  // gridDim.y limit (K tracks on x: up to 2^31 - 1)
    const int n = P - p0 < 65535 ? P - p0 : 65535;
    const dim3 grid{unsigned(K), unsigned(n), 2u};
    box_median_kernel<<<grid, kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        flow + size_t(p0) * H * W * 2, H, W, rects + size_t(p0) * K * 4, K, out + size_t(p0) * K * 2);
  }
  return int(cudaGetLastError());
}

VLA_EXPORT int vla_box_median_flow_host(const float* flow, int P, int H, int W, const int* rects, int K, float* out) {
  if (P < 0 || K < 0 || H < 1 || W < 1) return vla::kErrBadArgs;
  for (int p = 0; p < P; ++p)
    for (int k = 0; k < K; ++k)
      for (int comp = 0; comp < 2; ++comp) {
        const size_t o = (size_t(p) * K + k) * 2 + comp;
        BoxValues src;
        if (!box_values(flow, p, H, W, rects + (size_t(p) * K + k) * 4, comp, src)) {
          out[o] = vla::nan_f();
          continue;
        }
        if (src.n % 2) {
          out[o] = vla::host_select_kth(src, unsigned(src.n - 1) / 2);
        } else {
          const float lo = vla::host_select_kth(src, unsigned(src.n) / 2 - 1);
          const float hi = vla::host_select_kth(src, unsigned(src.n) / 2);
          out[o] = (lo + hi) * 0.5f;
        }
      }
  return 0;
}
