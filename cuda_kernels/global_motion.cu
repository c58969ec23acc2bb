// Camera motion: a robust similarity (scale, rotation, translation) fit to the background flow of each pair,
// one block per pair. Spec: reference_lk.py::global_similarity_irls_px.
//
// Samples: the grid (step/2 + i*step, step/2 + j*step), minus the K rects (grown track boxes, computed on the
// host like reference.background_mask). Start: identity + lower median of u and v (radix select). Then
// `huber_iters` Huber-weighted and `tukey_iters` Tukey-weighted least-squares solves of the closed-form
// similarity from 8 weighted sums (float64, coordinates centred on (W/2, H/2)). Only the order of those sums
// differs from the spec (a tree here, NumPy's pairwise there), so results agree to ~1e-9 relative.
//
// out: per pair 8 doubles [a00 a01 a02 a10 a11 a12 inlier_ratio n_samples], the affine in px (x' = A [x y 1]).
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

struct Fit {
  int step, huber_iters, tukey_iters, min_samples;
  double huber_px, tukey_px, inlier_px;
};

struct Samples {
  const float* flow;  // (H, W, 2) of one pair
  const int* rects;   // (K, 4) of one pair
  int H, W, K, step, nx, ny;
  VLA_HD int size() const { return nx * ny; }
  VLA_HD bool pos(int i, int& x, int& y) const {
    x = step / 2 + (i % nx) * step;
    y = step / 2 + (i / nx) * step;
    for (int k = 0; k < K; ++k) {
      const int* r = rects + 4 * k;
      if (x >= r[0] && x < r[2] && y >= r[1] && y < r[3]) return false;
    }
    return true;
  }
};

struct SampleComp {  // the radix-select source: one flow component at the used samples
  Samples s;
  int comp;
  VLA_HD int size() const { return s.size(); }
  VLA_HD bool get(int i, float& v) const {
    int x, y;
    if (!s.pos(i, x, y)) return false;
    v = s.flow[(size_t(y) * s.W + x) * 2 + comp];
    return true;
  }
};

VLA_HD Samples make_samples(const float* flow, const int* rects, int p, int H, int W, int K, int step) {
  const int off = step / 2;
  const int nx = W > off ? (W - off + step - 1) / step : 0;
  const int ny = H > off ? (H - off + step - 1) / step : 0;
  return Samples{flow + size_t(p) * H * W * 2, rects + size_t(p) * K * 4, H, W, K, step, nx, ny};
}

// residual (px) of sample i under params q = (a, b, tx, ty), centred coordinates; false if the sample is unused
VLA_HD bool residual(const Samples& s, int i, const double* q, double cx, double cy, double& x, double& y, double& X,
                     double& Y, double& r) {
  int px, py;
  if (!s.pos(i, px, py)) return false;
  const float* f = s.flow + (size_t(py) * s.W + px) * 2;
  x = double(px) - cx;
  y = double(py) - cy;
  X = x + double(f[0]);
  Y = y + double(f[1]);
  const double dx = q[0] * x - q[1] * y + q[2] - X;
  const double dy = q[1] * x + q[0] * y + q[3] - Y;
  r = sqrt(dx * dx + dy * dy);
  return true;
}

VLA_HD double irls_weight(double r, int iteration, const Fit& fit) {
  if (iteration < fit.huber_iters) return r <= fit.huber_px ? 1.0 : fit.huber_px / r;
  if (!(r < fit.tukey_px)) return 0.0;
  const double q = r / fit.tukey_px;
  const double t = 1.0 - q * q;
  return t * t;
}

VLA_HD void accumulate(double* acc, double wt, double x, double y, double X, double Y) {
  acc[0] += wt;
  acc[1] += wt * x;
  acc[2] += wt * y;
  acc[3] += wt * (x * x + y * y);
  acc[4] += wt * X;
  acc[5] += wt * Y;
  acc[6] += wt * (x * X + y * Y);
  acc[7] += wt * (x * Y - y * X);
}

// Closed-form weighted similarity (reference_lk.similarity_from_sums); keeps q when all weights are 0.
VLA_HD void solve(const double* s, double* q) {
  const double sw = s[0];
  if (!(sw > 0.0)) return;
  const double mx = s[1] / sw, my = s[2] / sw, mX = s[4] / sw, mY = s[5] / sw;
  const double den = s[3] - sw * (mx * mx + my * my);
  double a = 1.0, b = 0.0;
  if (den > 1e-9 * sw) {
    a = (s[6] - sw * (mx * mX + my * mY)) / den;
    b = (s[7] - sw * (mx * mY - my * mX)) / den;
  }
  q[0] = a;
  q[1] = b;
  q[2] = mX - (a * mx - b * my);
  q[3] = mY - (b * mx + a * my);
}

VLA_HD void write_out(double* out, const double* q, double cx, double cy, double inliers, int n) {
  const double a = q[0], b = q[1];
  out[0] = a;
  out[1] = -b;
  out[2] = q[2] + cx - a * cx + b * cy;
  out[3] = b;
  out[4] = a;
  out[5] = q[3] + cy - b * cx - a * cy;
  out[6] = inliers;
  out[7] = double(n);
}

VLA_HD void write_identity(double* out, int n) {
  const double q[4] = {1.0, 0.0, 0.0, 0.0};
  write_out(out, q, 0.0, 0.0, 0.0, n);
}

