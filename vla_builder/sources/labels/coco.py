"""COCO json labels, image-style and video-style.

Image-style: `images` (id, file_name, width, height), `annotations` (image_id, bbox=[x,y,w,h] pixels, category_id,
optional track_id / instance_id, score), `categories` (id, name). Video-style adds `videos` and per-image
`video_id` + `frame_id` (TAO / YouTube-VIS style). Class names come from `categories`.

Which frame an image is — its *true* frame in the source: for an image-folder source, the position of its file in
the folder; else TAO's `frame_index` (minus `frame_base`, default 0); for video-style files, the number at the end of
its file name (YouTube-VIS `00005.jpg` is frame 5: `frame_id` counts *annotated* frames, 0, 1, 2, ... and would
compress every-5th-frame labels 5x in time); else `frame_id`; for image-style files, the number at the end of the
file name, counted from the smallest one.

COCO keypoints: an annotation with `keypoints` [x, y, v, ...] and no usable `bbox` is boxed by its visible points;
the keypoints are kept (normalized, with visibility) in the table's extras for the actor.
Polygon `segmentation`s are kept too (extras "polygons": a list of (N, 2) normalized arrays per row, None for RLE or
none) and `iscrowd` (extras "iscrowd"): the image track points inside a polygon and never names a crowd region.
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
    video_style = video_id is not None or any("video_id" in im for im in images)
    image_frame: dict[object, int] = {}
    image_size: dict[object, tuple[float, float]] = {}
    numbered = []
    for im in images:
        stem = Path(str(im.get("file_name", ""))).stem
        m = re.search(r"(\d+)$", stem)
        try:
            if by_name is not None and stem in by_name:
                image_frame[im["id"]] = by_name[stem]
            elif "frame_index" in im:  # TAO: the true frame index in the video
                image_frame[im["id"]] = int(im["frame_index"]) - (spec.frame_base or 0)
            elif video_style and m:  # the file name carries the true frame number
                image_frame[im["id"]] = int(m.group(1)) - (spec.frame_base or 0)
            elif "frame_id" in im:
                image_frame[im["id"]] = int(im["frame_id"]) - (spec.frame_base or 0)
            elif m:
                numbered.append((im["id"], int(m.group(1))))
        except (TypeError, ValueError):
            continue
        image_size[im["id"]] = (float(im.get("width") or info.width_px), float(im.get("height") or info.height_px))
    if numbered:
        base = spec.frame_base if spec.frame_base is not None else min(n for _, n in numbered)
        image_frame.update({i: n - base for i, n in numbered})
    rows = []
    keypoints: list[np.ndarray | None] = []
    polygons: list[list[np.ndarray] | None] = []
    crowd: list[bool] = []
    dropped: dict[str, int] = {}
    for ann in doc["annotations"]:
        img = ann.get("image_id")
        bbox = ann.get("bbox")
        if img not in image_frame:
            if video_id is None or img in image_size:
                dropped["annotation of an image with no frame number"] = dropped.get(
                    "annotation of an image with no frame number", 0) + 1
            continue
        kps = _keypoints(ann.get("keypoints"))
        if (not isinstance(bbox, list | tuple) or len(bbox) != 4 or not any(bbox)) and kps is not None:
            bbox = _box_of_points(kps)
        if not isinstance(bbox, list | tuple) or len(bbox) != 4:
            reason = "annotation without a 4-number bbox" + (" or visible keypoints" if "keypoints" in ann else "")
            dropped[reason] = dropped.get(reason, 0) + 1
            continue
        tid = ann.get("track_id", ann.get("instance_id", -1))
        try:
            rows.append((image_frame[img], int(tid if tid is not None else -1), int(ann.get("category_id", -1)),
                         *[float(v) if v is not None else np.nan for v in bbox], float(ann.get("score", 1.0)),
                         *image_size[img]))
            keypoints.append(kps)
            polygons.append(_polygons(ann.get("segmentation"), image_size[img]))
            crowd.append(bool(ann.get("iscrowd", 0)))
        except (TypeError, ValueError):
            dropped["annotation with non-numeric fields"] = dropped.get("annotation with non-numeric fields", 0) + 1
    if not rows:
        raise LabelError(path, "no usable annotations for this source" + (f" (dropped: {dropped})" if dropped else ""))
    a = np.asarray(rows, dtype=np.float64)
    extras = {}
    if any(k is not None for k in keypoints):
        n_kp = max(len(k) for k in keypoints if k is not None)
        kp = np.full((len(rows), n_kp, 3), np.nan)
        for i, k in enumerate(keypoints):
            if k is not None:
                kp[i, : len(k)] = k
                kp[i, :, 0] /= a[i, 8]  # normalized like the boxes
                kp[i, :, 1] /= a[i, 9]
        extras["keypoints"] = kp
    if any(p is not None for p in polygons) or any(crowd):
        extras["polygons"] = np.empty(len(rows), dtype=object)
        extras["polygons"][:] = polygons
        extras["iscrowd"] = np.asarray(crowd, dtype=bool)
    return finish_table(path, "coco", a[:, 0], a[:, 1], a[:, 2], a[:, 3:7], a[:, 7], names, a[:, 8:10], dropped,
                        extras=extras)


def _keypoints(raw) -> np.ndarray | None:
    """COCO `keypoints` [x1, y1, v1, ...] -> (K, 3), or None when absent or malformed."""
    if not isinstance(raw, list) or not raw or len(raw) % 3:
        return None
    try:
        return np.asarray(raw, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        return None


def _polygons(raw, size: tuple[float, float]) -> list[np.ndarray] | None:
    """COCO polygon `segmentation` [[x1, y1, x2, y2, ...], ...] -> normalized (N, 2) arrays; None for RLE / absent."""
    if not isinstance(raw, list) or not raw:
        return None
    out = []
    for part in raw:
        if isinstance(part, list) and len(part) >= 6 and len(part) % 2 == 0:
            try:
                out.append(np.asarray(part, dtype=np.float64).reshape(-1, 2) / np.asarray(size))
            except (TypeError, ValueError):
                continue
    return out or None


def _box_of_points(kps: np.ndarray) -> list[float] | None:
    """[x, y, w, h] around the visible keypoints (v > 0), or None if fewer than two are visible."""
    vis = kps[kps[:, 2] > 0]
    if len(vis) < 2:
        return None
    x0, y0 = vis[:, :2].min(axis=0)
    x1, y1 = vis[:, :2].max(axis=0)
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]
