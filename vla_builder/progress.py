"""Progress on the terminal (tqdm, on stderr): clips or frames done, frames/s and ETA; off with --quiet or --json.

Log lines printed while a bar is shown go through `write` so they land above the bar instead of through it.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, desc: str, unit: str, enabled: bool = True):
        self.desc, self.unit, self.enabled = desc, unit, enabled
        self.bar = None
        self.frames = 0
        self.t0 = time.perf_counter()

    def write(self, message: str, file=None) -> None:
        """A log line (stdout unless told), printed above the bar (on stderr) rather than through it."""
        file = file or sys.stdout
        if self.bar is not None:
            self.bar.write(message, file=file)
        else:
            print(message, file=file, flush=True)

    def start(self, total: int, done: int = 0) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        # disable=False explicitly: the CLI sets TQDM_DISABLE=1 to silence libraries' own bars
        self.bar = tqdm(total=total + done, initial=done, desc=self.desc, unit=self.unit, file=sys.stderr,
                        disable=False, dynamic_ncols=True, mininterval=0.5, smoothing=0.1,
                        bar_format="{desc}: {n_fmt}/{total_fmt} {unit}s |{bar:20}| {elapsed}<{remaining} {postfix}")
        self.t0 = time.perf_counter()

    def add_frames(self, n: int) -> None:
        self.frames += n
        if self.bar is not None:
            done = "" if self.unit == "frame" else f"{self.frames} frames, "
            self.bar.set_postfix_str(f"{done}{self.fps():.1f} frames/s", refresh=False)

    def fps(self) -> float:
        return self.frames / max(1e-6, time.perf_counter() - self.t0)

    def advance(self, outcome=None, n: int = 1) -> None:
        """One unit done; a build's clip outcome also brings its frame count."""
        if outcome is None:
            self.add_frames(n if self.unit == "frame" else 0)
        elif getattr(outcome, "failure", None) is None:
            self.add_frames(int(getattr(outcome, "frames", 0) or 0))
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
