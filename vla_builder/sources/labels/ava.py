"""AVA-style CSV: `video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]` — person boxes at timestamps (whole
seconds in AVA), normalized corners (pixels when any coordinate exceeds 1), one row per (person, action).

A person's rows at one timestamp become one box, its action ids (named from `ava_action_list*.pbtxt` next to the
file, when there) kept as attributes; `person_id` is the track id. The frame is the timestamp times the source's
frame rate, minus `frame_base` (default 0) — a source cut from a movie at 900 s sets `frame_base: 900 * fps`.
Several videos in one file: the source picks its own by name.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from vla_builder.sources.labels import LabelError, count, finish_table
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def action_names(csv_path: Path) -> dict[int, str]:
    """`label { name: "..." label_id: N }` entries of an AVA action list next to the CSV (or in its parent)."""
    for folder in (csv_path.parent, csv_path.parent.parent):
        for pbtxt in sorted(folder.glob("ava_action_list*.pbtxt")):
            text = pbtxt.read_text(errors="replace")
            pairs = re.findall(r'name:\s*"([^"]*)"\s*(?:label_)?id:\s*(\d+)', text)
            if pairs:
                return {int(i): n for n, i in pairs}
    return {}


def read_ava(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            raw = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as e:
        raise LabelError(path, f"cannot read AVA CSV ({e})") from None
    if not raw:
        raise LabelError(path, "empty file")
    dropped: dict[str, int] = {}
    videos = {r[0] for r in raw}
    if len(videos) > 1:
        if spec.name not in videos:
            raise LabelError(path, f"{len(videos)} videos in the file and none named '{spec.name}' "
                             f"(have {sorted(videos)[:5]}...)")
        raw = [r for r in raw if r[0] == spec.name]
    people: dict[tuple[float, int], list] = {}
    for r in raw:
        if len(r) < 7:
            count(dropped, "row with fewer than 7 fields")
            continue
        try:
            t = float(r[1])
            box = [float(v) for v in r[2:6]]
            action = int(float(r[6]))
            pid = int(float(r[7])) if len(r) > 7 and r[7].strip() else -1
        except ValueError:
            count(dropped, "row with non-numeric fields")
            continue
        key = (t, pid) if pid >= 0 else (t, -1 - len(people))  # without a person id every row is its own box
        if key in people:
            people[key][2].append(action)
        else:
            people[key] = [t, box, [action]]
    if not people:
        raise LabelError(path, f"no usable AVA rows (dropped: {dropped})")
    names = action_names(path)
    rows, attrs = [], []
    pixels = any(max(abs(v) for v in b) > 1.0 for _, b, _ in people.values())
    scale = (float(info.width_px), float(info.height_px)) if pixels else (1.0, 1.0)
    base = spec.frame_base or 0
    for (t, pid), (_, (x1, y1, x2, y2), actions) in people.items():
        rows.append((int(round(t * info.fps)) - base, max(pid, -1), x1, y1, x2 - x1, y2 - y1))
        attrs.append({"timestamp_s": t, "action_ids": actions,
                      "actions": [names.get(a, f"action_{a}") for a in actions]})
    a = np.asarray(rows, dtype=np.float64)
    extra = np.empty(len(attrs), dtype=object)
    extra[:] = attrs
    return finish_table(path, "ava", a[:, 0], a[:, 1], np.zeros(len(a)), a[:, 2:6], np.ones(len(a)),
                        {0: "person"}, scale, dropped, extras={"attributes": extra})
