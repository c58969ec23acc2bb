"""Motion kernels: `reference` (NumPy/OpenCV, the spec, always available) and `cuda` (our CUDA kernels).

`select_impl("auto")` takes CUDA when a GPU and the compiled kernels are present, else the reference;
`select_impl("cuda")` without CUDA is a clear error, never a silent fallback.
"""

from __future__ import annotations


class KernelUnavailable(RuntimeError):
    pass


def cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def select_impl(impl: str = "auto") -> str:
    if impl == "reference":
        return "reference"
    if impl == "cuda":
        if not cuda_available():
            raise KernelUnavailable("impl 'cuda' was asked for, but no CUDA device is available (torch.cuda)")
        return "cuda"
    if impl == "auto":
        if cuda_available():
            try:
                from vla_builder.kernels.cuda import get_library

                get_library()  # built (nvcc) or found pre-built: else the reference runs
                return "cuda"
            except Exception:
                return "reference"
        return "reference"
    raise ValueError(f"unknown kernel impl {impl!r}; have auto, reference, cuda")
