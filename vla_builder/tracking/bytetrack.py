"""A small ByteTrack (Zhang et al., ECCV 2022): Kalman-predicted boxes matched to detections in two rounds.

Our own code, not ultralytics' `BYTETracker`, for three reasons: ids belong to the tracker *instance* (a new
tracker starts at 1; ultralytics' `BaseTrack` keeps a class-level counter shared by every tracker in a process),
ids are handed out when a track is *confirmed* (so they are 1, 2, 3... with no gaps left by one-frame false
positives), and it keeps ultralytics (AGPL-3.0) confined to `ultralytics_adapter.py`.

Algorithm per frame (default thresholds are the paper's):
  1. predict every live track (tracked + lost) with a constant-velocity Kalman filter on (cx, cy, w, h);
  2. match high-score detections (score >= high_score) to them: Hungarian on 1 - IoU * score, same class only;
  3. match the remaining low-score detections (low_score < score < high_score) to the remaining *tracked* tracks on
     IoU alone — ByteTrack's point: a weak detection of a known object (blur, occlusion) keeps its track alive;
  4. match still-unconfirmed tracks (born last frame) to the remaining high-score detections; drop those unmatched;
  5. start unconfirmed tracks from the remaining detections with score >= new_track_score; a track is confirmed
     (and gets an id) when it is matched again on the next frame (or at once on the first frame);
  6. forget tracks lost for more than `max_lost_frames`.

Coordinates can be normalized (x / width, y / height): IoU is unchanged by scaling each axis, and the Kalman noise
of x and w scales with w, that of y and h with h, so it is unchanged too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_builder.boxes import from_cxcywh, iou_matrix, to_cxcywh
from vla_builder.tracking.association import linear_sum_assignment
from vla_builder.types import LabelTable


@dataclass(frozen=True)
class ByteTrackConfig:
    # thresholds of the ByteTrack paper (track_thresh 0.5, new tracks above track_thresh + 0.1), not ultralytics'
    # 0.25 / 0.25: with those, the second, partial box a detector puts on a half-occluded object (score ~0.45,
    # overlapping the first too little for NMS) started a new track that then took the object's id over
    high_score: float = 0.5  # first-round detections
    low_score: float = 0.1  # second-round detections are above this and below high_score
    new_track_score: float = 0.6  # a detection left unmatched starts a track only if at least this confident
    match_cost_max: float = 0.8  # first round accepts 1 - IoU * score up to this (match_thresh)
    second_iou_min: float = 0.5  # second round (low scores) needs this much IoU
    unconfirmed_cost_max: float = 0.7
    max_lost_frames: int = 30  # a lost track can be found again for this many frames (track_buffer)
    fuse_score: bool = True
    class_aware: bool = True  # never match a track to a detection of another class
    duplicate_iou: float = 0.85  # a lost track overlapping a tracked one this much is the same object: drop it
    # a track lost while another class's tracked box covers at least this share of it is taken to be carried
    # (hidden in a hand): while lost it moves with that box, and it is kept as long as the carrier is tracked
    carried_coverage: float = 0.5


class KalmanXYWH:
    """Constant-velocity Kalman filter on (cx, cy, w, h, vcx, vcy, vw, vh); noise proportional to the box size."""

    std_pos = 1.0 / 20
    std_vel = 1.0 / 160

    def __init__(self) -> None:
        self.F = np.eye(8)
        self.F[:4, 4:] = np.eye(4)  # one frame per step
        self.H = np.eye(4, 8)

    def _size(self, mean: np.ndarray) -> np.ndarray:
        w, h = max(mean[2], 1e-6), max(mean[3], 1e-6)
        return np.array([w, h, w, h])

    def initiate(self, xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mean = np.r_[xywh, np.zeros(4)]
        s = self._size(mean)
        std = np.r_[2 * self.std_pos * s, 10 * self.std_vel * s]
        return mean, np.diag(std**2)

    def predict(self, mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self._size(mean)
        q = np.diag(np.r_[self.std_pos * s, self.std_vel * s] ** 2)
        return self.F @ mean, self.F @ cov @ self.F.T + q

    def update(self, mean: np.ndarray, cov: np.ndarray, xywh: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = self._size(mean)
        r = np.diag((self.std_pos * s) ** 2)
        proj_cov = self.H @ cov @ self.H.T + r
        gain = np.linalg.solve(proj_cov, (cov @ self.H.T).T).T
        mean = mean + gain @ (xywh - self.H @ mean)
        cov = cov - gain @ proj_cov @ gain.T
        return mean, cov


@dataclass
class _Track:
    mean: np.ndarray
    cov: np.ndarray
    class_name: str
    score: float
    start_frame: int
    last_frame: int
    det_index: int  # index of the detection matched on the last frame it was seen
    state: str = "new"  # new (unconfirmed) | tracked | lost | removed
    track_id: int = 0  # 0 until confirmed
    hits: list[tuple[int, int]] = field(default_factory=list)  # (frame, detection index) it was matched to
    # lost while covered by another tracked object (a cup under the hand that carries it): follow that one
    carrier: _Track | None = None
    carrier_anchor: np.ndarray | None = None  # the carrier's (cx, cy) when this track was lost
    anchor: np.ndarray | None = None  # this track's (cx, cy) when it was lost

    @property
    def box(self) -> np.ndarray:
        return from_cxcywh(self.mean[:4])


class ByteTracker:
    """Online ByteTrack with fresh state: ids of a new instance start at 1. Call `update` once per frame."""

    def __init__(self, config: ByteTrackConfig | None = None):
        self.config = config or ByteTrackConfig()
        self.kf = KalmanXYWH()
        self.frame = -1
        self.tracks: list[_Track] = []  # every track not removed: new, tracked, lost
        self.confirmed: list[_Track] = []  # every track that ever got an id (removed ones included)
        self.next_id = 1

    def _cost(self, tracks: list[_Track], dets: LabelTable, idx: np.ndarray, fuse: bool) -> np.ndarray:
        if not tracks or len(idx) == 0:
            return np.ones((len(tracks), len(idx)))
        iou = iou_matrix(np.stack([t.box for t in tracks]), dets.boxes_xyxy[idx])
        sim = iou * dets.score[idx][None, :] if fuse else iou
        cost = 1.0 - sim
        if self.config.class_aware:
            same = np.array([t.class_name for t in tracks], dtype=object)[:, None] == dets.class_name[idx][None, :]
            cost[~same] = 1.0 + 1e-3  # above every threshold: never matched
        return cost

    @staticmethod
    def _match(cost: np.ndarray, cost_max: float) -> tuple[list[tuple[int, int]], list[int], list[int]]:
        if cost.size == 0:
            return [], list(range(cost.shape[0])), list(range(cost.shape[1]))
        rows, cols = linear_sum_assignment(cost)
        pairs = [(r, c) for r, c in zip(rows, cols, strict=True) if cost[r, c] <= cost_max]
        mr, mc = {r for r, _ in pairs}, {c for _, c in pairs}
        return pairs, [r for r in range(cost.shape[0]) if r not in mr], [c for c in range(cost.shape[1]) if c not in mc]

    def _apply(self, track: _Track, dets: LabelTable, d: int) -> None:
        track.mean, track.cov = self.kf.update(track.mean, track.cov, np.asarray(to_cxcywh(dets.boxes_xyxy[d]), float))
        track.score = float(dets.score[d])
        track.last_frame = self.frame
        track.det_index = d
        track.hits.append((self.frame, d))
        if track.state in ("lost", "tracked"):
            track.state = "tracked"

    def _confirm(self, track: _Track) -> None:
        track.state = "tracked"
        track.track_id = self.next_id
        self.next_id += 1
        self.confirmed.append(track)

    def _find_carrier(self, lost: _Track) -> None:
        """Remember the tracked box of another class that covers `lost` most (>= carried_coverage), if any."""
        box = lost.box
        area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-12)
        best, best_cover = None, self.config.carried_coverage
        for t in self.tracks:
            if t is lost or t.state != "tracked" or t.last_frame != self.frame or t.class_name == lost.class_name:
                continue
            b = t.box
            inter = max(0.0, min(box[2], b[2]) - max(box[0], b[0])) * max(0.0, min(box[3], b[3]) - max(box[1], b[1]))
            if inter / area >= best_cover:
                best, best_cover = t, inter / area
        lost.carrier = best
        if best is not None:
            lost.anchor, lost.carrier_anchor = lost.mean[0:2].copy(), best.mean[0:2].copy()

    def update(self, dets: LabelTable) -> np.ndarray:
        """Track ids (N,) for this frame's detections: the confirmed track each one belongs to, else -1."""
        cfg = self.config
        self.frame += 1
        for t in self.tracks:
            if t.state == "lost":
                t.mean = t.mean.copy()
                t.mean[6:8] = 0  # a lost track keeps its place but stops growing / shrinking (as ByteTrack does)
            t.mean, t.cov = self.kf.predict(t.mean, t.cov)
        for t in self.tracks:  # a carried object is where its carrier took it
            if t.state == "lost" and t.carrier is not None and t.carrier.state == "tracked":
                t.mean = t.mean.copy()
                t.mean[0:2] = t.anchor + (t.carrier.mean[0:2] - t.carrier_anchor)
                t.mean[4:6] = t.carrier.mean[4:6]

        scores = dets.score if len(dets) else np.zeros(0)
        wh_ok = (dets.boxes_xyxy[:, 2] > dets.boxes_xyxy[:, 0]) & (dets.boxes_xyxy[:, 3] > dets.boxes_xyxy[:, 1])
        high = np.nonzero(wh_ok & (scores >= cfg.high_score))[0]
        low = np.nonzero(wh_ok & (scores > cfg.low_score) & (scores < cfg.high_score))[0]

        pool = [t for t in self.tracks if t.state in ("tracked", "lost")]
        unconfirmed = [t for t in self.tracks if t.state == "new"]

        # round 1: confirmed tracks (tracked or lost) <- high-score detections
        pairs, u_pool, u_high = self._match(self._cost(pool, dets, high, cfg.fuse_score), cfg.match_cost_max)
        for r, c in pairs:
            self._apply(pool[r], dets, int(high[c]))
        # round 2: still-unmatched *tracked* tracks <- low-score detections, IoU only
        rest = [pool[r] for r in u_pool if pool[r].state == "tracked"]
        pairs2, u_rest, _ = self._match(self._cost(rest, dets, low, False), 1.0 - cfg.second_iou_min)
        for r, c in pairs2:
            self._apply(rest[r], dets, int(low[c]))
        for r in u_rest:
            rest[r].state = "lost"
            self._find_carrier(rest[r])
        # round 3: unconfirmed tracks <- high-score detections left over; unmatched ones were noise
        left = high[u_high]
        pairs3, u_unc, u_left = self._match(self._cost(unconfirmed, dets, left, cfg.fuse_score),
                                            cfg.unconfirmed_cost_max)
        for r, c in pairs3:
            self._apply(unconfirmed[r], dets, int(left[c]))
            self._confirm(unconfirmed[r])
        for r in u_unc:
            unconfirmed[r].state = "removed"
        # new tracks from what is left
        for c in u_left:
            d = int(left[c])
            if scores[d] < cfg.new_track_score:
                continue
            mean, cov = self.kf.initiate(np.asarray(to_cxcywh(dets.boxes_xyxy[d]), float))
            t = _Track(mean, cov, str(dets.class_name[d]), float(scores[d]), self.frame, self.frame, d,
                       hits=[(self.frame, d)])
            if self.frame == 0:
                self._confirm(t)  # nothing to confuse it with on the first frame (as ByteTrack does)
            self.tracks.append(t)
        # forget long-lost tracks, and lost tracks that duplicate a tracked one
        for t in self.tracks:
            carried = t.carrier is not None and t.carrier.state == "tracked"
            if t.state == "lost" and self.frame - t.last_frame > cfg.max_lost_frames and not carried:
                t.state = "removed"
        tracked = [t for t in self.tracks if t.state == "tracked"]
        lost = [t for t in self.tracks if t.state == "lost"]
        if tracked and lost:
            iou = iou_matrix(np.stack([t.box for t in lost]), np.stack([t.box for t in tracked]))
            for i, j in zip(*np.nonzero(iou > cfg.duplicate_iou), strict=True):
                if lost[i].class_name == tracked[j].class_name:
                    lost[i].state = "removed"
        self.tracks = [t for t in self.tracks if t.state != "removed"]

        ids = np.full(len(dets), -1, np.int64)
        for t in self.tracks:
            if t.state == "tracked" and t.last_frame == self.frame:
                ids[t.det_index] = t.track_id
        return ids


def track_clip(detections: list[LabelTable], config: ByteTrackConfig | None = None) -> list[np.ndarray]:
    """Offline ByteTrack over a whole clip with a fresh tracker: ids (N_t,) per frame, -1 for untracked detections.

    Unlike online output, a track's first detection (the frame before it was confirmed) gets its id too: the whole
    clip is known, so the one-frame confirmation delay need not cost a frame.
    """
    tracker = ByteTracker(config)
    ids = [tracker.update(d) for d in detections]
    for t in tracker.confirmed:
        frame, d = t.hits[0]
        if ids[frame][d] < 0:
            ids[frame][d] = t.track_id
    return ids
