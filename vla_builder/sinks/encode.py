"""Episode video encoding with PyAV, in a process of its own: every frame given is encoded, none is ever dropped.

lerobot 0.6.1's streaming encoder (`StreamingVideoEncoder.feed_frame`) waits 0.1 s for room in its queue and then
*drops the frame* with a warning — right for live recording, data loss for conversion (seen: 1-6 frames lost per
720p clip on a loaded 2-core machine, the build exiting 0). Here frames are written to the encoder process's pipe
(`encode_worker.py`): a full pipe makes the writer wait, so a slow encoder slows the build, it never shortens the
video. Codec options are lerobot's `RGBEncoderConfig`'s (`EncodeSettings` gives the same options without importing
lerobot; tests compare), so a video is encoded exactly as lerobot would encode it and `info.json` describes it the
same way. During a build the decode stage encodes in its own pass (`ENCODE_TARGET`).

`PreEncodedVideo` hands the finished file to lerobot's dataset writer in place of its streaming encoder, so the
writer's own code moves it into `videos/`, records its timestamps in the episodes metadata and its stats.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from vla_builder.config import StrictConfig
from vla_builder.sinks.encode_worker import END_OF_EPISODE


class VideoConfig(StrictConfig):
    """The recipe's `video:` section: how episode videos are encoded (lerobot's RGBEncoderConfig options)."""

    codec: Literal["libsvtav1", "h264", "hevc"] = "libsvtav1"
    crf: int = Field(30, ge=0, le=63)
    gop: int = Field(2, ge=1, le=600)  # keyframe spacing: small = fast random access in training
    # encoder speed preset: SVT-AV1 0-13 (None: lerobot's 12), x264/x265 names (ultrafast .. veryslow); BENCHMARKS.md
    preset: int | str | None = None


class EncodeError(Exception):
    pass


LIBSVTAV1_DEFAULT_PRESET = 12  # lerobot.configs.video's default (tests check it still is)


@dataclass(frozen=True)
class EncodeSettings:
    """The episode video's codec settings, turned into codec options exactly as lerobot's `RGBEncoderConfig` does
    (`tests/test_streaming.py` compares the two) without importing lerobot, which takes ~4 s: the decode stage
    encodes while lerobot is still being imported beside it."""

    vcodec: str = "libsvtav1"
    crf: int | float | None = 30
    g: int | None = 2
    preset: int | str | None = None
    pix_fmt: str = "yuv420p"
    fast_decode: int = 0  # lerobot's default

    def __post_init__(self) -> None:
        if self.preset is None and self.vcodec == "libsvtav1":
            object.__setattr__(self, "preset", LIBSVTAV1_DEFAULT_PRESET)

    @classmethod
    def from_config(cls, video: VideoConfig) -> EncodeSettings:
        return cls(vcodec=video.codec, crf=video.crf, g=video.gop, preset=video.preset)

    def get_codec_options(self, as_strings: bool = False) -> dict:
        """lerobot 0.6.1's `VideoEncoderConfig.get_codec_options` for the codecs a recipe may name (libsvtav1,
        h264, hevc), with its defaults (no encoder_threads, no extra options)."""
        if self.vcodec not in ("libsvtav1", "h264", "hevc"):
            raise EncodeError(f"codec {self.vcodec!r}: not one a recipe may name")
        pairs = [("g", self.g), ("crf", self.crf), ("preset", self.preset)]
        if self.vcodec == "libsvtav1":
            pairs.append(("svtav1-params", f"fast-decode={max(0, min(2, self.fast_decode))}"))
        elif self.fast_decode:
            pairs.append(("tune", "fastdecode"))
        return {key: str(value) if as_strings else value for key, value in pairs if value is not None}

    def lerobot_config(self):
        """The same settings as lerobot's RGBEncoderConfig (for its dataset writer and info.json)."""
        from lerobot.configs.video import RGBEncoderConfig

        return RGBEncoderConfig(vcodec=self.vcodec, crf=self.crf, g=self.g, preset=self.preset, pix_fmt=self.pix_fmt,
                                fast_decode=self.fast_decode)


