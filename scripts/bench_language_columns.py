#!/usr/bin/env python
"""Memory of writing lerobot's language columns: lerobot's `LanguageColumnsWriter` (a whole data file at once) against
ours (`sinks.lerobot.write_language_columns`, an episode at a time), on one data file of real-rate episodes.

lerobot's `language_persistent` repeats an episode's persistent rows (task_aug, plan, subtask, motion) on every frame,
so its Arrow memory grows as frames x rows. The motion rows' rate decides the constant: 0.28 rows a sample on the real
Something-Else clips before motion rows had a minimum duration (`stages/language.py` MOTION_MIN_S), at most
1 / MOTION_MIN_S a second plus the gripper's changes after (~1.7 a second measured on the real clips).

    .venv/bin/python scripts/bench_language_columns.py                    # the table in BENCHMARKS.md
    .venv/bin/python scripts/bench_language_columns.py --episodes 5 --seconds 120 --fps 30 --rows-per-s 2

Each case runs in a fresh process; reported: the process's peak RSS above what it held before the write (MB), seconds.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASE = r"""
import json, resource, sys, time
from pathlib import Path
import numpy as np, pyarrow as pa, pyarrow.parquet as pq
sys.path.insert(0, sys.argv[1])
root, writer, episodes, frames, rows = Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
fps = float(sys.argv[7])
n = episodes * frames
ep = np.repeat(np.arange(episodes), frames)
fi = np.tile(np.arange(frames), episodes)
ts = (fi / fps).astype(np.float32)
(root / "data" / "chunk-000").mkdir(parents=True)
table = pa.table({"action": pa.array(list(np.zeros((n, 7), np.float32))), "timestamp": ts, "frame_index": fi,
                  "episode_index": ep, "index": np.arange(n), "task_index": np.zeros(n, np.int64)})
pq.write_table(table, root / "data" / "chunk-000" / "file-000.parquet")
del table
words = ["move up", "move down and left", "stay still", "move right", "close the gripper, move up"]
per_episode = []
for e in range(episodes):
    persistent = [{"role": "user", "content": f"pick up the cup {k}", "style": "task_aug", "timestamp": 0.0} for k in range(4)]
    persistent.append({"role": "assistant", "content": "1. reach the cup; 2. carry it", "style": "plan", "timestamp": 0.0})
    persistent += [{"role": "assistant", "content": words[k % 5], "style": "motion",
                    "timestamp": float(np.float32(round(k * frames / rows) / fps))} for k in range(rows)]
    events = [{"role": "user", "content": "Which objects are visible?", "style": "vqa", "timestamp": 0.0,
               "camera": "observation.images.front"}]
    per_episode.append({"persistent": persistent, "events": events})
import vla_builder.sinks.lerobot as sink
import lerobot.annotations.steerable_pipeline.writer, lerobot.datasets.language  # noqa: E401 — imports are not the write
if writer == "lerobot":
    from lerobot.annotations.steerable_pipeline.reader import iter_episodes
    from lerobot.annotations.steerable_pipeline.staging import EpisodeStaging
    from lerobot.annotations.steerable_pipeline.writer import LanguageColumnsWriter
sink.release_free_memory()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import psutil
base = psutil.Process().memory_info().rss
t0 = time.perf_counter()
if writer == "lerobot":
    for e, lang in enumerate(per_episode):
        st = EpisodeStaging(root / ".staging", e)
        st.write("plan", lang["persistent"]); st.write("vqa", lang["events"])
    LanguageColumnsWriter().write_all(list(iter_episodes(root)), root / ".staging", root)
else:
    sink.write_language_columns(root, per_episode)
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"peak_above_mb": (peak * 1024 - base) / 2**20, "wall_s": wall,
                  "file_mb": (root / "data" / "chunk-000" / "file-000.parquet").stat().st_size / 2**20}))
"""


def run_case(writer: str, episodes: int, seconds: float, fps: float, rows_per_s: float) -> dict:
    frames = int(round(seconds * fps))
    rows = max(1, int(round(rows_per_s * seconds)))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", CASE, str(REPO), tmp, writer, str(episodes), str(frames),
                              str(rows), str(fps)], capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1]) | {"frames": frames, "motion_rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--fps", type=float, default=30)
    ap.add_argument("--rows-per-s", type=float)
    ap.add_argument("--writers", default="lerobot,ours")
    args = ap.parse_args()
    if args.episodes:
        cases = [(args.episodes, args.seconds, args.rows_per_s)]
    else:  # (episodes in one file, seconds each, motion rows a second): before / after the motion-row minimum
        cases = [(1, 120, 0.28 * 30), (1, 120, 2.0), (1, 300, 0.28 * 30), (1, 300, 2.0), (10, 120, 2.0)]
    print(f"# {platform.node()} {platform.processor() or platform.machine()} cpus={__import__('os').cpu_count()}")
    print("| writer | episodes in the file | s each | frames each | motion rows each | peak above start MB | s |"
          " file MB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for episodes, seconds, rate in cases:
        for writer in args.writers.split(","):
            r = run_case(writer, episodes, seconds, args.fps, rate)
            print(f"| {writer} | {episodes} | {seconds:g} | {r['frames']} | {r['motion_rows']} | "
                  f"{r['peak_above_mb']:.0f} | {r['wall_s']:.1f} | {r['file_mb']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
