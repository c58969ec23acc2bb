"""Dense tracks from whatever labels a source has: dense, id-less, sparse keyframes, or none.

`DetectTrackStage` needs ("labels", "frames") and makes ("labels", "tracks"): it replaces `TracksStage` in a
pipeline that has a detector (or sparse labels). It makes the `TrackSet` itself rather than a denser LabelTable
because only a TrackSet can say which boxes a person labeled (`labeled=True`) and which were propagated
(`labeled=False`); a LabelTable row claims to be a label.

Modes (`mode="auto"` picks one from the labels; provenance records which and why):
  dense      ids on (nearly) every grid sample: exactly TracksStage (labels_to_grid, short gaps interpolated).
  associate  boxes without ids: ids by IoU + Hungarian (association.py), then dense or sparse as below.
  sparse     keyframe labels (say every 10th-30th frame): every sample filled. Labeled boxes always win and the
             label ids are the track ids. Between two keyframes each label is carried along the optical flow
             (median Farneback flow inside the box, checked by template matching), forward from one keyframe and
             backward from the next; centers are blended by time, sizes interpolated (flow off: plain linear
             interpolation). With a detector, a detection replaces the prediction when it overlaps it
             (IoU >= snap_iou_min) or belongs to the ByteTrack track matched to the label at either keyframe —
             unless the forward and backward carries agree (IoU >= trust_iou): that prediction is tied to two exact
             labels and beats a detector box. Objects detected but never labeled are not added.
  detect     no labels: detect every sample and track (ByteTrack, fresh ids from 1 per clip), all labeled=False.

Hands (`hands=True`, off by default): when neither the labels nor the tracks made from them have a hand / gripper
class (interactions.ACTOR_CLASS_HINTS), MediaPipe Hands (detect/hands.py, a pretrained hand model) is run on every
sample, its "hand" boxes are tracked with a fresh ByteTrack, and the tracks are added with ids above every other
track id (labeled=False). For human-demonstration video without actor labels. Provenance: `hand_tracks`.

mode="auto" (and "associate") choose dense or sparse from the labeled share of samples inside the tracks' spans
(`dense_min_coverage`). The detector is optional for dense / associate / sparse (sparse then uses flow alone) and
required for detect; it is loaded only when a clip needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from vla_builder.association import associate, iou_matrix, linear_sum_assignment
from vla_builder.detect.detections import Detections
from vla_builder.detect.hands import HandDetector
from vla_builder.detect.tracker import ByteTrackConfig, track_clip
from vla_builder.pipeline import Resources, Stage, StageConfig
from vla_builder.stages.tracks import labels_to_grid
from vla_builder.types import Clip, LabelTable, TrackSet

MODES = ("auto", "dense", "associate", "sparse", "detect")  # TracksConfig.mode


class DetectTrackError(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def grid_coverage(anchors: TrackSet) -> float:
    """Labeled samples / samples between each track's first and last label, over all tracks (1.0 = dense)."""
    if len(anchors) == 0:
        return 1.0
    total = 0
    for k in range(len(anchors)):
        t = np.nonzero(anchors.labeled[:, k])[0]
        total += t[-1] - t[0] + 1 if len(t) else 0
    return float(anchors.labeled.sum()) / max(total, 1)


