"""YOLO txt labels: a folder with one `.txt` per frame, lines `class cx cy w h [score] [track_id]` normalized.

Frame of a file: for an image-folder source, the image with the same stem; else the number at the end of the
file name minus `frame_base` (default 0). Class names: the recipe's `classes`, else `classes.txt` / `data.yaml`
(`names:`) in the folder or its parent, else `class_<id>`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import yaml

from vla_builder.boxes import as_xywh
from vla_builder.sources.labels import LabelError, finish_table, frame_number_map
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def _names_from_folder(folder: Path) -> dict[int, str]:
    for base in (folder, folder.parent):
        txt = base / "classes.txt"
        if txt.is_file():
            return {i: n.strip() for i, n in enumerate(txt.read_text().splitlines()) if n.strip()}
        for yml in (base / "data.yaml", base / "dataset.yaml"):
            if yml.is_file():
                doc = yaml.safe_load(yml.read_text()) or {}
                names = doc.get("names")
                if isinstance(names, dict):
                    return {int(k): str(v) for k, v in names.items()}
                if isinstance(names, list):
                    return dict(enumerate(map(str, names)))
    return {}


def read_yolo(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    folder = spec.labels
    assert folder is not None
    if not folder.is_dir():
        raise LabelError(folder, "YOLO labels must be a folder of .txt files, one per frame")
    files = sorted(p for p in folder.glob("*.txt") if p.name != "classes.txt")
    if not files:
        raise LabelError(folder, "no .txt label files in the folder")
    by_name = frame_number_map(spec)
    base = spec.frame_base or 0
    rows = []
    dropped: dict[str, int] = {}
    for f in files:
        if by_name is not None and f.stem in by_name:
            frame = by_name[f.stem]
        else:
            m = re.search(r"(\d+)$", f.stem)
            if not m:
                dropped["label file without a frame number"] = dropped.get("label file without a frame number", 0) + 1
                continue
            frame = int(m.group(1)) - base
        for line in f.read_text(errors="replace").splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                v = [float(p) for p in parts]
            except ValueError:
                dropped["unparseable line"] = dropped.get("unparseable line", 0) + 1
                continue
            if len(v) < 5:
                dropped["unparseable line"] = dropped.get("unparseable line", 0) + 1
                continue
            score = v[5] if len(v) > 5 else 1.0
            tid = int(v[6]) if len(v) > 6 else -1
            rows.append((frame, tid, int(v[0]), *as_xywh(tuple(v[1:5]), "cxcywh"), score))
    if not rows:
        raise LabelError(folder, "no YOLO rows (class cx cy w h) in any file")
    a = np.asarray(rows, dtype=np.float64)
    names = {**_names_from_folder(folder), **spec.classes}
    # boxes are already normalized: a "pixel size" of 1x1 keeps them as they are
    return finish_table(folder, "yolo", a[:, 0], a[:, 1], a[:, 2], a[:, 3:7], a[:, 7], names, (1.0, 1.0), dropped,
                        strict_classes=bool(spec.classes))
