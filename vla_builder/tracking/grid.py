"""Labels onto the clip's grid: one dense track per object, gaps between labeled frames interpolated.

`labels_to_grid` is the dense-labels path of `DetectTrackStage` (stages/detect_track.py), which also associates
id-less boxes (tracking/association.py), propagates sparse keyframe labels along optical flow
(tracking/propagation.py) and detects where there are no labels (tracking/bytetrack.py, then
`detections_to_tracks`). Filled boxes are marked `labeled=False`; `grid_coverage` says how dense the labels are.
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


def grid_coverage(anchors: TrackSet) -> float:
    """Labeled samples / samples between each track's first and last label, over all tracks (1.0 = dense)."""
    if len(anchors) == 0:
        return 1.0
    total = 0
    for k in range(len(anchors)):
        t = np.nonzero(anchors.labeled[:, k])[0]
        total += t[-1] - t[0] + 1 if len(t) else 0
    return float(anchors.labeled.sum()) / max(total, 1)


def detections_to_tracks(dets: list[LabelTable], ids: list[np.ndarray], max_gap_samples: float) -> TrackSet:
    """Tracker output (ids per sample, -1 untracked) -> a TrackSet on the grid 0..T-1, all labeled=False; gaps up
    to max_gap_samples interpolated (as detect mode does)."""
    rows = [(t, int(i), str(d.class_name[j]), d.boxes_xyxy[j], float(d.score[j]))
            for t, (d, id_t) in enumerate(zip(dets, ids, strict=True)) for j, i in enumerate(id_t) if i >= 0]
    if rows:
        table = LabelTable(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                           np.array([r[2] for r in rows], dtype=object), np.stack([r[3] for r in rows]),
                           np.array([r[4] for r in rows]), format="detector")
    else:
        table = LabelTable.empty(fmt="detector")
    tracks = labels_to_grid(table, np.arange(len(dets)), max_gap_samples)
    return TrackSet(tracks.ids, tracks.class_names, tracks.boxes_xyxy, np.zeros_like(tracks.labeled))
