import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("SVT_LOG", "1")

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"  # the project's shared real test data (there for CI too)


@pytest.fixture(scope="session")
def real_data() -> Path:
    assert REAL.is_dir(), f"shared real test data missing at {REAL}"
    return REAL


@pytest.fixture(scope="session")
def pick_place_scene(tmp_path_factory) -> tuple[Path, dict]:
    """A 30 fps synthetic pick-and-place scene with exact truth (hand grasps the cup, carries it right of the box)."""
    from vla_builder.synthetic import make_scene

    out = tmp_path_factory.mktemp("pick_place")
    truth = make_scene(out, "pick_place", n_frames=72, fps=30, size_px=(240, 320), seed=1)
    return out, truth


def build_letterboxed_scene(work: Path, name: str, size_px: tuple[int, int], image_size: tuple[int, int]) -> Path:
    """A 24-frame synthetic pick-place scene of `size_px` (h, w) built at `image_size` (h, w) — letterboxed where
    the aspects differ — with h264 (cheap); returns the dataset's folder."""
    from vla_builder.build import build
    from vla_builder.recipe import load_recipe
    from vla_builder.synthetic import make_scene

    make_scene(work / "scene", "pick_place", n_frames=24, fps=15, size_px=size_px, seed=4)
    (work / "recipe.yaml").write_text(
        f"name: {name}\nsources:\n  - video: scene/scene.mp4\n    labels: scene/gt.txt\n"
        "    classes: {1: hand, 2: cup, 3: box}\nactor: hand\nfps: 15\n"
        f"image_size: [{image_size[0]}, {image_size[1]}]\nvideo: {{codec: h264, crf: 10}}\noutput: out\n")
    out = work / "out"
    report = build(load_recipe(work / "recipe.yaml"), output=out, log=lambda *a: None)
    assert report.episodes == 1 and not report.failures, report.failures
    return out


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vla_builder", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def assert_valid(dataset: Path) -> None:
    """The dataset passes `validate` (structure, every frame decoded with its timestamp, stats, provenance, every
    reasoning statement recomputed): every build of real data a test makes is checked with it."""
    from vla_builder.validate import validate

    report = validate(dataset)
    assert report.ok, f"{dataset}: " + "; ".join(report.problems)


