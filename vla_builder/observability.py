"""What the footage can show: whether a measurement that supports a claim (world motion along an axis, contact with
the actor) was observable at all, and if not, why.

Pure functions over boxes (normalized xyxy), label flags and the camera fit's inlier ratios. A measurement that is not
observable supports and refutes nothing: the label check (`stages/verify_label.py`) makes such a claim `uncertain`
and records these reasons. The rules:

- **Clipped at the frame edge.** A box that touches the image border along an axis is cut there: its extent along
  that axis is the frame's, not the object's, so a step in which it touches that border (at either end) shows no
  world motion along that axis. A box clipped on the left and right shows no x motion at all.
- **Covering most of the frame.** A box over `FILLS_FRAME` of the image shows no motion (it is clipped everywhere)
  and touches every other box: its contacts and its motion say nothing.
- **Too few labeled samples.** Under `MIN_LABELED_SAMPLES` human-labeled samples of a track (interpolated samples are
  not measurements) can neither confirm nor refute a motion or a contact. A clip without any label (a detector's
  tracks) counts its present samples: there the detections are the measurements (`measured_samples`).
- **Camera fit with few inliers.** Where most of a track's steps had a camera-motion fit with fewer background
  inliers than `TRUSTED_INLIERS`, its world motion is the camera's guess, not a measurement.
- **Actor not visible.** Contact needs the actor's box on enough labeled samples.
- **Too short.** An episode under `MIN_STILL_SPAN_S` cannot show that something never moved.

"Moved" is shown by motion along any observable axis; "never moved" needs both axes observed on most steps
(`MIN_COVERAGE`): an unobserved step may hide the motion.

The same question for the gripper channel (`gripper_known`): a gripper value of 0 reads as "open / holds nothing",
which is a claim only where something could tell open from closed — a labeled hand or gripper as the actor, seen
(measured, not interpolated) at that sample, with a labeled object in view to hold, outside an interval the interactions stage left `uncertain` (except an
uncertain contact with a box over most of the frame — a surface, no object held in view — `masks_gripper: false`).
Elsewhere (a person or a body as the actor, the camera as the actor, an actor out of view) the dataset writes
`observation.gripper_known` = 0 so that trainers can mask the gripper's loss.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vla_builder.actor import is_manipulator
from vla_builder.camera_compensation import TRUSTED_INLIERS  # a fit with fewer background inliers: no measurement
from vla_builder.camera_compensation import world_steps
from vla_builder.types import Clip, Motion, TrackSet

EDGE_MARGIN = 0.01  # normalized: a box side within this of the border (4 px of a 427 px frame) is cut by it
FILLS_FRAME = 0.5  # a box over this fraction of the image covers most of the frame
MIN_LABELED_SAMPLES = 6  # fewer human-labeled samples of a track measure nothing (two or three points: a label's jitter)
MIN_OBSERVED_STEPS = 4  # steps along an axis needed to show motion along it
MIN_COVERAGE = 0.8  # fraction of a track's steps observed (per axis) needed to say it never moved
MIN_STILL_SPAN_S = 0.5  # an episode shorter than this cannot show that something never moved (a hand's act takes longer)
MAX_UNTRUSTED = 0.5  # more than this fraction of a track's steps with an untrusted fit: world motion unobservable
AXES = ("x", "y")


def clipped_axes(boxes_xyxy: np.ndarray, margin: float = EDGE_MARGIN) -> np.ndarray:
    """(..., 2) bool: the box touches the frame's border along x (left/right) and along y (top/bottom)."""
    b = boxes_xyxy
    x = (b[..., 0] <= margin) | (b[..., 2] >= 1.0 - margin)
    y = (b[..., 1] <= margin) | (b[..., 3] >= 1.0 - margin)
    return np.stack([x, y], axis=-1) & np.isfinite(b[..., :1])


