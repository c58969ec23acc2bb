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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_builder.sources.gpu_decode import NvdecDecoder
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
    import av

    if not path.is_file():
        raise DecodeError(path, "no such file")
    if path.stat().st_size == 0:
        raise DecodeError(path, "empty file (0 bytes)")
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


# BT.601 limited range, what swscale (PyAV's and OpenCV's conversions) uses by default for yuv420p -> RGB
_Y_GAIN, _RV, _GU, _GV, _BU = 255 / 219, 1.596, -0.392, -0.813, 2.017


@dataclass(frozen=True)
class Yuv420Frame:
    """A decoded frame kept as PyAV gave it (yuv420p planes stacked: Y (h, w) over U and V, (h * 3 / 2, w)).

    The decode pass hands it to the encoder unconverted when the episode video is written at the source's size:
    decoding to RGB and converting back to yuv420p cost ~1.5 s of CPU per 150 frames at 1080p, for the same
    pixels (up to the round trip's rounding). Motion's grey frames and lerobot's image stats are taken from the
    planes directly (`gray`, `stats_pixels`)."""

    planes: np.ndarray  # (h * 3 // 2, w) uint8

    @property
    def width(self) -> int:
        return self.planes.shape[1]

    @property
    def height(self) -> int:
        return self.planes.shape[0] * 2 // 3

    @property
    def shape(self) -> tuple[int, int, int]:  # as an RGB frame of the same size would have
        return self.height, self.width, 3

    def rgb(self) -> np.ndarray:
        import cv2

        return cv2.cvtColor(self.planes, cv2.COLOR_YUV2RGB_I420)

    def gray(self, max_side_px: int) -> np.ndarray:
        """What `kernels.reference.to_gray` gives for this frame's RGB (within rounding): RGB's luma is the limited
        range Y stretched to 0..255."""
        from vla_builder.kernels.reference import shrink_gray

        small = shrink_gray(self.planes[: self.height], max_side_px).astype(np.float32)
        return np.clip(np.rint((small - 16.0) * _Y_GAIN), 0, 255).astype(np.uint8)

    def stats_pixels(self, step: int) -> np.ndarray:
        """(N, 3) uint8 RGB of every `step`-th pixel in both directions (lerobot's stats downsampling of the RGB
        frame), converted from the planes at those pixels only."""
        h, w = self.height, self.width
        rows, cols = np.arange(0, h, step), np.arange(0, w, step)
        y = self.planes[:h][np.ix_(rows, cols)].astype(np.float32) - 16.0
        u_plane = self.planes[h:].reshape(2, h // 2, w // 2)  # U then V, each (h / 2, w / 2)
        crow, ccol = np.ix_(rows // 2, cols // 2)
        u = u_plane[0][crow, ccol].astype(np.float32) - 128.0
        v = u_plane[1][crow, ccol].astype(np.float32) - 128.0
        luma = y * _Y_GAIN
        rgb = np.stack([luma + _RV * v, luma + _GU * u + _GV * v, luma + _BU * u], axis=-1)
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8).reshape(-1, 3)


def can_pass_yuv(info: VideoInfo, size_px: tuple[int, int]) -> bool:
    """Whether frames of this source can go to the encoder as decoded (`Yuv420Frame`): yuv420p, not rotated, even
    sides, and written at exactly the source's size `size_px` (w, h) (no resize, no letterbox)."""
    return (info.codec != "images" and info.pix_fmt == "yuv420p" and info.rotation_deg % 360 == 0
            and (info.width_px, info.height_px) == tuple(size_px) and info.width_px % 2 == 0
            and info.height_px % 2 == 0)


@dataclass
class PyAVDecoder:
    name: str = "pyav"

    def can_decode(self, info: VideoInfo) -> str | None:
        return None

    skips_pixels = True  # frames(pixels=False): decoded and timed, not converted (a plan pass)

    def frames(self, info: VideoInfo, pixels: bool = True, yuv: bool = False) -> FrameStream:
        """pixels=False: every frame is decoded (so errors show) but only the first is converted to RGB; the
        others are yielded as None (for passes that need timestamps only). yuv=True: frames are yielded
        unconverted as `Yuv420Frame` (yuv420p sources without rotation only: `can_pass_yuv`)."""
        import av

        with av.open(str(info.path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            index = 0
            try:
                for frame in container.decode(stream):
                    pts = float(frame.time) if frame.time is not None else index / max(info.fps, 1e-9)
                    if not pixels and index > 0:
                        yield index, pts, None
                    elif yuv:
                        yield index, pts, Yuv420Frame(frame.to_ndarray(format="yuv420p"))
                    else:
                        yield index, pts, _rotate(frame.to_ndarray(format="rgb24"), info.rotation_deg)
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

    def frames(self, info: VideoInfo, pixels: bool = True) -> FrameStream:
        """pixels=False: frames after the first are grabbed (decoded, not converted) and yielded as None."""
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

    def frames(self, info: VideoInfo) -> FrameStream:
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
        for index in range(n):
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
