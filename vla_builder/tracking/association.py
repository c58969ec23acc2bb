"""Boxes without track ids become tracks: IoU cost + Hungarian assignment (scipy), class-aware, frame by frame."""

from __future__ import annotations

import dataclasses

import numpy as np

from vla_builder.boxes import iou_matrix
from vla_builder.types import LabelTable


def linear_sum_assignment(cost):
    """scipy's Hungarian solver, imported on first use (the recipe imports the stages' config models)."""
    from scipy.optimize import linear_sum_assignment as solve

    return solve(cost)


def associate(table: LabelTable, iou_min: float = 0.3, max_age_frames: int = 10) -> LabelTable:
    """Give every row a track id. Tracks end when unmatched for more than `max_age_frames` source frames."""
    if len(table) == 0 or table.has_ids:
        return table
    ids = np.full(len(table), -1, np.int64)
    next_id = 1
    active: list[tuple[int, np.ndarray, str, int]] = []  # (id, last box, class, last frame)
    for f in np.unique(table.frame):
        rows = np.nonzero(table.frame == f)[0]
        active = [a for a in active if f - a[3] <= max_age_frames]
        if active:
            cost = 1.0 - iou_matrix(table.boxes_xyxy[rows], np.stack([a[1] for a in active]))
            same_class = table.class_name[rows][:, None] == np.array([a[2] for a in active], dtype=object)[None, :]
            cost[~same_class] = 2.0
            r_idx, a_idx = linear_sum_assignment(cost)
        else:
            r_idx, a_idx = np.zeros(0, int), np.zeros(0, int)
        matched = set()
        for r, a in zip(r_idx, a_idx, strict=True):
            if cost[r, a] <= 1.0 - iou_min:
                row = rows[r]
                ids[row] = active[a][0]
                active[a] = (active[a][0], table.boxes_xyxy[row], active[a][2], int(f))
                matched.add(r)
        for r, row in enumerate(rows):
            if r not in matched:
                ids[row] = next_id
                active.append((next_id, table.boxes_xyxy[row], str(table.class_name[row]), int(f)))
                next_id += 1
    return dataclasses.replace(table, track_id=ids)
