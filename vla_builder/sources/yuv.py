"""Decoded frames kept in yuv420p: scaled by swscale and letterboxed in yuv, handed to the encoder unconverted.

The decode pass (stages/decode.py) uses them where a source is plain yuv420p (`can_pass_yuv`); everything else takes
the RGB route of sources/video.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_builder.boxes import letterbox_offset_px
from vla_builder.types import VideoInfo

# BT.601 limited range, what swscale (PyAV's and OpenCV's conversions) uses by default for yuv420p -> RGB
_Y_GAIN, _RV, _GU, _GV, _BU = 255 / 219, 1.596, -0.392, -0.813, 2.017


@dataclass(frozen=True)
class Yuv420Frame:
    """A decoded frame kept as PyAV gave it (yuv420p planes stacked: Y (h, w) over U and V, (h * 3 / 2, w)).

    The decode pass hands it to the encoder unconverted when the episode video is written at the source's size:
    decoding to RGB and converting back to yuv420p cost ~1.5 s of CPU per 150 frames at 1080p, for the same
    pixels (up to the round trip's rounding). At another size it is scaled by swscale in yuv420p and letterboxed in
    yuv (`letterboxed`), as a plain transcode would: the RGB route (convert, `cv2.resize`, rgb24 through the pipe,
    back to yuv420p in the encoder) cost 3.7 CPU-s more per 300 frames 1080p -> 480x640. Motion's grey frames and
    lerobot's image stats are taken from the planes directly (`gray`, `stats_pixels`)."""

    planes: np.ndarray  # (h * 3 // 2, w) uint8

    @property
    def width(self) -> int:
        return self.planes.shape[1]

    @property
    def height(self) -> int:
        return self.planes.shape[0] * 2 // 3

    @property
    def shape(self) -> tuple[int, int, int]:  # as an RGB frame of the same size would have
        return self.height, self.width, 3

    def rgb(self) -> np.ndarray:
        import cv2

        return cv2.cvtColor(self.planes, cv2.COLOR_YUV2RGB_I420)

    def gray(self, max_side_px: int) -> np.ndarray:
        """What `kernels.reference.to_gray` gives for this frame's RGB (within rounding): RGB's luma is the limited
        range Y stretched to 0..255."""
        from vla_builder.kernels.reference import shrink_gray

        small = shrink_gray(self.planes[: self.height], max_side_px).astype(np.float32)
        return np.clip(np.rint((small - 16.0) * _Y_GAIN), 0, 255).astype(np.uint8)

    def letterboxed(self, size_hw: tuple[int, int]) -> Yuv420Frame:
        """This frame centred on a black canvas of `size_hw` (h, w), as `boxes.letterbox` centres an RGB frame (same
        offsets: `can_pass_yuv` asks them even, so that the chroma planes line up)."""
        h, w = size_hw
        if (self.height, self.width) == (h, w):
            return self
        x0, y0 = letterbox_offset_px((self.width, self.height), size_hw)
        canvas = np.empty((h * 3 // 2, w), np.uint8)
        canvas[:h] = 16  # RGB black in limited-range yuv: Y 16, U V 128
        canvas[h:] = 128
        canvas[y0 : y0 + self.height, x0 : x0 + self.width] = self.planes[: self.height]
        chroma = canvas[h:].reshape(2, h // 2, w // 2)
        chroma[:, y0 // 2 : (y0 + self.height) // 2, x0 // 2 : (x0 + self.width) // 2] = \
            self.planes[self.height :].reshape(2, self.height // 2, self.width // 2)
        return Yuv420Frame(canvas)

    def stats_pixels(self, step: int) -> np.ndarray:
        """(N, 3) uint8 RGB of every `step`-th pixel in both directions (lerobot's stats downsampling of the RGB
        frame), converted from the planes at those pixels only; column-major (see `encode._ImageStats`)."""
        h, w = self.height, self.width
        rows, cols = np.arange(0, h, step), np.arange(0, w, step)
        y = self.planes[:h][np.ix_(rows, cols)].astype(np.float32) - 16.0
        u_plane = self.planes[h:].reshape(2, h // 2, w // 2)  # U then V, each (h / 2, w / 2)
        crow, ccol = np.ix_(rows // 2, cols // 2)
        u = u_plane[0][crow, ccol].astype(np.float32) - 128.0
        v = u_plane[1][crow, ccol].astype(np.float32) - 128.0
        luma = y * _Y_GAIN
        rgb = np.stack([luma + _RV * v, luma + _GU * u + _GV * v, luma + _BU * u])
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8).reshape(3, -1).T


def can_pass_yuv(info: VideoInfo, size_px: tuple[int, int], canvas_hw: tuple[int, int] | None = None) -> bool:
    """Whether frames of this source can go to the encoder in yuv420p (`Yuv420Frame`), scaled by swscale to
    `size_px` (w, h) where that is not the source's size and letterboxed on `canvas_hw` (h, w; None: `size_px`):
    yuv420p, not rotated, and every side and letterbox offset even (4:2:0 chroma covers 2x2 pixels)."""
    canvas_hw = (size_px[1], size_px[0]) if canvas_hw is None else canvas_hw
    sides = (info.width_px, info.height_px, *size_px, *canvas_hw, *letterbox_offset_px(size_px, canvas_hw))
    return (info.codec != "images" and info.pix_fmt == "yuv420p" and info.rotation_deg % 360 == 0
            and all(side % 2 == 0 for side in sides))



def yuv_scaler(info: VideoInfo, size_px: tuple[int, int] | None):
    """frame -> the PyAV frame in yuv420p at `size_px` (w, h) (None: as decoded), scaled by swscale (area
    averaging, as `cv2.INTER_AREA` on the RGB route); one swscale context for the stream."""
    if size_px is None or tuple(size_px) == (info.width_px, info.height_px):
        return lambda frame: frame
    from av.video.reformatter import VideoReformatter

    reformatter, (w, h) = VideoReformatter(), size_px

    def scale(frame):
        if (frame.width, frame.height) != (info.width_px, info.height_px):
            from vla_builder.sources.video import DecodeError  # here only: video.py imports this module

            raise DecodeError(info.path, f"decoded frame is {frame.width}x{frame.height}, probe said "
                              f"{info.width_px}x{info.height_px}")
        return reformatter.reformat(frame, w, h, "yuv420p", interpolation="AREA")

    return scale
