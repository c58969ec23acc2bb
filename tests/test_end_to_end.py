"""Labeled video in, LeRobot v3.0 out: built through the CLI, opened with LeRobotDataset, values checked."""

import json
import textwrap

import numpy as np
import pytest
import torch

from conftest import assert_valid, cli_in_process, load_dataset
from vla_builder.sources.grid import n_grid_samples


def read_everything(ds, fps: int):
    """Read every frame through a DataLoader with delta_timestamps; return stacked actions, states, images seen."""
    from lerobot.utils.collate import lerobot_collate_fn

    # language columns (lists of dicts) need lerobot's collate, exactly as lerobot-train uses it
    assert ds.meta.has_language_columns
    loader = torch.utils.data.DataLoader(ds, batch_size=8, shuffle=False, num_workers=0,
                                         collate_fn=lerobot_collate_fn)
    actions, states, n_images = [], [], 0
    for batch in loader:
        img = next(v for k, v in batch.items() if k.startswith("observation.images."))
        assert img.dtype == torch.float32 and img.shape[1] == 3 and 0 <= img.min() and img.max() <= 1
        n_images += img.shape[0]
        actions.append(batch["action"])
        states.append(batch["observation.state"])
    return torch.cat(actions).numpy(), torch.cat(states).numpy(), n_images


