"""Labels onto the clip's grid: one dense track per object, gaps between labeled frames interpolated.

`labels_to_grid` is the dense-labels path of `DetectTrackStage` (stages/detect_track.py), which also associates
id-less boxes, propagates sparse keyframe labels along optical flow and detects where there are no labels.
Filled boxes are marked `labeled=False`.
"""

from __future__ import annotations

import numpy as np

from vla_builder.types import LabelTable, TrackSet


def labels_to_grid(labels: LabelTable, source_index: np.ndarray, max_gap_frames: float) -> TrackSet:
    t_count = len(source_index)
    track_ids = np.unique(labels.track_id)
    boxes = np.full((t_count, len(track_ids), 4), np.nan)
    labeled = np.zeros((t_count, len(track_ids)), bool)
    names: list[str] = []
    for k, tid in enumerate(track_ids):
        rows = np.nonzero(labels.track_id == tid)[0]
        rows = rows[np.argsort(labels.frame[rows], kind="stable")]
        frames_k = labels.frame[rows]
        boxes_k = labels.boxes_xyxy[rows]
        # majority class of the track (labels can flicker)
        values, counts = np.unique(labels.class_name[rows].astype(str), return_counts=True)
        names.append(str(values[np.argmax(counts)]))
        pos = np.searchsorted(frames_k, source_index)  # first label frame >= j
        for t, j in enumerate(source_index):
            p = pos[t]
            if p < len(frames_k) and frames_k[p] == j:
                boxes[t, k] = boxes_k[p]
                labeled[t, k] = True
            elif 0 < p < len(frames_k) and frames_k[p] - frames_k[p - 1] <= max_gap_frames:
                w = (j - frames_k[p - 1]) / (frames_k[p] - frames_k[p - 1])
                boxes[t, k] = (1 - w) * boxes_k[p - 1] + w * boxes_k[p]
    keep = ~np.all(np.isnan(boxes[..., 0]), axis=0)
    return TrackSet(ids=track_ids[keep].astype(int), class_names=tuple(n for n, k in zip(names, keep) if k),
                    boxes_xyxy=boxes[:, keep], labeled=labeled[:, keep])
