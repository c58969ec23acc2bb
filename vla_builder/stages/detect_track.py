"""Dense tracks from whatever labels a source has: dense, id-less, sparse keyframes, or none.

`DetectTrackStage` needs ("labels", "frames") and makes ("labels", "tracks"): it replaces `TracksStage` in a
pipeline that has a detector (or sparse labels). It makes the `TrackSet` itself rather than a denser LabelTable
because only a TrackSet can say which boxes a person labeled (`labeled=True`) and which were propagated
(`labeled=False`); a LabelTable row claims to be a label.

Modes (`mode="auto"` picks one from the labels; provenance records which and why):
  dense      ids on (nearly) every grid sample: labels_to_grid (tracking/grid.py), short gaps interpolated.
  associate  boxes without ids: ids by IoU + Hungarian (tracking/association.py), then dense or sparse as below.
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
class (the actor rule, vla_builder/actor.py), MediaPipe Hands (detect/hands.py, a pretrained hand model) is run
on every sample, its "hand" boxes are tracked with a fresh ByteTrack, and the tracks are added with ids above every
other track id (labeled=False). For human-demonstration video without actor labels. Provenance: `hand_tracks`.

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

from vla_builder.detect.hands import HandDetector
from vla_builder.config import StrictConfig
from vla_builder.pipeline import Resources, Stage
from vla_builder.tracking.association import associate
from vla_builder.tracking.bytetrack import ByteTrackConfig, track_clip
from vla_builder.tracking.grid import detections_to_tracks, grid_coverage, labels_to_grid
from vla_builder.actor import is_manipulator
from vla_builder.tracking.propagation import FlowField, propagation_priors, refine_with_detections
from vla_builder.types import Clip, LabelTable, TrackSet

MODES = ("auto", "dense", "associate", "sparse", "detect")  # TracksConfig.mode


class DetectTrackError(Exception):
    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


# -- the stage ----------------------------------------------------------------------------------------------------
class TracksConfig(StrictConfig):
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


class DetectorConfig(StrictConfig):
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
    actor: str | None = None  # the recipe's `actor:`: labeled, it is the hand (no MediaPipe hands added)

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

    def detect(self, rgb: np.ndarray) -> tuple[list[LabelTable], list[np.ndarray]]:
        """Detections (a `LabelTable` per sample) and (fresh, per-clip) ByteTrack ids for every sample."""
        dets = self.detector.detect(rgb)
        return dets, track_clip(dets, self.tracker)

    def process(self, clip: Clip) -> Clip:
        clip = self._process_labels(clip)
        return self._add_hands(clip) if self.tracks.hands else clip

    def _add_hands(self, clip: Clip) -> Clip:
        """Hand tracks from MediaPipe, appended to clip.tracks, unless a hand / gripper class is already there."""
        from vla_builder.detect.hands import HandDetectorError

        assert clip.tracks is not None and clip.frames is not None and clip.labels is not None
        tracks, frames = clip.tracks, clip.frames
        prov = dict(clip.provenance)
        names = (*clip.labels.class_name.tolist(), *tracks.class_names)
        present = [str(n) for n in names if is_manipulator(str(n), self.actor)]
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
