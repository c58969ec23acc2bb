"""NVDEC decoding with PyNvVideoCodec: frames decoded and colour-converted on the GPU, handed to torch via DLPack.

PyNvVideoCodec is imported lazily (it is an optional, GPU-only dependency), so this module imports everywhere and
`can_decode` answers on CPU machines too. What NVDEC cannot do is refused up front, with the reason, so that the
decoder choice in `sources/video.py` moves on to a CPU backend instead of failing mid-file:

| refused                          | why                                                                        |
|----------------------------------|----------------------------------------------------------------------------|
| AV1                              | the H100's NVDEC has no AV1 decoder (PyAV decodes it on the CPU)           |
| 4:4:4 / RGB-coded (yuv444p, gbrp) | not decoded to our RGB path by NVDEC (H.264 4:4:4 not at all)              |
| 4:2:2 (yuv422p*)                  | NVDEC decodes 4:2:2 only from Blackwell on                                  |
| 10/12-bit H.264                  | NVDEC has no H.264 High 10 profile (10-bit HEVC / VP9 are fine)            |
| codecs other than h264/hevc/vp9  | not tested with this path                                                  |
| several video streams            | PyNvVideoCodec's demuxer picks FFmpeg's "best" stream, not the first one   |

Frames come out in display orientation (rotation metadata applied with `torch.rot90`, like the PyAV backend) and
in presentation order. Timestamps are the container's packet pts (read by PyAV's demuxer, no decoding): NVDEC
returns frames in display order, so the i-th frame has the i-th smallest pts. Colours come from NVDEC's own
YUV->RGB conversion and may differ from FFmpeg's swscale by a few grey levels.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from vla_builder.types import VideoInfo

NVDEC_CODECS = ("h264", "hevc", "vp9")
AV1_NAMES = {"av1", "libdav1d", "libaom-av1"}


def codec_reason(info: VideoInfo) -> str | None:
    """Why NVDEC (this backend) cannot decode a file, judged from the probe alone; None if it can."""
    codec, pix_fmt = info.codec.lower(), (info.pix_fmt or "").lower()
    if codec in AV1_NAMES:
        return "NVDEC on H100 has no AV1 decoder"
    if codec not in NVDEC_CODECS:
        return f"the NVDEC path handles {', '.join(NVDEC_CODECS)}, not {info.codec}"
    if pix_fmt.startswith(("yuv444", "yuvj444", "gbr", "rgb", "bgr")):
        return f"4:4:4 / RGB-coded video ({info.pix_fmt}) is not decoded by this NVDEC path"
    if pix_fmt.startswith(("yuv422", "yuvj422")):
        return f"4:2:2 video ({info.pix_fmt}) needs NVDEC of Blackwell or newer"
    if codec == "h264" and any(tag in pix_fmt for tag in ("p10", "p12")):
        return f"NVDEC has no 10/12-bit H.264 ({info.pix_fmt})"
    if info.n_video_streams > 1:
        return "PyNvVideoCodec's demuxer picks FFmpeg's best video stream, not the first"
    return None


@lru_cache(maxsize=1)
def runtime_reason() -> str | None:
    """Why this machine cannot run NVDEC decoding (no PyNvVideoCodec, no CUDA device); None if it can."""
    try:
        import PyNvVideoCodec  # noqa: F401
    except Exception as e:  # ImportError, or a broken install that fails to load its libraries
        first_line = (str(e).splitlines() or [""])[0][:120]
        return f"PyNvVideoCodec is not importable ({type(e).__name__}: {first_line})"
    try:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA device (torch.cuda.is_available() is False)"
    except Exception as e:
        return f"torch with CUDA is not importable ({type(e).__name__})"
    return None


def packet_times_s(info: VideoInfo) -> np.ndarray:
    """Presentation times of the first video stream's frames, sorted (demuxing only: no decoding)."""
    import av

    with av.open(str(info.path)) as container:
        stream = container.streams.video[0]
        tb = float(stream.time_base) if stream.time_base else 0.0
        pts = [p.pts for p in container.demux(stream) if p.pts is not None and p.size > 0]
    return np.sort(np.asarray(pts, dtype=np.float64)) * tb if tb else np.zeros(0)