@dataclass(frozen=True)
class EncodeTarget:
    """Where and how the clip in hand is encoded while the decode stage decodes it (set by `work.process_clip`
    around the pipeline): the sink then takes the file and never decodes the source again."""

    folder: Path
    settings: EncodeSettings
    image_size: tuple[int, int]  # (h, w) of the episode video: frames are letterboxed to it
    fps: int


# set by work.process_clip for the clip in hand; None: nothing is encoded early (the sink encodes, as before)
ENCODE_TARGET: ContextVar[EncodeTarget | None] = ContextVar("vla_encode_target", default=None)


def downsample_like_lerobot(img_chw: np.ndarray, target_size: int = 150, max_size_threshold: int = 300) -> np.ndarray:
    """lerobot.datasets.compute_stats.auto_downsample_height_width (tests compare), usable before lerobot loads."""
    _, height, width = img_chw.shape
    step = stats_step(height, width, target_size, max_size_threshold)
    return img_chw if step == 1 else img_chw[:, ::step, ::step]


@dataclass
class EncodeResult:
    path: Path
    frames: int
    stats: dict | None  # lerobot's per-channel image stats (RunningQuantileStats), None under 2 frames
    seconds: float
    settings: EncodeSettings | None = field(default=None, compare=False)  # what it was encoded with, if known


def encode_frames(frames: Iterable, path: Path, fps: int, encoder_config,
                  importing: threading.Thread | None = None, worker_stall_s: float = 0.0) -> EncodeResult:
    """Encode frames into `path`: RGB uint8 (H, W, 3) arrays, or `Yuv420Frame`s handed over unconverted.
    `encoder_config`: `EncodeSettings` or lerobot's RGBEncoderConfig (vcodec, pix_fmt, get_codec_options).

    The encoder runs in a process of its own (`encode_worker.py`), fed through a pipe: PyAV holds the interpreter
    lock while it encodes, which in-process stopped the decode and lerobot's import beside it. A full pipe makes
    this side wait, so a slow encoder slows the build and never loses a frame (`worker_stall_s` slows the worker,
    for tests). `importing`: a thread importing lerobot; until it ends nothing here imports lerobot (two threads
    importing at once can see half-initialized modules): the small copies the image stats need wait in a list.
    """
    return start_encode(frames, path, fps, encoder_config, importing, worker_stall_s).result()


def start_encode(frames: Iterable, path: Path, fps: int, encoder_config, importing: threading.Thread | None = None,
                 worker_stall_s: float = 0.0) -> PendingEncode:
    """`encode_frames` up to the last frame written: the encoder may still be working through the frames it holds
    (SVT-AV1 keeps a look-ahead of them), while the build goes on; `result()` waits for it."""
    return _write_to_worker(frames, path, fps, encoder_config, importing, worker_stall_s)


WORKER_SCRIPT = Path(__file__).with_name("encode_worker.py")
PIPE_BYTES = 1 << 20  # the pipe's buffer (Linux F_SETPIPE_SZ; default 64 KiB): fewer wake-ups per 1080p frame


# stats samples held while lerobot imports (1080p: 43 KB a frame, 480x640: 58 KB, 240p: 77 KB): 64 MiB is 800-1500
# frames. Past it the decode waits for the import; a cap of 256 frames made a 300-frame 1080p build stall there for
# 1.7-3 s (the encoder idle) wherever the import was slow (a loaded machine), BENCHMARKS.md issue 23
STATS_WAITING_BYTES = 64 << 20