__global__ void __launch_bounds__(kThreads) irls_kernel(const float* flow, int H, int W, const int* rects, int K,
                                                        Fit fit, double* out) {
  __shared__ unsigned hist[256];
  __shared__ unsigned state[3];
  __shared__ double dscratch[kThreads / 32];
  __shared__ int iscratch[kThreads / 32];
  const int p = blockIdx.x;
  const Samples s = make_samples(flow, rects, p, H, W, K, fit.step);
  const int ns = s.size();
  int used = 0;
  for (int i = threadIdx.x; i < ns; i += blockDim.x) {
    int x, y;
    used += s.pos(i, x, y) ? 1 : 0;
  }
  const int n = vla::block_sum(used, iscratch);
  double* o = out + size_t(p) * 8;
  if (n < fit.min_samples) {
    if (threadIdx.x == 0) write_identity(o, n);
    return;  // uniform over the block
  }
  const unsigned k = unsigned(n - 1) / 2;  // lower median
  const float med_u = vla::block_select_kth(SampleComp{s, 0}, k, hist, state);
  const float med_v = vla::block_select_kth(SampleComp{s, 1}, k, hist, state);
  const double cx = 0.5 * W, cy = 0.5 * H;
  double q[4] = {1.0, 0.0, double(med_u), double(med_v)};  // identical in every thread
  for (int iteration = 0; iteration < fit.huber_iters + fit.tukey_iters; ++iteration) {
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int i = threadIdx.x; i < ns; i += blockDim.x) {
      double x, y, X, Y, r;
      if (!residual(s, i, q, cx, cy, x, y, X, Y, r)) continue;
      accumulate(acc, irls_weight(r, iteration, fit), x, y, X, Y);
    }
    double sums[8];
    for (int j = 0; j < 8; ++j) sums[j] = vla::block_sum(acc[j], dscratch);
    solve(sums, q);  // every thread holds the same sums, so the same q
  }
  int inl = 0;
  for (int i = threadIdx.x; i < ns; i += blockDim.x) {
    double x, y, X, Y, r;
    if (residual(s, i, q, cx, cy, x, y, X, Y, r) && r < fit.inlier_px) ++inl;
  }
  const int n_in = vla::block_sum(inl, iscratch);
  if (threadIdx.x == 0) write_out(o, q, cx, cy, double(n_in) / double(n), n);
}

bool fit_ok(int P, int H, int W, int K, const Fit& f) {
  return P >= 0 && H >= 1 && W >= 1 && K >= 0 && f.step >= 1 && f.huber_iters >= 0 && f.tukey_iters >= 0 &&
         f.huber_px > 0 && f.tukey_px > 0;
}

}  // namespace

// flow: (P, H, W, 2) float32 device; rects: (P, K, 4) int32 device (background exclusion; -1s where absent);
// out: (P, 8) float64 device.
VLA_EXPORT int vla_global_similarity(const float* flow, int P, int H, int W, const int* rects, int K, int step_px,
                                     int huber_iters, int tukey_iters, double huber_px, double tukey_px,
                                     double inlier_px, int min_samples, double* out, void* stream) {
  const Fit fit{step_px, huber_iters, tukey_iters, min_samples, huber_px, tukey_px, inlier_px};
  if (!fit_ok(P, H, W, K, fit) || P > 2147483647) return vla::kErrBadArgs;
  if (P == 0) return 0;
  if (!flow || !out || (K > 0 && !rects)) return vla::kErrBadArgs;
  irls_kernel<<<unsigned(P), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(flow, H, W, rects, K, fit, out);
  return int(cudaGetLastError());
}

VLA_EXPORT int vla_global_similarity_host(const float* flow, int P, int H, int W, const int* rects, int K,
                                          int step_px, int huber_iters, int tukey_iters, double huber_px,
                                          double tukey_px, double inlier_px, int min_samples, double* out) {
  const Fit fit{step_px, huber_iters, tukey_iters, min_samples, huber_px, tukey_px, inlier_px};
  if (!fit_ok(P, H, W, K, fit)) return vla::kErrBadArgs;
  for (int p = 0; p < P; ++p) {
    const Samples s = make_samples(flow, rects, p, H, W, K, fit.step);
    const int ns = s.size();
    int n = 0;
    for (int i = 0; i < ns; ++i) {
      int x, y;
      n += s.pos(i, x, y) ? 1 : 0;
    }
    double* o = out + size_t(p) * 8;
    if (n < fit.min_samples) {
      write_identity(o, n);
      continue;
    }
    const unsigned k = unsigned(n - 1) / 2;
    const float med_u = vla::host_select_kth(SampleComp{s, 0}, k);
    const float med_v = vla::host_select_kth(SampleComp{s, 1}, k);
    const double cx = 0.5 * W, cy = 0.5 * H;
    double q[4] = {1.0, 0.0, double(med_u), double(med_v)};
    for (int iteration = 0; iteration < fit.huber_iters + fit.tukey_iters; ++iteration) {
      double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      for (int i = 0; i < ns; ++i) {
        double x, y, X, Y, r;
        if (!residual(s, i, q, cx, cy, x, y, X, Y, r)) continue;
        accumulate(acc, irls_weight(r, iteration, fit), x, y, X, Y);
      }
      solve(acc, q);
    }
    int n_in = 0;
    for (int i = 0; i < ns; ++i) {
      double x, y, X, Y, r;
      if (residual(s, i, q, cx, cy, x, y, X, Y, r) && r < fit.inlier_px) ++n_in;
    }
    write_out(o, q, cx, cy, double(n_in) / double(n), n);
  }
  return 0;
}
