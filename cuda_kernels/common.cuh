// Shared helpers for the vla_builder motion kernels.
//
// Why an "executor" abstraction: every kernel body is a __host__ __device__ functor called once per element.
// GpuExec launches it on a CUDA stream; HostExec runs the same functor in plain loops on the CPU. The host
// variants (exported as vla_*_host) let CPU-only CI check the kernels' arithmetic against the NumPy spec in
// vla_builder/kernels/reference_lk.py, and a GPU run then only has to confirm the launches.
//
// Numerics: the library is built with --fmad=false (and -ffp-contract=off for the host side) so that
// a*b + c is two roundings, exactly as NumPy computes it; per-pixel results then match the spec bit for bit.
#pragma once

#include <cuda_runtime.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#define VLA_HD __host__ __device__ inline
#define VLA_EXPORT extern "C" __attribute__((visibility("default")))

namespace vla {

// Error codes returned by the C ABI: 0 ok, > 0 a cudaError_t, < 0 one of these.
enum : int { kErrBadArgs = -1, kErrWorkspace = -2 };

VLA_HD int clampi(int v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : v); }

VLA_HD float nan_f() {
#ifdef __CUDA_ARCH__
  return __int_as_float(0x7fc00000);
#else
  return NAN;
#endif
}

VLA_HD uint32_t float_bits(float f) {
#ifdef __CUDA_ARCH__
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}

VLA_HD float bits_float(uint32_t u) {
#ifdef __CUDA_ARCH__
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

// Order-preserving map float -> uint32 (negative floats reversed), so a radix select on keys selects floats.
VLA_HD uint32_t float_key(float f) {
  uint32_t u = float_bits(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
VLA_HD float key_float(uint32_t k) { return bits_float((k & 0x80000000u) ? (k & 0x7fffffffu) : ~k); }

// One radix-select step: given the 256-bin histogram of the current digit, find the bin that holds the
// k-th smallest (0-based) of the remaining candidates, and narrow prefix/mask to it.
VLA_HD void radix_pick(const unsigned* hist, unsigned& k_rem, uint32_t& prefix, uint32_t& mask, int shift) {
  unsigned below = 0;
  int bin = 255;
  for (int b = 0; b < 256; ++b) {
    if (below + hist[b] > k_rem) {
      bin = b;
      break;
    }
    below += hist[b];
  }
  k_rem -= below;
  prefix |= uint32_t(bin) << shift;
  mask |= 0xffu << shift;
}

// k-th smallest of the values a source yields, exact, serial (the host twin of block_select_kth).
// Src: `int size() const` and `bool get(int i, float& v) const` (false: element i does not take part).
template <class Src>
float host_select_kth(const Src& src, unsigned k) {
  unsigned hist[256];
  uint32_t prefix = 0, mask = 0;
  unsigned k_rem = k;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = 0; b < 256; ++b) hist[b] = 0;
    const int n = src.size();
    for (int i = 0; i < n; ++i) {
      float v;
      if (!src.get(i, v)) continue;
      uint32_t key = float_key(v);
      if ((key & mask) == prefix) hist[(key >> shift) & 0xffu] += 1;
    }
    radix_pick(hist, k_rem, prefix, mask, shift);
  }
  return key_float(prefix);
}

#ifdef __CUDACC__
// k-th smallest over the whole block: 4 passes of an 8-bit histogram in shared memory. Every thread of the
// block must call it; it returns the same value in every thread. hist: 256 unsigned of shared memory,
// state: 3 unsigned of shared memory.
template <class Src>
__device__ float block_select_kth(const Src& src, unsigned k, unsigned* hist, unsigned* state) {
  uint32_t prefix = 0, mask = 0;
  unsigned k_rem = k;
  const int n = src.size();
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) hist[b] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      float v;
      if (!src.get(i, v)) continue;
      uint32_t key = float_key(v);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & 0xffu], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      radix_pick(hist, k_rem, prefix, mask, shift);
      state[0] = prefix;
      state[1] = mask;
      state[2] = k_rem;
    }
    __syncthreads();
    prefix = state[0];
    mask = state[1];
    k_rem = state[2];
    __syncthreads();  // state and hist are rewritten by the next pass
  }
  return key_float(prefix);
}

// Sum of a value over the block (all threads get the result). scratch: blockDim.x / 32 elements of shared.
template <class T>
__device__ T block_sum(T v, T* scratch) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, n_warps = (blockDim.x + 31) >> 5;
  __syncthreads();
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  T total = T(0);
  for (int w = 0; w < n_warps; ++w) total += scratch[w];  // same order in every thread: same result
  __syncthreads();
  return total;
}

template <class F>
__global__ void kernel_2d(F f, int w, int h, int b0) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) f(x, y, b0 + int(blockIdx.z));
}
#endif

struct GpuExec {
  cudaStream_t stream;
  template <class F>
  int for_each_2d(const F& f, int w, int h, int n) const {
#ifdef __CUDACC__
    if (w <= 0 || h <= 0 || n <= 0) return 0;
    const dim3 block(32, 8);
    for (int b0 = 0; b0 < n; b0 += 65535) {  // gridDim.z limit
      const int nb = n - b0 < 65535 ? n - b0 : 65535;
      const dim3 grid((w + 31) / 32, (h + 7) / 8, nb);
      kernel_2d<<<grid, block, 0, stream>>>(f, w, h, b0);
    }
    return int(cudaGetLastError());
#else
    return kErrBadArgs;
#endif
  }
  int zero(void* p, size_t bytes) const { return int(cudaMemsetAsync(p, 0, bytes, stream)); }
};

struct HostExec {
  template <class F>
  int for_each_2d(const F& f, int w, int h, int n) const {
    for (int b = 0; b < n; ++b)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x) f(x, y, b);
    return 0;
  }
  int zero(void* p, size_t bytes) const {
    std::memset(p, 0, bytes);
    return 0;
  }
};

}  // namespace vla
