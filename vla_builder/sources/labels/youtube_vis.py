"""YouTube-VIS / OVIS json: `videos` (id, file_names, width, height) and per-instance `annotations` (video_id,
category_id, `bboxes`: one [x, y, w, h] or null per entry of the video's `file_names`), `categories`.

The annotated frames are a subsample (YouTube-VIS: every 5th frame): entry i is *not* frame i. Its frame is the
position of `file_names[i]` in an image-folder source, else the number in its file name (`00005.jpg` -> frame 5,
minus `frame_base`, default 0) — the true frame of the video. Without numbers in the names, entry i is frame i.
The annotation's `id` is the track id. Several videos in one file: the source picks its own by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from vla_builder.sources.labels import LabelError, count, finish_table, frame_number_map, frame_of_file
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _pick_video(videos: list, spec: SourceSpec, path: Path) -> dict:
    if len(videos) == 1:
        return videos[0]
    for v in videos:
        names = v.get("file_names") or []
        folder = Path(str(names[0])).parent.name if names else ""
        if spec.name in {str(v.get("name", "")), folder, str(v.get("id"))}:
            return v
    have = [str(v.get("name") or (v.get("file_names") or ["?"])[0]) for v in videos][:5]
    raise LabelError(path, f"{len(videos)} videos in the file and none named '{spec.name}' (have {have}...)")


def read_youtube_vis(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelError(path, f"cannot read YouTube-VIS json ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("videos"), list) or not doc["videos"]:
        raise LabelError(path, "not YouTube-VIS json: needs a non-empty 'videos' list")
    if not isinstance(doc.get("annotations"), list):
        raise LabelError(path, "not YouTube-VIS json: needs an 'annotations' list")
    video = _pick_video(doc["videos"], spec, path)
    file_names = video.get("file_names")
    if not isinstance(file_names, list) or not file_names:
        raise LabelError(path, f"video {video.get('id')}: no 'file_names' list")
    by_name = frame_number_map(spec)
    base = spec.frame_base or 0
    frame_of = []
    for i, name in enumerate(file_names):
        f = frame_of_file(Path(str(name)).stem, by_name, base)
        frame_of.append(i if f is None else f)
    names = {int(c["id"]): str(c["name"]) for c in doc.get("categories", []) if "id" in c and "name" in c}
    names = {**names, **spec.classes}
    size = (float(video.get("width") or info.width_px), float(video.get("height") or info.height_px))
    dropped: dict[str, int] = {}
    rows = []
    for k, ann in enumerate(doc["annotations"]):
        if not isinstance(ann, dict) or ann.get("video_id") != video.get("id"):
            continue
        boxes = ann.get("bboxes")
        if not isinstance(boxes, list):
            count(dropped, "annotation without a 'bboxes' list")
            continue
        if len(boxes) != len(file_names):
            count(dropped, "annotation whose 'bboxes' length differs from the video's file_names")
            continue
        try:
            tid, cls = int(ann.get("id", k)), int(ann.get("category_id", -1))
        except (TypeError, ValueError):
            count(dropped, "annotation with non-numeric id or category_id")
            continue
        for i, b in enumerate(boxes):
            if b is None:
                continue  # not visible in this frame
            if not isinstance(b, list | tuple) or len(b) != 4:
                count(dropped, "box that is not [x, y, w, h]")
                continue
            try:
                rows.append((frame_of[i], tid, cls, *(float(v) for v in b)))
            except (TypeError, ValueError):
                count(dropped, "box with non-numeric values")
    if not rows:
        raise LabelError(path, f"video {video.get('id')}: no usable boxes"
                         + (f" (dropped: {dropped})" if dropped else ""))
    a = np.asarray(rows, dtype=np.float64)
    return finish_table(path, "youtube_vis", a[:, 0], a[:, 1], a[:, 2], a[:, 3:7], np.ones(len(a)), names, size,
                        dropped)
