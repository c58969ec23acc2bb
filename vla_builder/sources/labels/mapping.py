"""A declarative `mapping:` for any other JSON, XML or CSV label schema — data in the recipe, no code.

Field paths are dotted with list indices: `bbox.x1`, `timestamps[0]`, `meta.objects[2].name`, Korean keys as they
are (`어노테이션.바운딩박스`), a key with dots quoted (`["Learning Data Info."].annotation`), `$doc.x.y` a field of the
whole document (beside the record: the video a file is for, a file-level class); for a CSV, a column name. Keys (all optional except where a box is wanted):

    records: trigger_info        # where the records are; omitted: the document itself / the CSV rows. A `*` step
                                 # walks every key of a dict (or item of a list) and captures it: `data.*.*` reads
                                 # {"data": {"<frame>": {"<object id>": {...}}}}; `$key0`, `$key1` are the captured
                                 # keys and `$node0`, `$node1` the nodes under them (`$node0.name`: a parent's field)
    video: video_id              # keep records whose field equals the source's name (one file, many videos)
    frame: frame                 # the box's frame number (minus the source's frame_base) ... (`$key0`; `$file`:
                                 # the number at the end of the label file's name, the default in a folder)
    time_s: t                    # ... or its time in seconds; neither: the box holds over the record's segment
    box: bbox                    # a list of 4 numbers, or a mapping read in the order of box_keys
    box_keys: [x1, y1, x2, y2]
    box_format: xyxy             # xyxy | xywh (top-left + size) | cxcywh (centre + size) | points: the box
                                 # around a polygon or keypoints ([[x, y], ...], [x, y, x, y ...], [{x, y}, ...],
                                 # {name: {x, y}}) | points_xyv: COCO keypoint triplets, v = 0 left out
    normalized: false            # true: coordinates in 0..1 of the frame, else pixels ...
    frame_size: resolution       # ... of this frame size ([w, h], {width, height}; default: the video's)
    class: trigger_object        # class name (any language)
    track_id: id
    attributes: [weather, pose]  # kept per box
    segment_start: timestamps[0] # a labeled span -> its own episode
    segment_end: timestamps[1]   # omitted with segment_unit: frame -> the one frame
    segment_unit: s              # s | ms | frame
    text: trigger_action         # the span's caption: the episode's task, verbatim
    actor: speaker_id            # per segment: the class (or track id) whose motion is that episode's action

Parallel arrays are zipped with `[*]`: `segment_start: timestamps[*][0]`, `segment_end: timestamps[*][1]`,
`text: sentences[*]` reads ActivityNet Captions' `{timestamps: [[s, e], ...], sentences: [...]}` pairwise.

`labels:` may be a folder: every .json / .xml file in it is read (one file per frame: the frame is the number at
the end of its name unless `frame:` says otherwise). XML is read as nested mappings: a child element by its tag
(repeated tags are a list: `object.*`), an attribute as `@name`, an element's own text as `#text` (a plain leaf
element is its text).
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_builder.boxes import as_xywh
from vla_builder.sources.labels import LabelError, count, encode_class_names, finish_table
from vla_builder.types import LabelTable, SourceSpec, VideoInfo

_MISSING = object()
_STEP = re.compile(r"""\[(?:'([^']*)'|"([^"]*)")\]|([^.\[\]]+)|\[(\d+|\*)\]""")


def _steps(path: str) -> list[tuple[str, str]]:
    """A field path as (key, "") / ("", index) steps: `a.b[0]`, `*` (every key or item), `["key. with dots"]`."""
    out = []
    for q1, q2, name, idx in _STEP.findall(path):
        if q1 or q2:
            out.append((q1 or q2, ""))
        elif name == "*":
            out.append(("", "*"))
        elif name:
            out.append((name, ""))
        else:
            out.append(("", idx))
    return out
_CAPTURE = re.compile(r"^\$(key|node)(\d+)(?:\.(.*))?$")
_DOC = re.compile(r"^\$doc(?:\.(.*)|(\[.*))?$")
LABEL_SUFFIXES = (".json", ".xml", ".csv", ".tsv")


class _XmlList(list):
    """Elements of one tag under an XML parent: a name step into a single one steps into it."""


