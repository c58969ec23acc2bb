// Motion energy: sum |next - prev| over all pixels of each consecutive pair of T grey uint8 frames.
// Spec: vla_builder/kernels/reference_lk.py::motion_energy_sums. The sums are integers (exact, so GPU and spec
// agree to the last bit); the caller divides by H * W * 255 for the mean in [0, 1].
//
// Memory-bound: 16 bytes per load (uint4) and __vsadu4 (sum of 4 byte-wise absolute differences per
// instruction); one 64-bit atomic per block.
#include "common.cuh"

namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) energy_kernel(const uint8_t* gray, long long npx, int vec16,
                                                          unsigned long long* sums) {
  __shared__ unsigned long long scratch[kThreads / 32];
  const int p = blockIdx.y;
  const uint8_t* a = gray + size_t(p) * size_t(npx);
  const uint8_t* b = a + npx;
  unsigned long long acc = 0;
  const long long stride = (long long)gridDim.x * blockDim.x;
  if (vec16) {
    const uint4* a4 = reinterpret_cast<const uint4*>(a);
    const uint4* b4 = reinterpret_cast<const uint4*>(b);
    const long long n4 = npx / 16;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += stride) {
      const uint4 x = __ldg(a4 + i), y = __ldg(b4 + i);
      acc += __vsadu4(x.x, y.x) + __vsadu4(x.y, y.y) + __vsadu4(x.z, y.z) + __vsadu4(x.w, y.w);
    }
  } else {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < npx; i += stride) {
      const int d = int(a[i]) - int(b[i]);
      acc += unsigned(d < 0 ? -d : d);
    }
  }
  const unsigned long long total = vla::block_sum(acc, scratch);
  if (threadIdx.x == 0 && total) atomicAdd(sums + p, total);
}

}  // namespace

// gray: (T, H*W) uint8 device; sums: (T-1,) uint64 device (overwritten).
VLA_EXPORT int vla_motion_energy(const uint8_t* gray, int T, long long npx, unsigned long long* sums, void* stream) {
  if (!gray || !sums || T < 2 || npx <= 0) return vla::kErrBadArgs;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  cudaError_t rc = cudaMemsetAsync(sums, 0, size_t(T - 1) * sizeof(unsigned long long), s);
  if (rc != cudaSuccess) return int(rc);
  // whole frames of 16-byte words: every frame starts 16-byte aligned when the first does
  const int vec16 = (npx % 16 == 0) && (reinterpret_cast<uintptr_t>(gray) % 16 == 0);
  const long long items = vec16 ? npx / 16 : npx;
  long long blocks = (items + kThreads - 1) / kThreads;
  if (blocks > 256) blocks = 256;  // grid-stride beyond that: enough blocks in flight with T-1 rows of them
  for (int p0 = 0; p0 < T - 1; p0 += 65535) {  // gridDim.y limit
    const int n = T - 1 - p0 < 65535 ? T - 1 - p0 : 65535;
    const dim3 grid{unsigned(blocks), unsigned(n), 1u};
    energy_kernel<<<grid, kThreads, 0, s>>>(gray + size_t(p0) * size_t(npx), npx, vec16, sums + p0);
  }
  return int(cudaGetLastError());
}

VLA_EXPORT int vla_motion_energy_host(const uint8_t* gray, int T, long long npx, unsigned long long* sums) {
  if (!gray || !sums || T < 2 || npx <= 0) return vla::kErrBadArgs;
  for (int p = 0; p + 1 < T; ++p) {
    const uint8_t* a = gray + size_t(p) * size_t(npx);
    const uint8_t* b = a + npx;
    unsigned long long acc = 0;
    for (long long i = 0; i < npx; ++i) acc += unsigned(a[i] > b[i] ? a[i] - b[i] : b[i] - a[i]);
    sums[p] = acc;
  }
  return 0;
}
