"""The yuv route against the RGB route for frames written at another size (issue 23): CPU seconds of each (decode,
scale, letterbox, stats and the encoder process, nothing else of a build) and how far the stored video moved (PSNR),
on a real clip.

    python scripts/bench_yuv_route.py ../shared/data/real/sam2__02_cups.mp4 --frames 150 --size 480 640 --rounds 3

RGB route (before): PyAV decode to RGB -> `cv2.resize` (INTER_AREA) to fit -> letterbox -> rgb24 to the encoder,
which converts to yuv420p. yuv route (now): PyAV decode -> swscale (area) to fit in yuv420p -> letterbox in yuv ->
the encoder. Both go through `encode_frames` (the build's encoder process, with lerobot's image stats) with the
recipe's default video settings (SVT-AV1, crf 30, gop 2), rounds interleaved; CPU = user + system of this process
and of the encoder process. PSNR over all pixels of all frames (mean squared error pooled), in RGB and on the Y plane.
"""

from __future__ import annotations

import argparse
import tempfile
from itertools import islice
from pathlib import Path

import numpy as np


def psnr_db(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([np.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2) for x, y in zip(a, b, strict=True)])
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def cpu_s() -> float:
    """User + system seconds of this process and of its reaped children (the encoder processes)."""
    import resource

    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    import av
    import cv2

    from vla_builder.boxes import fit_size, letterbox
    from vla_builder.sinks.encode import EncodeSettings, encode_frames
    from vla_builder.sources.video import PyAVDecoder, probe
    from vla_builder.sources.yuv import can_pass_yuv

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", type=Path)
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--size", type=int, nargs=2, default=(480, 640), metavar=("H", "W"), help="image size (h, w)")
    ap.add_argument("--rounds", type=int, default=3, help="CPU measurement rounds (0: PSNR only)")
    args = ap.parse_args()
    info, size_hw = probe(args.video), tuple(args.size)
    work_wh = fit_size((info.width_px, info.height_px), size_hw)
    if not can_pass_yuv(info, work_wh, size_hw):
        raise SystemExit(f"{args.video}: takes the RGB route at {size_hw} (not yuv420p, rotated or odd sizes)")
    import lerobot.datasets.compute_stats  # noqa: F401 — the image stats' class, imported before any measurement

    def rgb_frames():
        for _i, _t, rgb in islice(PyAVDecoder().frames(info), args.frames):
            yield letterbox(cv2.resize(rgb, work_wh, interpolation=cv2.INTER_AREA), size_hw)

    def yuv_frames():
        for _i, _t, frame in islice(PyAVDecoder().frames(info, yuv=True, yuv_size_px=work_wh), args.frames):
            yield frame.letterboxed(size_hw)

    cpu: dict[str, list[float]] = {"rgb": [], "yuv": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _round in range(args.rounds):
            for name, frames in (("rgb", rgb_frames), ("yuv", yuv_frames)):
                before = cpu_s()
                encode_frames(frames(), Path(tmp) / f"{name}.mp4", int(round(info.fps)), EncodeSettings())
                cpu[name].append(cpu_s() - before)
    if args.rounds:
        rgb_s, yuv_s = float(np.median(cpu["rgb"])), float(np.median(cpu["yuv"]))
        print(f"CPU s (decode + scale + letterbox + stats + encoder process), median of {args.rounds}: RGB route "
              f"{rgb_s:.2f} {[round(x, 2) for x in cpu['rgb']]}, yuv route {yuv_s:.2f} "
              f"{[round(x, 2) for x in cpu['yuv']]}: {rgb_s - yuv_s:.2f} CPU-s less ({rgb_s / yuv_s:.2f}x)")
    rgb_route, yuv_route = list(rgb_frames()), list(yuv_frames())
    # before the encoder: the RGB route's frames as the encoder converts them (PyAV rgb24 -> yuv420p)
    rgb_as_yuv = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p").to_ndarray()
                  for f in rgb_route]
    h = size_hw[0]

    def to_rgb(planes: np.ndarray) -> np.ndarray:  # swscale's conversion, as every decoder of the video does
        return av.VideoFrame.from_ndarray(planes, format="yuv420p").to_ndarray(format="rgb24")

    print(f"{args.video.name}: {info.width_px}x{info.height_px} -> {work_wh[0]}x{work_wh[1]} on {size_hw[1]}x{h}, "
          f"{len(yuv_route)} frames")
    print(f"before the encoder: Y {psnr_db([f[:h] for f in rgb_as_yuv], [f.planes[:h] for f in yuv_route]):.2f} dB, "
          f"yuv420p planes {psnr_db(rgb_as_yuv, [f.planes for f in yuv_route]):.2f} dB, "
          f"RGB {psnr_db(rgb_route, [to_rgb(f.planes) for f in yuv_route]):.2f} dB "
          f"(the RGB route's own round trip through yuv420p: {psnr_db(rgb_route, [to_rgb(f) for f in rgb_as_yuv]):.2f} dB)")
    with tempfile.TemporaryDirectory() as tmp:
        stored = {}
        for name, frames in (("rgb", rgb_route), ("yuv", yuv_route)):
            path = Path(tmp) / f"{name}.mp4"
            encode_frames(iter(frames), path, int(round(info.fps)), EncodeSettings())
            with av.open(str(path)) as container:
                stored[name] = [(f.to_ndarray(format="yuv420p"), f.to_ndarray(format="rgb24"))
                                for f in container.decode(video=0)]
    old, new = stored["rgb"], stored["yuv"]
    print(f"stored videos, yuv route vs RGB route: Y {psnr_db([o[0][:h] for o in old], [n[0][:h] for n in new]):.2f} dB, "
          f"RGB {psnr_db([o[1] for o in old], [n[1] for n in new]):.2f} dB")
    print(f"against the RGB route's frames (the old reference, before the encoder): stored RGB route "
          f"{psnr_db(rgb_route, [o[1] for o in old]):.2f} dB, stored yuv route {psnr_db(rgb_route, [n[1] for n in new]):.2f} dB")

if __name__ == "__main__":
    main()
