"""Label import — the "upcycling" of detection/tracking labels into one `LabelTable`.

Formats (one small module each): MOTChallenge `gt.txt`, COCO json (image- and video-style, TAO, keypoints),
YOLO txt folders, Something-Else per-frame JSON, CVAT for video / for images XML, YouTube-VIS / OVIS, LabelMe and
Pascal VOC per-frame folders, AVA CSV, VIA 2/3 projects, and a declarative `mapping:` for any other JSON / XML / CSV
schema or folder of per-frame files. Segment formats (EPIC-KITCHENS CSV, Something-Something clip labels,
ActivityNet Captions, YouCook2, Charades) live in `segments.py`. Every reader returns raw
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


# format name -> (module, reader function). Segment formats carry time spans and text, not boxes: they become
# episodes (`build.make_clips`) and read as an empty box table here.
READERS = {
    "mot": ("mot", "read_mot"),
    "coco": ("coco", "read_coco"),
    "yolo": ("yolo", "read_yolo"),
    "something_else": ("something_else", "read_something_else"),
    "cvat_video": ("cvat", "read_cvat"),
    "cvat_images": ("cvat", "read_cvat"),
    "youtube_vis": ("youtube_vis", "read_youtube_vis"),
    "labelme": ("labelme", "read_labelme"),
    "voc": ("voc", "read_voc"),
    "ava": ("ava", "read_ava"),
    "via": ("via", "read_via"),
    "mapping": ("mapping", "read_mapping"),
}
SEGMENT_FORMATS = ("epic", "something_something", "activitynet", "youcook2", "charades")
LABEL_FORMATS = (*READERS, *SEGMENT_FORMATS)  # what `labels_format:` accepts besides auto / none


def _choose(path: Path, candidates: list[str], what: str) -> str:
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise LabelError(path, f"cannot tell the label format ({what}); set labels_format: one of "
                         f"{', '.join(LABEL_FORMATS)}")
    raise LabelError(path, f"ambiguous label format ({what}): could be {' or '.join(candidates)}; "
                     f"set labels_format: {candidates[0]} (or another)")


def _sniff_json(path: Path) -> list[str]:
    import json

    try:
        doc = load_json_cached(path)  # the reader gets the same parse: one per worker and file version
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelError(path, f"cannot read JSON labels ({e})") from None
    found = []
    from vla_builder.sources.labels.via import is_via

    if is_via(doc):
        return ["via"]
    if isinstance(doc, dict):
        values = [v for v in list(doc.values())[:20] if isinstance(v, dict)]
        if values and all("timestamps" in v and "sentences" in v for v in values):
            return ["activitynet"]
        db = doc.get("database")
        if isinstance(db, dict) and any(isinstance(v, dict) and isinstance(v.get("annotations"), list) and any(
                isinstance(a, dict) and "segment" in a and "sentence" in a for a in v["annotations"][:5])
                for v in list(db.values())[:20]):
            return ["youcook2"]
    if isinstance(doc, dict):
        anns = doc.get("annotations")
        if isinstance(anns, list) and isinstance(doc.get("videos"), list) and any(
                isinstance(a, dict) and "bboxes" in a for a in anns[:50]):
            found.append("youtube_vis")
        elif "images" in doc or "annotations" in doc:  # the COCO reader names what is wrong with it
            found.append("coco")
        if "shapes" in doc and isinstance(doc.get("shapes"), list):
            found.append("labelme")
        values = list(doc.values())[:20]
        if values and all(isinstance(v, list) for v in values) and any(
                v and isinstance(v[0], dict) and "labels" in v[0] and "name" in v[0] for v in values):
            found.append("something_else")
    elif isinstance(doc, list) and doc and isinstance(doc[0], dict) and "id" in doc[0] and (
            "template" in doc[0] or "label" in doc[0]):
        found.append("something_something")
    return found


def _sniff_csv(path: Path) -> list[str]:
    import csv

    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = [r for _, r in zip(range(20), csv.reader(fh), strict=False) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError) as e:
        raise LabelError(path, f"cannot read labels ({e})") from None
    if not rows:
        return ["mot"]  # the MOT reader names an empty file
    header = {c.strip().lower() for c in rows[0]}
    if {"id", "actions"} <= header:
        return ["charades"]
    if {"narration", "verb"} & header and ({"start_timestamp", "start_frame", "start_s"} & header):
        return ["epic"]

    def number(c: str) -> bool:
        try:
            float(c)
            return True
        except ValueError:
            return False

    body = rows[1:] if not all(number(c) for c in rows[0][1:]) and not number(rows[0][0]) and len(rows) > 1 else rows
    found = []
    if sum(len(r) in (7, 8) and not number(r[0]) and all(number(c) for c in r[1:]) for r in body) * 2 > len(body):
        found.append("ava")  # video_id, timestamp, x1, y1, x2, y2, action_id[, person_id]
    if sum(len(r) >= 6 and all(number(c) for c in r[:6]) for r in body) * 2 >= len(body):
        found.append("mot")
    return found or ["mot"]  # the MOT reader gives the clearest "not a MOT file" error


def _sniff_xml(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET

    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        raise LabelError(path, f"cannot read XML labels ({e})") from None
    if root.tag == "annotations":
        if root.find("track") is not None:
            return ["cvat_video"]
        if root.find("image") is not None:
            return ["cvat_images"]
        mode = (root.findtext("meta/task/mode") or root.findtext("meta/job/mode") or "").strip()
        return ["cvat_video"] if mode == "interpolation" else ["cvat_images"]
    if root.tag == "annotation":
        return ["voc"]
    return []


def detect_format(path: Path) -> str:
    """Auto-detection by content, not only by suffix; an unknown or ambiguous file names the candidates."""
    if path.is_dir():
        kinds = {p.suffix.lower() for p in path.iterdir() if p.is_file()}
        found = [f for f, s in (("labelme", ".json"), ("voc", ".xml"), ("yolo", ".txt")) if s in kinds]
        return _choose(path, found, f"a folder with {', '.join(sorted(kinds)) or 'no files'}")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _choose(path, _sniff_json(path), "JSON")
    if suffix in {".txt", ".csv"}:
        return _choose(path, _sniff_csv(path), "text/CSV")
    if suffix == ".xml":
        return _choose(path, _sniff_xml(path), "XML")
    raise LabelError(path, f"cannot tell the label format from '{path.name}'; set labels_format: one of "
                     f"{', '.join(LABEL_FORMATS)}")


def resolve_format(spec: SourceSpec) -> str:
    assert spec.labels is not None
    if spec.labels_format not in ("auto", None):
        return spec.labels_format
    if spec.mapping is not None:
        return "mapping"
    return detect_format(spec.labels)


def read_labels(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    if spec.labels is None or spec.labels_format == "none":
        return LabelTable.empty()
    fmt = resolve_format(spec)
    if fmt in SEGMENT_FORMATS:
        return LabelTable.empty(spec.labels, fmt)
    if fmt not in READERS:
        raise LabelError(spec.labels, f"unknown labels_format {fmt!r}; have {', '.join(LABEL_FORMATS)}")
    import importlib

    module, func = READERS[fmt]
    reader = getattr(importlib.import_module(f"vla_builder.sources.labels.{module}"), func)
    try:
        table = reader(spec, info)
    except LabelError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, IndexError) as e:
        # a structure the reader did not expect (a number where a record should be, ...): still a clear,
        # per-clip error naming the file, never a bare traceback
        raise LabelError(spec.labels, f"malformed {fmt} labels ({type(e).__name__}: {e})") from None
    if fmt not in COUNTED_FROM_ONE:
        check_one_based(spec.labels, table.frame, info, spec)
    return table


COUNTED_FROM_ONE = ("mot", "something_else", "ava")  # formats whose default frame_base is already 1 (or times)


def check_one_based(path: Path, frames: np.ndarray, info: VideoInfo, spec: SourceSpec) -> None:
    """Frame numbers counted from 1 read as counted from 0 put every box one frame late and the last one past the
    end: refused with the fix when the numbers run 1..N on an N-frame video and frame_base is not set."""
    if spec.frame_base is not None or not len(frames) or not info.n_frames:
        return
    lo, hi = int(np.min(frames)), int(np.max(frames))
    if lo >= 1 and hi == info.n_frames:
        raise LabelError(path, f"frame numbers run {lo}..{hi} on a video of {info.n_frames} frames (0.."
                         f"{info.n_frames - 1}): they look counted from 1 — set frame_base: 1 on the source")


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
    extras: dict[str, np.ndarray] | None = None,
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
    frame_size = None
    if keep.any():
        sizes, counts = np.unique(size[keep], axis=0, return_counts=True)
        frame_size = (float(sizes[counts.argmax()][0]), float(sizes[counts.argmax()][1]))
        if frame_size == (1.0, 1.0):
            frame_size = None  # normalized coordinates (YOLO, `mapping: normalized`) state no frame size
    return LabelTable(
        frame=frame[keep],
        track_id=track_id[keep],
        class_name=class_names,
        boxes_xyxy=boxes,
        score=np.asarray(score, dtype=np.float64)[keep],
        path=path,
        format=fmt,
        dropped=dropped,
        extras={k: np.asarray(v)[keep] for k, v in (extras or {}).items()},
        frame_size_px=frame_size,
    )


def encode_class_names(class_names: list[str], spec: SourceSpec) -> tuple[np.ndarray, dict[int, str], bool]:
    """Formats that name classes by string: -> (class ids, id -> name, strict). With the recipe's `classes`, a name
    not among them is an unknown class (dropped and counted); without, every name found is a class."""
    if spec.classes:
        by_name = {v: k for k, v in spec.classes.items()}
        ids = np.array([by_name.get(n, -1) for n in class_names], dtype=np.int64)
        return ids, dict(spec.classes), True
    names = sorted(set(class_names))
    by_name = {n: i for i, n in enumerate(names)}
    return np.array([by_name[n] for n in class_names], dtype=np.int64), dict(enumerate(names)), False


def frame_of_file(stem: str, by_name: dict[str, int] | None, base: int) -> int | None:
    """A per-frame label file's (or image's) frame: the image with the same stem in an image-folder source, else
    the number at the end of its name minus `base`."""
    import re

    if by_name is not None and stem in by_name:
        return by_name[stem]
    m = re.search(r"(\d+)$", stem)
    return int(m.group(1)) - base if m else None


def count(dropped: dict[str, int], reason: str, n: int = 1) -> None:
    dropped[reason] = dropped.get(reason, 0) + n


def per_frame_documents(spec: SourceSpec, suffix: str, fmt: str, parse, dropped: dict[str, int]):
    """Walk a folder of per-frame label files (LabelMe JSON, VOC XML): yield (frame, parsed document).

    `parse(path)` returns the document, or a string saying why the file is not one (counted in `dropped`, skipped);
    a file whose frame cannot be told is counted too. A folder without such files is a LabelError naming it.
    """
    folder = spec.labels
    assert folder is not None
    files = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else [folder]
    if not files:
        raise LabelError(folder, f"no {fmt} {suffix} files in the folder")
    by_name = frame_number_map(spec)
    base = spec.frame_base or 0
    for f in files:
        doc = parse(f)
        if isinstance(doc, str):
            count(dropped, doc)
            continue
        frame = frame_of_file(f.stem, by_name, base)
        if frame is None:
            count(dropped, "label file without a frame number")
            continue
        yield frame, doc


def load_json_cached(path: Path):
    """Parsed JSON of a label file many clips share (Something-Else annotations, clip-label lists): read once per
    worker and file version, not once per clip. Raises OSError / UnicodeDecodeError / JSONDecodeError."""
    return _load_json(str(path), path.stat().st_mtime_ns)


def _load_json(path: str, mtime_ns: int):
    import json

    key = (path, mtime_ns)
    if key not in _JSON_CACHE:
        _JSON_CACHE.clear()  # one shared file at a time is the common case; bounded memory
        _JSON_CACHE[key] = json.loads(Path(path).read_text(encoding="utf-8"))
    return _JSON_CACHE[key]


_JSON_CACHE: dict[tuple[str, int], object] = {}
