"""COCO json labels, image-style and video-style.

Image-style: `images` (id, file_name, width, height), `annotations` (image_id, bbox=[x,y,w,h] pixels, category_id,
optional track_id / instance_id, score), `categories` (id, name). Video-style adds `videos` and per-image
`video_id` + `frame_id` (TAO / YouTube-VIS style). Class names come from `categories`.

Which frame an image is: for an image-folder source, the position of its file in the folder; else `frame_id`
(minus `frame_base`, default 0); else the number at the end of its file name, counted from the smallest one.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from vla_builder.sources.labels import LabelError, finish_table, frame_number_map
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _select_video(doc: dict, spec: SourceSpec, path: Path) -> int | None:
    videos = doc.get("videos") or []
    if len(videos) <= 1:
        return videos[0].get("id") if videos else None
    stem = spec.name
    for v in videos:
        name = str(v.get("name") or v.get("file_name") or "")
        if Path(name).stem == stem or Path(name).name == stem:
            return v.get("id")
    names = [str(v.get("name") or v.get("file_name")) for v in videos][:5]
    raise LabelError(path, f"{len(videos)} videos in the file and none named '{stem}' (have {names}...)")


def read_coco(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        doc = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelError(path, f"cannot read COCO json ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("images"), list) or not isinstance(
        doc.get("annotations"), list
    ):
        raise LabelError(path, "not COCO json: needs 'images' and 'annotations' lists")
    names = {int(c["id"]): str(c["name"]) for c in doc.get("categories", []) if "id" in c and "name" in c}
    names = {**names, **spec.classes}
    video_id = _select_video(doc, spec, path)
    images = [im for im in doc["images"] if video_id is None or im.get("video_id") == video_id]
    by_name = frame_number_map(spec)
    image_frame: dict[object, int] = {}
    image_size: dict[object, tuple[float, float]] = {}
    numbered = []
    for im in images:
        stem = Path(str(im.get("file_name", ""))).stem
        if by_name is not None and stem in by_name:
            image_frame[im["id"]] = by_name[stem]
        elif "frame_id" in im or "frame_index" in im:
            image_frame[im["id"]] = int(im.get("frame_id", im.get("frame_index"))) - (spec.frame_base or 0)
        else:
            m = re.search(r"(\d+)$", stem)
            if m:
                numbered.append((im["id"], int(m.group(1))))
        image_size[im["id"]] = (float(im.get("width") or info.width_px), float(im.get("height") or info.height_px))
    if numbered:
        base = spec.frame_base if spec.frame_base is not None else min(n for _, n in numbered)
        image_frame.update({i: n - base for i, n in numbered})
    rows = []
    dropped: dict[str, int] = {}
    for ann in doc["annotations"]:
        img = ann.get("image_id")
        bbox = ann.get("bbox")
        if img not in image_frame:
            if video_id is None or img in image_size:
                dropped["annotation of an image with no frame number"] = dropped.get(
                    "annotation of an image with no frame number", 0) + 1
            continue
        if not isinstance(bbox, list | tuple) or len(bbox) != 4:
            dropped["annotation without a 4-number bbox"] = dropped.get("annotation without a 4-number bbox", 0) + 1
            continue
        tid = ann.get("track_id", ann.get("instance_id", -1))
        try:
            rows.append((image_frame[img], int(tid if tid is not None else -1), int(ann.get("category_id", -1)),
                         *[float(v) if v is not None else np.nan for v in bbox], float(ann.get("score", 1.0)),
                         *image_size[img]))
        except (TypeError, ValueError):
            dropped["annotation with non-numeric fields"] = dropped.get("annotation with non-numeric fields", 0) + 1
    if not rows:
        raise LabelError(path, "no usable annotations for this source" + (f" (dropped: {dropped})" if dropped else ""))
    a = np.asarray(rows, dtype=np.float64)
    return finish_table(path, "coco", a[:, 0], a[:, 1], a[:, 2], a[:, 3:7], a[:, 7], names, a[:, 8:10], dropped)
