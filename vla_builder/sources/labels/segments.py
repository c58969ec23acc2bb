"""Temporal labels and captions: human language attached to a clip or to a span of a long video.

- EPIC-KITCHENS-100-style segment CSV: `narration`, `verb`, `noun`, `start_timestamp` / `stop_timestamp`
  (HH:MM:SS.ff) or `start_frame` / `stop_frame` (at the source's frame rate); rows of other videos (`video_id`) are
  skipped when the file holds several.
- Something-Something-style clip labels: a JSON list of `{id, label, template, placeholders}`; the clip whose
  name is `id` gets `label` as its caption (the template and placeholders are kept in provenance).
- `mapping:` segments: `segment_start`, `segment_end`, `text`, `actor` (see mapping.py).
- Dense captions, read by the mapping with a built-in preset and detected by content: ActivityNet Captions
  (`{video_id: {duration, timestamps: [[s, e], ...], sentences: [...]}}`) and YouCook2
  (`{database: {video_id: {annotations: [{segment: [s, e], sentence}]}}}`); the source's video is found by its
  name (ActivityNet's `v_` prefix either way), and a file that names only other videos is an error.
- Charades CSV (`id, ..., script, ..., actions: "c092 11.90 21.20;c147 0.00 12.60"`) with its class list file
  (`Charades_v1_classes.txt`: `c092 Holding a phone`) beside it for the words (charades.py); VIA 3 video
  projects' temporal segments (via.py).

Before any frame is decoded: identical consecutive texts (a line repeated on every frame of its speaker) are merged
into one segment (counted in a warning); spans past the video's end are refused with a units hint (times that
look like frame numbers: `segment_unit: frame`).

Each segment becomes its own episode: a `SourceSpec` with `start_s` / `end_s` (padded by the recipe's
`segment_padding_s`), `caption` (whitespace normalized, otherwise verbatim: any language), `caption_origin`
("<file>#<row or field>") and `segment` (which one of how many).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

from vla_builder.sources.labels import SEGMENT_FORMATS, LabelError, detect_format
from vla_builder.types import SourceSpec


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str
    origin: str  # "<file>#<row/field>"
    actor: str | None = None  # whose motion is this segment's action (the speaker, the actor id), when labeled


# built-in dense-caption layouts: the mapping that reads each (auto-detected by content, see labels.detect_format)
PRESETS = {
    "activitynet": {"records": "*", "video": "$key0", "segment_start": "timestamps[*][0]",
                    "segment_end": "timestamps[*][1]", "text": "sentences[*]"},
    "youcook2": {"records": "database.*.annotations", "video": "$key0", "segment_start": "segment[0]",
                 "segment_end": "segment[1]", "text": "sentence"},
}


def normalize_text(text: str) -> str:
    return " ".join(str(text).split())


def _fps(spec: SourceSpec) -> float:
    if spec.frames_fps:
        return float(spec.frames_fps)
    from vla_builder.sources.video import probe

    return float(probe(spec.media).fps)


def read_epic(path: Path, spec: SourceSpec) -> list[Segment]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise LabelError(path, f"cannot read segment CSV ({e})") from None
    if not rows:
        raise LabelError(path, "segment CSV without rows")
    if "video_id" in rows[0] and len({r.get("video_id") for r in rows}) > 1:
        rows_here = [r for r in rows if r.get("video_id") == spec.name]
        if not rows_here:
            raise LabelError(path, f"no segments of video '{spec.name}' (have "
                             f"{sorted({r.get('video_id') for r in rows})[:5]}...)")
        rows = rows_here
    from vla_builder.sources.labels.mapping import to_seconds

    fps: float | None = None
    out, bad = [], []
    for i, r in enumerate(rows):
        row_id = r.get("narration_id") or f"row {i + 2}"
        text = r.get("narration") or " ".join(x for x in (r.get("verb"), r.get("noun")) if x)
        try:
            if r.get("start_timestamp") and r.get("stop_timestamp"):
                start, end = to_seconds(r["start_timestamp"], "s", None), to_seconds(r["stop_timestamp"], "s", None)
            elif r.get("start_frame") and r.get("stop_frame"):
                fps = fps or _fps(spec)
                start, end = float(r["start_frame"]) / fps, float(r["stop_frame"]) / fps
            elif r.get("start_s") and r.get("end_s"):
                start, end = float(r["start_s"]), float(r["end_s"])
            else:
                raise ValueError("no start/stop timestamp or frame")
        except ValueError as e:
            bad.append(f"{row_id}: {e}")
            continue
        if not normalize_text(text):
            bad.append(f"{row_id}: no narration text")
            continue
        if end <= start:
            bad.append(f"{row_id}: stop {end:.3f} s is not after start {start:.3f} s")
            continue
        out.append(Segment(start, end, normalize_text(text), f"{path.name}#{row_id}.narration"))
    if not out:
        raise LabelError(path, f"no usable segments ({'; '.join(bad[:5])})")
    return out


def read_mapping_segments(path: Path, spec: SourceSpec, mapping: dict | None = None) -> list[Segment]:
    from vla_builder.sources.labels.mapping import _MISSING, describe_miss, frame_number, load_records, to_seconds

    m = mapping or spec.mapping or {}
    records = load_records(path, m, spec)
    unit = m.get("segment_unit", "s")
    fps = _fps(spec) if unit == "frame" else None
    base = spec.frame_base or 0
    out, bad = [], []
    for rec in records:
        try:
            if unit == "frame":  # frame numbers count from frame_base; the end frame is the segment's last
                start_f = frame_number(rec, {"frame": m["segment_start"]}, base)
                end_f = frame_number(rec, {"frame": m["segment_end"]}, base) if m.get("segment_end") else start_f
                assert fps is not None
                start, end = start_f / fps, (end_f + 1) / fps
            else:
                start = to_seconds(rec.get(m["segment_start"]), unit, fps)
                end = to_seconds(rec.get(m["segment_end"]), unit, fps) if m.get("segment_end") else None
        except (ValueError, TypeError) as e:
            bad.append(f"{rec.where}: {e}")
            continue
        text = rec.get(m["text"]) if m.get("text") else _MISSING
        if text is _MISSING or not isinstance(text, str | int | float) or not normalize_text(str(text)):
            bad.append(f"{rec.where}: no text at '{m.get('text')}'")
            continue
        if end is None or end <= start:
            bad.append(f"{rec.where}: end is not after start")
            continue
        actor = rec.get(m["actor"]) if m.get("actor") else _MISSING
        out.append(Segment(start, end, normalize_text(str(text)), f"{rec.where}.{m['text']}",
                           None if actor is _MISSING or actor is None else str(actor)))
    if not out:
        hint = ""
        if records:
            missing = [k for k in ("segment_start", "segment_end", "text") if m.get(k)
                       and all(r.get(m[k]) is _MISSING for r in records[:50])]
            hint = "; " + "; ".join(f"{k}: {describe_miss(records, m[k])}" for k in missing) if missing else ""
        raise LabelError(path, f"mapping: no usable segments ({'; '.join(bad[:5]) or 'no records'}{hint})")
    return out


def read_clip_caption(path: Path, spec: SourceSpec) -> tuple[str, str, tuple[str, ...]]:
    """Something-Something-style labels (or a JSON dict id -> text): (caption, origin, variants) of this clip; the
    variants are the label file's own other wording (its template filled with its placeholders) when it differs."""
    from vla_builder.sources.labels import load_json_cached

    try:
        doc = load_json_cached(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LabelError(path, f"cannot read clip labels ({e})") from None
    if isinstance(doc, dict):
        text = doc.get(spec.name)
        if isinstance(text, str) and normalize_text(text):
            return normalize_text(text), f"{path.name}#{spec.name}", ()
        raise LabelError(path, f"no caption for clip '{spec.name}'")
    if not isinstance(doc, list):
        raise LabelError(path, "clip labels must be a list of {id, label} records or a dict id -> text")
    key = (str(path), path.stat().st_mtime_ns)
    if key not in _CAPTION_INDEX:  # id -> record position, once per file (SSv2 lists hold ~200k clips)
        _CAPTION_INDEX.clear()
        _CAPTION_INDEX[key] = {str(r.get("id")): i for i, r in enumerate(doc) if isinstance(r, dict)}
    found = _CAPTION_INDEX[key].get(spec.name)
    for i, rec in ([] if found is None else [(found, doc[found])]):
        if isinstance(rec, dict) and str(rec.get("id")) == spec.name:
            text = rec.get("label")
            if not isinstance(text, str) or not normalize_text(text):
                if isinstance(rec.get("template"), str) and isinstance(rec.get("placeholders"), list):
                    text = fill_template(rec["template"], rec["placeholders"])
                else:
                    raise LabelError(path, f"clip '{spec.name}' (record {i}): no 'label' text")
            text = normalize_text(text)
            variants: tuple[str, ...] = ()
            if isinstance(rec.get("template"), str) and isinstance(rec.get("placeholders"), list):
                filled = normalize_text(fill_template(rec["template"], rec["placeholders"]))
                if "[" not in filled and filled.lower() != text.lower():
                    variants = (filled,)
            return text, f"{path.name}#{i}.label", variants
    raise LabelError(path, f"no clip '{spec.name}' among {len(doc)} labels")


_CAPTION_INDEX: dict[tuple[str, int], dict[str, int]] = {}


def fill_template(template: str, placeholders: list) -> str:
    out = template
    for p in placeholders:  # SSv2 templates: "[something]", "[something in it]", "[part]", ...
        out = re.sub(r"\[[^\]]*\]", lambda _m, p=p: str(p), out, count=1)
    return out


def segment_format(spec: SourceSpec, path: Path) -> str:
    if spec.segments_format != "auto":
        return spec.segments_format
    if spec.mapping and spec.mapping.get("segment_start"):
        return "mapping"
    fmt = detect_format(path)
    if fmt not in SEGMENT_FORMATS and fmt != "via":
        raise LabelError(path, f"not a segment or caption file (looks like {fmt}); set segments_format: one of "
                         f"{', '.join((*SEGMENT_FORMATS, 'via', 'mapping'))}")
    return fmt


def read_segments(spec: SourceSpec, path: Path, fmt: str) -> list[Segment]:
    """The segments of a segment / caption file in the given format (not clip captions)."""
    if fmt == "epic":
        return read_epic(path, spec)
    if fmt in PRESETS:
        return read_mapping_segments(path, spec, PRESETS[fmt])
    if fmt == "charades":
        from vla_builder.sources.labels.charades import read_charades

        return read_charades(path, spec)
    if fmt == "via":
        from vla_builder.sources.labels.via import read_via_segments

        return read_via_segments(path, spec)
    return read_mapping_segments(path, spec)


MERGE_GAP_S = 0.5  # identical texts closer than this are one segment (a line repeated on every frame it is said)


def merge_repeats(segments: list[Segment]) -> tuple[list[Segment], int]:
    """Consecutive segments (in time order) with the same text and actor that touch or nearly touch: one segment.
    Returns (segments, how many were merged away)."""
    ordered = sorted(segments, key=lambda s: (s.start_s, s.end_s))
    out: list[Segment] = []
    for seg in ordered:
        last = out[-1] if out else None
        if last is not None and seg.text == last.text and seg.actor == last.actor \
                and seg.start_s <= last.end_s + MERGE_GAP_S:
            out[-1] = dataclasses.replace(last, end_s=max(last.end_s, seg.end_s))
        else:
            out.append(seg)
    return out, len(ordered) - len(out)


def source_length_s(spec: SourceSpec) -> tuple[float | None, float]:
    """(duration in s or None, fps) of the source from its probe (no decode)."""
    from vla_builder.sources.video import probe, probe_images

    info = probe(spec.video) if spec.video is not None else probe_images(spec.media, spec.frames_fps or 0)
    duration = info.duration_s
    if not duration and info.n_frames and info.fps:
        duration = info.n_frames / info.fps
    return duration, float(info.fps)


def check_span(segments: list[Segment], spec: SourceSpec, path: Path, fmt: str,
               warnings: list[str] | None) -> list[Segment]:
    """Segments against the video's length, before any decode: times in the wrong unit are refused with the likely
    fix; a segment that starts past the end is refused; one that ends a little past it is cut at the end."""
    try:
        duration, fps = source_length_s(spec)
    except Exception:  # noqa: BLE001 — an unreadable video fails its clip with the decoder's reason later
        return segments
    if not duration:
        return segments
    unit = (spec.mapping or {}).get("segment_unit", "s") if fmt == "mapping" else "s"
    latest = max(s.end_s for s in segments)
    if latest <= duration + 1.0 / fps:
        return [dataclasses.replace(s, end_s=min(s.end_s, duration)) for s in segments]
    past = [s for s in segments if s.start_s >= duration]
    hint = ""
    if unit == "s" and latest <= duration * fps * 1.01:
        hint = (f" — times look like frame numbers (the latest, {latest:g}, fits the video's "
                f"{duration * fps:.0f} frames): segment_unit: frame?")
    elif unit == "s" and latest <= duration * 1000 * 1.01:
        hint = f" — times look like milliseconds (the latest, {latest:g}): segment_unit: ms?"
    elif unit == "frame":
        hint = " — frame numbers past the last frame: another video's labels, or another frame rate?"
    if hint or past:
        first = past[0] if past else max(segments, key=lambda s: s.end_s)
        raise LabelError(path, f"{len(past) or 1} of {len(segments)} segment(s) end past the video's end "
                         f"({spec.media.name} is {duration:.2f} s; e.g. {first.origin} at "
                         f"[{first.start_s:g}, {first.end_s:g}] s){hint}")
    cut = [s for s in segments if s.end_s > duration]
    if warnings is not None and cut:
        warnings.append(f"{path.name}: {len(cut)} segment(s) end past the video's end ({duration:.2f} s): cut there")
    return [dataclasses.replace(s, end_s=min(s.end_s, duration)) for s in segments]


def expand_episodes(spec: SourceSpec, warnings: list[str] | None = None) -> list[SourceSpec]:
    """One source -> its episodes: one per labeled segment, or the source with its clip caption; raises LabelError.
    `warnings` (when given) collects what was changed on the way (merged repeats, spans cut at the video's end)."""
    if spec.captions is not None and spec.caption is None:
        caption, origin, variants = read_clip_caption(spec.captions, spec)
        spec = dataclasses.replace(spec, caption=caption, caption_origin=origin, caption_variants=variants)
    path = spec.segments
    fmt = None
    if path is None and spec.labels is not None and spec.segment is None:
        # a segment/caption file given as `labels:` (e.g. an EPIC CSV), or a mapping with segments
        if spec.mapping and spec.mapping.get("segment_start"):
            path = spec.labels
        elif spec.labels_format in (*SEGMENT_FORMATS, "via"):
            path, fmt = spec.labels, spec.labels_format
        elif spec.labels_format == "auto" and spec.mapping is None and spec.labels.is_file() \
                and spec.labels.suffix.lower() in {".csv", ".json"}:
            fmt = _quiet_format(spec.labels)
            path = spec.labels if fmt in (*SEGMENT_FORMATS, "via") else None
    if path is None:
        return [spec]
    fmt = segment_format(spec, path) if spec.segments is not None or fmt is None else fmt
    if fmt == "something_something":
        caption, origin, variants = read_clip_caption(path, spec)
        return [dataclasses.replace(spec, caption=caption, caption_origin=origin, caption_variants=variants)]
    segments = read_segments(spec, path, fmt)
    if not segments:
        return [spec]
    if fmt == "mapping" and warnings is not None:
        from vla_builder.sources.labels.mapping import other_video_note

        note = other_video_note(path, spec)
        if note:
            warnings.append(note)
    segments, merged = merge_repeats(segments)
    if merged and warnings is not None:
        warnings.append(f"{path.name}: {merged} repeat(s) of an identical consecutive text merged: "
                        f"{len(segments)} distinct segment(s)")
    segments = check_span(segments, spec, path, fmt, warnings)
    if spec.segments_as == "subtasks":
        subtasks = tuple(sorted((s.start_s, s.end_s, s.text, s.origin) for s in segments))
        return [dataclasses.replace(spec, label_subtasks=subtasks,
                                    segment=f"{len(subtasks)} labeled subtasks from {path.name}")]
    pad = spec.segment_padding_s
    out = []
    for i, seg in enumerate(segments):
        out.append(dataclasses.replace(
            spec, start_s=max(0.0, seg.start_s - pad), end_s=seg.end_s + pad, caption=seg.text,
            caption_origin=seg.origin, segment_actor=seg.actor,
            segment=f"segment {i + 1} of {len(segments)} in {path.name} "
                    f"[{seg.start_s:.3f}, {seg.end_s:.3f}] s, padding {pad:g} s"))
    return out


def _quiet_format(path: Path) -> str | None:
    try:
        return detect_format(path)
    except LabelError:
        return None
