"""The QA report draws the gripper mask: where `observation.gripper_known` is 0 the gripper strip is hatched
("gripper unknown") and the overlay's frames carry `u` = 1, which its status strip shows as "gripper unknown"."""

import json
import re
from types import SimpleNamespace

import numpy as np

from vla_builder.report import OverlayRows, episode_plot_svg, overlay_data

FPS = 10


def _episode(known):
    n = 12 if known is None else len(known)
    action = np.zeros((n, 3), np.float32)
    action[4:8, 2] = 1.0  # gripper closed on frames 4-7
    return SimpleNamespace(length=n, action=action, state=np.zeros((n, 3), np.float32), timestamp=np.arange(n) / FPS,
                           gripper_known=None if known is None else np.asarray(known, np.float32))


def _unknown_rects(svg):
    return [(float(x), float(w)) for x, w in re.findall(
        r"<rect class='gripper-unknown' x='([\d.]+)' y='[\d.]+' width='([\d.]+)'", svg)]


def test_the_timeline_hatches_exactly_the_frames_whose_gripper_is_unknown():
    known = [0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    svg = episode_plot_svg(_episode(known), ["x", "y", "gripper"], ["x", "y", "gripper"], {}, FPS)
    rects = _unknown_rects(svg)
    assert len(rects) == 2 and "gripper unknown" in svg
    width, left, right = 730, 74, 110  # the plot's layout: x(t) = left + plot_w * t / t_end
    plot_w, t_end = width - left - right, (len(known) - 1) / FPS
    x_of = lambda t: left + plot_w * t / t_end  # noqa: E731
    (x0, w0), (x1, w1) = rects
    assert abs(x0 - x_of(0)) < 0.2 and abs(x0 + w0 - x_of(3 / FPS)) < 0.2  # frames 0-2
    assert abs(x1 - x_of(9 / FPS)) < 0.2 and abs(x1 + w1 - x_of(13 / FPS)) < 0.2  # frames 9-12


def test_no_hatch_where_the_gripper_is_known_or_the_dataset_has_no_mask():
    for known in ([1] * 12, None):
        svg = episode_plot_svg(_episode(known), ["x", "y", "gripper"], ["x", "y", "gripper"], {}, FPS)
        assert not _unknown_rects(svg) and "gripper unknown" not in svg


def test_the_overlay_marks_the_frames_whose_gripper_is_unknown():
    known = [0, 0, 1, 1, 1, 1, 1, 1, 0, 0]
    data = overlay_data(_episode(known), OverlayRows.of([]), 1, (0, 0, 64, 48), 1.0, False,
                        (None, 0.0, 1.0), FPS)
    assert [json.loads(f)["u"] for f in data["frames"]] == [1 - k for k in known]
