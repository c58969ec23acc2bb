"""Image recipe (`kind: images`): YAML (`yaml.safe_load`) validated into typed config before any label is read.

Like the other tracks, every problem (unknown keys, wrong types, folders that do not exist, label paths that match
nothing) is gathered and raised once as a `RecipeError` listing each with its key path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from vla_builder.config import StrictConfig
from vla_builder.recipe import MappingConfig, RecipeError, RecipeFile, read_recipe_data, validation_problems

RECORD_KINDS = ("pointing", "referring", "spatial_vqa", "action")
# the label formats that describe still images (the video-only ones: mot, cvat_video, youtube_vis, ava, segments)
IMAGE_LABEL_FORMATS = ("auto", "coco", "voc", "labelme", "yolo", "cvat_images", "mapping")
Language = Literal["auto", "ko", "en"]


class ImageSourceConfig(StrictConfig):
    images: str  # folder of images, relative to the recipe file
    labels: str  # label file or folder (per-image VOC XML / LabelMe JSON / YOLO txt), relative to the recipe file
    labels_format: Literal[IMAGE_LABEL_FORMATS] = "auto"  # type: ignore[valid-type]
    mapping: MappingConfig | None = None  # any other JSON/CSV schema (AI Hub layouts): `frame:` names the image
    classes: dict[int, str] = Field(default_factory=dict)  # class id -> name (YOLO; or to rename COCO categories)
    frame_base: int | None = None  # the number of the first image in `frame:` / file names (default: the format's)
    language: Language | None = None  # overrides the recipe's `language` for this source
    # false: the labels name only some objects (e.g. Something-Else boxes only what the caption acts on), so no
    # count and no "nearest" question is asked, and the manifest says so (a phrase can still meet an unlabeled twin)
    exhaustive: bool = True
    licence: str | None = None

    @field_validator("images")
    @classmethod
    def _folder(cls, v: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base")
        if base is not None and not (base / v).is_dir():
            raise ValueError(f"no such folder: {v} (relative to {base})")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base")
        if base is not None and not (base / v).exists():
            raise ValueError(f"no such file or folder: {v} (relative to {base})")
        return v


class GroundingConfig(StrictConfig):
    """When a phrase or a relation is safe to state. Every threshold errs towards abstaining."""

    # an object smaller than this share of the image is never a target or an anchor (it still counts as a distractor)
    min_area_frac: float = Field(0.002, ge=0.0, lt=1.0)
    min_side_px: float = Field(8.0, ge=0.0)
    # a box cut by the image border must show at least this share of the image on its shorter side (a sliver of a
    # person at the edge is not something a viewer can pick out)
    min_border_side_frac: float = Field(0.03, ge=0.0, lt=1.0)
    # label attributes whose value may name an object ("the red mug" for `color: red`), tried before ordinals; an
    # attribute phrase is written only when every other object of the class states the attribute, differently
    phrase_attributes: list[str] = Field(default_factory=list)
    # ordinals and relations pick one of at most this many objects of a class: among a crowd of 50 pedestrians
    # "the leftmost" hinges on whoever the labeler skipped
    max_same_class: int = Field(4, ge=2)
    # two boxes whose IoU is above this are too entangled for left/right/above/below
    max_relation_iou: float = Field(0.3, ge=0.0, le=1.0)
    # "A left of B": A's right edge may pass B's left edge by at most this share of the narrower box's width
    max_relation_overlap: float = Field(0.25, ge=0.0, le=1.0)
    # nearest: the nearest object must be at most this share of the second nearest's distance away
    nearest_ratio: float = Field(0.7, gt=0.0, le=1.0)
    # target-location actions only for objects up to this share of the image (a couch is not picked up) ...
    action_max_area_frac: float = Field(0.2, gt=0.0, le=1.0)
    action_classes: list[str] | None = None  # ... or only these classes, when given
    # never "pick up" these (people and hands are not objects to grasp)
    action_exclude: list[str] = Field(default_factory=lambda: [
        "person", "people", "pedestrian", "static person", "rider", "hand", "face", "사람", "보행자", "손", "얼굴"])


class ImagesRecipe(StrictConfig):
    kind: Literal["images"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    sources: list[ImageSourceConfig] = Field(min_length=1)
    output: str | None = None  # default out/<name>, relative to the working directory (as for video and text)
    seed: int = 0  # picks the wording of each record; same seed -> byte-identical records
    format: Literal["jsonl", "parquet", "both"] = "both"
    language: Language = "auto"  # auto: Korean where the image's class names are mostly Hangul
    records: list[Literal[RECORD_KINDS]] = Field(default_factory=lambda: list(RECORD_KINDS))  # type: ignore
    max_records_per_image: int = Field(24, ge=1)
    # also write LeRobot single-frame episodes (pointing / action records) under OUT/lerobot (images/lerobot.py)
    lerobot: bool = False
    lerobot_image_size: tuple[int, int] = (224, 224)  # height, width of the letterboxed frame
    grounding: GroundingConfig = Field(default_factory=GroundingConfig)


@dataclass(frozen=True)
class LoadedImagesRecipe(RecipeFile):
    recipe: ImagesRecipe
    path: Path

    def resolve(self, relative: str) -> Path:
        p = Path(relative).expanduser()
        return p if p.is_absolute() else self.base / p

    def display(self, file: Path) -> str:
        """A file as named in records and manifest: relative to the recipe, so outputs do not embed tmp paths."""
        return Path(os.path.relpath(file, self.base)).as_posix()


def load_images_recipe(path: str | Path, overrides: list[str] | None = None) -> LoadedImagesRecipe:
    path = Path(path)
    data, problems = read_recipe_data(path, overrides)
    try:
        recipe = ImagesRecipe.model_validate(data, context={"base": path.parent})
    except ValidationError as e:
        raise RecipeError(path, problems + validation_problems(e)) from None
    if problems:
        raise RecipeError(path, problems)
    return LoadedImagesRecipe(recipe, path)
