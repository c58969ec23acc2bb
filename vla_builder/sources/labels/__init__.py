"""Label import — the "upcycling" of detection/tracking labels into one `LabelTable`.

Formats: MOTChallenge `gt.txt`, COCO json (image-style and video-style), YOLO txt folders. Every reader returns raw
rows in pixels or normalized units; `finish_table` cleans them the same way for all formats (NaN, negative and
out-of-frame boxes, unknown class ids, duplicate ids in a frame) and counts what it dropped and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vla_builder.types import LabelTable, SourceSpec, VideoInfo

# MOTChallenge MOT17 class codes (used when the recipe gives no `classes` for a MOT file)
MOT17_CLASSES = {
    1: "pedestrian", 2: "person on vehicle", 3: "car", 4: "bicycle", 5: "motorbike", 6: "non motorized vehicle",
    7: "static person", 8: "distractor", 9: "occluder", 10: "occluder on the ground", 11: "occluder full",
    12: "reflection",
}


class LabelError(Exception):
    """A label file that cannot be used: names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def detect_format(path: Path) -> str:
    if path.is_dir():
        return "yolo"
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "coco"
    if suffix in {".txt", ".csv"}:
        return "mot"
    raise LabelError(path, f"cannot tell the label format from '{path.name}'; set labels_format: mot|coco|yolo")


def read_labels(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    if spec.labels is None or spec.labels_format == "none":
        return LabelTable.empty()
    fmt = detect_format(spec.labels) if spec.labels_format == "auto" else spec.labels_format
    if fmt == "mot":
        from vla_builder.sources.labels.mot import read_mot as reader
    elif fmt == "coco":
        from vla_builder.sources.labels.coco import read_coco as reader
    elif fmt == "yolo":
        from vla_builder.sources.labels.yolo import read_yolo as reader
    else:
        raise LabelError(spec.labels, f"unknown labels_format {fmt!r}")
    return reader(spec, info)


def frame_number_map(spec: SourceSpec) -> dict[str, int] | None:
    """For an image-folder source: image stem -> source frame index (labels name frames by file)."""
    if spec.frames is None:
        return None
    from vla_builder.sources.video import list_images

    return {p.stem: i for i, p in enumerate(list_images(spec.frames))}


def finish_table(
    path: Path,
    fmt: str,
    frame: np.ndarray,
    track_id: np.ndarray,
    class_id: np.ndarray,
    boxes_xywh: np.ndarray,
    score: np.ndarray,
    names: dict[int, str],
    size_px: tuple[float, float] | np.ndarray,
    dropped: dict[str, int] | None = None,
    strict_classes: bool = True,
) -> LabelTable:
    """Clean raw rows into a LabelTable. `boxes_xywh` is top-left + size in pixels of `size_px` = (w, h) per row."""
    dropped = dict(dropped or {})
    n = len(frame)
    if n == 0:
        return LabelTable.empty(path, fmt)
    frame = np.asarray(frame, dtype=np.int64)
    track_id = np.asarray(track_id, dtype=np.int64)
    class_id = np.asarray(class_id, dtype=np.int64)
    xywh = np.asarray(boxes_xywh, dtype=np.float64).reshape(n, 4)
    size = np.broadcast_to(np.asarray(size_px, dtype=np.float64).reshape(-1, 2), (n, 2))
    keep = np.ones(n, bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        mask = mask & keep
        if mask.any():
            dropped[reason] = dropped.get(reason, 0) + int(mask.sum())
            keep[mask] = False

    drop(~np.isfinite(xywh).all(axis=1), "box with NaN or infinite coordinates")
    drop(frame < 0, "frame number before the first frame")
    drop((xywh[:, 2] <= 0) | (xywh[:, 3] <= 0), "box with zero or negative size")
    if strict_classes and names:
        drop(~np.isin(class_id, list(names)), "unknown class id")
    x0 = xywh[:, 0] / size[:, 0]
    y0 = xywh[:, 1] / size[:, 1]
    x1 = (xywh[:, 0] + xywh[:, 2]) / size[:, 0]
    y1 = (xywh[:, 1] + xywh[:, 3]) / size[:, 1]
    boxes = np.stack([x0, y0, x1, y1], axis=1)
    with np.errstate(invalid="ignore"):
        clipped = np.clip(boxes, 0.0, 1.0)
        drop(((clipped[:, 2] - clipped[:, 0]) <= 1e-4) | ((clipped[:, 3] - clipped[:, 1]) <= 1e-4),
             "box entirely outside the frame")
    # one box per (frame, track id): keep the first, a duplicate id in a frame is a label error
    has_id = (track_id >= 0) & keep
    if has_id.any():
        order = np.nonzero(has_id)[0]
        pairs = frame[order] * (track_id.max() + 1) + track_id[order]
        _, first = np.unique(pairs, return_index=True)
        dup = np.zeros(n, bool)
        dup[order] = True
        dup[order[first]] = False
        drop(dup, "duplicate track id in one frame")
    boxes = clipped[keep]
    class_names = np.array([names.get(int(c), f"class_{int(c)}") for c in class_id[keep]], dtype=object)
    return LabelTable(
        frame=frame[keep],
        track_id=track_id[keep],
        class_name=class_names,
        boxes_xyxy=boxes,
        score=np.asarray(score, dtype=np.float64)[keep],
        path=path,
        format=fmt,
        dropped=dropped,
    )
