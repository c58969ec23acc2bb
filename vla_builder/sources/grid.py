"""Put decoded frames on the clip's time grid: sample i at `start_s + i / fps`.

The grid is what LeRobot requires (video timestamps = `from_timestamp + frame_index / fps` within 1e-4 s), and it is
how variable-frame-rate sources and fps changes are handled: each sample shows the source frame that is on screen at
that instant (the last frame whose pts <= t). Works online, one decode pass, memory bounded by the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from vla_builder.sources.video import DecodeError, FrameStream

PTS_EPS_S = 1e-6


def n_grid_samples(span_s: float, fps: int) -> int:
    """Samples on a grid covering [0, span_s] at `fps` (both ends included when they land on the grid)."""
    return int(math.floor(span_s * fps + 1e-6)) + 1


def sample_to_grid(
    stream: FrameStream,
    fps: int,
    span: tuple[int, int] | None,
    transform: Callable[[np.ndarray], np.ndarray],
    path: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return (rgb (T,H,W,3), source_index (T,), source_time_s (T,), start_s).

    `span` is the inclusive range of source frame indices to cover (None: the whole stream).
    """
    first, last = span if span is not None else (0, None)
    out_rgb: list[np.ndarray] = []
    out_index: list[int] = []
    out_time: list[float] = []
    start_s: float | None = None
    prev: tuple[int, float, np.ndarray] | None = None
    last_pts = -math.inf
    seen_last = -1

    def emit_until(t_limit: float) -> None:
        # emit `prev` for every grid time strictly before t_limit
        assert prev is not None and start_s is not None
        while True:
            t = start_s + len(out_rgb) / fps
            if t >= t_limit - PTS_EPS_S:
                return
            out_rgb.append(transform(prev[2]))
            out_index.append(prev[0])
            out_time.append(prev[1])

    for index, pts, rgb in stream:
        seen_last = index
        if index < first:
            continue
        if last is not None and index > last:
            break
        if pts <= last_pts:  # broken or missing timestamps: fall back to a monotonic guess
            pts = last_pts + 1.0 / fps
        last_pts = pts
        if start_s is None:
            start_s = pts
        else:
            emit_until(pts)
        prev = (index, pts, rgb)

    if prev is None or start_s is None:
        where = f"frames {first}..{last}" if span is not None else "any frame"
        raise DecodeError(path, f"the video ends before {where} (decoded {seen_last + 1} frames)")
    # If the stream ended before `last` (labels past the video's end), the grid stops at the last decodable
    # frame; the caller sees it in source_index[-1] and reports the dropped label rows.
    # the last source frame is on screen until its own pts: cover the grid up to it, inclusive
    end_s = prev[1]
    n_total = n_grid_samples(end_s - start_s, fps)
    while len(out_rgb) < n_total:
        out_rgb.append(transform(prev[2]))
        out_index.append(prev[0])
        out_time.append(prev[1])
    return np.stack(out_rgb), np.asarray(out_index, int), np.asarray(out_time, float), float(start_s)
