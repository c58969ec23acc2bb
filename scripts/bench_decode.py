#!/usr/bin/env python
"""Decode throughput (frames/s, to RGB arrays) per backend: one stream, and one process per core.

    python scripts/bench_decode.py                          # makes a 1080p H.264 test video in /tmp first
    python scripts/bench_decode.py clip.mp4 --frames 300
    python scripts/bench_decode.py --size 640x360 --length 60 --procs 2

Backends: PyNvVideoCodec (NVDEC -> CUDA tensor via DLPack; 'n/a' without it or without CUDA), decord, OpenCV,
PyAV. Single stream: the backend's own threading. Multi-process: `--procs` processes decode the same file at
once, each with one decoder thread (the one-process-per-core layout of a CPU decode farm; NVDEC processes share
the GPU's decoder engines); the rate is all their frames over the wall time from a common start.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

BACKENDS = ("pynvvideocodec", "decord", "opencv", "pyav")


# ---------------------------------------------------------------------------------------------------------------
# test video
# ---------------------------------------------------------------------------------------------------------------


def make_test_video(path: Path, w: int, h: int, n_frames: int, fps: int = 30) -> Path:
    """H.264 (libx264, yuv420p) of a panning smooth texture with a moving bright box: ordinary camera content."""
    import av

    rng = np.random.default_rng(0)
    big = rng.integers(0, 256, (h // 8 + 64, w // 8 + 64, 3), dtype=np.uint8)
    big = np.kron(big, np.ones((8, 8, 1), np.uint8))  # blocky texture, panned below
    tmp = path.with_suffix(".part.mp4")
    with av.open(str(tmp), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "23", "g": str(2 * fps)}
        for i in range(n_frames):
            dx, dy = (3 * i) % 256, (2 * i) % 256
            img = np.ascontiguousarray(big[dy : dy + h, dx : dx + w])
            bx = int((w - 80) * (0.5 + 0.4 * np.sin(i / 15)))
            img[h // 3 : h // 3 + 80, bx : bx + 80] = 240
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------------------------------------------
# backends: decode up to max_frames to RGB; return the number of frames. threads=None: the backend's default.
# ---------------------------------------------------------------------------------------------------------------


def available(name: str) -> str | None:
    """None if the backend can run here, else why not."""
    try:
        if name == "pynvvideocodec":
            import PyNvVideoCodec  # noqa: F401
            import torch

            if not torch.cuda.is_available():
                return "n/a (no CUDA)"
        elif name == "decord":
            import decord  # noqa: F401
        elif name == "opencv":
            import cv2  # noqa: F401
        elif name == "pyav":
            import av  # noqa: F401
    except ImportError:
        return "n/a (not installed)"
    return None


def decode_pyav(path: str, max_frames: int | None, threads: int | None) -> int:
    import av

    n = 0
    with av.open(path) as c:
        s = c.streams.video[0]
        if threads is None:
            s.thread_type = "AUTO"
        else:
            s.codec_context.thread_count = threads
        for frame in c.decode(s):
            frame.to_ndarray(format="rgb24")
            n += 1
            if max_frames and n >= max_frames:
                break
    return n


def decode_opencv(path: str, max_frames: int | None, threads: int | None) -> int:
    import cv2

    if threads is None:
        cap = cv2.VideoCapture(path)
    else:
        cv2.setNumThreads(threads)
        cap = cv2.VideoCapture(path, cv2.CAP_FFMPEG, [cv2.CAP_PROP_N_THREADS, threads])
    n = 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        n += 1
        if max_frames and n >= max_frames:
            break
    cap.release()
    return n


def decode_decord(path: str, max_frames: int | None, threads: int | None) -> int:
    import decord

    vr = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=threads or 0)
    total = len(vr) if not max_frames else min(len(vr), max_frames)
    n = 0
    for start in range(0, total, 16):
        batch = vr.get_batch(list(range(start, min(total, start + 16)))).asnumpy()
        n += batch.shape[0]
    return n


def decode_pynvvideocodec(path: str, max_frames: int | None, threads: int | None) -> int:
    import PyNvVideoCodec as nvc
    import torch

    dec = nvc.SimpleDecoder(path, gpu_id=0, use_device_memory=True, output_color_type=nvc.OutputColorType.RGB,
                            cuda_stream=torch.cuda.current_stream().cuda_stream)
    n = 0
    while True:
        frames = dec.get_batch_frames(16)
        if not frames:
            break
        for f in frames:
            torch.from_dlpack(f)  # the handover to torch is part of the cost
        n += len(frames)
        if max_frames and n >= max_frames:
            break
    torch.cuda.synchronize()
    return n


DECODE = {"pyav": decode_pyav, "opencv": decode_opencv, "decord": decode_decord,
          "pynvvideocodec": decode_pynvvideocodec}


# ---------------------------------------------------------------------------------------------------------------


def _proc(name, path, max_frames, go, results):
    import importlib

    for mod in {"pyav": ["av"], "opencv": ["cv2"], "decord": ["decord"],
                "pynvvideocodec": ["PyNvVideoCodec", "torch"]}[name]:
        importlib.import_module(mod)  # imports before the start signal
    go.wait()
    try:
        n = DECODE[name](path, max_frames, 1)
        results.put((n, time.perf_counter(), None))
    except Exception as e:  # report, do not hang the parent
        results.put((0, time.perf_counter(), f"{type(e).__name__}: {e}"))


def multi_process(name: str, path: str, max_frames: int | None, procs: int) -> tuple[float, int]:
    ctx = mp.get_context("spawn")
    go, results = ctx.Event(), ctx.Queue()
    ps = [ctx.Process(target=_proc, args=(name, path, max_frames, go, results)) for _ in range(procs)]
    for p in ps:
        p.start()
    time.sleep(2.0)  # let them import
    t0 = time.perf_counter()
    go.set()
    out = [results.get(timeout=3600) for _ in ps]
    for p in ps:
        p.join()
    errors = [e for _, _, e in out if e]
    if errors:
        raise RuntimeError(errors[0])
    total = sum(n for n, _, _ in out)
    return total / (max(t for _, t, _ in out) - t0), total


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("video", nargs="?", help="video file (default: generate an H.264 test video in /tmp)")
    ap.add_argument("--size", default="1920x1080", help="WxH of the generated video")
    ap.add_argument("--length", type=int, default=300, help="frames in the generated video")
    ap.add_argument("--frames", type=int, default=None, help="decode at most this many frames per stream")
    ap.add_argument("--procs", type=int, default=os.cpu_count() or 1, help="processes in the multi-process run")
    ap.add_argument("--backends", default=",".join(BACKENDS))
    args = ap.parse_args(argv)
    if args.video:
        path = Path(args.video)
    else:
        w, h = (int(v) for v in args.size.lower().split("x"))
        path = Path("/tmp") / f"vla_bench_{w}x{h}_{args.length}f_h264.mp4"
        if not path.is_file():
            t0 = time.perf_counter()
            make_test_video(path, w, h, args.length)
            print(f"generated {path} in {time.perf_counter() - t0:.1f} s")
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        desc = f"{s.codec_context.name} {s.codec_context.pix_fmt} {s.codec_context.width}x{s.codec_context.height}"
    print(f"{path} ({desc}); multi-process: {args.procs} processes x 1 decoder thread")
    print(f"{'backend':16s} {'1 stream fps':>20s} {'frames':>7s} {f'{args.procs} procs fps':>16s} {'frames':>7s}")
    for name in args.backends.split(","):
        why = available(name)
        if why:
            print(f"{name:16s} {why:>20s}")
            continue
        try:
            DECODE[name](str(path), 2, None)  # warm-up: first-open costs (codec init, CUDA context)
            t0 = time.perf_counter()
            n1 = DECODE[name](str(path), args.frames, None)
            fps1 = n1 / (time.perf_counter() - t0)
            fps_m, n_m = multi_process(name, str(path), args.frames, args.procs)
            print(f"{name:16s} {fps1:20.1f} {n1:7d} {fps_m:16.1f} {n_m:7d}", flush=True)
        except Exception as e:
            print(f"{name:16s} failed: {type(e).__name__}: {str(e).splitlines()[0][:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
