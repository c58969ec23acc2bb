"""Camera ego-motion from the global (background) image motion — the action of a wrist / egocentric camera.

`Motion.global_affine[t]` maps where a scene point is in sample t to where it is in sample t+1, in normalized image
units (x / width, y / height, origin at the top-left corner). The camera moves the other way:

* translation: the image *center* (0.5, 0.5) is displaced by d = A @ (0.5, 0.5, 1) - (0.5, 0.5); the camera's image
  translation is -d (camera pans right -> the scene slides left). Using A[:, 2] instead would mix in the
  translation that a zoom or roll about the top-left origin produces.
* roll: the scene turns by theta in the image (x toward y: clockwise on screen, as in
  `Motion.camera_scale_rotation`); the camera rolled by -theta about its optical axis.
* zoom: log of the scene's scale change; > 0 when the scene grows, i.e. the camera moved forward (closer). This
  one is *not* negated: it is already the camera's forward motion as the image shows it.

All values are per sample step (t -> t+1); the last entry is 0 (there is no next sample).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_builder.kernels import reference as ref
from vla_builder.types import Motion

EGO_KEYS = ("x_norm_per_frame", "y_norm_per_frame", "roll_rad_per_frame", "zoom_log_per_frame")


def camera_ego_motion(motion: Motion, *, aspect_w_over_h: float) -> dict[str, np.ndarray]:
    """Per-sample camera motion from the global affine (see the module doc for the conventions).

    Returns (T,) arrays: `x_norm_per_frame`, `y_norm_per_frame` (camera translation as the image shows it, in
    normalized image units; +x right, +y down), `roll_rad_per_frame` (camera roll about the optical axis, + turns
    the image x axis toward y) and `zoom_log_per_frame` (log scene scale change; + = camera moved forward), plus
    `inlier_ratio` (how much of the background agreed with the fit; 0 = no fit).
    `aspect_w_over_h` (width / height of the displayed frames) is required: normalized units stretch x and y
    differently on non-square frames, so a roll read without it is off by the aspect (17 % too large on 16:9).
    """
    a = np.asarray(motion.global_affine, dtype=np.float64)
    center = np.array([0.5, 0.5, 1.0])
    shift = a @ center - center[:2]  # (T, 2) where the image center went
    # back to pixel-proportional axes (A_px = S A_n S^-1, S = diag(w, h)) so that cos/sin are those of a rotation
    s_cos = 0.5 * (a[:, 0, 0] + a[:, 1, 1])
    s_sin = 0.5 * (a[:, 1, 0] / aspect_w_over_h - a[:, 0, 1] * aspect_w_over_h)
    det = a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]
    return {
        "x_norm_per_frame": -shift[:, 0],
        "y_norm_per_frame": -shift[:, 1],
        "roll_rad_per_frame": -np.arctan2(s_sin, s_cos),
        "zoom_log_per_frame": 0.5 * np.log(np.maximum(np.abs(det), 1e-12)),
        "inlier_ratio": np.asarray(motion.global_inlier_ratio, dtype=np.float64),
    }


def global_motion_for_video(path: str | Path, max_side_px: int = 320, exclude_bottom_frac: float = 0.0,
                            static_mask: np.ndarray | None = None, exclude_dark: bool = True,
                            method: str = "dis", preset: str = "fast", max_frames: int | None = None) -> Motion:
    """Decode `path` and fit the reference global motion (DIS flow + RANSAC similarity) to each frame step.

    Pixels left out of the fit (they do not show the scene, or move with the camera):
    * the bottom `exclude_bottom_frac` of the image (a gripper's fingers in a wrist view),
    * where `static_mask` (any size, bool, True = usable scene) is False,
    * with `exclude_dark`, pixels that stay black all video long (the outside of a fisheye image circle): their zero
      flow would otherwise vote for "no motion".
    Only the first `max_frames` frames when given. All gray frames are held in memory (a study tool; the
    pipeline's MotionStage works on decoded clips).
    """
    from itertools import islice

    import cv2

    from vla_builder.sources.video import choose_decoder, probe

    info = probe(Path(path))
    decoder, _how = choose_decoder(info, "auto")
    grays = [ref.to_gray(rgb, max_side_px) for _i, _pts, rgb in islice(decoder.frames(info), max_frames)]
    if len(grays) < 2:
        raise ValueError(f"{path}: need at least 2 frames for motion, decoded {len(grays)}")
    t_count = len(grays)
    h, w = grays[0].shape
    mask = np.ones((h, w), bool)
    if exclude_bottom_frac > 0:
        mask[int(round(h * (1 - exclude_bottom_frac))):] = False
    if static_mask is not None:
        mask &= cv2.resize(np.asarray(static_mask, np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    if exclude_dark:
        brightest = np.max(np.stack(grays[:: max(1, t_count // 50)]), axis=0)
        mask &= cv2.erode((brightest > 24).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    affine = np.tile(np.array([[1.0, 0, 0], [0, 1.0, 0]]), (t_count, 1, 1))
    inliers, energy = np.zeros(t_count), np.zeros(t_count)
    for t in range(t_count - 1):
        flow = ref.dense_flow(grays[t], grays[t + 1], method, preset)
        affine[t], inliers[t] = ref.global_motion_norm(flow, mask)
        energy[t] = ref.motion_energy(grays[t], grays[t + 1])
    return Motion(affine, inliers, np.zeros((t_count, 0, 2)), energy,
                  f"reference ({method} {preset}, {w}x{h}, {int(mask.sum())} px in the background mask)")


def ego_motion_for_video(path: str | Path, max_side_px: int = 320, exclude_bottom_frac: float = 0.0,
                         static_mask: np.ndarray | None = None, exclude_dark: bool = True,
                         max_frames: int | None = None, preset: str = "fast") -> dict[str, np.ndarray]:
    """`camera_ego_motion` of a video (native frame rate: one entry per decoded frame; see global_motion_for_video)."""
    from vla_builder.sources.video import probe

    motion = global_motion_for_video(path, max_side_px, exclude_bottom_frac, static_mask, exclude_dark,
                                     preset=preset, max_frames=max_frames)
    info = probe(Path(path))
    return camera_ego_motion(motion, aspect_w_over_h=info.width_px / info.height_px)
