"""`python -m vla_builder labels check RECIPE`: a dry run over a recipe's labels — per source the format detected,
counts (boxes, tracks, segments, classes), the first few parsed boxes and segments with their frame / time, and every
warning or error — reading only the label files and the videos' probes (no frame is decoded), in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

N_SHOWN = 3  # boxes / segments shown per source


@dataclass
class SourceCheck:
    source: str
    labels: str | None
    format: str | None = None
    video: str | None = None  # "WxH, fps, s"
    boxes: int = 0
    tracks: int = 0
    classes: list[str] = field(default_factory=list)
    segments: int = 0
    first_boxes: list[str] = field(default_factory=list)
    first_segments: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def check_source(spec, base: Path) -> SourceCheck:
    from vla_builder.build import recipe_relative
    from vla_builder.sources.labels import LabelError, read_labels, resolve_format
    from vla_builder.sources.labels.segments import expand_episodes
    from vla_builder.sources.video import DecodeError, probe, probe_images
    from vla_builder.sources.labels.fit import LabelFitError, label_size_misfit
    from vla_builder.types import Clip

    out = SourceCheck(recipe_relative(spec.media, base) or "", recipe_relative(spec.labels or spec.segments, base))
    try:
        info = probe(spec.video) if spec.video is not None else probe_images(spec.media, spec.frames_fps or 0)
    except (DecodeError, OSError) as e:
        out.errors.append(str(e))
        return out
    duration = info.duration_s or ((info.n_frames or 0) / info.fps if info.fps else 0)
    out.video = f"{info.width_px}x{info.height_px}, {info.fps:g} fps, {duration:.2f} s"
    try:
        episodes = expand_episodes(spec, out.warnings)
        labeled = [e for e in episodes if e.segment is not None or e.caption is not None]
        out.segments = len([e for e in episodes if e.segment is not None])
        for e in labeled[:N_SHOWN]:
            span = f"[{e.start_s:.2f}, {e.end_s:.2f}] s" if e.start_s is not None else "whole clip"
            actor = f" (actor {e.segment_actor})" if e.segment_actor else ""
            out.first_segments.append(f"{span} {e.caption!r}{actor}  <- {e.caption_origin}")
    except (LabelError, DecodeError, OSError) as e:
        out.errors.append(str(e))
    if spec.labels is None:
        out.format = "none"
        return out
    try:
        out.format = resolve_format(spec)
        table = read_labels(spec, info)
        out.boxes, out.dropped = len(table), dict(table.dropped)
        out.tracks = len({int(t) for t in table.track_id if t >= 0})
        out.classes = sorted({str(c) for c in table.class_name})
        for i in range(min(N_SHOWN, len(table))):
            x0, y0, x1, y1 = table.boxes_xyxy[i]
            tid = int(table.track_id[i])
            out.first_boxes.append(f"frame {int(table.frame[i])} ({int(table.frame[i]) / info.fps:.2f} s) "
                                   f"{table.class_name[i]}{f' #{tid}' if tid >= 0 else ''} "
                                   f"[{x0:.3f}, {y0:.3f}, {x1:.3f}, {y1:.3f}]")
        note = label_size_misfit(Clip(clip_id="check", source=spec, info=info, labels=table))
        if note:
            out.warnings.append(note)
        if out.format == "mapping" and not (spec.mapping or {}).get("segment_start"):  # segments said it above
            from vla_builder.sources.labels.mapping import other_video_note

            other = other_video_note(spec.labels, spec)
            if other:
                out.warnings.append(other)
        if len(table) and info.n_frames and int(table.frame.max()) >= info.n_frames:
            late = int((table.frame >= info.n_frames).sum())
            out.warnings.append(f"{late} box(es) on frames past the video's last ({info.n_frames - 1})")
    except (LabelError, LabelFitError, OSError) as e:
        out.errors.append(str(e))
    return out


def check_recipe(loaded) -> list[SourceCheck]:
    base = loaded.path.parent
    return [check_source(spec, base) for spec in loaded.sources]


def format_checks(checks: list[SourceCheck]) -> str:
    lines = []
    for c in checks:
        lines.append(f"{c.source}  <-  {c.labels or '(no labels)'}")
        lines.append(f"  format: {c.format or '?'}   video: {c.video or '?'}")
        lines.append(f"  boxes {c.boxes}, tracks {c.tracks}, classes {len(c.classes)}"
                     f"{' ' + str(c.classes[:8]) if c.classes else ''}, segments {c.segments}")
        lines += [f"    box  {b}" for b in c.first_boxes]
        lines += [f"    seg  {s}" for s in c.first_segments]
        if c.dropped:
            lines.append(f"  dropped: {c.dropped}")
        lines += [f"  warning: {w}" for w in c.warnings]
        lines += [f"  ERROR: {e}" for e in c.errors]
    return "\n".join(lines)
