"""Inter-frame motion on the grid: dense flow, per-track flow, camera motion, motion energy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.kernels import reference as ref
from vla_builder.kernels import select_impl
from vla_builder.pipeline import Stage
from vla_builder.types import Clip, Motion


@dataclass
class MotionStage(Stage):
    method: str = "dis"
    preset: str = "fast"
    max_side_px: int = 320
    impl: str = "auto"
    ignore_bottom_frac: float = 0.0

    name: ClassVar[str] = "motion"
    needs: ClassVar[tuple[str, ...]] = ("frames", "tracks")
    makes: ClassVar[tuple[str, ...]] = ("motion",)

    def setup(self) -> None:
        self._impl = select_impl(self.impl)

    def process(self, clip: Clip) -> Clip:
        assert clip.frames is not None and clip.tracks is not None
        impl = getattr(self, "_impl", None) or select_impl(self.impl)
        if impl == "cuda":
            from vla_builder.kernels.cuda import motion_for_clip

            motion = motion_for_clip(clip.frames.rgb, clip.tracks.boxes_xyxy, self.max_side_px,
                                     ignore_bottom_frac=self.ignore_bottom_frac)
        else:
            motion = self._reference(clip.frames.rgb, clip.tracks.boxes_xyxy)
        return clip.with_(motion=motion, provenance={**clip.provenance, "motion": motion.method})

    def _reference(self, rgb: np.ndarray, boxes: np.ndarray) -> Motion:
        t_count, k_count = rgb.shape[0], boxes.shape[1]
        affine = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (t_count, 1, 1))
        inliers = np.zeros(t_count)
        track_flow = np.full((t_count, k_count, 2), np.nan)
        energy = np.zeros(t_count)
        grays = [ref.to_gray(f, self.max_side_px) for f in rgb]
        for t in range(t_count - 1):
            flow = ref.dense_flow(grays[t], grays[t + 1], self.method, self.preset)
            track_flow[t] = ref.box_flow_norm(flow, boxes[t])
            mask = ref.background_mask(*flow.shape[:2], boxes[t])
            if self.ignore_bottom_frac > 0:
                mask[int(round(flow.shape[0] * (1 - self.ignore_bottom_frac))) :] = False
            affine[t], inliers[t] = ref.global_motion_norm(flow, mask)
            energy[t] = ref.motion_energy(grays[t], grays[t + 1])
        return Motion(affine, inliers, track_flow, energy, f"reference ({self.method} {self.preset}, "
                      f"{grays[0].shape[1]}x{grays[0].shape[0]})")
