// Library-level entry points: ABI version (checked by vla_builder/kernels/cuda.py when loading) and error text.
#include "common.cuh"

// Bump when any exported signature changes; the loader refuses a library with another version.
VLA_EXPORT int vla_abi_version() { return 2; }

VLA_EXPORT const char* vla_error_string(int code) {
  if (code == 0) return "ok";
  if (code == vla::kErrBadArgs) return "bad arguments (sizes, pointers or parameters out of range)";
  if (code == vla::kErrWorkspace) return "workspace too small";
  return cudaGetErrorString(static_cast<cudaError_t>(code));
}
