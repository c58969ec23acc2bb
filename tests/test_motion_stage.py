"""Motion stage rules: one algorithm per method, backends that agree, errors instead of silent switches, resources and
the build fingerprint from the config alone. Synthetic clips with known camera and object motion (flow_eval)."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from vla_builder.kernels import KernelUnavailable, cuda_available
from vla_builder.kernels import cuda as kc
from vla_builder.kernels import flow_eval as fe
from vla_builder.stages.motion import LK_PARITY_TOL_NORM, MotionConfig, MotionStage, resolve_backend

H, W = 96, 160
CAM_PX, OBJ_PX = (1.5, -1.0), (4.0, 2.0)


@pytest.fixture(scope="module")
def clip():
    return fe.synthetic_clip(4, H, W, cam_shift_px=CAM_PX, obj_shift_px=OBJ_PX)


@pytest.fixture
def no_kernel_build(monkeypatch):
    """Backend-choice logic without compiling the kernels: the host library counts as absent (-> NumPy twin)."""
    import vla_builder.stages.motion as motion_stage

    monkeypatch.setattr(motion_stage, "_host_kernels_available", lambda: False)


def _stage(backend: str | None = None, **cfg) -> MotionStage:
    stage = MotionStage(MotionConfig(max_side_px=W, **cfg))
    if backend is not None:
        stage._backend = backend  # pin a backend of the method (what impl: auto would pick elsewhere)
    return stage


@pytest.mark.parametrize("method", ["dis", "lk"])
def test_camera_motion_excludes_the_moving_object(clip, method):
    rgb, boxes, _ = clip
    # DIS medium: 'fast' measures ~3.1 px of the 4 px object motion at this size (LK: 4.0)
    motion = _stage(method=method, preset="medium", impl="cpu").compute(rgb, boxes)
    cam = motion.camera_translation()[:-1] * (W, H)  # px per frame
    np.testing.assert_allclose(cam, np.tile(CAM_PX, (3, 1)), atol=0.25)  # the background's pan, not the box's
    np.testing.assert_allclose(motion.track_flow[:-1, 0] * (W, H), np.tile(OBJ_PX, (3, 1)), atol=0.5)
    assert np.all(motion.energy[:-1] > 0) and motion.energy[-1] == 0
    assert np.all(np.isnan(motion.track_flow[-1]))  # the last entry has no next sample


def test_dis_runs_on_one_opencv_thread_with_the_same_flow(clip, monkeypatch):
    """The opencv backend runs on the stage's thread alone (its declared CPU; OpenCV's pool spun beside the
    encoder) and gives the flow the default pool gives, bit for bit; the pool's size is restored after."""
    import cv2

    from vla_builder.kernels import reference as ref

    rng = np.random.default_rng(1)
    base = cv2.GaussianBlur(rng.integers(0, 256, (180, 320), dtype=np.uint8), (0, 0), 2)
    pairs = [(base, np.roll(base, (i, 2 * i), (0, 1))) for i in range(1, 4)]
    threads = cv2.getNumThreads()
    cv2.setNumThreads(max(2, threads))
    try:
        pooled = [ref.dense_flow(a, b, "dis", "fast") for a, b in pairs]
        seen, original = [], ref.dense_flow

        def spy(*args, **kwargs):
            seen.append(cv2.getNumThreads())
            return original(*args, **kwargs)

        monkeypatch.setattr(ref, "dense_flow", spy)
        rgb, boxes, _ = clip
        _stage("opencv").compute(rgb, boxes)
        monkeypatch.undo()
        assert seen and set(seen) == {1} and cv2.getNumThreads() == max(2, threads)
        cv2.setNumThreads(1)
        alone = [ref.dense_flow(a, b, "dis", "fast") for a, b in pairs]
    finally:
        cv2.setNumThreads(threads)
    assert all(np.array_equal(x, y) for x, y in zip(pooled, alone))


def test_lk_cpu_backends_agree(kernel_library, clip):  # skipped without nvcc (no host-compiled kernel code)
    rgb, boxes, _ = clip
    numpy_twin = _stage("lk-numpy", method="lk").compute(rgb, boxes)
    kernel_code = _stage("lk-host", method="lk").compute(rgb, boxes)
    np.testing.assert_allclose(kernel_code.global_affine, numpy_twin.global_affine, rtol=0, atol=LK_PARITY_TOL_NORM)
    np.testing.assert_allclose(kernel_code.track_flow, numpy_twin.track_flow, rtol=0, atol=LK_PARITY_TOL_NORM)
    np.testing.assert_allclose(kernel_code.energy, numpy_twin.energy, rtol=0, atol=1e-12)


def test_a_cpu_only_method_never_runs_another_algorithm_on_cuda(no_kernel_build):
    with pytest.raises(KernelUnavailable, match="CPU only"):
        resolve_backend(MotionConfig(method="dis", impl="cuda"))
    assert resolve_backend(MotionConfig(method="farneback", impl="auto")) == "opencv"  # auto: same method, always
    lk_cpu = resolve_backend(MotionConfig(method="lk", impl="cpu"))
    assert lk_cpu == "lk-numpy"  # no kernel library here (fixture): the NumPy twin of the same algorithm
    assert resolve_backend(MotionConfig(method="lk", impl="reference")) == lk_cpu  # the old name of cpu


