"""The Ray runner on a real multi-node cluster on this machine (`ray.cluster_utils.Cluster`: a head and two worker
nodes): a GPU stage group placed where the (declared) GPU is, a driver killed mid-build and rerun, a node lost
mid-build. Each build must give the local runner's dataset exactly: nothing lost, no episode twice."""

import json
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from test_robustness import assert_same_dataset
from vla_builder.build import PipelineFactory, build, make_clips
from vla_builder.pipeline import Pipeline, Resources, Stage
from vla_builder.recipe import load_recipe
from vla_builder.synthetic import make_corpus

ray = pytest.importorskip("ray")

CLIPS = 12


@pytest.fixture
def nodes(ray_nodes):
    """The session's cluster (conftest: a head, a CPU node, a fake-GPU node) with both worker nodes."""
    return ray_nodes


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """12 small clips and the local runner's dataset of them: the reference every cluster build must equal."""
    root = tmp_path_factory.mktemp("cluster_corpus")
    make_corpus(root, CLIPS, frames=10, size_px=(64, 96))
    reference = root / "local"
    report = build(load_recipe(root / "recipe.yaml"), output=reference, log=lambda m: None)
    assert report.exit_code == 0 and report.episodes == CLIPS
    return root, reference


def assert_identical(reference: Path, built: Path) -> None:
    """Parquet values, decoded frames, tasks, provenance in source order (`assert_same_dataset`), the language
    files; every clip once."""
    assert_same_dataset(reference, built)
    for name in ("subtasks.jsonl", "reasoning.jsonl"):
        ref, got = reference / "meta" / name, built / "meta" / name
        assert ref.is_file() == got.is_file() and (not ref.is_file() or ref.read_text() == got.read_text()), name
    clip_ids = [json.loads(line)["clip_id"] for line in (built / "meta" / "provenance.jsonl").read_text().splitlines()]
    assert len(set(clip_ids)) == CLIPS == len(clip_ids)
    assert (built / "meta" / "failures.jsonl").read_text() == ""


def committed_shards(output: Path) -> int:
    return len(list((output.parent / f".{output.name}.work" / "shards").glob("*/meta/vla_builder_clip.json")))


def encoding_on(node) -> bool:
    """Whether a worker of `node` is half-way through a clip: its encoder process (a child of the worker, a child of
    the node's raylet) is running."""
    import psutil

    try:
        raylet = psutil.Process(node.all_processes["raylet"][0].process.pid)
        procs = raylet.children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    for p in procs:
        try:
            if any("encode_worker" in part for part in p.cmdline()):
                return True
        except psutil.Error:  # ended since
            pass
    return False


# -- a stage group asking for a GPU --------------------------------------------------------------------------------

@dataclass
class WhereAmI(Stage):
    """Records the resources Ray gave the task running it (one JSON file per clip and stage); the clip unchanged."""

    folder: str
    label: str
    gpus: float

    name: ClassVar[str] = "where_am_i"

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        return Resources(cpus=1.0, gpus=self.gpus)

    def process(self, clip):
        ctx = ray.get_runtime_context()
        Path(self.folder, f"{clip.clip_id}.{self.label}.json").write_text(json.dumps(
            {"assigned": ctx.get_assigned_resources(), "node": ctx.get_node_id()}))
        return clip


@dataclass(frozen=True)
class ProbedFactory(PipelineFactory):
    """The recipe's pipeline with a GPU-declaring probe after motion and a CPU probe at the end."""

    folder: str = ""

    def key(self) -> str:
        return super().key() + self.folder

    def __call__(self) -> Pipeline:
        stages = list(super().__call__().stages)
        at = [s.name for s in stages].index("motion") + 1
        stages.insert(at, WhereAmI(self.folder, "gpu_group", gpus=1.0))
        return Pipeline([*stages, WhereAmI(self.folder, "cpu_group", gpus=0.0)])


