#!/usr/bin/env python
"""End to end: vla_builder against the script a researcher would write, on the same labeled input.

    python scripts/bench_e2e.py                          # 480p, 720p, 1080p; 300 frames; 3 rounds (make bench)
    python scripts/bench_e2e.py --heights 1080 --rounds 1 --frames 150
    python scripts/bench_e2e.py --stress 20              # frames lost: 20 builds of a 600-frame 720p clip under load
    python scripts/bench_e2e.py --long-s 300 --heights 1080 --rounds 1 --only vla_builder   # memory, long clip

Contenders, each in a fresh process (peak RSS = the sampled peak of its process tree's summed RSS, every 50 ms:
vla_builder's build and encoder processes together), interleaved round by round so that a machine shared
with other work slows them alike:
  vla_builder   `python -m vla_builder build` (probe, labels, decode, tracks, motion, interactions, actions,
                language, shard, merge), written at the source's size
  script        cv2 decode + lerobot's LeRobotDataset writer, default path (PNG per frame, encode at save_episode);
                state/action = the labeled hand box and its difference (the least a script does)
  script_stream the same with `streaming_encoding=True` (lerobot's encoder thread)
All three write the same codec settings (--codec/--crf/--gop/--preset). Reported: wall seconds, frames/s, peak RSS,
video frames lost (rows - frames in the written video), vla_builder's per-stage profile (seconds summed over the
clip) and import time, ratios, the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

VLA = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    import vla_builder.cli, vla_builder.work as work
    t_import = time.perf_counter() - t0
    stages = {}
    original = work.process_clip
    def profiled(task):
        outcome = original(task)
        for k, v in outcome.seconds_by_stage.items():
            stages[k] = stages.get(k, 0.0) + v
        return outcome
    work.process_clip = profiled
    import vla_builder.runners.local as local
    local.process_clip = profiled
    rc = vla_builder.cli.main(["build", sys.argv[1], "--output", sys.argv[2], "--overwrite"])
    print("BENCH " + json.dumps({"rc": rc, "wall_s": time.perf_counter() - t0, "import_s": t_import,
                                 "stages_s": stages,
                                 # the encoder's process counts too: its peak added to ours (both run at once)
                                 "peak_rss_mb": (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                                                 + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024,
                                 "encoder_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
""")

