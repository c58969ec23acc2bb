#!/usr/bin/env python
"""A whole build on a GPU against real time (issue 25), and the same build on the machine's CPUs for the ratio.

    python scripts/bench_gpu_build.py --out DIR              # on a GPU machine (scripts/gpu_check.sh, check e2e)
    python scripts/bench_gpu_build.py --out DIR --dry-run    # anywhere: tiny clips; GPU builds say why they cannot
                                                             # run ("no CUDA: ..."), the CPU builds run and validate

The clip set is made here, on the machine that builds: CLIPS labeled 1080p30 H.264 clips of SECONDS each (synthetic
pick-and-place scenes with exact labels, `synthetic.make_scene`; two distinct scenes rendered in parallel and linked
under CLIPS names — each name is its own clip and episode) and one clip of DET_SECONDS without labels, which takes
the detector path (YOLO + ByteTrack, `tests/assets/detector/synthetic_yolo.pt`).

GPU builds: `decoder: nvdec`, `motion: {method: lk, impl: cuda}`, `detector.device: cuda`. CPU builds (the ratio):
`decoder: auto`, `motion: {method: dis}`, detector on the CPU, on each clip's first CPU_SECONDS (the same content,
shorter: the ratio is of frames/s). Each at W worker processes — the local runner in W processes, CLIPS / max(W)
clips each (weak scaling: every build takes about the same wall time; one dataset per worker, the merge is not what
is measured; Ray is not in the bundle), the unlabeled clip to the last worker too — and at two image sizes:
lerobot's default 480x640 and the source's 1080x1920. The builds run in order of value (the most workers first, the
GPU build beside its CPU twin), each under --build-limit-s, so a run cut short keeps the figures that matter most.

Figures per build: x real time (seconds of video built / wall seconds), frames/s, frames/s of each stage (frames /
the stage's seconds summed over clips), GPU utilisation (SM and NVDEC, mean and max) and peak GPU memory
(`nvidia-smi` every 0.25 s), the encoder processes' share of the build's CPU seconds, peak host memory (the process
trees' summed RSS, every 0.25 s), and `validate` on every dataset written by the 8-worker builds. Everything goes to
OUT/gpu_build.json, rewritten after each build; the table is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from bench_e2e import VLA  # noqa: E402 — the profiled build command (stage seconds, peak RSS) of the CPU bench

WEIGHTS = ROOT / "tests" / "assets" / "detector" / "synthetic_yolo.pt"
CLASSES = "{1: hand, 2: cup, 3: box}"
SIZES = {"480x640": (480, 640), "source": None}  # (h, w); None: the source's own size


def gpu_missing() -> str | None:
    """Why this machine cannot run the GPU build (CUDA, NVDEC, our CUDA kernels); None if it can."""
    try:
        import torch

        if not torch.cuda.is_available():
            return "no CUDA (torch.cuda.is_available() is False)"
    except Exception as e:  # noqa: BLE001 — torch missing or broken
        return f"no CUDA (torch not importable: {type(e).__name__})"
    from vla_builder.kernels import KernelUnavailable
    from vla_builder.sources.gpu_decode import runtime_reason
    from vla_builder.stages.motion import MotionConfig, resolve_backend

    why = runtime_reason()
    if why:
        return f"no NVDEC: {why}"
    try:
        resolve_backend(MotionConfig(method="lk", impl="cuda"))
    except KernelUnavailable as e:
        return f"no CUDA LK kernels: {e}"
    return None


def machine() -> dict:
    out = {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}
    try:
        import torch

        out["torch"] = torch.__version__
        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # noqa: BLE001
        pass
    smi = shutil.which("nvidia-smi")
    if smi:
        res = subprocess.run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True)
        out["nvidia_smi"] = res.stdout.strip().splitlines()[0] if res.stdout.strip() else res.stderr.strip()[:200]
    return out


# -- the clip set --------------------------------------------------------------------------------------------------

def _render(args: tuple) -> None:
    from vla_builder.synthetic import make_scene

    folder, scenario, frames, fps, size, seed = args
    make_scene(folder, scenario, n_frames=frames, fps=fps, size_px=size, seed=seed)


def make_clip_set(work: Path, clips: int, seconds: float, det_seconds: float, size: tuple[int, int],
                  fps: int) -> tuple[list[Path], Path | None]:
    """(labeled clip folders, the unlabeled clip's video or None): each folder has scene.mp4 and gt.txt."""
    from concurrent.futures import ProcessPoolExecutor

    frames, det_frames = int(round(seconds * fps)), int(round(det_seconds * fps))
    jobs = [(work / "scene_a", "pick_place", frames, fps, size, 1), (work / "scene_b", "pick_place", frames, fps, size, 2)]
    if det_frames:
        jobs.append((work / "scene_det", "push", det_frames, fps, size, 3))
    jobs = [j for j in jobs if not (j[0] / "scene.mp4").exists()]
    with ProcessPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        list(pool.map(_render, jobs))
    folders = []
    for i in range(clips):
        d = work / f"clip{i:02d}"
        d.mkdir(exist_ok=True)
        src = work / ("scene_a" if i % 2 == 0 else "scene_b")
        for name in ("scene.mp4", "gt.txt"):
            if not (d / name).exists():
                os.link(src / name, d / name)
        folders.append(d)
    return folders, (work / "scene_det" / "scene.mp4") if det_frames else None


def write_recipe(path: Path, clips: list[Path], det_video: Path | None, gpu: bool, image_hw: tuple[int, int],
                 fps: int, det_imgsz: int, end_s: float | None = None) -> Path:
    """A recipe for one worker; `end_s`: only each clip's first seconds (the CPU builds: same content, shorter)."""
    lines = ["name: gpu_e2e", "sources:"]
    span = [f"    start_s: 0", f"    end_s: {end_s}"] if end_s else []
    for d in clips:
        lines += [f"  - video: {d / 'scene.mp4'}", f"    labels: {d / 'gt.txt'}", f"    classes: {CLASSES}", *span]
    if det_video is not None:
        lines += [f"  - video: {det_video}", *span]  # no labels: tracks from the detector
    lines += ["actor: hand", f"fps: {fps}", f"image_size: [{image_hw[0]}, {image_hw[1]}]",
              f"decoder: {'nvdec' if gpu else 'auto'}",
              f"motion: {{method: {'lk, impl: cuda' if gpu else 'dis'}}}",
              f"detector: {{weights: {WEIGHTS}, imgsz: {det_imgsz}, device: {'cuda' if gpu else 'cpu'}}}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def deal(clips: list[Path], det_video: Path | None, workers: int, per_worker: int) -> list[tuple[list[Path], Path | None]]:
    """`per_worker` clips to each of `workers` (weak scaling: every build takes about the same wall time), the
    unlabeled clip to the last worker as well."""
    used = clips[: workers * per_worker]
    return [(used[w::workers], det_video if w == workers - 1 else None) for w in range(workers)]


# -- sampling ------------------------------------------------------------------------------------------------------

class GpuSampler:
    """`nvidia-smi` every 0.25 s: SM and decoder utilisation (%), memory used (MiB)."""

    QUERY = "utilization.gpu,utilization.decoder,memory.used"

    def __init__(self):
        self.rows: list[tuple[float, float, float]] = []
        smi = shutil.which("nvidia-smi")
        self.proc = None if smi is None else subprocess.Popen(
            [smi, f"--query-gpu={self.QUERY}", "--format=csv,noheader,nounits", "-lms", "250"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        if self.proc is not None:
            self.thread.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            row = parse_smi_line(line)
            if row is not None:
                self.rows.append(row)

    def stop(self) -> dict | None:
        if self.proc is None:
            return None
        self.proc.terminate()
        self.proc.wait()
        self.thread.join(timeout=2)
        return summarize_gpu(self.rows)


def parse_smi_line(line: str) -> tuple[float, float, float] | None:
    """'87, 45, 10240' -> (87.0, 45.0, 10240.0); a GPU's first line only ('[N/A]' and blank lines: None)."""
    try:
        sm, dec, mem = (float(x) for x in line.strip().split(",")[:3])
    except ValueError:
        return None
    return sm, dec, mem


def summarize_gpu(rows: list[tuple[float, float, float]]) -> dict:
    if not rows:
        return {"samples": 0}
    n = len(rows)
    return {"samples": n, "sm_util_mean_pct": round(sum(r[0] for r in rows) / n, 1),
            "sm_util_max_pct": max(r[0] for r in rows), "nvdec_util_mean_pct": round(sum(r[1] for r in rows) / n, 1),
            "nvdec_util_max_pct": max(r[1] for r in rows), "gpu_memory_peak_mib": max(r[2] for r in rows)}


class ProcessSampler:
    """The build processes and their children every 0.25 s: summed RSS (peak) and each process's CPU seconds, the
    encoder processes (`sinks/encode_worker.py`) told apart."""

    def __init__(self, pids: list[int]):
        import psutil

        self.psutil = psutil
        self.roots = [psutil.Process(p) for p in pids]
        self.cpu_s: dict[int, tuple[bool, float]] = {}  # pid -> (is encoder, user+system seconds when last seen)
        self.peak_rss = 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        ps = self.psutil
        while not self.done.is_set():
            rss = 0
            for root in self.roots:
                try:
                    procs = [root, *root.children(recursive=True)]
                except ps.Error:
                    continue
                for p in procs:
                    try:
                        with p.oneshot():
                            rss += p.memory_info().rss
                            t = p.cpu_times()
                            enc = any("encode_worker" in part for part in p.cmdline())
                        self.cpu_s[p.pid] = (enc, t.user + t.system)  # children are sampled themselves
                    except ps.Error:
                        pass
            self.peak_rss = max(self.peak_rss, rss)
            self.done.wait(0.25)

    def stop(self) -> dict:
        self.done.set()
        self.thread.join(timeout=2)
        return cpu_summary(self.cpu_s, self.peak_rss)


def cpu_summary(cpu_s: dict[int, tuple[bool, float]], peak_rss: int) -> dict:
    total = sum(s for _enc, s in cpu_s.values())
    enc = sum(s for is_enc, s in cpu_s.values() if is_enc)
    return {"cpu_s": round(total, 1), "encoder_cpu_s": round(enc, 1),
            "encoder_cpu_share": round(enc / total, 3) if total else None,
            "host_memory_peak_mib": round(peak_rss / 2**20)}


# -- one build -----------------------------------------------------------------------------------------------------

def count_rows(out: Path) -> int:
    import pyarrow.parquet as pq

    return sum(pq.read_metadata(p).num_rows for p in (out / "data").rglob("*.parquet"))


def run_build(name: str, shares, gpu: bool, image_hw: tuple[int, int], args, work: Path,
              end_s: float | None = None) -> dict:
    folder = work / "builds" / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "YOLO_OFFLINE": "1", "TQDM_DISABLE": "1",
           "SVT_LOG": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmds = []
    for w, (clips, det) in enumerate(shares):
        recipe = write_recipe(folder / f"recipe{w}.yaml", clips, det, gpu, image_hw, args.fps, args.det_imgsz, end_s)
        cmds.append([sys.executable, "-c", VLA, str(recipe), str(folder / f"out{w}")])
    gpu_sampler = GpuSampler()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder)
             for c in cmds]
    sampler = ProcessSampler([p.pid for p in procs])
    results = []
    for p in procs:
        try:
            results.append(p.communicate(timeout=max(1.0, args.build_limit_s - (time.perf_counter() - t0))))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            results.append((out, err + f"\ntimed out after {args.build_limit_s} s (--build-limit-s)"))
    wall = time.perf_counter() - t0
    cpu = sampler.stop()
    gpu_figs = gpu_sampler.stop()
    stages: dict[str, float] = {}
    failures = []
    for w, ((out, err), p) in enumerate(zip(results, procs, strict=True)):
        line = next((ln for ln in out.splitlines() if ln.startswith("BENCH ")), None)
        if p.returncode != 0 or line is None:
            failures.append(f"worker {w}: exit {p.returncode}: {(err or out).strip().splitlines()[-1:]}")
            continue
        for k, v in json.loads(line[6:])["stages_s"].items():
            stages[k] = stages.get(k, 0.0) + v
        (folder / f"log{w}.txt").write_text(out + err)
    frames = sum(count_rows(folder / f"out{w}") for w in range(len(shares)) if (folder / f"out{w}" / "data").is_dir())
    video_s = frames / args.fps
    return {"build": name, "device": "gpu" if gpu else "cpu", "workers": len(shares), "image_hw": list(image_hw),
            "clips": sum(len(c) + (d is not None) for c, d in shares), "frames": frames, "video_s": round(video_s, 1),
            "wall_s": round(wall, 1), "x_real_time": round(video_s / wall, 2) if wall else None,
            "frames_per_s": round(frames / wall, 1) if wall else None,
            "stage_s": {k: round(v, 1) for k, v in stages.items()},
            "stage_frames_per_s": {k: round(frames / v, 1) for k, v in stages.items() if v > 0},
            "gpu": gpu_figs, **cpu, "failures": failures, "outputs": [str(folder / f"out{w}") for w in range(len(shares))]}


def validate_outputs(outputs: list[str]) -> list[dict]:
    def one(out: str) -> dict:
        res = subprocess.run([sys.executable, "-m", "vla_builder", "validate", out], capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])})
        last = (res.stdout + res.stderr).strip().splitlines()[-1:] or [""]
        return {"output": out, "ok": res.returncode == 0, "says": last[0][:300]}

    with ThreadPoolExecutor(max_workers=max(1, len(outputs))) as pool:
        return list(pool.map(one, outputs))


