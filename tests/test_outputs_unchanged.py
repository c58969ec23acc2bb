"""The demo and the six Something-Else development clips, built now, give the outputs stored in
tests/assets/expected_outputs.json.gz: equal actions, state, language and provenance per episode.

The expectation was written from the code before the renovation of issue 20 (one home for the actor and for boxes,
one config base, interactions split): a refactor must not change what the builder writes. Volatile provenance keys
(paths, which differ per checkout) are left out; `actor_id`, added by the renovation, is compared where the
expectation has it. Videos are encoded with the cheapest settings (`h264`, `ultrafast`): the encoder touches no
compared value (the encode settings themselves are left out).

Regenerate (only for a deliberate change of outputs, said in the commit):
    PYTHONPATH=$PWD python tests/test_outputs_unchanged.py --write
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED = REPO / "tests" / "assets" / "expected_outputs.json.gz"
SE_FRAMES = REPO.parent / "shared" / "data" / "real" / "something_else_dev" / "frames"
CHEAP_VIDEO = ["--set", "video.codec=h264", "--set", "video.preset=ultrafast"]
DECIMALS = 5  # state/action rounded: float32 values, compared within 1e-5
VOLATILE = {"source", "labels", "encode", "episode_index"}  # checkout paths; the encoder's own settings
NEW_KEYS = {"actor_id"}  # provenance fields the renovation adds (compared where the expectation has them)


def _runs(values: list) -> list:
    """[[first_row, value], ...] for each run of equal values (language columns repeat over many rows)."""
    out: list = []
    for i, v in enumerate(values):
        if not out or out[-1][1] != v:
            out.append([i, v])
    return out


def summarize(root: Path) -> dict:
    """Per episode: state and action (rounded), language columns (run-length), task, provenance minus paths."""
    import pandas as pd

    frames = pd.concat([pd.read_parquet(p) for p in sorted((root / "data").rglob("*.parquet"))], ignore_index=True)
    frames = frames.sort_values(["episode_index", "frame_index"])
    tasks = pd.read_parquet(root / "meta" / "tasks.parquet")
    task_of = {int(i): str(t) for t, i in zip(tasks.index, tasks["task_index"], strict=True)}
    prov = [json.loads(line) for line in (root / "meta" / "provenance.jsonl").read_text().splitlines()]
    subtasks = [json.loads(line) for line in (root / "meta" / "subtasks.jsonl").read_text().splitlines()]
    reasoning_path = root / "meta" / "reasoning.jsonl"
    reasoning = [json.loads(line) for line in reasoning_path.read_text().splitlines()] if reasoning_path.is_file() else []
    lang_cols = [c for c in ("language_persistent", "language_events") if c in frames.columns]
    episodes = {}
    for rec in prov:
        ep = int(rec["episode_index"])
        rows = frames[frames["episode_index"] == ep]
        lang = {c: _runs([json.dumps(_plain(v), sort_keys=True) for v in rows[c]]) for c in lang_cols}
        episodes[rec["clip_id"]] = {
            "frames": len(rows),
            "timestamp": np.round(rows["timestamp"].to_numpy(float), 6).tolist(),
            "state": np.round(np.stack(rows["observation.state"].to_numpy()).astype(float), DECIMALS).tolist(),
            "action": np.round(np.stack(rows["action"].to_numpy()).astype(float), DECIMALS).tolist(),
            "task": sorted({task_of[int(i)] for i in rows["task_index"]}),
            "language": lang,
            "subtasks": next((s["subtasks"] for s in subtasks if s["episode_index"] == ep), None),
            "reasoning": [r for r in reasoning if r.get("episode_index") == ep],
            "provenance": {k: v for k, v in rec.items() if k not in VOLATILE},
        }
    return episodes


def _plain(v):
    """A parquet cell (numpy arrays, nested dicts) as plain JSON values."""
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return round(float(v), 6)
    if isinstance(v, np.integer):
        return int(v)
    return v


def build_all(work: Path) -> dict:
    """Build the demo (its synthetic scene made into a copy of recipes/) and the Something-Else recipe in place
    (its sources are outside the repository: clip ids are recipe-relative paths, so it is built where it lives)."""
    from vla_builder.cli import main
    from vla_builder.synthetic import make_scene

    demo = work / "demo"
    (demo / "data").mkdir(parents=True)
    shutil.copytree(REPO / "recipes" / "data" / "MOT17-05-FRCNN", demo / "data" / "MOT17-05-FRCNN")
    # scripts/make_synthetic_scene.py recipes/data/synthetic_pick_place --scenario pick_place (its defaults)
    make_scene(demo / "data" / "synthetic_pick_place", "pick_place", 90, 30, (480, 640), 0)
    shutil.copy(REPO / "recipes" / "demo.yaml", demo / "demo.yaml")
    out = {}
    for recipe, output in [(demo / "demo.yaml", work / "out_demo"),
                           (REPO / "recipes" / "something_else.yaml", work / "out_se")]:
        code = main(["build", "-q", str(recipe), "--output", str(output), "--no-report", *CHEAP_VIDEO])
        assert code == 0, f"{recipe}: exit {code}"
        out[recipe.stem] = summarize(output)
    # paths written into the reasoning's question basis: this build's folder, the checkout (any name) and its parent
    text = json.dumps(out).replace(str(work), "<work>").replace(str(REPO), "<repo>")
    text = text.replace(str(REPO.parent), "<parent>")
    return json.loads(text)


def _compare(path: str, want, got, problems: list[str]) -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            if k not in got and k in NEW_KEYS:
                continue
            if k not in want:
                if k not in NEW_KEYS:
                    problems.append(f"{path}.{k}: new key")
                continue
            if k not in got:
                problems.append(f"{path}.{k}: missing")
                continue
            _compare(f"{path}.{k}", want[k], got[k], problems)
    elif isinstance(want, list) and isinstance(got, list) and want and isinstance(want[0], list) and all(
            isinstance(x, (int, float)) for row in want for x in (row if isinstance(row, list) else [None])):
        a, b = np.asarray(want, float), np.asarray(got, float)
        if a.shape != b.shape:
            problems.append(f"{path}: shape {a.shape} != {b.shape}")
        elif not np.allclose(a, b, atol=2 * 10.0 ** -DECIMALS, rtol=0):
            i = np.unravel_index(np.argmax(np.abs(a - b)), a.shape)
            problems.append(f"{path}: max difference {np.abs(a - b).max():.2e} at {tuple(int(x) for x in i)}")
    elif want != got:
        problems.append(f"{path}: {str(want)[:200]} != {str(got)[:200]}")


@pytest.mark.skipif(not SE_FRAMES.is_dir(), reason="shared Something-Else frames missing")
def test_demo_and_something_else_outputs_unchanged(tmp_path):
    want = json.loads(gzip.decompress(EXPECTED.read_bytes()))
    got = build_all(tmp_path)
    problems: list[str] = []
    for recipe in want:
        assert sorted(want[recipe]) == sorted(got[recipe]), f"{recipe}: other episodes"
        _compare(recipe, want[recipe], got[recipe], problems)
    assert not problems, f"{len(problems)} difference(s):\n" + "\n".join(problems[:40])


if __name__ == "__main__" and "--write" in sys.argv:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        summary = build_all(Path(d))
    EXPECTED.write_bytes(gzip.compress(json.dumps(summary, sort_keys=True).encode(), mtime=0))
    print(f"wrote {EXPECTED} ({EXPECTED.stat().st_size} bytes)")