@pytest.mark.skipif(cuda_available(), reason="a CUDA device is present")
def test_cuda_without_a_gpu_is_an_error_and_auto_stays_on_the_method(no_kernel_build):
    with pytest.raises(KernelUnavailable, match="no CUDA"):
        resolve_backend(MotionConfig(method="lk", impl="cuda"))
    assert resolve_backend(MotionConfig(method="lk", impl="auto")).startswith("lk-")


def test_resources_come_from_the_config():
    from vla_builder.build import PipelineFactory

    assert MotionStage.resources_for(MotionConfig(method="lk", impl="cuda")).gpus == 1
    assert MotionStage.resources_for(MotionConfig(method="dis", impl="auto")).gpus == 0
    factory = PipelineFactory.of(15, motion={"method": "lk", "impl": "cuda"})
    assert factory.resources().gpus == 1  # read without building a pipeline (no CUDA needed to ask)


def test_fingerprint_follows_the_resolved_method(tmp_path, no_kernel_build):
    from vla_builder.build import fingerprint, resolved_motion
    from vla_builder.recipe import load_recipe

    (tmp_path / "v.mp4").write_bytes(b"not decoded: the fingerprint only stats inputs")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent("""
        name: fp
        sources: [{video: v.mp4}]
        fps: 15
    """))

    def stamp(*overrides):
        loaded = load_recipe(recipe, list(overrides))
        return fingerprint(loaded, 15), resolved_motion(loaded)

    dis, dis_motion = stamp()
    lk, lk_motion = stamp("motion.method=lk")
    assert dis != lk and dis_motion == {"method": "dis", "backend": "opencv", "device": "cpu"}
    assert lk_motion == {"method": "lk", "backend": "lk-cuda" if cuda_available() else "lk-numpy",
                         "device": "cuda" if cuda_available() else "cpu"}
    assert stamp("motion.impl=cpu")[0] == dis  # the same resolved method and backend: the same dataset


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="no CUDA device")
def test_lk_on_cuda_gives_the_cpu_trajectory(pick_place_scene):
    """The product's claim: impl changes speed, never results — actions within LK_PARITY_TOL_NORM."""
    from vla_builder.build import PipelineFactory
    from vla_builder.pipeline import Pipeline
    from vla_builder.types import Clip, SourceSpec

    scene, _truth = pick_place_scene
    spec = SourceSpec(video=scene / "scene.mp4", labels=scene / "gt.txt", labels_format="mot",
                      classes={1: "hand", 2: "cup", 3: "box"})
    actions = {}
    for impl in ("cpu", "cuda"):
        factory = PipelineFactory.of(15, image_size=(240, 320), actor="hand", motion={"method": "lk", "impl": impl})
        stages = [s for s in factory().stages if s.name != "language"]  # up to the trajectory (no lerobot needed)
        result = Pipeline(stages).run_clip(Clip("pp", spec))
        assert result.failure is None, result.failure
        actions[impl] = result.clip.trajectory.action
    np.testing.assert_allclose(actions["cuda"], actions["cpu"], rtol=0, atol=LK_PARITY_TOL_NORM)


def test_builds_with_every_available_impl_write_the_same_actions(tmp_path, pick_place_scene, request):
    """The `lk` method built (build(), runner, sink, merge) with each CPU backend available here: the parquet
    actions agree within LK_PARITY_TOL_NORM; with a GPU the `-m gpu` test above adds CUDA."""
    import pyarrow.parquet as pq

    from vla_builder.build import build
    from vla_builder.recipe import load_recipe

    scene, _truth = pick_place_scene
    recipe = tmp_path / "r.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: impl_parity
        sources: [{{video: {scene}/scene.mp4, labels: {scene}/gt.txt, classes: {{1: hand, 2: cup, 3: box}},
                    end_s: 1.0}}]
        actor: hand
        fps: 10
        image_size: [96, 128]
        motion: {{method: lk, max_side_px: 128}}
    """))
    impls = ["numpy"]
    if kc.find_nvcc() is not None:  # cpu = the kernel code compiled for the host: the session's one nvcc build
        request.getfixturevalue("kernel_library")
        impls.append("cpu")
    actions, stamps = {}, set()
    for impl in impls:
        loaded = load_recipe(recipe, [f"motion.impl={impl}"])
        report = build(loaded, output=tmp_path / impl, log=lambda *_: None)
        assert report.exit_code == 0, report.failures
        table = pq.read_table(next((tmp_path / impl / "data").rglob("*.parquet")), columns=["action"])
        actions[impl] = np.asarray(table["action"].to_pylist())
        stamps.add(json.loads((tmp_path / impl / "meta" / "vla_builder_build.json").read_text())["motion"]["backend"])
    assert len(stamps) == len(impls)  # each build ran (and recorded) its own backend
    assert np.abs(actions["numpy"][:, :2]).max() > 1e-3  # the hand moves: the comparison is not of zeros
    for impl in impls[1:]:
        np.testing.assert_allclose(actions[impl], actions["numpy"], rtol=0, atol=LK_PARITY_TOL_NORM)
