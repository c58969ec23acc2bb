"""Long videos into episodes: cut at shot changes, leave out idle stretches, cap the length.

Real labeled video (surveillance, kitchens, factories) comes in hours; an episode is a span of it. A source with
`split:` in the recipe is analysed once at plan time — decoded on a coarse grid (`analysis_fps`, grey frames of
`analysis_side_px`, one frame held at a time) — and becomes one `SourceSpec` per piece, each with its span
(`start_s`, `end_s`, source seconds) and `segment` saying how it was chosen, which provenance keeps:

1. **shots**: a cut where consecutive analysis frames differ in their grey-level histograms (L1 distance of the
   normalized 32-bin histograms >= `shot_threshold`) — a hard cut changes the whole picture's content, motion keeps
   the histogram; our own detector on frames the analysis decodes anyway (no extra dependency).
2. **idle**: a stretch of at least `idle_s` seconds in which nothing moves (mean absolute frame difference below
   `idle_energy`, 0..1) and no label box exists is left out.
3. **max_s**: a piece longer than `max_s` is cut into equal parts no longer than it (equal, so no stub at the end).
Pieces shorter than `min_s` are dropped (counted in the segment text of their neighbours is not attempted: they are
simply not episodes). Cut times fall on the analysis grid: a shot change lands in the episode after it to within
1 / analysis_fps.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from pydantic import Field

from vla_builder.config import StrictConfig
from vla_builder.types import SourceSpec, VideoInfo


class SplitConfig(StrictConfig):
    """A source's `split:` section."""

    max_s: float | None = Field(None, gt=0)  # longest episode, seconds (None: no cap)
    shots: bool = False  # cut at shot changes
    idle_s: float | None = Field(None, gt=0)  # leave out still, unlabeled stretches at least this long (None: keep)
    min_s: float = Field(0.5, ge=0)  # shorter pieces are not episodes
    analysis_fps: float = Field(10.0, gt=0, le=60)
    analysis_side_px: int = Field(160, ge=16, le=1024)
    shot_threshold: float = Field(0.5, gt=0, le=2)  # L1 distance of normalized grey histograms (0..2)
    idle_energy: float = Field(0.004, ge=0, le=1)  # mean |frame difference| / 255 below which a sample is still


@dataclass(frozen=True)
class Analysis:
    """Per analysis sample i at `times_s[i]`: change from sample i-1 (entry 0: 0)."""

    times_s: np.ndarray  # (N,) source seconds
    hist_jump: np.ndarray  # (N,) L1 histogram distance to the previous sample
    energy: np.ndarray  # (N,) mean absolute grey difference to the previous sample, 0..1
    labeled: np.ndarray  # (N,) bool: a label box exists at (or right before) this sample
    end_s: float  # the analysed span ends here (exclusive)


def analyse(spec: SourceSpec, info: VideoInfo, config: SplitConfig, label_frames: np.ndarray | None = None,
            backend: str = "auto") -> Analysis:
    """Decode the source's span on a coarse grid and measure change between neighbouring samples."""
    import cv2

    from vla_builder.kernels.reference import to_gray
    from vla_builder.sources.grid import grid_samples
    from vla_builder.sources.video import choose_decoder, image_frames

    fps = config.analysis_fps
    stream = image_frames(info) if info.codec == "images" else choose_decoder(info, backend)[0].frames(info)
    # grid_samples works on an integer grid; a fractional analysis rate is rounded up
    times, jumps, energies, src = [], [], [], []
    prev_gray = prev_hist = None
    last_index, last_gray, last_hist = -1, None, None
    for index, pts, start_s, rgb in grid_samples(stream, int(math.ceil(fps)), None, str(info.path),
                                                 (spec.start_s, spec.end_s)):
        if index != last_index:  # a source frame shown at several samples is analysed once
            last_gray = to_gray(rgb, config.analysis_side_px)
            hist = cv2.calcHist([last_gray], [0], None, [32], [0, 256]).ravel()
            last_hist = hist / max(float(hist.sum()), 1.0)
            last_index = index
        gray, hist = last_gray, last_hist
        times.append(start_s + len(times) / int(math.ceil(fps)))
        src.append(index)
        if prev_gray is None:
            jumps.append(0.0)
            energies.append(0.0)
        else:
            jumps.append(float(np.abs(hist - prev_hist).sum()))
            energies.append(float(np.mean(cv2.absdiff(gray, prev_gray))) / 255.0)
        prev_gray, prev_hist = gray, hist
    src_arr = np.asarray(src)
    labeled = np.zeros(len(src_arr), bool)
    if label_frames is not None and len(label_frames):
        # a sample is labeled when a label row falls on a source frame it covers (since the previous sample)
        frames = np.unique(np.asarray(label_frames, int))
        lo = np.r_[src_arr[:1], src_arr[:-1] + 1]
        labeled = np.searchsorted(frames, src_arr, side="right") > np.searchsorted(frames, lo, side="left")
    end = spec.end_s if spec.end_s is not None else (times[-1] + 1.0 / int(math.ceil(fps)))
    return Analysis(np.asarray(times), np.asarray(jumps), np.asarray(energies), labeled, float(end))


