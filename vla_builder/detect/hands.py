"""Hand detection with a pretrained model: MediaPipe Hands (palm detector + 21-landmark regressor, TFLite, CPU).

For human-demonstration video that has no actor labels: `HandDetector.detect(rgb)` gives one `LabelTable` of detections per
frame with class name "hand", in the form every other detector here gives (normalized xyxy boxes, scores), so the
existing ByteTrack (`tracking.bytetrack.track_clip`) tracks hands as it tracks anything else.

  box       min / max of the 21 landmarks, padded by `pad` (10 %) of the landmark extent on each side (the
            landmarks are joint centers: the fingertips' and the palm's edge lie outside them), clipped to [0, 1].
  score     MediaPipe's handedness score (its confidence that this is a left / right hand): the per-hand number
            the legacy API returns. (The palm detector's score is not exposed.)
  landmarks (21, 2) normalized x, y per hand (MediaPipe's order: 0 wrist, 4 thumb tip, 8 index tip, ...), kept in
            `HandFrames.landmarks` for later use (retargeting, grasp state), with `handedness` ("Left" / "Right",
            as MediaPipe names it: it assumes a mirrored selfie image, so on an unmirrored camera it is swapped).
  aperture  grip aperture per hand: |thumb tip - index tip| / hand size, where hand size = |wrist - middle-finger
            MCP| (landmarks 0 and 9: the palm's length, which barely changes as the fingers move). Distances are
            in pixels (landmarks scaled by the frame's width and height), so the measure does not depend on the
            aspect ratio. About 0.1-0.3 for a pinch or a closed grip, 1-2 for an open hand; the value is a 2-D
            projection, so a hand seen edge-on reads smaller than it is.

Video mode (`static_image_mode=False`) runs the palm detector only until a hand is found and then follows it by
its landmarks, so frames must come in order, one clip per `detect` call (each call makes a fresh graph: no state
crosses clips). It is deterministic: the same frames give the same output (CPU inference, no randomness).

MediaPipe (Apache-2.0) is an optional dependency, imported only when a detector is built; see `require_mediapipe`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vla_builder.types import LabelTable


HAND = "hand"
N_LANDMARKS = 21
WRIST, THUMB_TIP, INDEX_TIP, MIDDLE_MCP = 0, 4, 8, 9

INSTALL_HINT = ("pip install --no-deps mediapipe==0.10.14 'protobuf>=4.25.3,<5' "
                "(--no-deps: its declared opencv-contrib-python would be a second OpenCV next to "
                "opencv-python-headless; jax, sounddevice are not needed for hands)")


class HandDetectorError(Exception):
    pass


def require_mediapipe():
    """The `mediapipe` module, or a HandDetectorError saying how to install it."""
    try:
        import mediapipe as mp
        from mediapipe.python.solutions import hands as mp_hands  # noqa: F401 — the legacy Hands solution
    except ImportError as e:  # ModuleNotFoundError included
        raise HandDetectorError(f"hand detection needs mediapipe, which is not importable ({e}): {INSTALL_HINT}") \
            from e
    except (AttributeError, TypeError) as e:  # a protobuf >= 5 breaks mediapipe 0.10.x's descriptor code
        raise HandDetectorError(f"mediapipe failed to import ({type(e).__name__}: {e}); it needs "
                                f"protobuf>=4.25.3,<5: {INSTALL_HINT}") from e
    return mp


def grip_aperture(landmarks_xy: np.ndarray, width: int, height: int) -> float:
    """Thumb-tip to index-tip distance over the wrist to middle-MCP distance, in pixels (see the module doc)."""
    p = np.asarray(landmarks_xy, float) * (width, height)
    size = float(np.linalg.norm(p[MIDDLE_MCP] - p[WRIST]))
    return float(np.linalg.norm(p[THUMB_TIP] - p[INDEX_TIP])) / max(size, 1e-6)


def landmark_box(landmarks_xy: np.ndarray, pad: float) -> np.ndarray:
    """Normalized xyxy box around the landmarks, padded by `pad` of its width / height per side, clipped to [0, 1]."""
    lo, hi = landmarks_xy.min(axis=0), landmarks_xy.max(axis=0)
    margin = (hi - lo) * pad
    return np.clip(np.r_[lo - margin, hi + margin], 0.0, 1.0).astype(np.float32)


@dataclass
class HandFrames:
    """Per-frame output of `HandDetector.detect`; list entries are parallel to `detections[t]`'s rows."""

    detections: list[LabelTable]
    landmarks: list[np.ndarray]  # (N_t, 21, 2) float32, normalized x, y
    handedness: list[np.ndarray]  # (N_t,) object: "Left" | "Right" (MediaPipe's naming, see the module doc)
    aperture: list[np.ndarray]  # (N_t,) float32: grip aperture, see `grip_aperture`
    seconds: float = 0.0  # wall time of the inference

    def __len__(self) -> int:
        return len(self.detections)

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: at least one hand in the frame."""
        return np.array([len(d) > 0 for d in self.detections], bool)


@dataclass
class HandDetector:
    max_num_hands: int = 2
    min_detection_confidence: float = 0.5  # palm detector
    min_tracking_confidence: float = 0.5  # landmark model's hand presence, below which the palm detector reruns
    model_complexity: int = 1  # 0: hand_landmark_lite, 1: hand_landmark_full
    static_image_mode: bool = False  # True: run the palm detector on every frame (independent images)
    pad: float = 0.1  # box padding, share of the landmark extent per side
    # video mode occasionally follows one hand twice (two landmark sets on the same hand): of two boxes overlapping
    # this much (IoU), the lower-scoring one is dropped (None: keep all)
    dedupe_iou: float | None = 0.7
    max_side_px: int | None = 640  # frames larger than this are scaled down first (None: as given)
    device_name: str = field(default="cpu (mediapipe tflite)", init=False)

    def __post_init__(self) -> None:
        if self.max_num_hands < 1:
            raise ValueError("max_num_hands must be >= 1")

    def load(self) -> HandDetector:
        require_mediapipe()
        return self

    def _solution(self):
        mp = require_mediapipe()
        return mp.solutions.hands.Hands(
            static_image_mode=self.static_image_mode, max_num_hands=self.max_num_hands,
            model_complexity=self.model_complexity, min_detection_confidence=self.min_detection_confidence,
            min_tracking_confidence=self.min_tracking_confidence)

    def _prepare(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape[:2]
        if self.max_side_px is not None and max(h, w) > self.max_side_px:
            import cv2

            s = self.max_side_px / max(h, w)
            frame = cv2.resize(frame, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(frame, dtype=np.uint8)

    def _dedupe(self, boxes: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Indices of the boxes kept (greedy, by descending score, then by index: deterministic)."""
        order = np.lexsort((np.arange(len(scores)), -scores))
        if self.dedupe_iou is None or len(boxes) < 2:
            return np.sort(order)
        from vla_builder.boxes import iou_matrix

        iou = iou_matrix(boxes, boxes)
        kept: list[int] = []
        for i in order:
            if all(iou[i, j] <= self.dedupe_iou for j in kept):
                kept.append(int(i))
        return np.sort(np.array(kept, np.int64))

    def detect_hands(self, rgb: np.ndarray) -> HandFrames:
        """Hands in every frame of one clip (T, H, W, 3) uint8 RGB, frames in time order: an array, or a sequence
        with a `shape` such as `GridFrames`, walked once — a long clip is never held whole."""
        import time
        import warnings

        if getattr(rgb, "shape", None) is None:
            rgb = np.asarray(rgb)
        if len(rgb.shape) != 4 or rgb.shape[-1] != 3:
            raise ValueError(f"expected RGB frames (T, H, W, 3), got shape {rgb.shape}")
        out = HandFrames([], [], [], [])
        t0 = time.perf_counter()
        with self._solution() as solution, warnings.catch_warnings():  # a fresh graph per clip: no state crosses
            # mediapipe 0.10.x calls protobuf's deprecated SymbolDatabase.GetPrototype on every frame
            warnings.filterwarnings("ignore", message=".*GetPrototype", category=UserWarning)
            for frame in rgb:
                img = self._prepare(frame)
                h, w = img.shape[:2]
                result = solution.process(img)
                lms = result.multi_hand_landmarks or []
                hnd = result.multi_handedness or []
                pts = np.array([[(p.x, p.y) for p in lm.landmark] for lm in lms], np.float32).reshape(-1, 21, 2)
                scores = np.array([c.classification[0].score for c in hnd], np.float32)
                labels = np.array([c.classification[0].label for c in hnd], dtype=object)
                if len(scores) != len(pts):  # not seen; guard against a mismatch rather than misalign rows
                    scores, labels = np.ones(len(pts), np.float32), np.full(len(pts), "", dtype=object)
                boxes = np.stack([landmark_box(p, self.pad) for p in pts]) if len(pts) else np.zeros((0, 4), np.float32)
                keep = self._dedupe(boxes, scores)
                pts, scores, labels, boxes = pts[keep], scores[keep], labels[keep], boxes[keep]
                out.detections.append(LabelTable.of_frame(boxes.astype(np.float32), np.clip(scores, 0.0, 1.0),
                                                 np.full(len(pts), HAND, dtype=object)))
                out.landmarks.append(pts)
                out.handedness.append(labels)
                out.aperture.append(np.array([grip_aperture(p, w, h) for p in pts], np.float32))
        out.seconds = time.perf_counter() - t0
        return out

    def detect(self, rgb: np.ndarray) -> list[LabelTable]:
        """Detections per frame (a `LabelTable` each, class "hand"), the interface of the other detectors."""
        return self.detect_hands(rgb).detections
