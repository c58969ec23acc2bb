"""Per-sample `observation.state` and `action` (names: vla_builder/schema.py, written to info.json).

Third-person camera: the actor's box is the end effector. state = (ee_x, ee_y, ee_w, ee_h, gripper, actor_visible),
action = (ee_dx, ee_dy, ee_dscale, ee_drot, gripper): the actor's center motion from sample t to t+1 in normalized
image units (the camera's own motion removed), half the log of its area change (a depth proxy: > 0 grows / comes
closer), its rotation in radians (0 for boxes, which carry none), and whether it holds an object.
`actor_visible` is 1 where the actor is labeled at that sample; where it is not (a gap inside its span) the state
keeps its last labeled box — flagged, not claimed — and the motion part of the action is 0 (nothing is invented).
Wrist camera (or no tracks): the camera is the end effector; its ego-motion is the negated scene motion.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.actor import held_mask
from vla_builder.boxes import centers, mapping_record, sizes, stored_image_mapping
from vla_builder.camera_compensation import world_velocity
from vla_builder.egomotion import camera_ego_motion
from vla_builder.pipeline import Stage
from vla_builder.schema import ACTION_NAMES, GRIPPER, STATE_NAMES
from vla_builder.types import Clip, Frames, Trajectory


def smooth_121(x: np.ndarray) -> np.ndarray:
    """Light smoothing along time with a [1, 2, 1] / 4 kernel, ends kept by edge padding.

    Used on flow-derived ego-motion (per-frame estimates are noisy); label-derived motion is left exact.
    """
    if len(x) < 3:
        return x
    p = np.concatenate([x[:1], x, x[-1:]])
    return (p[:-2] + 2 * p[1:-1] + p[2:]) / 4


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """Forward- then backward-fill NaN rows (an actor briefly unlabeled keeps its last box)."""
    out = values.copy()
    valid = ~np.isnan(out[:, 0])
    if not valid.any():
        return np.zeros_like(out)
    idx = np.where(valid, np.arange(len(out)), 0)
    np.maximum.accumulate(idx, out=idx)
    out = out[idx]
    first = int(np.argmax(valid))
    out[:first] = out[first]
    return out


@dataclass
class TrajectoryStage(Stage):
    # (h, w) of the stored image: state and action are expressed in its coordinates (None: the source's)
    image_size: tuple[int, int] | None = None

    name: ClassVar[str] = "trajectory"
    needs: ClassVar[tuple[str, ...]] = ("tracks", "motion", "events", "actor_id")
    makes: ClassVar[tuple[str, ...]] = ("trajectory",)

    def process(self, clip: Clip) -> Clip:
        tracks, motion, events = clip.tracks, clip.motion, clip.events
        assert tracks is not None and motion is not None and events is not None
        t_count = tracks.boxes_xyxy.shape[0]
        actor_id = clip.actor_id
        actor = tracks.index_of(actor_id) if actor_id is not None else None
        gripper = held_mask(events, t_count, actor_id).astype(np.float32)
        if clip.source.camera_kind == "wrist" or actor is None:
            src_w, src_h = clip.frames.source_size_px if clip.frames is not None else (1, 1)
            ego = self._ego(motion, gripper, src_w / src_h)
            return clip.with_(trajectory=self._in_stored_image(ego, clip.frames, sizes=False))
        visible = tracks.present[:, actor]
        boxes = fill_gaps(tracks.boxes_xyxy[:, actor])
        (cx, cy), (w, h) = centers(boxes).T, sizes(boxes).T
        action = np.zeros((t_count, len(ACTION_NAMES)), np.float32)
        # the actor's own motion: its box motion minus what the camera's motion alone would cause there
        filled = tracks.with_boxes(actor, boxes)
        v = world_velocity(filled, motion)[:, actor]
        action[:-1, 0:2] = np.nan_to_num(v[:-1])
        area = np.maximum(w * h, 1e-9)
        action[:-1, 2] = 0.5 * np.diff(np.log(area))
        # a step from or to a sample without the actor has no observed motion: 0, not the held box's artefact
        unseen = ~(visible[:-1] & visible[1:])
        action[:-1][unseen, :GRIPPER] = 0.0
        action[:, GRIPPER] = gripper
        state = np.stack([cx, cy, w, h, np.concatenate([[0.0], gripper[:-1]]), visible.astype(np.float32)],
                         axis=1).astype(np.float32)
        traj = Trajectory(state, STATE_NAMES, action, ACTION_NAMES, follows_camera=False)
        content = clip.frames.size_px if clip.frames is not None else None
        prov = {**clip.provenance, "image_coordinates": mapping_record(content, self.image_size)}
        return clip.with_(trajectory=self._in_stored_image(traj, clip.frames), provenance=prov)

    def _in_stored_image(self, traj: Trajectory, frames: Frames | None, sizes: bool = True) -> Trajectory:
        """Positions, sizes and their motion in the stored image's normalized coordinates (letterbox included)."""
        scale, offset = stored_image_mapping(frames.size_px if frames is not None else None, self.image_size)
        state, action = traj.state.copy(), traj.action.copy()
        state[:, 0:2] = state[:, 0:2] * scale + offset
        if sizes:  # a box's width and height (the camera's zoom factor is no size in the image)
            state[:, 2:4] = state[:, 2:4] * scale
        action[:, 0:2] = action[:, 0:2] * scale
        return dataclasses.replace(traj, state=state.astype(np.float32), action=action.astype(np.float32))

    @staticmethod
    def _ego(motion, gripper: np.ndarray, aspect_w_over_h: float) -> Trajectory:
        t_count = len(gripper)
        # the camera's motion; translation measured at the image centre, roll in pixel-proportional axes
        ego = camera_ego_motion(motion, aspect_w_over_h=aspect_w_over_h)
        action = np.zeros((t_count, len(ACTION_NAMES)), np.float32)
        action[:-1, 0] = ego["x_norm_per_frame"][:-1]
        action[:-1, 1] = ego["y_norm_per_frame"][:-1]
        action[:-1, 2] = ego["zoom_log_per_frame"][:-1]  # > 0: the camera came closer
        action[:-1, 3] = ego["roll_rad_per_frame"][:-1]
        action[:-1, :4] = smooth_121(action[:-1, :4])
        action[:, GRIPPER] = gripper
        pos = np.concatenate([[[0.5, 0.5]], 0.5 + np.cumsum(action[:-1, 0:2], axis=0)])
        size = np.exp(np.concatenate([[0.0], np.cumsum(action[:-1, 2])]))
        # the camera is always "visible": it is the end effector whose motion is measured
        state = np.stack([pos[:, 0], pos[:, 1], size, size, np.concatenate([[0.0], gripper[:-1]]),
                          np.ones(t_count)], axis=1)
        return Trajectory(state.astype(np.float32), STATE_NAMES, action, ACTION_NAMES, follows_camera=True)