# -- sparse propagation -------------------------------------------------------------------------------------------
@dataclass
class FlowField:
    """Dense optical flow between neighbouring samples, computed on demand (a segment at a time) and cached."""

    rgb: np.ndarray  # (T, H, W, 3) uint8
    max_side_px: int = 480
    method: str = "farneback"  # farneback | dis (kernels.reference.dense_flow)
    preset: str = "medium"  # DIS preset
    ncc_margin: float = 0.02  # the flow's shift is kept unless the best match correlates this much better

    def __post_init__(self) -> None:
        self._gray: dict[int, np.ndarray] = {}
        self._flow: dict[tuple[int, int], np.ndarray] = {}

    def gray(self, t: int) -> np.ndarray:
        from vla_builder.kernels.reference import to_gray

        if t not in self._gray:
            self._gray[t] = to_gray(self.rgb[t], self.max_side_px)
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
        shift = np.nan_to_num(box_flow_norm(self._flow[key], boxes), nan=0.0)
        g0, g1 = self.gray(t_from), self.gray(t_to)
        for k, box in enumerate(boxes):
            matched = _match_shift_px(g0, g1, box, shift[k] * (g0.shape[1], g0.shape[0]), self.ncc_margin)
            if matched is not None:
                shift[k] = matched / (g0.shape[1], g0.shape[0])
        return shift
    def release_before(self, t: int) -> None:
        """Drop cached images and flows of samples before t (segments are visited in time order)."""
        self._gray = {k: v for k, v in self._gray.items() if k >= t}
        self._flow = {k: v for k, v in self._flow.items() if min(k) >= t}


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
            cf, cg = (f[..., :2] + f[..., 2:]) / 2, (g[..., :2] + g[..., 2:]) / 2
            center = (1 - w) * cf + w * cg
            prior[a + 1:b, both] = np.concatenate([center - size / 2, center + size / 2], axis=-1)
            for i in range(b - a - 1):  # agreement of the two carries, both at the blended size
                fb = np.concatenate([cf[i] - size[i] / 2, cf[i] + size[i] / 2], axis=-1)
                gb = np.concatenate([cg[i] - size[i] / 2, cg[i] + size[i] / 2], axis=-1)
                agree[a + 1 + i, both] = np.diag(iou_matrix(fb, gb))
        if len(only_a) and reach_a > 0:
            prior[a + 1:a + 1 + reach_a, only_a] = fwd[1:1 + reach_a, len(both):]
        if len(only_b) and reach_b > 0:
            prior[b - reach_b:b, only_b] = bwd[1:1 + reach_b, len(both):][::-1]
        if flow is not None:
            flow.release_before(b)
    return prior, agree


