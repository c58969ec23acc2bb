"""Text recipe: YAML (`yaml.safe_load`) validated into typed config before any record is read.

Like the video recipe, every problem — unknown keys, wrong types, paths that match no file, roles that do not fit
the task — is gathered and raised once as a `RecipeError` listing each with its key path.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from vla_builder.config import StrictConfig
from vla_builder.recipe import RecipeError, RecipeFile, read_recipe_data, validation_problems  # one error type for both tracks: the CLI reports them alike

# What each task reads from an input record; `fields` maps a role to the key (dotted for nested) in the input.
ROLES: dict[str, tuple[str, ...]] = {
    "qa": ("question", "context", "answer"), "classification": ("text", "label"),
    "multiple_choice": ("question", "choices", "answer"), "nli": ("premise", "hypothesis", "label"),
    "summarization": ("document", "summary")}
# Roles read when the record has them: QA's character offset and SQuAD v2's unanswerable flag, a passage for
# multiple choice. Unmapped, each reads the key of the same name.
OPTIONAL_ROLES: dict[str, tuple[str, ...]] = {
    "qa": ("answer_start", "impossible"), "multiple_choice": ("context",)}
OPTIONAL_DEFAULT_KEYS = {"impossible": "is_impossible"}
NLI_LABELS = ["entailment", "neutral", "contradiction"]  # KLUE / SNLI / MNLI order: integer labels index this
Language = Literal["auto", "ko", "en"]


def match_files(base: Path, pattern: str) -> list[Path]:
    """Files a source path names: a file or a glob, relative to the recipe file (a recipe travels with its data)."""
    p = Path(pattern).expanduser()
    full = p if p.is_absolute() else base / p
    found = [Path(m) for m in glob.glob(str(full))] if glob.has_magic(str(full)) else [full]
    return sorted(f for f in found if f.is_file())


class TextSourceConfig(StrictConfig):
    # Field order is validation order: the validators below read `task` (and `labels`) from earlier fields.
    task: Literal["qa", "classification", "multiple_choice", "nli", "summarization"]
    path: str  # input file or glob, relative to the recipe file
    # auto: .jsonl lines, .csv/.tsv rows, .json SQuAD/KorQuAD nesting (data/paragraphs/qas) or a list of objects
    layout: Literal["auto", "jsonl", "json", "csv", "tsv", "squad"] = "auto"
    language: Language | None = None  # overrides the recipe's `language` for this source
    index_base: Literal[0, 1] = 0  # multiple choice: an integer answer counts choices from 0 or from 1
    # QA: an answer whose sentence speaks to the question less than half as well as the best sentence is kept and
    # flagged for review (default: lack of support is no evidence against), or rejected
    weak_support: Literal["reject", "flag"] = "flag"
    # QA: what a rule's failure does, by rule name (vla_builder.text.rules_qa.ON_FAIL): reject the record (evidence
    # against the label) or keep it flagged for review (lack of evidence for it); unnamed rules keep their default
    on_fail: dict[str, Literal["reject", "flag"]] = Field(default_factory=dict)
    fields: dict[str, str] = Field(default_factory=dict, validate_default=True)  # role -> input key
    labels: list[str] | None = Field(None, validate_default=True)  # the label set (classification only)
    # Optional cue words per label (classification): quoted as evidence, and a label that contradicts every
    # cue found in its text is rejected.
    cues: dict[str, list[str]] = Field(default_factory=dict, validate_default=True)
    licence: str | None = None

    @field_validator("path")
    @classmethod
    def _matches_files(cls, v: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base")
        if base is not None and not match_files(base, v):
            raise ValueError(f"no such file: {v} (relative to {base})")
        return v

    @field_validator("fields")
    @classmethod
    def _known_roles(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        task = info.data.get("task")
        if task is None:  # the task itself is wrong; that is reported at its own key
            return v
        roles = ROLES[task] + OPTIONAL_ROLES.get(task, ())
        unknown = sorted(set(v) - set(roles))
        if unknown:
            raise ValueError(f"unknown role(s) {unknown} for task {task}; its roles are {list(roles)}")
        # unmapped roles read the key of the same name
        return {role: v.get(role, OPTIONAL_DEFAULT_KEYS.get(role, role)) for role in roles}

    @field_validator("on_fail")
    @classmethod
    def _known_rules(cls, v: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        if v and info.data.get("task") != "qa":
            raise ValueError("only for task qa")
        from vla_builder.text.rules_qa import ON_FAIL  # the rule table, imported only when a recipe names rules
        if unknown := sorted(set(v) - set(ON_FAIL)):
            raise ValueError(f"unknown rule(s) {unknown}; the QA rules are {sorted(ON_FAIL)}")
        return v

    @field_validator("labels")
    @classmethod
    def _label_set(cls, v: list[str] | None, info: ValidationInfo) -> list[str] | None:
        task = info.data.get("task")
        if task == "nli" and not v:
            v = list(NLI_LABELS)
        if task == "classification" and not v:
            raise ValueError("required for task classification: the list of allowed labels")
        if task in ("qa", "multiple_choice", "summarization") and v is not None:
            raise ValueError("only for tasks classification and nli (here the answer comes from the record)")
        if v and len(set(v)) != len(v):
            raise ValueError(f"labels repeat: {sorted({x for x in v if v.count(x) > 1})}")
        return v

    @field_validator("cues")
    @classmethod
    def _cue_labels(cls, v: dict[str, list[str]], info: ValidationInfo) -> dict[str, list[str]]:
        if v and info.data.get("task") != "classification":
            raise ValueError("only for task classification")
        labels = info.data.get("labels")
        if labels and (stray := sorted(set(v) - set(labels))):
            raise ValueError(f"cues for label(s) not in labels: {stray}")
        return v


class TextRecipe(StrictConfig):
    kind: Literal["text"]
    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    sources: list[TextSourceConfig] = Field(min_length=1)
    output: str | None = None  # default out/<name>, relative to the working directory (as for video)
    seed: int = 0  # picks the trace wording; same seed -> byte-identical records
    format: Literal["jsonl", "parquet", "both"] = "jsonl"  # records.jsonl and/or records.parquet
    language: Language = "auto"  # of the reasoning text: auto = each record's own (Korean if mostly Hangul)
    # Records a check flags for review (kept: no evidence against their label): written with the confirmed ones
    # (include, each with its verdict and reasons), or held apart in flagged.jsonl (exclude)
    flagged: Literal["include", "exclude"] = "include"


@dataclass(frozen=True)
class LoadedTextRecipe(RecipeFile):
    recipe: TextRecipe
    path: Path
    files: tuple[tuple[Path, ...], ...]  # per source, the files it matched (sorted: a stable record order)

    def display(self, file: Path) -> str:
        """A file as named in records and manifest: relative to the recipe, so outputs do not embed tmp paths."""
        return Path(os.path.relpath(file, self.base)).as_posix()


def load_text_recipe(path: str | Path, overrides: list[str] | None = None) -> LoadedTextRecipe:
    path = Path(path)
    data, problems = read_recipe_data(path, overrides)
    base = path.parent
    try:
        recipe = TextRecipe.model_validate(data, context={"base": base})
    except ValidationError as e:
        raise RecipeError(path, problems + validation_problems(e)) from None
    if problems:
        raise RecipeError(path, problems)
    files = tuple(tuple(match_files(base, s.path)) for s in recipe.sources)
    return LoadedTextRecipe(recipe, path, files)
