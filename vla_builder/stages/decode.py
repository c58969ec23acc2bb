"""Decode the labeled span of a source onto the clip's time grid, at working resolution.

Streaming (the default): this stage makes one pass that fixes the grid (which source frame each sample shows),
keeps motion's small grey frames (in a file beside the shard during a build: `DiskFrames`) and, during a build
(`work.process_clip` sets `sinks.encode.ENCODE_TARGET`), encodes the episode video in the same pass, so the sink only
hands the file to lerobot's writer: the source is decoded once. No full-size pixels are kept: `clip.frames.rgb` is a
`GridFrames` that decodes the file again if a later stage walks the frames (detect mode, a crop to the actor's span
that needs the video encoded again). Peak memory does not grow with the clip's length.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from vla_builder.boxes import fit_size, letterbox
from vla_builder.pipeline import Stage
from vla_builder.schema import IMAGE_SIZE_HW
from vla_builder.prefetch import start_lerobot_import
from vla_builder.sources.grid import grid_samples, sample_to_grid
from vla_builder.sources.lazy_frames import DiskFrames, GridFrames
from vla_builder.sources.video import DecodeError, PyAVDecoder, choose_decoder, image_frames
from vla_builder.sources.yuv import Yuv420Frame, can_pass_yuv
from vla_builder.types import Clip, Frames, LabelRowCounts

SEEK_MARGIN_S = 0.01  # a stream opened for a time span starts this much before it (float rounding of pts)


@dataclass
class DecodeStage(Stage):
    fps: int
    image_size: tuple[int, int] = IMAGE_SIZE_HW  # (h, w) the frames must fit in
    backend: str = "auto"

    name: ClassVar[str] = "decode"
    needs: ClassVar[tuple[str, ...]] = ("info", "labels")
    makes: ClassVar[tuple[str, ...]] = ("frames",)

    stream: bool = True  # False: hold the clip decoded in memory (small clips, tests); True: decode again per pass
    # streaming: also keep small grey frames of this size from the first pass (the build passes motion's
    # `max_side_px`: motion then needs no second decode; None: keep none)
    gray_max_side_px: int | None = None

    def process(self, clip: Clip) -> Clip:
        import cv2

        info = clip.info
        assert info is not None and clip.labels is not None
        spec = clip.source
        # an episode span from the recipe, a labeled segment or a split wins; else the labeled frames' span
        time_span = (spec.start_s, spec.end_s) if spec.start_s is not None or spec.end_s is not None else None
        span = None if time_span is not None else clip.labels.span()
        # a piece deep in a long video: every stream opened below starts near the piece, not at the source's first
        # frame, where the decoder can seek with the exact frame index (`sources/video.py`, FrameTable; else it
        # decodes from frame 0 as before). The margin keeps every frame grid_samples looks at (pts >= start - 1e-6)
        # in the stream, so the grid and its first sample are unchanged.
        if time_span is not None and time_span[0] is not None:
            seek = {"start_s": time_span[0] - SEEK_MARGIN_S}
        elif span is not None and span[0] > 0:
            seek = {"start_index": int(span[0])}
        else:
            seek = {}
        if info.codec == "images":
            how = "images (opencv imread)"

            def open_stream():
                return image_frames(info)

            open_plan_stream = open_stream
        else:
            decoder, how = choose_decoder(info, self.backend)
            if not getattr(decoder, "seeks", False):
                seek = {}  # nvdec: from frame 0

            def open_stream():
                return decoder.frames(info, **seek)

            def open_plan_stream():  # timestamps only (frames decoded, not converted) where the backend can
                if getattr(decoder, "skips_pixels", False):
                    return decoder.frames(info, pixels=False, **seek)
                return open_stream()
        work_w, work_h = fit_size((info.width_px, info.height_px), self.image_size)

        def check_size(width_px: int, height_px: int) -> None:
            if width_px != info.width_px or height_px != info.height_px:
                raise DecodeError(info.path, f"decoded frame is {width_px}x{height_px}, probe said "
                                  f"{info.width_px}x{info.height_px} (orientation mismatch)")

        def to_work(rgb: np.ndarray) -> np.ndarray:
            check_size(rgb.shape[1], rgb.shape[0])
            if (rgb.shape[1], rgb.shape[0]) == (work_w, work_h):
                return rgb
            return cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA)

        if self.stream:
            # first pass: the plan (which source frame each sample shows) and a size check; no frame is kept
            import av  # noqa: F401 — imported here, not inside the pass below, which runs beside lerobot's import
            import av.video  # noqa: F401

            from vla_builder.sinks.encode import ENCODE_TARGET, private_video_path, start_encode

            from vla_builder.kernels.reference import to_gray

            # lerobot (torch, datasets) takes seconds to import and every clip needs it later (language helpers,
            # the writer): it is imported in a thread (`prefetch.py`; a build starts it first) during this pass,
            # which imports no third-party module itself (decord and nvdec import their libraries as they start: no
            # overlap there), and waited for at the end, so no two threads ever import a module at the same time.
            prefetch = None if self.backend in ("decord", "nvdec") else start_lerobot_import()

            side = self.gray_max_side_px
            # where the build asked for it (work.process_clip), the episode video is encoded in this same pass: the
            # sink then takes the file and the source is decoded once in all
            target = ENCODE_TARGET.get()
            # frames go to the encoder in yuv420p, never through RGB: as decoded at the source's own size, else
            # scaled by swscale and letterboxed in yuv (a plain transcode's route; the RGB route cost 3.7 CPU-s more per
            # 300 frames 1080p -> 480x640, BENCHMARKS.md issue 23)
            passthrough = (target is not None and self.backend in ("auto", "pyav")
                           and can_pass_yuv(info, (work_w, work_h), tuple(target.image_size)))
            if passthrough:
                if (work_w, work_h) == (info.width_px, info.height_px) == (target.image_size[1], target.image_size[0]):
                    how = f"pyav, yuv420p to the encoder unconverted ({how} where frames are read again)"
                else:
                    how = (f"pyav, yuv420p scaled to {work_w}x{work_h} by swscale for the encoder ({how} where frames "
                           "are read again)")

                def open_pass_stream():
                    return PyAVDecoder().frames(info, yuv=True, yuv_size_px=(work_w, work_h), **seek)
            else:
                open_pass_stream = open_stream
            index_l, time_l = [], []
            # grey frames go to a file beside the shard when the build gives a folder: memory flat in clip length
            grays = DiskFrames(target.folder) if target is not None and side else []
            start = [0.0]
            checked = False

            def plan():  # the pass: fills index_l/time_l/grays, yields each sample's working frame when encoding
                nonlocal checked
                pixels = side or target is not None
                work = gray = None
                for index_j, pts, start[0], rgb in grid_samples(open_pass_stream() if pixels else open_plan_stream(),
                                                                self.fps, span, str(info.path), time_span):
                    if pixels:
                        if work is None or index_j != index_l[-1]:  # a source frame shown at several samples: once
                            if isinstance(rgb, Yuv420Frame):
                                if (rgb.width, rgb.height) != (work_w, work_h):  # scaled frames: checked before
                                    check_size(rgb.width, rgb.height)
                                work = rgb
                                gray = rgb.gray(side) if side else None
                            else:
                                work = to_work(rgb)
                                gray = to_gray(work, side) if side else None
                        if side:
                            grays.append(gray)
                    elif not checked and rgb is not None:
                        to_work(rgb)
                        checked = True
                    index_l.append(index_j)
                    time_l.append(pts)
                    if target is not None:
                        yield work.letterboxed(target.image_size) if passthrough else letterbox(work, target.image_size)

            encoded = None
            try:
                if target is None:
                    for _ in plan():
                        pass
                else:
                    path = private_video_path(target.folder, "episode")
                    # the encoder may still be finishing the file when this returns: the stages after this run
                    # beside it, and the sink waits for it (`GridFrames.encoded`)
                    encoded = start_encode(plan(), path, target.fps, target.settings, importing=prefetch)
            finally:
                if prefetch is not None:
                    prefetch.join()
            start_s = start[0]
            index, times = np.asarray(index_l, int), np.asarray(time_l, float)
            rgb = GridFrames(open_stream, to_work, index, self.fps, (work_w, work_h), str(info.path), span,
                             time_span)
            if side:
                rgb.keep_grays(side, grays)
            if encoded is not None:
                if encoded.frames != len(index):
                    raise DecodeError(info.path, f"the encoder was given {encoded.frames} frames for {len(index)} samples")
                rgb.encoded = (target, encoded)
        else:
            rgb, index, times, start_s = sample_to_grid(open_stream(), self.fps, span, to_work, str(info.path),
                                                        time_span)
        frames = Frames(rgb=rgb, fps=self.fps, source_index=index, source_time_s=times, start_s=start_s,
                        backend=how, source_size_px=(info.width_px, info.height_px))
        prov = {
            **clip.provenance,
            "decoder": how,
            "source_frames": [int(index[0]), int(index[-1])],
            "source_time_s": [round(float(times[0]), 6), round(float(times[-1]), 6)],
            "source_fps": info.fps,
        }
        if spec.segment is not None:
            prov["segment"] = spec.segment
        # label rows this span cannot use: a typed fact (label_fit reads it, the sink writes it), a new value each time
        rows = clip.label_rows or LabelRowCounts.of(clip.labels)
        if span is not None and index[-1] < span[1]:
            rows = dataclasses.replace(rows, past_end=int((clip.labels.frame > index[-1]).sum()))
        if time_span is not None and len(clip.labels):
            outside = (clip.labels.frame < index[0]) | (clip.labels.frame > index[-1])
            if outside.any():  # not an error: a segment or split covers part of a labeled video
                rows = dataclasses.replace(rows, outside_span=int(outside.sum()))
        return clip.with_(frames=frames, label_rows=rows, provenance=prov)