class _ImageStats:
    """lerobot's per-channel image stats of the episode (RunningQuantileStats over its downsampled frames), fed a
    frame at a time; lerobot is imported only once `importing` (a thread importing it) has ended."""

    def __init__(self, importing: threading.Thread | None, max_waiting_bytes: int = STATS_WAITING_BYTES):
        self.importing = importing
        self.stats = None
        self.waiting: list[np.ndarray] = []  # small frames for the stats while lerobot is being imported
        self.waiting_bytes, self.max_waiting_bytes = 0, max_waiting_bytes

    def add(self, frame) -> None:
        # (N, 3) pixels in column-major order (each channel contiguous): lerobot's per-channel reductions over axis
        # 0 then run along memory, 3.5x faster (4.0 -> 1.1 ms a 640x480 frame) and with numpy's pairwise summation
        # (std ~30x closer to the exact value than row-major's running sums; the mean, min, max and quantiles
        # come out the same). BENCHMARKS.md, issue 23
        if isinstance(frame, np.ndarray):
            small = downsample_like_lerobot(frame.transpose(2, 0, 1))  # as lerobot's streaming encoder does
            pixels = small.reshape(small.shape[0], -1).T
        else:  # Yuv420Frame: the same pixels, converted at those pixels only
            pixels = frame.stats_pixels(stats_step(frame.height, frame.width))
        if self.stats is None and self.waiting_bytes >= self.max_waiting_bytes and self.importing is not None:
            self.importing.join()  # memory stays bounded: a long decode that outruns the import waits for it
        if self.stats is None and (self.importing is None or not self.importing.is_alive()):
            self.stats = _running_stats(self.waiting)
        if self.stats is None:
            self.waiting.append(pixels.copy(order="F"))  # a copy: a view would keep the whole frame alive
            self.waiting_bytes += pixels.nbytes
        else:
            self.stats.update(pixels)

    def result(self, n_frames: int) -> dict | None:
        if self.stats is None:
            self.stats = _running_stats(self.waiting)
        return self.stats.get_statistics() if n_frames >= 2 else None


def stats_step(height: int, width: int, target_size: int = 150, max_size_threshold: int = 300) -> int:
    """The pixel step of `downsample_like_lerobot` for a frame of this size (1: not downsampled)."""
    if max(width, height) < max_size_threshold:
        return 1
    return int(width / target_size) if width > height else int(height / target_size)


def _frame_format(frame) -> tuple[str, int, int]:
    if isinstance(frame, np.ndarray):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise EncodeError(f"frames must be RGB uint8 (H, W, 3), got {frame.dtype} {frame.shape}")
        return "rgb24", frame.shape[1], frame.shape[0]
    return "yuv420p", frame.width, frame.height


class PendingEncode:
    """Every frame written to the encoder process; `result()` waits for it to finish the file and checks it."""

    def __init__(self, proc, errors, path: Path, frames: int, stats: dict | None, started_s: float, settings):
        self._proc, self._errors = proc, errors
        self.path, self.frames, self.stats, self._started_s, self._settings = path, frames, stats, started_s, settings
        self._result: EncodeResult | None = None

    def result(self) -> EncodeResult:
        import json
        import time

        if self._result is not None:
            return self._result
        proc = self._proc
        try:
            said = proc.stdout.read()
            if proc.wait() != 0:
                raise EncodeError(f"{self.path}: the encoder failed: {_worker_said(self._errors, proc)}")
            written = int(json.loads(said)["frames"])
            if written != self.frames:
                raise EncodeError(f"{self.path}: {self.frames} frames given, the encoder wrote {written}")
        finally:
            _stop_worker(proc, self._errors)
        self._result = EncodeResult(self.path, self.frames, self.stats, time.perf_counter() - self._started_s,
                                    self._settings)
        return self._result


def _worker_said(errors, proc) -> str:
    errors.seek(0)
    text = errors.read().decode(errors="replace").strip()
    return text.splitlines()[-1] if text else f"exit status {proc.returncode}"


def _stop_worker(proc, errors) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
    errors.close()


