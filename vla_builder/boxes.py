"""Boxes: one home for box geometry — centres, sizes, format conversion, IoU / coverage / gap, and the letterbox.

A box is 4 numbers on the last axis of an array (any leading shape), `xyxy` unless a name says otherwise:
`xywh` is top-left + size, `cxcywh` centre + size. Coordinates are normalized ([0, 1] of the frame they were stated
in) wherever the builder stores them; these functions do not care about the unit.

The letterbox: frames are scaled to fit the recipe's `image_size` and centred on a black canvas of that size
(`letterbox_offset_px`: the one placement rule, used by the sink that pads and by the mapping that moves boxes).
Every stored coordinate (state, VQA boxes, traces) is in the stored image's normalized coordinates; the mapping
from the source's is recorded per episode in provenance `image_coordinates` (`mapping_record`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

BoxFormat = Literal["xyxy", "xywh", "cxcywh"]


def centers(b: np.ndarray) -> np.ndarray:
    """(..., 2) centre (x, y) of (..., 4) xyxy boxes."""
    b = np.asarray(b)
    return (b[..., 0:2] + b[..., 2:4]) / 2


def sizes(b: np.ndarray) -> np.ndarray:
    """(..., 2) width and height of (..., 4) xyxy boxes."""
    b = np.asarray(b)
    return b[..., 2:4] - b[..., 0:2]


def to_cxcywh(b: np.ndarray) -> np.ndarray:
    return np.concatenate([centers(b), sizes(b)], axis=-1)


def from_cxcywh(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m)
    c, s = m[..., 0:2], m[..., 2:4]
    return np.concatenate([c - s / 2, c + s / 2], axis=-1)


def as_xywh(box: tuple[float, float, float, float], fmt: BoxFormat) -> tuple[float, float, float, float]:
    """One box given in `fmt` as (x, y, w, h) (top-left + size), in its own units."""
    a, b, c, d = box
    if fmt == "xyxy":
        return a, b, c - a, d - b
    if fmt == "xywh":
        return a, b, c, d
    if fmt == "cxcywh":
        return a - c / 2, b - d / 2, c, d
    raise ValueError(f"unknown box_format {fmt!r}")


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every box of a (N, 4) and b (M, 4), xyxy."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-12)


def coverage(cover: np.ndarray, obj: np.ndarray, grow: float = 0.0) -> np.ndarray:
    """Fraction of each `obj` box covered by the matching `cover` box grown by `grow` on every side; (T, 4) pairs,
    0 where either is absent (NaN)."""
    ax0, ay0, ax1, ay1 = (cover[:, i] for i in range(4))
    ax0, ay0, ax1, ay1 = ax0 - grow, ay0 - grow, ax1 + grow, ay1 + grow
    ox0, oy0, ox1, oy1 = (obj[:, i] for i in range(4))
    iw = np.clip(np.minimum(ax1, ox1) - np.maximum(ax0, ox0), 0, None)
    ih = np.clip(np.minimum(ay1, oy1) - np.maximum(ay0, oy0), 0, None)
    area = np.maximum((ox1 - ox0) * (oy1 - oy0), 1e-12)
    return np.nan_to_num(iw * ih / area)


def gap(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance between the matching boxes of a and b (..., 4): 0 where they touch or overlap, NaN where absent."""
    gx = np.maximum(0, np.maximum(a[..., 0], b[..., 0]) - np.minimum(a[..., 2], b[..., 2]))
    gy = np.maximum(0, np.maximum(a[..., 1], b[..., 1]) - np.minimum(a[..., 3], b[..., 3]))
    return np.hypot(gx, gy)


def fit_size(size_px: tuple[int, int], box_hw: tuple[int, int]) -> tuple[int, int]:
    """(w, h) of a frame of `size_px` (w, h) scaled to fit inside `box_hw` (h, w), aspect kept, even sizes."""
    w, h = size_px
    bh, bw = box_hw
    s = min(bw / w, bh / h)
    return max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)


def letterbox_offset_px(content_wh: tuple[int, int], canvas_hw: tuple[int, int]) -> tuple[int, int]:
    """(x0, y0): where a `content_wh` picture's top-left corner sits, centred on a `canvas_hw` canvas."""
    (w, h), (canvas_h, canvas_w) = content_wh, canvas_hw
    return (canvas_w - w) // 2, (canvas_h - h) // 2


def letterbox(rgb: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """Center `rgb` on a black canvas of `size_hw` (frames are already scaled to fit)."""
    h, w = size_hw
    if rgb.shape[:2] == (h, w):
        return rgb
    canvas = np.zeros((h, w, 3), np.uint8)
    x0, y0 = letterbox_offset_px((rgb.shape[1], rgb.shape[0]), size_hw)
    canvas[y0 : y0 + rgb.shape[0], x0 : x0 + rgb.shape[1]] = rgb
    return canvas


def stored_image_mapping(content_wh: tuple[int, int] | None,
                         image_size_hw: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset), each (2,) for (x, y): normalized source coordinates -> normalized coordinates of the stored
    image, which centers the `content_wh` working-size frame on an `image_size_hw` canvas (`letterbox`).

    x_stored = x_source * scale_x + offset_x (likewise y): a box written with the frame lands on the object.
    """
    if content_wh is None or image_size_hw is None:
        return np.ones(2), np.zeros(2)
    canvas_h, canvas_w = image_size_hw
    w, h = content_wh
    x0, y0 = letterbox_offset_px((w, h), image_size_hw)
    return np.array([w / canvas_w, h / canvas_h]), np.array([x0 / canvas_w, y0 / canvas_h])


def map_boxes(boxes_xyxy: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(..., 4) boxes through a (scale, offset) mapping (`stored_image_mapping`)."""
    return boxes_xyxy * np.tile(scale, 2) + np.tile(offset, 2)


def mapping_record(content_wh: tuple[int, int] | None, image_size_hw: tuple[int, int] | None) -> dict:
    """Provenance `image_coordinates`: the convention and the mapping of `stored_image_mapping`."""
    scale, offset = stored_image_mapping(content_wh, image_size_hw)
    return {"convention": "state, VQA boxes and traces are normalized coordinates of the stored image (letterbox "
                          "included): x_stored = x_source * scale_x + offset_x, y likewise",
            "scale": [round(float(v), 6) for v in scale], "offset": [round(float(v), 6) for v in offset],
            "stored_size_px": list(image_size_hw[::-1]) if image_size_hw else None,
            "content_size_px": list(content_wh) if content_wh is not None else None}