def frame_fraction(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(...) fraction of the image the (normalized) box covers; NaN where absent."""
    b = np.clip(boxes_xyxy, 0.0, 1.0)
    return (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])


def fills_frame(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(...) bool: the box covers most of the frame."""
    return np.nan_to_num(frame_fraction(boxes_xyxy), nan=0.0) > FILLS_FRAME


def observable_steps(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(T, 2) bool for one track's (T, 4) boxes: the step t -> t+1 shows world motion along x / y — the box present
    at both ends, cut by no border along that axis at either end, covering most of the frame at neither."""
    t_count = boxes_xyxy.shape[0]
    ok = np.isfinite(boxes_xyxy[:, :1]) & ~clipped_axes(boxes_xyxy) & ~fills_frame(boxes_xyxy)[:, None]
    out = np.zeros((t_count, 2), bool)
    out[:-1] = ok[:-1] & ok[1:]
    return out


def uncut_components(boxes_xyxy: np.ndarray, margin: float = EDGE_MARGIN) -> np.ndarray:
    """(..., 6) bool, in `world_steps`' order (center x, y, corner x0, y0, corner x1, y1): the coordinate is the
    object's own — its side is not cut by the border (the center: neither side along that axis), and the box does
    not cover most of the frame. A box leaving the view at the right still shows its left side's motion."""
    b = boxes_xyxy
    lo, hi = b[..., 0:2] > margin, b[..., 2:4] < 1.0 - margin
    ok = np.concatenate([lo & hi, lo, hi], axis=-1)
    return ok & np.isfinite(b[..., :1]) & ~fills_frame(b)[..., None]


def observed_world_steps(tracks: TrackSet, motion: Motion | None) -> tuple[np.ndarray, np.ndarray]:
    """The world motion that the boxes can show: ((T, K, 6), (T, K, 2)).

    The first: `world_steps` with every component NaN where its side is cut by the border (or the box fills the
    frame) at either end of the step — a clipped side moves with the frame, not the object. The second: per axis,
    the step of the box's observable part — its center where both sides are uncut, else the one uncut side — NaN
    where neither is, so a hand entering from the bottom edge still shows its up / down motion by its top side."""
    steps = world_steps(tracks, motion)
    ok = uncut_components(tracks.boxes_xyxy)
    ok_step = np.zeros_like(ok)
    ok_step[:-1] = ok[:-1] & ok[1:]
    steps = np.where(ok_step, steps, np.nan)
    xy = steps[..., 0:2].copy()
    for side in (steps[..., 2:4], steps[..., 4:6]):
        xy = np.where(np.isnan(xy), side, xy)
    return steps, xy


def label_jitter(steps_xy: np.ndarray, floor: float) -> float:
    """A track's label jitter per sample, per axis (normalized units), from its (T, 2) observed world steps: a human
    box wobbles around the object from sample to sample, so the change of consecutive steps (noise of variance 6
    sigma^2 for independent jitter; smooth motion cancels) gives sigma robustly (median absolute value). At least
    `floor` (interpolated labels have no jitter, but their rounding still does)."""
    d2 = np.diff(steps_xy, axis=0)
    d2 = np.abs(d2[np.isfinite(d2)])
    if len(d2) < 4:
        return floor
    return max(floor, float(1.4826 * np.median(d2) / np.sqrt(6.0)))


def measured_samples(tracks) -> np.ndarray:
    """(T, K) bool: the samples that are measurements — the human-labeled ones where the clip has labels (a filled
    or interpolated box is not), else every present one (a detector's tracks: its boxes are what was seen)."""
    return tracks.labeled if tracks.labeled.any() else tracks.present


def trusted_fit(inlier_ratio: np.ndarray | None, t_count: int) -> np.ndarray:
    """(T,) bool: the camera-motion fit of step t had enough background inliers (no fit given: a still camera)."""
    if inlier_ratio is None:
        return np.ones(t_count, bool)
    return np.asarray(inlier_ratio, float)[:t_count] >= TRUSTED_INLIERS


@dataclass(frozen=True)
class TrackObservability:
    """What one track's boxes can show, with the counts behind it."""

    name: str  # the track's class, for the reasons
    labeled_samples: int
    present_steps: int  # steps t -> t+1 with the box at both ends
    observed_steps: tuple[int, int]  # of those, the ones that show motion along x, along y
    steps: int  # the episode's steps (T - 1)
    clipped_steps: tuple[int, int]  # present steps cut by the border along x, along y
    filling_samples: int  # samples in which the box covers most of the frame
    untrusted_fit_steps: int  # present steps whose camera fit had few inliers
    step_s: float | None = None  # seconds between samples (None: unknown)

    def _common(self) -> list[str]:
        why = []
        if self.labeled_samples < MIN_LABELED_SAMPLES:
            why.append(f"only {self.labeled_samples} labeled samples of the {self.name} "
                       f"(fewer than {MIN_LABELED_SAMPLES} measure nothing)")
        if self.filling_samples > self.labeled_samples / 2:
            why.append(f"the {self.name}'s box covers most of the frame (over {FILLS_FRAME:.0%}) on "
                       f"{self.filling_samples} samples")
        return why

    def motion_unobservable(self, axes: tuple[int, ...] = (0, 1), coverage: float = 0.0) -> list[str]:
        """Why world motion along `axes` cannot be measured (empty: it can). `coverage`: the fraction of the
        episode's steps that must be observed along every one of them (to say it never moved)."""
        why = self._common()
        if coverage > 0 and self.step_s is not None and self.steps * self.step_s < MIN_STILL_SPAN_S:
            why.append(f"the episode spans {self.steps * self.step_s:.2f} s: too short to show that the {self.name} "
                       f"never moved (needs {MIN_STILL_SPAN_S} s)")
        if self.present_steps and self.untrusted_fit_steps > MAX_UNTRUSTED * self.present_steps:
            why.append(f"the camera fit had few background inliers (< {TRUSTED_INLIERS}) on "
                       f"{self.untrusted_fit_steps} of the {self.name}'s {self.present_steps} steps")
        for a in axes:
            n = self.observed_steps[a]
            need = max(MIN_OBSERVED_STEPS, int(np.ceil(coverage * self.steps)))
            if n < need:
                clipped = (f"; its box touches the frame edge along {AXES[a]} on {self.clipped_steps[a]}"
                           if self.clipped_steps[a] else "")
                why.append(f"{AXES[a]} motion of the {self.name} observed on {n} of {self.steps} steps (needs "
                           f"{need}){clipped}")
        return why

    def motion_observable_axes(self) -> tuple[int, ...]:
        """The axes along which some world motion can be shown."""
        return tuple(a for a in (0, 1) if not self.motion_unobservable((a,)))

    def contact_unobservable(self) -> list[str]:
        """Why this track's contacts cannot be measured (empty: they can)."""
        return self._common()


def track_observability(name: str, boxes_xyxy: np.ndarray, labeled: np.ndarray,
                        inlier_ratio: np.ndarray | None, step_s: float | None = None) -> TrackObservability:
    """The counts for one track: (T, 4) normalized boxes (NaN where absent), (T,) labeled flags, (T,) inlier ratios
    of the camera fit per step (None: no fit, a still camera)."""
    t_count = boxes_xyxy.shape[0]
    present = np.isfinite(boxes_xyxy[:, 0])
    both = np.zeros(t_count, bool)
    both[:-1] = present[:-1] & present[1:]
    clipped = clipped_axes(boxes_xyxy)
    clipped_step = np.zeros((t_count, 2), bool)
    clipped_step[:-1] = clipped[:-1] | clipped[1:]
    obs = observable_steps(boxes_xyxy)
    untrusted = both & ~trusted_fit(inlier_ratio, t_count)
    return TrackObservability(
        name=name, labeled_samples=int((labeled & present).sum()), present_steps=int(both.sum()),
        observed_steps=(int(obs[:, 0].sum()), int(obs[:, 1].sum())), steps=max(t_count - 1, 0),
        clipped_steps=(int((clipped_step[:, 0] & both).sum()), int((clipped_step[:, 1] & both).sum())),
        filling_samples=int((fills_frame(boxes_xyxy) & present).sum()), untrusted_fit_steps=int(untrusted.sum()),
        step_s=step_s)


GRIPPER_KNOWN = "observation.gripper_known"  # the dataset feature: (1,) float32 per frame
GRIPPER_KNOWN_INFO = {"gripper_known": (  # info.json, beside STATE_INFO
    "1 where the gripper value (state and action) is evidence: the actor is a labeled hand or gripper, seen at this "
    "sample (labeled or detected, not interpolated), with a labeled object in view, outside an uncertain interaction; 0 where nothing tells open from closed "
    "(a person or the camera as the actor, the actor out of view, nothing to hold): a gripper of 0 there claims "
    "nothing — mask its loss")}


def is_manipulator_class(name: str) -> bool:
    """A class whose *name* says hand or gripper (not a person, a body, an animal): the actor rule
    (`actor.is_manipulator`) without the recipe's `actor:` — the gripper channel and grasp words need a grasping
    thing on the footage, not a recipe's choice of actor (`actor: person` on people footage keeps the mask at 0)."""
    return is_manipulator(name, None)


def actor_is_manipulator(clip: Clip) -> bool:
    """The clip's actor is a labeled hand or gripper (its class names one), not a person, a body or the camera."""
    tracks = clip.tracks
    if clip.actor_id is None or tracks is None or clip.actor_id not in {int(i) for i in tracks.ids}:
        return False
    return is_manipulator_class(tracks.class_names[tracks.index_of(clip.actor_id)])


def gripper_known(clip: Clip, t_count: int) -> np.ndarray:
    """(T,) float32: 1 where the clip's gripper value is evidence (see the module's docstring), else 0."""
    known = np.zeros(t_count, np.float32)
    tracks = clip.tracks
    if clip.source.camera_kind == "wrist" or not actor_is_manipulator(clip) or tracks is None:
        return known
    ka = tracks.index_of(clip.actor_id)
    boxes = tracks.boxes_xyxy[:t_count]
    seen = measured_samples(tracks)[:t_count, ka] & ~fills_frame(boxes[:, ka])  # an occluded hand: not seen
    others = np.ones(len(tracks), bool)
    others[ka] = False
    something = (tracks.present[:t_count] & others).any(axis=1)
    ok = seen & something
    for e in clip.events or ():
        if e.kind == "uncertain" and e.actor_id == clip.actor_id and e.detail.get("masks_gripper", True):
            ok[e.start: e.end + 1] = False
    known[: len(ok)] = ok
    return known
