"""Sparse keyframe labels -> dense tracks: boxes carried along optical flow between keyframes, checked by template
matching, and replaced by detections where the carries disagree (the `sparse` mode of stages/detect_track.py).

`FlowField` computes dense flow between neighbouring samples on demand; `propagation_priors` carries each labeled box
forward and backward and blends the two; `refine_with_detections` lets a detector's box (or the ByteTrack track
matched to the label) win where the carried prediction is not trusted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.boxes import centers, from_cxcywh, iou_matrix
from vla_builder.tracking.association import linear_sum_assignment
from vla_builder.types import LabelTable, TrackSet


@dataclass
class FlowField:
    """Dense optical flow between neighbouring samples, computed on demand (a segment at a time) and cached."""

    rgb: np.ndarray  # (T, H, W, 3) uint8
    max_side_px: int  # the recipe's tracks.flow_max_side_px
    method: str = "farneback"  # farneback | dis (kernels.reference.dense_flow)
    preset: str = "medium"  # DIS preset
    ncc_margin: float = 0.02  # the flow's shift is kept unless the best match correlates this much better

    # Bounded caches besides `release_before`: a carry walks a segment forward then backward and all tracks of a
    # step share one flow field, so a few suffice; a long segment no longer holds all it visited.
    GRAY_CACHE: ClassVar[int] = 512
    FLOW_CACHE: ClassVar[int] = 8

    def __post_init__(self) -> None:
        self._gray: OrderedDict[int, np.ndarray] = OrderedDict()
        self._flow: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        # a streamed clip (`GridFrames`) makes its grey frames in one forward pass (kept on disk), so the random
        # access of the carries never holds the clip at full size
        self._grays = self.rgb.grays(self.max_side_px) if hasattr(self.rgb, "grays") else None

    def gray(self, t: int) -> np.ndarray:
        from vla_builder.kernels.reference import to_gray

        if t not in self._gray:
            self._gray[t] = self._grays[t] if self._grays is not None else to_gray(self.rgb[t], self.max_side_px)
            if len(self._gray) > self.GRAY_CACHE:
                self._gray.popitem(last=False)
        return self._gray[t]

    def box_shift(self, t_from: int, t_to: int, boxes: np.ndarray) -> np.ndarray:
        """Shift (K, 2), normalized units, of each box of sample t_from towards t_to; 0 where unknown.

        The median flow inside the box, checked against template matching of the box's interior: dense flow
        occasionally loses a fast, finely textured object for one frame (Farneback measured 0 px for a true
        10 px on one frame of pick_place), and one lost step shifts the box for the rest of the carry. Where the
        flow's shift matches the patch clearly worse (normalized cross-correlation) than the best whole-pixel
        shift, the matched shift is taken.
        """
        from vla_builder.kernels.reference import box_flow_norm, dense_flow

        key = (t_from, t_to)
        if key not in self._flow:
            self._flow[key] = dense_flow(self.gray(t_from), self.gray(t_to), self.method, self.preset)
            if len(self._flow) > self.FLOW_CACHE:
                self._flow.popitem(last=False)
        shift = np.nan_to_num(box_flow_norm(self._flow[key], boxes), nan=0.0)
        g0, g1 = self.gray(t_from), self.gray(t_to)
        for k, box in enumerate(boxes):
            matched = _match_shift_px(g0, g1, box, shift[k] * (g0.shape[1], g0.shape[0]), self.ncc_margin)
            if matched is not None:
                shift[k] = matched / (g0.shape[1], g0.shape[0])
        return shift

    def release_before(self, t: int) -> None:
        """Drop cached images and flows of samples before t (segments are visited in time order)."""
        self._gray = OrderedDict((k, v) for k, v in self._gray.items() if k >= t)
        self._flow = OrderedDict((k, v) for k, v in self._flow.items() if min(k) >= t)


def _match_shift_px(g0: np.ndarray, g1: np.ndarray, box: np.ndarray, flow_px: np.ndarray, margin: float,
                    ncc_min: float = 0.9) -> np.ndarray | None:
    """Whole-pixel shift of the box interior g0 -> g1 by normalized cross-correlation, when the match is clear
    (>= ncc_min) and beats the flow's shift by `margin`; None when the flow is as good (or the patch is too small or
    flat to tell)."""
    import cv2

    from vla_builder.kernels.reference import box_interior_px

    h, w = g0.shape
    r = box_interior_px(box, w, h)
    if r is None:
        return None
    xa, ya, xb, yb = r
    if xb - xa < 6 or yb - ya < 6:
        return None
    tpl = g0[ya:yb, xa:xb]
    if float(tpl.std()) < 2.0:  # flat: correlation means nothing
        return None
    reach = int(np.ceil(max(xb - xa, yb - ya) * 0.75 + np.abs(flow_px).max()))  # search radius, pixels
    wx0, wy0 = max(xa - reach, 0), max(ya - reach, 0)
    wx1, wy1 = min(xb + reach, w), min(yb + reach, h)
    window = g1[wy0:wy1, wx0:wx1]
    if window.shape[0] < tpl.shape[0] or window.shape[1] < tpl.shape[1]:
        return None
    score = cv2.matchTemplate(window, tpl, cv2.TM_CCOEFF_NORMED)
    _, best, _, (bx, by) = cv2.minMaxLoc(score)
    fx, fy = int(round(xa + flow_px[0])) - wx0, int(round(ya + flow_px[1])) - wy0  # the flow's shift in `score`
    flow_score = score[fy, fx] if 0 <= fy < score.shape[0] and 0 <= fx < score.shape[1] else -1.0
    # only an unambiguous match overrides the flow: a patch found nearly intact (a partly occluded or deforming
    # object correlates < 0.9 everywhere, and there the flow's median is the more robust of the two)
    if best < ncc_min or best - flow_score <= margin:
        return None
    return np.array([bx + wx0 - xa, by + wy0 - ya], float)


def _carry(boxes: np.ndarray, steps: list[int], flow: FlowField | None) -> np.ndarray:
    """Carry boxes (M, 4) along samples `steps` (first = where they are labeled) with flow: (len(steps), M, 4).

    Without flow they stay put. (Tried and dropped: checking each step against the labeled appearance and leaving
    the box in place when that matches better. It helps a still object that something passes over and hurts one
    labeled while occluded, whose "appearance" is the occluder: no net gain on scripts/eval_tracking.py.)
    """
    out = np.empty((len(steps), *boxes.shape))
    out[0] = boxes
    for i, (s0, s1) in enumerate(zip(steps[:-1], steps[1:], strict=True), start=1):
        d = flow.box_shift(s0, s1, out[i - 1]) if flow is not None and len(boxes) else np.zeros((len(boxes), 2))
        out[i] = out[i - 1] + np.concatenate([d, d], axis=1)
    return out


def propagation_priors(anchors: TrackSet, flow: FlowField | None,
                       extend_max_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Predicted boxes (T, K, 4) for every unlabeled sample a track is believed present in (NaN elsewhere), and
    how much to trust them (T, K): the IoU of the forward- and backward-carried boxes (NaN where only one exists).

    Between two keyframes labeling a track: forward-carried and backward-carried centers blended by time, size
    interpolated. When the two agree the prediction is anchored to two exact labels and is better than a detection;
    when they do not (occlusion, a turn, a change of speed between keyframes) a detection is better. Without flow
    the carried boxes stay put, so agreement is the IoU of the two labels (a still object). Towards a keyframe (or
    clip end) where the track is not labeled: carried from its last label for half the gap (at most
    `extend_max_samples`) — the object leaves somewhere in between and we cannot tell where without a detector.
    All tracks of a segment are carried together (one flow field per step).
    """
    t_count, _ = anchors.labeled.shape
    lab, labeled_boxes = anchors.labeled, anchors.boxes_xyxy
    prior = np.where(lab[..., None], labeled_boxes, np.nan)
    agree = np.where(lab, 1.0, np.nan)
    keys = np.nonzero(lab.any(axis=1))[0]
    if len(keys) == 0:
        return prior, agree
    # segments between consecutive keyframes, plus the clip's head and tail (-1 and t_count: no keyframe there)
    for a, b in zip([-1, *keys.tolist()], [*keys.tolist(), t_count], strict=True):
        if b - a <= 1:
            continue
        at_a = lab[a] if a >= 0 else np.zeros(lab.shape[1], bool)
        at_b = lab[b] if b < t_count else np.zeros(lab.shape[1], bool)
        both = np.nonzero(at_a & at_b)[0]
        only_a, only_b = np.nonzero(at_a & ~at_b)[0], np.nonzero(at_b & ~at_a)[0]
        # how far a track is carried towards a keyframe that does not label it: half the gap; to a clip end: all
        reach_a = min((b - a - 1) if b == t_count else (b - a) // 2, extend_max_samples)
        reach_b = min((b - a - 1) if a == -1 else (b - a) // 2, extend_max_samples)
        fwd_ks, bwd_ks = np.r_[both, only_a], np.r_[both, only_b]
        fwd = _carry(labeled_boxes[a, fwd_ks], list(range(a, b + 1 if len(both) else a + 1 + reach_a)), flow) \
            if len(fwd_ks) else None
        bwd = _carry(labeled_boxes[b, bwd_ks], list(range(b, a - 1 if len(both) else b - 1 - reach_b, -1)), flow) \
            if len(bwd_ks) else None
        if len(both):
            f, g = fwd[1:b - a, :len(both)], bwd[1:b - a, :len(both)][::-1]  # samples a+1 .. b-1
            w = (np.arange(1, b - a) / (b - a))[:, None, None]  # weight of the later keyframe grows with time
            size = (1 - w) * (f[:1, :, 2:] - f[:1, :, :2]) + w * (g[-1:, :, 2:] - g[-1:, :, :2])
            size = np.broadcast_to(size, f[..., 2:].shape)
            cf, cg = centers(f), centers(g)
            center = (1 - w) * cf + w * cg
            prior[a + 1:b, both] = from_cxcywh(np.concatenate([center, size], axis=-1))
            for i in range(b - a - 1):  # agreement of the two carries, both at the blended size
                fb = from_cxcywh(np.concatenate([cf[i], size[i]], axis=-1))
                gb = from_cxcywh(np.concatenate([cg[i], size[i]], axis=-1))
                agree[a + 1 + i, both] = np.diag(iou_matrix(fb, gb))
        if len(only_a) and reach_a > 0:
            prior[a + 1:a + 1 + reach_a, only_a] = fwd[1:1 + reach_a, len(both):]
        if len(only_b) and reach_b > 0:
            prior[b - reach_b:b, only_b] = bwd[1:1 + reach_b, len(both):][::-1]
        if flow is not None:
            flow.release_before(b)
    return prior, agree


def _link_tracker_ids(anchors: TrackSet, dets: list[LabelTable], det_ids: list[np.ndarray],
                      iou_min: float = 0.5) -> np.ndarray:
    """(T, K) tracker id of the detection matching each labeled box (Hungarian, same class), else -1."""
    t_count, k_count = anchors.labeled.shape
    link = np.full((t_count, k_count), -1, np.int64)
    names = np.array(anchors.class_names, dtype=object)
    for t in np.nonzero(anchors.labeled.any(axis=1))[0]:
        ks = np.nonzero(anchors.labeled[t])[0]
        if len(dets[t]) == 0:
            continue
        iou = iou_matrix(anchors.boxes_xyxy[t, ks], dets[t].boxes_xyxy)
        iou[names[ks][:, None] != dets[t].class_name[None, :]] = 0.0
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= iou_min:
                link[t, ks[r]] = det_ids[t][c]
    return link


def refine_with_detections(anchors: TrackSet, prior: np.ndarray, agree: np.ndarray, dets: list[LabelTable],
                           det_ids: list[np.ndarray], snap_iou_min: float,
                           trust_iou: float) -> tuple[np.ndarray, np.ndarray]:
    """Replace predicted boxes by detections; returns boxes (T, K, 4) and where a detection was used (T, K).

    A track's "own" tracker ids are those matched to its labels at the keyframes bounding the gap. At each unlabeled
    sample, tracks and detections of the same class are assigned (Hungarian) on IoU with the prediction plus a bonus
    for the track's own tracker id. A detection is taken when it overlaps the prediction by snap_iou_min, or when
    it is the track's own tracker track (then it may also extend the track where no prediction reaches) — unless the
    prediction is trusted (forward and backward agree by `trust_iou`): then the prediction stays, as it is tied to
    two exact labels and a detector box is only as exact as the detector.
    """
    t_count, k_count = anchors.labeled.shape
    link = _link_tracker_ids(anchors, dets, det_ids)
    keys = np.nonzero(anchors.labeled.any(axis=1))[0]
    names = np.array(anchors.class_names, dtype=object)
    boxes = prior.copy()
    used = np.zeros((t_count, k_count), bool)
    if len(keys) == 0:
        return boxes, used
    for t in range(t_count):
        if len(dets[t]) == 0 or anchors.labeled[t].all():
            continue
        prev_key = keys[keys <= t].max() if (keys <= t).any() else None
        next_key = keys[keys >= t].min() if (keys >= t).any() else None
        own = np.full((k_count, 2), -1, np.int64)
        if prev_key is not None:
            own[:, 0] = link[prev_key]
        if next_key is not None:
            own[:, 1] = link[next_key]
        ks = np.nonzero(~anchors.labeled[t])[0]
        d = dets[t]
        has_prior = ~np.isnan(prior[t, ks, 0])
        iou = np.zeros((len(ks), len(d)))
        if has_prior.any():
            iou[has_prior] = iou_matrix(prior[t, ks[has_prior]], d.boxes_xyxy)
        is_own = (det_ids[t][None, :] >= 0) & (
            (det_ids[t][None, :] == own[ks, 0][:, None]) | (det_ids[t][None, :] == own[ks, 1][:, None]))
        ok = (iou >= snap_iou_min) | is_own
        ok &= names[ks][:, None] == d.class_name[None, :]
        score = np.where(ok, iou + 1.0 * is_own, -1.0)
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols, strict=True):
            if score[r, c] >= 0 and not agree[t, ks[r]] >= trust_iou:  # NaN (one-sided) is not trusted
                boxes[t, ks[r]] = d.boxes_xyxy[c]
                used[t, ks[r]] = True
    return boxes, used
