"""VGG Image Annotator (VIA) projects.

- VIA 3 video projects (`project`, `attribute`, `file`, `view`, `metadata`): a metadata entry with `z: [t0, t1]` and
  no `xy` is a temporal segment (t in seconds), its text the values of its `av` attributes (an option's words where
  the attribute has options); one with `z: [t]` and `xy: [shape, ...]` is a region on the frame at time t: a
  rectangle `[2, x, y, w, h]`, a point `[1, x, y]`, a circle `[3, cx, cy, r]`, an ellipse `[4, cx, cy, rx, ry]`, a
  polygon or polyline `[5 | 6 | 7, x0, y0, x1, y1, ...]` -> the box around it, its class the `av` text. The entries
  of this source's file are kept (the file whose name is the source's; a project of one file is that file).
- VIA 2 projects (`_via_img_metadata`, or the bare `{key: {filename, regions}}` export): one image per frame, the
  frame the number at the end of the file name (minus frame_base); `shape_attributes` as above by name (`rect`,
  `polygon`, ...), the class the first `region_attributes` value.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_builder.sources.labels import (LabelError, count, encode_class_names, finish_table, frame_number_map,
                                        frame_of_file, load_json_cached)
from vla_builder.sources.labels.segments import Segment, normalize_text
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _doc(path: Path) -> dict:
    try:
        doc = load_json_cached(path)
    except Exception as e:  # noqa: BLE001 — OSError, UnicodeDecodeError, JSONDecodeError
        raise LabelError(path, f"cannot read VIA project ({e})") from None
    if not isinstance(doc, dict):
        raise LabelError(path, "a VIA project is a JSON object")
    return doc


def is_via(doc) -> bool:
    if not isinstance(doc, dict):
        return False
    if {"project", "metadata", "file"} <= set(doc) or "_via_img_metadata" in doc:
        return True
    values = list(doc.values())[:5]
    return bool(values) and all(isinstance(v, dict) and "filename" in v and "regions" in v for v in values)


def _av_text(av: dict, attributes: dict) -> str:
    words = []
    for aid, value in (av or {}).items():
        options = (attributes.get(str(aid)) or {}).get("options") or {}
        for v in str(value).split(","):
            words.append(str(options.get(v, v)))
    return normalize_text(" ".join(w for w in words if w))


def _file_ids(doc: dict, spec: SourceSpec, path: Path) -> set[str]:
    """The VIA 3 file ids of this source: by file name, or the project's only file."""
    files = doc.get("file") or {}
    mine = {fid for fid, f in files.items() if Path(str(f.get("fname", ""))).stem == spec.name}
    if not mine and len(files) == 1:
        mine = set(files)
    if not mine:
        names = [str(f.get("fname")) for f in files.values()][:5]
        raise LabelError(path, f"no file of video '{spec.name}' in the VIA project (it has {names}): labels of "
                         "another video?")
    return mine


def _view_ids(doc: dict, fids: set[str]) -> set[str]:
    return {vid for vid, v in (doc.get("view") or {}).items() if set(map(str, v.get("fid_list") or [])) & fids} \
        or set(fids)


