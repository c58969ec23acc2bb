"""What the three tracks' builds share: the report every build returns, its exit code, and how the image and text
tracks claim and write their output folder.

The video (`build.BuildReport`), image (`images.build.ImagesReport`) and text (`text.build.TextReport`) reports each
add their own counts and problem records (failures.jsonl, problems.jsonl, rejects.jsonl: each naming its file and
the problem) to `TrackReport`; the exit code follows from them the same way on every track. Light on purpose (no
pipeline, no lerobot): the image and text tracks import it without the video stack.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vla_builder.recipe import RecipeError

EXIT_OK, EXIT_NOTHING_BUILT, EXIT_BAD_RECIPE, EXIT_PARTIAL = 0, 1, 2, 3


@dataclass
class TrackReport:
    """Where a build wrote and how long it took; a track's report says what it built and whether anything failed."""

    output: Path
    wall_s: float = 0.0

    @property
    def built(self) -> int:
        """Episodes or records in the dataset (0: nothing built)."""
        raise NotImplementedError

    @property
    def partial(self) -> bool:
        """Some input failed (the rest was built)."""
        raise NotImplementedError

    @property
    def exit_code(self) -> int:
        if not self.built:
            return EXIT_NOTHING_BUILT
        return EXIT_PARTIAL if self.partial else EXIT_OK


@dataclass
class RecordsReport(TrackReport):
    """A record track's build (images, text): the records it wrote; its problem records say what it could not use."""

    records: int = 0

    @property
    def built(self) -> int:
        return self.records


class OutputRefused(Exception):
    """The output folder is not one this track may write into (exit 2, nothing written)."""


def claim_output(output: Path, kind: str, track: str) -> None:
    """Refuse to write into a folder that is not ours (a wrong --output must not clobber someone's files): it must
    be absent, empty, or hold a manifest.json of this `kind` of build."""
    if output.exists() and not output.is_dir():
        raise OutputRefused(f"output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()):
        try:
            ours = json.loads((output / "manifest.json").read_text()).get("kind") == kind
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise OutputRefused(f"output {output} is not empty and holds no {track} manifest.json; "
                                "choose another --output")


def jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def write_files(folder: Path, files: list[tuple[str, str]]) -> None:
    """Each (name, text) written to a temporary name and renamed into place, in order: the caller puts the manifest
    last, so its presence marks a finished build."""
    for name, text in files:
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, folder / name)


def load_and_build(load: Callable[[], Any], build: Callable[[Any], TrackReport]) -> TrackReport | int:
    """A track's CLI build: the report, or EXIT_BAD_RECIPE after `error: ...` on stderr when the recipe or the output
    folder is refused."""
    try:
        return build(load())
    except (RecipeError, OutputRefused) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_RECIPE


def print_first(lines: list[str], more: str = "") -> None:
    """The first ten problem lines, then how many more there are (`more`: where they are)."""
    for line in lines[:10]:
        print(f"  {line}")
    if len(lines) > 10:
        print(f"  ... and {len(lines) - 10} more{more}")
