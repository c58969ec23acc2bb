"""Detection and tracking.

`ultralytics_adapter` is the only module that imports ultralytics (AGPL-3.0): import it only where a detector is
actually used, so the rest of vla_builder neither needs nor links it. `tracker` is our own small ByteTrack (no
ultralytics code), `detections` the per-frame data they exchange.
"""

from vla_builder.detect.detections import Detections

__all__ = ["Detections"]