def _shape_box(shape: list | dict) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of a VIA 3 `xy` list or a VIA 2 `shape_attributes` mapping."""
    if isinstance(shape, dict):
        name = shape.get("name")
        if name == "rect":
            x, y, w, h = (float(shape[k]) for k in ("x", "y", "width", "height"))
            return x, y, x + w, y + h
        if name in ("polygon", "polyline"):
            xs, ys = np.asarray(shape["all_points_x"], float), np.asarray(shape["all_points_y"], float)
            return xs.min(), ys.min(), xs.max(), ys.max()
        if name == "circle":
            cx, cy, r = float(shape["cx"]), float(shape["cy"]), float(shape["r"])
            return cx - r, cy - r, cx + r, cy + r
        if name == "ellipse":
            cx, cy, rx, ry = float(shape["cx"]), float(shape["cy"]), float(shape["rx"]), float(shape["ry"])
            return cx - rx, cy - ry, cx + rx, cy + ry
        raise ValueError(f"shape {name!r} has no area")
    kind, v = int(shape[0]), [float(x) for x in shape[1:]]
    if kind == 2:
        return v[0], v[1], v[0] + v[2], v[1] + v[3]
    if kind == 3:
        return v[0] - v[2], v[1] - v[2], v[0] + v[2], v[1] + v[2]
    if kind == 4:
        return v[0] - v[2], v[1] - v[3], v[0] + v[2], v[1] + v[3]
    if kind in (5, 6, 7):
        xs, ys = np.asarray(v[0::2]), np.asarray(v[1::2])
        return xs.min(), ys.min(), xs.max(), ys.max()
    raise ValueError(f"shape {kind} has no area")


def read_via_segments(path: Path, spec: SourceSpec) -> list[Segment]:
    """A VIA 3 project's temporal segments of this source (an empty list when it has none, e.g. VIA 2)."""
    doc = _doc(path)
    if "metadata" not in doc or "file" not in doc:
        return []
    views = _view_ids(doc, _file_ids(doc, spec, path))
    attributes = doc.get("attribute") or {}
    out = []
    for key, m in (doc.get("metadata") or {}).items():
        z = m.get("z") or []
        if str(m.get("vid")) not in views or len(z) != 2 or m.get("xy"):
            continue
        text = _av_text(m.get("av") or {}, attributes)
        if text and float(z[1]) > float(z[0]):
            out.append(Segment(float(z[0]), float(z[1]), text, f"{path.name}#metadata.{key}.av"))
    return out


def read_via(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    doc = _doc(path)
    dropped: dict[str, int] = {}
    rows = []
    if "metadata" in doc and "file" in doc:  # VIA 3
        views = _view_ids(doc, _file_ids(doc, spec, path))
        attributes = doc.get("attribute") or {}
        for m in (doc.get("metadata") or {}).values():
            z, xy = m.get("z") or [], m.get("xy") or []
            if str(m.get("vid")) not in views or not xy:
                continue  # another file's, or a temporal segment (read as an episode)
            try:
                x0, y0, x1, y1 = _shape_box(xy)
                frame = int(round(float(z[0]) * info.fps)) if z else 0
            except (ValueError, IndexError, TypeError):
                count(dropped, "region without a usable shape or time")
                continue
            rows.append((frame, -1, _av_text(m.get("av") or {}, attributes) or "object", x0, y0, x1, y1))
    else:  # VIA 2
        images = doc.get("_via_img_metadata", doc)
        by_name = frame_number_map(spec)
        base = spec.frame_base or 0
        for entry in images.values():
            if not isinstance(entry, dict):
                continue
            frame = frame_of_file(Path(str(entry.get("filename", ""))).stem, by_name, base)
            if frame is None:
                count(dropped, "image without a frame number in its name")
                continue
            for region in entry.get("regions") or []:
                try:
                    x0, y0, x1, y1 = _shape_box(region.get("shape_attributes") or {})
                except (ValueError, KeyError, TypeError):
                    count(dropped, "region without a usable shape")
                    continue
                attrs = region.get("region_attributes") or {}
                name = next((str(v) for v in attrs.values() if isinstance(v, str | int | float) and str(v)), "object")
                rows.append((frame, -1, name, x0, y0, x1, y1))
    if not rows:
        return LabelTable.empty(path, "via")  # a project of temporal segments only
    class_id, names, strict = encode_class_names([r[2] for r in rows], spec)
    a = np.array([[r[0], r[1], r[3], r[4], r[5] - r[3], r[6] - r[4]] for r in rows], dtype=np.float64)
    return finish_table(path, "via", a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), names,
                        (info.width_px, info.height_px), dropped, strict_classes=strict)