def test_a_gpu_stage_group_runs_where_the_gpu_is(nodes, corpus, tmp_path):
    import ray.cloudpickle

    from vla_builder.build import output_fps
    from vla_builder.runners.ray import RayRunner
    from vla_builder.sinks.lerobot import LeRobotSink
    from vla_builder.work import ClipTask

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import this test module
    root, reference = corpus
    loaded = load_recipe(root / "recipe.yaml")
    fps, recipe = output_fps(loaded), loaded.recipe
    factory = ProbedFactory(recipe, fps, None, folder=str(tmp_path))
    groups = factory().groups()
    assert [g[2] for g in groups] == [Resources(1.0, 1.0), Resources(1.0, 0.0)]
    assert factory().stages[groups[0][1] - 1].name == "where_am_i"  # the first group ends with the GPU stage
    sink = LeRobotSink(fps=fps, image_size=tuple(recipe.image_size), camera=loaded.sources[0].camera,
                       video=recipe.video)
    clips = make_clips(loaded)
    tasks = [ClipTask(c, tmp_path / "shards" / c.clip_id, factory, sink) for c in clips]
    outcomes = []
    RayRunner(clips_per_gpu=2).run(tasks, lambda o: outcomes.append(o) or True)  # two clips share the GPU
    assert [o.failure for o in outcomes] == [None] * CLIPS
    assert sorted(o.clip_id for o in outcomes) == sorted(c.clip_id for c in clips)
    gpu_node = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU"))
    for c in clips:
        on_gpu = json.loads((tmp_path / f"{c.clip_id}.gpu_group.json").read_text())
        on_cpu = json.loads((tmp_path / f"{c.clip_id}.cpu_group.json").read_text())
        assert on_gpu["assigned"].get("GPU") == 0.5 and on_gpu["node"] == gpu_node
        assert not on_cpu["assigned"].get("GPU") and on_cpu["assigned"].get("CPU") == 1.0
    # each clip crossed from one group (and process) to the other: its shard is still the local runner's episode
    merged = tmp_path / "merged"
    sink.merge([t.shard_dir for t in tasks], merged, repo_id="vla_builder/corpus")
    assert_same_dataset(reference, merged)


# -- a driver killed mid-build --------------------------------------------------------------------------------------

