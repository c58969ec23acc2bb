"""OpenCV building blocks of the `dis` and `farneback` motion methods (CPU only): flow, box median, background
mask, RANSAC similarity, motion energy. Not the kernels' spec — that is `reference_lk.py` (the `lk` method).

Units: flow in pixels of the image it was computed on; `*_norm` results in normalized image units (x / width,
y / height) so they do not depend on resolution.
"""

from __future__ import annotations

import numpy as np

DIS_PRESETS = {"ultrafast": 0, "fast": 1, "medium": 2}


def to_gray(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    import cv2

    return shrink_gray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), max_side_px)


def shrink_gray(gray: np.ndarray, max_side_px: int) -> np.ndarray:
    """`gray` scaled (area averaging) so that its longer side is at most `max_side_px`."""
    import cv2

    h, w = gray.shape
    s = max_side_px / max(h, w)
    if s < 1:
        gray = cv2.resize(gray, (max(8, int(round(w * s))), max(8, int(round(h * s)))), interpolation=cv2.INTER_AREA)
    return gray


def dense_flow(prev_gray: np.ndarray, next_gray: np.ndarray, method: str = "dis", preset: str = "fast") -> np.ndarray:
    """Dense optical flow (H, W, 2) float32 pixels from prev to next (OpenCV DIS or Farneback)."""
    import cv2

    if method == "dis":
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        return dis.calc(prev_gray, next_gray, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}")


def box_interior_px(box_norm: np.ndarray, w: int, h: int, shrink: float = 0.2) -> tuple[int, int, int, int] | None:
    """Pixel rectangle of a box's interior (each side pulled in by `shrink` of its size): where the object is."""
    if not np.all(np.isfinite(box_norm)):
        return None
    x0, y0, x1, y1 = box_norm
    dx, dy = (x1 - x0) * shrink, (y1 - y0) * shrink
    xa, xb = int(np.floor((x0 + dx) * w)), int(np.ceil((x1 - dx) * w))
    ya, yb = int(np.floor((y0 + dy) * h)), int(np.ceil((y1 - dy) * h))
    xa, ya, xb, yb = max(xa, 0), max(ya, 0), min(xb, w), min(yb, h)
    if xb <= xa or yb <= ya:
        return None
    return xa, ya, xb, yb


def box_flow_norm(flow: np.ndarray, boxes_norm: np.ndarray) -> np.ndarray:
    """Median flow inside each box (K, 2) in normalized units; NaN where a box is absent or empty."""
    h, w = flow.shape[:2]
    out = np.full((len(boxes_norm), 2), np.nan)
    for k, box in enumerate(boxes_norm):
        r = box_interior_px(box, w, h)
        if r is None:
            continue
        xa, ya, xb, yb = r
        patch = flow[ya:yb, xa:xb].reshape(-1, 2)
        out[k] = np.median(patch, axis=0) / (w, h)
    return out


def background_rects_px(h: int, w: int, boxes_norm: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """(..., K, 4) int32 pixel rects that `background_mask` sets False; (-1, -1, -1, -1) where absent.

    The kernel gets rects instead of a full-size mask (K x 16 bytes instead of H x W per frame)."""
    boxes_norm = np.asarray(boxes_norm, dtype=np.float64)
    out = np.full(boxes_norm.shape[:-1] + (4,), -1, np.int32)
    flat_in, flat_out = boxes_norm.reshape(-1, 4), out.reshape(-1, 4)
    for i, box in enumerate(flat_in):
        if not np.all(np.isfinite(box)):
            continue
        x0, y0, x1, y1 = box
        mx, my = (x1 - x0) * margin, (y1 - y0) * margin
        xa, ya = max(int((x0 - mx) * w), 0), max(int((y0 - my) * h), 0)
        xb, yb = min(int(np.ceil((x1 + mx) * w)), w), min(int(np.ceil((y1 + my) * h)), h)
        if xb > xa and yb > ya:
            flat_out[i] = (xa, ya, xb, yb)
    return out


def background_mask(h: int, w: int, boxes_norm: np.ndarray, margin: float = 0.05) -> np.ndarray:
    """True where no (slightly grown) track box covers the pixel: the part of the image that shows the scene."""
    mask = np.ones((h, w), bool)
    for xa, ya, xb, yb in background_rects_px(h, w, boxes_norm, margin).reshape(-1, 4):
        if xa >= 0:
            mask[ya:yb, xa:xb] = False
    return mask


def global_motion_norm(flow: np.ndarray, mask: np.ndarray, step_px: int = 4) -> tuple[np.ndarray, float]:
    """Camera motion: a robust similarity (RANSAC) fit to background flow; (2x3 affine in normalized units, inliers)."""
    import cv2

    h, w = flow.shape[:2]
    ys, xs = np.mgrid[step_px // 2 : h : step_px, step_px // 2 : w : step_px]
    keep = mask[ys, xs]
    xs, ys = xs[keep].astype(np.float32), ys[keep].astype(np.float32)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if len(xs) < 12:
        return identity, 0.0
    src = np.stack([xs, ys], axis=1)
    dst = src + flow[ys.astype(int), xs.astype(int)]
    a_px, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=1.0,
                                                maxIters=500, confidence=0.99, refineIters=10)
    if a_px is None:
        return identity, 0.0
    return affine_px_to_norm(a_px, w, h), float(inliers.mean())


def affine_px_to_norm(a_px: np.ndarray, w: int, h: int) -> np.ndarray:
    """Express a pixel-space affine in normalized coordinates: A_n = S^-1 A S with S = diag(w, h)."""
    a = np.asarray(a_px, dtype=np.float64)
    return np.array([[a[0, 0], a[0, 1] * h / w, a[0, 2] / w], [a[1, 0] * w / h, a[1, 1], a[1, 2] / h]])


def motion_energy(prev_gray: np.ndarray, next_gray: np.ndarray) -> float:
    """Mean absolute frame difference in [0, 1]: near 0 when nothing moves, high at cuts."""
    return float(np.mean(np.abs(prev_gray.astype(np.int16) - next_gray.astype(np.int16)))) / 255.0

