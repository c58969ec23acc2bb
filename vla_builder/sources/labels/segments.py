"""Temporal labels and captions: human language attached to a clip or to a span of a long video.

- EPIC-KITCHENS-100-style segment CSV: `narration`, `verb`, `noun`, `start_timestamp` / `stop_timestamp`
  (HH:MM:SS.ff) or `start_frame` / `stop_frame` (at the source's frame rate); rows of other videos (`video_id`) are
  skipped when the file holds several.
- Something-Something-style clip labels: a JSON list of `{id, label, template, placeholders}`; the clip whose
  name is `id` gets `label` as its caption (the template and placeholders are kept in provenance).
- `mapping:` segments: `segment_start`, `segment_end`, `text` (see mapping.py).

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


def read_mapping_segments(path: Path, spec: SourceSpec) -> list[Segment]:
    from vla_builder.sources.labels.mapping import _MISSING, get_path, load_records, to_seconds

    m = spec.mapping or {}
    records = load_records(path, m, spec)
    unit = m.get("segment_unit", "s")
    fps = _fps(spec) if unit == "frame" else None
    out, bad = [], []
    for i, rec in enumerate(records):
        try:
            start = to_seconds(get_path(rec, m["segment_start"]), unit, fps)
            end = to_seconds(get_path(rec, m["segment_end"]), unit, fps) if m.get("segment_end") else None
        except (ValueError, TypeError) as e:
            bad.append(f"record {i}: {e}")
            continue
        text = get_path(rec, m["text"]) if m.get("text") else _MISSING
        if text is _MISSING or not isinstance(text, str) or not normalize_text(text):
            bad.append(f"record {i}: no text at '{m.get('text')}'")
            continue
        if end is None or end <= start:
            bad.append(f"record {i}: end is not after start")
            continue
        where = f"{m.get('records') + '[' + str(i) + '].' if m.get('records') else f'record {i}.'}{m['text']}"
        out.append(Segment(start, end, normalize_text(text), f"{path.name}#{where}"))
    if not out:
        raise LabelError(path, f"mapping: no usable segments ({'; '.join(bad[:5]) or 'no records'})")
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
    if fmt not in ("epic", "something_something"):
        raise LabelError(path, f"not a segment or caption file (looks like {fmt}); set segments_format: epic|mapping")
    return fmt


def expand_episodes(spec: SourceSpec) -> list[SourceSpec]:
    """One source -> its episodes: one per labeled segment, or the source with its clip caption; raises LabelError."""
    if spec.captions is not None and spec.caption is None:
        caption, origin, variants = read_clip_caption(spec.captions, spec)
        spec = dataclasses.replace(spec, caption=caption, caption_origin=origin, caption_variants=variants)
    path = spec.segments
    if path is None and spec.labels is not None and spec.segment is None:
        # a segment/caption file given as `labels:` (e.g. an EPIC CSV), or a mapping with segments
        if spec.mapping and spec.mapping.get("segment_start"):
            path = spec.labels
        elif spec.labels_format in SEGMENT_FORMATS or (
                spec.labels_format == "auto" and spec.mapping is None and spec.labels.is_file()
                and spec.labels.suffix.lower() in {".csv", ".json"} and _quiet_format(spec.labels) in SEGMENT_FORMATS):
            path = spec.labels
    if path is None:
        return [spec]
    fmt = segment_format(spec, path)
    if fmt == "something_something":
        caption, origin, variants = read_clip_caption(path, spec)
        return [dataclasses.replace(spec, caption=caption, caption_origin=origin, caption_variants=variants)]
    segments = read_epic(path, spec) if fmt == "epic" else read_mapping_segments(path, spec)
    if spec.segments_as == "subtasks":
        subtasks = tuple(sorted((s.start_s, s.end_s, s.text, s.origin) for s in segments))
        return [dataclasses.replace(spec, label_subtasks=subtasks,
                                    segment=f"{len(subtasks)} labeled subtasks from {path.name}")]
    pad = spec.segment_padding_s
    out = []
    for i, seg in enumerate(segments):
        out.append(dataclasses.replace(
            spec, start_s=max(0.0, seg.start_s - pad), end_s=seg.end_s + pad, caption=seg.text,
            caption_origin=seg.origin, segment=f"segment {i + 1} of {len(segments)} in {path.name} "
                                               f"[{seg.start_s:.3f}, {seg.end_s:.3f}] s, padding {pad:g} s"))
    return out


def _quiet_format(path: Path) -> str | None:
    try:
        return detect_format(path)
    except LabelError:
        return None
