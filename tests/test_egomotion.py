"""Camera ego-motion from the global image motion (vla_builder.egomotion) and the UMI action evaluation."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import cli_in_process
from vla_builder.egomotion import camera_ego_motion, ego_motion_for_video
from vla_builder.synthetic import make_scene
from vla_builder.types import Motion

REPO = Path(__file__).resolve().parents[1]
UMI_ROOT = Path("/work/shared/data/real/lerobot_umi_cup_in_the_wild")


@pytest.fixture(scope="module")
def pan_scene(tmp_path_factory):
    out = tmp_path_factory.mktemp("pan")
    make_scene(out, "pan", n_frames=30, fps=15, size_px=(120, 160))
    return out


@pytest.mark.parametrize("preset, tolerance", [("fast", 0.15), ("medium", 0.05)])
def test_pan_direction_and_magnitude(pan_scene, preset, tolerance):
    truth = json.loads((pan_scene / "truth.json").read_text())
    pan = np.asarray(truth["camera_pan"])  # camera position per frame, normalized; it moves right
    true_step = np.diff(pan, axis=0)  # (T-1, 2) camera motion per frame step
    ego = ego_motion_for_video(pan_scene / "scene.mp4", preset=preset)
    x, y = ego["x_norm_per_frame"][:-1], ego["y_norm_per_frame"][:-1]
    assert len(x) == len(true_step)
    assert x.sum() > 0  # the camera's motion (to the right), not the scene's (to the left)
    assert abs(x.sum() - true_step[:, 0].sum()) <= tolerance * abs(true_step[:, 0].sum())
    assert abs(y.sum()) < 0.1 * abs(true_step[:, 0].sum())
    assert np.all(np.abs(ego["roll_rad_per_frame"]) < 0.01) and abs(ego["zoom_log_per_frame"].sum()) < 0.02
    assert ego["x_norm_per_frame"][-1] == 0  # no step after the last sample


def test_conventions_on_known_affines():
    # scene: moved left by 0.01, grew 2 % about the image center, turned +0.02 rad (x toward y) about the center
    s, th, d = 1.02, 0.02, np.array([-0.01, 0.0])
    rot = s * np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]])
    c = np.array([0.5, 0.5])
    a = np.concatenate([rot, (c - rot @ c + d)[:, None]], axis=1)
    motion = Motion(np.stack([a, np.eye(2, 3)]), np.ones(2), np.zeros((2, 0, 2)), np.zeros(2), "test")
    ego = camera_ego_motion(motion, aspect_w_over_h=1.0)
    assert ego["x_norm_per_frame"][0] == pytest.approx(0.01, abs=1e-9)  # camera went right
    assert ego["y_norm_per_frame"][0] == pytest.approx(0.0, abs=1e-9)  # zoom/roll about the center: no shift
    assert ego["roll_rad_per_frame"][0] == pytest.approx(-th, abs=1e-9)
    assert ego["zoom_log_per_frame"][0] == pytest.approx(np.log(s), abs=1e-9)  # scene grows: camera forward
    # non-square frames: the same pixel-space roll, expressed in normalized units, still reads back exactly
    from vla_builder.kernels.reference import affine_px_to_norm

    w, h = 160, 120
    a_norm = affine_px_to_norm(np.concatenate([rot, np.zeros((2, 1))], axis=1), w, h)
    motion = Motion(np.stack([a_norm, np.eye(2, 3)]), np.ones(2), np.zeros((2, 0, 2)), np.zeros(2), "test")
    assert camera_ego_motion(motion, aspect_w_over_h=w / h)["roll_rad_per_frame"][0] == pytest.approx(-th, abs=1e-9)


def _eval_actions():
    spec = importlib.util.spec_from_file_location("eval_actions", REPO / "scripts" / "eval_actions.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_umi_correlations_first_60_frames(umi_wrist_dataset):
    ev = _eval_actions()
    res = ev.umi_correlations(max_frames=60, dataset=umi_wrist_dataset)  # the CLI's dataset (shared fixture)
    assert res["n_steps"] == 59
    assert res["rows"] and all(np.isfinite(r["r_raw"]) and np.isfinite(r["r_smooth"]) for r in res["rows"])
    assert np.all(np.isfinite(res["matrix_raw"])) and np.all(np.isfinite(res["matrix_smooth"]))
    assert all(np.isfinite(v) for v in res["conventions"].values())
    assert np.isfinite(res["gripper"]["r"]) and res["gripper"]["n"] == 60
    # the synthetic half of eval_actions, scored from a CLI-built dataset (one scene here: the handover exercises
    # the second hand's events; the event suite covers every scene in-process)
    (row,) = ev.synthetic_section(scenes=("handover",), in_process=cli_in_process)
    assert row["scene"] == "handover" and row["event_err"] <= 2 and row["gripper_f1"] > 0.9, row
    assert row["direction"] > 0.9, row
