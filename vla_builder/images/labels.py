"""A labeled image folder -> one `LabeledImage` per image, through the project's label importers.

The importers number images by their position in the folder (an image-folder source). A label that names an image
the folder does not hold would fall back to the number in its file name and land on the wrong image, so such labels
are left out first (and counted) — never guessed.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_builder.images.grounding import Obj
from vla_builder.images.recipe import ImageSourceConfig
from vla_builder.sources.labels import LabelError, detect_format, read_labels
from vla_builder.sources.video import list_images
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


@dataclass
class LabeledImage:
    path: Path
    width_px: int
    height_px: int
    objects: list[Obj]


@dataclass
class SourceImages:
    format: str
    images: list[LabeledImage]
    problems: list[str] = field(default_factory=list)  # one line per skipped image or label file, naming it
    dropped: dict[str, int] = field(default_factory=dict)  # importer's reason -> rows


def _image_size(path: Path) -> tuple[int, int] | None:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (OSError, UnidentifiedImageError):
        return None


def _only_present(labels: Path, fmt: str, stems: set[str], tmp: Path) -> tuple[Path, list[str]]:
    """The label file/folder restricted to images the folder holds, and the names left out."""
    missing: list[str] = []
    if fmt in ("voc", "labelme", "yolo") and labels.is_dir():
        suffix = {"voc": ".xml", "labelme": ".json", "yolo": ".txt"}[fmt]
        keep = tmp / "labels"
        keep.mkdir()
        names = ("classes.txt", "data.yaml", "dataset.yaml")  # YOLO class names, beside the labels or above them
        for f in sorted(labels.glob(f"*{suffix}")):
            if f.stem in stems:
                (keep / f.name).symlink_to(f.resolve())
            elif f.name not in names:
                missing.append(f.name)
        if fmt == "yolo":
            for base in (labels, labels.parent):
                found = [base / n for n in names if (base / n).is_file()]
                if found:
                    for f in found:
                        (keep / f.name).symlink_to(f.resolve())
                    break
        return keep, missing
    if fmt == "coco":
        try:
            doc = json.loads(labels.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise LabelError(labels, f"cannot read COCO json ({e})") from None
        images = doc.get("images") if isinstance(doc, dict) else None
        if isinstance(images, list):
            present = [im for im in images if Path(str(im.get("file_name", ""))).stem in stems]
            missing = [str(im.get("file_name")) for im in images if im not in present]
            if missing:
                ids = {im.get("id") for im in present}
                doc = {**doc, "images": present,
                       "annotations": [a for a in doc.get("annotations", []) if a.get("image_id") in ids]}
                out = tmp / labels.name
                out.write_text(json.dumps(doc), encoding="utf-8")
                return out, missing
    return labels, missing


def _mapping_per_image(src: ImageSourceConfig, files: list[Path], sizes: dict, labels: Path,
                       problems: list[str]) -> LabelTable:
    """A folder of per-image label documents (AI Hub image sets ship one JSON per image) read with the recipe's
    `mapping:`: a document belongs to the image with the same stem; its `records` are that image's boxes."""
    from vla_builder.sources.labels import encode_class_names, finish_table
    from vla_builder.sources.labels.mapping import load_records, record_attributes, record_box, record_class

    mapping = src.mapping.as_dict() if src.mapping is not None else {}
    index = {f.stem: i for i, f in enumerate(files)}
    dropped: dict[str, int] = {}
    rows, names, attrs, size_rows = [], [], [], []
    docs = sorted(f for f in labels.iterdir() if f.suffix.lower() in (".json", ".csv", ".tsv"))
    if not docs:
        raise LabelError(labels, "no .json / .csv label documents in the folder")
    for doc in docs:
        if doc.stem not in index or sizes[files[index[doc.stem]]] is None:
            problems.append(f"{doc.name}: labels for an image the folder does not hold, left out")
            continue
        size = (1.0, 1.0) if mapping.get("normalized") else sizes[files[index[doc.stem]]]
        try:
            records = load_records(doc, mapping, SourceSpec(labels=doc))
        except LabelError as e:
            problems.append(f"{doc.name}: {e.reason}")
            continue
        for rec in records:
            box, cls = record_box(rec, mapping, dropped), None
            if box is None or (cls := record_class(rec, mapping, dropped)) is None:
                continue
            rows.append((index[doc.stem], *box))
            names.append(cls)
            size_rows.append(size)
            attrs.append(record_attributes(rec, mapping))
    if not rows:
        raise LabelError(labels, "mapping: no usable boxes in the folder" + (f" (dropped: {dropped})" if dropped
                                                                           else ""))
    class_id, classes, strict = encode_class_names(names, SourceSpec(classes=dict(src.classes)))
    a = np.asarray(rows, dtype=np.float64)
    extra = np.empty(len(attrs), dtype=object)
    extra[:] = attrs
    return finish_table(labels, "mapping", a[:, 0], np.full(len(a), -1), class_id, a[:, 1:5], np.ones(len(a)),
                        classes, np.asarray(size_rows, dtype=np.float64), dropped, strict_classes=strict,
                        extras={"attributes": extra})


