"""Measure detection + tracking and sparse-label propagation against ground truth; print the figures.

    YOLO_OFFLINE=1 .venv/bin/python scripts/eval_tracking.py [--weights tests/assets/detector/synthetic_yolo.pt]

(a) detect + track (no labels) on held-out synthetic scenes (seed < 1000; the detector trained on seeds >= 1000):
    MOTA, IDF1, HOTA, id switches, detector frames/s on this machine.
(b) sparse labels: every 15th frame of a synthetic scene's gt kept, the rest recovered by DetectTrackStage (flow +
    detector, flow only, and linear interpolation as the baseline): mean IoU of the recovered boxes, id switches.
(c) the same propagation on the real MOT17-mini sequences (every 3rd frame kept; no detector: ours knows only
    hands, cups and boxes).
Figures are on the clip's grid, boxes in normalized units, a match at IoU >= 0.5.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vla_builder.detect.metrics import hota, mot_metrics, propagation_quality  # noqa: E402
from vla_builder.pipeline import Pipeline  # noqa: E402
from vla_builder.sources.labels import read_labels  # noqa: E402
from vla_builder.sources.video import probe, probe_images  # noqa: E402
from vla_builder.stages.decode import DecodeStage  # noqa: E402
from vla_builder.stages.detect_track import DetectTrackStage  # noqa: E402
from vla_builder.stages.probe import LabelsStage, ProbeStage  # noqa: E402
from vla_builder.tracking.grid import labels_to_grid  # noqa: E402
from vla_builder.synthetic import CLASSES, make_scene  # noqa: E402
from vla_builder.types import Clip, SourceSpec, TrackSet  # noqa: E402

SCENARIOS = ("push", "idle", "pan", "pick_place")


def keep_every(gt_path: Path, out_path: Path, every: int) -> Path:
    """A MOT file with only the rows of every `every`-th frame (1-based frame numbers 1, 1+every, ...)."""
    lines = [ln for ln in gt_path.read_text().splitlines() if ln.strip()]
    kept = [ln for ln in lines if (int(float(ln.split(",")[0])) - 1) % every == 0]
    out_path.write_text("\n".join(kept) + "\n")
    return out_path


def run(spec: SourceSpec, stage: DetectTrackStage, fps: int, image_size: tuple[int, int]) -> Clip:
    pipeline = Pipeline([ProbeStage(), LabelsStage(), DecodeStage(fps=fps, image_size=image_size), stage])
    result = pipeline.run_clip(Clip(clip_id=spec.name, source=spec))
    if result.failure is not None:
        raise RuntimeError(f"{result.failure.stage}: {result.failure.reason}\n{result.failure.detail}")
    return result.clip


def truth(spec: SourceSpec, source_index: np.ndarray) -> TrackSet:
    info = probe(spec.video) if spec.video is not None else probe_images(spec.frames, spec.frames_fps or 30)
    return labels_to_grid(read_labels(spec, info), source_index, 0)


def fmt(d: dict, keys: list[str]) -> str:
    return "  ".join(f"{k} {d[k]:.3f}" if isinstance(d[k], float) else f"{k} {d[k]}" for k in keys)


def eval_detect(weights: Path, seed: int, imgsz: int, tmp: Path) -> None:
    print(f"(a) detection + tracking, held-out synthetic scenes (seed {seed}, 61 frames 240x320, imgsz {imgsz})")
    for scenario in SCENARIOS:
        scene = tmp / f"a_{scenario}"
        make_scene(scene, scenario, n_frames=61, fps=15, seed=seed)
        stage = DetectTrackStage.of(weights=weights, imgsz=imgsz, device="auto")
        t0 = time.perf_counter()
        clip = run(SourceSpec(video=scene / "scene.mp4"), stage, 15, (240, 320))
        wall = time.perf_counter() - t0
        gt = truth(SourceSpec(video=scene / "scene.mp4", labels=scene / "gt.txt", classes=CLASSES),
                   clip.frames.source_index)
        m, h = mot_metrics(gt, clip.tracks), hota(gt, clip.tracks)
        det = clip.provenance["detector"]
        print(f"  {scenario:10s} MOTA {m['mota']:.3f}  IDF1 {m['idf1']:.3f}  HOTA {h['hota']:.3f}  "
              f"id switches {int(m['num_switches'])}  tracks {len(clip.tracks)} (truth {len(gt)})  "
              f"recall {m['recall']:.3f}  precision {m['precision']:.3f}  detector {det['frames_per_s']} frames/s "
              f"on {det['device']}  (stages {wall:.1f} s)")


def eval_sparse_synthetic(weights: Path, seed: int, every: int, imgsz: int, tmp: Path) -> None:
    print(f"(b) sparse labels (every {every}th frame of gt kept), synthetic scenes (seed {seed}, 61 frames)")
    for scenario in SCENARIOS:
        scene = tmp / f"b_{scenario}"
        make_scene(scene, scenario, n_frames=61, fps=15, seed=seed)
        sparse = keep_every(scene / "gt.txt", scene / "sparse.txt", every)
        spec = SourceSpec(video=scene / "scene.mp4", labels=sparse, classes=CLASSES)
        for name, stage in (("flow+detector", DetectTrackStage.of(weights=weights, imgsz=imgsz)),
                            ("flow only", DetectTrackStage.of()),
                            ("linear interp.", DetectTrackStage.of(flow=False))):
            t0 = time.perf_counter()
            clip = run(spec, stage, 15, (240, 320))
            wall = time.perf_counter() - t0
            gt = truth(SourceSpec(video=scene / "scene.mp4", labels=scene / "gt.txt", classes=CLASSES),
                       clip.frames.source_index)
            q, m = propagation_quality(gt, clip.tracks), mot_metrics(gt, clip.tracks)
            print(f"  {scenario:10s} {name:15s} mean IoU {q['mean_iou']:.3f} over {q['boxes']} unlabeled boxes  "
                  f"id switches {int(m['num_switches'])}  IDF1 {m['idf1']:.3f}  MOTA {m['mota']:.3f}  "
                  f"({clip.provenance['tracks_mode']}; {wall:.1f} s)")


def eval_sparse_mot(root: Path, every: int, tmp: Path) -> None:
    print(f"(c) sparse labels (every {every}rd frame of gt kept), MOT17-mini, flow propagation (no detector)")
    for seq in sorted(p for p in root.iterdir() if (p / "gt" / "gt.txt").is_file()):
        ini = dict(ln.split("=", 1) for ln in (seq / "seqinfo.ini").read_text().splitlines() if "=" in ln)
        fps = int(ini.get("frameRate", 30))
        n_frames = len(list((seq / "img1").glob("*.jpg")))
        sparse = keep_every(seq / "gt" / "gt.txt", tmp / f"{seq.name}_sparse.txt", every)
        full = SourceSpec(frames=seq / "img1", frames_fps=fps, labels=seq / "gt" / "gt.txt")
        info = probe_images(full.frames, fps)
        full_labels = read_labels(full, info)
        # only the frames there are images for (the mini sequences are cut from longer ones)
        grid = np.arange(n_frames)
        gt = labels_to_grid(full_labels, grid, 0)
        sparse_labels = read_labels(SourceSpec(frames=seq / "img1", frames_fps=fps, labels=sparse), info)
        anchors = labels_to_grid(sparse_labels, grid, 0)
        import cv2

        images = sorted((seq / "img1").glob("*.jpg"))
        rgb = np.stack([cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in images])
        for name, stage in (("flow", DetectTrackStage.of(flow_max_side_px=960)),
                            ("linear interp.", DetectTrackStage.of(flow=False))):
            t0 = time.perf_counter()
            tracks, _ = stage.propagate(anchors, rgb, fps)
            wall = time.perf_counter() - t0
            q, m = propagation_quality(gt, tracks), mot_metrics(gt, tracks)
            print(f"  {seq.name} {name:15s} {n_frames} frames {info.width_px}x{info.height_px}, {len(gt)} tracks: "
                  f"mean IoU {q['mean_iou']:.3f} over {q['boxes']} unlabeled boxes (coverage {q['coverage']:.3f})  "
                  f"id switches {int(m['num_switches'])}  IDF1 {m['idf1']:.3f}  MOTA {m['mota']:.3f}  ({wall:.1f} s)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=ROOT / "tests/assets/detector/synthetic_yolo.pt")
    p.add_argument("--seed", type=int, default=7, help="held-out scene seed (training used seeds >= 1000)")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--every", type=int, default=15)
    p.add_argument("--mot-every", type=int, default=3)
    p.add_argument("--mot-root", type=Path, default=ROOT.parent / "shared/data/real/MOT17-mini")
    p.add_argument("--only", choices=["a", "b", "c"], nargs="*", default=["a", "b", "c"])
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="vla_eval_") as d:
        tmp = Path(d)
        if "a" in args.only:
            eval_detect(args.weights, args.seed, args.imgsz, tmp)
        if "b" in args.only:
            eval_sparse_synthetic(args.weights, args.seed, args.every, args.imgsz, tmp)
        if "c" in args.only:
            if args.mot_root.is_dir():
                eval_sparse_mot(args.mot_root, args.mot_every, tmp)
            else:
                print(f"(c) skipped: {args.mot_root} not found")


if __name__ == "__main__":
    main()
