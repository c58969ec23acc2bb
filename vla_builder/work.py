"""The unit of work every runner executes: one clip through the pipeline and into its own shard.

Pixels never leave the worker that decoded them: a task carries only the clip's description and the recipe; the
worker decodes, computes and writes its shard, and returns a small outcome (shard path or failure record).
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from vla_builder.pipeline import Failure, Pipeline
from vla_builder.sinks.encode import ENCODE_TARGET
from vla_builder.sinks.lerobot import LeRobotSink, remove_tree
from vla_builder.types import Clip

_PIPELINES: dict[str, Pipeline] = {}  # one set-up pipeline per worker process (models and kernels load once)


@dataclass(frozen=True)
class ClipTask:
    clip: Clip
    shard_dir: Path
    pipeline_factory: object  # a picklable callable returning a Pipeline (see build.PipelineFactory)
    sink: LeRobotSink


@dataclass
class ClipOutcome:
    clip_id: str
    shard_dir: Path | None
    failure: Failure | None
    frames: int = 0
    seconds_by_stage: dict[str, float] = field(default_factory=dict)


def _pipeline_for(factory) -> Pipeline:
    key = factory.key()
    if key not in _PIPELINES:
        pipeline = factory()
        pipeline.setup()
        _PIPELINES[key] = pipeline
    return _PIPELINES[key]


def process_clip(task: ClipTask) -> ClipOutcome:
    clip = task.clip
    try:
        pipeline = _pipeline_for(task.pipeline_factory)
    except Exception as e:  # noqa: BLE001
        return ClipOutcome(clip.clip_id, None, Failure(clip.clip_id, str(clip.source.media), "setup",
                                                       f"{type(e).__name__}: {e}", traceback.format_exc(limit=6)))
    # the decode stage encodes the episode video in its own pass, into a folder beside the shard (the sink takes the
    # file): the source is decoded once; the folder goes whatever happens to the clip
    target = task.sink.encode_target(task.shard_dir)
    remove_tree(target.folder)  # leftovers of a killed build
    token = ENCODE_TARGET.set(target)
    try:
        result = pipeline.run_clip(clip)
        if result.failure is not None:
            return ClipOutcome(clip.clip_id, None, result.failure, 0, result.seconds_by_stage)
        assert result.clip is not None
        t0 = time.perf_counter()
        try:
            task.sink.write_shard(result.clip, task.shard_dir)
        except Exception as e:  # noqa: BLE001
            return ClipOutcome(clip.clip_id, None, Failure(clip.clip_id, str(clip.source.media), "sink",
                                                           f"{type(e).__name__}: {e}", traceback.format_exc(limit=6)),
                               0, result.seconds_by_stage)
    finally:
        ENCODE_TARGET.reset(token)
        remove_tree(target.folder)
    result.seconds_by_stage["sink"] = time.perf_counter() - t0
    return ClipOutcome(clip.clip_id, task.shard_dir, None, len(result.clip.frames), result.seconds_by_stage)