def plan_pieces(analysis: Analysis, config: SplitConfig) -> list[tuple[float, float, str]]:
    """[(start_s, end_s, why)] from the analysis: shots, then idle stretches left out, then the length cap."""
    t, n = analysis.times_s, len(analysis.times_s)
    # 1. shots: a cut before sample i
    cuts = [i for i in range(1, n) if config.shots and analysis.hist_jump[i] >= config.shot_threshold]
    bounds = [0, *cuts, n]
    pieces: list[tuple[int, int, str]] = []  # sample ranges [a, b)
    for k in range(len(bounds) - 1):
        why = f"shot {k + 1}/{len(bounds) - 1}" if cuts else "whole"
        pieces.append((bounds[k], bounds[k + 1], why))
    # 2. idle stretches: still (this sample and the step into it) and unlabeled, at least idle_s long
    if config.idle_s is not None:
        fps = 1.0 / np.median(np.diff(t)) if n > 1 else 1.0
        still = (analysis.energy < config.idle_energy) & ~analysis.labeled
        kept: list[tuple[int, int, str]] = []
        for a, b, why in pieces:
            run_start = None
            segs, cur = [], a
            for i in range(a, b + 1):
                is_still = i < b and i > a and still[i]
                if is_still and run_start is None:
                    run_start = i
                if not is_still and run_start is not None:
                    if (i - run_start) / fps >= config.idle_s - 1e-9:
                        segs.append((cur, run_start))  # up to the stretch's first (still) picture
                        cur = i - 1 if i < b else b  # from its last picture: the step out of it is motion
                    run_start = None
            segs.append((cur, b))
            for j, (sa, sb) in enumerate(segs):
                if sb > sa:
                    kept.append((sa, sb, why + (f", active part {j + 1}/{len(segs)} (idle left out)"
                                               if len(segs) > 1 else "")))
        pieces = kept

    def time_of(i: int) -> float:
        return float(t[i]) if i < n else analysis.end_s

    out: list[tuple[float, float, str]] = []
    for a, b, why in pieces:
        s0, s1 = time_of(a), time_of(b)
        if config.max_s is not None and s1 - s0 > config.max_s + 1e-9:
            parts = int(math.ceil((s1 - s0) / config.max_s - 1e-9))
            edges = np.linspace(s0, s1, parts + 1)
            out += [(float(edges[j]), float(edges[j + 1]), f"{why}, part {j + 1}/{parts} (max_s {config.max_s:g})")
                    for j in range(parts)]
        else:
            out.append((s0, s1, why))
    return [(a, b, why) for a, b, why in out if b - a >= config.min_s - 1e-9]


