"""One grounded task string per episode: verb + object + spatial relation, all read off the tracks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.pipeline import Stage
from vla_builder.types import Clip, TrackSet

MIN_NET_MOTION = 0.05  # normalized units: less than this is "stays in place"


def direction_words(d: np.ndarray) -> str:
    dx, dy = float(d[0]), float(d[1])
    if abs(dx) >= abs(dy):
        return "to the right" if dx > 0 else "to the left"
    return "down" if dy > 0 else "up"  # image axes: y grows downward (toward the camera on a tabletop)


def relation(obj_box: np.ndarray, ref_box: np.ndarray) -> str:
    """Spatial relation of an object to a reference, in the image: on / left of / right of / above / below."""
    ocx, ocy = (obj_box[0] + obj_box[2]) / 2, (obj_box[1] + obj_box[3]) / 2
    if ref_box[0] <= ocx <= ref_box[2] and ref_box[1] <= ocy <= ref_box[3]:
        return "on"
    rcx, rcy = (ref_box[0] + ref_box[2]) / 2, (ref_box[1] + ref_box[3]) / 2
    dx, dy = ocx - rcx, ocy - rcy
    if abs(dx) >= abs(dy):
        return "to the right of" if dx > 0 else "to the left of"
    return "below" if dy > 0 else "above"


def last_box(tracks: TrackSet, k: int) -> np.ndarray | None:
    present = np.nonzero(tracks.present[:, k])[0]
    return tracks.boxes_xyxy[present[-1], k] if len(present) else None


def nearest_other(tracks: TrackSet, k: int, exclude: set[int]) -> int | None:
    box = last_box(tracks, k)
    if box is None:
        return None
    c = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
    best, best_d = None, np.inf
    for j in range(len(tracks)):
        if j == k or j in exclude:
            continue
        b = last_box(tracks, j)
        if b is None:
            continue
        d = float(np.linalg.norm(c - [(b[0] + b[2]) / 2, (b[1] + b[3]) / 2]))
        if d < best_d:
            best, best_d = j, d
    return best


def net_motion(tracks: TrackSet, k: int) -> np.ndarray:
    present = np.nonzero(tracks.present[:, k])[0]
    c = tracks.centers()[:, k]
    return c[present[-1]] - c[present[0]] if len(present) else np.zeros(2)


@dataclass
class LanguageStage(Stage):
    task: str | None = None  # a fixed task from the recipe overrides the generated one

    name: ClassVar[str] = "language"
    needs: ClassVar[tuple[str, ...]] = ("tracks", "events", "trajectory")
    makes: ClassVar[tuple[str, ...]] = ("task",)

    def process(self, clip: Clip) -> Clip:
        assert clip.tracks is not None and clip.events is not None and clip.trajectory is not None
        text = self.task or describe(clip.tracks, list(clip.events), clip.trajectory)
        return clip.with_(task=text)


def describe(tracks: TrackSet, events: list, trajectory) -> str:
    if len(tracks) == 0 or trajectory.actor_id is None:
        net = trajectory.state[-1, :2] - trajectory.state[0, :2]
        if np.linalg.norm(net) < MIN_NET_MOTION:
            return "hold the camera still"
        return f"move the camera {direction_words(net)}"
    actor = tracks.index_of(trajectory.actor_id)
    actor_name = tracks.class_names[actor]
    carries = [e for e in events if e.kind == "carry"]
    pushes = [e for e in events if e.kind == "push"]
    if carries:
        ev = max(carries, key=lambda e: e.end - e.start)
        obj = tracks.index_of(ev.object_id)
        ref = nearest_other(tracks, obj, {actor})
        if ref is not None:
            rel = relation(last_box(tracks, obj), last_box(tracks, ref))
            return f"put the {tracks.class_names[obj]} {rel} the {tracks.class_names[ref]}"
        return f"move the {tracks.class_names[obj]} {direction_words(net_motion(tracks, obj))}"
    if pushes:
        ev = max(pushes, key=lambda e: e.end - e.start)
        obj = tracks.index_of(ev.object_id)
        return f"push the {tracks.class_names[obj]} {direction_words(net_motion(tracks, obj))}"
    net = net_motion(tracks, actor)
    if np.linalg.norm(net) < MIN_NET_MOTION:
        return f"keep the {actor_name} still"
    ref = nearest_other(tracks, actor, set())
    where = f" toward the {tracks.class_names[ref]}" if ref is not None else ""
    return f"move the {actor_name} {direction_words(net)}{where}"
