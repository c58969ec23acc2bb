"""Runners run `process_clip` over clips: `local` (in-process, default) and `ray` (a cluster)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vla_builder.config import StrictConfig


class RunnerConfig(StrictConfig):
    """The recipe's `runner:` section."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = None  # ray: ray://HEAD:10001 (None: a local Ray started for this build)
    num_workers: int = Field(2, ge=1)
