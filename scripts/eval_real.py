"""Build the Something-Else development clips (real hand-held phone video, human hand/object boxes) and compare
what the builder infers with what the clips' README says happens; or benchmark the label check on them.

    .venv/bin/python scripts/eval_real.py [--out DIR]
    .venv/bin/python scripts/eval_real.py --captions [--split tune|first_look|all]
    .venv/bin/python scripts/eval_real.py [--captions] --dev DIR   # another set of clips: all of them first look

`--dev DIR`: another folder in the development set's layout (`frames/<id>/`, `annotations.json`, a README with the
"what is seen" table, and for `--captions` its own `labels.json` / `as_written.json`). Every clip in it is counted
as first look: clips the rules were never tuned on (e.g. the seven other clips `joaanna/something_else` ships,
BENCHMARKS.md).

Per clip: the episode's frames, the fraction with gripper = 1, the fraction with a visible actor, the inferred
interactions (carry / push / touch / uncertain), the task, the README's description; then whether `validate` passed
on the dataset. The labels are read as they ship (`labels_format: something_else`); the frames are never copied.

`--captions`: the caption error-injection benchmark. Each clip's true captions (the Something-Something template
caption of `tests/assets/labels/something_something/labels.json` and the same caption as people write it,
`as_written.json`: third person, past tense, Korean) against errors injected into the template caption by rule:
the verb class swapped (an act that moves the object <-> "Touching (without moving)"), the object swapped (another
clip's object, not labeled in this one), a stated direction flipped (left <-> right, up <-> down), pretend <-> real.
Reported per split: the AUROC of the label check's evidence score (true vs injected; a caption without evidence
scores 0), the rate of true captions contradicted, and the verdicts. `SPLIT` fixes which clips the rules were tuned
on and which are the first look.
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


CAPTIONS = REPO / "tests" / "assets" / "labels" / "something_something"
# the clips sorted by id, every other one: the label check's evidence rules were tuned on the first three; the
# benchmark's first look on the other three was taken before any rule change after it (BENCHMARKS.md)
SPLIT = {"tune": ("151201", "22983", "4"), "first_look": ("2003", "3201", "44862")}


def injected_captions(template: str, obj: str, other_obj: str) -> list[tuple[str, str]]:
    """(kind, caption) errors injected into a true template caption about `obj` (see the module's docstring)."""
    from lemminflect import getInflection, getLemma

    from vla_builder.stages.verify_label import parse_label

    claim = parse_label(template)
    out = []
    moves = claim.verb in ("take", "put", "push") or claim.about_camera or claim.verb == "none"
    out.append(("verb", f"Touching (without moving) {obj}" if moves and not claim.about_camera
                else f"Picking {obj} up"))
    out.append(("object", template.replace(obj, other_obj)))
    flips = {"left": "right", "right": "left", "up": "down", "down": "up"}
    if claim.direction is not None:
        out.append(("direction", re.sub(r"\b(left|right|up|down)\b", lambda m: flips[m.group()], template)))
    first, rest = template.split(" ", 1)
    if claim.pretend:
        verb = rest.split(" ", 1)[1].split(" ", 1)  # Pretending to <verb> ...
        ing = getInflection(verb[0], tag="VBG")[0]
        out.append(("pretend", f"{ing.capitalize()} {verb[1] if len(verb) > 1 else ''}".strip()))
    else:
        out.append(("pretend", f"Pretending to {getLemma(first.lower(), upos='VERB')[0]} {rest}"))
    return out


def benchmark_captions(ids: tuple[str, ...], dev: Path = DEV, captions: Path = CAPTIONS) -> list[tuple[str, str, str]]:
    """(clip, kind, caption): each clip's true captions (kind "true") and the errors injected into its template."""
    table = {r["id"]: r for r in json.loads((captions / "labels.json").read_text())}
    written_file = captions / "as_written.json"
    written = json.loads(written_file.read_text(encoding="utf-8")) if written_file.exists() else {}
    ann = json.loads((dev / "annotations.json").read_text())
    objects = [table[i]["placeholders"][0] for i in sorted(table)]
    # after this set's own objects, the development set's (a one-clip set has no other object of its own)
    fallback = [r["placeholders"][0] for r in json.loads((CAPTIONS / "labels.json").read_text())]
    out = []
    for cid in ids:
        obj = table[cid]["placeholders"][0]
        labeled = {o["category"].lower() for f in ann[cid] for o in f["labels"]}
        # another clip's object that this clip does not label (a swap to a labeled one could be true)
        other = next(o for o in objects[objects.index(obj) + 1:] + objects + fallback
                     if o.lower() not in labeled and o != obj)
        out += [(cid, "true", table[cid]["label"])] + [(cid, "true", t) for t in written.get(cid, [])]
        out += [(cid, kind, text) for kind, text in injected_captions(table[cid]["label"], obj, other)]
    return out


def build_captioned(out: Path, captions: list[tuple[str, str, str]], dev: Path = DEV) -> list[dict]:
    """Build every (clip, caption) as its own source with the CLI, one dataset; the verdicts it wrote
    (meta/provenance.jsonl `label_verdict`), in the order of `captions`."""
    out.parent.mkdir(parents=True, exist_ok=True)
    sources = []
    for i, (cid, _kind, text) in enumerate(captions):
        cap = out.parent / f"caption_{i:03d}.json"
        cap.write_text(json.dumps({cid: text}, ensure_ascii=False), encoding="utf-8")
        sources.append(f"  - frames: {dev}/frames/{cid}\n    fps: {FPS}\n    labels: {dev}/annotations.json\n"
                       f"    labels_format: something_else\n    captions: {cap}\n")
    recipe = out.parent / f"{out.name}_recipe.yaml"
    recipe.write_text(f"name: caption_benchmark\nsources:\n{''.join(sources)}actor: hand\nfps: {FPS}\n"
                      f"image_size: [240, 428]\noutput: {out}\n")
    res = subprocess.run([sys.executable, "-m", "vla_builder", "build", str(recipe), "--output", str(out),
                          "--overwrite"], capture_output=True, text=True, timeout=1800)
    if res.returncode != 0:
        raise SystemExit(f"build failed ({res.returncode}):\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    written = {}
    for line in (out / "meta" / "provenance.jsonl").read_text(encoding="utf-8").splitlines():
        p = json.loads(line)
        written[(Path(p["source"]).name, p["label_verdict"]["label"])] = p["label_verdict"]
    return [written[(cid, text)] for cid, _kind, text in captions]


def caption_benchmark(captions: list[tuple[str, str, str]], verdicts: list[dict], ids: tuple[str, ...]) -> dict:
    """Verdicts and evidence of the true and injected captions on the clips `ids`; AUROC of the evidence (a
    caption without measured evidence scores 0)."""
    from scipy.stats import mannwhitneyu

    rows = [{"clip": cid, "kind": kind, "caption": text, "verdict": v["verdict"], "evidence": v.get("evidence"),
             "why": v.get("why", "")} for (cid, kind, text), v in zip(captions, verdicts) if cid in ids]
    true = [r["evidence"] or 0.0 for r in rows if r["kind"] == "true"]
    injected = [r["evidence"] or 0.0 for r in rows if r["kind"] != "true"]
    auroc = float(mannwhitneyu(true, injected).statistic) / (len(true) * len(injected))
    return {"rows": rows, "auroc": auroc, "n_true": len(true), "n_injected": len(injected),
            "true_contradicted": sum(r["verdict"] == "contradicted" for r in rows if r["kind"] == "true"),
            "injected_contradicted": sum(r["verdict"] == "contradicted" for r in rows if r["kind"] != "true")}


def print_benchmark(name: str, b: dict) -> None:
    print(f"\n== {name}: clips {sorted({r['clip'] for r in b['rows']})}")
    for r in b["rows"]:
        ev = "   -  " if r["evidence"] is None else f"{r['evidence']:+6.2f}"
        print(f"{r['clip']:>7}  {r['kind']:9}  {r['verdict']:12}  {ev}  {r['caption']!r}  {r['why'][:90]}")
    print(f"AUROC {b['auroc']:.3f} ({b['n_true']} true vs {b['n_injected']} injected captions); true captions "
          f"contradicted {b['true_contradicted']}/{b['n_true']}; injected contradicted "
          f"{b['injected_contradicted']}/{b['n_injected']}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None, help="dataset folder (default: a temporary one)")
    ap.add_argument("--captions", action="store_true", help="the caption error-injection benchmark of the label check")
    ap.add_argument("--split", choices=("tune", "first_look", "all"), default="all")
    ap.add_argument("--dev", type=Path, default=DEV,
                    help="a folder of clips in the development set's layout (default: the development set)")
    args = ap.parse_args()
    dev = args.dev.resolve()
    if args.captions:
        if dev != DEV.resolve():  # another set: every clip with a caption is a first look
            ids = tuple(sorted(r["id"] for r in json.loads((dev / "labels.json").read_text())))
            captions = benchmark_captions(ids, dev, captions=dev)
            verdicts = build_captioned(args.out or Path(tempfile.mkdtemp(prefix="eval_captions_")) / "captions",
                                       captions, dev)
            print_benchmark(f"first look, {dev.name}", caption_benchmark(captions, verdicts, ids))
            return 0
        names = ("tune", "first_look") if args.split == "all" else (args.split,)
        ids = tuple(i for n in names for i in SPLIT[n])
        captions = benchmark_captions(ids)
        out = args.out or Path(tempfile.mkdtemp(prefix="eval_captions_")) / "captions"
        verdicts = build_captioned(out, captions)
        for n in names:
            print_benchmark(n, caption_benchmark(captions, verdicts, SPLIT[n]))
        if args.split == "all":
            print_benchmark("all six", caption_benchmark(captions, verdicts, ids))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="eval_real_")) / dev.name
    res = build(out, dev)
    if res.returncode != 0:
        print(res.stdout[-3000:], res.stderr[-3000:])
        print(f"build exit {res.returncode}")
    from vla_builder.validate import validate

    seen = readme_descriptions(dev)
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
