"""Train the tiny test detector (hand / cup / box) on synthetic tabletop scenes — CPU, a few minutes, no downloads.

    YOLO_OFFLINE=1 .venv/bin/python scripts/train_test_detector.py    # -> tests/assets/detector/synthetic_yolo.pt

The model is a YOLOv8-shaped network built from a yaml (width 0.125, depth 0.33, max 256 channels: ~0.34 M
parameters, < 1 MB in fp16), trained from scratch (no pretrained weights exist for it, so nothing is fetched).
Data: frames of `vla_builder.synthetic.make_scene` videos (training seeds only: >= 1000) plus still images with
the same textures and sprites at random positions, so the detector does not learn the scenarios' fixed layouts.
The tests and `scripts/eval_tracking.py` use held-out seeds (< 1000).

Network calls ultralytics would make while training, and how they are avoided: fonts for plots (plots=False and
check_font stubbed), AMP check weights (amp=False, and it only runs on CUDA), telemetry and hub (YOLO_OFFLINE=1).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")  # before ultralytics is imported: no telemetry, no online checks

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vla_builder import synthetic  # noqa: E402

CLASS_NAMES = ["hand", "cup", "box"]  # YOLO class index = synthetic id - 1
DRAW_ORDER = (3, 2, 1)  # synthetic draws the box, then the cup, then the hand on top
MIN_VISIBLE = 0.4  # a box whose visible fraction is lower is not labeled (it is mostly hidden under another sprite)

MODEL_YAML = """\
# YOLOv8-shaped, shrunk for tests: ~0.34 M parameters. Same layer graph as yolov8.yaml, fewer repeats.
nc: 3
scale: t
scales:  # [depth, width, max_channels]
  t: [0.33, 0.125, 256]
backbone:
  - [-1, 1, Conv, [64, 3, 2]]     # 0-P1/2
  - [-1, 1, Conv, [128, 3, 2]]    # 1-P2/4
  - [-1, 1, C2f, [128, True]]
  - [-1, 1, Conv, [256, 3, 2]]    # 3-P3/8
  - [-1, 2, C2f, [256, True]]
  - [-1, 1, Conv, [512, 3, 2]]    # 5-P4/16
  - [-1, 2, C2f, [512, True]]
  - [-1, 1, Conv, [1024, 3, 2]]   # 7-P5/32
  - [-1, 1, C2f, [1024, True]]
  - [-1, 1, SPPF, [1024, 5]]      # 9
head:
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 6], 1, Concat, [1]]
  - [-1, 1, C2f, [512]]           # 12
  - [-1, 1, nn.Upsample, [None, 2, "nearest"]]
  - [[-1, 4], 1, Concat, [1]]
  - [-1, 1, C2f, [256]]           # 15 (P3/8)
  - [-1, 1, Conv, [256, 3, 2]]
  - [[-1, 12], 1, Concat, [1]]
  - [-1, 1, C2f, [512]]           # 18 (P4/16)
  - [-1, 1, Conv, [512, 3, 2]]
  - [[-1, 9], 1, Concat, [1]]
  - [-1, 1, C2f, [1024]]          # 21 (P5/32)
  - [[15, 18, 21], 1, Detect, [nc]]
"""


def visible_fraction(boxes_px: dict[int, np.ndarray], w: int, h: int) -> dict[int, float]:
    """Fraction of each object's box that is inside the image and not under a sprite drawn after it."""
    out = {}
    for i, k in enumerate(DRAW_ORDER):
        x0, y0, x1, y1 = boxes_px[k]
        area = max((x1 - x0) * (y1 - y0), 1e-9)
        mask = np.zeros((h, w), bool)
        xa, ya, xb, yb = (int(round(max(x0, 0))), int(round(max(y0, 0))), int(round(min(x1, w))),
                          int(round(min(y1, h))))
        if xb <= xa or yb <= ya:
            out[k] = 0.0
            continue
        mask[ya:yb, xa:xb] = True
        for above in DRAW_ORDER[i + 1:]:
            ax0, ay0, ax1, ay1 = (int(round(v)) for v in boxes_px[above])
            mask[max(ay0, 0):max(ay1, 0), max(ax0, 0):max(ax1, 0)] = False
        out[k] = float(mask.sum()) / area
    return out


def yolo_lines(boxes_px: dict[int, np.ndarray], w: int, h: int) -> list[str]:
    vis = visible_fraction(boxes_px, w, h)
    lines = []
    for k, (x0, y0, x1, y1) in boxes_px.items():
        if vis[k] < MIN_VISIBLE:
            continue
        x0, x1 = np.clip([x0, x1], 0, w)
        y0, y1 = np.clip([y0, y1], 0, h)
        lines.append(f"{k - 1} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}")
    return lines


def write_sample(img_dir: Path, lbl_dir: Path, stem: str, rgb: np.ndarray, lines: list[str]) -> None:
    import cv2

    cv2.imwrite(str(img_dir / f"{stem}.jpg"), rgb[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 92])
    (lbl_dir / f"{stem}.txt").write_text("\n".join(lines) + ("\n" if lines else ""))


