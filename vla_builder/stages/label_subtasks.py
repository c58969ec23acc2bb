"""Labeled segments as the episode's subtasks (`segments_as: subtasks`): human narrations replace the geometry's
subtask segmentation, one subtask per segment, on the clip's grid.

Subtasks must cover the episode one after another (exactly one active at each frame — what lerobot's `active_at`
and the reasoning trace assume), so overlapping segments are cut where the next one starts, and the gaps between
them become explicit "no labeled action" subtasks: nothing is claimed where no one labeled anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.pipeline import Stage
from vla_builder.types import Clip, Event

GAP_TEXT = "no labeled action"


def label_subtask_events(clip: Clip) -> list[Event]:
    frames = clip.frames
    assert frames is not None
    t = np.asarray(frames.source_time_s, dtype=float)
    n = len(t)
    actor = clip.actor_id if clip.actor_id is not None else -1
    spans = []
    for start_s, end_s, text, origin in clip.source.label_subtasks:
        idx = np.nonzero((t >= start_s - 1e-6) & (t < end_s - 1e-6))[0]
        if len(idx):
            spans.append((int(idx[0]), int(idx[-1]), text, origin))
    out: list[Event] = []
    cursor = 0
    for s, e, text, origin in spans:
        s = max(s, cursor)  # an overlap: this segment starts where the previous one ended
        if e < s:
            continue
        if s > cursor:
            out.append(Event("label", cursor, s - 1, actor, None, {"text": GAP_TEXT, "origin": None}))
        out.append(Event("label", s, e, actor, None, {"text": text, "origin": origin}))
        cursor = e + 1
    if cursor < n:
        out.append(Event("label", cursor, n - 1, actor, None, {"text": GAP_TEXT, "origin": None}))
    return out


@dataclass
class LabelSubtasksStage(Stage):
    name: ClassVar[str] = "label_subtasks"
    needs: ClassVar[tuple[str, ...]] = ("frames", "subtasks")
    makes: ClassVar[tuple[str, ...]] = ("subtasks",)

    def process(self, clip: Clip) -> Clip:
        if not clip.source.label_subtasks:
            return clip
        events = label_subtask_events(clip)
        prov = {**clip.provenance, "subtasks_from": "labeled segments",
                "labeled_subtasks": sum(e.detail["text"] != GAP_TEXT for e in events)}
        return clip.with_(subtasks=tuple(events), provenance=prov)
