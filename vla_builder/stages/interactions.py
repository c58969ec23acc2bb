"""Who acts, and on what: the actor, and the intervals in which it holds or pushes an object.

Derived from geometry only, so every claim can be rechecked: an object is *held* while it moves together with the
actor and the actor's box covers it; *pushed* while it moves together with the actor and only touches it. A pause
inside a carry (both still, relative offset unchanged, still in contact) does not end the hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.pipeline import Stage
from vla_builder.types import Clip, Event, Motion, TrackSet

ACTOR_CLASS_HINTS = ("hand", "gripper", "end effector", "end_effector", "robot", "arm", "claw")


APPROACH_WOBBLE = 0.02  # normalized units an approaching hand may drift away from its target in one sample
CAMERA_STILL_PER_FRAME = 1e-3  # normalized units: camera motion below this is fitting noise, not a pan


def camera_induced_motion(motion: Motion | None, points: np.ndarray) -> np.ndarray:
    """(T, K, 2): how the camera's motion alone moves image points (T, K, 2) from sample t to t+1.

    Zero where the camera is still or the fit is untrustworthy (few background inliers), so a static camera's
    labels are used exactly as they are.
    """
    out = np.zeros_like(points)
    if motion is None:
        return out
    a = motion.global_affine
    moved = np.einsum("tij,tkj->tki", a[:, :, :2], np.nan_to_num(points)) + a[:, None, :, 2]
    induced = moved - np.nan_to_num(points)
    cam = np.abs(a[:, :, 2]).max(axis=1) + np.abs(a[:, :, :2] - np.eye(2)).max(axis=(1, 2))
    trust = (motion.global_inlier_ratio >= 0.5) & (cam >= CAMERA_STILL_PER_FRAME)
    out[trust] = induced[trust]
    return out


def world_velocity(tracks: TrackSet, motion: Motion | None) -> np.ndarray:
    """(T, K, 2) track motion from t to t+1 with the camera's own motion removed; NaN where absent."""
    c = tracks.centers()
    v = np.full_like(c, np.nan)
    v[:-1] = c[1:] - c[:-1]
    return v - camera_induced_motion(motion, c)


def path_length(centers: np.ndarray) -> float:
    d = np.linalg.norm(np.diff(centers, axis=0), axis=-1)
    return float(np.nansum(d))


def choose_actor(tracks: TrackSet, actor_class: str | None) -> tuple[int | None, str]:
    """Index of the actor track and why it was chosen."""
    if len(tracks) == 0:
        return None, "no tracks: the camera's own motion is the action"
    centers = tracks.centers()
    activity = np.array([path_length(centers[:, k]) for k in range(len(tracks))])
    names = [n.lower() for n in tracks.class_names]

    def most_active(cands: list[int]) -> int:
        return max(cands, key=lambda k: (activity[k], tracks.present[:, k].sum(), -k))

    if actor_class:
        cands = [k for k, n in enumerate(names) if n == actor_class.lower()]
        if cands:
            k = most_active(cands)
            return k, f"class '{actor_class}' from the recipe (track {int(tracks.ids[k])}, the most active of {len(cands)})"
        note = f"class '{actor_class}' from the recipe is not in the labels ({sorted(set(names))}); "
    else:
        note = ""
    cands = [k for k, n in enumerate(names) if any(h in n for h in ACTOR_CLASS_HINTS)]
    if cands:
        k = most_active(cands)
        return k, note + f"a '{tracks.class_names[k]}' track (track {int(tracks.ids[k])}), the most active of {len(cands)}"
    k = most_active(list(range(len(tracks))))
    return k, note + f"the most active track (track {int(tracks.ids[k])}, class '{tracks.class_names[k]}')"


def is_manipulator(class_name: str, recipe_actor: str | None) -> bool:
    name = class_name.lower()
    return (recipe_actor is not None and name == recipe_actor.lower()) or any(h in name for h in ACTOR_CLASS_HINTS)


