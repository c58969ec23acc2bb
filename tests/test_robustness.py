"""Builds that lose nothing: resume after SIGKILL, bad inputs as failure records, fuzzing, validate, Ray runner."""

import glob
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from conftest import cli_in_process, run_cli
from vla_builder.synthetic import make_corpus


def write_recipe(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path




def dataset_content(root: Path) -> dict:
    """Everything that must match between two builds: parquet data, tasks, provenance, decoded frames."""
    import av

    data = [pq.read_table(f) for f in sorted(glob.glob(f"{root}/data/*/*.parquet"))]
    frames = []
    for f in sorted(glob.glob(f"{root}/videos/*/*/*.mp4")):
        with av.open(f) as c:
            frames += [fr.to_ndarray(format="rgb24") for fr in c.decode(c.streams.video[0])]
    prov = [json.loads(line) for line in (root / "meta" / "provenance.jsonl").read_text().splitlines()]
    for p in prov:
        p.pop("source", None), p.pop("labels", None)  # absolute paths differ between build folders
    return {"data": data, "tasks": pq.read_table(root / "meta" / "tasks.parquet").to_pylist(),
            "frames": frames, "provenance": prov}


def assert_same_dataset(a: Path, b: Path) -> None:
    ca, cb = dataset_content(a), dataset_content(b)
    assert len(ca["data"]) == len(cb["data"]) and all(x.equals(y) for x, y in zip(ca["data"], cb["data"]))
    assert ca["tasks"] == cb["tasks"] and ca["provenance"] == cb["provenance"]
    assert len(ca["frames"]) == len(cb["frames"])
    assert all(np.array_equal(x, y) for x, y in zip(ca["frames"], cb["frames"]))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    make_corpus(root, 4)
    t0 = time.perf_counter()
    res = run_cli("build", "recipe.yaml", "--no-report", cwd=root)  # a process: its time is the kill window
    assert res.returncode == 0, res.stdout + res.stderr
    return root, time.perf_counter() - t0


def test_killed_build_resumes_to_the_same_dataset(corpus, tmp_path):
    src, t_full = corpus
    for d in src.glob("clip*"):
        shutil.copytree(d, tmp_path / d.name)
    shutil.copy(src / "recipe.yaml", tmp_path)
    rng = random.Random(7)
    kills = 0
    cmd = [sys.executable, "-m", "vla_builder", "build", "recipe.yaml", "--no-report"]
    while kills < 3:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, t_full))
        if proc.poll() is not None:  # finished before the kill: start over for another kill point
            assert proc.returncode == 0
            shutil.rmtree(tmp_path / "out")
            continue
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
    res = cli_in_process(*cmd[3:], cwd=tmp_path)  # the resume and the rerun: the same command, no kill to survive
    assert res.returncode == 0, res.stdout + res.stderr
    assert_same_dataset(src / "out" / "corpus", tmp_path / "out" / "corpus")
    assert not (tmp_path / "out" / ".corpus.work").exists()
    again = cli_in_process(*cmd[3:], cwd=tmp_path)
    assert again.returncode == 0 and "up to date" in again.stdout