def video_samples(img_dir: Path, lbl_dir: Path, tmp: Path, seeds: list[int], every: int, n_frames: int) -> int:
    """Frames of make_scene videos (all four scenarios) with their gt boxes."""
    import av

    count = 0
    for seed in seeds:
        for scenario in ("pick_place", "push", "idle", "pan"):
            scene_dir = tmp / f"scene_{scenario}_{seed}"
            size = (240, 320) if seed % 2 == 0 else (360, 480)
            synthetic.make_scene(scene_dir, scenario, n_frames=n_frames, fps=15, size_px=size, seed=seed)
            gt = np.loadtxt(scene_dir / "gt.txt", delimiter=",")
            with av.open(str(scene_dir / "scene.mp4")) as c:
                for t, frame in enumerate(c.decode(video=0)):
                    if t % every:
                        continue
                    rgb = frame.to_ndarray(format="rgb24")
                    rows = gt[gt[:, 0] == t + 1]
                    boxes = {int(r[1]): np.array([r[2], r[3], r[2] + r[4], r[3] + r[5]]) for r in rows}
                    write_sample(img_dir, lbl_dir, f"v{seed}_{scenario}_{t:03d}", rgb,
                                 yolo_lines(boxes, rgb.shape[1], rgb.shape[0]))
                    count += 1
            shutil.rmtree(scene_dir)
    return count


def random_samples(img_dir: Path, lbl_dir: Path, n_images: int, seed: int) -> int:
    """Stills with synthetic's textures and sprites at random positions (objects sometimes absent or cut off)."""
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        h, w = [(240, 320), (360, 480), (480, 640)][i % 3]
        table = synthetic._texture(rng, h, w, tuple(int(v) for v in rng.integers(110, 190, 3)), 40)
        frame = table.copy()
        boxes = {}
        for k in DRAW_ORDER:
            scale = rng.uniform(0.85, 1.15, 2)  # sizes vary a little around the scenes' sizes
            sw = max(2, int(synthetic.SIZES[k][0] * w * scale[0]))
            sh = max(2, int(synthetic.SIZES[k][1] * h * scale[1]))
            sprite = synthetic._texture(rng, sh, sw, synthetic.COLORS[k], 45)
            cx, cy = rng.uniform(-0.02, 1.02) * w, rng.uniform(-0.02, 1.02) * h
            x0, y0 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
            if rng.random() < 0.12:  # absent: the detector must also learn "no cup here"
                boxes[k] = np.array([-10.0, -10.0, -5.0, -5.0])
                continue
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
            if xb > xa and yb > ya:
                frame[ya:yb, xa:xb] = sprite[ya - y0:yb - y0, xa - x0:xb - x0]
            boxes[k] = np.array([x0, y0, x0 + sw, y0 + sh], float)
        write_sample(img_dir, lbl_dir, f"r{seed}_{i:04d}", frame, yolo_lines(boxes, w, h))
    return n_images


def make_dataset(root: Path, n_random: int, video_seeds: list[int], every: int) -> Path:
    for split in ("train", "val"):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
    tmp = root / "scenes"
    n_train = random_samples(root / "images/train", root / "labels/train", n_random, seed=1000)
    n_train += video_samples(root / "images/train", root / "labels/train", tmp, video_seeds, every, n_frames=45)
    n_val = random_samples(root / "images/val", root / "labels/val", max(24, n_random // 10), seed=2000)
    n_val += video_samples(root / "images/val", root / "labels/val", tmp, [video_seeds[-1] + 1], 5, n_frames=45)
    print(f"dataset: {n_train} training and {n_val} validation images in {root}")
    data_yaml = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
    data_yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data_yaml


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "tests/assets/detector/synthetic_yolo.pt")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--n-random", type=int, default=400, help="random-layout training images")
    p.add_argument("--video-seeds", type=int, default=4, help="make_scene seeds (x4 scenarios) for training")
    p.add_argument("--every", type=int, default=3, help="keep every n-th video frame")
    p.add_argument("--work", type=Path, default=None, help="keep the dataset and run here (default: a temp dir)")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()

    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    import ultralytics.data.utils as data_utils
    from ultralytics import YOLO

    # check_det_dataset() fetches Arial.ttf for plot labels; we make no plots, so do not go looking for it
    data_utils.check_font = lambda *a, **k: None

    t0 = time.perf_counter()
    work = args.work or Path(tempfile.mkdtemp(prefix="vla_yolo_"))
    data_yaml = make_dataset(work / "data", args.n_random, [1000 + i for i in range(args.video_seeds)], args.every)
    model_yaml = work / "yolov8-vla-tiny.yaml"
    model_yaml.write_text(MODEL_YAML)
    t_data = time.perf_counter() - t0

    model = YOLO(str(model_yaml), task="detect")
    model.train(
        data=str(data_yaml), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch, device="cpu",
        workers=args.workers, project=str(work / "runs"), name="train", exist_ok=True,
        pretrained=False, amp=False, plots=False, seed=0, deterministic=True, verbose=False,
        # objects are coloured: keep hue fixed (a red cup must stay red), jitter light and saturation a little
        hsv_h=0.0, hsv_s=0.3, hsv_v=0.3, degrees=0.0, translate=0.2, scale=0.4, fliplr=0.5, mosaic=1.0,
        close_mosaic=5, patience=100, warmup_epochs=1, cos_lr=True, lr0=0.01,
    )
    t_train = time.perf_counter() - t0 - t_data
    best = work / "runs/train/weights/best.pt"
    if not best.is_file():
        best = work / "runs/train/weights/last.pt"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(best, args.out)  # already stripped by the trainer: fp16 EMA weights, no optimizer state
    (args.out.parent / "yolov8-vla-tiny.yaml").write_text(MODEL_YAML)
    size_mb = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size_mb:.2f} MB); data {t_data:.0f} s, training {t_train:.0f} s on CPU")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
