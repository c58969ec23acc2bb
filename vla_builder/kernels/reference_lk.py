"""NumPy spec of the CUDA motion kernels in `cuda_kernels/` (the reference is the spec).

Each function here is the *same algorithm* as one kernel, written so that the float32 operations happen in the same
order as in the kernel's per-pixel code (the kernels are built with `--fmad=false`, i.e. no fused multiply-add), so
that the per-pixel parts agree bit for bit and only reductions (sums over thousands of samples) differ in the last
bits. It is also the `lk` method's CPU backend where the kernels cannot be compiled (`stages/motion.py`);
`reference.py` holds the OpenCV building blocks of the other methods (`dis`, `farneback`: DIS flow + RANSAC), a
different algorithm.

| kernel (cuda_kernels/)     | spec here                         | what it computes                                   |
|----------------------------|-----------------------------------|----------------------------------------------------|
| lk_flow.cu                 | `lk_flow`                         | dense pyramidal Lucas-Kanade flow, prev -> next    |
| motion_energy.cu           | `motion_energy_sums`              | sum |a-b| per consecutive frame pair (exact ints)  |
| box_flow.cu                | `box_median_flow_px`              | per-box median flow inside the 20 %-shrunk box     |
| global_motion.cu           | `global_similarity_irls_px`       | IRLS (Huber, Tukey) similarity, background flow    |

Units: flow and `*_px` results in pixels of the (downscaled) image they were computed on; `*_norm` in normalized
image units (x / width, y / height). Arrays of several frames are batched along the first axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from vla_builder.config import StrictConfig
from vla_builder.kernels.driver import PairwiseOps

if TYPE_CHECKING:  # the ops read the motion stage's config whole; only for the annotation (no stage import here)
    from vla_builder.stages.motion import MotionConfig
from vla_builder.kernels.reference import affine_px_to_norm, background_rects_px, box_interior_px

F32 = np.float32
# 5-tap binomial kernel of the Gaussian pyramid (exact in float32): 1 4 6 4 1 / 16
PYR_TAPS = tuple(F32(v) for v in (0.0625, 0.25, 0.375, 0.25, 0.0625))
MAX_LEVELS = 8  # the kernels carve their workspace for at most this many pyramid levels


# ---------------------------------------------------------------------------------------------------------------
# dense flow: pyramidal Lucas-Kanade
# ---------------------------------------------------------------------------------------------------------------


class LKParams(StrictConfig):
    """Pyramidal dense Lucas-Kanade, sharpened at motion boundaries and refined per pixel at the finest level.

    Why LK and not a DIS-style patch search: every step is a per-pixel stencil or a box sum (no data-dependent
    search), so the CUDA version is a handful of memory-bound launches that the NumPy spec can mirror exactly.
    The window is a (2r+1)^2 box (r=4: 9x9). `reg_per_px` (times the window area) is a Tikhonov term that pulls
    each update towards the pixel's current flow, so that textureless pixels keep the flow propagated from the
    coarser level instead of dividing by ~0; it slows convergence in weak texture but does not move the fixed
    point.

    The windowed LK fixed point is a structure-tensor-weighted average of the true flow over the window, so on its
    own it smears motion boundaries by a window at every level (~8 px at 640 px wide) and is biased wherever the
    flow varies (rotation, zoom). Two bounded passes fix most of that:
      - candidate selection (every level, after the LK iterations, `select_step_px` > 0): each pixel takes the
        flow of itself or of the pixel `select_step_px` away left/right/up/down, whichever warps its
        (2 select_radius_px + 1)^2 neighbourhood best (sum of |I1(q + u) - I0(q)|): flow from the right side of
        a motion boundary moves across the smeared band, a step per level;
      - variational refinement (finest level only, `refine_iters` > 0 red-black SOR sweeps, over-relaxation
        `sor_omega`): per-pixel brightness constancy (no window, hence no window bias) plus `smooth` x a robust
        (Charbonnier-like, scale `smooth_eps_px`) first-order smoothness to the 4 neighbours, which does not
        penalize a linear flow and stops at flow edges.
    Measured on `flow_eval` (EPE, px, 640x360): ~0.013 translation, ~0.03 rotation/zoom, ~0.05 at a moving
    object's boundary, ~0.02 around a textureless region; see scripts/bench_motion.py.

    The recipe's `motion.lk:` section (method `lk`): every LK backend reads this one object (`cuda._LK_ABI` packs it
    for the kernels); the bounds are the kernels' (`lk_flow.cu`: kMaxLevels, kMaxRadius).
    """

    levels: int | None = Field(None, ge=1, le=MAX_LEVELS)  # None: the coarsest level's longer side <= coarsest_side_px
    radius_px: int = Field(4, ge=1, le=16)  # LK window (2r+1)^2
    iters: int = Field(3, ge=0, le=100)  # Gauss-Newton iterations per level
    # ... at the finest level (None: `iters`); the refinement takes it from there
    finest_iters: int | None = Field(1, ge=0, le=100)
    reg_per_px: float = Field(1.0, ge=0)  # Tikhonov pull to the current flow, (grey levels / px)^2
    coarsest_side_px: int = Field(48, ge=8)  # the pyramid stops when the longer side reaches this
    select_step_px: int = Field(4, ge=0)  # candidate offset of the selection pass (0: no selection)
    select_radius_px: int = Field(2, ge=0, le=16)  # its matching window: (2r+1)^2
    refine_iters: int = Field(5, ge=0, le=100)  # red-black SOR sweeps at the finest level (0: no refinement)
    smooth: float = Field(500.0, ge=0)  # smoothness weight per neighbour, (grey levels / px)^2
    smooth_eps_px: float = Field(0.3, gt=0)  # robust smoothness: weight smooth * eps / sqrt(|du|^2 + eps^2)
    sor_omega: float = Field(1.5, gt=0, lt=2)  # over-relaxation of the SOR sweeps (1: Gauss-Seidel)

    def n_levels(self, h: int, w: int) -> int:
        return lk_levels(h, w, self.levels, self.coarsest_side_px, self.radius_px)

    def level_iters(self, level: int) -> int:
        return self.iters if level > 0 or self.finest_iters is None else self.finest_iters

    @property
    def reg(self) -> float:
        return float(self.reg_per_px * (2 * self.radius_px + 1) ** 2)


def lk_levels(h: int, w: int, levels: int | None = None, coarsest_side_px: int = 48, radius_px: int = 4) -> int:
    """Number of pyramid levels: enough for large motion, never so many that a level is smaller than a window."""
    if levels is None:
        levels = 1 + max(0, math.ceil(math.log2(max(h, w) / coarsest_side_px)))
    n = 1
    hh, ww = h, w
    while n < min(levels, MAX_LEVELS):
        hh, ww = (hh + 1) // 2, (ww + 1) // 2
        if min(hh, ww) < 2 * radius_px + 1:
            break
        n += 1
    return n


def pyr_down(img: np.ndarray) -> np.ndarray:
    """Blur with the 5x5 binomial and keep every second pixel; edges replicated. (h, w) -> ((h+1)//2, (w+1)//2)."""
    h, w = img.shape
    ho, wo = (h + 1) // 2, (w + 1) // 2
    rows = [np.clip(2 * np.arange(ho) + j - 2, 0, h - 1) for j in range(5)]
    cols = [np.clip(2 * np.arange(wo) + i - 2, 0, w - 1) for i in range(5)]
    out = np.zeros((ho, wo), F32)
    for j in range(5):
        r = img[rows[j]]
        acc = np.zeros((ho, wo), F32)
        for i in range(5):
            acc = acc + PYR_TAPS[i] * r[:, cols[i]]
        out = out + PYR_TAPS[j] * acc
    return out


def gradients(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences, edges replicated: d/dx and d/dy in grey levels per pixel."""
    h, w = img.shape
    xp, xm = np.minimum(np.arange(w) + 1, w - 1), np.maximum(np.arange(w) - 1, 0)
    yp, ym = np.minimum(np.arange(h) + 1, h - 1), np.maximum(np.arange(h) - 1, 0)
    ix = F32(0.5) * (img[:, xp] - img[:, xm])
    iy = F32(0.5) * (img[yp] - img[ym])
    return ix, iy


def box_sum(a: np.ndarray, r: int) -> np.ndarray:
    """Sum over the (2r+1)^2 window around each pixel, pixels outside the image count 0 (rows first, then columns;
    each pass adds the taps left to right from 0, as the kernels do)."""
    h, w = a.shape[-2:]
    pad = [(0, 0)] * (a.ndim - 2)
    p = np.pad(a, pad + [(0, 0), (r, r)])
    acc = np.zeros(a.shape, F32)
    for i in range(2 * r + 1):
        acc = acc + p[..., :, i : i + w]
    p = np.pad(acc, pad + [(r, r), (0, 0)])
    out = np.zeros(a.shape, F32)
    for j in range(2 * r + 1):
        out = out + p[..., j : j + h, :]
    return out


def bilinear(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sample img at float positions (clamped to the image: edges replicated)."""
    h, w = img.shape
    x = np.clip(x, F32(0), F32(w - 1))
    y = np.clip(y, F32(0), F32(h - 1))
    x0 = np.minimum(np.floor(x).astype(np.int32), w - 2)
    y0 = np.minimum(np.floor(y).astype(np.int32), h - 2)
    fx = x - x0.astype(F32)
    fy = y - y0.astype(F32)
    gx = F32(1) - fx
    top = gx * img[y0, x0] + fx * img[y0, x0 + 1]
    bot = gx * img[y0 + 1, x0] + fx * img[y0 + 1, x0 + 1]
    return (F32(1) - fy) * top + fy * bot


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.meshgrid(np.arange(h, dtype=F32), np.arange(w, dtype=F32), indexing="ij")
    return xs, ys


def upsample_flow(flow: np.ndarray, h: int, w: int) -> np.ndarray:
    """Coarse-level flow (hc, wc, 2) -> (h, w, 2): fine pixel x sits at coarse x/2; vectors double."""
    xs, ys = _grid(h, w)
    cx, cy = xs * F32(0.5), ys * F32(0.5)
    u = F32(2) * bilinear(np.ascontiguousarray(flow[..., 0]), cx, cy)
    v = F32(2) * bilinear(np.ascontiguousarray(flow[..., 1]), cx, cy)
    return np.stack([u, v], axis=-1)


def lk_solve(gxx, gxy, gyy, cx, cy, u, v, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """New flow (G + reg I)^-1 (C + reg u) per pixel; the old flow where the system is not positive definite."""
    a = gxx + F32(reg)
    c = gyy + F32(reg)
    det = a * c - gxy * gxy
    rx = cx + F32(reg) * u
    ry = cy + F32(reg) * v
    num_u = c * rx - gxy * ry
    num_v = a * ry - gxy * rx
    ok = det > F32(0)
    safe = np.where(ok, det, F32(1))
    return np.where(ok, num_u / safe, u), np.where(ok, num_v / safe, v)


def shifted(a: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """a at (x + dx, y + dy), clamped to the image (edges replicated)."""
    h, w = a.shape
    rows = np.clip(np.arange(h) + dy, 0, h - 1)
    cols = np.clip(np.arange(w) + dx, 0, w - 1)
    return a[rows][:, cols]


def select_offsets(step: int) -> tuple[tuple[int, int], ...]:
    """Candidate offsets of `select_flow`, in the order they are tried (ties keep the earlier one)."""
    return ((0, 0), (step, 0), (-step, 0), (0, step), (0, -step))


def select_flow(i0: np.ndarray, i1: np.ndarray, u: np.ndarray, v: np.ndarray, step: int,
                radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel p takes the flow u(p + o) of the candidate offset o whose shifted flow field warps the window
    around p best: cost_o(p) = box_sum_q |I1(q + u(q + o)) - I0(q)| (clamped sampling, box_sum as the LK sums);
    the first minimum wins. Offsets and the flow lookups are clamped to the image."""
    h, w = i0.shape
    xs, ys = _grid(h, w)
    best = bu = bv = None
    for k, (dx, dy) in enumerate(select_offsets(step)):
        uo, vo = shifted(u, dx, dy), shifted(v, dx, dy)
        cost = box_sum(np.abs(bilinear(i1, xs + uo, ys + vo) - i0), radius)
        if k == 0:
            best, bu, bv = cost, uo, vo
        else:
            better = cost < best
            best, bu, bv = np.where(better, cost, best), np.where(better, uo, bu), np.where(better, vo, bv)
    return bu, bv


def refine_flow(i0: np.ndarray, i1: np.ndarray, ix: np.ndarray, iy: np.ndarray, u: np.ndarray, v: np.ndarray,
                params: LKParams) -> tuple[np.ndarray, np.ndarray]:
    """`refine_iters` red-black SOR sweeps (red: (x + y) even, then black) of the per-pixel energy
        (grad . (u' - u) + It)^2 + sum_n w_n |u' - u(n)|^2,   w_n = smooth eps / sqrt(|u(n) - u|^2 + eps^2)
    over the 4 neighbours n (right, left, down, up; clamped at the edges), linearized at the current flow (It as in
    LK: 0 where x + u leaves the image); the pixel moves `sor_omega` of the way to the minimizer."""
    h, w = i0.shape
    xs, ys = _grid(h, w)
    ae = F32(params.smooth) * F32(params.smooth_eps_px)
    e2 = F32(params.smooth_eps_px) * F32(params.smooth_eps_px)
    om = F32(params.sor_omega)
    parity = (np.arange(h)[:, None] + np.arange(w)[None, :]) % 2
    neighbours = ((1, 0), (-1, 0), (0, 1), (0, -1))
    for _ in range(params.refine_iters):
        for colour in (0, 1):
            wx, wy = xs + u, ys + v
            inside = (wx >= F32(0)) & (wx <= F32(w - 1)) & (wy >= F32(0)) & (wy <= F32(h - 1))
            it = np.where(inside, bilinear(i1, wx, wy) - i0, F32(0))
            acc_u = np.zeros((h, w), F32)
            acc_v = np.zeros((h, w), F32)
            ws = np.zeros((h, w), F32)
            for dx, dy in neighbours:
                un, vn = shifted(u, dx, dy), shifted(v, dx, dy)
                du, dv = un - u, vn - v
                wt = ae / np.sqrt(du * du + dv * dv + e2)
                acc_u = acc_u + wt * un
                acc_v = acc_v + wt * vn
                ws = ws + wt
            g = ix * u + iy * v - it
            a = ix * ix + ws
            c = iy * iy + ws
            b = ix * iy
            ru = ix * g + acc_u
            rv = iy * g + acc_v
            det = a * c - b * b
            ok = (parity == colour) & (det > F32(0))
            safe = np.where(ok, det, F32(1))
            nu = (c * ru - b * rv) / safe
            nv = (a * rv - b * ru) / safe
            u = np.where(ok, u + om * (nu - u), u)
            v = np.where(ok, v + om * (nv - v), v)
    return u, v


def lk_flow(prev_gray: np.ndarray, next_gray: np.ndarray, params: LKParams = LKParams()) -> np.ndarray:
    """Dense optical flow (H, W, 2) float32 in pixels from prev to next (uint8 or float grey images).

    Coarse to fine (5-tap binomial pyramid); at each level `iters` Gauss-Newton steps of the windowed
    brightness-constancy equations of every pixel p, linearized around each window pixel's own flow u(q):
        It(q) = I1(q + u(q)) - I0(q)                      (0 where q + u(q) leaves the image)
        u(p) <- (G(p) + reg I)^-1 (sum_q grad(q) (grad(q) . u(q) - It(q)) + reg u(p))
    with G = sum_window(grad I0 grad I0^T) fixed per level. Everything is a per-pixel stencil or a box sum, and
    the update is a weighted average of the neighbours' corrected flows, so it is stable with a fixed iteration
    count (the plain "warp with u(q), solve for an increment" variant oscillates and diverges). Then, per level,
    the candidate selection (`select_flow`) and at the finest level the variational refinement (`refine_flow`).
    """
    r = params.radius_px
    n_levels = params.n_levels(*prev_gray.shape)
    pyr0, pyr1 = [prev_gray.astype(F32)], [next_gray.astype(F32)]
    for _ in range(n_levels - 1):
        pyr0.append(pyr_down(pyr0[-1]))
        pyr1.append(pyr_down(pyr1[-1]))
    flow = None
    for level in range(n_levels - 1, -1, -1):
        i0, i1 = pyr0[level], pyr1[level]
        h, w = i0.shape
        xs, ys = _grid(h, w)
        flow = np.zeros((h, w, 2), F32) if flow is None else upsample_flow(flow, h, w)
        ix, iy = gradients(i0)
        gxx, gxy, gyy = box_sum(ix * ix, r), box_sum(ix * iy, r), box_sum(iy * iy, r)
        u, v = flow[..., 0].copy(), flow[..., 1].copy()
        for _ in range(params.level_iters(level)):
            wx, wy = xs + u, ys + v
            # a point that leaves the image carries no information: It = 0 keeps it neutral (it then only
            # averages its neighbours' flow) instead of matching against replicated border pixels
            inside = (wx >= F32(0)) & (wx <= F32(w - 1)) & (wy >= F32(0)) & (wy <= F32(h - 1))
            it = np.where(inside, bilinear(i1, wx, wy) - i0, F32(0))
            g = ix * u + iy * v - it
            cx, cy = box_sum(ix * g, r), box_sum(iy * g, r)
            u, v = lk_solve(gxx, gxy, gyy, cx, cy, u, v, params.reg)
        if params.select_step_px > 0:
            u, v = select_flow(i0, i1, u, v, params.select_step_px, params.select_radius_px)
        if level == 0 and params.refine_iters > 0:
            u, v = refine_flow(i0, i1, ix, iy, u, v, params)
        flow = np.stack([u, v], axis=-1)
    assert flow is not None
    return flow


# ---------------------------------------------------------------------------------------------------------------
# motion energy
# ---------------------------------------------------------------------------------------------------------------


def motion_energy_sums(grays: np.ndarray) -> np.ndarray:
    """(T, H, W) uint8 -> (T-1,) uint64: sum |g[t+1] - g[t]| per pair (integers, so the kernel's sums are exact)."""
    g = grays.astype(np.int16)
    return np.abs(g[1:] - g[:-1]).reshape(len(g) - 1, -1).sum(axis=1, dtype=np.uint64)


def motion_energy_batch(grays: np.ndarray) -> np.ndarray:
    """(T-1,) mean absolute difference in [0, 1]; equals `reference.motion_energy` pair by pair."""
    npx = grays.shape[1] * grays.shape[2]
    return motion_energy_sums(grays).astype(np.float64) / (npx * 255.0)


# ---------------------------------------------------------------------------------------------------------------
# per-box flow
# ---------------------------------------------------------------------------------------------------------------


def box_rects_px(boxes_norm: np.ndarray, w: int, h: int, shrink: float = 0.2) -> np.ndarray:
    """(..., K, 4) normalized boxes -> (..., K, 4) int32 interior rects [x0, y0, x1) x [y0, y1); -1 where absent/empty.

    Computed on the host (exactly `reference.box_interior_px`) so that kernel and spec look at the same pixels."""
    boxes_norm = np.asarray(boxes_norm, dtype=np.float64)
    out = np.full(boxes_norm.shape[:-1] + (4,), -1, np.int32)
    flat_in, flat_out = boxes_norm.reshape(-1, 4), out.reshape(-1, 4)
    for i, box in enumerate(flat_in):
        rect = box_interior_px(box, w, h, shrink)
        if rect is not None:
            flat_out[i] = rect
    return out


def box_median_flow_px(flow: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """Per-box median of u and v over the rect (K, 2) float32 px; NaN where the rect is absent (x0 < 0).

    The statistic is the plain median of each component (the mean of the two middle values for an even count),
    i.e. exactly `reference.box_flow_norm` before its division by (w, h)."""
    out = np.full((len(rects), 2), np.nan, F32)
    for k, (xa, ya, xb, yb) in enumerate(rects):
        if xa < 0:
            continue
        patch = flow[ya:yb, xa:xb].reshape(-1, 2)
        out[k] = np.median(patch, axis=0)
    return out


def box_flow_median_norm(flow: np.ndarray, boxes_norm: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    return box_median_flow_px(flow, box_rects_px(boxes_norm, w, h)).astype(np.float64) / (w, h)


# ---------------------------------------------------------------------------------------------------------------
# global (camera) motion
# ---------------------------------------------------------------------------------------------------------------




def with_bottom_excluded(rects: np.ndarray, h: int, w: int, ignore_bottom_frac: float) -> np.ndarray:
    """Append one rect per frame covering the bottom `ignore_bottom_frac` of the image (e.g. a wrist camera's own
    gripper): the rect form of the motion stage's `mask[round(h * (1 - frac)):] = False`."""
    if ignore_bottom_frac <= 0:
        return rects
    y0 = int(round(h * (1 - ignore_bottom_frac)))
    extra = np.broadcast_to(np.array([0, y0, w, h], np.int32), rects.shape[:-2] + (1, 4))
    return np.concatenate([rects, extra], axis=-2)


def mask_from_rects(h: int, w: int, rects: np.ndarray) -> np.ndarray:
    mask = np.ones((h, w), bool)
    for xa, ya, xb, yb in rects:
        if xa >= 0:
            mask[ya:yb, xa:xb] = False
    return mask


class IRLSParams(StrictConfig):
    """Similarity (4-dof: scale, rotation, translation) fit by iteratively reweighted least squares.

    Start: identity plus the per-component *lower* median of the background flow (robust to a minority of moving
    pixels). Then `huber_iters` weighted least-squares solves with Huber weights w = min(1, huber_px / r) (r: the
    2-D residual in px; convex, so it converges from the median start), then `tukey_iters` with Tukey's biweight
    w = (1 - (r / tukey_px)^2)^2 for r < tukey_px, else 0 (redescending: a mover that the boxes missed stops
    pulling once the fit is close). IRLS, not RANSAC: fixed work per pair and no random numbers, so the GPU and
    this spec agree. `inlier_px` only scores the result (fraction of samples within it), like the RANSAC threshold
    of the OpenCV path. The recipe's `motion.irls:` section (method `lk` only).
    """

    step_px: int = Field(4, ge=1)  # background flow sampled every step_px pixels
    huber_iters: int = Field(5, ge=0, le=100)  # Huber-weighted solves (from the median start)
    tukey_iters: int = Field(5, ge=0, le=100)  # then Tukey-weighted solves
    huber_px: float = Field(1.0, gt=0)  # Huber scale, px
    tukey_px: float = Field(2.0, gt=0)  # Tukey cut-off, px: a residual beyond it has no weight
    inlier_px: float = Field(1.0, gt=0)  # a sample within it counts as an inlier (the score only)
    min_samples: int = Field(12, ge=3)  # fewer background samples: identity, no fit


def irls_weight(r: np.ndarray, iteration: int, params: IRLSParams) -> np.ndarray:
    if iteration < params.huber_iters:
        return np.where(r <= params.huber_px, 1.0, params.huber_px / np.maximum(r, 1e-300))
    q = r / params.tukey_px
    return np.where(r < params.tukey_px, (1.0 - q * q) ** 2, 0.0)


def _similarity_to_affine(p: np.ndarray, cx: float, cy: float) -> np.ndarray:
    a, b, tx, ty = p
    return np.array([[a, -b, tx + cx - a * cx + b * cy], [b, a, ty + cy - b * cx - a * cy]])


def global_similarity_irls_px(flow: np.ndarray, mask: np.ndarray,
                              params: IRLSParams = IRLSParams()) -> tuple[np.ndarray, float, int]:
    """Camera motion from background flow: (2x3 similarity in px, inlier ratio, samples used).

    Samples: the grid (step/2 + i*step) where `mask` is True, flow read at the integer sample pixel. Coordinates
    are centred on (w/2, h/2) for conditioning; the sums are in float64."""
    h, w = flow.shape[:2]
    s = params.step_px
    ys, xs = np.mgrid[s // 2 : h : s, s // 2 : w : s]
    keep = mask[ys, xs]
    xs, ys = xs[keep], ys[keep]
    n = len(xs)
    identity = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if n < params.min_samples:
        return identity, 0.0, n
    u = flow[ys, xs, 0]
    v = flow[ys, xs, 1]
    k = (n - 1) // 2
    med_u = float(np.partition(u, k)[k])
    med_v = float(np.partition(v, k)[k])
    cx, cy = 0.5 * w, 0.5 * h
    x = xs.astype(np.float64) - cx
    y = ys.astype(np.float64) - cy
    tx_, ty_ = x + u.astype(np.float64), y + v.astype(np.float64)  # target positions, centred
    p = np.array([1.0, 0.0, med_u, med_v])
    for i in range(params.huber_iters + params.tukey_iters):
        r = _residual(p, x, y, tx_, ty_)
        p = _solve_similarity(irls_weight(r, i, params), x, y, tx_, ty_, p)
    r = _residual(p, x, y, tx_, ty_)
    inliers = float(np.count_nonzero(r < params.inlier_px)) / n
    return _similarity_to_affine(p, cx, cy), inliers, n


def _residual(p, x, y, tx_, ty_):
    a, b, tx, ty = p
    dx = a * x - b * y + tx - tx_
    dy = b * x + a * y + ty - ty_
    return np.sqrt(dx * dx + dy * dy)


def _solve_similarity(wt, x, y, X, Y, p_prev):
    sw = wt.sum()
    if not sw > 0:
        return p_prev
    swx, swy = (wt * x).sum(), (wt * y).sum()
    swX, swY = (wt * X).sum(), (wt * Y).sum()
    swr2 = (wt * (x * x + y * y)).sum()
    swp = (wt * (x * X + y * Y)).sum()
    swq = (wt * (x * Y - y * X)).sum()
    return similarity_from_sums(np.array([sw, swx, swy, swr2, swX, swY, swp, swq]))


def similarity_from_sums(sums: np.ndarray) -> np.ndarray:
    """Closed-form weighted similarity from the 8 sums the kernel reduces (same formula as `irls_solve` in C)."""
    sw, swx, swy, swr2, swX, swY, swp, swq = (float(v) for v in sums)
    mx, my, mX, mY = swx / sw, swy / sw, swX / sw, swY / sw
    den = swr2 - sw * (mx * mx + my * my)
    if den > 1e-9 * sw:
        a = (swp - sw * (mx * mX + my * mY)) / den
        b = (swq - sw * (mx * mY - my * mX)) / den
    else:  # all weight on one point: translation only
        a, b = 1.0, 0.0
    return np.array([a, b, mX - (a * mx - b * my), mY - (b * mx + a * my)])


def global_similarity_irls_norm(flow: np.ndarray, mask: np.ndarray,
                                params: IRLSParams = IRLSParams()) -> tuple[np.ndarray, float]:
    """As `reference.global_motion_norm` (2x3 affine in normalized units, inlier ratio), by IRLS (Huber, then Tukey)."""
    h, w = flow.shape[:2]
    a_px, inliers, _ = global_similarity_irls_px(flow, mask, params)
    return affine_px_to_norm(a_px, w, h), inliers


# ---------------------------------------------------------------------------------------------------------------
# grey conversion + downscale (what the CUDA path does with torch before the kernels)
# ---------------------------------------------------------------------------------------------------------------

# OpenCV's fixed-point RGB->grey for 8-bit images: 0.299, 0.587, 0.114 scaled by 2^15 (checked against
# cv2.cvtColor for all 2^24 colours with OpenCV 4.13)
GRAY_COEFFS_Q15 = (9798, 19235, 3735)


def small_size(h: int, w: int, max_side_px: int) -> tuple[int, int]:
    """(h, w) after scaling the longer side down to max_side_px (never up): the rule of `reference.to_gray`."""
    s = max_side_px / max(h, w)
    if s >= 1:
        return h, w
    return max(8, int(round(h * s))), max(8, int(round(w * s)))


def pool_bins(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive-average-pool bins: output i averages input [floor(i*n/m), ceil((i+1)*n/m))."""
    i = np.arange(n_out, dtype=np.int64)
    return (i * n_in) // n_out, -((-(i + 1) * n_in) // n_out)


def gray_small(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    """(T, H, W, 3) or (H, W, 3) uint8 -> uint8 grey, downscaled by exact integer bin averages.

    Grey equals `cv2.cvtColor(RGB2GRAY)`; the downscale is an area average over adaptive-pool bins, rounded half up,
    in integers so that torch on the GPU (`cuda.gray_small_torch`) computes the very same pixels."""
    single = rgb.ndim == 3
    rgb = rgb[None] if single else rgb
    r, g, b = (rgb[..., c].astype(np.int32) for c in range(3))
    cr, cg, cb = GRAY_COEFFS_Q15
    gray = (r * cr + g * cg + b * cb + (1 << 14)) >> 15
    t, h, w = gray.shape
    oh, ow = small_size(h, w, max_side_px)
    if (oh, ow) != (h, w):
        x0, x1 = pool_bins(w, ow)
        y0, y1 = pool_bins(h, oh)
        cs = np.concatenate([np.zeros((t, h, 1), np.int64), np.cumsum(gray, axis=2, dtype=np.int64)], axis=2)
        colsum = cs[:, :, x1] - cs[:, :, x0]  # (t, h, ow)
        cs = np.concatenate([np.zeros((t, 1, ow), np.int64), np.cumsum(colsum, axis=1)], axis=1)
        total = cs[:, y1, :] - cs[:, y0, :]  # (t, oh, ow)
        count = (y1 - y0)[:, None] * (x1 - x0)[None, :]
        gray = (total + count // 2) // count
    out = gray.astype(np.uint8)
    return out[0] if single else out


# ---------------------------------------------------------------------------------------------------------------
# the whole motion step, as the CUDA path runs it
# ---------------------------------------------------------------------------------------------------------------


def motion_for_clip_reference(rgb: np.ndarray, boxes_xyxy: np.ndarray, config: MotionConfig):
    """Spec of `kernels.cuda.motion_for_clip` (the `lk` motion method): LK flow, median box flow, IRLS similarity,
    motion energy, per frame step."""
    from vla_builder.kernels.driver import run_motion

    return run_motion(ReferenceLKMotion(config), rgb, boxes_xyxy)


@dataclass(frozen=True)
class ReferenceLKMotion(PairwiseOps):
    """The `lk` method in NumPy as the motion driver's operations (`kernels/driver.py`): one frame pair per step.
    Holds the motion config whole (`max_side_px`, `ignore_bottom_frac`, `lk`, `irls`): nothing is restated."""

    config: MotionConfig

    def grays(self, rgb):
        g = gray_small(rgb, self.config.max_side_px)
        return g, g.shape[1], g.shape[2]

    def energy(self, grays, t_count: int) -> np.ndarray:
        return motion_energy_batch(grays)

    def pair(self, prev_gray, next_gray, boxes_xyxy: np.ndarray, h: int, w: int):
        c = self.config
        flow = lk_flow(prev_gray, next_gray, c.lk)
        track_flow = box_median_flow_px(flow, box_rects_px(boxes_xyxy, w, h)).astype(np.float64) / (w, h)
        rects = with_bottom_excluded(background_rects_px(h, w, boxes_xyxy), h, w, c.ignore_bottom_frac)
        a_px, inliers, _ = global_similarity_irls_px(flow, mask_from_rects(h, w, rects), c.irls)
        return track_flow, affine_px_to_norm(a_px, w, h), inliers

    def describe(self, h: int, w: int) -> str:
        return method_name("reference-lk", self.config.lk, h, w)


def method_name(impl: str, lk: LKParams, h: int, w: int) -> str:
    return (f"{impl} (pyramidal LK {lk.n_levels(h, w)} levels, {2 * lk.radius_px + 1}px window, {lk.iters} iters "
            f"({lk.level_iters(0)} at the finest), "
            f"selection step {lk.select_step_px}px, {lk.refine_iters} SOR sweeps; "
            f"box median; Huber/Tukey IRLS similarity; {w}x{h})")
