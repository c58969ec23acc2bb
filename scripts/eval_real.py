"""Build the Something-Else development clips (real hand-held phone video, human hand/object boxes) and compare
what the builder infers with what the clips' README says happens.

    .venv/bin/python scripts/eval_real.py [--out DIR]

Per clip: the episode's frames, the fraction with gripper = 1, the fraction with a visible actor, the inferred
interactions (carry / push / touch / uncertain), the task, the README's description; then whether `validate` passed
on the dataset. The labels are read as they ship (`labels_format: something_else`); the frames are never copied.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEV = REPO.parent / "shared" / "data" / "real" / "something_else_dev"
FPS = 12  # the source's own statement (README)

RECIPE = """\
name: something_else_dev
sources:
  - frames: {dev}/frames/*
    fps: {fps}
    labels: {dev}/annotations.json
    labels_format: something_else
    licence: research use (Something-Something v2 frames); annotations MIT (joaanna/something_else)
actor: hand
fps: {fps}
image_size: [240, 428]
output: {out}
"""


def readme_descriptions(dev: Path = DEV) -> dict[str, str]:
    """clip id -> 'what is seen' from the README's table."""
    out = {}
    for line in (dev / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.fullmatch(r"\d+", cells[0]):
            out[cells[0]] = cells[3]
    return out


def build(out: Path, dev: Path = DEV, in_process: bool = False):
    """Build the clips into `out` with the CLI (a CompletedProcess), or in this process (the BuildReport)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    recipe = out.parent / f"{out.name}_recipe.yaml"
    recipe.write_text(RECIPE.format(dev=dev, fps=FPS, out=out))
    if in_process:
        from vla_builder.build import build as build_dataset
        from vla_builder.recipe import load_recipe

        return build_dataset(load_recipe(recipe), output=out, overwrite=True, log=lambda *a: None)
    return subprocess.run([sys.executable, "-m", "vla_builder", "build", str(recipe), "--output", str(out),
                           "--overwrite"], capture_output=True, text=True, timeout=900)


def measure(out: Path) -> list[dict]:
    """Per episode: clip id, frames, gripper and visible-actor fractions, inferred interactions, task."""
    import pyarrow.parquet as pq

    from vla_builder.schema import GRIPPER, STATE_NAMES

    visible = STATE_NAMES.index("actor_visible")
    prov = [json.loads(line) for line in (out / "meta" / "provenance.jsonl").read_text().splitlines()]
    subtasks = [json.loads(line) for line in (out / "meta" / "subtasks.jsonl").read_text().splitlines()]
    rows = [r for f in sorted(out.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    names: dict[int, dict[int, str]] = {}  # episode -> object id -> class, from the traces' visible objects
    for line in (out / "meta" / "reasoning.jsonl").read_text().splitlines():
        r = json.loads(line)
        for o in r["visible_objects"]:
            names.setdefault(int(r["episode_index"]), {})[int(o["id"])] = o["name"]
    results = []
    for ep, p in enumerate(prov):
        ep_rows = sorted((r for r in rows if r["episode_index"] == ep), key=lambda r: r["frame_index"])
        action = np.array([r["action"] for r in ep_rows])
        state = np.array([r["observation.state"] for r in ep_rows])
        events = [e for e in subtasks[ep]["events"] if e["kind"] in ("carry", "push", "touch", "uncertain")]
        results.append({
            "clip": Path(p["source"]).name,
            "frames": len(ep_rows),
            "gripper_fraction": float((action[:, GRIPPER] > 0.5).mean()),
            "visible_fraction": float(state[:, visible].mean()),
            "interactions": [f"{e['kind']} {names.get(ep, {}).get(e['object_id'], '?')} {e['object_id']} "
                             f"{e['start']}-{e['end']}" for e in events],
            "task": p["task"],
            "actor": p.get("actor"),
        })
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="dataset folder (default: a temporary one)")
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="eval_real_")) / "something_else_dev"
    res = build(out)
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:])
        print(f"build exit {res.returncode}")
    from vla_builder.validate import validate

    seen = readme_descriptions()
    for r in measure(out):
        print(f"{r['clip']:>7}  {r['frames']:3d} frames  gripper {r['gripper_fraction']:.2f}  "
              f"actor visible {r['visible_fraction']:.2f}")
        print(f"         inferred: {', '.join(r['interactions']) or 'none'}  ->  task '{r['task']}'")
        print(f"         README:   {seen.get(r['clip'], '?')}")
    report = validate(out)
    print(f"validate: {'passed' if report.ok else 'FAILED'} ({report.episodes} episodes, {report.frames} frames, "
          f"{report.statements_checked} reasoning statements)")
    for p in report.problems:
        print(f"  - {p}")
    return 0 if report.ok and res.returncode == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
