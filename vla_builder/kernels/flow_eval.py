"""Synthetic frame pairs with exact ground-truth flow, and the end-point error (EPE) to score a flow method.

The scene is an analytic texture (a sum of sinusoids with a 1/f-like spectrum, random orientations) so that the
next frame can be *evaluated* at the warped coordinates instead of resampled: the ground truth is exact, not
limited by an interpolation. Frames are rounded to uint8 like decoded video.

Cases (motion sizes scale with the image width; quoted values are at 640 px wide):
  translate    camera translation (3.3, -2.2) px, sub-pixel
  rotate       camera rotation 2 deg about the centre (up to ~12 px at the corners)
  zoom         camera zoom 1.04 about the centre
  object       small camera translation + a textured box moving (6.5, -3.5) px on its own (`object_box_norm`)
  textureless  camera translation with a large flat region: flow there is not observable (`textured` False)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FlowPair:
    name: str
    prev: np.ndarray  # (H, W) uint8
    next: np.ndarray  # (H, W) uint8
    flow: np.ndarray  # (H, W, 2) float32 exact flow prev -> next, px
    valid: np.ndarray  # (H, W) bool: the point stays in the image (with a margin) and is not occluded
    textured: np.ndarray  # (H, W) bool: False inside flat regions (flow unobservable there)
    camera_px: np.ndarray  # (2, 3) camera similarity prev -> next, px (x' = A @ [x, y, 1])
    object_box_norm: np.ndarray | None = None  # (4,) normalized box of the moving object in prev
    object_shift_px: np.ndarray | None = None  # (2,) its motion, px

    @property
    def size_px(self) -> tuple[int, int]:
        return self.prev.shape[1], self.prev.shape[0]


class Texture:
    """f(x, y) = 128 + sum_k a_k cos(2 pi (fx_k x + fy_k y) + phi_k); wavelengths from 6 px to ~1/3 of the image."""

    def __init__(self, seed: int, size_px: int, n_waves: int = 28, contrast: float = 45.0):
        rng = np.random.default_rng(seed)
        lam = np.exp(rng.uniform(np.log(6.0), np.log(max(size_px / 3.0, 12.0)), n_waves))
        ang = rng.uniform(0, np.pi, n_waves)
        self.fx, self.fy = np.cos(ang) / lam, np.sin(ang) / lam
        self.phi = rng.uniform(0, 2 * np.pi, n_waves)
        amp = lam**0.5
        self.amp = amp * contrast / np.sqrt(0.5 * np.sum(amp**2))  # overall std = contrast grey levels

    def __call__(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        out = np.full(x.shape, 128.0)
        for fx, fy, phi, a in zip(self.fx, self.fy, self.phi, self.amp):
            out += a * np.cos(2 * np.pi * (fx * x + fy * y) + phi)
        return out


def similarity_px(w: int, h: int, scale: float = 1.0, angle_deg: float = 0.0,
                  shift_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """2x3 similarity about the image centre, then a shift."""
    c, s = scale * math.cos(math.radians(angle_deg)), scale * math.sin(math.radians(angle_deg))
    cx, cy = w / 2.0, h / 2.0
    return np.array([[c, -s, cx - c * cx + s * cy + shift_px[0]], [s, c, cy - s * cx - c * cy + shift_px[1]]])


def _invert(a: np.ndarray) -> np.ndarray:
    m = np.vstack([a, [0.0, 0.0, 1.0]])
    return np.linalg.inv(m)[:2]


def _apply(a: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return a[0, 0] * x + a[0, 1] * y + a[0, 2], a[1, 0] * x + a[1, 1] * y + a[1, 2]


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def make_pair(name: str, h: int, w: int, camera_px: np.ndarray, *, seed: int = 0,
              object_box_norm: tuple[float, float, float, float] | None = None,
              object_shift_px: tuple[float, float] | None = None,
              flat_box_norm: tuple[float, float, float, float] | None = None, margin_px: int = 4) -> FlowPair:
    """Render prev/next of a scene moved by `camera_px`, with an optional independently moving textured box and an
    optional flat (textureless) region that moves with the scene."""
    bg = Texture(seed, max(h, w))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)

    def scene(x, y):
        val = bg(x, y)
        if flat_box_norm is not None:
            fx0, fy0, fx1, fy1 = flat_box_norm
            flat = (x >= fx0 * w) & (x < fx1 * w) & (y >= fy0 * h) & (y < fy1 * h)
            val = np.where(flat, 128.0, val)
        return val

    inv = _invert(camera_px)
    prev = scene(xs, ys)
    sx, sy = _apply(inv, xs, ys)
    nxt = scene(sx, sy)
    cam_x, cam_y = _apply(camera_px, xs, ys)
    flow = np.stack([cam_x - xs, cam_y - ys], axis=-1)
    occluded = np.zeros((h, w), bool)
    obj_box = obj_shift = None
    if object_box_norm is not None:
        assert object_shift_px is not None
        obj_tex = Texture(seed + 1000, max(h, w))
        ox0, oy0, ox1, oy1 = (object_box_norm[0] * w, object_box_norm[1] * h, object_box_norm[2] * w,
                              object_box_norm[3] * h)
        dx, dy = object_shift_px
        inside0 = (xs >= ox0) & (xs < ox1) & (ys >= oy0) & (ys < oy1)
        prev = np.where(inside0, obj_tex(xs, ys), prev)
        inside1 = (xs - dx >= ox0) & (xs - dx < ox1) & (ys - dy >= oy0) & (ys - dy < oy1)
        nxt = np.where(inside1, obj_tex(xs - dx, ys - dy), nxt)
        flow[inside0] = (dx, dy)
        # background points that move under the object's new position disappear
        tx, ty = cam_x, cam_y
        occluded = ~inside0 & (tx >= ox0 + dx) & (tx < ox1 + dx) & (ty >= oy0 + dy) & (ty < oy1 + dy)
        obj_box, obj_shift = np.asarray(object_box_norm, float), np.asarray(object_shift_px, float)
    tx, ty = xs + flow[..., 0], ys + flow[..., 1]
    inside = (tx >= margin_px) & (tx <= w - 1 - margin_px) & (ty >= margin_px) & (ty <= h - 1 - margin_px)
    textured = np.ones((h, w), bool)
    if flat_box_norm is not None:
        fx0, fy0, fx1, fy1 = flat_box_norm
        textured = ~((xs >= fx0 * w) & (xs < fx1 * w) & (ys >= fy0 * h) & (ys < fy1 * h))
    return FlowPair(name, _to_u8(prev), _to_u8(nxt), flow.astype(np.float32), inside & ~occluded, textured,
                    np.asarray(camera_px, float), obj_box, obj_shift)


CASES = ("translate", "rotate", "zoom", "object", "textureless")


def make_case(name: str, h: int, w: int, seed: int = 0) -> FlowPair:
    k = w / 640.0  # motions are stated for 640 px wide frames
    if name == "translate":
        return make_pair(name, h, w, similarity_px(w, h, shift_px=(3.3 * k, -2.2 * k)), seed=seed)
    if name == "rotate":
        return make_pair(name, h, w, similarity_px(w, h, angle_deg=2.0), seed=seed + 1)
    if name == "zoom":
        return make_pair(name, h, w, similarity_px(w, h, scale=1.04), seed=seed + 2)
    if name == "object":
        return make_pair(name, h, w, similarity_px(w, h, shift_px=(1.2 * k, 0.7 * k)), seed=seed + 3,
                         object_box_norm=(0.35, 0.3, 0.65, 0.75), object_shift_px=(6.5 * k, -3.5 * k))
    if name == "textureless":
        return make_pair(name, h, w, similarity_px(w, h, shift_px=(2.5 * k, 1.5 * k)), seed=seed + 4,
                         flat_box_norm=(0.1, 0.15, 0.45, 0.6))
    raise ValueError(f"unknown case {name!r}; have {CASES}")


def make_pairs(h: int, w: int, seed: int = 0, cases: tuple[str, ...] = CASES) -> list[FlowPair]:
    return [make_case(c, h, w, seed) for c in cases]


def epe(flow: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean end-point error ||flow - gt|| in px over `mask` (all pixels if None)."""
    err = np.linalg.norm(flow.astype(np.float64) - gt.astype(np.float64), axis=-1)
    return float(err[mask].mean() if mask is not None else err.mean())