def plan(workers: list[int], sizes: list[str]) -> list[tuple[str, bool, int]]:
    """(size, gpu, workers) in order of value: the most workers first, GPU beside CPU, default size before source."""
    order = []
    for w in sorted(workers, reverse=True):
        for size in sizes:
            for gpu in (True, False):
                if gpu or w == max(workers):  # the CPU ratio at the most workers (the machine's best on CPUs)
                    order.append((size, gpu, w))
    return order


def table(results: list[dict]) -> str:
    rows = ["| build | workers | size | frames | wall s | x real time | frames/s | decode / motion / sink fps | "
            "SM % mean/max | NVDEC % | GPU MiB | encoder CPU share | host MiB |", "|" + "---|" * 13]
    for r in results:
        if "skipped" in r:
            rows.append(f"| {r['build']} | {r['workers']} | {r['size']} | skipped: {r['skipped']} |" + " |" * 9)
            continue
        g = r.get("gpu") or {}
        sf = r["stage_frames_per_s"]
        rows.append(f"| {r['build']} | {r['workers']} | {'x'.join(map(str, r['image_hw']))} | {r['frames']} | "
                    f"{r['wall_s']} | {r['x_real_time']} | {r['frames_per_s']} | "
                    f"{sf.get('decode', '-')} / {sf.get('motion', '-')} / {sf.get('sink', '-')} | "
                    f"{g.get('sm_util_mean_pct', '-')}/{g.get('sm_util_max_pct', '-')} | "
                    f"{g.get('nvdec_util_mean_pct', '-')} | {g.get('gpu_memory_peak_mib', '-')} | "
                    f"{r['encoder_cpu_share']} | {r['host_memory_peak_mib']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True, help="gpu_build.json goes here")
    ap.add_argument("--work", type=Path, default=None, help="clips and datasets (default: a temporary folder)")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--det-seconds", type=float, default=10.0)
    ap.add_argument("--size", default="1920x1080", help="source WxH")
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--workers", type=int, nargs="+", default=[8, 4, 1])
    ap.add_argument("--sizes", nargs="+", choices=list(SIZES), default=list(SIZES))
    ap.add_argument("--cpu-seconds", type=float, default=20.0,
                    help="the CPU builds take each clip's first seconds only (the ratio is of frames/s)")
    ap.add_argument("--build-limit-s", type=float, default=240.0, help="a build still running then is stopped")
    ap.add_argument("--det-imgsz", type=int, default=320)
    ap.add_argument("--dry-run", action="store_true",
                    help="a tiny clip set (2 s and 1 s unlabeled at 320x180), one worker at the source's size: "
                         "every step of the script, in a minute or two on a CPU machine")
    args = ap.parse_args(argv)
    if args.dry_run:
        args.clips, args.seconds, args.det_seconds, args.size, args.workers = 1, 2.0, 1.0, "320x180", [1]
        args.cpu_seconds, args.sizes = None, ["source"]
    w_px, h_px = (int(x) for x in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    report_path = args.out / "gpu_build.json"
    tmp = tempfile.TemporaryDirectory(prefix="vla_gpu_build_")
    work = args.work or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    missing = gpu_missing()
    report = {"machine": machine(), "gpu_missing": missing, "clip_set": {}, "builds": [], "validate": []}
    print(f"machine: {json.dumps(report['machine'])}")
    print(f"GPU build: {'possible' if missing is None else missing}", flush=True)
    t0 = time.perf_counter()
    clips, det = make_clip_set(work, args.clips, args.seconds, args.det_seconds, (h_px, w_px), args.fps)
    report["clip_set"] = {"labeled": len(clips), "seconds_each": args.seconds, "unlabeled_s": args.det_seconds,
                          "size": args.size, "fps": args.fps, "codec": "h264", "made_in_s": round(time.perf_counter() - t0, 1)}
    print(f"clip set: {json.dumps(report['clip_set'])}", flush=True)
    failed = False
    per_worker = max(1, len(clips) // max(args.workers))
    for size, gpu, workers in plan(args.workers, args.sizes):
        name = f"{'gpu' if gpu else 'cpu'}-{workers}w-{size}"
        if gpu and missing is not None:
            report["builds"].append({"build": name, "workers": workers, "size": size, "skipped": missing})
            print(f"{name}: skipped, {missing}", flush=True)
            continue
        image_hw = SIZES[size] or (h_px, w_px)
        if args.dry_run and size != "source":
            image_hw = (90, 120)  # the dry run's "default size": smaller than its source, as 480x640 is below 1080p
        r = run_build(name, deal(clips, det, workers, per_worker), gpu, image_hw, args, work,
                      None if gpu else args.cpu_seconds)
        r["size"] = size
        failed |= bool(r["failures"])
        print(f"{name}: {r['frames']} frames in {r['wall_s']} s = {r['x_real_time']}x real time; stages "
              f"{r['stage_frames_per_s']} frames/s; gpu {r['gpu']}; encoder CPU share {r['encoder_cpu_share']}; "
              f"host peak {r['host_memory_peak_mib']} MiB; failures {r['failures'] or 'none'}", flush=True)
        if workers == max(args.workers) and not r["failures"]:
            checks = validate_outputs(r["outputs"])
            report["validate"] += [{"build": name, **c} for c in checks]
            failed |= not all(c["ok"] for c in checks)
            print(f"{name}: validate " + "; ".join(f"{'OK' if c['ok'] else 'FAIL'} {c['says'][:120]}" for c in checks),
                  flush=True)
        report["builds"].append(r)
        report_path.write_text(json.dumps(report, indent=1))
    gpu_r = {(b["size"], b["workers"]): b for b in report["builds"] if b.get("device") == "gpu"}
    for b in report["builds"]:
        twin = gpu_r.get((b.get("size"), b.get("workers")))
        if b.get("device") == "cpu" and twin and b["frames_per_s"]:
            b["gpu_over_cpu"] = round(twin["frames_per_s"] / b["frames_per_s"], 2)
            print(f"GPU / CPU ({b['size']}, {b['workers']} workers): {b['gpu_over_cpu']}x")
    report_path.write_text(json.dumps(report, indent=1))
    print(table(report["builds"]))
    print(f"written: {report_path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
