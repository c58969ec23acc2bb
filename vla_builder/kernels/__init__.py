"""Motion algorithms and their backends.

- `reference.py`: OpenCV-based helpers of the `dis` / `farneback` motion methods (flow, box median, RANSAC
  similarity) — CPU only. They are not a spec of the kernels.
- `reference_lk.py`: the `lk` method in NumPy — our pyramidal LK flow, box median and IRLS similarity, written
  step for step like the kernels, so it is their spec (and the CPU backend where no kernel library can be built).
- `cuda.py` + `cuda_kernels/*.cu`: the `lk` method as CUDA kernels, each with a `_host` twin (the same per-element
  code compiled for the CPU: the fast CPU backend of `lk`).

Which backend runs a method is decided in one place, `stages.motion.resolve_backend` (`impl: cuda` without CUDA is a
clear error, never a silent fallback).
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