def _write_to_worker(frames: Iterable, path: Path, fps: int, encoder_config,
                     importing: threading.Thread | None, stall_s: float) -> PendingEncode:
    import json
    import subprocess
    import sys
    import time

    t0 = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    stats = _ImageStats(importing)
    proc: subprocess.Popen | None = None
    errors = tempfile.TemporaryFile()  # the worker's messages (a file: a full stderr pipe could block it)
    n, fmt = 0, None
    try:
        # started before the first frame is decoded: the worker's interpreter and PyAV load (~0.3 s) while the
        # decoder opens the source; it waits for the header, which needs the first frame's format and size
        proc = subprocess.Popen([sys.executable, str(WORKER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=errors)
        _grow_pipe(proc.stdin)
        for frame in frames:
            this = _frame_format(frame)
            if fmt is None:
                fmt = this
                header = {"path": str(path), "fps": fps, "format": fmt[0], "width": fmt[1], "height": fmt[2],
                          "vcodec": encoder_config.vcodec, "pix_fmt": encoder_config.pix_fmt,
                          "options": encoder_config.get_codec_options(as_strings=True), "stall_s": stall_s}
                proc.stdin.write(json.dumps(header).encode() + b"\n")
            elif this != fmt:
                raise EncodeError(f"{path}: frame {n} is {this}, the first frame was {fmt}")
            data = frame.planes if fmt[0] == "yuv420p" else np.ascontiguousarray(frame)
            try:
                proc.stdin.write(memoryview(data).cast("B"))  # blocks while the encoder is behind
            except BrokenPipeError:
                proc.wait()
                raise EncodeError(f"{path}: the encoder stopped at frame {n}: {_worker_said(errors, proc)}") from None
            stats.add(frame)
            n += 1
        if fmt is None:
            raise EncodeError(f"{path}: no frame to encode")
        try:
            proc.stdin.write(END_OF_EPISODE)
            proc.stdin.close()
        except BrokenPipeError:
            pass
    except BaseException:
        _stop_worker(proc, errors)
        raise
    return PendingEncode(proc, errors, path, n, stats.result(n), t0,
                         encoder_config if isinstance(encoder_config, EncodeSettings) else None)


def _grow_pipe(pipe) -> None:
    import fcntl

    try:
        fcntl.fcntl(pipe.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:  # not Linux, or over /proc/sys/fs/pipe-max-size: the default size works, a little slower
        pass


def _running_stats(waiting: list[np.ndarray]):
    """lerobot's RunningQuantileStats, fed what waited for lerobot's import."""
    from lerobot.datasets.compute_stats import RunningQuantileStats

    stats = RunningQuantileStats()
    for pixels in waiting:
        stats.update(pixels)
    waiting.clear()
    return stats


def count_video_frames(path: Path) -> int:
    """Frames in the file's first video stream, counted from its packets (no decoding)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size > 0)


class PreEncodedVideo:
    """Stands in for lerobot's `StreamingVideoEncoder` inside its dataset writer: frames were encoded already
    (`encode_frames`); `feed_frame` only counts them and `finish_episode` hands over the file and its stats."""

    def __init__(self, results: dict[str, EncodeResult]):
        self.results = results
        self.fed: dict[str, int] = {}

    def start_episode(self, video_keys, temp_dir, depth_video_keys=None) -> None:
        missing = set(video_keys) - set(self.results)
        if missing:
            raise EncodeError(f"no encoded video for {sorted(missing)}")
        self.fed = dict.fromkeys(video_keys, 0)

    def feed_frame(self, video_key: str, image) -> None:
        self.fed[video_key] += 1

    def finish_episode(self) -> dict:
        out = {}
        for key, count in self.fed.items():
            result = self.results[key]
            if count != result.frames:
                raise EncodeError(f"{key}: {count} data rows but {result.frames} frames encoded")
            out[key] = (result.path, result.stats)
        return out

    def cancel_episode(self) -> None:
        pass

    def close(self) -> None:
        pass


def private_video_path(root: Path, key: str) -> Path:
    """A file in its own temporary folder under `root` (lerobot's writer removes the folder after moving it)."""
    root.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=root, prefix=".encode-")) / f"{key.replace('/', '_')}.mp4"
