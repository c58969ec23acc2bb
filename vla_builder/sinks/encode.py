"""Episode video encoding in-process with PyAV: every frame given is encoded, none is ever dropped.

lerobot 0.6.1's streaming encoder (`StreamingVideoEncoder.feed_frame`) waits 0.1 s for room in its queue and then
*drops the frame* with a warning — right for live recording, data loss for conversion (seen: 1-6 frames lost per
720p clip on a loaded 2-core machine, the build exiting 0). Here the producer (decode -> resize -> letterbox) runs in
a thread feeding a bounded queue with a *blocking* put, and the encoder takes every frame: a slow encoder slows the
build, it never shortens the video. Codec options are lerobot's `RGBEncoderConfig`'s (`EncodeSettings` gives the same
options without importing lerobot; tests compare), so a video is encoded exactly as lerobot would encode it and
`info.json` describes it the same way. During a build the decode stage encodes in its own pass (`ENCODE_TARGET`).

`PreEncodedVideo` hands the finished file to lerobot's dataset writer in place of its streaming encoder, so the
writer's own code moves it into `videos/`, records its timestamps in the episodes metadata and its stats.
"""

from __future__ import annotations

import queue
import tempfile
import threading
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from vla_builder.pipeline import StageConfig

QUEUE_FRAMES = 8  # frames decoded ahead of the encoder (memory: 8 x 6 MB at 1080p)


class VideoConfig(StageConfig):
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
    if max(width, height) < max_size_threshold:
        return img_chw
    factor = int(width / target_size) if width > height else int(height / target_size)
    return img_chw[:, ::factor, ::factor]


@dataclass
class EncodeResult:
    path: Path
    frames: int
    stats: dict | None  # lerobot's per-channel image stats (RunningQuantileStats), None under 2 frames
    seconds: float
    settings: EncodeSettings | None = field(default=None, compare=False)  # what it was encoded with, if known


def encode_frames(frames: Iterable[np.ndarray], path: Path, fps: int, encoder_config,
                  encode_frame: Callable | None = None, queue_frames: int = QUEUE_FRAMES,
                  importing: threading.Thread | None = None) -> EncodeResult:
    """Encode RGB uint8 (H, W, 3) frames into `path`. `encoder_config`: `EncodeSettings` or lerobot's
    RGBEncoderConfig (vcodec, pix_fmt, get_codec_options).

    `frames` is consumed in a producer thread (decode overlaps encode); the put into the queue blocks, so a frame
    waits for the encoder, never the reverse. `encode_frame(stream, frame)` replaces the codec call (tests slow it).
    `importing`: a thread importing lerobot; until it ends nothing here imports lerobot (two threads importing at
    once can see half-initialized modules): the small copies the image stats need wait in a list meanwhile.
    """
    import time

    import av

    t0 = time.perf_counter()
    q: queue.Queue = queue.Queue(maxsize=queue_frames)
    done = object()
    failure: list[BaseException] = []
    stop = threading.Event()

    def produce() -> None:
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.5)  # blocks while the encoder is behind: no frame is dropped
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as e:  # noqa: BLE001 — re-raised in the encoding thread below
            failure.append(e)
        finally:
            while True:
                try:
                    q.put(done, timeout=0.5)
                    break
                except queue.Full:
                    if stop.is_set():
                        return

    producer = threading.Thread(target=produce, name="vla-decode-ahead", daemon=True)
    producer.start()
    stats = None
    waiting: list[np.ndarray] = []  # small frames for the stats while lerobot is being imported
    n = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    container = None
    try:
        container = av.open(str(path), "w")
        stream = None
        while True:
            frame = q.get()
            if frame is done:
                break
            if stream is None:
                h, w = frame.shape[:2]
                stream = container.add_stream(encoder_config.vcodec, fps,
                                              options=encoder_config.get_codec_options(as_strings=True))
                stream.pix_fmt = encoder_config.pix_fmt
                stream.width, stream.height = w, h
                stream.time_base = Fraction(1, fps)
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = n
            video_frame.time_base = Fraction(1, fps)
            packets = encode_frame(stream, video_frame) if encode_frame is not None else stream.encode(video_frame)
            container.mux(packets)
            small = downsample_like_lerobot(frame.transpose(2, 0, 1))  # as lerobot's streaming encoder does
            pixels = small.transpose(1, 2, 0).reshape(-1, small.shape[0])
            if stats is None and (importing is None or not importing.is_alive()):
                stats = _running_stats(waiting)
            if stats is None:
                waiting.append(pixels.copy())  # a copy: a view would keep the whole frame alive
            else:
                stats.update(pixels)
            n += 1
        if failure:
            raise failure[0]
        if stream is None:
            raise EncodeError(f"{path}: no frame to encode")
        container.mux(stream.encode())  # flush
    finally:
        stop.set()
        if container is not None:
            container.close()
        producer.join(timeout=5)
    if stats is None:
        stats = _running_stats(waiting)
    return EncodeResult(path, n, stats.get_statistics() if n >= 2 else None, time.perf_counter() - t0,
                        encoder_config if isinstance(encoder_config, EncodeSettings) else None)


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
