"""Ray runner: the same `process_clip` as the local runner, one Ray task per clip.

Each task decodes, computes and writes its own shard on the worker that runs it (pixels never travel through Ray's
object store; only the clip description goes out and a small outcome comes back). The driver merges shards in
source order, so the dataset does not depend on which task finished first. On a cluster, the output folder must be
on a filesystem every node sees (NFS, a mounted bucket): `--runner ray --set runner.address=ray://head:10001`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vla_builder.work import ClipOutcome, ClipTask, process_clip


class RayRunner:
    name = "ray"

    def __init__(self, address: str | None = None, num_workers: int = 2, max_in_flight: int | None = None):
        self.address = address
        self.num_workers = num_workers
        self.max_in_flight = max_in_flight or 4 * num_workers  # bounded: memory stays flat however many clips

    def run(self, tasks: Iterable[ClipTask], on_outcome: Callable[[ClipOutcome], bool]) -> None:
        import ray

        tasks = list(tasks)
        if not tasks:
            return
        started_here = not ray.is_initialized()
        if started_here:
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(num_cpus=self.num_workers, include_dashboard=False, log_to_driver=False)
        try:
            need = tasks[0].pipeline_factory.resources()  # from the configs: no pipeline is built on the driver
            remote = ray.remote(num_cpus=need.cpus, num_gpus=need.gpus, max_retries=0)(process_clip)
            queue = iter(tasks)
            in_flight = []
            for task in queue:
                in_flight.append(remote.remote(task))
                if len(in_flight) >= self.max_in_flight:
                    break
            while in_flight:
                ready, in_flight = ray.wait(in_flight, num_returns=1)
                if not on_outcome(ray.get(ready[0])):
                    for ref in in_flight:
                        ray.cancel(ref)
                    return
                nxt = next(queue, None)
                if nxt is not None:
                    in_flight.append(remote.remote(nxt))
        finally:
            if started_here:
                ray.shutdown()
