#!/usr/bin/env python
"""Dense-flow speed and accuracy, and the motion-energy kernel's bandwidth, in one table.

    python scripts/bench_motion.py                       # 1920x1080 and 640x360
    python scripts/bench_motion.py --sizes 320x180 --seconds 1

Accuracy: mean end-point error (px, over valid textured pixels) on the synthetic pairs of
`vla_builder.kernels.flow_eval` (exact ground truth). Speed: flow pairs per second.
  - CPU methods run in a process pool with one worker per core (`--workers`), OpenCV limited to 1 thread per
    worker, so the number is the whole machine's throughput.
  - "ours CUDA" runs batches of `--batch` consecutive frames per launch sequence on one GPU (pairs/s of the batch).
  - "ours C++ (CUDA code on CPU)" is the kernels' host twin (same source, CPU loops, 1 thread per worker).
Motion energy: GB/s = frame bytes read once (T x H x W) / kernel time, against the card's peak DRAM bandwidth.
Rows that need CUDA print 'n/a (no CUDA)' on machines without it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vla_builder.kernels import cuda_available  # noqa: E402
from vla_builder.kernels import flow_eval as fe  # noqa: E402
from vla_builder.kernels import reference_lk as rl  # noqa: E402

NA_CUDA = "n/a (no CUDA)"

# ---------------------------------------------------------------------------------------------------------------
# CPU methods (module-level so that spawned workers can import them)
# ---------------------------------------------------------------------------------------------------------------

_PAIRS: list[tuple[np.ndarray, np.ndarray]] = []


def _init_worker(pairs):
    import cv2

    cv2.setNumThreads(1)
    _PAIRS[:] = pairs


def flow_cpu(method: str, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
    import cv2

    if method == "dis-ultrafast":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST).calc(prev, nxt, None)
    if method == "dis-fast":  # the motion stage's default (method: dis, preset: fast)
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST).calc(prev, nxt, None)
    if method == "dis-medium":
        return cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(prev, nxt, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 4, 15, 3, 5, 1.2, 0)
    if method == "ours-numpy":
        return rl.lk_flow(prev, nxt)
    if method == "ours-cpp":
        from vla_builder.kernels import cuda as kc

        return kc.lk_flow_host(np.stack([prev, nxt]))[0]
    raise ValueError(method)


def _work(args):
    method, i = args
    prev, nxt = _PAIRS[i % len(_PAIRS)]
    flow_cpu(method, prev, nxt)
    return i


def bench_cpu(method: str, pairs: list[fe.FlowPair], workers: int, seconds: float) -> tuple[float, list[float]]:
    """(pairs/s over the pool, EPE per case)."""
    epes = []
    t_one = []
    for p in pairs:
        t0 = time.perf_counter()
        flow = flow_cpu(method, p.prev, p.next)
        t_one.append(time.perf_counter() - t0)
        epes.append(fe.score(p, flow)["epe_px"])
    n = int(np.clip(seconds * workers / max(np.mean(t_one), 1e-4), workers, 5000))
    ctx = mp.get_context("spawn")  # fresh interpreters: no OpenCV thread pool inherited through fork
    with ctx.Pool(workers, initializer=_init_worker, initargs=([(p.prev, p.next) for p in pairs],)) as pool:
        pool.map(_work, [(method, i) for i in range(workers)])  # warm up (imports, first-call costs)
        t0 = time.perf_counter()
        pool.map(_work, [(method, i) for i in range(n)], chunksize=max(1, n // (workers * 8)))
        dt = time.perf_counter() - t0
    return n / dt, epes


# ---------------------------------------------------------------------------------------------------------------
# CUDA
# ---------------------------------------------------------------------------------------------------------------


def bench_cuda_flow(pairs: list[fe.FlowPair], batch: int, seconds: float) -> tuple[float, list[float]]:
    import torch

    from vla_builder.kernels import cuda as kc

    epes = []
    for p in pairs:
        flow = kc.lk_flow_cuda(torch.from_numpy(np.stack([p.prev, p.next])).cuda())[0].cpu().numpy()
        epes.append(fe.score(p, flow)["epe_px"])
    frames = [f for p in pairs for f in (p.prev, p.next)]
    stack = torch.from_numpy(np.stack([frames[i % len(frames)] for i in range(batch + 1)])).cuda()
    kc.lk_flow_cuda(stack)  # warm up (library load, allocator)
    torch.cuda.synchronize()
    n_runs, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n_runs < 3:
        kc.lk_flow_cuda(stack)
        n_runs += 1
        if n_runs % 4 == 0:
            torch.cuda.synchronize()
    torch.cuda.synchronize()
    return n_runs * batch / (time.perf_counter() - t0), epes


def peak_bandwidth_gbs() -> float | None:
    import torch

    props = torch.cuda.get_device_properties(0)
    clock_khz, bus_bits = getattr(props, "memory_clock_rate", 0), getattr(props, "memory_bus_width", 0)
    if not clock_khz or not bus_bits:
        return None
    return 2 * clock_khz * 1e3 * bus_bits / 8 / 1e9  # double data rate


def bench_cuda_energy(h: int, w: int, frames: int, seconds: float) -> tuple[float, float | None, float]:
    """(kernel GB/s, peak GB/s, device-to-device copy GB/s for the same bytes)."""
    import torch

    from vla_builder.kernels import cuda as kc

    g = torch.randint(0, 256, (frames, h, w), dtype=torch.uint8, device="cuda")
    kc.motion_energy_sums_cuda(g)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    reps = 20
    best = float("inf")
    t_stop = time.perf_counter() + seconds
    while True:
        start.record()
        for _ in range(reps):
            kc.motion_energy_sums_cuda(g)
        end.record()
        end.synchronize()
        best = min(best, start.elapsed_time(end) / 1e3 / reps)
        if time.perf_counter() > t_stop:
            break
    dst = torch.empty_like(g)
    start.record()
    for _ in range(reps):
        dst.copy_(g)
    end.record()
    end.synchronize()
    copy_s = start.elapsed_time(end) / 1e3 / reps
    nbytes = g.numel()
    return nbytes / best / 1e9, peak_bandwidth_gbs(), 2 * nbytes / copy_s / 1e9  # copy reads and writes


def bench_numpy_energy(h: int, w: int, frames: int) -> float:
    g = np.random.default_rng(0).integers(0, 256, (frames, h, w), dtype=np.uint8)
    t0 = time.perf_counter()
    rl.motion_energy_sums(g)
    return g.nbytes / (time.perf_counter() - t0) / 1e9


# ---------------------------------------------------------------------------------------------------------------


def fmt_rate(v) -> str:
    return v if isinstance(v, str) else f"{v:.1f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1920x1080,640x360", help="comma-separated WxH")
    ap.add_argument("--seconds", type=float, default=3.0, help="timing budget per row")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--batch", type=int, default=32, help="pairs per CUDA launch sequence")
    ap.add_argument("--methods", default="dis-ultrafast,dis-medium,farneback,ours-numpy,ours-cpp")
    args = ap.parse_args(argv)
    has_cuda = cuda_available()
    methods = [m for m in args.methods.split(",") if m]
    if "ours-cpp" in methods:
        from vla_builder.kernels import cuda as kc

        if kc.find_nvcc() is None:
            methods.remove("ours-cpp")
        else:
            kc.build_library()
    cases = " ".join(f"{c:>11s}" for c in fe.CASES)
    for size in args.sizes.split(","):
        w, h = (int(v) for v in size.lower().split("x"))
        t0 = time.perf_counter()
        pairs = fe.make_pairs(h, w)
        print(f"\n== {w}x{h}  (LK: {rl.LKParams().n_levels(h, w)} levels; pairs generated in "
              f"{time.perf_counter() - t0:.1f} s; {args.workers} CPU workers)")
        print(f"{'method':46s} {'pairs/s':>14s}  EPE px: {cases} {'mean':>8s}")
        rows = []
        if has_cuda:
            rate, epes = bench_cuda_flow(pairs, args.batch, args.seconds)
            rows.append(("ours CUDA LK (1 GPU)", rate, epes))
        else:
            rows.append(("ours CUDA LK (1 GPU)", NA_CUDA, None))
        names = {"dis-ultrafast": "OpenCV DIS ultrafast", "dis-fast": "OpenCV DIS fast",
                 "dis-medium": "OpenCV DIS medium",
                 "farneback": "OpenCV Farneback", "ours-numpy": "ours LK, NumPy spec",
                 "ours-cpp": "ours LK, kernel code on CPU (C++)"}
        for m in methods:
            rate, epes = bench_cpu(m, pairs, args.workers, args.seconds)
            rows.append((f"{names[m]} (CPU pool)", rate, epes))
        for name, rate, epes in rows:
            e = "".join(f" {v:11.3f}" for v in epes) + f" {np.mean(epes):8.3f}" if epes else ""
            print(f"{name:46s} {fmt_rate(rate):>14s}          {e}", flush=True)
        frames = 33
        cpu_gbs = bench_numpy_energy(h, w, frames)
        if has_cuda:
            gbs, peak, copy_gbs = bench_cuda_energy(h, w, frames, min(args.seconds, 2.0))
            peak_s = f"{peak:.0f} GB/s peak" if peak else "peak unknown"
            frac = f" = {100 * gbs / peak:.0f} % of peak" if peak else ""
            print(f"motion energy: CUDA {gbs:.0f} GB/s{frac} ({peak_s}; torch copy {copy_gbs:.0f} GB/s); "
                  f"NumPy {cpu_gbs:.2f} GB/s")
        else:
            print(f"motion energy: CUDA {NA_CUDA}; NumPy {cpu_gbs:.2f} GB/s ({frames} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