def xml_to_data(element) -> Any:
    """An XML element as nested mappings: children by tag (always an _XmlList), `@attr`, `#text`; a leaf: its text."""
    children: dict[str, Any] = {}
    for child in element:
        children.setdefault(child.tag, _XmlList()).append(xml_to_data(child))
    text = (element.text or "").strip()
    if not children and not element.attrib:
        return text
    out: dict[str, Any] = {f"@{k}": v for k, v in element.attrib.items()}
    out.update(children)
    if text:
        out["#text"] = text
    return out


def _unwrap(node: Any) -> Any:
    while isinstance(node, _XmlList) and len(node) == 1:
        node = node[0]
    return node


def get_path(record: Any, path: str, index: int | None = None) -> Any:
    """`a.b[0].c` inside nested dicts / lists; `[*]` is list item `index` (zipped arrays); _MISSING where absent."""
    if isinstance(record, dict) and path in record:  # a CSV column may contain dots
        return _unwrap(record[path])
    node = record
    for name, idx in _steps(path):
        node = _unwrap(node) if name else node
        if name:
            if not isinstance(node, dict) or name not in node:
                return _MISSING
            node = node[name]
        else:
            if idx == "*":
                if index is None:
                    return _MISSING
                idx = str(index)
            i = int(idx)
            if not isinstance(node, list | tuple) or i >= len(node):
                return _MISSING
            node = node[i]
    return _unwrap(node)


def where_missing(record: Any, path: str, top: str = "the record") -> str:
    """Why `path` finds nothing in `record` (called `top`): the step that failed and the keys there are."""
    node, walked = record, ""
    for name, idx in _steps(path):
        node = _unwrap(node)
        here = walked or top
        if name:
            if not isinstance(node, dict) or name not in node:
                if isinstance(node, dict):
                    keys = list(node)
                    return f"{here} has no '{name}' (its keys: {', '.join(map(str, keys[:12]))}" \
                           f"{', ...' if len(keys) > 12 else ''})"
                return f"{here} is a {type(node).__name__}, not a mapping with '{name}'"
            node = node[name]
        elif idx == "*" and isinstance(node, dict) and node:
            node = next(iter(node.values()))  # a '*' over a mapping: look inside its first entry
        else:
            if not isinstance(node, list | tuple) or not node:
                return f"{here} is a {type(node).__name__}, not a list (for '[{idx}]')"
            node = node[0 if idx == "*" else min(int(idx), len(node) - 1)]
        walked += f".{name}" if name and walked else name or f"[{idx}]"
    return f"'{path}' is there"


@dataclass
class Record:
    """One record and where it was found: the keys and nodes its `records:` wildcards walked, its file, and the item
    of its zipped arrays (`[*]`)."""

    node: Any
    keys: tuple = ()
    nodes: tuple = ()
    file: str = ""
    index: int | None = None
    where: str = ""
    doc: Any = None  # the whole document: `$doc.meta.name` (a file-level field, e.g. the video it is for)

    def get(self, path: str) -> Any:
        if path == "$file":
            return self.file
        d = _DOC.match(path)
        if d:
            rest = d.group(1) or d.group(2)
            return get_path(self.doc, rest, self.index) if rest else self.doc
        m = _CAPTURE.match(path)
        if m:
            kind, n, rest = m.group(1), int(m.group(2)), m.group(3)
            if n >= len(self.keys):
                return _MISSING
            if kind == "key":
                return self.keys[n]
            return get_path(self.nodes[n], rest, self.index) if rest else _unwrap(self.nodes[n])
        return get_path(self.node, path, self.index)


def _walk(node: Any, steps: list[tuple[str, str]], keys: tuple, nodes: tuple, where: str):
    """Yield (node, keys, nodes, where) for a `records:` path with `*` steps."""
    if not steps:
        yield node, keys, nodes, where
        return
    (name, idx), rest = steps[0], steps[1:]
    if name == "*" or idx == "*":
        node = _unwrap(node) if not isinstance(node, _XmlList) else node
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for k, v in items:
            yield from _walk(v, rest, (*keys, k), (*nodes, v), f"{where}.{k}" if where else str(k))
        return
    node = _unwrap(node)
    if name:
        if isinstance(node, dict) and name in node:
            yield from _walk(node[name], rest, keys, nodes, f"{where}.{name}" if where else name)
        return
    if isinstance(node, list) and int(idx) < len(node):
        yield from _walk(node[int(idx)], rest, keys, nodes, f"{where}[{idx}]")


