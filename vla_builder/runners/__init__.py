"""Runners run `process_clip` over clips: `local` (in-process, default) and `ray` (a cluster)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from vla_builder.config import StrictConfig


class RunnerConfig(StrictConfig):
    """The recipe's `runner:` section."""

    kind: Literal["local", "ray"] = "local"
    address: str | None = None  # ray: ray://HEAD:10001 (None: a local Ray started for this build)
    num_workers: int = Field(2, ge=1)  # ray without an address: CPUs of the local Ray (clips at once)
    max_retries: int = Field(3, ge=0)  # ray: runs of a clip lost with its worker or node before it is given up
    retry_backoff_s: float = Field(1.0, ge=0)  # ray: wait before the first retry of a clip, doubled each time
    clips_per_gpu: int = Field(1, ge=1)  # ray: clips sharing one GPU (its GPU stages ask for 1/clips_per_gpu)
