"""CVAT XML 1.1, both exports.

For video: `<track id label>` holding `<box frame outside occluded keyframe xtl ytl xbr ybr>` (and polygons /
polylines / points, boxed by their points); `outside="1"` ends the track there (the shape is not in the frame and
is skipped); every listed shape is kept, keyframe or interpolated, with `keyframe` and `<attribute>`s as extras.
Frames are CVAT's frame numbers, which count source frames (with `start_frame` and a `frame_filter: step=N` they
are the real frame numbers, not 0..n). Skeleton tracks are boxed from their points.
For images: `<image id name width height>` with `<box label xtl ...>` etc.; the frame is the image's position in an
image-folder source (by file name), else the number at the end of its name, else its id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from vla_builder.sources.labels import (LabelError, count, encode_class_names, finish_table, frame_number_map,
                                        frame_of_file)
from vla_builder.types import LabelTable, SourceSpec, VideoInfo

SHAPES = ("box", "polygon", "polyline", "points", "skeleton", "ellipse")


def _shape_xyxy(el: ET.Element) -> tuple[float, float, float, float]:
    """A shape's bounding box in pixels; raises ValueError on missing or non-numeric coordinates."""
    if el.tag == "box":
        return tuple(float(el.attrib[k]) for k in ("xtl", "ytl", "xbr", "ybr"))  # type: ignore[return-value]
    if el.tag == "ellipse":
        cx, cy, rx, ry = (float(el.attrib[k]) for k in ("cx", "cy", "rx", "ry"))
        return cx - rx, cy - ry, cx + rx, cy + ry
    pts_text = el.attrib.get("points", "")
    if el.tag == "skeleton" and not pts_text:
        pts_text = ";".join(p.attrib.get("points", "") for p in el.findall("points")
                            if p.attrib.get("outside", "0") != "1")
    pts = np.array([[float(v) for v in p.split(",")] for p in pts_text.split(";") if p.strip()])
    if pts.size == 0 or pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError("no points")
    return float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()), float(pts[:, 1].max())


def _attributes(el: ET.Element) -> dict[str, str]:
    return {a.attrib.get("name", ""): (a.text or "").strip() for a in el.findall("attribute")}


def read_cvat(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise LabelError(path, f"cannot read CVAT XML ({e})") from None
    if root.tag != "annotations":
        raise LabelError(path, f"not CVAT XML: the root element is <{root.tag}>, expected <annotations>")
    dropped: dict[str, int] = {}
    rows: list[tuple] = []  # frame, track, class name, x, y, w, h, size w, size h, attributes
    size = (float(info.width_px), float(info.height_px))
    tracks = root.findall("track")
    images = root.findall("image")
    if tracks:
        fmt = "cvat_video"
        base = spec.frame_base or 0
        for t in tracks:
            try:
                tid = int(t.attrib["id"])
            except (KeyError, ValueError):
                count(dropped, "track without a numeric id")
                continue
            label = t.attrib.get("label", "")
            for el in t:
                if el.tag not in SHAPES:
                    continue
                if el.attrib.get("outside", "0") == "1":
                    count(dropped, "shape marked outside (object left the frame)")
                    continue
                try:
                    frame = int(el.attrib["frame"]) - base
                    x0, y0, x1, y1 = _shape_xyxy(el)
                except (KeyError, ValueError):
                    count(dropped, f"{el.tag} without numeric frame/coordinates")
                    continue
                attrs = {**_attributes(el), "keyframe": el.attrib.get("keyframe", "1") == "1",
                         "occluded": el.attrib.get("occluded", "0") == "1"}
                rows.append((frame, tid, label, x0, y0, x1 - x0, y1 - y0, *size, attrs))
    elif images:
        fmt = "cvat_images"
        by_name = frame_number_map(spec)
        base = spec.frame_base or 0
        for im in images:
            stem = Path(im.attrib.get("name", "")).stem
            frame = frame_of_file(stem, by_name, base)
            if frame is None:
                try:
                    frame = int(im.attrib["id"]) - base
                except (KeyError, ValueError):
                    count(dropped, "image without a frame number")
                    continue
            try:
                im_size = (float(im.attrib.get("width") or size[0]), float(im.attrib.get("height") or size[1]))
            except ValueError:
                im_size = size
            for el in im:
                if el.tag not in SHAPES:
                    continue
                try:
                    x0, y0, x1, y1 = _shape_xyxy(el)
                except (KeyError, ValueError):
                    count(dropped, f"{el.tag} without numeric coordinates")
                    continue
                tid = int(el.attrib["group_id"]) if el.attrib.get("group_id", "").isdigit() else -1
                attrs = {**_attributes(el), "occluded": el.attrib.get("occluded", "0") == "1"}
                rows.append((frame, tid, el.attrib.get("label", ""), x0, y0, x1 - x0, y1 - y0, *im_size, attrs))
    else:
        raise LabelError(path, "CVAT XML with neither <track> (for video) nor <image> (for images) elements")
    if not rows:
        raise LabelError(path, "no usable shapes" + (f" (dropped: {dropped})" if dropped else ""))
    unnamed = [r for r in rows if not r[2]]
    if unnamed:
        count(dropped, "shape without a label name", len(unnamed))
        rows = [r for r in rows if r[2]]
        if not rows:
            raise LabelError(path, f"no usable shapes (dropped: {dropped})")
    class_id, names, strict = encode_class_names([r[2] for r in rows], spec)
    a = np.array([[r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[8]] for r in rows], dtype=np.float64)
    attrs = np.empty(len(rows), dtype=object)
    attrs[:] = [r[9] for r in rows]
    return finish_table(path, fmt, a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), names, a[:, 6:8],
                        dropped, strict_classes=strict, extras={"attributes": attrs})
