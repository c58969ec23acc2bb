"""The unit of work every runner executes: one clip through the pipeline and into its own shard.

Pixels never leave the worker that decoded them: a task carries only the clip's description and the recipe; the
worker decodes, computes and writes its shard, and returns a small outcome (shard path or failure record). A runner
may split the stages into groups placed apart (`Pipeline.groups`: GPU stages where GPUs are, the rest and the
writer on CPUs): a `Handoff` then carries what was learnt from one group to the next, still without pixels.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from vla_builder.pipeline import Failure, Pipeline
from vla_builder.sinks.encode import ENCODE_TARGET
from vla_builder.sinks.lerobot import CLIP_RECORD, LeRobotSink, remove_tree
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
    worker: str = ""  # host:pid that wrote the shard (or failed it)
    peak_rss_mb: float = 0.0  # that worker process's peak resident memory so far
    cpu_s: float = 0.0  # CPU seconds the clip took in that worker (its encoder process included)
    # set by a runner, not a worker: the clip could not be run (its worker or node lost, retries spent). Not a
    # failure of the data: no failure record; the build stays unfinished and a rerun runs the clip again
    infrastructure: str | None = None
    retries: int = 0  # attempts lost to infrastructure before this outcome


@dataclass
class Handoff:
    """A clip between two stage groups (`Pipeline.groups`, the Ray runner): what its stages learnt so far. No
    pixels: streamed frames travel as their plan (`GridFrames` decodes the source again where needed) and the
    episode video as its file beside the shard; the decode stage's grey frames stay behind (motion has run)."""

    clip: Clip
    seconds_by_stage: dict[str, float]
    cpu_s: float = 0.0


def _pipeline_for(factory, start: int, stop: int | None) -> Pipeline:
    key = f"{factory.key()}[{start}:{stop}]"
    if key not in _PIPELINES:
        pipeline = factory()
        for stage in pipeline.stages[start:stop]:  # only this group's: a CPU worker loads no GPU model
            stage.setup()
        _PIPELINES[key] = pipeline
    return _PIPELINES[key]


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the encoder processes) so far."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def committed(task: ClipTask) -> int | None:
    """Frames of the clip's shard when it is already committed (a retried clip whose first worker was lost after
    the rename), else None."""
    record = task.shard_dir / "meta" / CLIP_RECORD
    return int(json.loads(record.read_text())["frames"]) if record.is_file() else None


def process_clip(task: ClipTask, start: int = 0, stop: int | None = None,
                 carried: Handoff | None = None) -> ClipOutcome | Handoff:
    """Stages `[start, stop)` of the clip's pipeline in this process — all of them by default (the local runner),
    then the shard. With `stop` short of the end, a `Handoff` for the group after (`carried` there)."""
    clip = carried.clip if carried is not None else task.clip
    timings = dict(carried.seconds_by_stage) if carried is not None else {}
    cpu0 = _cpu_s() - (carried.cpu_s if carried is not None else 0.0)

    def outcome(failure: Failure | None, frames: int = 0) -> ClipOutcome:
        return ClipOutcome(clip.clip_id, None if failure else task.shard_dir, failure, frames, timings,
                           f"{socket.gethostname()}:{os.getpid()}",
                           resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, _cpu_s() - cpu0)

    if (frames := committed(task)) is not None:
        return outcome(None, frames)
    try:
        pipeline = _pipeline_for(task.pipeline_factory, start, stop)
    except Exception as e:  # noqa: BLE001
        return outcome(Failure(clip.clip_id, str(clip.source.media), "setup", f"{type(e).__name__}: {e}",
                               traceback.format_exc(limit=6)))
    stop = len(pipeline.stages) if stop is None else stop
    # the decode stage encodes the episode video in its own pass, into a folder beside the shard (the sink takes the
    # file): the source is decoded once; the folder goes whatever happens to the clip, once its last group is done
    target = task.sink.encode_target(task.shard_dir)
    if start == 0:
        remove_tree(target.folder)  # leftovers of a killed build or a lost worker
    token = ENCODE_TARGET.set(target)
    handed_on = False
    try:
        result = pipeline.run_clip(clip, start, stop)
        timings.update(result.seconds_by_stage)
        if result.failure is not None:
            return outcome(result.failure)
        assert result.clip is not None
        t0 = time.perf_counter()
        try:
            if stop < len(pipeline.stages):
                getattr(result.clip.frames.rgb, "encoded", None)  # the encoder done: its file goes on, not the process
                handed_on = True
                return Handoff(result.clip, timings, _cpu_s() - cpu0)
            task.sink.write_shard(result.clip, task.shard_dir)
        except Exception as e:  # noqa: BLE001
            return outcome(Failure(clip.clip_id, str(clip.source.media), "sink", f"{type(e).__name__}: {e}",
                                   traceback.format_exc(limit=6)))
        timings["sink"] = time.perf_counter() - t0
    finally:
        ENCODE_TARGET.reset(token)
        if not handed_on:
            remove_tree(target.folder)
    return outcome(None, len(result.clip.frames))