def _to_hwc(frame: Any):
    """A decoded frame as an (H, W, 3) uint8 CUDA tensor that we own (the decoder reuses its surfaces)."""
    import torch

    t = torch.from_dlpack(frame)
    if t.ndim == 3 and t.shape[-1] != 3 and t.shape[0] == 3:  # planar RGB
        t = t.permute(1, 2, 0)
    return t.contiguous().clone()


def decoded_frames(decoder: Any, batch_frames: int, path: str) -> Iterator[Any]:
    """Every frame of a PyNvVideoCodec `SimpleDecoder`, in order, from `get_batch_frames` calls that ask for no frame
    past the decoder's own frame count: asked past it, PyNvVideoCodec prints `INVALID INDEX n` for each index. A
    decoder that knows no count (0) is asked full batches until one comes back empty. A batch's frames are live until
    the next call: each is used before the next is asked for (this is a generator)."""
    from vla_builder.sources.video import DecodeError  # here: video.py imports this module

    try:
        total = int(len(decoder))
    except Exception:  # no count in the stream's header
        total = 0
    index = 0
    while total <= 0 or index < total:
        ask = batch_frames if total <= 0 else min(batch_frames, total - index)
        try:
            batch = decoder.get_batch_frames(ask)
        except Exception as e:
            if index == 0:
                raise DecodeError(path, f"nvdec: decoding failed at frame 0 ({e})") from None
            return  # a truncated tail: keep what decoded, as the CPU backends do
        if not batch:
            return
        yield from batch
        index += len(batch)
        if len(batch) < ask:  # the decoder ran out before its count: asking again would ask past the end
            return


@dataclass
class NvdecDecoder:
    """Decoder-interface backend (see sources/video.py): `can_decode(info)` and `frames(info)`."""

    name: str = "nvdec"
    gpu_id: int = 0
    batch_frames: int = 16  # frames per get_batch_frames call (their surfaces are live until the next call)

    def can_decode(self, info: VideoInfo) -> str | None:
        return codec_reason(info) or runtime_reason()

    def frames_cuda(self, info: VideoInfo) -> Iterator[tuple[int, float, Any]]:
        """Yield (index, pts_s, rgb) with rgb an (H, W, 3) uint8 CUDA tensor in display orientation."""
        import torch

        from vla_builder.sources.video import DecodeError  # here: video.py imports this module

        why_not = self.can_decode(info)
        if why_not:
            raise DecodeError(info.path, f"nvdec: {why_not}")
        import PyNvVideoCodec as nvc

        times = packet_times_s(info)
        fps = max(info.fps, 1e-9)
        k_rot = -(info.rotation_deg // 90)
        with torch.cuda.device(self.gpu_id):
            stream = torch.cuda.current_stream()
            try:
                decoder = nvc.SimpleDecoder(str(info.path), gpu_id=self.gpu_id, cuda_stream=stream.cuda_stream,
                                            use_device_memory=True, output_color_type=nvc.OutputColorType.RGB)
            except Exception as e:
                raise DecodeError(info.path, f"nvdec: cannot open ({type(e).__name__}: {e})") from None
            index = 0
            for frame in decoded_frames(decoder, self.batch_frames, str(info.path)):
                rgb = _to_hwc(frame)
                if k_rot % 4:
                    rgb = torch.rot90(rgb, k=k_rot, dims=(0, 1)).contiguous()
                pts = float(times[index]) if index < len(times) else index / fps
                yield index, pts, rgb
                index += 1
            if index == 0:
                raise DecodeError(info.path, f"nvdec: no frame could be decoded (codec {info.codec})")

    def frames(self, info: VideoInfo) -> Iterator[tuple[int, float, np.ndarray]]:
        """The CPU-side interface of the other backends: (index, pts_s, rgb uint8 HxWx3 numpy)."""
        for index, pts, rgb in self.frames_cuda(info):
            yield index, pts, rgb.cpu().numpy()
