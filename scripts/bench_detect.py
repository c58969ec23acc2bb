"""Detector throughput: ultralytics `predict()` from NumPy vs our batched path (torch letterbox + one forward + NMS).

    YOLO_OFFLINE=1 .venv/bin/python scripts/bench_detect.py                       # CPU here, CUDA when present
    YOLO_OFFLINE=1 .venv/bin/python scripts/bench_detect.py --imgsz 640 --batch 128 --frames 2048   # on an H100

    YOLO_OFFLINE=1 .venv/bin/python scripts/bench_detect.py --arch yolov8n.yaml --sweep 32,64,128,256 --skip-single

`--arch` builds an untrained model from an ultralytics model yaml (bundled with ultralytics: nothing is downloaded)
with the test detector's 3 classes: throughput depends on the architecture, not on the weights (NMS sees fewer
boxes than with a trained model, so its share is a lower bound). `--weights` takes any local .pt instead.

Prints images/s for: predict() one image per call, predict() with a list of `--batch` images, our path from host
(NumPy) frames, and (on CUDA) our path from frames already on the GPU (as NVDEC decode would leave them).
Timings include everything from uint8 frames to per-frame LabelTable on the host, after `--warmup` batches.
The target on an H100 is >= 2000 images/s for the batched path at 640 px with a small model.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vla_builder.detect.ultralytics_adapter import UltralyticsDetector  # noqa: E402


def synthetic_frames(n: int, h: int, w: int) -> np.ndarray:
    """Frames of a synthetic scene (so the detector finds things and NMS has work), tiled to n frames."""
    import tempfile

    import av
    import cv2

    from vla_builder.synthetic import make_scene

    with tempfile.TemporaryDirectory() as d:
        make_scene(d, "pick_place", n_frames=60, fps=15, size_px=(240, 320), seed=7)
        with av.open(str(Path(d) / "scene.mp4")) as c:
            base = [cv2.resize(f.to_ndarray(format="rgb24"), (w, h)) for f in c.decode(video=0)]
    return np.stack([base[i % len(base)] for i in range(n)])


def untrained_checkpoint(arch: str) -> Path:
    """An ultralytics-format .pt with an untrained model from a bundled yaml (random weights, 3 classes)."""
    import tempfile

    import torch
    from ultralytics.nn.tasks import DetectionModel

    model = DetectionModel(arch, nc=3, verbose=False)
    model.names = {0: "hand", 1: "cup", 2: "box"}
    path = Path(tempfile.mkdtemp(prefix="vla_bench_")) / f"{Path(arch).stem}-untrained.pt"
    torch.save({"model": model.half()}, path)
    return path


def timed(fn, sync) -> float:
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=ROOT / "tests/assets/detector/synthetic_yolo.pt")
    p.add_argument("--imgsz", type=int, default=640)
    p.add_argument("--batch", type=int, default=None, help="frames per forward (default: 64 on CUDA, 4 on CPU)")
    p.add_argument("--frames", type=int, default=256, help="frames timed per path")
    p.add_argument("--size", default="480x640", help="frame size HxW")
    p.add_argument("--device", default="auto")
    p.add_argument("--warmup", type=int, default=2, help="batches run before timing")
    p.add_argument("--skip-single", action="store_true", help="skip predict() one image per call (slow)")
    p.add_argument("--arch", default=None, help="time an untrained model built from this yaml, e.g. yolov8n.yaml")
    p.add_argument("--sweep", default="", help="also time the batched path at these batch sizes, e.g. 32,64,128")
    args = p.parse_args()

    import torch

    h, w = (int(v) for v in args.size.split("x"))
    if args.arch:
        args.weights = untrained_checkpoint(args.arch)
    det = UltralyticsDetector(args.weights, imgsz=args.imgsz, batch_size=args.batch, device=args.device).load()
    args.batch = det._batch
    cuda = det.device_name.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    frames = synthetic_frames(args.frames, h, w)
    warm = frames[: args.batch * args.warmup]
    name = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"device {name}; model {args.weights.name}; frames {h}x{w} -> imgsz {args.imgsz}; batch {args.batch}; "
          f"{'fp16' if det._half else 'fp32'}")

    rows = []
    if not args.skip_single:
        n = min(len(frames), 64)
        det.predict_reference(warm[:4], batch=1)
        rows.append(("predict(), 1 image per call", n, timed(lambda: det.predict_reference(frames[:n], 1), sync)))
    det.predict_reference(warm, batch=args.batch)
    rows.append((f"predict(), lists of {args.batch}", len(frames),
                 timed(lambda: det.predict_reference(frames, args.batch), sync)))
    det.detect(warm)
    rows.append(("batched path, host frames", len(frames), timed(lambda: det.detect(frames), sync)))
    if cuda:
        on_gpu = torch.from_numpy(frames).to(det.device_name)
        det.detect(on_gpu[: len(warm)])
        rows.append(("batched path, frames on GPU", len(frames), timed(lambda: det.detect(on_gpu), sync)))
    for b in [int(v) for v in args.sweep.split(",") if v]:
        det._batch = b
        det.detect(frames[: b * args.warmup])
        rows.append((f"batched path, batch {b}", len(frames), timed(lambda: det.detect(frames), sync)))
    base = rows[0][1] / rows[0][2]
    for label, n, seconds in rows:
        rate = n / seconds
        print(f"  {label:32s} {rate:9.1f} images/s   ({rate / base:5.1f}x the first row)")


if __name__ == "__main__":
    main()
