"""Video and image-sequence decoding behind one interface.

Every backend yields `(source_index, pts_s, rgb)` in presentation order, with frames in *display orientation*
(rotation metadata applied) so that all backends agree on shape and pixels. PyAV probes every file (it reads
every container we meet and reports codec, rotation and stream count); the decoder is then chosen by capability:

| backend | strengths                                   | cannot                                  |
|---------|---------------------------------------------|-----------------------------------------|
| opencv  | fast CPU decode, applies rotation itself    | AV1 in the pip wheel (decodes 0 frames) |
| pyav    | every codec incl. AV1, exact pts            | rotation (we apply it from metadata)    |
| decord  | fast seeking                                | AV1; picks the largest of several video streams |
| nvdec   | GPU decode (PyNvVideoCodec), see gpu_decode | AV1 on H100, 4:4:4                      |
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from vla_builder.sources.gpu_decode import NvdecDecoder
from vla_builder.sources.yuv import Yuv420Frame, yuv_scaler
from vla_builder.types import VideoInfo

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
FrameStream = Iterator[tuple[int, float, np.ndarray]]


class DecodeError(Exception):
    """A source that cannot be decoded: names the file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def probe(path: Path) -> VideoInfo:
    if not path.is_file():
        raise DecodeError(path, "no such file")
    stat = path.stat()
    if stat.st_size == 0:
        raise DecodeError(path, "empty file (0 bytes)")
    # a build probes each source several times (plan, label checks, probe stage, report), each opening the file and
    # decoding a frame: once per file version (any path spelling) is enough; the info keeps the caller's path
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    info = _PROBED.get(key)
    if info is None:
        info = _probe_file(path)  # errors are not kept: a file that fails is opened again next time
        if len(_PROBED) >= 256:
            _PROBED.clear()
        _PROBED[key] = info
    return info if info.path == path else replace(info, path=path)


_PROBED: dict[tuple[str, int, int], VideoInfo] = {}  # (resolved path, size, mtime) -> what probing it told


def _probe_file(path: Path) -> VideoInfo:
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError(path, "no video stream in the container")
            stream = container.streams.video[0]
            ctx = stream.codec_context
            rate = stream.average_rate or stream.guessed_rate or stream.base_rate
            fps = float(rate) if rate else 0.0
            rotation = _stream_rotation(container, stream)
            w, h = int(ctx.width), int(ctx.height)
            if w <= 0 or h <= 0:
                raise DecodeError(path, f"invalid frame size {w}x{h}")
            if rotation % 180:
                w, h = h, w
            duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else None
            return VideoInfo(
                path=path,
                width_px=w,
                height_px=h,
                fps=fps,
                n_frames=int(stream.frames) or None,
                codec=str(ctx.name),
                pix_fmt=str(ctx.pix_fmt or ""),
                rotation_deg=rotation,
                n_video_streams=len(container.streams.video),
                duration_s=duration,
            )
    except DecodeError:
        raise
    except Exception as e:  # PyAV raises many error types for broken files
        raise DecodeError(path, f"cannot open as video ({type(e).__name__}: {e})") from None


def _stream_rotation(container, stream) -> int:
    """Clockwise degrees to rotate coded frames for display (0, 90, 180, 270)."""
    # The display matrix is exposed on decoded frames (frame.rotation, counter-clockwise degrees).
    try:
        for frame in container.decode(stream):
            rot = int(round(getattr(frame, "rotation", 0) or 0))
            container.seek(0)
            return (-rot) % 360
    except Exception:
        pass
    return 0


