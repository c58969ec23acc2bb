"""The default runner: every clip in this process, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vla_builder.work import ClipOutcome, ClipTask, process_clip


class LocalRunner:
    name = "local"

    def run(self, tasks: Iterable[ClipTask], on_outcome: Callable[[ClipOutcome], bool]) -> None:
        """Run tasks in order; `on_outcome` returns False to stop (fail-fast)."""
        for task in tasks:
            if not on_outcome(process_clip(task)):
                return
