#!/usr/bin/env python
"""Does a build scale? Cost per clip and peak memory for corpora of 10 .. 200 clips, one run each.

    python scripts/bench_scale.py                 # 10, 50, 200 clips (about 5 minutes on 2 cores)
    python scripts/bench_scale.py --sizes 10 20   # quicker

Each corpus is made of small synthetic labeled clips (24 frames, 96x128, the four scenarios in turn); each build
runs in a fresh process whose peak RSS (ru_maxrss) is reported. Cost per clip should stay flat (within 20%) and
peak memory should not grow with the number of clips: clips are processed one at a time and written as shards.
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 200])
    args = ap.parse_args()
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
