"""Detection: boxes per frame (YOLO through ultralytics, MediaPipe hands).

`ultralytics_adapter` is the only module that imports ultralytics (AGPL-3.0): import it only where a detector is
actually used, so the rest of vla_builder neither needs nor links it. Detectors hand tracking one
`types.LabelTable` per frame (`LabelTable.of_frame`: the one container of box rows) — vla_builder/tracking: our own
small ByteTrack, no ultralytics code.
"""
