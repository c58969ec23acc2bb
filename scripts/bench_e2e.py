#!/usr/bin/env python
"""End to end: vla_builder against the transcode floor and the script a researcher would write, on the same labeled
input.

    python scripts/bench_e2e.py                          # make bench: 1080p, 300 frames, written at the source's size
                                                         # and at the default image size (480x640); 3 rounds
    python scripts/bench_e2e.py --heights 1080 --rounds 1 --frames 150 --sizes source
    python scripts/bench_e2e.py --stress 20              # frames lost: 20 builds of a 600-frame 720p clip under load
    python scripts/bench_e2e.py --long-s 300 --heights 1080 --rounds 1 --only vla_builder   # memory, long clip

Contenders, each in a fresh process, interleaved round by round so that a machine shared with other work slows them
alike:
  floor         PyAV decode -> (at another size: swscale to fit, letterboxed) -> the same encoder with the same
                options -> mp4, and nothing else: what any writer of this video must do
  vla_builder   `python -m vla_builder build` (probe, labels, decode, tracks, motion, interactions, actions,
                language, shard, merge, report)
  script        cv2 decode + lerobot's LeRobotDataset writer, default path (PNGs by 4 writer threads, as
                lerobot-record sets a camera; encode at save_episode); state/action = the labeled hand box and its
                difference (the least a script does)
  script_stream the same with `streaming_encoding=True` (lerobot's encoder thread)
  vla_builder_base  with --base DIR: the same build with the vla_builder package found in DIR (e.g. an export of
                the commit before a change: `git archive REV vla_builder | tar -x -C DIR`), interleaved with the others
Every case is run at the source's size and at the recipe's default image size (480x640, letterboxed), all with the
same codec settings (--codec/--crf/--gop/--preset). Reported per run: the 1-minute load average at its start, wall
seconds of the whole process (interpreter start to exit), CPU seconds (user + system) of its process tree and, for
vla_builder, of the build process and of its encoder process apart, peak RSS (the sampled peak of the process tree's
summed RSS, every 50 ms), video frames lost (rows - frames in the written video), vla_builder's per-stage profile and
import time; then medians over the rounds and the ratios.
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
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print("BENCH " + json.dumps({"rc": rc, "wall_s": time.perf_counter() - t0, "import_s": t_import,
                                 "stages_s": stages, "build_cpu_s": own.ru_utime + own.ru_stime,
                                 "encoder_cpu_s": kids.ru_utime + kids.ru_stime,
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
    video, gt, out, streaming, codec, crf, gop, preset, out_h, out_w = sys.argv[1:11]
    preset = None if preset == "none" else (int(preset) if preset.isdigit() else preset)
    cap = cv2.VideoCapture(video)
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    fps = int(round(cap.get(cv2.CAP_PROP_FPS)))
    out_h, out_w = int(out_h), int(out_w)  # the dataset's image size: frames scaled to fit, letterboxed
    s = min(out_w / w, out_h / h)
    fit_w, fit_h = max(2, int(round(w * s / 2)) * 2), max(2, int(round(h * s / 2)) * 2)
    y0, x0 = (out_h - fit_h) // 2, (out_w - fit_w) // 2

    def to_image(bgr):
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        if (fit_w, fit_h) == (w, h) and (out_w, out_h) == (w, h):
            return rgb
        canvas = np.zeros((out_h, out_w, 3), np.uint8)
        canvas[y0 : y0 + fit_h, x0 : x0 + fit_w] = cv2.resize(rgb, (fit_w, fit_h), interpolation=cv2.INTER_AREA)
        return canvas
    hand = {}
    for line in open(gt):
        f, tid, x, y, bw, bh, _c, cls = line.split(",")[:8]
        if int(cls) == 1:
            hand[int(f) - 1] = np.array([(float(x) + float(bw) / 2) / w, (float(y) + float(bh) / 2) / h,
                                         float(bw) / w, float(bh) / h, 0.0], np.float32)
    features = {"observation.images.front": {"dtype": "video", "shape": (out_h, out_w, 3),
                                              "names": ["height", "width", "channels"]},
                "observation.state": {"dtype": "float32", "shape": (5,), "names": None},
                "action": {"dtype": "float32", "shape": (5,), "names": None}}
    ds = LeRobotDataset.create(repo_id="bench/script", fps=fps, features=features, root=out, use_videos=True,
                               rgb_encoder=RGBEncoderConfig(vcodec=codec, crf=int(crf), g=int(gop), preset=preset),
                               video_backend="pyav", streaming_encoding=streaming == "1",
                               image_writer_threads=4)  # lerobot-record's: 4 PNG writer threads a camera
    i, prev = 0, np.zeros(5, np.float32)
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        state = hand.get(i, prev)
        ds.add_frame({"observation.images.front": to_image(bgr), "observation.state": state,
                      "action": state - prev, "task": "pick up the cup"})
        prev, i = state, i + 1
    ds.save_episode()
    ds.finalize()
    print("BENCH " + json.dumps({"rc": 0, "wall_s": time.perf_counter() - t0, "import_s": t_import, "stages_s": {},
                                 "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
""")