def read_source(src: ImageSourceConfig, images_dir: Path, labels: Path) -> SourceImages:
    """Raises LabelError for a source that cannot be read at all; per-image problems are listed, not raised."""
    files = list_images(images_dir)
    if not files:
        raise LabelError(images_dir, "no images in the folder")
    sizes = {f: _image_size(f) for f in files}
    problems = [f"{f.name}: unreadable image, skipped" for f, s in sizes.items() if s is None]
    first = next((s for s in sizes.values() if s), None)
    if first is None:
        raise LabelError(images_dir, "no readable image in the folder")
    fmt = src.labels_format
    if fmt == "auto":
        fmt = "mapping" if src.mapping is not None else detect_format(labels)
    stems = {f.stem for f in files}
    info = VideoInfo(path=images_dir, width_px=first[0], height_px=first[1], fps=1.0, n_frames=len(files),
                     codec="images", pix_fmt="rgb24", rotation_deg=0)
    per_image = fmt == "mapping" and labels.is_dir()
    if per_image:
        table = _mapping_per_image(src, files, sizes, labels, problems)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            present, missing = _only_present(labels, fmt, stems, Path(tmp))
            problems += [f"{name}: labels for an image the folder does not hold, left out" for name in missing]
            spec = SourceSpec(frames=images_dir, frames_fps=1.0, labels=present, labels_format=fmt,
                              classes=dict(src.classes), frame_base=src.frame_base,
                              mapping=src.mapping.as_dict() if src.mapping is not None else None)
            table = read_labels(spec, info)
    # one file's pixel-valued `mapping:` boxes were normalized by the first image's size: back to pixels
    first_size = np.asarray(first, dtype=np.float64) if fmt == "mapping" and not per_image and not (
        src.mapping and src.mapping.normalized) else None
    polygons = table.extras.get("polygons")
    crowd = table.extras.get("iscrowd")
    attrs = table.extras.get("attributes")
    out: list[LabeledImage] = []
    by_frame: dict[int, list[int]] = {}
    for row, frame in enumerate(table.frame.tolist()):
        by_frame.setdefault(frame, []).append(row)
    for frame in sorted(by_frame):
        if not 0 <= frame < len(files):
            problems.append(f"labels for image number {frame} (the folder holds {len(files)} images), left out")
            continue
        path = files[frame]
        size = sizes[path]
        if size is None:
            continue
        scale = np.asarray(size, dtype=np.float64)
        objects = []
        for i, row in enumerate(by_frame[frame]):
            norm = table.boxes_xyxy[row]
            if first_size is not None:
                norm = np.clip(norm * np.tile(first_size, 2) / np.tile(scale, 2), 0.0, 1.0)
            box = tuple(float(v) for v in norm * np.tile(scale, 2))
            polys = polygons[row] if polygons is not None and polygons[row] is not None else ()
            objects.append(Obj(index=i, cls=str(table.class_name[row]), box=box,  # type: ignore[arg-type]
                               polygons=tuple(np.asarray(p) * scale for p in polys),
                               crowd=bool(crowd[row]) if crowd is not None else False,
                               attributes=dict(attrs[row]) if attrs is not None and isinstance(attrs[row], dict)
                               else {}))
        out.append(LabeledImage(path=path, width_px=size[0], height_px=size[1], objects=objects))
    return SourceImages(format=fmt, images=out, problems=problems, dropped=dict(table.dropped))
