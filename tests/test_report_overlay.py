"""The QA report's overlay lands on the object in the stored frames, letterbox or not (issue 20: a 16:9 source stored
at 4:3 had the letterbox applied twice — once by the build, once more by the report re-probing the source)."""

import json
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def letterboxed(tmp_path_factory):
    """A 16:9 synthetic scene (320x180) written at 4:3 (image_size 240x320): black bars of 30 px above and below."""
    from vla_builder.build import build
    from vla_builder.recipe import load_recipe
    from vla_builder.synthetic import make_scene

    work = tmp_path_factory.mktemp("letterbox_report")
    make_scene(work / "scene", "pick_place", n_frames=24, fps=15, size_px=(180, 320), seed=4)
    (work / "recipe.yaml").write_text(
        "name: wide\nsources:\n  - video: scene/scene.mp4\n    labels: scene/gt.txt\n"
        "    classes: {1: hand, 2: cup, 3: box}\nactor: hand\nfps: 15\nimage_size: [240, 320]\n"
        "video: {codec: h264, crf: 10}\noutput: out\n")
    out = work / "out"
    report = build(load_recipe(work / "recipe.yaml"), output=out, log=lambda *a: None)
    assert report.episodes == 1 and not report.failures, report.failures
    return out


def _stored_frames(root):
    import av

    video = next(root.glob("videos/**/*.mp4"))
    with av.open(str(video)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]


def test_overlay_boxes_land_on_the_object_of_a_letterboxed_source(letterboxed, tmp_path):
    from vla_builder.report import write_report

    root = letterboxed
    prov = json.loads((root / "meta" / "provenance.jsonl").read_text().splitlines()[0])
    assert prov["image_coordinates"]["offset"] == pytest.approx([0.0, 30 / 240], abs=1e-5)  # bars of 30 px
    write_report(root, tmp_path / "qa")
    page = (tmp_path / "qa" / "index.html").read_text()
    data = json.loads(re.search(r"<script type='application/json' class='overlay-data'>(.*?)</script>", page,
                                re.S).group(1).replace("<\\/", "</"))
    frames = _stored_frames(root)
    assert frames[0].shape == (240, 320, 3) and frames[0][:30].max() < 20  # the bars: black
    box = data["box"]

    def px(nx, ny):  # the page's JS: px(nx, ny) = (box[0] + nx * box[2], box[1] + ny * box[3]) (times the zoom)
        return box[0] + nx * box[2], box[1] + ny * box[3]

    # the scene's ground truth (MOT rows: 1-based frame, id, x, y, w, h in source pixels): the stored frame is the
    # 320x180 source unscaled on a 320x240 canvas, so an object's stored box is its source box 30 px lower
    truth = {}
    for line in (root.parent / "scene" / "gt.txt").read_text().splitlines():
        f, tid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        truth[(int(f) - 1, int(tid))] = np.array([x, y + 30, x + w, y + h + 30])
    worst, worst_twice = 0.0, 0.0
    for t, frame in enumerate(data["frames"]):  # 15 fps from a 15 fps source: sample t is source frame t
        for tid, _name, *norm in frame["o"]:
            want = truth[(t, tid)]
            got = np.array([*px(*norm[:2]), *px(*norm[2:])])
            worst = max(worst, float(np.abs(got - want).max()))
            # where the letterbox applied a second time puts it (the old report): 30 px down, squeezed by 3/4
            twice = got * [1, 180 / 240, 1, 180 / 240] + [0, 30, 0, 30]
            worst_twice = max(worst_twice, float(np.abs(twice - want).max()))
    assert len(data["frames"]) == len(frames) == 24
    assert worst <= 1.0, worst  # every overlay box on its object, within a pixel (boxes are rounded to 1e-4)
    assert worst_twice > 10, worst_twice  # the test can tell the double letterbox apart