SCRIPT = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    import cv2, numpy as np
    from lerobot.configs.video import RGBEncoderConfig
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    t_import = time.perf_counter() - t0
    video, gt, out, streaming, codec, crf, gop, preset = sys.argv[1:9]
    preset = None if preset == "none" else (int(preset) if preset.isdigit() else preset)
    cap = cv2.VideoCapture(video)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = int(round(cap.get(cv2.CAP_PROP_FPS)))
    hand = {}
    for line in open(gt):
        f, tid, x, y, bw, bh, _c, cls = line.split(",")[:8]
        if int(cls) == 1:
            hand[int(f) - 1] = np.array([(float(x) + float(bw) / 2) / w, (float(y) + float(bh) / 2) / h,
                                         float(bw) / w, float(bh) / h, 0.0], np.float32)
    features = {"observation.images.front": {"dtype": "video", "shape": (h, w, 3),
                                              "names": ["height", "width", "channels"]},
                "observation.state": {"dtype": "float32", "shape": (5,), "names": None},
                "action": {"dtype": "float32", "shape": (5,), "names": None}}
    ds = LeRobotDataset.create(repo_id="bench/script", fps=fps, features=features, root=out, use_videos=True,
                               rgb_encoder=RGBEncoderConfig(vcodec=codec, crf=int(crf), g=int(gop), preset=preset),
                               video_backend="pyav", streaming_encoding=streaming == "1")
    i, prev = 0, np.zeros(5, np.float32)
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        state = hand.get(i, prev)
        ds.add_frame({"observation.images.front": cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "observation.state": state,
                      "action": state - prev, "task": "pick up the cup"})
        prev, i = state, i + 1
    ds.save_episode()
    ds.finalize()
    print("BENCH " + json.dumps({"rc": 0, "wall_s": time.perf_counter() - t0, "import_s": t_import, "stages_s": {},
                                 "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

CONTENDERS = ("vla_builder", "script", "script_stream")


def width_of(height: int) -> int:
    return int(round(height * 16 / 9 / 2)) * 2  # 16:9, even


def make_input(root: Path, height: int, frames: int, fps: int) -> Path:
    from vla_builder.synthetic import make_scene

    d = root / f"scene_{height}p_{frames}"
    if not (d / "scene.mp4").exists():
        make_scene(d, "pick_place", n_frames=frames, fps=fps, size_px=(height, width_of(height)), seed=3)
    return d


def write_recipe(scene: Path, height: int, fps: int, args) -> Path:
    preset = "" if args.preset is None else f", preset: {args.preset}"
    recipe = scene / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: bench
        sources:
          - video: scene.mp4
            labels: gt.txt
            classes: {{1: hand, 2: cup, 3: box}}
            start_s: 0
        actor: hand
        fps: {fps}
        image_size: [{height}, {width_of(height)}]
        video: {{codec: {args.codec}, crf: {args.crf}, gop: {args.gop}{preset}}}
        """))
    return recipe


def video_frames(root: Path) -> int:
    from vla_builder.sinks.encode import count_video_frames

    return sum(count_video_frames(p) for p in sorted((root / "videos").rglob("*.mp4")))


def run_sampled(cmd: list[str], env: dict) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run `cmd`; return its result and the peak RSS (MB) of its process tree (summed) and of the process alone,
    sampled every 50 ms."""
    import threading

    import psutil

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    peaks = [0, 0]

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while proc.poll() is None:
            try:
                own = root.memory_info().rss
                kids = 0
                for c in root.children(recursive=True):
                    try:
                        kids += c.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            peaks[0], peaks[1] = max(peaks[0], own + kids), max(peaks[1], own)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        out, err = proc.communicate(timeout=3600)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    sampler.join()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), peaks[0] / 2**20, peaks[1] / 2**20


def run_one(contender: str, scene: Path, height: int, fps: int, args, out: Path) -> dict:
    import shutil

    if out.exists():
        shutil.rmtree(out)  # lerobot's create() wants a fresh folder
    if contender == "vla_builder":
        cmd = [sys.executable, "-c", VLA, str(write_recipe(scene, height, fps, args)), str(out)]
    else:
        cmd = [sys.executable, "-c", SCRIPT, str(scene / "scene.mp4"), str(scene / "gt.txt"), str(out),
               "1" if contender == "script_stream" else "0", args.codec, str(args.crf), str(args.gop),
               "none" if args.preset is None else str(args.preset)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SVT_LOG": "1", "TQDM_DISABLE": "1"}
    t0 = time.perf_counter()
    res, tree_peak_mb, parent_peak_mb = run_sampled(cmd, env)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if res.returncode != 0 or line is None:
        raise SystemExit(f"{contender} at {height}p failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    r = json.loads(line[6:])
    # ru_maxrss of a child started by vfork/exec also holds the parent's high-water mark at the spawn: an upper
    # bound that grows with every encoder process started. The figure reported is the sampled peak of the process
    # tree's summed RSS (every 50 ms); the rusage sum stays in the JSON as `rusage_peak_mb`.
    r["rusage_peak_mb"], r["peak_rss_mb"], r["parent_peak_rss_mb"] = r["peak_rss_mb"], tree_peak_mb, parent_peak_mb
    import pyarrow.parquet as pq

    rows = sum(pq.read_metadata(p).num_rows for p in (out / "data").rglob("*.parquet"))
    r.update(contender=contender, height=height, rows=rows, video_frames=video_frames(out),
             process_s=time.perf_counter() - t0, dropped_warnings=res.stderr.count("dropped"))
    r["lost"] = r["rows"] - r["video_frames"]
    r["frames_per_s"] = r["rows"] / r["wall_s"]
    return r


def machine() -> dict:
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "python": sys.version.split()[0],
            "load_avg_1m_at_start": round(load[0], 2)}


def busy_loop(seconds: float):
    return subprocess.Popen([sys.executable, "-c", f"import time\nt=time.time()\nwhile time.time()-t<{seconds}: pass"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heights", type=int, nargs="+", default=[480, 720, 1080])
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    ap.add_argument("--codec", default="libsvtav1")
    ap.add_argument("--crf", type=int, default=30)
    ap.add_argument("--gop", type=int, default=2)
    ap.add_argument("--preset", default=None, help="encoder preset (default: lerobot's, SVT-AV1 12)")
    ap.add_argument("--stress", type=int, default=0, help="N vla_builder builds of a 600-frame 720p clip while "
                    "another process keeps a core busy; reports frames lost")
    ap.add_argument("--long-s", type=float, default=0, help="add a clip of this many seconds (memory check)")
    ap.add_argument("--work", type=Path, default=None, help="keep inputs here (default: a temporary folder)")
    ap.add_argument("--json", type=Path, default=None, help="write every run here")
    args = ap.parse_args()
    if args.preset is not None and args.preset.isdigit():
        args.preset = int(args.preset)
    tmp = tempfile.TemporaryDirectory()
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {json.dumps(machine())} (shared: other processes may be running; contenders interleaved)")
    runs: list[dict] = []

    if args.stress:
        scene = make_input(work, 720, 600, args.fps)
        lost = []
        for i in range(args.stress):
            hog = busy_loop(600)
            try:
                r = run_one("vla_builder", scene, 720, args.fps, args, work / f"out_stress{i}")
            finally:
                hog.kill()
            lost.append(r["lost"])
            runs.append(r)
            print(f"stress {i + 1}/{args.stress}: rows {r['rows']} video frames {r['video_frames']} lost {r['lost']}"
                  f" ({r['wall_s']:.1f} s)", flush=True)
        print(f"stress: {sum(1 for x in lost if x)} of {len(lost)} builds lost frames, {sum(lost)} frames in all")

    inputs = [(h, make_input(work, h, args.frames, args.fps)) for h in args.heights]
    if args.long_s:
        inputs.append((args.heights[-1], make_input(work, args.heights[-1], int(args.long_s * args.fps), args.fps)))
    for rnd in range(args.rounds):
        for height, scene in inputs:
            for contender in args.only:
                r = run_one(contender, scene, height, args.fps, args, work / f"out_{contender}_{height}")
                r["round"], r["input"] = rnd, scene.name
                runs.append(r)
                prof = " ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
                print(f"round {rnd} {height}p {r['rows']:5d} rows {contender:13s} {r['wall_s']:6.1f} s "
                      f"{r['frames_per_s']:6.1f} fps  peak {r['peak_rss_mb']:6.0f} MB (process {r['parent_peak_rss_mb']:.0f})  "
                      f"lost {r['lost']}  "
                      f"import {r['import_s']:.1f} s  {prof}", flush=True)

    print("\nmedians (wall s / frames per s / peak RSS MB / frames lost in all rounds):")
    print("| input | contender | wall s | frames/s | peak RSS MB | lost | vs script | vs script_stream |")
    print("|---|---|---|---|---|---|---|---|")
    for height, scene in inputs:
        rows = {}
        for c in args.only:
            rs = [r for r in runs if r["contender"] == c and r.get("input") == scene.name]
            if rs:
                rows[c] = (statistics.median(r["wall_s"] for r in rs), statistics.median(r["frames_per_s"] for r in rs),
                           max(r["peak_rss_mb"] for r in rs), sum(r["lost"] for r in rs), rs[-1]["rows"])
        for c, (wall, fps_, rss, lost, n) in rows.items():
            vs = [f"{rows[o][0] / wall:.2f}x" if o in rows and o != c else "" for o in ("script", "script_stream")]
            print(f"| {height}p {n} frames | {c} | {wall:.1f} | {fps_:.1f} | {rss:.0f} | {lost} | {vs[0]} | {vs[1]} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