def score(pair: FlowPair, flow: np.ndarray) -> dict[str, float]:
    """EPE over valid textured pixels (what a method can know) and over all valid pixels."""
    return {"epe_px": epe(flow, pair.flow, pair.valid & pair.textured), "epe_all_px": epe(flow, pair.flow, pair.valid)}


def synthetic_clip(t_count: int, h: int, w: int, seed: int = 0, cam_shift_px: tuple[float, float] = (1.5, -1.0),
                   obj_shift_px: tuple[float, float] = (4.0, 2.0)):
    """A short RGB clip: the scene pans by cam_shift_px per frame, a textured box moves by obj_shift_px per frame.

    Returns (rgb (T, H, W, 3) uint8, boxes (T, 1, 4) normalized with the object's box, ground truth dict with the
    per-pair camera shift and object shift in px). Motions are in px of this (H, W)."""
    bg, obj = Texture(seed, max(h, w)), Texture(seed + 1000, max(h, w))
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    bw, bh = 0.3 * w, 0.35 * h
    rgb = np.zeros((t_count, h, w, 3), np.uint8)
    boxes = np.zeros((t_count, 1, 4))
    for t in range(t_count):
        cx, cy = cam_shift_px[0] * t, cam_shift_px[1] * t
        img = bg(xs - cx, ys - cy)
        ox, oy = 0.3 * w + obj_shift_px[0] * t, 0.3 * h + obj_shift_px[1] * t
        inside = (xs >= ox) & (xs < ox + bw) & (ys >= oy) & (ys < oy + bh)
        img = np.where(inside, obj(xs - ox, ys - oy), img)
        g = _to_u8(img)
        rgb[t] = np.stack([g, g, g], axis=-1)
        boxes[t, 0] = (ox / w, oy / h, (ox + bw) / w, (oy + bh) / h)
    return rgb, boxes, {"cam_shift_px": np.array(cam_shift_px), "obj_shift_px": np.array(obj_shift_px)}