# The floor: what any writer of this video must do and nothing else: PyAV decode -> (at another size: swscale to fit,
# letterboxed on black) -> the same encoder with the same options -> mp4. No labels, no data rows, no lerobot.
FLOOR = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    from fractions import Fraction
    import av, numpy as np
    t_import = time.perf_counter() - t0
    video, out, height, width, vcodec, options = sys.argv[1:7]
    height, width, options = int(height), int(width), json.loads(options)
    n = 0
    with av.open(video) as src, av.open(out, "w") as dst:
        sv = src.streams.video[0]
        sv.thread_type = "AUTO"
        fps = int(round(sv.average_rate))
        enc = dst.add_stream(vcodec, fps, options=options)
        enc.pix_fmt, enc.width, enc.height, enc.time_base = "yuv420p", width, height, Fraction(1, fps)
        s = min(width / sv.width, height / sv.height)
        fit_w, fit_h = max(2, int(round(sv.width * s / 2)) * 2), max(2, int(round(sv.height * s / 2)) * 2)
        canvas = None
        if (fit_w, fit_h) != (width, height):  # letterboxed: black (Y 16, U V 128) around the scaled frame
            canvas = np.full((height * 3 // 2, width), 128, np.uint8)
            canvas[:height] = 16
            y0, x0 = (height - fit_h) // 2 // 2 * 2, (width - fit_w) // 2 // 2 * 2
        for frame in src.decode(sv):
            if canvas is not None:
                p = frame.reformat(fit_w, fit_h, "yuv420p", interpolation="AREA").to_ndarray()
                canvas[y0 : y0 + fit_h, x0 : x0 + fit_w] = p[:fit_h]
                u = canvas[height:].reshape(2, height // 2, width // 2)
                pu = p[fit_h:].reshape(2, fit_h // 2, fit_w // 2)
                u[:, y0 // 2 : (y0 + fit_h) // 2, x0 // 2 : (x0 + fit_w) // 2] = pu
                frame = av.VideoFrame.from_ndarray(canvas, format="yuv420p")
            elif frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = n, Fraction(1, fps)
            dst.mux(enc.encode(frame))
            n += 1
        dst.mux(enc.encode())
    print("BENCH " + json.dumps({"rc": 0, "wall_s": time.perf_counter() - t0, "import_s": t_import, "stages_s": {},
                                 "frames": n}))
""")

CONTENDERS = ("floor", "vla_builder", "script", "script_stream", "vla_builder_base")


def width_of(height: int) -> int:
    return int(round(height * 16 / 9 / 2)) * 2  # 16:9, even


def make_input(root: Path, height: int, frames: int, fps: int) -> Path:
    from vla_builder.synthetic import make_scene

    d = root / f"scene_{height}p_{frames}"
    if not (d / "scene.mp4").exists():
        make_scene(d, "pick_place", n_frames=frames, fps=fps, size_px=(height, width_of(height)), seed=3)
    return d


def write_recipe(scene: Path, size_hw: tuple[int, int], fps: int, args) -> Path:
    preset = "" if args.preset is None else f", preset: {args.preset}"
    recipe = scene / f"recipe_{size_hw[0]}x{size_hw[1]}.yaml"
    recipe.write_text(textwrap.dedent(f"""\
        name: bench
        sources:
          - video: scene.mp4
            labels: gt.txt
            classes: {{1: hand, 2: cup, 3: box}}
            start_s: 0
        actor: hand
        fps: {fps}
        image_size: [{size_hw[0]}, {size_hw[1]}]
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


def codec_options(args) -> dict:
    """The encoder options every contender uses: lerobot's RGBEncoderConfig's for these settings."""
    from vla_builder.sinks.encode import EncodeSettings

    return EncodeSettings(vcodec=args.codec, crf=args.crf, g=args.gop, preset=args.preset).get_codec_options(True)


def run_one(contender: str, scene: Path, size_hw: tuple[int, int], fps: int, args, out: Path) -> dict:
    """One contender, one build, in a fresh process: wall seconds of the whole process (interpreter start to exit),
    CPU seconds of its process tree (user + system, from the kernel's accounting of the reaped children), peak RSS,
    rows and video frames written."""
    import resource
    import shutil

    if out.exists():
        shutil.rmtree(out)  # lerobot's create() wants a fresh folder
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SVT_LOG": "1", "TQDM_DISABLE": "1"}
    if contender in ("vla_builder", "vla_builder_base"):
        # -P: not the current folder first on sys.path, so that PYTHONPATH (--base) picks the package that runs
        cmd = [sys.executable, "-P", "-c", VLA, str(write_recipe(scene, size_hw, fps, args)), str(out)]
        if contender == "vla_builder_base":
            env["PYTHONPATH"] = str(args.base.resolve())
    elif contender == "floor":
        (out / "videos").mkdir(parents=True)
        cmd = [sys.executable, "-c", FLOOR, str(scene / "scene.mp4"), str(out / "videos" / "floor.mp4"),
               str(size_hw[0]), str(size_hw[1]), args.codec, json.dumps(codec_options(args))]
    else:
        cmd = [sys.executable, "-c", SCRIPT, str(scene / "scene.mp4"), str(scene / "gt.txt"), str(out),
               "1" if contender == "script_stream" else "0", args.codec, str(args.crf), str(args.gop),
               "none" if args.preset is None else str(args.preset), str(size_hw[0]), str(size_hw[1])]
    load_at_start = round(os.getloadavg()[0], 2)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res, tree_peak_mb, parent_peak_mb = run_sampled(cmd, env)
    process_s = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("BENCH ")), None)
    if res.returncode != 0 or line is None:
        raise SystemExit(f"{contender} at {size_hw} failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    r = json.loads(line[6:])
    # ru_maxrss of a child started by vfork/exec also holds the parent's high-water mark at the spawn: an upper
    # bound that grows with every encoder process started. The figure reported is the sampled peak of the process
    # tree's summed RSS (every 50 ms); the rusage sum stays in the JSON as `rusage_peak_mb`.
    r["rusage_peak_mb"], r["peak_rss_mb"], r["parent_peak_rss_mb"] = r.get("peak_rss_mb"), tree_peak_mb, parent_peak_mb
    import pyarrow.parquet as pq

    n_video = video_frames(out)
    rows = sum(pq.read_metadata(p).num_rows for p in (out / "data").rglob("*.parquet")) if contender != "floor" \
        else r["frames"]
    r.update(contender=contender, height=size_hw[0], size_hw=list(size_hw), rows=rows, video_frames=n_video,
             inner_wall_s=r["wall_s"], wall_s=process_s, load_avg_1m_at_start=load_at_start,
             cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
             dropped_warnings=res.stderr.count("dropped"))
    r["lost"] = r["rows"] - r["video_frames"]
    r["frames_per_s"] = r["rows"] / r["wall_s"]
    return r


DEFAULT_IMAGE_SIZE = (480, 640)  # the recipe's default image_size (h, w): what most users write


def machine() -> dict:
    return {"cpus": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "python": sys.version.split()[0],
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def busy_loop(seconds: float):
    return subprocess.Popen([sys.executable, "-c", f"import time\nt=time.time()\nwhile time.time()-t<{seconds}: pass"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heights", type=int, nargs="+", default=[1080], help="source heights (16:9)")
    ap.add_argument("--sizes", nargs="+", choices=("source", "default"), default=["source", "default"],
                    help="written image size: the source's own, and/or the recipe default (480x640)")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=CONTENDERS, default=None,
                    help="contenders (default: all; vla_builder_base only with --base)")
    ap.add_argument("--base", type=Path, default=None,
                    help="a folder holding another vla_builder package: adds the contender vla_builder_base")
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
    if args.only is None:
        args.only = [c for c in CONTENDERS if c != "vla_builder_base" or args.base is not None]
    if "vla_builder_base" in args.only and args.base is None:
        ap.error("vla_builder_base needs --base DIR")
    if args.preset is not None and args.preset.isdigit():
        args.preset = int(args.preset)
    tmp = tempfile.TemporaryDirectory()
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    at_start = machine()
    print(f"machine: {json.dumps(at_start)} (shared: other processes may be running; contenders interleaved)")
    runs: list[dict] = []

    if args.stress:
        scene = make_input(work, 720, 600, args.fps)
        lost = []
        for i in range(args.stress):
            hog = busy_loop(600)
            try:
                r = run_one("vla_builder", scene, (720, width_of(720)), args.fps, args, work / f"out_stress{i}")
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
    cases = [(height, scene, (height, width_of(height)) if size == "source" else DEFAULT_IMAGE_SIZE)
             for height, scene in inputs for size in args.sizes]
    for rnd in range(args.rounds):
        for height, scene, size_hw in cases:
            for contender in args.only:
                r = run_one(contender, scene, size_hw, args.fps, args,
                            work / f"out_{contender}_{height}_{size_hw[0]}x{size_hw[1]}")
                r["round"], r["input"] = rnd, scene.name
                runs.append(r)
                prof = " ".join(f"{k} {v:.1f}" for k, v in r["stages_s"].items())
                cpu = (f" (build {r['build_cpu_s']:.1f} + encoder {r['encoder_cpu_s']:.1f})"
                       if "build_cpu_s" in r else "")
                print(f"round {rnd} {height}p -> {size_hw[0]}x{size_hw[1]} {r['rows']:5d} rows {contender:13s} "
                      f"load {r['load_avg_1m_at_start']:4.1f}  {r['wall_s']:6.1f} s  cpu {r['cpu_s']:5.1f} s{cpu}  "
                      f"peak {r['peak_rss_mb']:5.0f} MB (process {r['parent_peak_rss_mb']:.0f})  lost {r['lost']}  "
                      f"import {r['import_s']:.1f} s  {prof}", flush=True)

    print("\nmedians over rounds (wall s of the whole process; CPU s of its process tree; peak RSS MB, the highest; "
          "frames lost, all rounds; load average (1 min) at each run's start, lowest-highest):")
    print("| input -> written | contender | wall s | CPU s | frames/s | peak RSS MB | lost | load at start "
          "| vs floor | vs script | vs script_stream |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for height, scene, size_hw in cases:
        rows = {}
        for c in args.only:
            rs = [r for r in runs if r["contender"] == c and r.get("input") == scene.name and
                  r["size_hw"] == list(size_hw)]
            if rs:
                loads = [r["load_avg_1m_at_start"] for r in rs]
                rows[c] = (statistics.median(r["wall_s"] for r in rs), statistics.median(r["cpu_s"] for r in rs),
                           statistics.median(r["frames_per_s"] for r in rs), max(r["peak_rss_mb"] for r in rs),
                           sum(r["lost"] for r in rs), rs[-1]["rows"], f"{min(loads):.1f}-{max(loads):.1f}")
        for c, (wall, cpu, fps_, rss, lost, n, load) in rows.items():
            vs = [f"{wall / rows[o][0]:.2f}x" if o == "floor" and o in rows and o != c else
                  f"{rows[o][0] / wall:.2f}x faster" if o in rows and o != c else ""
                  for o in ("floor", "script", "script_stream")]
            print(f"| {height}p {n} frames -> {size_hw[0]}x{size_hw[1]} | {c} | {wall:.1f} | {cpu:.1f} | {fps_:.1f} "
                  f"| {rss:.0f} | {lost} | {load} | {vs[0]} | {vs[1]} | {vs[2]} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": at_start, "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
                                         "runs": runs}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
