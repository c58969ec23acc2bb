#!/usr/bin/env python
"""Which encoder settings should a build use? Encode speed, file size and random-access decode speed (training).

    python scripts/bench_encode.py                       # sam2 02_cups (real 720p, 300 frames -> first 120)
    python scripts/bench_encode.py --video X.mp4 --frames 60

Frames are decoded once into memory; each setting encodes them in-process exactly as the build does
(`sinks/encode.py`, lerobot's codec options), settings interleaved over `--rounds`. Random access is what a training
loader does per sample: lerobot's `decode_video_frames` (PyAV backend) at random timestamps, one frame each.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

SETTINGS = [  # (codec, crf, gop, preset)
    ("libsvtav1", 30, 2, 12),  # lerobot 0.6.1's default
    ("libsvtav1", 30, 2, 10),
    ("libsvtav1", 30, 2, 8),
    ("h264", 23, 2, "veryfast"),
    ("h264", 23, 2, "ultrafast"),
    ("h264", 28, 2, "veryfast"),
    ("hevc", 28, 2, "ultrafast"),
]


def psnr_db(path: Path, frames) -> float:
    """Mean PSNR of the decoded video against the frames given to the encoder (RGB, 8 bit)."""
    import av
    import numpy as np

    total = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            err = np.mean((f.to_ndarray(format="rgb24").astype(np.float32) - frames[i].astype(np.float32)) ** 2)
            total.append(10 * np.log10(255.0**2 / max(err, 1e-9)))
    return float(np.mean(total))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--video", type=Path,
                    default=Path(__file__).resolve().parents[2] / "shared/data/real/sam2__02_cups.mp4")
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--samples", type=int, default=30, help="random-access reads per video")
    args = ap.parse_args()

    import numpy as np
    from lerobot.configs.video import RGBEncoderConfig
    from lerobot.datasets.video_utils import decode_video_frames

    from vla_builder.sinks.encode import encode_frames
    from vla_builder.sources.video import choose_decoder, probe

    info = probe(args.video)
    decoder, _ = choose_decoder(info)
    frames = []
    for _i, _pts, rgb in decoder.frames(info):
        frames.append(rgb)
        if len(frames) == args.frames:
            break
    frames = np.stack(frames)
    fps = 30
    print(f"machine: {os.cpu_count()} cpus {platform.machine()}, load {os.getloadavg()[0]:.1f} (shared); "
          f"input {args.video.name} {frames.shape[2]}x{frames.shape[1]}, {len(frames)} frames")
    results: dict[tuple, list] = {s: [] for s in SETTINGS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.rounds):
            for setting in SETTINGS:
                codec, crf, gop, preset = setting
                path = Path(tmp) / f"{codec}_{preset}.mp4"
                path.unlink(missing_ok=True)
                cfg = RGBEncoderConfig(vcodec=codec, crf=crf, g=gop, preset=preset)
                enc = encode_frames(iter(frames), path, fps, cfg)
                rng = random.Random(0)
                ts = [rng.randrange(len(frames)) / fps for _ in range(args.samples)]
                t0 = time.perf_counter()
                for t in ts:
                    decode_video_frames(path, [t], 1e-4, backend="pyav")
                read_ms = 1000 * (time.perf_counter() - t0) / len(ts)
                results[setting].append((len(frames) / enc.seconds, path.stat().st_size / 1e6, read_ms,
                                         psnr_db(path, frames)))
    print("| codec | crf | gop | preset | encode frames/s | MB per 100 frames | PSNR dB | random read ms/frame |")
    print("|---|---|---|---|---|---|---|---|")
    for (codec, crf, gop, preset), rs in results.items():
        enc_fps = statistics.median(r[0] for r in rs)
        mb = rs[-1][1] * 100 / len(frames)
        read = statistics.median(r[2] for r in rs)
        psnr = statistics.median(r[3] for r in rs)
        print(f"| {codec} | {crf} | {gop} | {preset} | {enc_fps:.1f} | {mb:.2f} | {psnr:.1f} | {read:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