def split_spec(spec: SourceSpec, info: VideoInfo, config: SplitConfig, label_frames: np.ndarray | None = None,
               backend: str = "auto") -> list[SourceSpec]:
    """The episodes of one long source (each with start_s, end_s and segment)."""
    if not config.shots and config.idle_s is None:
        # the length cap alone needs no pixels: the span from the spec or the probed duration
        start = spec.start_s or 0.0
        end = spec.end_s if spec.end_s is not None else _duration_s(info)
        analysis = Analysis(np.array([start]), np.zeros(1), np.zeros(1), np.zeros(1, bool), end)
    else:
        analysis = analyse(spec, info, config, label_frames, backend)
    pieces = plan_pieces(analysis, config)
    name = spec.media.name
    return [dataclasses.replace(spec, start_s=round(a, 6), end_s=round(b, 6),
                                segment=f"split {k + 1}/{len(pieces)} of {name} [{a:.3f}, {b:.3f}) s: {why}")
            for k, (a, b, why) in enumerate(pieces)]


def _duration_s(info: VideoInfo) -> float:
    if info.duration_s:
        return float(info.duration_s)
    if info.n_frames and info.fps:
        return info.n_frames / info.fps
    raise ValueError(f"{info.path}: duration unknown (no duration or frame count in the header); set end_s")


def episode_span_s(spec: SourceSpec, info: VideoInfo) -> tuple[float, float] | None:
    """The span (source seconds) the clip of `spec` would cover: the recipe's / segment's `start_s`/`end_s`, else
    the labeled frames' span (as the decode stage takes it; frame -> seconds at the header's rate), else the whole
    source. None where it cannot be known here (the clip's own stages then report why)."""
    if spec.start_s is not None or spec.end_s is not None:
        return (spec.start_s or 0.0, spec.end_s if spec.end_s is not None else _duration_s(info))
    if spec.labels is not None:
        from vla_builder.sources.labels import read_labels

        span = read_labels(spec, info).span()
        if span is None or not info.fps:
            return None
        return (span[0] / info.fps, (span[1] + 1) / info.fps)
    return (0.0, _duration_s(info))


def split_specs(specs: list[SourceSpec], max_episode_s: float | None = None) -> list[SourceSpec]:
    """Every spec with a `split` section replaced by its pieces, and every episode longer than `max_episode_s`
    (the recipe's cap; None: no cap) cut into equal parts no longer than it. A source that cannot be analysed
    stays whole (its clip then fails or builds with the reason of its own decode)."""
    from vla_builder.sources.labels import LabelError
    from vla_builder.sources.video import DecodeError, probe, probe_images

    infos: dict = {}  # a segment file makes many specs of one video: probed once

    def info_of(spec: SourceSpec) -> VideoInfo:
        key = (spec.video, spec.media)
        if key not in infos:
            infos[key] = probe(spec.video) if spec.video is not None else probe_images(spec.media,
                                                                                        spec.frames_fps or 0)
        return infos[key]

    out: list[SourceSpec] = []
    for spec in specs:
        if not spec.split and max_episode_s is None:
            out.append(spec)
            continue
        config = SplitConfig.model_validate(spec.split or {})
        if config.max_s is None and max_episode_s is not None:
            config = config.model_copy(update={"max_s": max_episode_s})
        try:
            info = info_of(spec)
            if not spec.split:  # the recipe's cap alone: only an episode longer than it is cut, within its span
                whole = spec.end_s - (spec.start_s or 0.0) if spec.end_s is not None else _duration_s(info)
                span = episode_span_s(spec, info) if whole > max_episode_s + 1e-9 else None
                if span is None or span[1] - span[0] <= max_episode_s + 1e-9:
                    out.append(spec)
                    continue
                pieces = split_spec(dataclasses.replace(spec, start_s=span[0], end_s=span[1]), info, config)
                out += [dataclasses.replace(p, segment=(f"{spec.segment}; " if spec.segment else "")
                                            + p.segment.replace("(max_s", "(max_episode_s")) for p in pieces] or [spec]
                continue
            label_frames = None
            if spec.labels is not None and config.idle_s is not None:  # idle stretches must not hold label boxes
                from vla_builder.sources.labels import read_labels

                try:
                    label_frames = read_labels(spec, info).frame
                except Exception:  # noqa: BLE001 — the clip's labels stage reports a bad label file
                    label_frames = None
            pieces = split_spec(spec, info, config, label_frames)
        except (DecodeError, LabelError, ValueError, OSError):
            out.append(spec)
            continue
        out += pieces or [spec]
    return out