def test_bad_inputs_become_failure_records_and_good_clips_survive(tmp_path, real_data):
    good = make_corpus(tmp_path, 2)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "truncated.mp4").write_bytes((good[0] / "scene.mp4").read_bytes()[:1500])
    (bad / "junk.mp4").write_bytes(os.urandom(5000))
    shutil.copy(good[0] / "scene.mp4", bad / "nolabels_ok.mp4")
    (bad / "nolabels_ok_gt.txt").write_text("")  # empty label file
    shutil.copy(good[0] / "scene.mp4", bad / "wrongformat.mp4")
    (bad / "wrongformat_gt.txt").write_text("<html>\n</html>\n<body>\n")
    # label rows past the end, NaN / negative / out-of-frame boxes, unknown class, duplicate ids: dropped, kept clip
    shutil.copy(good[1] / "scene.mp4", bad / "dirty.mp4")
    rows = (good[1] / "gt.txt").read_text().splitlines()
    rows += ["999,1,10,10,20,20,1,1,1", "2,1,nan,1,2,2,1,1,1", "3,2,5,5,-4,9,1,2,1", "4,3,900,900,5,5,1,3,1",
             "5,9,10,10,20,20,1,77,1", "6,1,40,40,20,20,1,1,1"]
    (bad / "dirty_gt.txt").write_text("\n".join(rows) + "\n")
    frames = tmp_path / "frames_bad" / "img1"
    frames.mkdir(parents=True)
    shutil.copy(real_data / "MOT17-mini" / "MOT17-05-FRCNN" / "img1" / "000001.jpg", frames / "000001.jpg")
    (frames / "000002.jpg").write_bytes(b"not a jpeg")
    (tmp_path / "frames_bad" / "gt.txt").write_text("1,1,10,10,50,50,1,1,1\n2,1,12,10,50,50,1,1,1\n")
    outside = tmp_path.parent / f"{tmp_path.name}_outside.txt"
    outside.write_text((good[0] / "gt.txt").read_text())
    shutil.copy(good[0] / "scene.mp4", tmp_path / "escape.mp4")
    write_recipe(tmp_path / "recipe.yaml", f"""
        name: mixed
        data_root: .
        sources:
          - video: clip*/scene.mp4
            labels: "{{dir}}/gt.txt"
            classes: {{1: hand, 2: cup, 3: box}}
          - video: bad/*.mp4
            labels: "{{dir}}/{{stem}}_gt.txt"
            classes: {{1: hand, 2: cup, 3: box}}
          - frames: frames_bad/img1
            fps: 15
            labels: "{{dir}}/gt.txt"
          - video: escape.mp4
            labels: ../{outside.name}
        actor: hand
        fps: 15
        image_size: [96, 128]
        output: out/mixed
    """)
    # label files for the unlabeled broken videos must exist for the recipe to load: give them valid ones
    for name in ("empty", "truncated", "junk"):
        shutil.copy(good[0] / "gt.txt", bad / f"{name}_gt.txt")
    res = cli_in_process("build", "recipe.yaml", cwd=tmp_path)
    assert res.returncode == 3, res.stdout + res.stderr  # partial success
    out = tmp_path / "out" / "mixed"
    failures = [json.loads(line) for line in (out / "meta" / "failures.jsonl").read_text().splitlines()]
    by_file = {Path(f["file"]).name: f for f in failures}
    for name in ("empty.mp4", "truncated.mp4", "junk.mp4", "nolabels_ok_gt.txt", "wrongformat_gt.txt",
                 "000002.jpg", outside.name):
        assert name in by_file, (name, failures)
        assert by_file[name]["stage"] and by_file[name]["reason"]
    assert "escapes the data root" in by_file[outside.name]["reason"]
    assert "empty" in by_file["empty.mp4"]["reason"]
    prov = [json.loads(line) for line in (out / "meta" / "provenance.jsonl").read_text().splitlines()]
    sources = sorted(Path(p["source"]).name if "clip" not in p["source"] else p["source"].split("/")[-2]
                     for p in prov)
    assert sources == ["clip0000", "clip0001", "dirty.mp4"]  # every good clip is in the dataset
    dirty = next(p for p in prov if p["source"].endswith("dirty.mp4"))
    dropped = dirty["label_rows_dropped"]
    for reason in ("box with NaN or infinite coordinates", "box with zero or negative size",
                   "box entirely outside the frame", "unknown class id", "duplicate track id in one frame",
                   "label row past the video's end"):
        assert dropped.get(reason, 0) >= 1, (reason, dropped)
    assert cli_in_process("validate", str(out)).returncode == 0

    ff = cli_in_process("build", "recipe.yaml", "--fail-fast", "--output", "out/ff", cwd=tmp_path)
    assert ff.returncode == 3 and ff.stdout.count("FAILED") == 1


def _mutate_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        i = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = ["1,1,1,1,1,1,1,1,1"]
        elif op == 0:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]
        elif op == 1:
            parts = lines[i].split(",")
            parts[rng.randrange(len(parts))] = rng.choice(["nan", "-1", "1e12", "", "inf", "x", "-0", "0"])
            lines[i] = ",".join(parts)
        elif op == 2:
            lines.insert(i, lines[i])
        elif op == 3:
            del lines[i]
        elif op == 4:
            lines[i] = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(1, 40)))
        elif op == 5:
            lines = lines[: rng.randrange(len(lines) + 1)]
        else:
            parts = lines[i].split(",")
            rng.shuffle(parts)
            lines[i] = ",".join(parts)
    return "\n".join(lines) + "\n"


