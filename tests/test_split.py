"""Long videos into episodes: shots, idle stretches and the length cap give the right spans."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vla_builder.sources.split import SplitConfig, split_spec, split_specs
from vla_builder.sources.video import probe
from vla_builder.types import SourceSpec

FPS = 10


def _frame(i: int) -> np.ndarray:
    """0-5 s shot A (dark, a bright square moving); 5-15 s shot B (bright, a dark square), still from 8 to 12 s."""
    if i < 50:
        img = np.full((48, 64, 3), 50, np.uint8)
        x = 4 + i % 40
        img[16:28, x : x + 12] = 230
        return img
    img = np.full((48, 64, 3), 210, np.uint8)
    x = 4 + (min(i, 80) if i < 120 else i - 39) % 40  # frames 80..119 identical, motion again from 120
    img[20:32, x : x + 12] = 20
    return img


@pytest.fixture(scope="module")
def long_video(tmp_path_factory) -> Path:
    import av

    path = tmp_path_factory.mktemp("split") / "long.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", FPS, options={"g": "10", "crf": "16", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, FPS)
        for i in range(150):
            vf = av.VideoFrame.from_ndarray(_frame(i), format="rgb24")
            vf.pts = i
            out.mux(stream.encode(vf))
        out.mux(stream.encode())
    return path


def _spans(specs):
    return [x for s in specs for x in (s.start_s, s.end_s)]


def _flat(pairs):
    return [x for p in pairs for x in p]


def test_max_length_cuts_equal_parts(long_video):
    spec = SourceSpec(video=long_video)
    parts = split_spec(spec, probe(long_video), SplitConfig(max_s=4))
    assert _spans(parts) == pytest.approx(_flat([(0, 3.75), (3.75, 7.5), (7.5, 11.25), (11.25, 15.0)]), abs=0.01)
    assert parts[1].segment.startswith("split 2/4 of long.mp4") and "max_s 4" in parts[1].segment


def test_shots_and_an_idle_stretch(long_video):
    parts = split_spec(SourceSpec(video=long_video), probe(long_video), SplitConfig(shots=True, idle_s=2))
    # shot 1 [0, 5); shot 2 minus its still stretch (frames 80..119 show one picture)
    assert _spans(parts) == pytest.approx(_flat([(0, 5.0), (5.0, 8.1), (11.9, 15.0)]), abs=0.15)
    assert "shot 1/2" in parts[0].segment and "idle left out" in parts[2].segment


def test_a_labeled_still_stretch_is_kept_and_spans_respect_the_source_span(long_video):
    spec = SourceSpec(video=long_video, start_s=5.0)
    parts = split_spec(spec, probe(long_video), SplitConfig(idle_s=2), label_frames=np.arange(90, 101))
    assert _spans(parts) == pytest.approx(_flat([(5.0, 15.0)]), abs=0.15)  # labels in the stretch: not idle
    parts = split_spec(spec, probe(long_video), SplitConfig(idle_s=2, max_s=2.5))
    assert _spans(parts) == pytest.approx(_flat([(5.0, 6.55), (6.55, 8.1), (11.9, 13.45), (13.45, 15.0)]), abs=0.15)


def test_split_specs_leaves_other_sources_alone(long_video, tmp_path):
    plain = SourceSpec(video=long_video)
    broken = SourceSpec(video=tmp_path / "missing.mp4", split={"max_s": 2})
    out = split_specs([plain, SourceSpec(video=long_video, split={"max_s": 7.5}), broken])
    assert out[0] is plain and out[-1] is broken and _spans(out[1:3]) == pytest.approx(_flat([(0, 7.5), (7.5, 15)]))


@pytest.mark.parametrize("cap", ["split: {max_s: 1.0}", "max_episode_s: 1.0"])
def test_a_build_splits_a_source_into_episodes_with_their_spans(pick_place_scene, tmp_path, cap):
    """recipe split: max_s (or the recipe's max_episode_s) -> episodes whose frames, provenance span and segment
    agree (in-process build)."""
    import json
    import textwrap

    from vla_builder.build import build
    from vla_builder.recipe import load_recipe

    scene, truth = pick_place_scene  # 72 frames at 30 fps: 2.4 s
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(textwrap.dedent(f"""
        name: split
        sources:
          - video: {scene}/scene.mp4
            labels: {scene}/gt.txt
            classes: {{1: hand, 2: cup, 3: box}}
            {cap if cap.startswith("split") else ""}
        {cap if cap.startswith("max_episode") else ""}
        actor: hand
        fps: 10
        image_size: [120, 160]
        output: {tmp_path / "out"}
    """))
    report = build(load_recipe(recipe), log=lambda *a: None)
    assert report.exit_code == 0 and report.episodes == 3
    rows = [json.loads(x) for x in (tmp_path / "out" / "meta" / "provenance.jsonl").read_text().splitlines()]
    starts = [r["span_s"][0] for r in rows]
    assert starts == pytest.approx([0.0, 0.8, 1.6], abs=1e-6)
    assert [r["segment"].split(" of ")[0] for r in rows] == ["split 1/3", "split 2/3", "split 3/3"]
    for r in rows:  # each episode's frames lie inside its span, and the spans cover the clip without overlap
        a, b = r["span_s"]
        assert a - 1e-6 <= r["source_time_s"][0] and r["source_time_s"][1] < b
    assert sum(r["frames"] for r in rows) == 24  # 2.4 s at 10 fps, no sample twice


def test_the_recipes_episode_cap_cuts_only_longer_episodes_within_their_span(long_video, tmp_path):
    """`max_episode_s` (default 120 s): an episode longer than the cap is cut into equal parts inside its own span —
    the labeled frames' span where labels set it, not the whole video; a shorter one is left untouched."""
    assert split_specs([SourceSpec(video=long_video)], None)[0].segment is None  # no cap: whole
    short = SourceSpec(video=long_video, start_s=2.0, end_s=5.0)
    assert split_specs([short], 4.0) == [short]  # 3 s under a 4 s cap: the same spec
    parts = split_specs([SourceSpec(video=long_video)], 6.0)  # 15 s, no labels: the whole source
    assert _spans(parts) == pytest.approx(_flat([(0, 5), (5, 10), (10, 15)]), abs=0.01)
    assert "max_episode_s 6" in parts[0].segment
    labels = tmp_path / "gt.txt"  # MOT rows on frames 31..100 (1-based): the labeled span is 3.0 s to 10.0 s
    labels.write_text("".join(f"{f},1,10,10,8,8,1,1,1\n" for f in range(31, 101)))
    spec = SourceSpec(video=long_video, labels=labels, labels_format="mot", classes={1: "hand"})
    parts = split_specs([spec], 4.0)
    assert _spans(parts) == pytest.approx(_flat([(3.0, 6.5), (6.5, 10.0)]), abs=0.01)
    assert split_specs([spec], 8.0) == [spec]  # a 15 s video whose labeled episode is 7 s: not cut
