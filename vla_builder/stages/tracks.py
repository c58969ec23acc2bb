"""Labels onto the clip's grid: one dense track per object, gaps between labeled frames interpolated.

Boxes without ids are associated into tracks first. Sparse (keyframe) labels are filled by linear interpolation
across gaps up to `max_gap_s`; filled boxes are marked `labeled=False`. Detector / motion propagation of sparse
labels, and tracks for sources without labels, are `DetectTrackStage`'s job (stages/detect_track.py); it makes the
same TrackSet as this stage for dense labels, so a pipeline uses one or the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.association import associate
from vla_builder.pipeline import Stage
from vla_builder.types import Clip, LabelTable, TrackSet


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


@dataclass
class TracksStage(Stage):
    max_gap_s: float = 2.0
    iou_min: float = 0.3

    name: ClassVar[str] = "tracks"
    needs: ClassVar[tuple[str, ...]] = ("labels", "frames")
    makes: ClassVar[tuple[str, ...]] = ("tracks",)

    def process(self, clip: Clip) -> Clip:
        assert clip.labels is not None and clip.frames is not None and clip.info is not None
        labels = clip.labels
        prov = dict(clip.provenance)
        if len(labels) and not labels.has_ids:
            max_age = max(1, int(round(self.max_gap_s * clip.info.fps)))
            labels = associate(labels, self.iou_min, max_age)
            prov["track_ids"] = "associated (IoU + Hungarian): the labels carry no ids"
        tracks = labels_to_grid(labels, clip.frames.source_index, self.max_gap_s * clip.info.fps)
        prov["tracks"] = len(tracks)
        return clip.with_(labels=labels, tracks=tracks, provenance=prov)