def load_document(path: Path) -> Any:
    """A JSON, XML or CSV/TSV label file as data; LabelError naming the file when it cannot be read."""
    suffix = path.suffix.lower()
    try:
        if suffix in {".csv", ".tsv"}:
            with open(path, newline="", encoding="utf-8-sig") as fh:
                return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        if suffix == ".xml":
            import xml.etree.ElementTree as ET

            return xml_to_data(ET.parse(path).getroot())
        from vla_builder.sources.labels import load_json_cached

        return load_json_cached(path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise LabelError(path, f"cannot read labels ({e})") from None
    except Exception as e:  # noqa: BLE001 — xml.etree.ElementTree.ParseError and the like
        raise LabelError(path, f"cannot read labels ({type(e).__name__}: {e})") from None


def label_files(path: Path) -> list[Path]:
    """The label file, or every label file in a folder (one per frame), in name order."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in LABEL_SUFFIXES)
    if not files:
        raise LabelError(path, f"no label files ({', '.join(LABEL_SUFFIXES)}) in the folder")
    return files


def video_names(name: str) -> set[str]:
    """The names a label file may call this source by (ActivityNet's 'v_' prefix either way)."""
    return {name, name.removeprefix("v_"), f"v_{name}"}


def _zip_length(rec: Record, mapping: dict) -> int | None:
    """How many items the record's zipped arrays (`[*]` paths) hold; None without such paths."""
    lengths = {}
    for key, path in mapping.items():
        if isinstance(path, str) and "[*]" in path:
            head = path.split("[*]")[0]
            arr = rec.get(head)
            lengths[key] = len(arr) if isinstance(arr, list) else 0
    if not lengths:
        return None
    if len(set(lengths.values())) > 1:
        raise ValueError("zipped arrays of different lengths: " + ", ".join(f"{k} {n}" for k, n in lengths.items()))
    return next(iter(lengths.values()))


def load_records(path: Path, mapping: dict, spec: SourceSpec) -> list[Record]:
    """The mapping's records from a JSON / XML / CSV file (or a folder of them), wildcards walked, zipped arrays
    paired, filtered to this source's video when `video:` is set. A path that finds nothing: LabelError saying where
    it stopped and the keys the document has there."""
    where = mapping.get("records")
    out: list[Record] = []
    files = label_files(path)
    for f in files:
        doc = load_document(f)
        if where:
            steps = _steps(where)
            found = list(_walk(doc, steps, (), (), ""))
            if not found and len(files) == 1:
                raise LabelError(f, f"mapping.records: '{where}' finds nothing: "
                                    f"{where_missing(doc, where, 'the document')}")
        else:
            found = [(doc, (), (), "")]
        for node, keys, nodes, at in found:
            node = _unwrap(node) if not isinstance(node, _XmlList) else node
            if isinstance(node, list):  # a list of records
                items = [(item, f"{at}[{i}]") for i, item in enumerate(node)]
            else:
                items = [(node, at)]
            for item, spot in items:
                out.append(Record(item, keys, nodes, f.stem, None, f"{f.name}#{spot}" if spot else f.name, doc))
    if mapping.get("video"):
        names = video_names(spec.name)
        here = [r for r in out if str(r.get(mapping["video"])) in names
                or Path(str(r.get(mapping["video"]))).stem in names]  # a file name with its suffix
        if not here and out:
            seen = sorted({str(r.get(mapping["video"])) for r in out})
            raise LabelError(path, f"no records of video '{spec.name}' ({mapping['video']} names "
                             f"{', '.join(seen[:5])}{', ...' if len(seen) > 5 else ''}): labels of another video?")
        out = here
    zipped: list[Record] = []
    for rec in out:
        try:
            n = _zip_length(rec, mapping)
        except ValueError as e:
            raise LabelError(path, f"{rec.where}: {e}") from None
        if n is None:
            zipped.append(rec)
        else:
            zipped += [Record(rec.node, rec.keys, rec.nodes, rec.file, i, f"{rec.where}[{i}]", rec.doc)
                       for i in range(n)]
    return zipped


VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".ts")


def _video_names_in(node: Any, depth: int = 3) -> set[str]:
    """File names of videos a label document states about itself (`metaData.name`, `<filename>`, `video_name`):
    strings ending in a video suffix, a few levels down (not inside long record lists)."""
    found: set[str] = set()
    if isinstance(node, str):
        if node.lower().endswith(VIDEO_SUFFIXES):
            found.add(Path(node.replace("\\", "/")).stem)
    elif depth > 0 and isinstance(node, dict):
        for v in list(node.values())[:50]:
            found |= _video_names_in(v, depth - 1)
    elif depth > 0 and isinstance(node, list) and len(node) <= 3:
        for v in node:
            found |= _video_names_in(v, depth - 1)
    return found


def other_video_note(path: Path, spec: SourceSpec) -> str | None:
    """Without `mapping.video`, a label file that names a video of its own other than this source: a warning
    (the file may have been renamed, so it is not refused) naming both and the key that would check it."""
    if (spec.mapping or {}).get("video"):
        return None
    try:
        names = set().union(*(_video_names_in(load_document(f)) for f in label_files(path)[:3]))
    except LabelError:
        return None
    if names and not names & video_names(spec.name):
        return (f"{path.name} names the video {', '.join(sorted(names)[:3])}, not {spec.media.name}: labels of "
                "another video? (mapping.video: '$doc.<field>' refuses them)")
    return None


def describe_miss(records: list[Record], path: str) -> str:
    """For an error: where `path` stopped in the first record that lacks it."""
    for rec in records[:1]:
        if _DOC.match(path):
            return f"{rec.where}: {where_missing(rec.doc, path.removeprefix('$doc').lstrip('.'), 'the document')}"
        if _CAPTURE.match(path) or path == "$file":
            return f"'{path}' captures nothing (records: has {len(rec.keys)} '*' step(s))"
        return f"{rec.where}: {where_missing(rec.node, path.replace('[*]', f'[{rec.index or 0}]'))}"
    return "no records"


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is _MISSING or value is None:
        raise ValueError("missing")
    return float(value)


def to_seconds(value: Any, unit: str, fps: float | None) -> float:
    if isinstance(value, str) and ":" in value:  # HH:MM:SS(.ff)
        parts = [float(p) for p in value.split(":")]
        secs = 0.0
        for p in parts:
            secs = secs * 60 + p
        return secs
    v = _number(value)
    if unit == "ms":
        return v / 1000.0
    if unit == "frame":
        if not fps:
            raise ValueError("a frame number needs the source's frame rate")
        return v / fps
    return v


def _points(raw: Any) -> np.ndarray:
    """A polygon or keypoints as an (N, 2) array: [[x, y], ...], [x, y, x, y, ...], [{x, y}, ...], {name: {x, y}} or
    {name: [x, y]}."""
    if isinstance(raw, dict):
        raw = list(raw.values())
    if isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,;]+", raw.strip("[]() ")) if p]
    if not isinstance(raw, list | tuple) or not raw:
        raise ValueError("no points")
    if all(isinstance(p, dict) for p in raw):
        pts = [(_number(p.get("x", _MISSING)), _number(p.get("y", _MISSING))) for p in raw]
    elif all(isinstance(p, list | tuple) and len(p) >= 2 for p in raw):
        pts = [(_number(p[0]), _number(p[1])) for p in raw]
    else:
        flat = [_number(v) for v in raw]
        if len(flat) % 2:
            raise ValueError("an odd count of point coordinates")
        pts = list(zip(flat[0::2], flat[1::2], strict=True))
    return np.asarray(pts, dtype=np.float64)


