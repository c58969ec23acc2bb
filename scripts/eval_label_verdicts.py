"""Label verdicts on the real Something-Else development clips: true captions vs deliberately wrong ones.

    .venv/bin/python scripts/eval_label_verdicts.py [--data ../shared/data/real/something_else_dev]

Runs each clip through the build's stages up to the label check (probe .. interactions), then checks every caption
of the table below against the footage and prints the verdict with its deciding numbers. A true caption must never
be `contradicted`; a wrong one should be.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRUE = {r["id"]: r["label"] for r in json.loads(
    (REPO / "tests" / "assets" / "labels" / "something_something" / "labels.json").read_text())}
WRONG = {
    "151201": ["Pretending to pick bottle up"],  # a real carry
    "2003": ["Picking book up", "Pushing book from left to right"],  # the book never moves
    "44862": ["Pretending to pick glass up"],  # the glass is really taken and tipped
    "22983": ["Pretending to lift mobile charger up"],  # a real lift
    "4": ["Pushing puzzle piece from left to right"],  # it moves right to left
}


def main() -> None:
    from vla_builder.build import PipelineFactory
    from vla_builder.recipe import load_recipe
    from vla_builder.stages.verify_label import verify
    from vla_builder.types import Clip

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "real" / "something_else_dev"))
    root = Path(ap.parse_args().data).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "r.yaml"
        recipe.write_text(f"name: se\nsources:\n  - frames: {root}/frames/*\n    fps: 12\n"
                          f"    labels: {root}/annotations.json\nfps: 12\nimage_size: [240, 432]\n")
        loaded = load_recipe(recipe)
    pipeline = PipelineFactory(loaded.recipe, 12)()
    pipeline.setup()
    stages = pipeline.stages[: [s.name for s in pipeline.stages].index("verify_label")]
    counts = {"true": {}, "wrong": {}}
    t0 = time.perf_counter()
    print(f"{'clip':>7}  {'kind':5}  {'verdict':13}  caption  [deciding checks]")
    for spec in loaded.sources:
        clip = Clip(spec.name, spec)
        for stage in stages:
            clip = stage.process(clip)
        for kind, captions in (("true", [TRUE[spec.name]]), ("wrong", WRONG.get(spec.name, []))):
            for caption in captions:
                r = verify(clip, caption)
                counts[kind][r["verdict"]] = counts[kind].get(r["verdict"], 0) + 1
                nums = [{k: v for k, v in c.items() if k in ("excursion", "along", "min_gap")} | {"ok": c["ok"]}
                        for c in r["checks"]]
                print(f"{spec.name:>7}  {kind:5}  {r['verdict']:13}  {caption!r}  {nums or r.get('why')}")
    print(f"\ntrue captions: {counts['true']}\nwrong captions: {counts['wrong']}\n"
          f"{time.perf_counter() - t0:.1f} s for {len(loaded.sources)} clips (stages up to interactions + checks)")


if __name__ == "__main__":
    main()
