"""Per-frame detections: one object of parallel arrays, filtered with masks (`d[d.scores > 0.5]`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Detections:
    """Boxes found in one frame, normalized xyxy (x / width, y / height of the frame they were found in)."""

    boxes_xyxy: np.ndarray  # (N, 4) float32, normalized
    scores: np.ndarray  # (N,) float32, 0..1
    class_names: np.ndarray  # (N,) object (str): label-side class names (after the detector -> label mapping)

    def __len__(self) -> int:
        return int(self.boxes_xyxy.shape[0])

    def __getitem__(self, index) -> Detections:
        return Detections(self.boxes_xyxy[index].reshape(-1, 4), np.atleast_1d(self.scores[index]),
                          np.atleast_1d(self.class_names[index]))

    @staticmethod
    def empty() -> Detections:
        return Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, object))

    @staticmethod
    def concat(items: list[Detections]) -> Detections:
        if not items:
            return Detections.empty()
        return Detections(np.concatenate([d.boxes_xyxy for d in items]).astype(np.float32),
                          np.concatenate([d.scores for d in items]).astype(np.float32),
                          np.concatenate([d.class_names for d in items]).astype(object))
