"""Tracking quality against ground truth: CLEAR-MOT and identity metrics (py-motmetrics), HOTA, propagation IoU.

Both sides are `TrackSet`s on the same grid (boxes normalized xyxy, NaN where absent). A hypothesis box matches a
ground-truth box at IoU >= 0.5 (the MOTChallenge rule). `motmetrics` is only needed by `mot_metrics`
(pip install motmetrics); its own `distances.iou_matrix` uses `np.asfarray`, gone in NumPy 2, so we hand it our
distances.
"""

from __future__ import annotations

import numpy as np

from vla_builder.boxes import iou_matrix
from vla_builder.tracking.association import linear_sum_assignment  # scipy loads on first use
from vla_builder.types import TrackSet


def _frame(tracks: TrackSet, t: int) -> tuple[np.ndarray, np.ndarray]:
    present = ~np.isnan(tracks.boxes_xyxy[t, :, 0])
    return tracks.ids[present], tracks.boxes_xyxy[t, present]


def mot_metrics(gt: TrackSet, hyp: TrackSet, iou_min: float = 0.5) -> dict[str, float]:
    """MOTA, IDF1, IDP, IDR, id switches, precision, recall, MOTP (as mean IoU of matches) via py-motmetrics."""
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=True)
    for t in range(gt.boxes_xyxy.shape[0]):
        g_ids, g_boxes = _frame(gt, t)
        h_ids, h_boxes = _frame(hyp, t) if t < hyp.boxes_xyxy.shape[0] else (np.zeros(0, int), np.zeros((0, 4)))
        dist = 1.0 - iou_matrix(g_boxes, h_boxes)
        dist[dist > 1.0 - iou_min] = np.nan  # not a match candidate
        acc.update(g_ids.tolist(), h_ids.tolist(), dist)
    names = ["mota", "idf1", "idp", "idr", "num_switches", "precision", "recall", "motp", "num_false_positives",
             "num_misses", "mostly_tracked", "num_unique_objects"]
    summary = mm.metrics.create().compute(acc, metrics=names, name="seq")
    out = {n: float(summary[n].iloc[0]) for n in names}
    out["motp_iou"] = 1.0 - out.pop("motp") if np.isfinite(out["motp"]) else float("nan")
    return out


def hota(gt: TrackSet, hyp: TrackSet) -> dict[str, float]:
    """HOTA, DetA, AssA (Luiten et al., IJCV 2021), averaged over IoU thresholds 0.05..0.95, as TrackEval does."""
    alphas = np.arange(0.05, 0.99, 0.05)
    g_index = {int(i): n for n, i in enumerate(gt.ids)}
    h_index = {int(i): n for n, i in enumerate(hyp.ids)}
    n_g, n_h = len(g_index), len(h_index)
    frames = []
    potential = np.zeros((n_g, n_h))
    g_count, h_count = np.zeros(n_g), np.zeros(n_h)
    for t in range(gt.boxes_xyxy.shape[0]):
        g_ids, g_boxes = _frame(gt, t)
        h_ids, h_boxes = _frame(hyp, t)
        gi = np.array([g_index[int(i)] for i in g_ids], int)
        hi = np.array([h_index[int(i)] for i in h_ids], int)
        sim = iou_matrix(g_boxes, h_boxes)
        frames.append((gi, hi, sim))
        g_count[gi] += 1
        h_count[hi] += 1
        if sim.size:  # soft co-occurrence, normalized per frame (TrackEval's potential_matches_count)
            denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
            potential[np.ix_(gi, hi)] += np.divide(sim, denom, out=np.zeros_like(sim), where=denom > 0)
    global_align = potential / np.maximum(g_count[:, None] + h_count[None, :] - potential, 1e-12)
    tp = np.zeros(len(alphas))
    match_counts = np.zeros((len(alphas), n_g, n_h))
    for gi, hi, sim in frames:
        if sim.size == 0:
            continue
        score = global_align[np.ix_(gi, hi)] * sim
        rows, cols = linear_sum_assignment(-score)
        for a, alpha in enumerate(alphas):
            ok = sim[rows, cols] >= alpha - 1e-10
            tp[a] += ok.sum()
            match_counts[a, gi[rows[ok]], hi[cols[ok]]] += 1
    n_gt_dets, n_h_dets = g_count.sum(), h_count.sum()
    det_a = tp / np.maximum(n_gt_dets + n_h_dets - tp, 1)
    ass_a = np.zeros(len(alphas))
    for a in range(len(alphas)):
        m = match_counts[a]
        ass = m / np.maximum(g_count[:, None] + h_count[None, :] - m, 1)
        ass_a[a] = (m * ass).sum() / max(tp[a], 1)
    h = np.sqrt(det_a * ass_a)
    return {"hota": float(h.mean()), "deta": float(det_a.mean()), "assa": float(ass_a.mean())}


def propagation_quality(gt: TrackSet, pred: TrackSet, only_unlabeled: bool = True) -> dict[str, float]:
    """How well dense boxes recovered from sparse labels match the truth, track by track (ids must agree).

    mean_iou: mean IoU over ground-truth boxes of samples the prediction did not get as labels (a missing
    prediction counts as 0); coverage: share of those boxes that have any prediction.
    """
    ious = []
    for k, tid in enumerate(gt.ids):
        j = np.nonzero(pred.ids == tid)[0]
        present = ~np.isnan(gt.boxes_xyxy[:, k, 0])
        for t in np.nonzero(present)[0]:
            if j.size and only_unlabeled and pred.labeled[t, j[0]]:
                continue
            if j.size == 0 or np.isnan(pred.boxes_xyxy[t, j[0], 0]):
                ious.append(np.nan)
                continue
            ious.append(iou_matrix(gt.boxes_xyxy[t, k][None], pred.boxes_xyxy[t, j[0]][None])[0, 0])
    a = np.array(ious, float)
    return {"mean_iou": float(np.nan_to_num(a, nan=0.0).mean()) if a.size else float("nan"),
            "coverage": float(np.isfinite(a).mean()) if a.size else float("nan"),
            "boxes": int(a.size)}