def read_box(record: Record | Any, mapping: dict) -> tuple[float, float, float, float]:
    """(x, y, w, h) in the mapping's units; raises ValueError (missing, wrong type)."""
    raw = record.get(mapping["box"]) if isinstance(record, Record) else get_path(record, mapping["box"])
    fmt = mapping.get("box_format", "xyxy")
    if raw is _MISSING or raw is None:
        raise ValueError(f"no '{mapping['box']}'")
    if fmt in ("points", "points_xyv"):
        if fmt == "points_xyv":
            flat = [_number(v) for v in (raw if isinstance(raw, list) else [])]
            if not flat or len(flat) % 3:
                raise ValueError("keypoints are not x, y, v triplets")
            pts = np.asarray([(x, y) for x, y, v in zip(flat[0::3], flat[1::3], flat[2::3], strict=True) if v > 0])
        else:
            pts = _points(raw)
        pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else pts
        if len(pts) == 0:
            raise ValueError("no visible points")
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        return float(x0), float(y0), float(x1 - x0), float(y1 - y0)
    if isinstance(raw, dict):
        keys = mapping.get("box_keys") or ["x1", "y1", "x2", "y2"]
        raw = [raw.get(k, _MISSING) for k in keys]
    elif isinstance(raw, str):
        raw = [p for p in re.split(r"[\s,;]+", raw.strip("[]() ")) if p]
    if not isinstance(raw, list | tuple) or len(raw) != 4:
        raise ValueError("box is not 4 numbers")
    return as_xywh(tuple(_number(v) for v in raw), fmt)