def cli_in_process(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m vla_builder ARGS` run in this process (`cli.main`, stdout / stderr captured, exit code returned):
    the same command without a new interpreter importing lerobot and torch again (~6 s a build on 2 cores). For
    builds whose test is not about the process itself; `run_cli` stays for those that are."""
    import contextlib
    import io

    from vla_builder.cli import main

    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as e:  # argparse's usage errors
                code = e.code if isinstance(e.code, int) else 2
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["vla_builder", *args], code, out.getvalue(), err.getvalue())


def load_dataset(root: Path, repo_id: str, **kwargs):
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    return LeRobotDataset(repo_id, root=root, video_backend="pyav", **kwargs)


@pytest.fixture(scope="session")
def kernel_library(tmp_path_factory):
    """The CUDA kernel library built from scratch once per session (every .cu through nvcc, all default archs) into a
    private cache that `get_library()` then finds: one nvcc build for every test that needs the kernels' code."""
    from vla_builder.kernels import cuda as kc

    if kc.find_nvcc() is None:
        pytest.skip("nvcc not installed")
    mp = pytest.MonkeyPatch()
    mp.setenv("VLA_KERNEL_CACHE", str(tmp_path_factory.mktemp("kernel-cache")))
    kc.get_library.cache_clear()
    try:
        kc.build_library(force=True)
        yield kc.get_library()
    finally:
        mp.undo()
        kc.get_library.cache_clear()


RAY_NODE = {"num_cpus": 1, "object_store_memory": 80 * 2**20}  # small: three raylets share this machine
_ray_session: dict = {}  # the session's Ray cluster while it is up


def _stop_ray_cluster() -> None:
    cluster = _ray_session.pop("cluster", None)
    if cluster is not None:
        import ray

        ray.shutdown()
        cluster.shutdown()


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """The session's Ray cluster stops as soon as no later test uses it: idle, its GCS, raylets and warm workers still
    take ~8% of a core."""
    if "cluster" in _ray_session and nextitem is not None:
        later = item.session.items[item.session.items.index(nextitem):]
        if not any("ray_cluster" in i.fixturenames for i in later):
            _stop_ray_cluster()


@pytest.fixture(scope="session")
def ray_cluster():
    """One real multi-node Ray cluster on this machine for the session (`ray.cluster_utils.Cluster`: a head that runs
    no clip, a CPU worker node and a worker node declaring a fake GPU), this process its driver: started once, its
    workers warm for every Ray test, stopped after the last of them. Tests that remove a node use `ray_nodes`."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    # a node that dies without a word is noticed within ~2 s (Ray's default waits ~30 s): its health checks are
    # refused at once, three in a row. A live node that answers late on a loaded machine is not declared dead (and
    # shut down by Ray) unless it misses three checks of 5 s each — a 500 ms timeout did that under load
    fast = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_timeout_ms": 5000,
            "health_check_failure_threshold": 3}
    c = _ray_session["cluster"] = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": 80 * 2**20, "include_dashboard": False, "_system_config": fast})
    try:
        c.cpu_node = c.add_node(**RAY_NODE)
        c.add_node(**RAY_NODE, num_gpus=1)  # a fake GPU: Ray schedules by the declared resource alone
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False)
        yield c
    finally:
        _stop_ray_cluster()


@pytest.fixture
def ray_nodes(ray_cluster):
    """The session's cluster with both worker nodes: one lost by a test before comes back (a new node, as a
    replacement)."""
    if ray_cluster.cpu_node not in ray_cluster.worker_nodes:
        ray_cluster.cpu_node = ray_cluster.add_node(**RAY_NODE)
        ray_cluster.wait_for_nodes()
    return ray_cluster


@pytest.fixture(scope="session")
def umi_wrist_dataset(tmp_path_factory, real_data) -> Path:
    """recipes/umi_wrist.yaml built once through the CLI (400 frames, 10 fps): shared by the tests that read it."""
    out = tmp_path_factory.mktemp("umi_wrist") / "umi"
    res = cli_in_process("build", str(REPO / "recipes" / "umi_wrist.yaml"), "--output", str(out), "--no-report")
    assert res.returncode == 0, res.stdout + res.stderr
    assert_valid(out)
    return out


def clips_until_label_check(real_data: Path, tmp: Path, ids=None, edit=None) -> dict:
    """The Something-Else development clips (`ids`: all six) through probe .. interactions (the stages a build runs
    before the label check), from their annotations as they ship or as `edit(annotations)` changes them; "_rest":
    the stages after."""
    import json

    dev = real_data / "something_else_dev"
    labels = dev / "annotations.json"
    if edit is not None:
        ann = json.loads(labels.read_text())
        edit(ann)
        labels = tmp / "annotations.json"
        labels.write_text(json.dumps(ann))
    folders = [dev / "frames" / "*"] if ids is None else [dev / "frames" / cid for cid in ids]
    sources = "".join(f"  - frames: {f}\n    fps: 12\n    labels: {labels}\n" for f in folders)
    (tmp / "r.yaml").write_text(f"name: se\nsources:\n{sources}fps: 12\nimage_size: [240, 432]\n")
    return run_until_label_check(tmp / "r.yaml")


def run_until_label_check(recipe: Path) -> dict:
    """Every source of `recipe` through the stages before the label check: clip name -> Clip; "_rest": the stages
    after."""
    from vla_builder.build import PipelineFactory, output_fps
    from vla_builder.recipe import load_recipe
    from vla_builder.types import Clip

    loaded = load_recipe(recipe)
    pipeline = PipelineFactory(loaded.recipe, output_fps(loaded))()  # the build's rate (the first source's)
    pipeline.setup()
    stages = pipeline.stages[: [s.name for s in pipeline.stages].index("verify_label")]
    out = {}
    for spec in loaded.sources:
        clip = Clip(spec.name, spec)
        for stage in stages:
            clip = stage.process(clip)
        out[spec.name] = clip
    out["_rest"] = pipeline.stages[len(stages):]
    return out