def _rotate(rgb: np.ndarray, rotation_deg: int) -> np.ndarray:
    if rotation_deg == 0:
        return rgb
    return np.ascontiguousarray(np.rot90(rgb, k=-(rotation_deg // 90)))


# -- seeking: start decoding near a piece of a long video, with the source frame index a decode from frame 0 gives --
#
# Labels are indexed by source frame, so after a seek the index must be exact. The container's packets (demuxed, not
# decoded: ~0.6 s for a 60-minute 240p file) give every frame's pts; the frame of rank k in pts order is the k-th a
# decode from frame 0 yields when every packet decodes to exactly one frame. That is taken as proven only for
# constant-frame-rate streams of codecs that decode one frame per packet, whose pts are all on the probe's 1/fps
# grid, with no packet the demuxer marks for discarding, and whose first decoded frame is the first packet's;
# everything else (VFR, AVI's placeholder frames, edit lists that drop frames) decodes from frame 0 as before. A
# seek must land on the keyframe the table names, and every frame decoded from there to the start must be the
# table's next one (pts equal to the tick); else the stream is decoded from frame 0.
SEEK_ENV = "VLA_BUILDER_SEEK"  # "0": never seek (every decode starts at frame 0, as before seeking existed)
SEEK_CODECS = {"h264", "hevc", "vp9", "av1", "libdav1d"}  # one decoded frame per packet
SEEKS: dict[str, int] = {}  # "<backend> seek" / "<backend> linear" -> streams opened that way (tests, profile)


def _count(how: str) -> None:
    SEEKS[how] = SEEKS.get(how, 0) + 1


def seeking_enabled() -> bool:
    import os

    return os.environ.get(SEEK_ENV, "1").strip().lower() not in {"0", "false", "no", "off"}


@dataclass(frozen=True)
class FrameTable:
    """Every frame of the first video stream in presentation order: pts (ticks of `time_base`) and keyframes."""

    time_base: float
    pts: np.ndarray  # (N,) int64, strictly increasing: rank k = source frame index k
    key_ranks: np.ndarray  # (K,) ranks of the keyframes, increasing

    def start_rank(self, start_s: float | None = None, start_index: int | None = None) -> int:
        """The first frame to yield: the first at or after `start_s` (source seconds), or `start_index`."""
        if start_index is not None:
            return max(0, int(start_index))
        return int(np.searchsorted(self.pts * self.time_base, float(start_s), side="left"))

    def key_rank_before(self, rank: int) -> int:
        """The last keyframe at or before `rank` (0 when none)."""
        at = int(np.searchsorted(self.key_ranks, min(rank, len(self.pts) - 1), side="right")) - 1
        return int(self.key_ranks[at]) if at >= 0 else 0


def frame_table(info: VideoInfo) -> tuple[FrameTable | None, str]:
    """(table, "") when seeks into this file can be made exact, else (None, why not). Cached per file version."""
    st = info.path.stat()
    return _frame_table(str(info.path), st.st_mtime_ns, st.st_size, info.codec, float(info.fps))


@lru_cache(maxsize=16)
def _frame_table(path: str, _mtime_ns: int, _size: int, codec: str, fps: float) -> tuple[FrameTable | None, str]:
    import av

    if codec not in SEEK_CODECS:
        return None, f"codec {codec} is not known to decode one frame per packet"
    if fps <= 0:
        return None, "no frame rate"
    try:
        with av.open(path) as container:
            if container.format.name == "avi":
                return None, "AVI (placeholder packets decode to no frame)"
            stream = container.streams.video[0]
            time_base = float(stream.time_base or 0)
            pts, keys = [], []
            for packet in container.demux(stream):
                if packet.pts is None and packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                if packet.pts is None:
                    return None, "a packet without pts"
                if packet.is_discard:
                    return None, "a packet the demuxer marks for discarding (its frame is not shown)"
                pts.append(packet.pts)
                keys.append(packet.is_keyframe)
        with av.open(path) as container:  # afresh, as a decode from frame 0 opens it
            first_decoded = next(iter(container.decode(container.streams.video[0])), None)
    except Exception as e:  # an unreadable file: no seeking; the linear decode reports it
        return None, f"cannot demux ({type(e).__name__})"
    if len(pts) < 2 or time_base <= 0:
        return None, "fewer than 2 frames"
    order = np.argsort(np.asarray(pts, np.int64), kind="stable")
    ticks = np.asarray(pts, np.int64)[order]
    if (np.diff(ticks) <= 0).any():
        return None, "two frames share a pts"
    # constant frame rate: every pts on the probe's 1/fps grid within one tick (containers round to their time base)
    if time_base > 0.25 / fps:
        return None, f"time base {time_base} too coarse for {fps} fps"
    grid = ticks[0] + np.arange(len(ticks)) / (fps * time_base)
    if np.abs(ticks - grid).max() > 1.0 + 1e-6:
        return None, "variable frame rate (pts off the 1/fps grid)"
    if first_decoded is None or first_decoded.pts != ticks[0]:
        return None, "the first decoded frame is not the first packet's (frames dropped at the start)"
    key_ranks = np.flatnonzero(np.asarray(keys, bool)[order])
    return FrameTable(time_base, ticks, key_ranks), ""


def _seek_plan(info: VideoInfo, start_s: float | None, start_index: int | None
               ) -> tuple[FrameTable, int, int] | None:
    """(table, keyframe rank to seek to, first rank to yield), or None: decode from frame 0."""
    if (start_s is None and start_index is None) or not seeking_enabled():
        return None
    if start_index == 0 or (start_index is None and start_s <= 0):
        return None  # a first piece: nothing to skip (and no packet table to read)
    table, _why = frame_table(info)
    if table is None:
        return None
    start = table.start_rank(start_s, start_index)
    key = table.key_rank_before(start)
    return (table, key, start) if key > 0 else None


def _pyav_item(frame, index: int, first: int, info: VideoInfo, pixels: bool, yuv: bool, scale=None):
    """(index, pts, frame) as the PyAV decoder yields it; with pixels=False only the first yielded (`first`) has
    pixels, the others None. yuv: a `Yuv420Frame`, of `scale(frame)` where given."""
    pts = float(frame.time) if frame.time is not None else index / max(info.fps, 1e-9)
    if not pixels and index > first:
        return index, pts, None
    if yuv:
        return index, pts, Yuv420Frame((scale(frame) if scale else frame).to_ndarray(format="yuv420p"))
    return index, pts, _rotate(frame.to_ndarray(format="rgb24"), info.rotation_deg)


@dataclass
class PyAVDecoder:
    name: str = "pyav"

    def can_decode(self, info: VideoInfo) -> str | None:
        return None

    skips_pixels = True  # frames(pixels=False): decoded and timed, not converted (a plan pass)
    seeks = True  # frames(start_s=..., start_index=...): starts near there (see FrameTable)

    def frames(self, info: VideoInfo, pixels: bool = True, yuv: bool = False, start_s: float | None = None,
               start_index: int | None = None, yuv_size_px: tuple[int, int] | None = None) -> FrameStream:
        """pixels=False: every frame is decoded (so errors show) but only the first yielded is converted to RGB;
        the others are yielded as None (for passes that need timestamps only). yuv=True: frames are yielded
        unconverted as `Yuv420Frame` (yuv420p sources without rotation only: `can_pass_yuv`), scaled by swscale to
        `yuv_size_px` (w, h) where given.

        start_s / start_index: only frames at or after this source time / index are needed. Where the file allows
        an exact seek (`frame_table`) decoding starts at the keyframe before it and yields, from the first frame at
        or after it, the same (index, pts, pixels) as a decode from frame 0; else it decodes from frame 0 (and
        yields the frames before the start too)."""
        plan = _seek_plan(info, start_s, start_index)
        if plan is not None:
            landed = [False]
            yield from self._seeked(info, pixels, yuv, plan, landed, yuv_size_px)
            if landed[0]:
                return
            _count("pyav seek failed")  # not where the table said: nothing was yielded, decode from frame 0
        _count("pyav linear")
        yield from self._linear(info, pixels, yuv, yuv_size_px)

    def _seeked(self, info: VideoInfo, pixels: bool, yuv: bool, plan: tuple[FrameTable, int, int],
                landed: list[bool], yuv_size_px: tuple[int, int] | None = None) -> FrameStream:
        """Seek to the plan's keyframe; check every frame from it to the start against the table (pts equal to
        the tick) before yielding anything; `landed[0]` says whether it did. Yields nothing if the check fails."""
        import av

        table, key, start = plan
        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            rank = key
            try:
                container.seek(int(table.pts[key]), stream=stream, backward=True, any_frame=False)
                frames = container.decode(stream)
                for frame in frames:
                    if frame.pts is not None and frame.pts < table.pts[key]:
                        continue  # an open GOP's leading frames, or a landing before the keyframe: not needed
                    if rank >= len(table.pts) or frame.pts != table.pts[rank]:
                        return  # not the frame the table says: the index would be wrong
                    if rank >= start:
                        landed[0] = True
                        _count("pyav seek")
                        break
                    rank += 1
                else:  # the stream ended before the start (a start past the end): same as from frame 0
                    landed[0] = rank == len(table.pts)
                    if landed[0]:
                        _count("pyav seek")
                    return
            except av.error.FFmpegError:
                return  # decode from frame 0, which reports the error as it always has
            index, scale = rank, yuv_scaler(info, yuv_size_px) if yuv else None
            try:
                while frame is not None:
                    yield _pyav_item(frame, index, rank, info, pixels, yuv, scale)
                    index += 1
                    frame = next(frames, None)
            except av.error.FFmpegError:
                pass  # a truncated tail: keep what decoded, as a decode from frame 0 does

    def _linear(self, info: VideoInfo, pixels: bool, yuv: bool,
                yuv_size_px: tuple[int, int] | None = None) -> FrameStream:
        import av

        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            index, scale = 0, yuv_scaler(info, yuv_size_px) if yuv else None
            try:
                for frame in container.decode(stream):
                    yield _pyav_item(frame, index, 0, info, pixels, yuv, scale)
                    index += 1
            except av.error.FFmpegError as e:
                if index == 0:
                    raise DecodeError(info.path, f"pyav: decoding failed at frame 0 ({e})") from None
                # a truncated tail: keep what decoded (the caller checks the span it needs)


@dataclass
class OpenCVDecoder:
    name: str = "opencv"

    def can_decode(self, info: VideoInfo) -> str | None:
        if info.codec in {"av1", "libdav1d", "libaom-av1"}:
            return "the OpenCV wheel has no AV1 decoder"
        return None

    skips_pixels = True
    seeks = True

    # OpenCV reports a frame's time as the table's plus a constant (0, or e.g. 7 ms in a Matroska file with a
    # codec delay): measured on the first frame, then every frame after the seek must match within this
    _MATCH_S = 1e-6

    def frames(self, info: VideoInfo, pixels: bool = True, start_s: float | None = None,
               start_index: int | None = None) -> FrameStream:
        """pixels=False: frames after the first yielded are grabbed (decoded, not converted) and yielded as None.
        start_s / start_index: as `PyAVDecoder.frames` (OpenCV's own seek, checked against `frame_table`)."""
        plan = _seek_plan(info, start_s, start_index)
        if plan is not None:
            landed = [False]
            yield from self._seeked(info, pixels, plan[0], start_s, start_index, landed)
            if landed[0]:
                return
            _count("opencv seek failed")
        _count("opencv linear")
        yield from self._linear(info, pixels)

    def _seeked(self, info: VideoInfo, pixels: bool, table: FrameTable, start_s: float | None,
                start_index: int | None, landed: list[bool]) -> FrameStream:
        """OpenCV's CAP_PROP_POS_FRAMES seek (keyframe before, then decoded forward; its frame count is derived
        from pts and is not trusted): each frame grabbed after it must be the table's next, landing at or before
        the start, before anything is yielded; `landed[0]` says whether that held. Yields nothing if not."""
        import cv2

        table_s = table.pts * table.time_base
        cap = cv2.VideoCapture(str(info.path))
        try:
            if not cap.isOpened() or not cap.grab():
                return
            offset_s = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 - table_s[0]
            # start_s is on OpenCV's clock (what a decode from frame 0 reports), the table on the container's
            start = table.start_rank(None if start_s is None else start_s - offset_s, start_index)
            if not cap.set(cv2.CAP_PROP_POS_FRAMES, min(start, len(table_s) - 1)):
                return
            rank = None
            while True:
                if not cap.grab():
                    return
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                k = int(np.clip(np.searchsorted(table_s, t - offset_s - self._MATCH_S), 0, len(table_s) - 1))
                if abs(table_s[k] + offset_s - t) > self._MATCH_S or k != (k if rank is None else rank + 1) or k > start:
                    return
                rank = k
                if rank >= start:
                    break
            landed[0] = True
            _count("opencv seek")
            index = rank
            while True:
                if pixels or index == rank:
                    ok, bgr = cap.retrieve()
                    if not ok:
                        break
                    yield index, t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                else:
                    yield index, t, None
                index += 1
                if not cap.grab():
                    break
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
        finally:
            cap.release()

    def _linear(self, info: VideoInfo, pixels: bool) -> FrameStream:
        import cv2

        cap = cv2.VideoCapture(str(info.path))
        if not cap.isOpened():
            raise DecodeError(info.path, "opencv: cannot open")
        try:
            index = 0
            while True:
                if not pixels and index > 0:
                    if not cap.grab():
                        break
                    yield index, cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0, None
                    index += 1
                    continue
                ok, bgr = cap.read()
                if not ok:
                    break
                pts = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                yield index, pts, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # OpenCV applies rotation itself
                index += 1
            if index == 0:
                raise DecodeError(info.path, f"opencv: no frame could be decoded (codec {info.codec})")
        finally:
            cap.release()


@dataclass
class DecordDecoder:
    name: str = "decord"

    def can_decode(self, info: VideoInfo) -> str | None:
        if info.codec in {"av1", "libdav1d", "libaom-av1"}:
            return "decord's wheel has no AV1 decoder"
        if info.n_video_streams > 1:
            return "decord reads the largest of several video streams, not the first"
        if info.pix_fmt.endswith(("10le", "10be", "12le", "12be")):
            # seen: a 10-bit HEVC file with 4 decodable frames came out of decord as 5
            return f"decord's wheel miscounts high-bit-depth video ({info.pix_fmt})"
        return None

    seeks = True

    def frames(self, info: VideoInfo, start_s: float | None = None, start_index: int | None = None) -> FrameStream:
        """start_s / start_index: as `PyAVDecoder.frames`; decord reads frame k directly (its own accurate seek),
        where its frame list is `frame_table`'s (same count, each time within a quarter frame of the table's)."""
        import decord

        try:
            reader = decord.VideoReader(str(info.path), ctx=decord.cpu(0))
        except Exception as e:
            raise DecodeError(info.path, f"decord: cannot open ({str(e).splitlines()[0][:200]})") from None
        n = len(reader)
        index = 0
        try:
            times = reader.get_frame_timestamp(range(n))[:, 0]
        except Exception:
            times = np.arange(n) / max(info.fps, 1e-9)
        first = 0
        plan = _seek_plan(info, start_s, start_index)
        if plan is not None:
            table_s = plan[0].pts * plan[0].time_base
            if len(table_s) == n and np.abs(times - table_s).max() < 0.25 / info.fps:  # decord's float32 times
                first = int(start_index) if start_index is not None else int(np.searchsorted(times, start_s))
        _count("decord seek" if first > 0 else "decord linear")
        for index in range(first, n):
            try:
                rgb = reader[index].asnumpy()  # decord applies rotation itself
            except Exception as e:
                # seen: VP9 with odd dimensions fails at frame 10 of 30 — never return a silently short clip
                msg = str(e).strip().splitlines()[-1][-160:]
                raise DecodeError(info.path, f"decord: decoding failed at frame {index} of {n} ({msg})") from None
            yield index, float(times[index]), rgb


DECODERS = {"opencv": OpenCVDecoder, "pyav": PyAVDecoder, "decord": DecordDecoder, "nvdec": NvdecDecoder}
AUTO_ORDER = ("opencv", "pyav")  # fastest first; pyav reads everything else


def choose_decoder(info: VideoInfo, requested: str = "auto"):
    """Return (decoder, reason). An explicit request that cannot work is a DecodeError, not a silent switch."""
    if requested != "auto":
        if requested not in DECODERS:
            raise DecodeError(info.path, f"unknown decode backend {requested!r}; have {sorted(DECODERS)}")
        decoder = DECODERS[requested]()
        why_not = decoder.can_decode(info)
        if why_not:
            raise DecodeError(info.path, f"{requested} cannot decode this file: {why_not}")
        return decoder, f"{requested} (asked for)"
    skipped = []
    for name in AUTO_ORDER:
        decoder = DECODERS[name]()
        why_not = decoder.can_decode(info)
        if why_not is None:
            note = f"; skipped {', '.join(skipped)}" if skipped else ""
            return decoder, f"{name} (auto: {info.codec} {info.pix_fmt}{note})"
        skipped.append(f"{name}: {why_not}")
    raise DecodeError(info.path, "no backend can decode it: " + "; ".join(skipped))


def _frame_number(path: Path) -> int | None:
    m = re.search(r"(\d+)$", path.stem)
    return int(m.group(1)) if m else None


def list_images(folder: Path) -> list[Path]:
    images = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
    # numeric order when names end in numbers (frame_2 before frame_10), else lexical
    return sorted(images, key=lambda p: (_frame_number(p) is None, _frame_number(p) or 0, p.name))


def probe_images(folder: Path, fps: float) -> VideoInfo:
    import cv2

    images = list_images(folder)
    if not images:
        raise DecodeError(folder, "no images in the folder")
    first = cv2.imread(str(images[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise DecodeError(images[0], "unreadable image")
    h, w = first.shape[:2]
    return VideoInfo(folder, w, h, float(fps), len(images), "images", "rgb24", 0)


def image_frames(info: VideoInfo) -> FrameStream:
    import cv2

    for index, path in enumerate(list_images(info.path)):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DecodeError(path, "unreadable image")
        if bgr.shape[1] != info.width_px or bgr.shape[0] != info.height_px:
            raise DecodeError(path, f"image size {bgr.shape[1]}x{bgr.shape[0]} differs from the sequence's "
                              f"{info.width_px}x{info.height_px}")
        yield index, index / info.fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
