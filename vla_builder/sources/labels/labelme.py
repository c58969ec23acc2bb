"""LabelMe per-frame JSON: a folder with one `<frame>.json` per labeled frame (`shapes`: label, points, shape_type
rectangle | polygon | circle | line | point ..., group_id; `imageWidth`, `imageHeight`). Every shape becomes the box
around its points (a circle: centre and a point on the rim). `group_id`, when set, is the track id. The frame of a
file: the image with the same stem in an image-folder source, else the number at the end of its name minus
`frame_base` (default 0). Polygon shapes also keep their outline (extras "polygons", normalized) for the image track.
"""

from __future__ import annotations

import json

import numpy as np

from vla_builder.sources.labels import LabelError, count, encode_class_names, finish_table, per_frame_documents
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _shape_box(shape: dict) -> tuple[float, float, float, float]:
    pts = np.asarray(shape.get("points"), dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0:
        raise ValueError("points")
    if shape.get("shape_type") == "circle" and len(pts) == 2:
        r = float(np.hypot(*(pts[1] - pts[0])))
        return pts[0, 0] - r, pts[0, 1] - r, pts[0, 0] + r, pts[0, 1] + r
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _parse_labelme(path):
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "unreadable LabelMe file"
    if not isinstance(doc, dict) or not isinstance(doc.get("shapes"), list):
        return "LabelMe file without a 'shapes' list"
    return doc


def read_labelme(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    folder = spec.labels
    assert folder is not None
    dropped: dict[str, int] = {}
    rows, polygons = [], []
    for frame, doc in per_frame_documents(spec, ".json", "LabelMe", _parse_labelme, dropped):
        try:
            size = (float(doc.get("imageWidth") or info.width_px), float(doc.get("imageHeight") or info.height_px))
        except (TypeError, ValueError):
            size = (float(info.width_px), float(info.height_px))
        for shape in doc["shapes"]:
            if not isinstance(shape, dict) or not shape.get("label"):
                count(dropped, "shape without a label")
                continue
            try:
                x0, y0, x1, y1 = _shape_box(shape)
            except (TypeError, ValueError):
                count(dropped, "shape without numeric points")
                continue
            gid = shape.get("group_id")
            tid = int(gid) if isinstance(gid, int) else -1
            rows.append((frame, tid, str(shape["label"]), x0, y0, x1 - x0, y1 - y0, *size))
            pts = np.asarray(shape["points"], dtype=np.float64)
            polygons.append([pts / np.asarray(size)] if shape.get("shape_type", "polygon") == "polygon"
                            and len(pts) >= 3 else None)
    if not rows:
        raise LabelError(folder, "no usable LabelMe shapes" + (f" (dropped: {dropped})" if dropped else ""))
    class_id, names, strict = encode_class_names([r[2] for r in rows], spec)
    a = np.array([[r[0], r[1], *r[3:]] for r in rows], dtype=np.float64)
    extra = np.empty(len(polygons), dtype=object)
    extra[:] = polygons
    return finish_table(folder, "labelme", a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), names,
                        a[:, 6:8], dropped, strict_classes=strict, extras={"polygons": extra})
