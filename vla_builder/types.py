"""The data that flows through a build.

A `Clip` is the unit of work: an immutable record of one source span and what the stages have learned about it.
Stages never mutate a clip; they return `clip.with_(...)`. Geometry is kept in *normalized image units*
(x / display width, y / display height of the source, after rotation) so that it does not depend on the
resolution we decode or write at.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_builder import boxes


@dataclass(frozen=True)
class SourceSpec:
    """One labeled video (or image-folder sequence) as the recipe names it, paths resolved."""

    video: Path | None = None  # a video file ...
    frames: Path | None = None  # ... or a folder of images, one per frame
    frames_fps: float | None = None  # frame rate of an image folder
    labels: Path | None = None
    labels_format: str = "auto"  # auto | mot | coco | yolo | none
    classes: dict[int, str] = field(default_factory=dict)
    frame_base: int | None = None  # first frame's number in the label file (None: the format's default)
    licence: str | None = None
    camera: str = "front"  # which camera view this is (names the LeRobot video feature)
    camera_kind: str = "third_person"  # third_person | wrist (wrist: action is the camera's ego-motion)
    data_root: Path | None = None  # when set, media and labels must resolve inside it
    # The episode's span inside the source, in source seconds (None: from the start / to the end). Set by the recipe
    # (`start_s`/`end_s`), by labeled segments (segment CSVs, `mapping:` segments) or by splitting long videos.
    start_s: float | None = None
    end_s: float | None = None
    # Human-written language for this episode (a clip caption, a segment's narration): becomes the task verbatim.
    caption: str | None = None
    caption_origin: str | None = None  # where the caption came from: "<file>#<field or row>"
    caption_variants: tuple[str, ...] = ()  # other wordings the label file itself gives (a filled template)
    segment: str | None = None  # how this span was chosen (e.g. "segment 3 of narrations.csv", "split 2/5 by max_s")
    split: dict[str, Any] | None = None  # the recipe's `split:` (sources/split.py): cut a long source into episodes
    # Temporal labels (a segment CSV or a `mapping:` with segments): each segment becomes its own episode
    segments: Path | None = None
    segments_format: str = "auto"  # auto | epic | mapping
    segment_padding_s: float = 0.0  # added before and after each labeled segment
    segments_as: str = "episodes"  # episodes: one per segment | subtasks: the segments are this episode's subtasks
    # labeled subtasks (segments_as: subtasks): (start_s, end_s, text, origin) in source seconds
    label_subtasks: tuple[tuple[float, float, str, str], ...] = ()
    mapping: dict[str, Any] | None = None  # the recipe's declarative `mapping:` for any other JSON/CSV schema
    captions: Path | None = None  # clip labels (Something-Something style): this clip's caption by its name
    segment_actor: str | None = None  # the labeled segment's own actor (a class or track id): before the recipe's

    def check_inside_root(self, path: Path) -> str | None:
        """Why `path` may not be read (it escapes data_root), or None."""
        if self.data_root is None:
            return None
        root = self.data_root.resolve()
        real = path.resolve()
        if real != root and root not in real.parents:
            return f"path escapes the data root {root} (resolves to {real})"
        return None

    @property
    def media(self) -> Path:
        path = self.video if self.video is not None else self.frames
        assert path is not None
        return path

    @property
    def name(self) -> str:
        media = self.media
        # an image folder named img1/ (MOT layout) is better known by its sequence folder
        return media.parent.name if self.frames is not None and media.name in {"img1", "images", "frames"} else media.stem


@dataclass(frozen=True)
class VideoInfo:
    """What probing a source tells (display size is after rotation)."""

    path: Path
    width_px: int
    height_px: int
    fps: float
    n_frames: int | None  # from the container header; may be wrong (see decoders)
    codec: str
    pix_fmt: str
    rotation_deg: int  # clockwise rotation applied for display
    n_video_streams: int = 1
    duration_s: float | None = None


@dataclass(frozen=True)
class LabelTable:
    """Boxes as a label file states them, one row per box, in *source frame indices* (0-based decode order) — and
    the one container of box rows: a detector's boxes of one frame are a table too (`of_frame`)."""

    frame: np.ndarray  # (R,) int, 0-based source frame index
    track_id: np.ndarray  # (R,) int, -1 where the format carries no id
    class_name: np.ndarray  # (R,) object (str)
    boxes_xyxy: np.ndarray  # (R, 4) float, normalized [0, 1]
    score: np.ndarray  # (R,) float
    path: Path | None = None
    format: str = "none"
    dropped: dict[str, int] = field(default_factory=dict)  # reason -> rows dropped while importing
    # per-row extras some formats carry, row-aligned: "keypoints" (R, K, 3) x, y (normalized), visibility;
    # "attributes" (R,) object (dict name -> value, e.g. CVAT attributes, AVA action ids)
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    # the frame size (w, h) in pixels that the rows' boxes were stated in (their most common one): the file's own where
    # it states one (COCO, CVAT, VOC, LabelMe, YouTube-VIS), else the video's — compared with the video by label_fit
    frame_size_px: tuple[float, float] | None = None

    def __len__(self) -> int:
        return int(self.frame.shape[0])

    @property
    def has_ids(self) -> bool:
        return len(self) > 0 and bool(np.all(self.track_id >= 0))

    def span(self) -> tuple[int, int] | None:
        return (int(self.frame.min()), int(self.frame.max())) if len(self) else None

    @staticmethod
    def of_frame(boxes_xyxy: np.ndarray, score: np.ndarray, class_name: np.ndarray, frame: int = 0,
                 fmt: str = "detections") -> LabelTable:
        """Boxes found in one frame (a detector's: no track ids), normalized xyxy."""
        boxes = np.asarray(boxes_xyxy).reshape(-1, 4)
        return LabelTable(np.full(len(boxes), frame, int), np.full(len(boxes), -1, int),
                          np.asarray(class_name, dtype=object).reshape(-1), boxes, np.asarray(score).reshape(-1),
                          format=fmt)

    @staticmethod
    def empty(path: Path | None = None, fmt: str = "none") -> LabelTable:
        return LabelTable(
            np.zeros(0, int), np.zeros(0, int), np.zeros(0, object), np.zeros((0, 4)), np.zeros(0), path, fmt
        )


