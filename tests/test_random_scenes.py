"""Generated scenes drawn at random (issue 21): gripper F1 >= 0.95 and every event within 2 frames on a sample of the
seeds `scripts/eval_scenes.py` measures (all of them in BENCHMARKS.md), built by the CLI and read from the dataset."""

import importlib.util
from pathlib import Path

import numpy as np

from conftest import assert_valid, cli_in_process

spec = importlib.util.spec_from_file_location("eval_scenes", Path(__file__).parents[1] / "scripts" / "eval_scenes.py")
eval_scenes = importlib.util.module_from_spec(spec)
spec.loader.exec_module(eval_scenes)

# one of each camera (still, pan with the box leaving the frame, shake, zoom); three with the hand occluded
SEEDS = [8, 13, 6, 3]


def test_random_scenes_gripper_and_events(tmp_path):
    truths = eval_scenes.make_scenes(tmp_path, SEEDS)
    assert {t["camera"] for t in truths.values()} == {"still", "pan", "shake", "zoom"}
    assert any(t["box_leaves"] for t in truths.values()) and sum(bool(t["occluded"]) for t in truths.values()) == 3
    out = eval_scenes.build(tmp_path, in_process=cli_in_process)
    assert_valid(out)
    results = eval_scenes.score(out, truths)
    assert len(results) == len(SEEDS)
    for r in results:
        assert r["ok"], r
        # the occluded frames are unlabeled: the gripper there is inferred, not seen -> not known
        assert r["known"] < 1.0 if truths[r["scene"]]["occluded"] else r["known"] > 0.9, r


def test_random_scene_is_drawn_from_its_seed():
    from vla_builder.synthetic import random_scene

    a, b = random_scene(5, 60), random_scene(5, 60)
    assert a["events"] == b["events"] and np.array_equal(a["centers"][2], b["centers"][2])
    assert random_scene(6, 60)["camera"] != a["camera"]
