"""The QA report's overlay lands on the object in the stored frames, letterbox or not (issue 20: a 16:9 source stored
at 4:3 had the letterbox applied twice — once by the build, once more by the report re-probing the source)."""

import json
import re

import numpy as np
import pytest


@pytest.fixture(scope="module")
def letterboxed(tmp_path_factory):
    """A 16:9 synthetic scene (320x180) written at 4:3 (image_size 240x320): black bars of 30 px above and below."""
    from conftest import build_letterboxed_scene

    return build_letterboxed_scene(tmp_path_factory.mktemp("letterbox_report"), "wide", (180, 320), (240, 320))


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


def _render(page, tmp_path, *modes):
    """Headless chromium on the report page: (--dump-dom text, --screenshot RGB) as asked, the same window for both."""
    import shutil
    import subprocess

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (`make test` installs Debian's chromium when run as root)")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--virtual-time-budget=4000", "--window-size=1200,1400"]
    out = []
    for i, mode in enumerate(modes):
        shot = tmp_path / f"shot{i}.png"
        arg = "--dump-dom" if mode == "dom" else f"--screenshot={shot}"
        res = subprocess.run([*flags, f"--user-data-dir={tmp_path / f'profile{i}'}", arg, page.resolve().as_uri()],
                             capture_output=True, text=True, timeout=60)
        if mode == "dom":
            out.append(res.stdout)
        else:
            import cv2

            out.append(cv2.imread(str(shot))[:, :, ::-1].astype(int))
    return out


def _outline(mask, min_run_px=12):
    """(x0, y0, x1, y1) of the rectangle a stroked outline in `mask` draws (its centre line, in mask pixels): the
    outermost rows and columns with a straight run of `min_run_px` or more. The label text in the same colour has no
    such run; the action arrow may cross the outline and cut a side short, not away."""
    def runs(m):  # the longest run of True in each row of m
        best = np.zeros(len(m), int)
        for i, row in enumerate(m):
            edges = np.flatnonzero(np.diff(np.r_[0, row.astype(int), 0]))
            best[i] = (edges[1::2] - edges[::2]).max() if len(edges) else 0
        return best

    ys, xs = np.flatnonzero(runs(mask) >= min_run_px), np.flatnonzero(runs(mask.T) >= min_run_px)
    return np.array([xs.min() + 0.5, ys.min() + 0.5, xs.max() + 0.5, ys.max() + 0.5])


def _extent(mask):
    """(x0, y0, x1, y1) pixel edges of the object a colour mask shows: its blobs once lines of a pixel or two
    (outlines, label text of a similar colour) are opened away; the arrow drawn across an object may cut it in
    parts, so every blob of a tenth of the largest's area or more counts."""
    import cv2

    blobs = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, _labels, stats, _ = cv2.connectedComponentsWithStats(blobs)
    assert n > 1, "no object of that colour in the frame"
    stats = stats[1:][stats[1:, cv2.CC_STAT_AREA] >= stats[1:, cv2.CC_STAT_AREA].max() / 10]
    x0, y0 = stats[:, 0].min(), stats[:, 1].min()
    return np.array([x0, y0, (stats[:, 0] + stats[:, 2]).max(), (stats[:, 1] + stats[:, 3]).max()], float)


def test_browser_draws_the_overlay_on_the_object_of_a_letterboxed_source(letterboxed, tmp_path, monkeypatch):
    """Seen in headless chromium: the outline the page draws around the cup (and the box) lies on the cup (the box)
    in the video frame it shows (both measured in the screenshot, at the page's zoom), and the same page with the
    letterbox applied a second time (issue 20's bug) draws them off the objects."""
    from vla_builder import report
    from vla_builder.synthetic import COLORS

    report.write_report(letterboxed, tmp_path / "qa")
    dom, page = _render(tmp_path / "qa" / "index.html", tmp_path, "dom", "shot")
    video = re.search(r"<video[^>]*>", dom).group(0)
    assert 'data-state="playable"' in video, video
    x, y, w, h = map(int, re.search(r'data-rect="([\d,]+)"', video).group(1).split(","))
    zoom = w / 320
    assert (w, h) == (480, 360) and zoom == 1.5  # the 240x320 stored frames, upscaled to the page's 360 px
    shown = int(re.search(r'<div class="overlay"[^>]* data-frame="(\d+)"', dom).group(1))

    truth = {}
    for line in (letterboxed.parent / "scene" / "gt.txt").read_text().splitlines():
        f, tid, bx, by, bw, bh = (float(v) for v in line.split(",")[:6])
        truth[(int(f) - 1, int(tid))] = np.array([bx, by + 30, bx + bw, by + bh + 30])  # bars of 30 px

    def measure(rgb):  # per object: (the drawn outline, the object's pixels), page pixels relative to the video
        region = rgb[y : y + h, x : x + w]
        assert region[28:44].max() < 40  # the shown frame's top bar (30 px at 1.5x, under the page's 26 px strip)
        r, g, b = region[..., 0], region[..., 1], region[..., 2]
        objects = {2: r - np.maximum(g, b) > 80, 3: b - np.maximum(r, g) > 60}  # the red cup, the blue box
        assert COLORS[2][0] > 150 > COLORS[2][2] and COLORS[3][2] > 150 > COLORS[3][0]  # as the scene paints them
        out = {}
        for tid, seen in objects.items():
            drawn = np.abs(region - report.PALETTE[tid % len(report.PALETTE)]).max(axis=2) < 40
            assert drawn.sum() > 100 and seen.sum() > 300, (tid, drawn.sum(), seen.sum())
            out[tid] = _outline(drawn), _extent(seen & ~drawn)
        return out

    for tid, (drawn, seen) in measure(page).items():
        want = truth[(shown, tid)] * zoom
        assert np.abs(drawn - want).max() <= 2.0, (tid, drawn, want)  # the box the page drew: on the label ...
        assert np.abs(drawn - seen).max() <= 3.0, (tid, drawn, seen)  # ... and on the object the video shows

    # the letterbox applied a second time: the stored boxes mapped into the 320x180 picture between the bars
    monkeypatch.setattr(report, "content_box", lambda prov, hw: (0, 30, 320, 180))
    report.write_report(letterboxed, tmp_path / "twice")
    (page_twice,) = _render(tmp_path / "twice" / "index.html", tmp_path / "twice", "shot")
    for tid, (drawn, seen) in measure(page_twice).items():
        assert np.abs(drawn - seen).max() > 8, (tid, drawn, seen)  # off by 11.5 px (cup), 15 px (box)
