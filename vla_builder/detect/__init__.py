"""Detection: boxes per frame (YOLO through ultralytics, MediaPipe hands).

`ultralytics_adapter` is the only module that imports ultralytics (AGPL-3.0): import it only where a detector is
actually used, so the rest of vla_builder neither needs nor links it. `detections` is the per-frame data detectors
hand to tracking (vla_builder/tracking: our own small ByteTrack, no ultralytics code).
"""

from vla_builder.detect.detections import Detections

__all__ = ["Detections"]