@dataclass(frozen=True)
class Frames:
    """Decoded frames on the clip's time grid: sample i is at `i / fps` seconds from the clip start."""

    # (T, H, W, 3) uint8, display orientation, at working resolution: an array, or (in builds) a `GridFrames` that
    # decodes the source again on each pass instead of holding it (iterate it; `np.asarray` holds the whole clip)
    rgb: np.ndarray
    fps: int
    source_index: np.ndarray  # (T,) int: the source frame shown at each sample
    source_time_s: np.ndarray  # (T,) float: that frame's presentation time in the source
    start_s: float  # source time of sample 0
    backend: str  # which decoder produced them, and why
    source_size_px: tuple[int, int]  # (width, height) of the source display

    def __len__(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def size_px(self) -> tuple[int, int]:
        return int(self.rgb.shape[2]), int(self.rgb.shape[1])


@dataclass(frozen=True)
class TrackSet:
    """Dense tracks on the clip's grid: `boxes_xyxy[t, k]` is track k's box at sample t, NaN where absent."""

    ids: np.ndarray  # (K,) int
    class_names: tuple[str, ...]  # (K,)
    boxes_xyxy: np.ndarray  # (T, K, 4) float, normalized
    labeled: np.ndarray  # (T, K) bool: box comes from a label (not interpolated / propagated)

    @property
    def present(self) -> np.ndarray:
        return ~np.isnan(self.boxes_xyxy[..., 0])

    def centers(self) -> np.ndarray:
        """(T, K, 2) box centres, NaN where absent."""
        return boxes.centers(self.boxes_xyxy)

    def mapped(self, scale: np.ndarray, offset: np.ndarray) -> TrackSet:
        """The tracks through a (scale, offset) mapping, e.g. into the stored image (`boxes.stored_image_mapping`)."""
        return dataclasses.replace(self, boxes_xyxy=boxes.map_boxes(self.boxes_xyxy, scale, offset))

    def with_boxes(self, k: int, boxes_xyxy: np.ndarray) -> TrackSet:
        """A copy in which track k has the given (T, 4) boxes (e.g. gaps filled)."""
        boxes = self.boxes_xyxy.copy()
        boxes[:, k] = boxes_xyxy
        return dataclasses.replace(self, boxes_xyxy=boxes)

    def index_of(self, track_id: int) -> int:
        return int(np.nonzero(self.ids == track_id)[0][0])

    def __len__(self) -> int:
        return int(self.ids.shape[0])


@dataclass(frozen=True)
class Motion:
    """Inter-frame motion on the grid. Entry t describes the motion from sample t to t+1 (last entry: zeros)."""

    global_affine: np.ndarray  # (T, 2, 3) camera motion, normalized coordinates (x' = A @ [x, y, 1])
    global_inlier_ratio: np.ndarray  # (T,)
    track_flow: np.ndarray  # (T, K, 2) robust flow inside each track's box, normalized units; NaN if absent
    energy: np.ndarray  # (T,) mean absolute frame difference (0..1) — idle / cut detection
    method: str  # the algorithm and its settings, as the backend describes them
    backend: str = ""  # the backend that ran the method: opencv | lk-numpy | lk-host | lk-cuda (stages/motion.py)
    device: str = ""  # cpu | cuda

    def camera_translation(self) -> np.ndarray:
        return self.global_affine[:, :, 2]

    def camera_scale_rotation(self) -> tuple[np.ndarray, np.ndarray]:
        a = self.global_affine
        scale = np.sqrt(np.abs(a[:, 0, 0] * a[:, 1, 1] - a[:, 0, 1] * a[:, 1, 0]))
        rotation = np.arctan2(a[:, 1, 0], a[:, 0, 0])
        return scale, rotation


@dataclass(frozen=True)
class Event:
    """Something that happens in a clip, with grid sample bounds [start, end] inclusive."""

    kind: str  # approach | grasp | carry | place | push | appear | leave
    start: int
    end: int
    actor_id: int
    object_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Trajectory:
    """Per-sample state and action with the names written to info.json."""

    state: np.ndarray  # (T, S) float32
    state_names: tuple[str, ...]
    action: np.ndarray  # (T, A) float32
    action_names: tuple[str, ...]
    follows_camera: bool  # True: the camera's ego-motion is the action; False: the actor's box (`Clip.actor_id`)


PAST_END = "label row past the video's end"  # the reason decode gives for rows after the last decoded frame


@dataclass(frozen=True)
class LabelRowCounts:
    """Label rows the build could not use, by why: a typed fact on the clip (read by `label_fit`, written to the
    episode's provenance by the sink) rather than provenance keys that stages read from each other.

    `dropped_on_import` are the reader's counts (`LabelTable.dropped`, copied: the table stays untouched); decode adds
    the rows past the video's end (None: not checked, the labels set no span) and those outside the episode's time
    span (a segment or split covering part of a labeled video: counted, not an error)."""

    dropped_on_import: dict[str, int] = field(default_factory=dict)
    past_end: int | None = None
    outside_span: int = 0

    @staticmethod
    def of(labels: LabelTable | None) -> LabelRowCounts:
        return LabelRowCounts(dict(labels.dropped) if labels is not None and labels.dropped else {})

    def dropped(self) -> dict[str, int]:
        """Reason -> rows: the import's counts plus the rows past the video's end (provenance `label_rows_dropped`)."""
        out = dict(self.dropped_on_import)
        if self.past_end is not None:
            out[PAST_END] = self.past_end
        return out


@dataclass(frozen=True)
class Clip:
    """One span of one source and everything learned about it. Build new ones with `with_`."""

    clip_id: str
    source: SourceSpec
    info: VideoInfo | None = None
    labels: LabelTable | None = None
    frames: Frames | None = None
    tracks: TrackSet | None = None
    motion: Motion | None = None
    actor_id: int | None = None  # the track whose motion is the action (None: the camera), set by interactions
    actor_reason: str | None = None  # how that actor was chosen (recipe, class hint, most active...), ditto
    events: tuple[Event, ...] | None = None
    subtasks: tuple[Event, ...] | None = None  # consecutive segments covering the clip (reach, carry, ...)
    trajectory: Trajectory | None = None
    task: str | None = None
    language: dict[str, Any] | None = None  # subtasks and other language rows (issue: language)
    label_rows: LabelRowCounts | None = None  # label rows dropped / past the end / outside the span (labels, decode)
    label_verdict: dict[str, Any] | None = None  # a human caption checked against the footage (verify_label)
    provenance: dict[str, Any] = field(default_factory=dict)

    def with_(self, **changes: Any) -> Clip:
        return dataclasses.replace(self, **changes)

    @staticmethod
    def make_id(source: SourceSpec, span: tuple[int, int] | None = None, base: Path | None = None) -> str:
        """Deterministic id from (source, span): the same inputs always give the same id.

        Paths count relative to `base` (the recipe's folder), so a corpus and its recipe moved or copied elsewhere
        keep their ids — and their paraphrases, which are seeded by the id.
        """
        import os

        def rel(p: Path | None) -> str:
            if p is None:
                return ""
            p = Path(p).resolve()
            return os.path.relpath(p, Path(base).resolve()) if base is not None else "/".join(p.parts[-3:])

        if span is None and (source.start_s is not None or source.end_s is not None):
            span = (source.start_s, source.end_s)
        key = f"{rel(source.media)}|{rel(source.labels)}|{span}"
        return f"{source.name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
