"""One per-step motion driver over backend operations.

Every motion backend — OpenCV's DIS / Farneback (`stages.motion.OpenCVMotion`), the `lk` method's NumPy spec
(`reference_lk.ReferenceLKMotion`) and its kernels on the CPU or the GPU (`cuda.KernelMotion`) — is a set of
operations on grey frames; `run_motion` owns the clip's arrays and the loop over frame steps, so the output's shape
and conventions (entry t describes t -> t+1, the last entry identity / NaN / 0) are written once.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from vla_builder.types import Motion


class MotionOps(Protocol):
    def grays(self, rgb) -> tuple[Any, int, int]:
        """(grey frames (T, h, w) at the method's working size, h, w)."""

    def energy(self, grays, t_count: int) -> np.ndarray:
        """(T-1,) mean absolute difference of each consecutive pair, in [0, 1]."""

    def block_frames(self, t_count: int, h: int, w: int) -> int:
        """Frames handled per call of `steps` (at least 2; consecutive blocks share one frame)."""

    def steps(self, grays, boxes_xyxy: np.ndarray, start: int, end: int, h: int,
              w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For the steps start -> start+1 ... end-2 -> end-1: per-track flow (n, K, 2) and camera motion (n, 2, 3),
        both normalized, and the camera fit's inlier ratio (n,)."""

    def describe(self, h: int, w: int) -> str:
        """The algorithm and its settings (`Motion.method`)."""


class PairwiseOps:
    """Operations computed one frame pair at a time (the CPU backends): a subclass gives `pair`."""

    def block_frames(self, t_count: int, h: int, w: int) -> int:
        return 2

    def pair(self, prev_gray, next_gray, boxes_xyxy: np.ndarray, h: int,
             w: int) -> tuple[np.ndarray, np.ndarray, float]:
        """One step: per-track flow (K, 2), camera motion (2, 3), both normalized, and the fit's inlier ratio."""
        raise NotImplementedError

    def steps(self, grays, boxes_xyxy: np.ndarray, start: int, end: int, h: int, w: int):
        n = end - 1 - start
        track_flow, affine, inliers = np.full((n, boxes_xyxy.shape[1], 2), np.nan), np.zeros((n, 2, 3)), np.zeros(n)
        for i, t in enumerate(range(start, end - 1)):
            track_flow[i], affine[i], inliers[i] = self.pair(grays[t], grays[t + 1], boxes_xyxy[t], h, w)
        return track_flow, affine, inliers


def run_motion(ops: MotionOps, rgb, boxes_xyxy: np.ndarray) -> Motion:
    """The clip's motion: rgb (T, H, W, 3) uint8 (or a streamed frame sequence), boxes_xyxy (T, K, 4) normalized,
    NaN where absent."""
    t_count, k_count = rgb.shape[0], boxes_xyxy.shape[1]
    affine = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (t_count, 1, 1))
    inliers = np.zeros(t_count)
    track_flow = np.full((t_count, k_count, 2), np.nan)
    energy = np.zeros(t_count)
    grays, h, w = ops.grays(rgb)
    if t_count > 1:
        energy[:-1] = ops.energy(grays, t_count)
        block = ops.block_frames(t_count, h, w)
        start = 0
        while start < t_count - 1:
            end = min(t_count, start + block)
            pairs = slice(start, end - 1)
            track_flow[pairs], affine[pairs], inliers[pairs] = ops.steps(grays, boxes_xyxy, start, end, h, w)
            start = end - 1
    return Motion(affine, inliers, track_flow, energy, ops.describe(h, w))