def record_box(rec: Record, mapping: dict, dropped: dict[str, int]) -> tuple[float, float, float, float] | None:
    """The record's box (x, y, w, h in the mapping's units), or None with the reason counted in `dropped`."""
    try:
        return read_box(rec, mapping)
    except ValueError as e:
        count(dropped, f"record without a usable box ({e})")
        return None


def record_class(rec: Record, mapping: dict, dropped: dict[str, int]) -> str | None:
    """The record's class name (`class:`; "object" without one), or None with the reason counted in `dropped`."""
    cls = rec.get(mapping["class"]) if mapping.get("class") else "object"
    if cls is _MISSING or cls is None or isinstance(cls, dict | list):
        count(dropped, "record without a class name")
        return None
    return str(cls)


def record_attributes(rec: Record, mapping: dict) -> dict[str, Any]:
    """The record's `attributes:` that it holds."""
    return {k: v for k in mapping.get("attributes") or [] if (v := rec.get(k)) is not _MISSING}


def frame_number(rec: Record, mapping: dict, base: int) -> int:
    """A record's frame (0-based): `frame:` (a number, or a name ending in one: `$file`, `frame_0012`) minus base."""
    path = mapping.get("frame") or "$file"
    raw = rec.get(path)
    if isinstance(raw, str) and not re.fullmatch(r"\s*-?\d+(\.0*)?\s*", raw):
        m = re.search(r"(\d+)\D*$", raw)
        if not m:
            raise ValueError(f"no frame number in '{raw}' ({path})")
        raw = m.group(1)
    if raw is _MISSING:
        raise ValueError(f"no '{path}'")
    return int(_number(raw)) - base


def read_mapping(spec: SourceSpec, info: VideoInfo) -> LabelTable:
    path = spec.labels
    assert path is not None
    mapping = spec.mapping or {}
    if not mapping.get("box"):
        return LabelTable.empty(path, "mapping")  # segments / captions only
    records = load_records(path, mapping, spec)
    dropped: dict[str, int] = {}
    rows, names, attrs = [], [], []
    base = spec.frame_base or 0
    for rec in records:
        box = record_box(rec, mapping, dropped)
        if box is None:
            continue
        x, y, w, h = box
        try:
            if mapping.get("frame") or (path.is_dir() and not mapping.get("time_s")):
                frames = [frame_number(rec, mapping, base)]
            elif mapping.get("time_s"):
                frames = [int(round(to_seconds(rec.get(mapping["time_s"]), "s", info.fps) * info.fps)) - base]
            elif mapping.get("segment_start") and mapping.get("segment_end"):
                # a box stated for a labeled span (AI-Hub trigger boxes): it holds on every frame of the span
                unit = mapping.get("segment_unit", "s")
                t0 = to_seconds(rec.get(mapping["segment_start"]), unit, info.fps)
                t1 = to_seconds(rec.get(mapping["segment_end"]), unit, info.fps)
                first, end = int(round(t0 * info.fps)), int(round(t1 * info.fps))
                if end <= first:
                    raise ValueError("segment end is not after its start")
                frames = [f - base for f in range(first, end)]
            else:
                raise ValueError("no frame, time_s or segment_start/segment_end")
        except (ValueError, TypeError) as e:
            count(dropped, f"record without a usable frame or time ({e})")
            continue
        tid = -1
        if mapping.get("track_id"):
            raw = rec.get(mapping["track_id"])
            try:
                tid = int(_number(raw))
            except (ValueError, TypeError):
                if raw is _MISSING or raw is None:
                    count(dropped, "record without a track id")
                    continue
                tid = _string_id(str(raw))  # ids like "person_1": stable numbers per name
        cls = record_class(rec, mapping, dropped)
        if cls is None:
            continue
        extra = record_attributes(rec, mapping)
        try:
            size = frame_size(rec, mapping, info)
        except ValueError as e:
            count(dropped, f"record without a usable frame_size ({e})")
            continue
        for frame in frames:
            rows.append((frame, tid, x, y, w, h, *size))
            names.append(str(cls))
            attrs.append(extra)
    if not rows:
        why = f"dropped: {dropped}" if dropped else "no records"
        if records and dropped:
            missing = [k for k in ("box", "frame", "class", "track_id") if mapping.get(k)
                       and all(r.get(mapping[k]) is _MISSING for r in records[:50])]
            if missing:
                why += "; " + "; ".join(f"{k}: {describe_miss(records, mapping[k])}" for k in missing)
        raise LabelError(path, f"mapping: no usable boxes in {len(records)} record(s) ({why})")
    class_id, classes, strict = encode_class_names(names, spec)
    a = np.asarray(rows, dtype=np.float64)
    check_box_units(path, a[:, 2:6], a[:, 6:8], mapping, info)
    extra = np.empty(len(attrs), dtype=object)
    extra[:] = attrs
    return finish_table(path, "mapping", a[:, 0], a[:, 1], class_id, a[:, 2:6], np.ones(len(a)), classes, a[:, 6:8],
                        dropped, strict_classes=strict, extras={"attributes": extra})


