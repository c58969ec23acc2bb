"""Decode the labeled span of a source onto the clip's time grid, at working resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.pipeline import Stage
from vla_builder.sources.grid import sample_to_grid
from vla_builder.sources.video import DecodeError, choose_decoder, image_frames
from vla_builder.types import Clip, Frames


def fit_size(size_px: tuple[int, int], box_hw: tuple[int, int]) -> tuple[int, int]:
    """(w, h) of a frame of `size_px` (w, h) scaled to fit inside `box_hw` (h, w), aspect kept, even sizes."""
    w, h = size_px
    bh, bw = box_hw
    s = min(bw / w, bh / h)
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


@dataclass
class DecodeStage(Stage):
    fps: int
    image_size: tuple[int, int] = (480, 640)  # (h, w) the frames must fit in
    backend: str = "auto"

    name: ClassVar[str] = "decode"
    needs: ClassVar[tuple[str, ...]] = ("info", "labels")
    makes: ClassVar[tuple[str, ...]] = ("frames",)

    def process(self, clip: Clip) -> Clip:
        import cv2

        info = clip.info
        assert info is not None and clip.labels is not None
        span = clip.labels.span()
        if info.codec == "images":
            stream, how = image_frames(info), "images (opencv imread)"
        else:
            decoder, how = choose_decoder(info, self.backend)
            stream = decoder.frames(info)
        work_w, work_h = fit_size((info.width_px, info.height_px), self.image_size)

        def to_work(rgb: np.ndarray) -> np.ndarray:
            if rgb.shape[1] != info.width_px or rgb.shape[0] != info.height_px:
                raise DecodeError(info.path, f"decoded frame is {rgb.shape[1]}x{rgb.shape[0]}, probe said "
                                  f"{info.width_px}x{info.height_px} (orientation mismatch)")
            if (rgb.shape[1], rgb.shape[0]) == (work_w, work_h):
                return rgb
            return cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA)

        rgb, index, times, start_s = sample_to_grid(stream, self.fps, span, to_work, str(info.path))
        frames = Frames(rgb=rgb, fps=self.fps, source_index=index, source_time_s=times, start_s=start_s,
                        backend=how, source_size_px=(info.width_px, info.height_px))
        prov = {
            **clip.provenance,
            "decoder": how,
            "source_frames": [int(index[0]), int(index[-1])],
            "source_time_s": [round(float(times[0]), 6), round(float(times[-1]), 6)],
            "source_fps": info.fps,
        }
        if span is not None and index[-1] < span[1]:
            n_past = int((clip.labels.frame > index[-1]).sum())
            prov.setdefault("label_rows_dropped", {})["label row past the video's end"] = n_past
        return clip.with_(frames=frames, provenance=prov)
