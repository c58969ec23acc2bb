"""Stage, Pipeline and the one per-clip adapter every runner calls.

A stage is a plain dataclass; its recipe parameters are one `StrictConfig` (config.py; a pydantic model defined in the stage's
own file, e.g. `MotionConfig` in `stages/motion.py`) that *is* the recipe's section of that name, so a setting is
declared, defaulted, validated and used in one file. `setup()` loads heavy state once per worker, `process(clip)`
returns a new clip. A stage declares what it needs and makes (Clip field names) and what it uses (CPU / GPU, from its
config alone: `resources_for(config)`), so a pipeline can be checked before it runs and a runner can ask for
resources, per group of stages (`Pipeline.groups`), without setting one up (no model loaded).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from typing import ClassVar

from vla_builder.types import Clip


@dataclass(frozen=True)
class Resources:
    """What one clip in a stage takes on a worker: CPU cores and GPUs (a fraction shares one GPU between clips)."""

    cpus: float = 1.0
    gpus: float = 0.0

    @staticmethod
    def enough_for(parts) -> Resources:
        """What stages run one after another on the same worker need: the most any of them asks for."""
        parts = list(parts)
        return Resources(cpus=max((r.cpus for r in parts), default=1.0), gpus=max((r.gpus for r in parts), default=0.0))


class Stage:
    name: ClassVar[str] = "stage"
    needs: ClassVar[tuple[str, ...]] = ()
    makes: ClassVar[tuple[str, ...]] = ()
    resources: ClassVar[Resources] = Resources()

    def setup(self) -> None:
        """Load heavy state (models, compiled kernels) once per worker."""

    def process(self, clip: Clip) -> Clip:
        raise NotImplementedError


@dataclass(frozen=True)
class Failure:
    """A clip that did not make it, as data: which file, which stage, why."""

    clip_id: str
    file: str
    stage: str
    reason: str
    detail: str = ""

    def to_json(self) -> dict:
        return {"clip_id": self.clip_id, "file": self.file, "stage": self.stage, "reason": self.reason,
                "detail": self.detail}


@dataclass
class ClipResult:
    clip: Clip | None
    failure: Failure | None
    seconds_by_stage: dict[str, float] = field(default_factory=dict)


class PipelineError(Exception):
    pass


class Pipeline:
    def __init__(self, stages: list[Stage]):
        self.stages = tuple(stages)
        self.check()

    def check(self) -> None:
        have = {"source"}
        problems = []
        for stage in self.stages:
            missing = [n for n in stage.needs if n not in have]
            if missing:
                problems.append(f"stage '{stage.name}' needs {missing}, which no earlier stage makes")
            have.update(stage.makes)
        if problems:
            raise PipelineError("; ".join(problems))

    def describe(self) -> str:
        return " -> ".join(f"{s.name}{'[gpu]' if s.resources.gpus else ''}" for s in self.stages)

    def setup(self) -> None:
        for stage in self.stages:
            stage.setup()

    def groups(self) -> list[tuple[int, int, Resources]]:
        """The stage ranges `[start, stop)` a runner may place on different workers, with what each needs.

        Two groups when a stage asks for a GPU: every stage up to the last GPU stage (decode and the stages that
        read its pixels stay in the process that decoded them), then the rest, on CPUs. One group otherwise."""
        gpu = [i for i, s in enumerate(self.stages) if s.resources.gpus > 0]
        cuts = [0, gpu[-1] + 1, len(self.stages)] if gpu and gpu[-1] + 1 < len(self.stages) else [0, len(self.stages)]
        return [(a, b, Resources.enough_for(s.resources for s in self.stages[a:b])) for a, b in zip(cuts, cuts[1:])]

    def run_clip(self, clip: Clip, start: int = 0, stop: int | None = None) -> ClipResult:
        """Run stages `[start, stop)` (all by default) on one clip; an exception becomes a Failure record, never a
        crash of the build."""
        timings: dict[str, float] = {}
        for stage in self.stages[start:stop]:
            t0 = time.perf_counter()
            try:
                clip = stage.process(clip)
            except Exception as e:  # noqa: BLE001 — any stage error is recorded as data
                file = getattr(e, "path", None) or str(clip.source.media)
                reason = getattr(e, "reason", None) or f"{type(e).__name__}: {e}"
                return ClipResult(None, Failure(clip.clip_id, file, stage.name, reason,
                                                traceback.format_exc(limit=6)), timings)
            finally:
                timings[stage.name] = time.perf_counter() - t0
        return ClipResult(clip, None, timings)