def _overlap_of_object(actor: np.ndarray, obj: np.ndarray, grow: float = 0.02) -> np.ndarray:
    """Fraction of the object's box covered by the (slightly grown) actor box, per sample; 0 where absent."""
    ax0, ay0, ax1, ay1 = (actor[:, i] for i in range(4))
    ax0, ay0, ax1, ay1 = ax0 - grow, ay0 - grow, ax1 + grow, ay1 + grow
    ox0, oy0, ox1, oy1 = (obj[:, i] for i in range(4))
    iw = np.clip(np.minimum(ax1, ox1) - np.maximum(ax0, ox0), 0, None)
    ih = np.clip(np.minimum(ay1, oy1) - np.maximum(ay0, oy0), 0, None)
    area = np.maximum((ox1 - ox0) * (oy1 - oy0), 1e-12)
    return np.nan_to_num(iw * ih / area)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] of each run of True."""
    runs, start = [], None
    for t, m in enumerate(mask):
        if m and start is None:
            start = t
        elif not m and start is not None:
            runs.append((start, t - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


@dataclass
class InteractionStage(Stage):
    actor: str | None = None
    min_speed_per_s: float = 0.03  # normalized units / s below which an object counts as still
    follow_tolerance: float = 0.3  # |v_obj - v_actor| <= tol * |v_actor| to count as moving together
    grasp_overlap: float = 0.25  # fraction of the object's box the actor must cover to hold it (else: push)
    max_pause_s: float = 1.0  # a still pause inside a carry up to this long keeps the hold

    name: ClassVar[str] = "interactions"
    needs: ClassVar[tuple[str, ...]] = ("tracks", "motion")
    makes: ClassVar[tuple[str, ...]] = ("events", "subtasks", "actor_id")

    def process(self, clip: Clip) -> Clip:
        tracks, frames = clip.tracks, clip.frames
        assert tracks is not None and frames is not None
        actor, reason = choose_actor(tracks, self.actor)
        prov = {**clip.provenance, "actor": reason}
        events = presence_events(tracks)
        if actor is None:
            return clip.with_(events=tuple(events), subtasks=(), actor_id=None, provenance=prov)
        actor_id = int(tracks.ids[actor])
        if not is_manipulator(tracks.class_names[actor], self.actor):
            # a pedestrian walking beside another is not carrying it: only hands/grippers grasp and push
            prov["interactions"] = f"none inferred: actor class '{tracks.class_names[actor]}' is not a manipulator"
        else:
            # every manipulator's holds and pushes (a handover needs the receiving hand's too)
            hands = [k for k, n in enumerate(tracks.class_names) if is_manipulator(n, self.actor)]
            v = world_velocity(tracks, clip.motion)
            # labels are whole pixels: two boxes moving together differ by up to ~1 px per axis per sample
            quantum = 2.0 / min(frames.source_size_px)
            for k in hands:
                events += self.find_events(tracks, k, frames.fps, v, quantum)
            events += approach_events(tracks, actor, events, frames.fps, self.min_speed_per_s)
        events.sort(key=lambda ev: (ev.start, ev.end, ev.kind, ev.actor_id))
        subtasks = segment_subtasks(events, actor_id, len(frames), max_gap=int(round(self.max_pause_s * frames.fps)))
        return clip.with_(events=tuple(events), subtasks=tuple(subtasks), actor_id=actor_id, provenance=prov)

    def find_events(self, tracks: TrackSet, actor: int, fps: int, v: np.ndarray, quantum: float = 0.0) -> list[Event]:
        """Grasp / carry / place and push events of one manipulator track; v = world_velocity(...)."""
        centers = tracks.centers()
        boxes = tracks.boxes_xyxy
        t_count = boxes.shape[0]
        v_min = self.min_speed_per_s / fps
        va = v[:, actor]
        speed_a = np.linalg.norm(va, axis=-1)
        actor_id = int(tracks.ids[actor])
        candidates: list[tuple[int, np.ndarray, np.ndarray]] = []  # (object, together mask, covered mask)
        for o in range(len(tracks)):
            if o == actor or is_manipulator(tracks.class_names[o], self.actor):
                continue
            vo = v[:, o]
            speed_o = np.linalg.norm(vo, axis=-1)
            overlap = _overlap_of_object(boxes[:, actor], boxes[:, o])
            follow = np.linalg.norm(vo - va, axis=-1) <= np.maximum(self.follow_tolerance * speed_a, v_min) + quantum
            together = np.nan_to_num(speed_o) > v_min
            together &= np.nan_to_num(follow, nan=0).astype(bool) & (overlap > 0)
            candidates.append((o, together, overlap >= self.grasp_overlap))
        events: list[Event] = []
        max_pause = int(round(self.max_pause_s * fps))
        for o, together, covered in candidates:
            held = together & covered
            held = self._bridge_pauses(held, centers[:, actor], centers[:, o], covered, max_pause)
            obj_id = int(tracks.ids[o])
            for s, e in _runs(held):
                if e - s + 1 < 2:
                    continue
                events.append(Event("grasp", s, s, actor_id, obj_id))
                events.append(Event("carry", s, e, actor_id, obj_id))
                events.append(Event("place", min(e + 1, t_count - 1), min(e + 1, t_count - 1), actor_id, obj_id))
            for s, e in _runs(together & ~covered):
                if e - s + 1 >= 2:
                    events.append(Event("push", s, e, actor_id, obj_id))
        return events

    @staticmethod
    def _bridge_pauses(held, c_actor, c_obj, covered, max_pause: int) -> np.ndarray:
        """Join held runs separated by a short still pause in which the object stays where the actor holds it."""
        held = held.copy()
        runs = _runs(held)
        for (s0, e0), (s1, _e1) in zip(runs, runs[1:], strict=False):
            gap = slice(e0 + 1, s1)
            if s1 - e0 - 1 > max_pause or not covered[gap].all():
                continue
            rel = c_obj[e0 + 1 : s1 + 1] - c_actor[e0 + 1 : s1 + 1]
            if np.all(np.linalg.norm(rel - rel[0], axis=-1) < 0.01):
                held[gap] = True
        return held


def held_mask(events: tuple[Event, ...] | list[Event], t_count: int, actor_id: int | None) -> np.ndarray:
    """gripper[t] = 1 while the actor holds an object (the command at t moves it from t to t+1)."""
    mask = np.zeros(t_count, bool)
    for ev in events:
        if ev.kind == "carry" and ev.actor_id == actor_id:
            mask[ev.start : ev.end + 1] = True
    return mask


def presence_events(tracks: TrackSet) -> list[Event]:
    """appear / leave: a track that starts after the first sample or ends before the last."""
    events = []
    present = tracks.present
    t_count = present.shape[0]
    for k in range(len(tracks)):
        on = np.nonzero(present[:, k])[0]
        if not len(on):
            continue
        tid = int(tracks.ids[k])
        if on[0] > 0:
            events.append(Event("appear", int(on[0]), int(on[0]), tid))
        if on[-1] < t_count - 1:
            events.append(Event("leave", int(on[-1]), int(on[-1]), tid))
    return events


def approach_events(tracks: TrackSet, actor: int, events: list[Event], fps: int, min_speed_per_s: float) -> list[Event]:
    """approach: the run of samples before a grasp/push in which the actor moves toward that object."""
    actor_id = int(tracks.ids[actor])
    centers = tracks.centers()
    v_min = min_speed_per_s / fps
    out = []
    starts = sorted((e for e in events if e.actor_id == actor_id and e.kind in ("grasp", "push")),
                    key=lambda e: e.start)
    floor = 0
    for ev in starts:
        o = tracks.index_of(ev.object_id)
        dist = np.linalg.norm(centers[:, actor] - centers[:, o], axis=-1)
        t = ev.start - 1
        while t >= floor and np.linalg.norm(centers[t + 1, actor] - centers[t, actor]) <= v_min:
            t -= 1  # a still pause at the object is part of the approach's end, not its start
        end = t
        # back in time while the actor moves and is not getting farther (a small wobble at the end is allowed)
        while (t >= floor and dist[t] + APPROACH_WOBBLE >= dist[t + 1]
               and np.linalg.norm(centers[t + 1, actor] - centers[t, actor]) > v_min):
            t -= 1
        if end - t >= 2:
            out.append(Event("approach", t + 1, ev.start - 1, actor_id, ev.object_id))
        floor = max(floor, ev.end + 1)
    return out


def segment_subtasks(events: list[Event], actor_id: int, t_count: int, max_gap: int) -> list[Event]:
    """Cut the episode into consecutive subtasks: reach -> carry/push/hand over -> retreat (or one 'move')."""
    acts = sorted((e for e in events if e.actor_id == actor_id and e.kind in ("carry", "push")), key=lambda e: e.start)
    subtasks: list[Event] = []
    cursor = 0
    for ev in acts:
        if ev.start > cursor:
            subtasks.append(Event("reach", cursor, ev.start - 1, actor_id, ev.object_id))
        kind = ev.kind
        if kind == "carry":
            # handed over: another manipulator's carry of the same object starts as this one ends
            receiver = [e for e in events if e.kind == "carry" and e.object_id == ev.object_id
                        and e.actor_id != actor_id and 0 <= e.start - ev.end <= max_gap + 1]
            if receiver:
                subtasks.append(Event("handover", ev.start, ev.end, actor_id, ev.object_id,
                                      {"to": receiver[0].actor_id}))
                cursor = ev.end + 1
                continue
        subtasks.append(Event(kind, ev.start, ev.end, actor_id, ev.object_id))
        cursor = ev.end + 1
    if cursor <= t_count - 1:
        subtasks.append(Event("retreat" if acts else "move", cursor, t_count - 1, actor_id,
                              acts[-1].object_id if acts else None))
    return subtasks
