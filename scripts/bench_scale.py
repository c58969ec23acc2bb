#!/usr/bin/env python
"""Does a build scale? Cost per clip and peak memory for corpora of 10 .. 200 clips, one run each.

    python scripts/bench_scale.py                 # 10, 50, 200 clips (about 5 minutes on 2 cores)
    python scripts/bench_scale.py --sizes 10 20   # quicker

Each corpus is made of small synthetic labeled clips (24 frames, 96x128, the four scenarios in turn); each build
runs in a fresh process whose peak RSS (ru_maxrss) is reported. Cost per clip should stay flat (within 20%) and
peak memory should not grow with the number of clips: clips are processed one at a time and written as shards.

    python scripts/bench_scale.py --workers 1 2   # Ray: 1 vs 2 workers, memory per worker, a 1,000-hour estimate

Workers mode: one corpus of labeled clips at the size a dataset is written (480x640, 30 fps, 2 s each), built by the
local runner and by a local Ray with 1 and 2 workers, each in a fresh process. Per clip the worker reports its CPU
seconds (its encoder process included) and its peak RSS; from the CPU seconds per frame, on paper: the node-hours to
convert 1,000 hours of video on CPU nodes, and on GPU nodes, where decode and motion leave the CPUs for the GPU at
the rates BENCHMARKS.md's GPU run measured (taken from there, not measured by this script).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

WRAPPER = textwrap.dedent("""
    import json, resource, sys, time
    from vla_builder.cli import main
    t0 = time.perf_counter()
    rc = main(["build", sys.argv[1], "--overwrite"])
    wall = time.perf_counter() - t0
    print("BENCH " + json.dumps({"rc": rc, "wall_s": wall,
                                 "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")


def make_corpus(root: Path, n: int) -> None:
    from vla_builder import synthetic

    synthetic.make_corpus(root, n, name="scale", output="out")


def run(n: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_corpus(root, n)
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-c", WRAPPER, str(root / "recipe.yaml")], cwd=root,
                             capture_output=True, text=True)
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCH ")), None)
        if line is None or res.returncode != 0:
            raise SystemExit(f"build of {n} clips failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
        out = json.loads(line[6:])
        # the log's per-clip lines give the processing time; the rest is start-up and the merge
        clip_s = sum(float(ln.split(" in ")[1].split(" s")[0]) for ln in res.stdout.splitlines()
                     if ln.strip().startswith("done"))
        out.update(n=n, total_s=time.perf_counter() - t0, clips_s=clip_s)
        return out


WORKERS_WRAPPER = textwrap.dedent("""
    import json, resource, sys, time
    from vla_builder.build import build
    from vla_builder.recipe import load_recipe

    stamps, outcomes = [], []

    class Progress:
        def start(self, total, resumed):
            pass

        def advance(self, o):
            stamps.append(time.perf_counter())
            outcomes.append({"worker": o.worker, "peak_rss_mb": o.peak_rss_mb, "cpu_s": o.cpu_s, "frames": o.frames,
                             "seconds_by_stage": o.seconds_by_stage, "ok": o.failure is None})

    t0 = time.perf_counter()
    report = build(load_recipe(sys.argv[1]), runner=sys.argv[2], progress=Progress(), log=lambda m: None)
    wall = time.perf_counter() - t0
    print("BENCH " + json.dumps({"rc": report.exit_code, "wall_s": wall, "first_s": stamps[0] - t0,
                                 "last_s": stamps[-1] - t0, "outcomes": outcomes,
                                 "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

# BENCHMARKS.md, "GPU checks" (one H200, 2026-11-30): rates at 1920x1080, used as they are (a 480x640 frame is ~1/7
# of the pixels: conservative)
GPU_NVDEC_FPS = 1561.9  # PyNvVideoCodec, 8 processes, 1800-frame 1080p H.264
GPU_LK_PAIRS_S = 1738.0  # our CUDA LK, 1080p
GPU_NODE_CPUS = 16  # the lent H100 / H200 machines: 16 CPU cores beside the GPU
HOURS = 1000


def make_workers_corpus(root: Path, n: int, seconds: float, fps: int, size: tuple[int, int]) -> None:
    from vla_builder.synthetic import make_scene

    for i in range(n):
        make_scene(root / f"clip{i:04d}", ("pick_place", "push", "idle", "pan")[i % 4], n_frames=int(seconds * fps),
                   fps=fps, size_px=size, seed=i)
    for runner in ("local", "ray1", "ray2"):
        workers = runner[3:] if runner != "local" else "1"
        (root / f"recipe_{runner}.yaml").write_text(
            f"name: scale\nsources:\n  - video: clip*/scene.mp4\n    labels: \"{{dir}}/gt.txt\"\n"
            f"    classes: {{1: hand, 2: cup, 3: box}}\nactor: hand\nfps: {fps}\nimage_size: [{size[0]}, {size[1]}]\n"
            f"output: out_{runner}\nrunner: {{kind: {'local' if runner == 'local' else 'ray'}, num_workers: {workers}}}\n")


def run_workers(root: Path, runner: str) -> dict:
    kind = "local" if runner == "local" else "ray"
    res = subprocess.run([sys.executable, "-c", WORKERS_WRAPPER, str(root / f"recipe_{runner}.yaml"), kind], cwd=root,
                         capture_output=True, text=True)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if line is None or res.returncode != 0:
        raise SystemExit(f"{runner} build failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    out = json.loads(line[6:])
    if out["rc"] != 0 or not all(o["ok"] for o in out["outcomes"]):
        raise SystemExit(f"{runner} build had failures: {out}")
    return out


def decode_cpu_s(root: Path) -> float:
    """CPU seconds per frame to decode the corpus to RGB (PyAV, every thread counted): what NVDEC takes over."""
    import av

    frames, t0 = 0, time.process_time()
    for f in sorted(root.glob("clip*/scene.mp4")):
        with av.open(str(f)) as c:
            for fr in c.decode(video=0):
                fr.to_ndarray(format="rgb24")
                frames += 1
    return (time.process_time() - t0) / frames


def workers_main(args) -> int:
    size = tuple(args.size)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}; "
          f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"corpus: {args.clips} clips x {args.seconds} s at {size[0]}x{size[1]}, {args.fps} fps "
          f"({int(args.clips * args.seconds * args.fps)} frames)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_workers_corpus(root, args.clips, args.seconds, args.fps, size)
        runs = {r: run_workers(root, r) for r in ("local", "ray1", "ray2")}
        decode_cpu_per_frame = decode_cpu_s(root)
    print(f"{'runner':<8} {'wall s':>7} {'clips/s':>8} {'steady clips/s':>15} {'workers':>8} "
          f"{'peak RSS MB / worker':>21} {'driver MB':>10}")
    for name, r in runs.items():
        n = len(r["outcomes"])
        steady = (n - 1) / (r["last_s"] - r["first_s"]) if r["last_s"] > r["first_s"] else float("nan")
        by_worker: dict[str, float] = {}
        for o in r["outcomes"]:
            by_worker[o["worker"]] = max(by_worker.get(o["worker"], 0.0), o["peak_rss_mb"])
        r["steady"] = steady
        print(f"{name:<8} {r['wall_s']:>7.1f} {n / r['wall_s']:>8.3f} {steady:>15.3f} {len(by_worker):>8} "
              f"{', '.join(f'{v:.0f}' for v in by_worker.values()):>21} {r['driver_peak_rss_mb']:>10.0f}")
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"2 workers vs 1: wall {runs['ray1']['wall_s'] / runs['ray2']['wall_s']:.2f}x, "
          f"steady {runs['ray2']['steady'] / runs['ray1']['steady']:.2f}x (ideal 2.00x on 2 idle cores)")
    # CPU cost per frame: every clip of every run but each worker's first (its imports and set-up); load from other
    # work inflates wall time, much less CPU time
    outs, seen = [], set()
    for r in runs.values():
        for o in r["outcomes"]:
            (outs.append(o) if o["worker"] in seen else seen.add(o["worker"]))
    frames = sum(o["frames"] for o in outs)
    cpu_per_frame = sum(o["cpu_s"] for o in outs) / frames
    stage = lambda k: sum(o["seconds_by_stage"].get(k, 0.0) for o in outs) / frames  # noqa: E731
    print(f"per frame ({len(outs)} clips, each worker's first left out): {1000 * cpu_per_frame:.1f} CPU-ms (worker + "
          "encoder); stage wall ms: "
          + ", ".join(f"{k} {1000 * stage(k):.1f}" for k in sorted({k for o in outs for k in o["seconds_by_stage"]},
                                                                      key=lambda k: -stage(k))))
    total_frames = HOURS * 3600 * args.fps
    cpu_node_h = total_frames * cpu_per_frame / 3600 / args.cpu_node_cores
    # on a GPU node decoding (measured here in CPU seconds) and motion (the stage's wall time: one thread's work) leave
    # the CPUs; the encoder, the writer and the other stages stay
    gpu_cpu_per_frame = cpu_per_frame - decode_cpu_per_frame - stage("motion")
    print(f"decode alone: {1000 * decode_cpu_per_frame:.1f} CPU-ms a frame (PyAV to RGB)")
    gpu_node_fps = min(GPU_NODE_CPUS / gpu_cpu_per_frame, GPU_NVDEC_FPS, GPU_LK_PAIRS_S)
    gpu_node_h = total_frames / gpu_node_fps / 3600
    print(f"{HOURS:,} hours at {args.fps} fps = {total_frames / 1e6:.0f} M frames:")
    print(f"  CPU nodes ({args.cpu_node_cores} cores, a worker per core): {cpu_node_h:,.0f} node-hours "
          f"= {cpu_node_h / 24:,.0f} nodes for one day")
    print(f"  GPU nodes (1 GPU + {GPU_NODE_CPUS} cores; NVDEC {GPU_NVDEC_FPS:.0f} fps and CUDA LK "
          f"{GPU_LK_PAIRS_S:.0f} pairs/s at 1080p from BENCHMARKS.md's H200 run): "
          f"{1000 * gpu_cpu_per_frame:.1f} CPU-ms a frame left -> {gpu_node_fps:.0f} frames/s a node, "
          f"{gpu_node_h:,.0f} node-hours = {gpu_node_h / 24:,.0f} nodes for one day")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    ap.add_argument("--workers", action="store_true", help="Ray: local vs 1 vs 2 workers, and the 1,000-hour estimate")
    ap.add_argument("--clips", type=int, default=8, help="workers mode: clips in the corpus")
    ap.add_argument("--seconds", type=float, default=2.0, help="workers mode: seconds per clip")
    ap.add_argument("--fps", type=int, default=30, help="workers mode: source and dataset fps")
    ap.add_argument("--size", type=int, nargs=2, default=[480, 640], help="workers mode: frame size (h w)")
    ap.add_argument("--cpu-node-cores", type=int, default=32, help="workers mode: cores of a CPU node (estimate)")
    args = ap.parse_args()
    if args.workers:
        return workers_main(args)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    one = run(1)  # the fixed cost of a build (imports, planning, one shard, merge): subtracted below
    rows = [run(n) for n in args.sizes]
    print(f"fixed cost (a 1-clip build): {one['wall_s']:.1f} s, peak RSS {one['peak_rss_mb']:.0f} MB")
    print(f"{'clips':>6} {'wall s':>8} {'s/clip':>8} {'marginal s/clip':>16} {'stages+shard s/clip':>20} "
          f"{'peak RSS MB':>12}")
    for r in rows:
        r["marginal"] = (r["wall_s"] - one["wall_s"]) / (r["n"] - 1)
        print(f"{r['n']:>6} {r['wall_s']:>8.1f} {r['wall_s'] / r['n']:>8.3f} {r['marginal']:>16.3f} "
              f"{r['clips_s'] / r['n']:>20.3f} {r['peak_rss_mb']:>12.0f}")
    base = rows[0]["marginal"]
    worst = max(abs(r["marginal"] / base - 1) for r in rows)
    mem = max(r["peak_rss_mb"] for r in rows) / min(r["peak_rss_mb"] for r in rows)
    print(f"marginal cost per clip varies by {100 * worst:.0f}% from {rows[0]['n']} to {rows[-1]['n']} clips "
          f"(target <= 20%); peak memory largest/smallest {mem:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