def _mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(4)
    if op == 0:
        return bytes(b[: rng.randrange(len(b))])
    if op == 1:
        for _ in range(rng.randint(1, 50)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == 2:
        start = rng.randrange(len(b))
        b[start : start + rng.randrange(1, 4096)] = bytes(min(4096, len(b) - start))
        return bytes(b)
    cut = rng.randrange(len(b))
    return bytes(b[:cut] + b[cut + rng.randrange(1, 2048) :])


@pytest.mark.timeout(600)
def test_fuzzed_inputs_never_crash_or_hang(tmp_path):
    from vla_builder.build import PipelineFactory
    from vla_builder.types import Clip, SourceSpec

    (seed_dir,) = make_corpus(tmp_path, 1, frames=16)
    video, labels = (seed_dir / "scene.mp4").read_bytes(), (seed_dir / "gt.txt").read_text()
    pipeline = PipelineFactory.of(15, image_size=(96, 128), actor="hand",
                                  motion={"method": "dis", "preset": "ultrafast", "max_side_px": 64, "impl": "cpu"})()
    rng = random.Random(1234)
    outcomes = {"ok": 0, "failed": 0}
    for case in range(220):
        d = tmp_path / f"case{case}"
        d.mkdir()
        mutate_video = case % 3 == 0
        (d / "v.mp4").write_bytes(_mutate_bytes(rng, video) if mutate_video else video)
        (d / "gt.txt").write_text(labels if mutate_video and case % 2 else _mutate_text(rng, labels))
        spec = SourceSpec(video=d / "v.mp4", labels=d / "gt.txt", labels_format="mot",
                          classes={1: "hand", 2: "cup", 3: "box"})
        t0 = time.perf_counter()
        result = pipeline.run_clip(Clip(Clip.make_id(spec), spec))
        assert time.perf_counter() - t0 < 30, f"case {case} took too long"
        assert (result.clip is None) != (result.failure is None)
        if result.failure:
            assert result.failure.reason and result.failure.stage, case
            outcomes["failed"] += 1
        else:
            clip = result.clip
            assert np.isfinite(clip.trajectory.action).all() and np.isfinite(clip.trajectory.state).all(), case
            assert len(clip.frames) == len(clip.trajectory.action) and clip.task
            outcomes["ok"] += 1
        shutil.rmtree(d)
    assert outcomes["ok"] > 20 and outcomes["failed"] > 20, outcomes  # the fuzzer reached both sides


def test_validate_names_the_real_cause(corpus, tmp_path):
    src, _ = corpus
    broken = tmp_path / "broken"
    shutil.copytree(src / "out" / "corpus", broken)
    data = next(iter(sorted(broken.glob("data/*/*.parquet"))))
    data.write_bytes(data.read_bytes()[:-200])  # a writer killed before finalize(): no footer
    res = cli_in_process("validate", str(broken))
    assert res.returncode == 1 and str(data) in res.stderr and "finalize" in res.stderr
    missing = tmp_path / "missing_video"
    shutil.copytree(src / "out" / "corpus", missing)
    video = next(iter(missing.glob("videos/*/*/*.mp4")))
    video.unlink()
    res = cli_in_process("validate", str(missing))
    assert res.returncode == 1 and str(video) in res.stderr
    res = cli_in_process("validate", str(src / "out" / "corpus"))
    assert res.returncode == 0 and "OK" in res.stdout


@pytest.mark.timeout(900)
def test_ray_runner_gives_the_same_episodes(corpus, tmp_path, ray_nodes):
    """`--runner ray` through the CLI on the session's Ray cluster (conftest: its workers warm); a Ray of the
    build's own (no address) is started for real by the test below."""
    src, _ = corpus
    # the recipe by its full path: the cluster's workers run in another folder, and clip paths resolve from the recipe's
    res = cli_in_process("build", str(src / "recipe.yaml"), "--runner", "ray", "--set",
                         f"runner.address={ray_nodes.address}", "--output", str(tmp_path / "ray"), "--no-report")
    assert res.returncode == 0, res.stdout + res.stderr
    assert_same_dataset(src / "out" / "corpus", tmp_path / "ray")


def test_without_an_address_a_ray_of_its_own_starts_beside_another(ray_cluster):
    """No address: a fresh driver starts a local Ray with `num_workers` CPUs, not the one already running here."""
    code = textwrap.dedent(f"""
        import ray
        from vla_builder.runners.ray import RayRunner
        assert RayRunner(num_workers=1)._init()
        print(ray.cluster_resources().get("CPU"), ray.get_runtime_context().gcs_address)
        ray.shutdown()
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    cpus, address = res.stdout.split()[-2:]
    assert float(cpus) == 1.0 and address != ray_cluster.address


def test_grouped_merge_gives_the_same_episodes(tmp_path, monkeypatch):
    """Many shards are merged in groups (linear cost); the dataset must equal a one-step merge's."""
    from vla_builder.build import build
    from vla_builder.recipe import load_recipe
    from vla_builder.sinks import lerobot as sink

    make_corpus(tmp_path, 5, frames=12)
    loaded = load_recipe(tmp_path / "recipe.yaml")
    build(loaded, output=tmp_path / "one_step", log=lambda m: None)
    monkeypatch.setattr(sink, "MERGE_GROUP", 2)  # 5 shards -> groups of 2, 2, 1 -> merged without concatenation
    build(loaded, output=tmp_path / "grouped", log=lambda m: None)
    assert len(list((tmp_path / "one_step").glob("data/*/*.parquet"))) == 1
    assert len(list((tmp_path / "grouped").glob("data/*/*.parquet"))) == 3
    one, grouped = dataset_content(tmp_path / "one_step"), dataset_content(tmp_path / "grouped")
    rows = lambda c: [r for t in c["data"] for r in t.to_pylist()]  # noqa: E731 — files differ, rows must not
    assert rows(one) == rows(grouped) and one["tasks"] == grouped["tasks"] and one["provenance"] == grouped["provenance"]
    assert len(one["frames"]) == len(grouped["frames"]) == 5 * 12
    assert all(np.array_equal(a, b) for a, b in zip(one["frames"], grouped["frames"]))
    assert cli_in_process("validate", str(tmp_path / "grouped")).returncode == 0