@pytest.fixture(scope="module")
def synthetic_build(pick_place_scene, tmp_path_factory):
    scene, truth = pick_place_scene
    work = tmp_path_factory.mktemp("build_syn")
    recipe = work / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: synthetic
        sources:
          - video: {scene}/scene.mp4
            labels: {scene}/gt.txt
            classes: {{1: hand, 2: cup, 3: box}}
        actor: hand
        fps: 15
        image_size: [240, 320]
        output: out/synthetic
    """))
    res = cli_in_process("build", str(recipe), "--no-report", cwd=work)
    assert res.returncode == 0, res.stdout + res.stderr
    return work / "out" / "synthetic", truth, res.stdout


def test_synthetic_actions_and_gripper_match_the_truth(synthetic_build):
    root, truth, stdout = synthetic_build
    assert "episodes: 1" in stdout and "wall time" in stdout and str(root) in stdout
    fps, src_fps = 15, truth["fps"]
    step = src_fps // fps
    ds = load_dataset(root, "vla_builder/synthetic", delta_timestamps={"action": [0, 1 / fps]})
    n = n_grid_samples((truth["n_frames"] - 1) / src_fps, 1 / src_fps, fps)
    assert len(ds) == n == ds.meta.total_frames  # the labeled span at the output fps
    assert ds.meta.info.features["action"]["names"][:3] == ["ee_dx", "ee_dy", "ee_dscale"]
    assert "gripper" in ds.meta.info.features["action"]["names"]
    actions, _states, n_images = read_everything(ds, fps)
    assert n_images == n and actions.shape == (n, 2, 5)
    now, nxt = actions[:, 0], actions[:, 1]
    np.testing.assert_allclose(nxt[:-1], now[1:], atol=1e-7)  # delta_timestamps: [0, 1/fps] is t and t+1

    hand = np.array(truth["hand_center"])[::step]  # the hand at each output sample
    true_v = np.vstack([np.diff(hand, axis=0), [[0, 0]]])
    moving = np.linalg.norm(true_v, axis=1) > 1e-3
    assert moving.sum() > n // 2
    got = now[:, :2]
    assert np.all(np.sign(got[moving]) == np.sign(true_v[moving]))  # sign
    rel = np.linalg.norm(got[moving] - true_v[moving], axis=1) / np.linalg.norm(true_v[moving], axis=1)
    assert rel.max() <= 0.10, rel.max()  # magnitude within 10%

    a, b = truth["attach"]  # the cup moves with the hand from source frame a to b
    true_grip = np.array([1.0 if a <= t * step and t * step + step <= b else 0.0 for t in range(n)])
    got_grip = now[:, -1]  # gripper is the last action channel
    assert set(np.unique(got_grip)) <= {0.0, 1.0}
    on, true_on = np.nonzero(got_grip)[0], np.nonzero(true_grip)[0]
    assert len(on) and abs(on[0] - true_on[0]) <= 1 and abs(on[-1] - true_on[-1]) <= 1
    assert np.array_equal(on, np.arange(on[0], on[-1] + 1))  # one contiguous grasp
    assert (got_grip == true_grip).mean() >= 0.95


def test_synthetic_task_provenance_and_frames(synthetic_build, pick_place_scene):
    root, truth, _ = synthetic_build
    ds = load_dataset(root, "vla_builder/synthetic")
    (task,) = ds.meta.episodes[0]["tasks"]  # one of the paraphrases, picked by seed
    assert "cup" in task and "to the right of the box" in task
    prov = [json.loads(line) for line in (root / "meta" / "provenance.jsonl").read_text().splitlines()]
    assert len(prov) == 1 and prov[0]["source"].endswith("scene.mp4") and prov[0]["labels"].endswith("gt.txt")
    assert prov[0]["source_frames"] == [0, (len(ds) - 1) * 2] and "decoder" in prov[0]  # 30 fps source, 15 out
    # the written frames are the source's frames (lossy codec: small mean difference)
    from vla_builder.sources.video import choose_decoder, probe

    scene, _ = pick_place_scene
    info = probe(scene / "scene.mp4")
    src = {i: rgb for i, _p, rgb in choose_decoder(info)[0].frames(info)}
    for t in (0, len(ds) // 2, len(ds) - 1):
        img = (ds[t]["observation.images.front"].permute(1, 2, 0).numpy() * 255).astype(np.float32)
        assert np.abs(img - src[t * 2]).mean() < 12


def test_mot17_real_sequences(real_data, tmp_path):
    recipe = tmp_path / "mot.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: mot17
        sources:
          - frames: {real_data}/MOT17-mini/*/img1
            labels: "{{dir}}/gt/gt.txt"
            classes: {{1: pedestrian}}
            licence: CC BY-NC-SA 3.0
        output: {tmp_path}/out
    """))
    res = cli_in_process("build", str(recipe), "--no-report", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert_valid(tmp_path / "out")
    ds = load_dataset(tmp_path / "out", "vla_builder/mot17")
    fps = ds.meta.fps
    assert fps == 30  # the first source's rate (MOT17-04, seqinfo.ini)
    # (last - first labeled frame, one frame) / source fps
    spans = {"MOT17-04-FRCNN": (7 / 30, 1 / 30), "MOT17-05-FRCNN": (5 / 14, 1 / 14)}
    prov = [json.loads(line) for line in (tmp_path / "out" / "meta" / "provenance.jsonl").read_text().splitlines()]
    assert [p["source"].split("/")[-2] for p in prov] == sorted(spans)
    for ep, p in enumerate(prov):
        seq = p["source"].split("/")[-2]
        assert ds.meta.episodes[ep]["length"] == n_grid_samples(*spans[seq], fps), seq
        assert p["licence"] == "CC BY-NC-SA 3.0" and p["tracks"] > 5
    ds = load_dataset(tmp_path / "out", "vla_builder/mot17", delta_timestamps={"action": [0, 1 / fps]})
    actions, states, n_images = read_everything(ds, fps)
    assert n_images == len(ds) == ds.meta.total_frames
    assert np.isfinite(actions).all() and np.isfinite(states).all()
    assert (states[:, 0] > 0).all() and (states[:, 0] < 1).all()  # the actor's x, normalized


def test_a_one_clip_build_is_its_shard_as_lerobot_wrote_it(tmp_path, monkeypatch):
    """One finished clip: the merge copies its shard (lerobot's own writer's files) instead of aggregating it — the
    same video, data rows, stats and episode metadata as `aggregate_datasets` of that shard writes (up to its
    re-computed task_index quantiles, 0 for ~1e-15), no file of the builder's own left in, and lerobot loads it."""
    import shutil

    import pandas as pd
    from conftest import build_letterboxed_scene
    from lerobot.datasets.aggregate import aggregate_datasets
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from vla_builder.sinks.lerobot import CLIP_REASONING, CLIP_RECORD, LeRobotSink

    kept = tmp_path / "shard"
    merge = LeRobotSink.merge

    def keep_then_merge(self, shard_dirs, partial, repo_id):
        shutil.copytree(shard_dirs[0], kept)
        return merge(self, shard_dirs, partial, repo_id)

    monkeypatch.setattr(LeRobotSink, "merge", keep_then_merge)
    out = build_letterboxed_scene(tmp_path, "one", (96, 128), (96, 128))
    for name in (CLIP_RECORD, CLIP_REASONING):
        (kept / "meta" / name).unlink(missing_ok=True)
    aggregate_datasets(repo_ids=["vla_builder/shard"], aggr_repo_id="vla_builder/one", roots=[kept],
                       aggr_root=tmp_path / "aggregated")
    agg = tmp_path / "aggregated"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert not [f for f in files if CLIP_RECORD in f or CLIP_REASONING in f]
    video = "videos/observation.images.front/chunk-000/file-000.mp4"
    assert (out / video).read_bytes() == (agg / video).read_bytes()
    data = "data/chunk-000/file-000.parquet"
    ours, theirs = pd.read_parquet(out / data), pd.read_parquet(agg / data)
    assert ours[theirs.columns].astype(str).equals(theirs.astype(str))  # ours adds the language columns after
    stats_ours, stats_theirs = (json.loads((d / "meta" / "stats.json").read_text()) for d in (out, agg))
    assert stats_ours.keys() == stats_theirs.keys()
    for key in stats_theirs:
        for stat in stats_theirs[key]:
            assert np.allclose(stats_ours[key][stat], stats_theirs[key][stat], rtol=1e-9, atol=1e-12), (key, stat)
    episodes = "meta/episodes/chunk-000/file-000.parquet"
    ep_ours, ep_theirs = pd.read_parquet(out / episodes), pd.read_parquet(agg / episodes)
    assert list(ep_ours.columns) == list(ep_theirs.columns)
    for column in ep_theirs.columns:
        a, b = ep_ours[column].iloc[0], ep_theirs[column].iloc[0]
        if column.startswith("stats/task_index/q"):
            assert np.allclose(a, b, atol=1e-12), column
        else:
            assert str(a) == str(b), column
    assert len(LeRobotDataset("vla_builder/one", root=out)) == 24
    assert_valid(out)
