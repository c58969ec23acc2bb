"""MOTChallenge text labels: `frame,id,x,y,w,h,conf,class,visibility` — 1-based frames, pixel boxes.

In ground truth, `conf` is the "consider" flag: rows with 0 are ignore regions (or classes out of evaluation) and
are dropped. Detection files (`det.txt`) carry a score there and -1 for id/class; ids of -1 become id-less boxes.
"""

from __future__ import annotations

import numpy as np

from vla_builder.sources.labels import MOT17_CLASSES, LabelError, finish_table
from vla_builder.types import LabelTable, SourceSpec, VideoInfo


def read_mot(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    try:
        text = path.read_text(errors="strict")
    except (OSError, UnicodeDecodeError) as e:
        raise LabelError(path, f"cannot read MOT labels ({e})") from None
    rows: list[list[float]] = []
    bad_lines = 0
    for line_no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.replace(" ", "").split(",")
        if len(parts) < 6:
            bad_lines += 1
            continue
        try:
            values = [float(p) for p in parts[:9]]
        except ValueError:
            bad_lines += 1
            continue
        values += [1.0, -1.0, 1.0][len(values) - 6 :] if len(values) < 9 else []
        rows.append(values[:9])
    if not rows:
        reason = f"no MOT rows (frame,id,x,y,w,h,...) in {bad_lines} non-empty line(s)" if bad_lines else "empty file"
        raise LabelError(path, reason)
    if bad_lines > len(rows):
        raise LabelError(path, f"not a MOT file: {bad_lines} of {bad_lines + len(rows)} lines do not parse")
    a = np.asarray(rows, dtype=np.float64)
    dropped = {"unparseable line": bad_lines} if bad_lines else {}
    consider = a[:, 6] != 0
    if (~consider).any():
        dropped["ignore region (conf 0)"] = int((~consider).sum())
    a = a[consider]
    base = 1 if spec.frame_base is None else spec.frame_base
    frame = np.where(np.isfinite(a[:, 0]) & (np.abs(a[:, 0]) < 1e9), a[:, 0], -1).astype(np.int64) - base
    cls = np.nan_to_num(a[:, 7], nan=-999, posinf=-999, neginf=-999)  # non-numbers: an unknown class
    class_id = np.where((cls < 0) & (cls != -999), 1, cls).astype(np.int64)  # det files: -1 = the detected class
    names = spec.classes or MOT17_CLASSES
    score = np.where(a[:, 6] > 0, np.minimum(a[:, 6], 1.0), 1.0)
    track = np.where(np.isfinite(a[:, 1]) & (np.abs(a[:, 1]) < 1e12), a[:, 1], -1).astype(np.int64)
    table = finish_table(
        path, "mot", frame, track, class_id, a[:, 2:6], score, names, (info.width_px, info.height_px), dropped
    )
    return table
