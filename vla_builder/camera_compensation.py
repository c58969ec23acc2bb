"""Camera compensation: how the camera's own motion moves image points, so that what moves *in the world* is told
apart from what only the camera moved — the interactions' events, the trajectory's actions and the label check all
measure world motion through here. `egomotion.py` beside it turns the same camera motion into the camera's own
action (a wrist camera).

A camera-motion fit (`Motion.global_affine`) with too few background inliers (a hand and an object filling the view)
is not trusted; its step takes the motion interpolated from the trusted steps around it, and its uncertainty is
carried into `camera_uncertainty`.
"""

from __future__ import annotations

import numpy as np

from vla_builder.types import Motion, TrackSet

CAMERA_STILL_PER_FRAME = 1e-3  # normalized units: camera motion below this is fitting noise, not a pan


TRUSTED_INLIERS = 0.5  # a camera-motion fit with fewer background inliers than this is not trusted on its own


def trusted_camera_affine(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2, 3) camera motion per step, and (T,) which steps were fitted reliably. A step whose fit is not trusted
    (a hand and an object filling the view leave few background inliers) takes the motion interpolated in time from
    the trusted steps around it — a camera's motion is smooth over a few frames; no trusted step: none."""
    a = motion.global_affine.astype(float)
    trusted = motion.global_inlier_ratio >= TRUSTED_INLIERS
    t_count = len(a)
    if t_count and not trusted[:-1].all():
        idx = np.nonzero(trusted[:-1])[0]
        flat = a.reshape(t_count, 6).copy()
        ident = np.eye(2, 3).reshape(6)
        for j in range(6):
            flat[:-1, j] = np.interp(np.arange(t_count - 1), idx, flat[idx, j]) if len(idx) else ident[j]
        a = flat.reshape(t_count, 2, 3)
    return a, trusted


def camera_induced_motion(motion: Motion | None, points: np.ndarray) -> np.ndarray:
    """(T, K, 2): how the camera's motion alone moves image points (T, K, 2) from sample t to t+1.

    Zero where the camera is still, so a static camera's labels are used exactly as they are; steps with an
    untrustworthy fit use the motion of the trusted steps around them (`trusted_camera_affine`).
    """
    out = np.zeros_like(points)
    if motion is None:
        return out
    a, _trusted = trusted_camera_affine(motion)
    moved = np.einsum("tij,tkj->tki", a[:, :, :2], np.nan_to_num(points)) + a[:, None, :, 2]
    induced = moved - np.nan_to_num(points)
    cam = np.abs(a[:, :, 2]).max(axis=1) + np.abs(a[:, :, :2] - np.eye(2)).max(axis=(1, 2))
    moving = cam >= CAMERA_STILL_PER_FRAME
    out[moving] = induced[moving]
    return out


def world_velocity(tracks: TrackSet, motion: Motion | None) -> np.ndarray:
    """(T, K, 2) track motion from t to t+1 with the camera's own motion removed; NaN where absent."""
    c = tracks.centers()
    v = np.full_like(c, np.nan)
    v[:-1] = c[1:] - c[:-1]
    return v - camera_induced_motion(motion, c)


def world_steps(tracks: TrackSet, motion: Motion | None) -> np.ndarray:
    """(T, K, 6): how each track's center and two corners move from t to t+1 *in the world* (the camera's own
    motion at those points removed); NaN where the track is absent at t or t+1.

    Corners as well as the center: an object tipped or turned in a hand changes its box's shape, not only its center.
    """
    b = tracks.boxes_xyxy
    points = [tracks.centers(), b[..., 0:2], b[..., 2:4]]
    out = []
    for p in points:
        d = np.full_like(p, np.nan)
        d[:-1] = p[1:] - p[:-1]
        out.append(d - camera_induced_motion(motion, p))
    return np.concatenate(out, axis=-1)


def camera_uncertainty(motion: Motion | None, tracks: TrackSet, rel_err: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, K) how far the camera-motion estimate may be off at each track, per step (normalized units), and (T,)
    the steps whose fit was not trusted.

    A fraction `rel_err` of the camera-induced motion there (a fit of a hand-held phone's motion is never exact);
    where the step's own fit was not trusted and its motion was interpolated, all of it (the camera may have done
    anything in between) plus the largest trusted step around it.
    """
    c = tracks.centers()
    induced = np.linalg.norm(camera_induced_motion(motion, c), axis=-1)
    unc = rel_err * induced
    bad_fit = np.zeros(c.shape[0], bool)
    if motion is not None:
        _a, trusted = trusted_camera_affine(motion)
        bad_fit = ~trusted
        bad_fit[-1] = False  # the last entry describes no motion
        if bad_fit.any():
            neighbour = np.maximum(np.concatenate([[0.0], induced[:-1].max(axis=1)]),
                                   np.concatenate([induced[1:].max(axis=1), [0.0]]))
            unc = np.where(bad_fit[:, None], induced + neighbour[:, None], unc)
    return unc, bad_fit
