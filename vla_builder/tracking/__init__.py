"""Tracking: boxes from labels or a detector -> one dense track per object on the clip's grid.

  association    ids for id-less label boxes (IoU + Hungarian, class-aware, frame by frame)
  grid           labels onto the grid (short gaps interpolated), how densely they cover it, detections -> tracks
  propagation    sparse keyframe labels carried along optical flow, refined by detections
  bytetrack      our small per-clip ByteTrack (no ultralytics code)
  manipulators   which classes are hands / grippers; one hand split into fragments joined into one track

`stages/detect_track.py` (the stage) chooses the mode and calls these; nothing here reads a recipe or a clip.
"""
