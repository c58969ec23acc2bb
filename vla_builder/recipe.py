"""Recipe: YAML (data only, `yaml.safe_load`) validated into typed config before any data is touched.

Every problem is gathered — unknown keys, wrong types, globs that match nothing, missing label files — and raised
once as a `RecipeError` whose message lists each with its key path.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from vla_builder.config import StrictConfig
from vla_builder.runners import RunnerConfig
from vla_builder.schema import IMAGE_SIZE_HW
from vla_builder.sinks.encode import VideoConfig
from vla_builder.sources.split import SplitConfig
from vla_builder.stages.detect_track import DetectorConfig, TracksConfig
from vla_builder.stages.interactions import InteractionsConfig
from vla_builder.stages.motion import MotionConfig
from vla_builder.stages.verify_label import LabelCheckConfig
from vla_builder.types import SourceSpec

# A recipe section is the config model of the stage that uses it, defined in that stage's file (one place for a
# setting's name, type, default, validation and use): motion -> stages/motion.py, tracks / detector ->
# stages/detect_track.py, video -> sinks/encode.py, runner -> runners/__init__.py. Top-level keys (fps,
# image_size, actor, task, seed) are read by build.PipelineFactory.


class RecipeError(Exception):
    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"recipe {self.path}: {len(problems)} problem(s):\n{lines}")


class MappingConfig(StrictConfig):
    """Field paths (`a.b[0].c`, `["key."]`, `$key0`, `$node0.x`, `$doc.x`; a CSV column name) into any JSON / XML / CSV
    label schema or folder of per-frame files — see sources/labels/mapping.py."""

    records: str | None = None  # where the records are (`data.*.*`: every key, captured as $key0, $key1)
    video: str | None = None  # keep records whose field equals the source's name (none: an error)
    frame: str | None = None  # a frame number, `$key0`, or `$file` (the number ending the file name)
    time_s: str | None = None
    box: str | None = None
    box_keys: list[str] | None = None  # a box given as a mapping: its keys in box_format order
    box_format: Literal["xyxy", "xywh", "cxcywh", "points", "points_xyv"] = "xyxy"  # points: polygon/keypoints
    normalized: bool = False
    frame_size: str | None = None  # where the frame size the pixel boxes are stated in is ([w, h]): else the video's
    class_: str | None = Field(None, alias="class")
    track_id: str | None = None
    attributes: list[str] = Field(default_factory=list)
    segment_start: str | None = None
    segment_end: str | None = None  # may be omitted with segment_unit: frame (one frame)
    segment_unit: Literal["s", "ms", "frame"] = "s"
    text: str | None = None
    actor: str | None = None  # per segment: whose motion is its action (a class name or track id, e.g. a speaker)

    @model_validator(mode="after")
    def _something_to_read(self) -> MappingConfig:
        if self.box is None and self.segment_start is None:
            raise ValueError("a mapping needs 'box' (boxes) or 'segment_start' (segments), or both")
        if self.segment_start is not None and self.text is None:
            raise ValueError("segments need 'segment_start', 'segment_end' and 'text'")
        if self.segment_start is not None and self.segment_end is None and self.segment_unit != "frame":
            raise ValueError("segments need 'segment_end' (only frame-numbered ones may omit it: one frame each)")
        return self

    def as_dict(self) -> dict[str, Any]:
        d = self.model_dump(exclude_none=True)
        if "class_" in d:
            d["class"] = d.pop("class_")
        return d


class SourceConfig(StrictConfig):
    video: str | None = None  # path or glob of video files
    frames: str | None = None  # path or glob of image folders
    fps: float | None = Field(None, gt=0)  # frame rate of an image folder (else seqinfo.ini, else error)
    # label path or template: {stem} (file or folder name without suffix) and {dir} (the folder holding it:
    # for MOT's SEQ/img1 layout, labels: "{dir}/gt/gt.txt")
    labels: str | None = None
    labels_format: Literal[
        "auto", "mot", "coco", "yolo", "something_else", "cvat_video", "cvat_images", "youtube_vis", "labelme", "voc",
        "ava", "via", "mapping", "epic", "something_something", "activitynet", "youcook2", "charades",
        "none"] = "auto"
    classes: dict[int, str] = Field(default_factory=dict)
    frame_base: int | None = Field(None, ge=0)
    licence: str | None = None
    camera: str = Field("front", pattern=r"^[A-Za-z0-9_]+$")
    camera_kind: Literal["third_person", "wrist"] = "third_person"
    # Human language (sources/labels/segments.py): a caption for every clip of this source, a clip-label file
    # (Something-Something `[{id, label, template, placeholders}]` or {id: text}; template like `labels`), or a
    # segment file (EPIC-KITCHENS CSV; or `mapping:` segments) whose every segment becomes an episode
    caption: str | None = None
    captions: str | None = None
    segments: str | None = None
    segments_format: Literal["auto", "epic", "mapping", "activitynet", "youcook2", "charades", "via"] = "auto"
    segment_padding_s: float = Field(0.0, ge=0.0)
    segments_as: Literal["episodes", "subtasks"] = "episodes"  # subtasks: one episode, the segments its subtasks
    mapping: MappingConfig | None = None  # any other JSON/CSV schema, declared (sources/labels/mapping.py)
    # the episode's span in source seconds (default: the labeled frames' span); labels outside it are not errors
    start_s: float | None = Field(None, ge=0.0)
    end_s: float | None = Field(None, gt=0.0)
    split: SplitConfig | None = None  # long videos into episodes: max_s, shots, idle_s (sources/split.py)

    @model_validator(mode="after")
    def _one_media(self) -> SourceConfig:
        if (self.video is None) == (self.frames is None):
            raise ValueError("give exactly one of 'video' or 'frames'")
        # keys this kind of source would silently ignore: refused with the reason
        if self.video is not None and self.fps is not None:
            raise ValueError("fps: a video's frame rate is read from the file (fps: is for image folders); to "
                             "resample, set the recipe's top-level fps:")
        if self.mapping is not None and self.labels_format not in ("auto", "mapping"):
            raise ValueError(f"mapping: is read only with labels_format: mapping (or auto), not "
                             f"{self.labels_format}")
        if self.segments is None and self.labels is None and (
                self.segment_padding_s or self.segments_as != "episodes" or self.segments_format != "auto"):
            raise ValueError("segment_padding_s / segments_as / segments_format: this source has no segments or "
                             "labels file to read segments from")
        if self.labels is None and self.mapping is not None:
            raise ValueError("mapping: needs a labels: file or folder to read")
        if self.start_s is not None and self.end_s is not None and self.end_s <= self.start_s:
            raise ValueError(f"end_s ({self.end_s}) must be after start_s ({self.start_s})")
        return self


class Recipe(StrictConfig):
    kind: Literal["video"] = "video"  # `kind: text` recipes are the text track's (vla_builder.text)
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    sources: list[SourceConfig] = Field(min_length=1)
    actor: str | None = None  # class name whose motion is the action (else chosen and reported)
    fps: int | None = Field(None, gt=0, le=240)  # output fps (default: the first source's, rounded)
    # Episodes longer than this are cut into equal parts no longer than it (provenance: `segment`); null: no cap.
    # Why a cap: lerobot's `language_persistent` repeats an episode's motion rows on every frame (frames x rows,
    # quadratic in its length) and its writer buffers an episode whole; 120 s is twice lerobot-record's default
    # episode (60 s) and keeps a build's peak memory bounded whatever the video's length (BENCHMARKS.md, issue 12).
    max_episode_s: float | None = Field(120.0, gt=0)
    output: str = "out/dataset"
    data_root: str | None = None  # when set, every source and label path must resolve inside this folder
    image_size: tuple[int, int] = IMAGE_SIZE_HW  # (height, width) of the written camera; frames are letterboxed
    # decode backend (sources/video.py): auto = opencv, else pyav; nvdec = PyNvVideoCodec on a GPU. One asked for
    # that cannot decode a file fails that clip with the reason (no silent switch)
    decoder: Literal["auto", "opencv", "pyav", "decord", "nvdec"] = "auto"
    task: str | None = None  # override the generated task text
    seed: int = 0
    motion: MotionConfig = Field(default_factory=MotionConfig)
    tracks: TracksConfig = Field(default_factory=TracksConfig)
    detector: DetectorConfig | None = None
    video: VideoConfig = Field(default_factory=VideoConfig)
    runner: RunnerConfig = Field(default_factory=RunnerConfig)
    label_check: LabelCheckConfig = Field(default_factory=LabelCheckConfig)  # human labels vs the footage
    interactions: InteractionsConfig = Field(default_factory=InteractionsConfig)  # episode span, event thresholds
    fail_fast: bool = False

    @field_validator("image_size")
    @classmethod
    def _even_size(cls, v: tuple[int, int]) -> tuple[int, int]:
        if any(x < 16 or x > 4096 or x % 2 for x in v):
            raise ValueError("height and width must be even numbers in 16..4096 (video encoders need even sizes)")
        return v


class RecipeFile:
    """A track's recipe read from a file (image and text tracks): inputs are relative to its folder (`base`), the
    output defaults to out/<name>."""

    recipe: Any
    path: Path

    @property
    def base(self) -> Path:
        return self.path.parent

    @property
    def output(self) -> Path:
        return Path(self.recipe.output or f"out/{self.recipe.name}")


class LoadedRecipe:
    """A validated recipe plus its sources expanded into concrete `SourceSpec`s."""

    def __init__(self, recipe: Recipe, sources: list[SourceSpec], path: Path):
        self.recipe = recipe
        self.sources = sources
        self.path = path

    @property
    def detector_weights(self) -> Path | None:
        d = self.recipe.detector
        return (self.path.parent / d.weights) if d is not None else None

    @property
    def output(self) -> Path:
        # Output is relative to the working directory (what a user typing the command expects);
        # inputs are relative to the recipe file (so a recipe travels with its data).
        return Path(self.recipe.output)


def _set_dotted(data: dict, dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        node = node.setdefault(k, {})
        if not isinstance(node, dict):
            raise ValueError(f"--set {dotted}: '{k}' is not a mapping")
    node[keys[-1]] = value


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def read_recipe_data(path: Path, overrides: list[str] | None) -> tuple[dict, list[str]]:
    """YAML (data only) plus --set overrides -> (mapping, problems so far). Shared by the video and text tracks."""
    try:
        text = path.read_text()
    except OSError as e:
        raise RecipeError(path, [f"cannot read the recipe: {e.strerror or e}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise RecipeError(path, [f"not valid YAML: {e}"]) from None
    if not isinstance(data, dict):
        raise RecipeError(path, ["the recipe must be a mapping of keys (name, sources, ...)"])
    problems: list[str] = []
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            problems.append(f"--set {item!r}: expected key=value")
            continue
        try:
            _set_dotted(data, key, yaml.safe_load(raw))
        except (ValueError, yaml.YAMLError) as e:
            problems.append(str(e))
    return data, problems


def validation_problems(e: ValidationError) -> list[str]:
    """pydantic errors as 'key.path: message' lines."""
    out = []
    for err in e.errors():
        msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"].removeprefix("Value error, ")
        out.append(f"{_loc(err['loc']) or '(top level)'}: {msg}")
    return out


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> LoadedRecipe:
    path = Path(path)
    data, problems = read_recipe_data(path, overrides)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as e:
        raise RecipeError(path, problems + validation_problems(e)) from None
    if problems:
        raise RecipeError(path, problems)
    # absolute: a source path relative to where the build started means nothing to a Ray worker, which runs in
    # another folder (provenance and clip ids stay relative to the recipe's folder: build.recipe_relative)
    sources = expand_sources(recipe, path.absolute().parent, problems)
    if recipe.detector is not None and not (path.parent / recipe.detector.weights).is_file():
        problems.append(f"detector.weights: no such file: {path.parent / recipe.detector.weights} "
                        "(a local .pt file is required; nothing is downloaded)")
    if problems:
        raise RecipeError(path, problems)
    return LoadedRecipe(recipe, sources, path)


def _glob(base: Path, pattern: str) -> list[Path]:
    p = Path(pattern).expanduser()
    full = p if p.is_absolute() else base / p
    if glob.has_magic(str(full)):
        return sorted(Path(m) for m in glob.glob(str(full)))
    return [full] if full.exists() else []


def _read_seqinfo_fps(folder: Path) -> float | None:
    """MOTChallenge sequences carry their frame rate in SEQ/seqinfo.ini (frameRate=...)."""
    ini = folder.parent / "seqinfo.ini"
    if not ini.is_file():
        return None
    for line in ini.read_text(errors="replace").splitlines():
        key, _, value = line.partition("=")
        if key.strip().lower() == "framerate":
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _language_file(template: str | None, key: str, media: Path, base: Path, problems: list[str]) -> Path | None:
    """A caption / segment file path from its template ({stem}, {dir} as for labels), or None (problem noted)."""
    if template is None:
        return None
    try:
        rel = template.format(stem=media.stem, dir=os.path.relpath(media.parent, base))
    except (KeyError, IndexError, ValueError) as e:
        problems.append(f"{key}: bad template {template!r} (use {{stem}} or {{dir}}): {e}")
        return None
    path = Path(rel) if Path(rel).is_absolute() else base / rel
    if not path.is_file():
        problems.append(f"{key}: no such file: {path}")
        return None
    return path


def expand_sources(recipe: Recipe, base: Path, problems: list[str]) -> list[SourceSpec]:
    specs: list[SourceSpec] = []
    for i, src in enumerate(recipe.sources):
        key = "video" if src.video is not None else "frames"
        pattern = src.video or src.frames
        assert pattern is not None
        matches = _glob(base, pattern)
        if not matches:
            problems.append(f"sources[{i}].{key}: no such file or folder: {pattern} (relative to {base})")
            continue
        for media in matches:
            if key == "frames" and not media.is_dir():
                problems.append(f"sources[{i}].frames: not a folder: {media}")
                continue
            if key == "video" and not media.is_file():
                problems.append(f"sources[{i}].video: not a file: {media}")
                continue
            fps = src.fps
            if key == "frames" and fps is None:
                fps = _read_seqinfo_fps(media)
                if fps is None:
                    problems.append(f"sources[{i}].fps: required for image folder {media} (no seqinfo.ini)")
                    continue
            labels = None
            if src.labels is not None:
                try:
                    rel = src.labels.format(stem=media.stem, dir=os.path.relpath(media.parent, base))
                except (KeyError, IndexError, ValueError) as e:
                    problems.append(f"sources[{i}].labels: bad template {src.labels!r} (use {{stem}} or {{dir}}): {e}")
                    break
                label_path = Path(rel) if Path(rel).is_absolute() else base / rel
                if not label_path.exists():
                    problems.append(f"sources[{i}].labels: no such file or folder: {label_path}")
                    continue
                labels = label_path
            specs.append(
                SourceSpec(
                    video=media if key == "video" else None,
                    frames=media if key == "frames" else None,
                    frames_fps=fps if key == "frames" else None,
                    labels=labels,
                    labels_format=src.labels_format if labels is not None else "none",
                    classes=dict(src.classes),
                    frame_base=src.frame_base,
                    licence=src.licence,
                    camera=src.camera,
                    camera_kind=src.camera_kind,
                    data_root=(base / recipe.data_root) if recipe.data_root is not None else None,
                    caption=" ".join(src.caption.split()) if src.caption else None,
                    caption_origin=f"recipe#sources[{i}].caption" if src.caption else None,
                    segments=_language_file(src.segments, f"sources[{i}].segments", media, base, problems),
                    segments_format=src.segments_format,
                    segment_padding_s=src.segment_padding_s,
                    segments_as=src.segments_as,
                    mapping=src.mapping.as_dict() if src.mapping is not None else None,
                    captions=_language_file(src.captions, f"sources[{i}].captions", media, base, problems),
                    start_s=src.start_s,
                    end_s=src.end_s,
                    split=src.split.model_dump() if src.split is not None else None,
                )
            )
    cameras = {s.camera for s in specs}
    if len(cameras) > 1:
        problems.append(
            f"sources[*].camera: one camera per dataset for now, got {sorted(cameras)} (each source is one episode)"
        )
    return specs
