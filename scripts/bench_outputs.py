"""Cost of what researchers look at, on a built dataset: inspect, the QA report (with and without overlay videos),
the HDF5 export. In-process, after a warm-up import, best of `--rounds`; prints one JSON line per measurement.

    python scripts/bench_outputs.py out/demo [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_of(rounds: int, fn) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()

    from vla_builder.dataset_view import DatasetView
    from vla_builder.export_hdf5 import export_hdf5
    from vla_builder.inspect_dataset import summarize
    from vla_builder.report import write_report

    view = DatasetView(args.dataset)
    shape = view.features[view.camera_keys[0]]["shape"]
    base = {"dataset": str(args.dataset), "episodes": view.n_episodes, "frames": view.n_frames,
            "frame_hw": shape[:2], "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1)}
    with tempfile.TemporaryDirectory() as tmp:
        summarize(args.dataset)  # warm-up: imports
        results = {
            "inspect_s": best_of(args.rounds, lambda: summarize(args.dataset)),
            "report_no_video_s": best_of(args.rounds, lambda: write_report(args.dataset, Path(tmp) / "r0",
                                                                           max_videos=0)),
            "report_s": best_of(args.rounds, lambda: write_report(args.dataset, Path(tmp) / "r1")),
            "export_hdf5_s": best_of(args.rounds, lambda: export_hdf5(args.dataset, Path(tmp) / "x.h5")),
        }
        h5_mb = (Path(tmp) / "x.h5").stat().st_size / 1e6
    video_mb = sum(f.stat().st_size for f in (Path(args.dataset) / "videos").rglob("*.mp4")) / 1e6
    frames = view.n_frames
    print(json.dumps({**base, **{k: round(v, 3) for k, v in results.items()},
                      "report_video_frames_per_s": round(frames / max(1e-9, results["report_s"]
                                                                     - results["report_no_video_s"]), 1),
                      "export_frames_per_s": round(frames / results["export_hdf5_s"], 1),
                      "hdf5_mb": round(h5_mb, 2), "dataset_video_mb": round(video_mb, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
