"""Ray runner: the same `process_clip` as the local runner, as Ray tasks placed by what the stages declare.

Each stage declares its resources (`Stage.resources`); `Pipeline.groups` cuts the stage list where a GPU stage ends:
one Ray task per clip and group, asking for that group's CPUs and GPUs (a fraction of a GPU with
`runner.clips_per_gpu`). Decode, detection and motion run together where a GPU is (they share the decoded frames,
which never leave that process); the stages after them and the shard writer run on CPUs. Only a `Handoff` (tracks,
motion, events: no pixels) goes through the object store between the two, once per clip. Without a GPU stage a clip
is one task.

Lost workers lose nothing: an attempt that dies with its worker or node (Ray's system errors: crashed or OOM-killed
worker, node died, object lost) is run again from its first group, after a back-off, up to `runner.max_retries`
times; the scheduler places it on the nodes still alive. Only errors of the data (a stage raising: caught inside
the task and returned as a `Failure`) become failure records. A clip whose retries are spent is reported as
infrastructure, not as a failure of its data, and the build stays unfinished: a rerun runs it again. Shards commit by
rename, so a rerun of a killed driver (or a retried clip whose first attempt had already committed) resumes from
them. The driver merges shards in source order: the dataset does not depend on which task finished first.

On a cluster, the output folder must be on a filesystem every node sees (NFS, a mounted bucket):
`--runner ray --set runner.address=ray://head:10001` (see README, "Running on a Ray cluster").
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from vla_builder.pipeline import Failure
from vla_builder.work import ClipOutcome, ClipTask, process_clip


def _first_group(task: ClipTask, stop: int) -> tuple[ClipOutcome | None, object]:
    """Group one of two: (outcome, None) when the clip ended here (a failure), else (None, handoff). Two returns, so
    the driver reads the small status and passes the handoff on by reference, without fetching it."""
    out = process_clip(task, 0, stop)
    return (out, None) if isinstance(out, ClipOutcome) else (None, out)


def _later_group(task: ClipTask, start: int, carried) -> ClipOutcome:
    return process_clip(task, start, None, carried)


@dataclass
class _Attempt:
    task: ClipTask
    retries: int = 0  # attempts lost so far
    reasons: list[str] = field(default_factory=list)


class RayRunner:
    name = "ray"

    def __init__(self, address: str | None = None, num_workers: int = 2, max_in_flight: int | None = None,
                 max_retries: int = 3, retry_backoff_s: float = 1.0, clips_per_gpu: int = 1, log=print):
        self.address = address
        self.num_workers = num_workers
        self.max_in_flight = max_in_flight or 4 * num_workers  # bounded: memory stays flat however many clips
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s  # doubled after each lost attempt of a clip, at most 60 s
        self.clips_per_gpu = clips_per_gpu
        self.log = log
        self.lost_attempts = 0  # attempts lost to infrastructure in the last run (all clips)

    def _init(self) -> bool:
        import ray

        if ray.is_initialized():
            return False
        if self.address:
            ray.init(address=self.address, log_to_driver=False)
        else:
            ray.init(num_cpus=self.num_workers, include_dashboard=False, log_to_driver=False)
        return True

    def remote_groups(self, factory) -> list:
        """One remote function per stage group, with the resources its stages declare (pipeline built, not set
        up: no model loads on the driver)."""
        import ray

        groups = factory().groups()
        out = []
        for i, (start, stop, need) in enumerate(groups):
            gpus = min(1.0, need.gpus / self.clips_per_gpu) if need.gpus else 0
            options = {"num_cpus": need.cpus, "num_gpus": gpus, "max_retries": 0}  # retries are ours (back-off)
            if len(groups) == 1:
                fn = ray.remote(process_clip).options(**options)
            elif i == 0:
                fn = ray.remote(_first_group).options(num_returns=2, **options)
            else:
                fn = ray.remote(_later_group).options(**options)
            out.append((start, stop, fn))
        return out

    def run(self, tasks: Iterable[ClipTask], on_outcome: Callable[[ClipOutcome], bool]) -> None:
        import ray

        tasks = list(tasks)
        self.lost_attempts = 0
        if not tasks:
            return
        started_here = self._init()
        try:
            self._run(tasks, on_outcome, self.remote_groups(tasks[0].pipeline_factory))
        finally:
            if started_here:
                ray.shutdown()

    def _run(self, tasks: list[ClipTask], on_outcome, groups) -> None:
        import ray
        from ray.exceptions import RayError, RayTaskError
        queue = iter(tasks)
        waiting: dict = {}  # ObjectRef -> (attempt, group index)
        retry_at: list = []  # heap of (due time, seq, attempt)
        seq = 0

        def submit(attempt: _Attempt, group: int = 0, carried=None) -> None:
            start, stop, fn = groups[group]
            if len(groups) == 1:
                ref = fn.remote(attempt.task)
            elif group == 0:
                ref, carried_ref = fn.remote(attempt.task, stop)
                waiting[ref] = (attempt, group, carried_ref)
                return
            else:
                ref = fn.remote(attempt.task, start, carried)
            waiting[ref] = (attempt, group, None)

        def in_flight() -> int:
            return len(waiting) + len(retry_at)

        def fill() -> None:
            while in_flight() < self.max_in_flight:
                task = next(queue, None)
                if task is None:
                    return
                submit(_Attempt(task))

        def finish(attempt: _Attempt, outcome: ClipOutcome) -> bool:
            outcome.retries = attempt.retries
            return on_outcome(outcome)

        fill()
        while waiting or retry_at:
            now = time.monotonic()
            while retry_at and retry_at[0][0] <= now:
                submit(heapq.heappop(retry_at)[2])
            if not waiting:
                time.sleep(max(0.0, retry_at[0][0] - now))
                continue
            timeout = max(0.0, retry_at[0][0] - now) if retry_at else None
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=timeout)
            if not ready:
                continue
            attempt, group, carried_ref = waiting.pop(ready[0])
            clip = attempt.task.clip
            try:
                value = ray.get(ready[0])
            except RayTaskError as e:  # our code raised outside the per-stage guard: the clip's own problem
                keep_going = finish(attempt, ClipOutcome(clip.clip_id, None, Failure(
                    clip.clip_id, str(clip.source.media), "worker", f"{type(e.cause).__name__}: {e.cause}",
                    str(e)[-2000:])))
            except RayError as e:  # the rest are the cluster's: worker crashed or OOM-killed, node died, object lost
                self.lost_attempts += 1
                attempt.retries += 1
                attempt.reasons.append(type(e).__name__)
                if attempt.retries <= self.max_retries:
                    delay = min(60.0, self.retry_backoff_s * 2 ** (attempt.retries - 1))
                    self.log(f"  lost   {clip.clip_id} ({type(e).__name__}): retry {attempt.retries}/"
                             f"{self.max_retries} in {delay:.1f} s")
                    seq += 1
                    heapq.heappush(retry_at, (time.monotonic() + delay, seq, attempt))
                    continue
                keep_going = finish(attempt, ClipOutcome(
                    clip.clip_id, None, None, infrastructure=f"{attempt.retries} attempts lost: "
                    + ", ".join(attempt.reasons)))
            else:
                if group == 0 and len(groups) > 1 and value is None:  # group one done: the handoff goes on
                    submit(attempt, 1, carried_ref)
                    continue
                keep_going = finish(attempt, value)
            if not keep_going:
                for ref in waiting:
                    ray.cancel(ref)
                return
            fill()