def test_a_killed_driver_rerun_resumes_to_the_same_dataset(nodes, corpus, tmp_path):
    root, reference = corpus
    output = tmp_path / "ray"
    cmd = [sys.executable, "-m", "vla_builder", "build", str(root / "recipe.yaml"), "--runner", "ray", "--set",
           f"runner.address={nodes.address}", "--output", str(output), "--no-report", "-q"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while committed_shards(output) < 3 and driver.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert driver.poll() is None, "the build ended before it could be killed"
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.kill()
        driver.wait()
    before = committed_shards(output)
    assert 3 <= before < CLIPS
    logs = []
    report = build(load_recipe(root / "recipe.yaml"), output=output, runner="ray", log=logs.append)
    assert report.exit_code == 0, logs
    assert report.resumed >= before and report.episodes == CLIPS
    assert_identical(reference, output)


# -- infrastructure told apart from data -----------------------------------------------------------------------------

@dataclass
class Trouble(Stage):
    """By clip: its worker process dies on the first attempt (`crash_once`), on every attempt (`crash`), or the
    stage raises (`bad`: the data's fault). Attempts are counted in files, as the process dies with its counter."""

    folder: str
    plan: dict

    name: ClassVar[str] = "trouble"

    def process(self, clip):
        import os

        what = self.plan.get(clip.clip_id)
        tries = Path(self.folder, f"{clip.clip_id}.tries")
        n = int(tries.read_text()) + 1 if tries.is_file() else 1
        tries.write_text(str(n))
        if what == "crash" or (what == "crash_once" and n == 1):
            os._exit(1)  # as an OOM kill or a segfault: no exception, no goodbye
        if what == "bad":
            raise ValueError("this clip's data is bad")
        return clip


@dataclass(frozen=True)
class TroubleFactory(PipelineFactory):
    folder: str = ""
    plan: tuple = ()

    def key(self) -> str:
        return super().key() + self.folder

    def __call__(self) -> Pipeline:
        return Pipeline([Trouble(self.folder, dict(self.plan)), *super().__call__().stages])


def test_a_crashed_worker_is_retried_and_only_bad_data_is_a_failure(nodes, corpus, tmp_path):
    import ray.cloudpickle

    from vla_builder.build import output_fps
    from vla_builder.runners.ray import RayRunner
    from vla_builder.sinks.lerobot import LeRobotSink
    from vla_builder.work import ClipTask

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    root, _ = corpus
    loaded = load_recipe(root / "recipe.yaml")
    fps, recipe = output_fps(loaded), loaded.recipe
    clips = make_clips(loaded)[:4]
    plan = {clips[0].clip_id: "crash_once", clips[1].clip_id: "bad", clips[2].clip_id: "crash"}
    factory = TroubleFactory(recipe, fps, None, folder=str(tmp_path), plan=tuple(plan.items()))
    sink = LeRobotSink(fps=fps, image_size=tuple(recipe.image_size), camera=loaded.sources[0].camera)
    tasks = [ClipTask(c, tmp_path / "shards" / c.clip_id, factory, sink) for c in clips]
    outcomes, logs = {}, []
    runner = RayRunner(max_retries=1, retry_backoff_s=0.1, log=logs.append)
    runner.run(tasks, lambda o: outcomes.__setitem__(o.clip_id, o) or True)
    tries = {c.clip_id: int((tmp_path / f"{c.clip_id}.tries").read_text()) for c in clips}
    once, bad, crash, fine = (outcomes[c.clip_id] for c in clips)
    assert once.failure is None and once.shard_dir is not None and once.retries == 1 and tries[clips[0].clip_id] == 2
    assert bad.failure is not None and bad.failure.stage == "trouble" and "bad" in bad.failure.reason
    assert bad.infrastructure is None and tries[clips[1].clip_id] == 1  # the data's fault: not run again
    assert crash.failure is None and crash.shard_dir is None and crash.retries == 2 == tries[clips[2].clip_id]
    assert "WorkerCrashedError" in crash.infrastructure
    assert fine.failure is None and fine.retries == 0
    assert runner.lost_attempts == 3 and sum("lost" in m for m in logs) == 2  # each retry announced


# -- a node lost mid-build ------------------------------------------------------------------------------------------

def test_a_node_lost_mid_build_loses_nothing(nodes, corpus, tmp_path):
    root, reference = corpus
    output = tmp_path / "ray"
    cluster, victim = nodes, nodes.cpu_node  # the node without the fake GPU
    removed = threading.Event()

    def lose_a_node():
        # mid-build (clips committed: the workers are warm) and mid-clip on the victim: however load stretches the
        # timing, the node dies with a clip of this build half done (its encoder writing), never between clips
        deadline = time.monotonic() + 300
        while not (committed_shards(output) >= 2 and encoding_on(victim)) and time.monotonic() < deadline:
            time.sleep(0.05)
        cluster.remove_node(victim, allow_graceful=False)  # as a crash or a preemption: no goodbye
        removed.set()

    killer = threading.Thread(target=lose_a_node, daemon=True)
    killer.start()
    logs = []
    try:
        report = build(load_recipe(root / "recipe.yaml"), output=output, runner="ray", log=logs.append)
    finally:
        killer.join(timeout=310)  # the node is added again only if a test after this one asks (`nodes`)
    assert removed.is_set()
    lost = [m for m in logs if m.strip().startswith("lost")]
    assert lost, "the node was removed while it ran nothing: nothing was tested"
    assert report.exit_code == 0 and not report.failures and not report.unfinished, logs
    assert report.episodes == CLIPS
    assert_identical(reference, output)


# -- a clip whose retries are all lost, then a rerun -------------------------------------------------------------------

class LosesTheFirstClip:
    """A runner whose first clip is lost with its node (retries spent); the others run here."""

    def run(self, tasks, on_outcome):
        from vla_builder.work import ClipOutcome, process_clip

        tasks = list(tasks)
        on_outcome(ClipOutcome(tasks[0].clip.clip_id, None, None, infrastructure="4 attempts lost: NodeDiedError"))
        for task in tasks[1:]:
            on_outcome(process_clip(task))


def test_a_clip_lost_to_infrastructure_is_no_failure_record_and_a_rerun_runs_it(tmp_path, monkeypatch):
    import vla_builder.build as b

    make_corpus(tmp_path, 3, frames=8, size_px=(64, 96))
    loaded = load_recipe(tmp_path / "recipe.yaml")
    out = tmp_path / "out"
    monkeypatch.setattr(b, "make_runner", lambda *a, **k: LosesTheFirstClip())
    logs = []
    report = build(loaded, output=out, log=logs.append)
    assert report.exit_code == 3 and report.episodes == 2 and report.unfinished and not report.failures
    assert (out / "meta" / "failures.jsonl").read_text() == "" and any("NOT RUN" in m for m in logs)
    assert json.loads((out / "meta" / "vla_builder_build.json").read_text())["unfinished"] == 1
    monkeypatch.undo()
    again = build(loaded, output=out, log=lambda m: None)  # not "up to date": the lost clip runs now
    assert again.exit_code == 0 and again.resumed == 2 and again.episodes == 3 and not again.up_to_date
    assert build(loaded, output=out, log=lambda m: None).up_to_date
    assert again.exit_code == 0 and again.resumed == 2 and again.episodes == 3 and not again.up_to_date
    assert build(loaded, output=out, log=lambda m: None).up_to_date


def test_without_an_address_the_build_starts_a_ray_of_its_own(monkeypatch):
    """Not the Ray found on the machine (another build's, a test cluster's): `ray.init()` would join the latest one
    started here, and refuse `num_cpus` there."""
    from vla_builder.runners.ray import RayRunner

    calls = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", lambda **kw: calls.append(kw))
    assert RayRunner(num_workers=3)._init()
    assert calls[0]["address"] == "local" and calls[0]["num_cpus"] == 3
