"""The clip's frames as a sequence that is decoded again on each pass instead of held in memory.

A 1080p clip held decoded costs 6 MB a frame (a ten-minute video: tens of GB); decoding the file again costs a few
milliseconds a frame. `GridFrames` knows how to produce the grid (decoder, span, the sample -> source frame plan made
by the decode stage's first pass) and streams it: `for rgb in frames` decodes once more, holding one frame;
`frames[a:b]` walks forward from the last position; only a backward jump or `np.asarray(frames)` holds the whole clip.
Detect mode (batches walk forward), hand detection (one walk) and sparse-label propagation (grey frames made in one
walk, kept on disk) stream it too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_builder.sources.grid import grid_samples
from vla_builder.sources.video import DecodeError, FrameStream


class DiskFrames:
    """Small frames of one shape, appended to an unnamed file and read back by index: what a later stage needs from
    the decode pass (motion's grey frames, 57.6 KB a sample at 320x180) without memory growing with the clip's
    length (a 5-minute 30 fps clip: 0.5 GB on disk, not in RAM). Reads go through the page cache, not the process."""

    def __init__(self, folder: Path):
        import tempfile

        folder.mkdir(parents=True, exist_ok=True)
        self._file = tempfile.TemporaryFile(dir=folder)  # unnamed: gone when closed, or when the process ends
        self._shape: tuple[int, ...] | None = None
        self._bytes = 0
        self._n = 0

    def append(self, frame: np.ndarray) -> None:
        if self._shape is None:
            self._shape, self._bytes = frame.shape, frame.nbytes
        elif frame.shape != self._shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {self._n} is {frame.shape} {frame.dtype}, the first was {self._shape} uint8")
        self._file.seek(self._n * self._bytes)
        self._file.write(np.ascontiguousarray(frame, np.uint8).tobytes())
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, t):
        if isinstance(t, slice):
            return [self[i] for i in range(*t.indices(self._n))]
        t = int(t) + (self._n if t < 0 else 0)
        if not 0 <= t < self._n:
            raise IndexError(t)
        self._file.seek(t * self._bytes)
        return np.frombuffer(self._file.read(self._bytes), np.uint8).reshape(self._shape)

    def __iter__(self) -> Iterator[np.ndarray]:
        return (self[t] for t in range(self._n))


@dataclass(eq=False)
class GridFrames:
    open_stream: Callable[[], FrameStream]  # a fresh decode of the source, from its first frame
    transform: Callable[[np.ndarray], np.ndarray]  # source frame -> working-resolution frame
    source_index: np.ndarray  # (T,) the plan: source frame shown at each sample
    fps: int
    size_px: tuple[int, int]  # (w, h) of a transformed frame
    path: str
    span: tuple[int, int] | None = None
    time_span_s: tuple[float | None, float | None] | None = None
    passes: int = field(default=0, init=False)  # decode passes made (tests and the profile read it)
    # (EncodeTarget, PendingEncode | EncodeResult): the episode video encoded during the decode stage's pass
    _encoded: tuple | None = field(default=None, init=False, repr=False)

    @property
    def encoded(self) -> tuple | None:
        """(EncodeTarget, EncodeResult) of the video encoded during the decode stage's pass, for the sink to take.
        The encoder may still be finishing the file when the decode stage ends (the stages after it run beside
        it): this waits for it, and raises its error (naming the file) if it failed."""
        if self._encoded is not None and hasattr(self._encoded[1], "result"):
            self._encoded = (self._encoded[0], self._encoded[1].result())
        return self._encoded

    @encoded.setter
    def encoded(self, value: tuple | None) -> None:
        self._encoded = value

    def __getstate__(self) -> dict:
        """Sent to another process (the Ray runner's next stage group): the plan and the encoded file, not the open
        cursor nor the grey frames (an unnamed file of this process); pixels only if the clip was held whole."""
        state = self.__dict__.copy()
        state.update(_encoded=self.encoded, _grays={}, _cursor=None, _position=0)
        state.pop("_last", None)
        return state

    def __post_init__(self) -> None:
        self._grays: dict[int, list[np.ndarray]] = {}  # max_side_px -> small grey frames, one per sample
        self._cursor: Iterator[np.ndarray] | None = None
        self._position = 0  # sample the cursor yields next
        self._all: np.ndarray | None = None

    # -- array-like surface the stages use ------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int, int]:
        return (len(self.source_index), self.size_px[1], self.size_px[0], 3)

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __len__(self) -> int:
        return int(len(self.source_index))

    def __iter__(self) -> Iterator[np.ndarray]:
        if self._all is not None:
            yield from self._all
            return
        self.passes += 1
        n = len(self)
        done = 0
        cached: tuple[int, np.ndarray] | None = None  # a source frame shown at several samples is transformed once
        for done, (index, _pts, _start, rgb) in enumerate(
                grid_samples(self.open_stream(), self.fps, self.span, self.path, self.time_span_s), start=1):
            if done > n or index != self.source_index[done - 1]:
                raise DecodeError(self.path, f"decoding again gave a different frame sequence at sample {done - 1} "
                                  f"(source frame {index}, planned {self.source_index[min(done, n) - 1]})")
            if cached is None or cached[0] != index:
                cached = (index, self.transform(rgb))
            yield cached[1]
        if done != n:
            raise DecodeError(self.path, f"decoding again gave {done} samples where the first pass gave {n}")

    def __getitem__(self, key):
        if self._all is not None:
            return self._all[key]
        if isinstance(key, (int, np.integer)):
            t = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= t < len(self):
                raise IndexError(key)
            return self._seek(t)
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1 and start >= self._position - (1 if self._last is not None else 0):
                frames = [self._seek(t) for t in range(start, stop)]
                return np.stack(frames) if frames else np.zeros((0, *self.shape[1:]), np.uint8)
        return self._materialize()[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        arr = self._materialize()
        return arr if dtype is None else arr.astype(dtype)

    def grays(self, max_side_px: int) -> list[np.ndarray]:
        """Small grey frames (kernels.reference.to_gray of each frame), one per sample: kept from the decode stage's
        pass when it made them at this size (no decoding again), else made now in one pass and kept."""
        if max_side_px not in self._grays:
            import tempfile

            from vla_builder.kernels.reference import to_gray

            kept = DiskFrames(Path(tempfile.gettempdir()))  # on disk: a long clip's grey frames are not held
            for frame in self:
                kept.append(to_gray(frame, max_side_px))
            self._grays[max_side_px] = kept
        return self._grays[max_side_px]

    def keep_grays(self, max_side_px: int, grays) -> None:
        """Keep `grays` (a list, or `DiskFrames`), one per sample, for `grays(max_side_px)`."""
        if len(grays) != len(self):
            raise ValueError(f"{len(grays)} grey frames for {len(self)} samples")
        self._grays[max_side_px] = grays

    # -- internals --------------------------------------------------------------------------------------------------
    _last: np.ndarray | None = None

    def _seek(self, t: int) -> np.ndarray:
        if self._last is not None and t == self._position - 1:
            return self._last
        if self._cursor is None or t < self._position:
            if self._cursor is not None:  # a backward jump: hold the clip rather than decode it again and again
                return self._materialize()[t]
            self._cursor, self._position = iter(self), 0
        while self._position <= t:
            self._last = next(self._cursor)
            self._position += 1
        return self._last

    def _materialize(self) -> np.ndarray:
        if self._all is None:
            out = np.empty(self.shape, np.uint8)  # preallocated: no list + np.stack copy
            for t, frame in enumerate(self):
                out[t] = frame
            self._all = out
            self._cursor, self._last = None, None
        return self._all


class FramesWindow:
    """Samples [start, stop) of a streamed frame sequence (`GridFrames`), still streamed: iterating decodes the
    source once more and skips what lies outside the window."""

    dtype = np.dtype(np.uint8)
    ndim = 4

    def __init__(self, base, start: int, stop: int):
        self.base, self.start, self.stop = base, start, stop

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.stop - self.start, *tuple(self.base.shape[1:]))

    def __len__(self) -> int:
        return self.stop - self.start

    def __iter__(self):
        for t, rgb in enumerate(self.base):
            if t >= self.stop:
                break
            if t >= self.start:
                yield rgb

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            t = int(key) + (len(self) if key < 0 else 0)
            if not 0 <= t < len(self):
                raise IndexError(key)
            return self.base[self.start + t]
        if isinstance(key, slice):
            a, b, step = key.indices(len(self))
            return self.base[self.start + a : self.start + b : step]
        return np.asarray(self)[key]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        arr = np.asarray(self.base)[self.start : self.stop]
        return arr if dtype is None else arr.astype(dtype)
