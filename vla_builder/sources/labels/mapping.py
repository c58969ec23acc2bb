"""A declarative `mapping:` for any other JSON or CSV label schema — data in the recipe, no code.

Field paths are dotted with list indices: `bbox.x1`, `timestamps[0]`, `meta.objects[2].name`; for a CSV, a path is
a column name. Keys (all optional except where a box is wanted):

    records: trigger_info        # where the list of records is (JSON); omitted: the document itself / CSV rows
    video: video_id              # keep records whose field equals the source's name (one file, many videos)
    frame: frame                 # the box's frame number (minus frame_base) ...
    time_s: t                    # ... or its time in seconds; neither: the box holds over the record's segment
    box: bbox                    # a list of 4 numbers, or a mapping read in the order of box_keys
    box_keys: [x1, y1, x2, y2]
    box_format: xyxy             # xyxy | xywh (top-left + size) | cxcywh (centre + size)
    normalized: false            # true: coordinates in 0..1 of the frame, else pixels
    class: trigger_object        # class name
    track_id: id
    attributes: [weather, pose]  # kept per box
    segment_start: timestamps[0] # a labeled span -> its own episode
    segment_end: timestamps[1]
    segment_unit: s              # s | ms | frame
    text: trigger_action         # the span's caption: the episode's task, verbatim

The AI-Hub-style example `trigger_info: [{timestamps: [start, end], trigger_object, trigger_action, bbox: {x1, y1,
x2, y2} normalized}]` is `records: trigger_info, segment_start: timestamps[0], segment_end: timestamps[1],
text: trigger_action, class: trigger_object, box: bbox, box_keys: [x1, y1, x2, y2], normalized: true`.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from vla_builder.boxes import as_xywh
from vla_builder.sources.labels import LabelError, count, encode_class_names, finish_table
from vla_builder.types import LabelTable, SourceSpec, VideoInfo

_MISSING = object()
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def get_path(record: Any, path: str) -> Any:
    """`a.b[0].c` inside nested dicts / lists; _MISSING where any step is absent."""
    if isinstance(record, dict) and path in record:  # a CSV column may contain dots
        return record[path]
    node = record
    for name, index in _STEP.findall(path):
        if name:
            if not isinstance(node, dict) or name not in node:
                return _MISSING
            node = node[name]
        else:
            i = int(index)
            if not isinstance(node, list | tuple) or i >= len(node):
                return _MISSING
            node = node[i]
    return node


def load_records(path: Path, mapping: dict, spec: SourceSpec) -> list[Any]:
    """The mapping's records from a JSON or CSV file, filtered to this source's video when `video:` is set."""
    try:
        if path.suffix.lower() in {".csv", ".tsv"}:
            with open(path, newline="", encoding="utf-8") as fh:
                records: Any = list(csv.DictReader(fh, delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
        else:
            records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise LabelError(path, f"cannot read labels for mapping: ({e})") from None
    where = mapping.get("records")
    if where:
        records = get_path(records, where)
        if records is _MISSING:
            raise LabelError(path, f"mapping.records: no '{where}' in the file")
    if isinstance(records, dict):
        records = [records]
    if not isinstance(records, list):
        raise LabelError(path, f"mapping.records: '{where or '(document)'}' is a {type(records).__name__}, "
                         "expected a list of records")
    if mapping.get("video"):
        records = [r for r in records if str(get_path(r, mapping["video"])) == spec.name]
    return records


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is _MISSING or value is None:
        raise ValueError("missing")
    return float(value)


def to_seconds(value: Any, unit: str, fps: float | None) -> float:
    if isinstance(value, str) and ":" in value:  # HH:MM:SS(.ff)
        parts = [float(p) for p in value.split(":")]
        secs = 0.0
        for p in parts:
            secs = secs * 60 + p
        return secs
    v = _number(value)
    if unit == "ms":
        return v / 1000.0
    if unit == "frame":
        if not fps:
            raise ValueError("a frame number needs the source's frame rate")
        return v / fps
    return v


def read_box(record: Any, mapping: dict) -> tuple[float, float, float, float]:
    """(x, y, w, h) in the mapping's units; raises ValueError (missing, wrong type)."""
    raw = get_path(record, mapping["box"])
    if isinstance(raw, dict):
        keys = mapping.get("box_keys") or ["x1", "y1", "x2", "y2"]
        raw = [raw.get(k, _MISSING) for k in keys]
    elif isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,;]+", raw.strip("[]() ")) if p]
    if not isinstance(raw, list | tuple) or len(raw) != 4:
        raise ValueError("box is not 4 numbers")
    return as_xywh(tuple(_number(v) for v in raw), mapping.get("box_format", "xyxy"))


def read_mapping(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    mapping = spec.mapping or {}
    if not mapping.get("box"):
        return LabelTable.empty(path, "mapping")  # segments / captions only
    records = load_records(path, mapping, spec)
    dropped: dict[str, int] = {}
    rows, names, attrs = [], [], []
    base = spec.frame_base or 0
    for rec in records:
        try:
            x, y, w, h = read_box(rec, mapping)
        except ValueError as e:
            count(dropped, f"record without a usable box ({e})")
            continue
        try:
            if mapping.get("frame"):
                frames = [int(_number(get_path(rec, mapping["frame"]))) - base]
            elif mapping.get("time_s"):
                frames = [int(round(to_seconds(get_path(rec, mapping["time_s"]), "s", info.fps) * info.fps)) - base]
            elif mapping.get("segment_start") and mapping.get("segment_end"):
                # a box stated for a labeled span (AI-Hub trigger boxes): it holds on every frame of the span
                unit = mapping.get("segment_unit", "s")
                t0 = to_seconds(get_path(rec, mapping["segment_start"]), unit, info.fps)
                t1 = to_seconds(get_path(rec, mapping["segment_end"]), unit, info.fps)
                first, end = int(round(t0 * info.fps)), int(round(t1 * info.fps))
                if end <= first:
                    raise ValueError("segment end is not after its start")
                frames = [f - base for f in range(first, end)]
            else:
                raise ValueError("no frame, time_s or segment_start/segment_end")
        except (ValueError, TypeError) as e:
            count(dropped, f"record without a usable frame or time ({e})")
            continue
        tid = -1
        if mapping.get("track_id"):
            try:
                tid = int(_number(get_path(rec, mapping["track_id"])))
            except ValueError:
                count(dropped, "record with a non-numeric track id")
                continue
        cls = get_path(rec, mapping["class"]) if mapping.get("class") else "object"
        if cls is _MISSING or cls is None or isinstance(cls, dict | list):
            count(dropped, "record without a class name")
            continue
        extra = {k: get_path(rec, k) for k in mapping.get("attributes") or [] if get_path(rec, k) is not _MISSING}
        for frame in frames:
            rows.append((frame, tid, x, y, w, h))
            names.append(str(cls))
            attrs.append(extra)
    if not rows:
        raise LabelError(path, f"mapping: no usable boxes in {len(records)} record(s)"
                         + (f" (dropped: {dropped})" if dropped else ""))
    class_id, classes, strict = encode_class_names(names, spec)
    a = np.asarray(rows, dtype=np.float64)
    size = (1.0, 1.0) if mapping.get("normalized") else (info.width_px, info.height_px)
    extra = np.empty(len(attrs), dtype=object)
    extra[:] = attrs
    return finish_table(path, "mapping", a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), classes, size,
                        dropped, strict_classes=strict, extras={"attributes": extra})