def frame_size(rec: Record, mapping: dict, info: VideoInfo) -> tuple[float, float]:
    """The (w, h) a record's pixel box is stated in: `frame_size:` ([w, h], {width, height} or "WxH"), else the
    video's; (1, 1) for normalized boxes."""
    if mapping.get("normalized"):
        return 1.0, 1.0
    if not mapping.get("frame_size"):
        return float(info.width_px), float(info.height_px)
    raw = rec.get(mapping["frame_size"])
    if isinstance(raw, dict):
        raw = [raw.get("width", raw.get("w", _MISSING)), raw.get("height", raw.get("h", _MISSING))]
    elif isinstance(raw, str):
        raw = re.split(r"[x×,\s]+", raw.strip())
    if not isinstance(raw, list | tuple) or len(raw) < 2:
        raise ValueError(f"'{mapping['frame_size']}' is not [width, height]")
    w, h = _number(raw[0]), _number(raw[1])
    if w <= 0 or h <= 0:
        raise ValueError(f"frame size {w:g}x{h:g}")
    return w, h


def check_box_units(path: Path, xywh: np.ndarray, size: np.ndarray, mapping: dict, info: VideoInfo) -> None:
    """Pixel boxes in the wrong units are refused with the likely fix before any decode: boxes of larger frames
    (most reach past the frame they are read in) or normalized boxes read as pixels (all within 0..1)."""
    if mapping.get("normalized") or not len(xywh):
        return
    x1, y1 = xywh[:, 0] + xywh[:, 2], xywh[:, 1] + xywh[:, 3]
    past = (x1 > size[:, 0] * 1.05) | (y1 > size[:, 1] * 1.05)
    if past.mean() > 0.5:
        raise LabelError(path, f"{int(past.sum())} of {len(xywh)} boxes reach past the {size[0, 0]:.0f}x"
                         f"{size[0, 1]:.0f} frame they are read in (up to x {x1.max():.0f}, y {y1.max():.0f}): "
                         "pixel boxes of larger frames? give mapping.frame_size (the file's resolution, e.g. "
                         "'$doc.resolution') or normalized: true")
    if np.nanmax(np.abs(np.concatenate([xywh[:, :2], x1[:, None], y1[:, None]], axis=1))) <= 1.0 and \
            min(info.width_px, info.height_px) > 16:
        raise LabelError(path, f"every box lies within 0..1 (e.g. {np.round(xywh[0], 3).tolist()}): normalized "
                         "coordinates read as pixels — set mapping.normalized: true")


def _string_id(name: str) -> int:
    """A track id that is a name (e.g. "person_1"): one number per name, the same in every process."""
    import zlib

    return zlib.crc32(name.encode("utf-8")) & 0x3FFFFFFF
