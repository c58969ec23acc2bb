#!/usr/bin/env python
"""Render a synthetic labeled tabletop scene (video + MOT gt.txt + truth.json) — the demo's and tests' data.

    python scripts/make_synthetic_scene.py recipes/data/synthetic_pick_place --scenario pick_place
"""

import argparse

from vla_builder.synthetic import make_scene

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out_dir")
    p.add_argument("--scenario", default="pick_place", choices=["pick_place", "push", "idle", "pan"])
    p.add_argument("--frames", type=int, default=90)
    p.add_argument("--fps", type=int, default=30)
    p.add_argument("--height", type=int, default=480)
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    truth = make_scene(a.out_dir, a.scenario, a.frames, a.fps, (a.height, a.width), a.seed)
    print(f"wrote {a.out_dir}/scene.mp4, gt.txt, truth.json ({a.frames} frames at {a.fps} fps, {a.scenario})")
