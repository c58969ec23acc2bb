"""Put decoded frames on the clip's time grid: sample i at `start_s + i / fps`.

The grid is what LeRobot requires (video timestamps = `from_timestamp + frame_index / fps` within 1e-4 s), and it is
how variable-frame-rate sources and fps changes are handled: each sample shows the source frame that is on screen at
that instant (the last frame whose pts <= t). Works online, one decode pass, one source frame held at a time:
`grid_samples` yields the samples as they become known and keeps nothing, so a clip of any length streams through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from vla_builder.sources.video import DecodeError, FrameStream

PTS_EPS_S = 1e-6


def n_grid_samples(first_to_last_s: float, last_frame_s: float, fps: int) -> int:
    """Samples on a grid at `fps` from the first in-span frame's pts up to, not including, the end of the last
    in-span frame's time on screen (`first_to_last_s` from first to last pts, plus `last_frame_s`, the last frame's
    duration). Counting only up to the last pts would leave the last frame unshown wherever the grid does not land on
    it exactly (59.94 -> 60 fps, 25 -> 30 fps); counting its whole screen time shows it at every rate pair where a grid
    instant falls inside it (all but a build slower than the source, where the grid skips frames anyway), and adds no
    sample past the span's end. Never fewer than the samples up to the last pts, inclusive."""
    up_to_last = int(math.floor(first_to_last_s * fps + PTS_EPS_S)) + 1
    return max(up_to_last, int(math.ceil((first_to_last_s + last_frame_s) * fps - PTS_EPS_S)))


def grid_samples(
    stream: FrameStream,
    fps: int,
    span: tuple[int, int] | None,
    path: str,
    time_span_s: tuple[float | None, float | None] | None = None,
) -> Iterator[tuple[int, float, float, np.ndarray]]:
    """Yield (source_index, source_time_s, start_s, frame) for each grid sample, in order, holding one frame.

    `span` is the inclusive range of source frame indices to cover (None: the whole stream); `time_span_s` a range of
    source time [start_s, end_s) (either end None: open). A source frame shown at several samples is yielded once
    per sample (the same object). Raises DecodeError when no frame falls inside the span.
    """
    first, last = span if span is not None else (0, None)
    t_first, t_end = time_span_s if time_span_s is not None else (None, None)
    start_s: float | None = None
    prev: tuple[int, float, np.ndarray] | None = None
    last_pts = -math.inf
    frame_s = 1.0 / fps  # the last kept frame's time on screen: up to the next frame's pts (see below)
    seen_last = -1
    n_out = 0
    for index, pts, rgb in stream:
        seen_last = index
        if index < first:
            continue
        if pts <= last_pts:  # broken or missing timestamps: fall back to a monotonic guess
            pts = last_pts + 1.0 / fps
        if prev is not None:  # the kept frame is on screen until this one
            frame_s = pts - prev[1]
        if last is not None and index > last:
            break
        last_pts = pts
        if t_first is not None and pts < t_first - PTS_EPS_S:
            continue
        if t_end is not None and pts >= t_end - PTS_EPS_S:
            if prev is not None:  # a gap after the span's end is not the span's: on screen to t_end, or one grid step
                frame_s = min(frame_s, max(t_end - prev[1], 1.0 / fps))
            break
        if start_s is None:
            start_s = pts
        else:
            # emit `prev` for every grid time strictly before this frame's pts
            while start_s + n_out / fps < pts - PTS_EPS_S:
                yield prev[0], prev[1], start_s, prev[2]
                n_out += 1
        prev = (index, pts, rgb)

    if prev is None or start_s is None:
        if time_span_s is not None and (t_first is not None or t_end is not None):
            where = f"the span {t_first}..{t_end} s"
        else:
            where = f"frames {first}..{last}" if span is not None else "any frame"
        raise DecodeError(path, f"the video ends before {where} (decoded {seen_last + 1} frames)")
    # If the stream ended before `last` (labels past the video's end), the grid stops at the last decodable
    # frame; the caller sees it in source_index[-1] and reports the dropped label rows.
    # the last kept frame is on screen until the next frame's pts (the frame that ended the span), or, at the end of
    # the stream, for as long as the frame before it was: the grid covers that time too, so the frame is shown
    n_total = n_grid_samples(prev[1] - start_s, frame_s, fps)
    while n_out < n_total:
        yield prev[0], prev[1], start_s, prev[2]
        n_out += 1


def sample_to_grid(
    stream: FrameStream,
    fps: int,
    span: tuple[int, int] | None,
    transform: Callable[[np.ndarray], np.ndarray],
    path: str,
    time_span_s: tuple[float | None, float | None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Return (rgb (T,H,W,3), source_index (T,), source_time_s (T,), start_s): the whole clip in memory.

    For small clips and tests; builds stream instead (`stages/decode.py`, `sources/lazy_frames.py`)."""
    out_rgb, out_index, out_time, start = [], [], [], 0.0
    for index, pts, start, rgb in grid_samples(stream, fps, span, path, time_span_s):
        out_rgb.append(transform(rgb))
        out_index.append(index)
        out_time.append(pts)
    return np.stack(out_rgb), np.asarray(out_index, int), np.asarray(out_time, float), float(start)
