"""Charades CSV (`Charades_v1_train.csv`, `Charades_v1_test.csv`): one row per video, `id` its name and `actions`
its labeled spans, `"c092 11.90 21.20;c147 0.00 12.60"` (class code, start s, end s). The words of a class code come
from the class list file beside it (`Charades_v1_classes.txt`, lines `c092 Holding a phone`; any `*classes*.txt`
there): each span becomes a segment whose text is its class's words. The row's `script` (a free-text description of
the whole video) is not a span's caption and is left out.
"""

from __future__ import annotations

from pathlib import Path

from vla_builder.sources.labels import LabelError
from vla_builder.sources.labels.mapping import load_document, video_names
from vla_builder.sources.labels.segments import Segment, normalize_text
from vla_builder.types import SourceSpec


def class_list(path: Path) -> dict[str, str]:
    """code -> words from the class list file beside the CSV; LabelError naming what was looked for."""
    candidates = sorted(path.parent.glob("Charades_v1_classes.txt")) or sorted(path.parent.glob("*classes*.txt"))
    if not candidates:
        raise LabelError(path, "no class list beside it (Charades_v1_classes.txt: lines 'c092 Holding a phone'); "
                         "the action codes need their words")
    words = {}
    for line in candidates[0].read_text(encoding="utf-8").splitlines():
        code, _, text = line.strip().partition(" ")
        if code and text.strip():
            words[code] = normalize_text(text)
    if not words:
        raise LabelError(candidates[0], "class list without 'code words' lines")
    return words


def read_charades(path: Path, spec: SourceSpec) -> list[Segment]:
    rows = load_document(path)  # LabelError naming the file when unreadable
    names = video_names(spec.name)
    mine = [(i, r) for i, r in enumerate(rows) if (r.get("id") or "").strip() in names]
    if not mine:
        ids = [r.get("id") for r in rows[:5]]
        raise LabelError(path, f"no row of video '{spec.name}' among {len(rows)} (ids like {ids}): labels of "
                         "another video?")
    words = class_list(path)
    out, bad = [], []
    for i, row in mine:
        for j, item in enumerate(p for p in (row.get("actions") or "").split(";") if p.strip()):
            parts = item.split()
            try:
                code, start, end = parts[0], float(parts[1]), float(parts[2])
            except (IndexError, ValueError):
                bad.append(f"row {i + 2} action {j}: '{item}' is not 'code start end'")
                continue
            if code not in words:
                bad.append(f"row {i + 2}: class {code} is not in the class list")
                continue
            if end <= start:
                bad.append(f"row {i + 2} action {j}: end {end:g} is not after start {start:g}")
                continue
            out.append(Segment(start, end, words[code], f"{path.name}#row {i + 2}.actions[{j}] ({code})"))
    if not out:
        raise LabelError(path, f"no usable actions for '{spec.name}' ({'; '.join(bad[:5]) or 'empty actions'})")
    return out
