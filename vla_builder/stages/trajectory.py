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

from vla_builder.egomotion import camera_ego_motion
from vla_builder.pipeline import Stage
from vla_builder.schema import ACTION_NAMES, GRIPPER, STATE_NAMES  # noqa: F401 — the schema's one home
from vla_builder.stages.interactions import held_mask, world_velocity
from vla_builder.types import Clip, Frames, TrackSet, Trajectory


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


# written into info.json with the state and action features (the `info` entry of each): what the numbers mean
STATE_INFO = {"coordinates": "ee_x, ee_y, ee_w, ee_h: normalized coordinates of the stored image (x / its width, "
                             "y / its height, letterbox included); per-episode mapping from the source in "
                             "meta/provenance.jsonl image_coordinates",
              "actor_visible": "1 where the actor is labeled at this sample; 0: the box is the last labeled one, "
                               "kept, not observed",
              "gripper": "1 if the actor held an object at the previous step"}
ACTION_INFO = {"coordinates": "ee_dx, ee_dy: the actor's motion t -> t+1 in the stored image's normalized units, the "
                              "camera's motion removed; 0 for steps from or to a sample without the actor",
               "gripper": "1 while the actor holds an object (the command at t moves it from t to t+1)"}


def stored_image_mapping(frames: Frames | None, image_size_hw: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    """(scale, offset), each (2,) for (x, y): normalized source coordinates -> normalized coordinates of the stored
    image, which centers the working-size frame on an `image_size_hw` canvas (the sink's letterbox).

    x_stored = x_source * scale_x + offset_x (likewise y): a box written with the frame lands on the object.
    """
    if frames is None or image_size_hw is None:
        return np.ones(2), np.zeros(2)
    canvas_h, canvas_w = image_size_hw
    w, h = frames.size_px
    x0, y0 = (canvas_w - w) // 2, (canvas_h - h) // 2  # as sinks.lerobot.letterbox places it
    return np.array([w / canvas_w, h / canvas_h]), np.array([x0 / canvas_w, y0 / canvas_h])


def to_stored_image(tracks: TrackSet, scale: np.ndarray, offset: np.ndarray) -> TrackSet:
    """Tracks in the stored image's normalized coordinates (see `stored_image_mapping`)."""
    s4, o4 = np.tile(scale, 2), np.tile(offset, 2)
    return dataclasses.replace(tracks, boxes_xyxy=tracks.boxes_xyxy * s4 + o4)


def mapping_record(frames: Frames | None, image_size_hw: tuple[int, int] | None) -> dict:
    scale, offset = stored_image_mapping(frames, image_size_hw)
    return {"convention": "state, VQA boxes and traces are normalized coordinates of the stored image (letterbox "
                          "included): x_stored = x_source * scale_x + offset_x, y likewise",
            "scale": [round(float(v), 6) for v in scale], "offset": [round(float(v), 6) for v in offset],
            "stored_size_px": list(image_size_hw[::-1]) if image_size_hw else None,
            "content_size_px": list(frames.size_px) if frames is not None else None}


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
        actor_id, reason = clip.actor_id, clip.actor_reason or ""
        actor = tracks.index_of(actor_id) if actor_id is not None else None
        gripper = held_mask(events, t_count, actor_id).astype(np.float32)
        if clip.source.camera_kind == "wrist" or actor is None:
            src_w, src_h = clip.frames.source_size_px if clip.frames is not None else (1, 1)
            ego = self._ego(motion, gripper, reason, src_w / src_h)
            return clip.with_(trajectory=self._in_stored_image(ego, clip.frames, sizes=False))
        visible = tracks.present[:, actor]
        boxes = fill_gaps(tracks.boxes_xyxy[:, actor])
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
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
        traj = Trajectory(state, STATE_NAMES, action, ACTION_NAMES, int(tracks.ids[actor]), reason)
        prov = {**clip.provenance, "image_coordinates": mapping_record(clip.frames, self.image_size)}
        return clip.with_(trajectory=self._in_stored_image(traj, clip.frames), provenance=prov)

    def _in_stored_image(self, traj: Trajectory, frames: Frames | None, sizes: bool = True) -> Trajectory:
        """Positions, sizes and their motion in the stored image's normalized coordinates (letterbox included)."""
        scale, offset = stored_image_mapping(frames, self.image_size)
        state, action = traj.state.copy(), traj.action.copy()
        state[:, 0:2] = state[:, 0:2] * scale + offset
        if sizes:  # a box's width and height (the camera's zoom factor is no size in the image)
            state[:, 2:4] = state[:, 2:4] * scale
        action[:, 0:2] = action[:, 0:2] * scale
        return dataclasses.replace(traj, state=state.astype(np.float32), action=action.astype(np.float32))

    @staticmethod
    def _ego(motion, gripper: np.ndarray, reason: str, aspect_w_over_h: float) -> Trajectory:
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
        return Trajectory(state.astype(np.float32), STATE_NAMES, action, ACTION_NAMES, None,
                          f"camera ego-motion ({reason})" if "camera" not in reason else reason)
