"""Motion kernels: nvcc builds every kernel; the NumPy spec meets exact ground truth; the kernels' code (run on the
CPU through its host twins) equals the spec bit for bit; on a GPU each CUDA kernel equals its spec.

Ground truth comes from `kernels/flow_eval.py`: analytic textures moved by known motions, so the flow is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla_builder.kernels import KernelUnavailable, cuda_available
from vla_builder.kernels import cuda as kc
from vla_builder.kernels import flow_eval as fe
from vla_builder.kernels import reference as ref
from vla_builder.kernels import reference_lk as rl
from vla_builder.stages.motion import MotionConfig

H, W = 144, 256  # small enough for the NumPy spec to stay fast on 2 cores
HAS_NVCC = kc.find_nvcc() is not None
HAS_CUDA = cuda_available()
needs_nvcc = pytest.mark.skipif(not HAS_NVCC, reason="nvcc not installed")
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="no CUDA device")


@pytest.fixture(scope="module")
def pairs() -> dict[str, fe.FlowPair]:
    return {p.name: p for p in fe.make_pairs(H, W)}


@pytest.fixture(scope="module")
def ref_flows(pairs) -> dict[str, np.ndarray]:
    return {name: rl.lk_flow(p.prev, p.next) for name, p in pairs.items()}


@pytest.fixture(scope="module")
def built_lib(kernel_library):
    """The library built from scratch (every .cu through nvcc, all default archs) into a private cache, once per
    session (conftest.kernel_library)."""
    return kernel_library


# ---------------------------------------------------------------------------------------------------------------
# (i) nvcc
# ---------------------------------------------------------------------------------------------------------------


def test_kernel_sources_are_there():
    names = {p.name for p in kc.kernel_sources()}
    assert {"lk_flow.cu", "motion_energy.cu", "box_flow.cu", "global_motion.cu"} <= names


@needs_nvcc
def test_every_kernel_compiles_and_links(built_lib):
    # built_lib compiled every .cu (KernelBuildError carries nvcc's message if one fails) and loaded the result
    assert built_lib.path.is_file()
    assert built_lib.vla_abi_version() == kc.ABI_VERSION


@needs_nvcc
def test_a_broken_kernel_fails_the_build(tmp_path, monkeypatch):
    src = kc.source_dir()
    (tmp_path / "common.cuh").write_text((src / "common.cuh").read_text())
    broken = '#include "common.cuh"\n__global__ void k(float* x) { x[0] = undefined_name; }\n'
    (tmp_path / "broken.cu").write_text(broken)
    with pytest.raises(kc.KernelBuildError, match="broken.cu"):
        kc.compile_objects([tmp_path / "broken.cu"], tmp_path / "obj", archs=("90",))
    from vla_builder.kernels import build

    monkeypatch.setenv("VLA_CUDA_KERNELS_DIR", str(tmp_path))
    assert build.main(["--check", "--archs", "90"]) == 1


@needs_nvcc
def test_prebuilt_library_is_used_without_nvcc(built_lib, monkeypatch, tmp_path):
    # CI builds on a CPU machine; a GPU machine without nvcc loads that build from its cache
    monkeypatch.setattr(kc, "find_nvcc", lambda: None)
    assert kc.build_library() == built_lib.path
    with pytest.raises(KernelUnavailable, match="nvcc not found"):
        kc.build_library(cache_dir=tmp_path)


def test_cache_key_follows_the_sources(tmp_path, monkeypatch):
    if not HAS_NVCC:
        pytest.skip("nvcc not installed")
    nvcc = kc.find_nvcc()
    for p in kc.source_dir().glob("*.cu*"):
        (tmp_path / p.name).write_text(p.read_text())
    monkeypatch.setenv("VLA_CUDA_KERNELS_DIR", str(tmp_path))
    key = kc.build_key(nvcc, ("80", "90"))
    assert kc.build_key(nvcc, ("90",)) != key
    (tmp_path / "lk_flow.cu").write_text((tmp_path / "lk_flow.cu").read_text() + "\n// changed\n")
    assert kc.build_key(nvcc, ("80", "90")) != key


# ---------------------------------------------------------------------------------------------------------------
# (ii) the spec against exact ground truth
# ---------------------------------------------------------------------------------------------------------------


def test_lk_reference_translation_subpixel(pairs, ref_flows):
    p = pairs["translate"]
    assert fe.epe(ref_flows["translate"], p.flow, p.valid) < 0.05
    assert fe.epe(np.zeros_like(p.flow), p.flow, p.valid) > 1.0  # the motion is not trivially small


@pytest.mark.parametrize("case", ["rotate", "zoom"])
def test_lk_reference_rotation_and_zoom(pairs, ref_flows, case):
    p = pairs[case]
    # the SOR refinement removes most of the translational window's bias on a varying flow (was ~0.08)
    assert fe.epe(ref_flows[case], p.flow, p.valid) < 0.06


def test_lk_reference_moving_object(pairs, ref_flows):
    p, flow = pairs["object"], ref_flows["object"]
    rect = rl.box_rects_px(p.object_box_norm[None], W, H)[0]
    xa, ya, xb, yb = rect
    inside = np.zeros((H, W), bool)
    inside[ya:yb, xa:xb] = True
    assert fe.epe(flow, p.flow, inside) < 0.05  # interior of the object
    # including its motion boundary: the candidate selection keeps it sharp (~0.10 without it, at this size)
    assert fe.epe(flow, p.flow, p.valid & p.textured) < 0.1
    med = rl.box_median_flow_px(flow, rect[None])[0]
    np.testing.assert_allclose(med, p.object_shift_px, atol=0.05)


def test_lk_reference_textureless_region_stays_sane(pairs, ref_flows):
    p, flow = pairs["textureless"], ref_flows["textureless"]
    assert np.isfinite(flow).all()
    assert fe.epe(flow, p.flow, p.valid & p.textured) < 0.05
    flat = p.valid & ~p.textured
    # no information there: the flow is whatever the pyramid propagated, but it must not run away
    assert np.abs(flow[flat]).max() < 3 * np.abs(p.flow[flat]).max()


def test_lk_levels_are_bounded():
    assert rl.lk_levels(180, 320) == 4
    assert rl.lk_levels(1080, 1920) == 7
    assert rl.lk_levels(12, 12) == 1  # a half-size level would be smaller than the 9 px window
    assert rl.lk_levels(1080, 1920, levels=3) == 3


@pytest.mark.parametrize("case", ["translate", "rotate", "zoom"])
def test_global_fit_recovers_the_camera_similarity(pairs, ref_flows, case):
    p = pairs[case]
    full = np.ones((H, W), bool)
    a_exact, inl, n = rl.global_similarity_irls_px(p.flow, full)
    np.testing.assert_allclose(a_exact, p.camera_px, atol=1e-4)  # exact flow: exact up to float32 flow storage
    assert inl == 1.0 and n == len(range(2, H, 4)) * len(range(2, W, 4))
    a_lk, inl_lk, _ = rl.global_similarity_irls_px(ref_flows[case], full)
    # compare where it matters: the displacement the fit predicts at the image corners
    corners = np.array([[0, 0, 1], [W, 0, 1], [0, H, 1], [W, H, 1]], float).T
    assert np.abs(a_lk @ corners - p.camera_px @ corners).max() < 0.1
    assert inl_lk > 0.95


def test_global_fit_ignores_a_moving_object(pairs, ref_flows):
    p, flow = pairs["object"], ref_flows["object"]
    boxes = p.object_box_norm[None]
    mask = rl.mask_from_rects(H, W, rl.background_rects_px(H, W, boxes))
    np.testing.assert_array_equal(mask, ref.background_mask(H, W, boxes))
    for m in (mask, np.ones((H, W), bool)):  # masked, and unmasked (the Tukey steps reject the mover)
        a, _, _ = rl.global_similarity_irls_px(flow, m)
        np.testing.assert_allclose(a, p.camera_px, atol=0.05)
    a_n, _ = rl.global_similarity_irls_norm(flow, mask)
    np.testing.assert_allclose(a_n, ref.affine_px_to_norm(p.camera_px, W, H), atol=0.05 / W)


def test_global_fit_with_too_few_samples_is_identity():
    flow = np.ones((H, W, 2), np.float32)
    a, inl, n = rl.global_similarity_irls_px(flow, np.zeros((H, W), bool))
    np.testing.assert_array_equal(a, [[1, 0, 0], [0, 1, 0]])
    assert inl == 0.0 and n == 0


def test_motion_energy_by_hand():
    a = np.array([[0, 10], [20, 30]], np.uint8)
    b = np.array([[5, 10], [10, 40]], np.uint8)  # |diff| = 5, 0, 10, 10
    c = np.array([[5, 10], [10, 40]], np.uint8)
    grays = np.stack([a, b, c])
    np.testing.assert_array_equal(rl.motion_energy_sums(grays), [25, 0])
    np.testing.assert_allclose(rl.motion_energy_batch(grays), [25 / 4 / 255, 0.0])
    assert rl.motion_energy_batch(grays)[0] == ref.motion_energy(a, b)


def test_box_median_is_the_motion_stage_statistic(pairs, ref_flows):
    flow = ref_flows["object"]
    boxes = np.array([pairs["object"].object_box_norm, [0.1, 0.1, 0.2, 0.3], [np.nan] * 4, [0.5, 0.5, 0.5, 0.5]])
    np.testing.assert_array_equal(rl.box_flow_median_norm(flow, boxes), ref.box_flow_norm(flow, boxes))


def test_gray_small_matches_opencv_grey_and_torch():
    import cv2
    import torch

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 61, 97, 3), dtype=np.uint8)
    full = rl.gray_small(rgb, 1000)
    np.testing.assert_array_equal(full[1], cv2.cvtColor(rgb[1], cv2.COLOR_RGB2GRAY))
    for max_side in (1000, 48, 31):
        small = rl.gray_small(rgb, max_side)
        assert small.shape[1:] == ref.to_gray(rgb[0], max_side).shape
        np.testing.assert_array_equal(kc.gray_small_torch(torch.from_numpy(rgb), max_side).numpy(), small)
    flat = np.full((1, 40, 60, 3), 77, np.uint8)
    assert (rl.gray_small(flat, 17) == 77).all()


def test_motion_reference_recovers_clip_motion():
    rgb, boxes, gt = fe.synthetic_clip(5, 96, 160)
    m = rl.motion_for_clip_reference(rgb, boxes, MotionConfig(method="lk", max_side_px=160))
    assert m.global_affine.shape == (5, 2, 3) and m.track_flow.shape == (5, 1, 2)
    np.testing.assert_allclose(m.track_flow[:-1, 0] * (160, 96), np.tile(gt["obj_shift_px"], (4, 1)), atol=0.1)
    np.testing.assert_allclose(m.global_affine[:-1, :, 2] * (160, 96), np.tile(gt["cam_shift_px"], (4, 1)), atol=0.1)
    assert np.isnan(m.track_flow[-1]).all() and m.energy[-1] == 0 and (m.energy[:-1] > 0).all()


# ---------------------------------------------------------------------------------------------------------------
# the kernels' own code, run on the CPU (host twins), against the spec
# ---------------------------------------------------------------------------------------------------------------


@needs_nvcc
def test_lk_kernel_code_equals_spec(built_lib, pairs, ref_flows):
    for name, p in pairs.items():
        flow = kc.lk_flow_host(np.stack([p.prev, p.next]))[0]
        np.testing.assert_array_equal(flow, ref_flows[name], err_msg=name)  # bit for bit (no FMA either side)


@needs_nvcc
def test_lk_kernel_code_batched_odd_sizes(built_lib):
    rgb, _, _ = fe.synthetic_clip(4, 53, 77)
    grays = rl.gray_small(rgb, 1000)
    lk = rl.LKParams(radius_px=3, iters=4, levels=3)
    flows = kc.lk_flow_host(grays, lk)
    for t in range(3):
        np.testing.assert_array_equal(flows[t], rl.lk_flow(grays[t], grays[t + 1], lk))


@needs_nvcc
@pytest.mark.parametrize("lk", [
    rl.LKParams(select_step_px=0, refine_iters=0, iters=5, finest_iters=None),  # plain LK
    rl.LKParams(select_step_px=3, select_radius_px=1, refine_iters=0, finest_iters=2),  # selection only
    rl.LKParams(select_step_px=0, refine_iters=3, smooth=100.0, smooth_eps_px=0.5, sor_omega=1.2),  # SOR only
    rl.LKParams(levels=1, select_step_px=2, select_radius_px=0, refine_iters=2, finest_iters=0),
], ids=["plain", "select", "refine", "one-level"])
def test_lk_kernel_code_equals_spec_options(built_lib, pairs, lk):
    for name in ("rotate", "object"):
        p = pairs[name]
        flow = kc.lk_flow_host(np.stack([p.prev, p.next]), lk)[0]
        np.testing.assert_array_equal(flow, rl.lk_flow(p.prev, p.next, lk), err_msg=name)


def test_lk_selection_and_refinement_pay_off(pairs, ref_flows):
    """Each added pass earns its cost: without it, the motion boundary (selection) or the rotation (refinement)
    is clearly worse than with the defaults."""
    p = pairs["object"]
    no_select = rl.lk_flow(p.prev, p.next, rl.LKParams(select_step_px=0))
    assert fe.epe(ref_flows["object"], p.flow, p.valid) < 0.7 * fe.epe(no_select, p.flow, p.valid)
    p = pairs["rotate"]
    no_refine = rl.lk_flow(p.prev, p.next, rl.LKParams(refine_iters=0, finest_iters=None))
    assert fe.epe(ref_flows["rotate"], p.flow, p.valid) < 0.7 * fe.epe(no_refine, p.flow, p.valid)


@needs_nvcc
def test_energy_kernel_code_equals_spec(built_lib):
    rng = np.random.default_rng(1)
    for shape in ((4, 64, 48), (3, 17, 23)):  # 16-byte multiple and not
        g = rng.integers(0, 256, shape, dtype=np.uint8)
        np.testing.assert_array_equal(kc.motion_energy_sums_host(g), rl.motion_energy_sums(g))


@needs_nvcc
def test_box_median_kernel_code_equals_spec(built_lib):
    rng = np.random.default_rng(2)
    flow = rng.normal(size=(2, 40, 50, 2)).astype(np.float32)
    flow[0, :6, :6] = -0.0
    flow[1, 10:20, 10:20] = 3.0  # ties
    rects = np.array([[[0, 0, 50, 40], [3, 4, 10, 9], [5, 5, 6, 6], [-1, -1, -1, -1], [8, 8, 22, 21]]] * 2, np.int32)
    got = kc.box_median_flow_host(flow, rects)
    want = np.stack([rl.box_median_flow_px(flow[i], rects[i]) for i in range(2)])
    np.testing.assert_array_equal(got, want)


@needs_nvcc
def test_global_fit_kernel_code_equals_spec(built_lib, pairs, ref_flows):
    boxes = np.array([[0.3, 0.2, 0.7, 0.8], [np.nan] * 4])
    rects = rl.background_rects_px(H, W, boxes)
    mask = rl.mask_from_rects(H, W, rects)
    for name in pairs:
        got = kc.global_similarity_host(ref_flows[name][None], rects[None])[0]
        a, inl, n = rl.global_similarity_irls_px(ref_flows[name], mask)
        np.testing.assert_allclose(got[:6], a.ravel(), rtol=0, atol=1e-9, err_msg=name)
        assert got[6] == inl and got[7] == n


@needs_nvcc
def test_motion_for_clip_kernel_code_equals_spec(built_lib):
    rgb, boxes, _ = fe.synthetic_clip(6, 120, 200)
    boxes = np.concatenate([boxes, np.full((6, 1, 4), np.nan)], axis=1)  # a second, absent track
    for bottom in (0.0, 0.3):
        config = MotionConfig(method="lk", max_side_px=100, ignore_bottom_frac=bottom)
        want = rl.motion_for_clip_reference(rgb, boxes, config)
        got = kc.motion_for_clip(rgb, boxes, config, device="host")
        np.testing.assert_allclose(got.global_affine, want.global_affine, rtol=0, atol=1e-12)
        np.testing.assert_array_equal(got.global_inlier_ratio, want.global_inlier_ratio)
        np.testing.assert_array_equal(got.track_flow, want.track_flow)
        np.testing.assert_array_equal(got.energy, want.energy)


def _tuned_lk_recipe():
    from vla_builder.recipe import Recipe

    return Recipe.model_validate({"name": "x", "sources": [{"video": "-"}], "motion": {
        "method": "lk", "max_side_px": 100, "lk": {"select_step_px": 0, "refine_iters": 0}, "irls": {"tukey_iters": 0}}})


def test_lk_recipe_settings_reach_the_spec():
    """`motion.lk` / `motion.irls` in a recipe are the objects the LK backends read: a changed setting changes the
    numbers; an out-of-range one is a recipe error."""
    from vla_builder.kernels.driver import run_motion
    from vla_builder.stages.motion import backend_ops

    motion = _tuned_lk_recipe().motion
    assert motion.lk.select_step_px == 0 and motion.irls.tukey_iters == 0
    rgb, boxes, _ = fe.synthetic_clip(3, 120, 200)
    tuned = run_motion(backend_ops(motion, "lk-numpy"), rgb, boxes)
    plain = run_motion(backend_ops(MotionConfig(method="lk", max_side_px=100), "lk-numpy"), rgb, boxes)
    assert not np.array_equal(tuned.track_flow, plain.track_flow)
    assert "selection step 0px, 0 SOR sweeps" in tuned.method
    with pytest.raises(ValueError, match="radius_px"):
        MotionConfig(method="lk", lk={"radius_px": 40})  # beyond the kernels' kMaxRadius


@needs_nvcc
def test_lk_recipe_settings_reach_the_kernels(built_lib):
    from vla_builder.kernels.driver import run_motion
    from vla_builder.stages.motion import backend_ops

    motion = _tuned_lk_recipe().motion
    rgb, boxes, _ = fe.synthetic_clip(3, 120, 200)
    want = run_motion(backend_ops(motion, "lk-numpy"), rgb, boxes)
    got = run_motion(backend_ops(motion, "lk-host"), rgb, boxes)
    np.testing.assert_allclose(got.global_affine, want.global_affine, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.track_flow, want.track_flow)
    assert "selection step 0px, 0 SOR sweeps" in got.method


def test_bottom_exclusion_rect_is_the_stage_mask():
    boxes = np.array([[0.2, 0.1, 0.5, 0.6], [np.nan] * 4])
    rects = rl.with_bottom_excluded(rl.background_rects_px(H, W, boxes), H, W, 0.25)
    mask = ref.background_mask(H, W, boxes)
    mask[int(round(H * (1 - 0.25))) :] = False  # what MotionStage does with ignore_bottom_frac
    np.testing.assert_array_equal(rl.mask_from_rects(H, W, rects), mask)


# ---------------------------------------------------------------------------------------------------------------
# (iii) CUDA kernels against the spec (GPU only)
# ---------------------------------------------------------------------------------------------------------------


@gpu
@needs_cuda
def test_cuda_lk_flow_matches_spec(pairs, ref_flows):
    import torch

    for name, p in pairs.items():
        grays = torch.from_numpy(np.stack([p.prev, p.next])).cuda()
        flow = kc.lk_flow_cuda(grays)[0].cpu().numpy()
        diff = np.abs(flow - ref_flows[name])
        # same float32 operations in the same order (no FMA): expected bit-identical; the margins only allow
        # for a rounding difference in an ill-conditioned pixel
        assert np.percentile(diff, 99.9) <= 1e-4, name
        assert diff.mean() <= 1e-5, name
        assert fe.epe(flow, p.flow, p.valid & p.textured) < 0.25, name


@gpu
@needs_cuda
def test_cuda_motion_energy_matches_spec():
    import torch

    rng = np.random.default_rng(3)
    for shape in ((9, 360, 640), (3, 17, 23)):
        g = rng.integers(0, 256, shape, dtype=np.uint8)
        got = kc.motion_energy_sums_cuda(torch.from_numpy(g).cuda()).cpu().numpy()
        np.testing.assert_array_equal(got.astype(np.uint64), rl.motion_energy_sums(g))  # integers: exact


@gpu
@needs_cuda
def test_cuda_box_median_matches_spec(ref_flows, pairs):
    import torch

    rng = np.random.default_rng(4)
    flow = np.stack([ref_flows[n] for n in pairs])
    boxes = rng.uniform(0, 1, (len(pairs), 7, 4))
    boxes[..., 2:] = np.maximum(boxes[..., :2], boxes[..., 2:])
    boxes[:, 3] = np.nan
    rects = rl.box_rects_px(boxes, W, H)
    got = kc.box_median_flow_cuda(torch.from_numpy(flow).cuda(), torch.from_numpy(rects).cuda()).cpu().numpy()
    want = np.stack([rl.box_median_flow_px(flow[i], rects[i]) for i in range(len(flow))])
    np.testing.assert_array_equal(got, want)  # a selected element (or the mean of two): exact


@gpu
@needs_cuda
def test_cuda_global_fit_matches_spec(ref_flows, pairs):
    import torch

    flow = np.stack([ref_flows[n] for n in pairs])
    boxes = np.tile(np.array([[[0.3, 0.2, 0.7, 0.8], [np.nan] * 4]]), (len(flow), 1, 1))
    rects = rl.background_rects_px(H, W, boxes)
    got = kc.global_similarity_cuda(torch.from_numpy(flow).cuda(), torch.from_numpy(rects).cuda()).cpu().numpy()
    for i in range(len(flow)):
        a, inl, n = rl.global_similarity_irls_px(flow[i], rl.mask_from_rects(H, W, rects[i]))
        np.testing.assert_allclose(got[i, :6], a.ravel(), rtol=0, atol=1e-7)  # float64 sums in another order
        assert abs(got[i, 6] - inl) <= 1.0 / n and got[i, 7] == n


@gpu
@needs_cuda
def test_cuda_motion_for_clip_matches_spec():
    rgb, boxes, _ = fe.synthetic_clip(7, 180, 320)
    config = MotionConfig(method="lk", max_side_px=160)
    want = rl.motion_for_clip_reference(rgb, boxes, config)
    got = kc.motion_for_clip(rgb, boxes, config)
    np.testing.assert_allclose(got.global_affine, want.global_affine, rtol=0, atol=1e-6)
    np.testing.assert_allclose(got.track_flow, want.track_flow, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(got.energy, want.energy)
    assert got.method.startswith("cuda")


@gpu
@needs_cuda
def test_cuda_gray_small_matches_spec():
    import torch

    rgb = np.random.default_rng(5).integers(0, 256, (3, 1080, 1920, 3), dtype=np.uint8)
    got = kc.gray_small_torch(torch.from_numpy(rgb).cuda(), 320).cpu().numpy()
    np.testing.assert_array_equal(got, rl.gray_small(rgb, 320))


# ---------------------------------------------------------------------------------------------------------------
# (iv) no silent fallback
# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.skipif(HAS_CUDA, reason="a CUDA device is present")
def test_cuda_impl_without_cuda_is_an_error():
    from vla_builder.stages.motion import MotionConfig, resolve_backend

    with pytest.raises(KernelUnavailable):
        resolve_backend(MotionConfig(method="lk", impl="cuda"))
    assert resolve_backend(MotionConfig(method="lk", impl="auto")) in ("lk-host", "lk-numpy")
    rgb, boxes, _ = fe.synthetic_clip(2, 32, 48)
    with pytest.raises(KernelUnavailable):
        kc.motion_for_clip(rgb, boxes, MotionConfig(method="lk", max_side_px=48))


# ---------------------------------------------------------------------------------------------------------------
# NVDEC backend: what it refuses (pure logic, no GPU needed)
# ---------------------------------------------------------------------------------------------------------------


def _info(codec="h264", pix_fmt="yuv420p", streams=1):
    from vla_builder.types import VideoInfo

    return VideoInfo(Path("clip.mp4"), 640, 360, 30.0, 10, codec, pix_fmt, 0, n_video_streams=streams)


@pytest.mark.parametrize("codec,pix_fmt,streams,reason", [
    ("av1", "yuv420p", 1, "AV1"),
    ("libdav1d", "yuv420p", 1, "AV1"),
    ("h264", "yuv444p", 1, "4:4:4"),
    ("hevc", "yuv444p10le", 1, "4:4:4"),
    ("hevc", "gbrp", 1, "4:4:4"),
    ("h264", "yuv422p", 1, "4:2:2"),
    ("h264", "yuv420p10le", 1, "10/12-bit H.264"),
    ("prores", "yuv422p10le", 1, "prores"),
    ("h264", "yuv420p", 2, "stream"),
])
def test_nvdec_refuses(codec, pix_fmt, streams, reason):
    from vla_builder.sources.gpu_decode import NvdecDecoder, codec_reason

    why = codec_reason(_info(codec, pix_fmt, streams))
    assert why is not None and reason in why
    assert reason in NvdecDecoder().can_decode(_info(codec, pix_fmt, streams))


@pytest.mark.parametrize("codec,pix_fmt", [("h264", "yuv420p"), ("h264", "yuvj420p"), ("hevc", "yuv420p10le"),
                                           ("vp9", "yuv420p")])
def test_nvdec_accepts_420(codec, pix_fmt, monkeypatch):
    from vla_builder.sources import gpu_decode

    assert gpu_decode.codec_reason(_info(codec, pix_fmt)) is None
    monkeypatch.setattr(gpu_decode, "runtime_reason", lambda: None)
    assert gpu_decode.NvdecDecoder().can_decode(_info(codec, pix_fmt)) is None


def test_nvdec_without_pynvvideocodec_says_so():
    from vla_builder.sources import gpu_decode

    try:
        import PyNvVideoCodec  # noqa: F401

        pytest.skip("PyNvVideoCodec is installed")
    except Exception:  # ImportError, or RuntimeError where the NVIDIA driver's libraries are missing
        pass
    why = gpu_decode.NvdecDecoder().can_decode(_info())
    assert why is not None and "PyNvVideoCodec" in why


class _FakeSimpleDecoder:
    """PyNvVideoCodec's SimpleDecoder as gpu_decode uses it: `len()` and `get_batch_frames(n)` from a cursor; an ask
    past the end is what makes the real one print INVALID INDEX, so here it fails the test."""

    def __init__(self, n_frames: int, header_frames: int | None = None, fail_at: int | None = None):
        self.n_frames, self.header_frames, self.fail_at = n_frames, header_frames, fail_at
        self.cursor, self.asks = 0, []

    def __len__(self):
        return self.n_frames if self.header_frames is None else self.header_frames

    def get_batch_frames(self, n):
        self.asks.append(n)
        if self.fail_at is not None and self.cursor + n > self.fail_at:
            raise RuntimeError("corrupt packet")
        assert self.header_frames == 0 or self.cursor + n <= len(self), f"INVALID INDEX {len(self)}"
        batch = list(range(self.cursor, min(self.cursor + n, self.n_frames)))
        self.cursor += len(batch)
        return batch


@pytest.mark.parametrize("n_frames, batch, asks", [
    (37, 16, [16, 16, 5]),  # the last batch clipped to the frames left
    (32, 16, [16, 16]),  # a whole number of batches: no empty ask after them
    (1800, 16, [16] * 112 + [8]),  # the file of the H200 run that printed the warnings
    (3, 16, [3]),
])
def test_nvdec_batches_ask_for_no_frame_past_the_end(n_frames, batch, asks):
    from vla_builder.sources.gpu_decode import decoded_frames

    dec = _FakeSimpleDecoder(n_frames)
    assert list(decoded_frames(dec, batch, "clip.mp4")) == list(range(n_frames))
    assert dec.asks == asks


def test_nvdec_batches_without_a_frame_count_and_with_a_broken_tail():
    from vla_builder.sources.gpu_decode import decoded_frames
    from vla_builder.sources.video import DecodeError

    dec = _FakeSimpleDecoder(20, header_frames=0)  # no count in the header: full batches until an empty one
    assert list(decoded_frames(dec, 16, "clip.mp4")) == list(range(20)) and dec.asks == [16, 16]
    dec = _FakeSimpleDecoder(40, header_frames=45)  # the header promises more than decodes: stop at the short batch
    assert list(decoded_frames(dec, 16, "clip.mp4")) == list(range(40)) and dec.asks == [16, 16, 13]
    dec = _FakeSimpleDecoder(40, fail_at=20)  # a truncated tail keeps what decoded
    assert list(decoded_frames(dec, 16, "clip.mp4")) == list(range(16))
    with pytest.raises(DecodeError, match="clip.mp4.*frame 0"):
        list(decoded_frames(_FakeSimpleDecoder(40, fail_at=0), 16, "clip.mp4"))


def test_nvdec_packet_times_are_presentation_order(tmp_path):
    import av

    from vla_builder.sources import gpu_decode

    path = tmp_path / "b.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.options = {"bf": "2"}  # B-frames: decode order differs from display order
        for i in range(12):
            img = np.full((48, 64, 3), i * 20, np.uint8)
            for pkt in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(pkt)
        for pkt in s.encode():
            out.mux(pkt)
    times = gpu_decode.packet_times_s(_info().__class__(path, 64, 48, 25.0, 12, "h264", "yuv420p", 0))
    assert len(times) == 12
    np.testing.assert_allclose(np.diff(times), 1 / 25, atol=1e-6)