def _link_tracker_ids(anchors: TrackSet, dets: list[Detections], det_ids: list[np.ndarray],
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
        iou[names[ks][:, None] != dets[t].class_names[None, :]] = 0.0
        rows, cols = linear_sum_assignment(-iou)
        for r, c in zip(rows, cols, strict=True):
            if iou[r, c] >= iou_min:
                link[t, ks[r]] = det_ids[t][c]
    return link


def refine_with_detections(anchors: TrackSet, prior: np.ndarray, agree: np.ndarray, dets: list[Detections],
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
        ok &= names[ks][:, None] == d.class_names[None, :]
        score = np.where(ok, iou + 1.0 * is_own, -1.0)
        rows, cols = linear_sum_assignment(-score)
        for r, c in zip(rows, cols, strict=True):
            if score[r, c] >= 0 and not agree[t, ks[r]] >= trust_iou:  # NaN (one-sided) is not trusted
                boxes[t, ks[r]] = d.boxes_xyxy[c]
                used[t, ks[r]] = True
    return boxes, used


# -- the stage ----------------------------------------------------------------------------------------------------
class TracksConfig(StageConfig):
    """The recipe's `tracks:` section (the tuning knobs below the first four are settable too)."""

    mode: Literal["auto", "dense", "associate", "sparse", "detect"] = "auto"
    max_gap_s: float = Field(2.0, gt=0)  # dense/detect: gaps between labels up to this long are interpolated
    flow: bool = True  # sparse labels: carry boxes along optical flow between keyframes (else interpolate)
    hands: bool = False  # no hand/gripper in the labels: add hand tracks from MediaPipe's pretrained hand model
    dense_min_coverage: float = Field(0.9, ge=0, le=1)  # labeled share of samples in the tracks' spans = dense
    iou_min: float = Field(0.3, ge=0, le=1)  # association of id-less boxes
    snap_iou_min: float = Field(0.5, ge=0, le=1)  # sparse: a detection overlapping the carried box this much wins
    trust_iou: float = Field(0.8, ge=0, le=1)  # sparse: forward and backward carries agreeing this much beat detections
    flow_max_side_px: int = Field(480, ge=32, le=4096)  # flow is computed on frames scaled down to this longest side
    # Farneback, not DIS: on finely textured objects moving ~10 px/frame DIS lost the motion on some frames (0.5 px
    # measured for 9 px true), Farneback's pyramid kept it (scripts/eval_tracking.py, pick_place)
    flow_method: Literal["farneback", "dis"] = "farneback"
    extend_max_s: float = Field(1.0, ge=0)  # sparse: how far past its last (before its first) label a box is carried


class DetectorConfig(StageConfig):
    """The recipe's `detector:` section: YOLO + ByteTrack (vla_builder/detect) — densifies sparse labels, tracks
    where there are none."""

    weights: str  # a local ultralytics .pt file, relative to the recipe; never downloaded
    classes: dict[str, str] = Field(default_factory=dict)  # detector class name -> label class name (and filter)
    imgsz: int = Field(640, ge=32, le=4096)  # detector input side, pixels
    conf_min: float = Field(0.25, ge=0.0, le=1.0)
    device: str = "auto"  # auto | cpu | cuda[:N]
    batch_size: int | None = Field(None, ge=1)  # frames per detector forward (None: the adapter's default)

    def resolved_device(self) -> str:
        """'auto' as the adapter resolves it on this machine (cuda when torch sees one)."""
        if self.device != "auto":
            return self.device
        from vla_builder.kernels import cuda_available

        return "cuda" if cuda_available() else "cpu"


@dataclass
class DetectTrackStage(Stage):
    tracks: TracksConfig = field(default_factory=TracksConfig)
    detector_config: DetectorConfig | None = None  # None: no detector (weights resolved to a path by the caller)
    tracker: ByteTrackConfig = field(default_factory=ByteTrackConfig)
    hand_detector: HandDetector = field(default_factory=HandDetector)  # its settings (mediapipe loads lazily)

    name: ClassVar[str] = "detect_track"
    needs: ClassVar[tuple[str, ...]] = ("labels", "frames")
    makes: ClassVar[tuple[str, ...]] = ("labels", "tracks")

    def __post_init__(self) -> None:
        self._detector = None

    @classmethod
    def of(cls, weights: str | Path | None = None, **settings) -> DetectTrackStage:
        """From flat keys of `tracks:` and `detector:`, e.g. `of(weights=pt, imgsz=320, mode="sparse")` (scripts,
        tests). An unknown key is an error."""
        det_keys = set(DetectorConfig.model_fields) - {"weights"}
        det = {k: settings.pop(k) for k in list(settings) if k in det_keys}
        if det and weights is None:
            raise ValueError(f"detector settings {sorted(det)} given without weights")
        detector = DetectorConfig(weights=str(weights), **det) if weights is not None else None
        return cls(tracks=TracksConfig(**settings), detector_config=detector)

    @property
    def weights(self) -> str | None:
        return self.detector_config.weights if self.detector_config is not None else None

    @staticmethod
    def resources_for(detector: DetectorConfig | None) -> Resources:
        gpu = detector is not None and detector.resolved_device().startswith("cuda")
        return Resources(cpus=1.0, gpus=1.0 if gpu else 0.0)

    @property
    def resources(self) -> Resources:  # type: ignore[override] — depends on the configured device
        return self.resources_for(self.detector_config)

    def setup(self) -> None:
        d = self.detector_config
        if d is not None and self._detector is None:
            from vla_builder.detect.ultralytics_adapter import UltralyticsDetector

            self._detector = UltralyticsDetector(
                d.weights, classes=tuple(d.classes) or None, class_map=dict(d.classes), imgsz=d.imgsz,
                conf_min=d.conf_min, device=d.device, batch_size=d.batch_size,
            ).load()

    @property
    def detector(self):
        self.setup()
        return self._detector

    def detect(self, rgb: np.ndarray) -> tuple[list[Detections], list[np.ndarray]]:
        """Detections and (fresh, per-clip) ByteTrack ids for every sample."""
        dets = self.detector.detect(rgb)
        return dets, track_clip(dets, self.tracker)

    def process(self, clip: Clip) -> Clip:
        clip = self._process_labels(clip)
        return self._add_hands(clip) if self.tracks.hands else clip

    def _add_hands(self, clip: Clip) -> Clip:
        """Hand tracks from MediaPipe, appended to clip.tracks, unless a hand / gripper class is already there."""
        from vla_builder.detect.hands import HandDetectorError
        from vla_builder.stages.interactions import is_manipulator

        assert clip.tracks is not None and clip.frames is not None and clip.labels is not None
        tracks, frames = clip.tracks, clip.frames
        prov = dict(clip.provenance)
        names = (*clip.labels.class_name.tolist(), *tracks.class_names)
        present = [str(n) for n in names if is_manipulator(str(n), None)]
        if present:
            prov["hand_tracks"] = {"added": 0, "why": f"an actor class is already labeled or tracked ({present[0]!r})"}
            return clip.with_(provenance=prov)
        try:
            found = self.hand_detector.detect_hands(frames.rgb)
        except HandDetectorError as e:
            raise DetectTrackError(str(e)) from e
        ids = track_clip(found.detections, self.tracker)  # a fresh tracker: ids from 1
        hand = detections_to_tracks(found.detections, ids, self.tracks.max_gap_s * frames.fps)
        offset = int(tracks.ids.max()) if len(tracks) else 0  # hand ids above every other id: never a collision
        merged = TrackSet(ids=np.r_[tracks.ids.astype(np.int64), hand.ids.astype(np.int64) + offset],
                          class_names=(*tracks.class_names, *hand.class_names),
                          boxes_xyxy=np.concatenate([tracks.boxes_xyxy, hand.boxes_xyxy], axis=1),
                          labeled=np.concatenate([tracks.labeled, hand.labeled], axis=1))
        prov["tracks"] = len(merged)
        prov["hand_tracks"] = {
            "added": len(hand), "source": f"mediapipe hands {_mediapipe_version()} (pretrained, CPU)",
            "id_offset": offset, "samples_with_hand": int(found.found.sum()), "samples": len(found),
            "detections": int(sum(len(d) for d in found.detections)),
            "ms_per_frame": round(1000 * found.seconds / max(len(found), 1), 1)}
        return clip.with_(tracks=merged, provenance=prov)

    def _process_labels(self, clip: Clip) -> Clip:
        assert clip.labels is not None and clip.frames is not None
        labels, frames = clip.labels, clip.frames
        source_fps = clip.info.fps if clip.info is not None else float(frames.fps)
        prov = dict(clip.provenance)
        mode, why = self.tracks.mode, "set in the recipe"
        if mode == "auto" and len(labels) == 0:
            if self.weights is None:
                # e.g. a wrist camera: nothing to track, the camera's own motion becomes the action
                empty = TrackSet(np.zeros(0, int), (), np.zeros((len(frames), 0, 4)), np.zeros((len(frames), 0), bool))
                prov.update(tracks_mode="none (no labels and no detector)", tracks=0)
                return clip.with_(tracks=empty, provenance=prov)
            mode, why = "detect", "the source has no labels"
        if mode == "detect":
            if self.detector is None:
                raise DetectTrackError("no labels to build tracks from and no detector: set detect_track weights")
            tracks, stats = self._detect_mode(frames.rgb, frames.fps)
            prov.update(tracks_mode=f"detect ({why})", tracks=len(tracks), detector=stats)
            return clip.with_(tracks=tracks, provenance=prov)

        if len(labels) and not labels.has_ids:
            labels = associate(labels, self.tracks.iou_min, max(1, int(round(self.tracks.max_gap_s * source_fps))))
            prov["track_ids"] = "associated (IoU + Hungarian): the labels carry no ids"
            why = "labels without ids, associated"
        anchors = labels_to_grid(labels, frames.source_index, 0)
        coverage = grid_coverage(anchors)
        if mode in ("auto", "associate"):
            mode = "dense" if coverage >= self.tracks.dense_min_coverage else "sparse"
            why = f"{why + '; ' if why != 'set in the recipe' else ''}labeled coverage {coverage:.2f}"
        prov["label_coverage"] = round(coverage, 4)
        if mode == "dense":
            tracks = labels_to_grid(labels, frames.source_index, self.tracks.max_gap_s * source_fps)
            prov.update(tracks_mode=f"dense ({why})", tracks=len(tracks))
            return clip.with_(labels=labels, tracks=tracks, provenance=prov)

        tracks, stats = self.propagate(anchors, frames.rgb, frames.fps)
        prov.update(tracks_mode=f"sparse ({why})", tracks=len(tracks), propagation=stats)
        return clip.with_(labels=labels, tracks=tracks, provenance=prov)

    def propagate(self, anchors: TrackSet, rgb: np.ndarray, fps: float) -> tuple[TrackSet, dict]:
        """Sparse labels on the grid -> dense tracks (labeled boxes kept, label ids kept)."""
        flow = FlowField(rgb, self.tracks.flow_max_side_px, self.tracks.flow_method) if self.tracks.flow else None
        prior, agree = propagation_priors(anchors, flow, max(1, int(round(self.tracks.extend_max_s * fps))))
        stats: dict = {"flow": self.tracks.flow}
        used = np.zeros(anchors.labeled.shape, bool)
        boxes = prior
        if self.detector is not None:
            dets, det_ids = self.detect(rgb)
            boxes, used = refine_with_detections(anchors, prior, agree, dets, det_ids, self.tracks.snap_iou_min,
                                                 self.tracks.trust_iou)
            stats["detector"] = Path(str(self.weights)).name
        boxes = np.where(anchors.labeled[..., None], anchors.boxes_xyxy, boxes)  # labels always win
        filled = ~anchors.labeled & ~np.isnan(boxes[..., 0])
        stats.update(labeled_boxes=int(anchors.labeled.sum()), from_detector=int((used & filled).sum()),
                     from_propagation=int((filled & ~used).sum()))
        tracks = TrackSet(ids=anchors.ids, class_names=anchors.class_names, boxes_xyxy=boxes,
                          labeled=anchors.labeled.copy())
        return tracks, stats

    def _detect_mode(self, rgb: np.ndarray, fps: float) -> tuple[TrackSet, dict]:
        import time

        t0 = time.perf_counter()
        dets, ids = self.detect(rgb)
        seconds = time.perf_counter() - t0
        tracks = detections_to_tracks(dets, ids, self.tracks.max_gap_s * fps)
        stats = {"weights": Path(str(self.weights)).name, "device": self.detector.device_name,
                 "detections": int(sum(len(d) for d in dets)), "frames_per_s": round(len(rgb) / max(seconds, 1e-9), 1)}
        return tracks, stats


def _mediapipe_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mediapipe")
    except PackageNotFoundError:
        return "?"


def detections_to_tracks(dets: list[Detections], ids: list[np.ndarray], max_gap_samples: float) -> TrackSet:
    """Tracker output (ids per sample, -1 untracked) -> a TrackSet on the grid 0..T-1, all labeled=False; gaps up
    to max_gap_samples interpolated (as detect mode does)."""
    rows = [(t, int(i), str(d.class_names[j]), d.boxes_xyxy[j], float(d.scores[j]))
            for t, (d, id_t) in enumerate(zip(dets, ids, strict=True)) for j, i in enumerate(id_t) if i >= 0]
    if rows:
        table = LabelTable(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                           np.array([r[2] for r in rows], dtype=object), np.stack([r[3] for r in rows]),
                           np.array([r[4] for r in rows]), format="detector")
    else:
        table = LabelTable.empty(fmt="detector")
    tracks = labels_to_grid(table, np.arange(len(dets)), max_gap_samples)
    return TrackSet(tracks.ids, tracks.class_names, tracks.boxes_xyxy, np.zeros_like(tracks.labeled))
