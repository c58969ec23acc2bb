"""Something-Else per-frame JSON (joaanna/something_else `annotations.json`), read as it ships — no conversion.

A dict: clip id -> per-frame records `{name: "<id>/0001.jpg", labels: [{box2d: {x1, y1, x2, y2} (pixels),
category, gt_annotation ("object hand", "object 0", ...)}], gt_placeholders}`. One file holds many clips: the source
picks its own by name (an image folder `frames/<id>` is clip `<id>`). `gt_annotation` is stable within a clip and
is the track id. A record's `name` says which frame it labels (some clips have more frames than labeled records).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_builder.sources.labels import (LabelError, count, encode_class_names, finish_table, frame_number_map,
                                        frame_of_file, load_json_cached)
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def read_something_else(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        doc = load_json_cached(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelError(path, f"cannot read Something-Else JSON ({e})") from None
    if not isinstance(doc, dict):
        raise LabelError(path, "not Something-Else JSON: expected a dict of clip id -> per-frame records")
    clip_id = spec.name
    records = doc.get(clip_id)
    if records is None:
        have = list(doc)[:6]
        raise LabelError(path, f"no clip '{clip_id}' in the file (have {have}{'...' if len(doc) > 6 else ''})")
    if not isinstance(records, list):
        raise LabelError(path, f"clip '{clip_id}': expected a list of per-frame records, got {type(records).__name__}")
    by_name = frame_number_map(spec)
    base = 1 if spec.frame_base is None else spec.frame_base  # files are 0001.jpg, 0002.jpg, ...
    dropped: dict[str, int] = {}
    frames, tracks, names, boxes = [], [], [], []
    track_ids: dict[str, int] = {}
    for rec in records:
        if not isinstance(rec, dict) or not isinstance(rec.get("labels"), list):
            count(dropped, "record without a 'labels' list")
            continue
        frame = frame_of_file(Path(str(rec.get("name", ""))).stem, by_name, base)
        if frame is None:
            count(dropped, "record whose 'name' has no frame number")
            continue
        for lab in rec["labels"]:
            box = lab.get("box2d") if isinstance(lab, dict) else None
            if not isinstance(box, dict) or not all(k in box for k in ("x1", "y1", "x2", "y2")):
                count(dropped, "label without box2d {x1, y1, x2, y2}")
                continue
            try:
                x1, y1, x2, y2 = (float(box[k]) for k in ("x1", "y1", "x2", "y2"))
            except (TypeError, ValueError):
                count(dropped, "label with non-numeric box2d")
                continue
            who = str(lab.get("gt_annotation") or lab.get("category") or "")
            frames.append(frame)
            tracks.append(track_ids.setdefault(who, len(track_ids)))
            names.append(str(lab.get("category") or "object"))
            boxes.append((x1, y1, x2 - x1, y2 - y1))
    if not frames:
        raise LabelError(path, f"clip '{clip_id}': no usable boxes" + (f" (dropped: {dropped})" if dropped else ""))
    class_id, classes, strict = encode_class_names(names, spec)
    return finish_table(path, "something_else", np.array(frames), np.array(tracks), class_id, np.array(boxes),
                        np.ones(len(frames)), classes, (info.width_px, info.height_px), dropped,
                        strict_classes=strict)
