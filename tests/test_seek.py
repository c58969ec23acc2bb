"""Seeking into long videos: a decode that starts near a piece yields exactly what a decode from frame 0 yields for
every frame at or after the start (source index, pts, pixels), and falls back to frame 0 wherever that cannot be
shown (variable frame rate, discarded packets, AVI)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vla_builder.sources.video import SEEK_ENV, SEEKS, DecordDecoder, OpenCVDecoder, PyAVDecoder, frame_table, probe
from vla_builder.sources.yuv import Yuv420Frame

BACKENDS = {  # name -> (decoder, frames() options)
    "pyav": (PyAVDecoder, {}),
    "pyav-yuv": (PyAVDecoder, {"yuv": True}),
    "pyav-plan": (PyAVDecoder, {"pixels": False}),
    "opencv": (OpenCVDecoder, {}),
    "opencv-plan": (OpenCVDecoder, {"pixels": False}),
    "decord": (DecordDecoder, {}),
}


def _pixels(frame):
    return None if frame is None else frame.planes if isinstance(frame, Yuv420Frame) else frame


def _backends(info) -> list[str]:
    return [b for b in BACKENDS if (info.pix_fmt == "yuv420p" or not BACKENDS[b][1].get("yuv"))  # yuv: 4:2:0 only
            and BACKENDS[b][0]().can_decode(info) is None]


def _compare(info, backend: str, start_index: int, by_time: bool) -> str:
    """Decode from frame 0 and from `start_index` (or its pts); assert equal from there on. Returns how the
    seeking decode went ("<backend> seek" / "<backend> linear")."""
    decoder_type, options = BACKENDS[backend]
    linear = [(i, t, _pixels(f)) for i, t, f in decoder_type().frames(info, **options) if i >= start_index]
    assert linear and linear[0][0] == start_index
    start = {"start_s": linear[0][1] - 1e-3} if by_time else {"start_index": start_index}
    before = dict(SEEKS)
    seeked = [(i, t, _pixels(f)) for i, t, f in decoder_type().frames(info, **options, **start)]
    how = [k for k in SEEKS if SEEKS[k] != before.get(k, 0)]
    assert len(how) == 1
    seeked = [x for x in seeked if x[0] >= start_index]
    assert [(i, t) for i, t, _ in seeked] == [(i, t) for i, t, _ in linear], how  # same indices, same pts
    for (i, _t, a), (_i, _t2, b) in zip(linear, seeked):
        if a is not None and b is not None:  # a plan pass converts only the first frame it yields
            assert np.array_equal(a, b), f"{info.path.name} {backend}: frame {i} differs"
    return how[0]


# real files: (path under shared/data/real, a start index deep in the file, whether a seek must be used)
REAL = {
    "h264-mp4": ("intel__car-detection.mp4", 335, True),  # keyframes every 60: mid-GOP
    "h264-mkv": ("decord__flipping_a_pancake.mkv", 262, True),  # ms ticks; OpenCV's clock 7 ms ahead of the pts
    "h264-444": ("lerobot_umi_cup_in_the_wild/videos/observation.image_episode_000000.mp4", 351, True),
    "vfr": ("androidx__sample_android_slow_motion.mp4", 5, False),  # must decode from frame 0
    "hevc-rotated": ("androidx__dolbyVision-hdr.MOV", 2, False),  # a discarded packet: from frame 0 (PyAV only:
    # OpenCV takes 1.7 s to open this file)
    "h264-rotated": ("decord__video_90.mov", 2, False),  # one keyframe: nothing to seek to
    "mpeg4-avi": ("androidx__sample.avi", 70, False),  # placeholder packets: from frame 0
}


@pytest.mark.parametrize("case", list(REAL))
def test_a_seek_into_a_real_file_yields_what_decoding_from_frame_0_yields(real_data, case):
    name, start, must_seek = REAL[case]
    info = probe(real_data / name)
    for i, backend in enumerate(_backends(info)):
        if case == "hevc-rotated" and backend.startswith(("opencv", "decord")):
            continue
        how = _compare(info, backend, start, by_time=bool(i % 2))
        assert how.endswith("seek") == must_seek, (backend, how, frame_table(info)[1])


def test_files_that_cannot_be_seeked_exactly_say_why(real_data):
    why = {name: frame_table(probe(real_data / name))[1] for name, _s, _m in REAL.values()}
    assert "variable frame rate" in why["androidx__sample_android_slow_motion.mp4"]
    assert "discard" in why["androidx__dolbyVision-hdr.MOV"]
    assert "mpeg4" in why["androidx__sample.avi"]
    assert why["intel__car-detection.mp4"] == ""


def _write_clip(path: Path, codec: str, n_frames: int = 150, fps: int = 30, gop: int = 30) -> Path:
    """A CFR clip whose every frame differs (a moving square on noise), keyframes every `gop` frames."""
    import av

    rng = np.random.default_rng(0)
    background = rng.integers(0, 256, (48, 64, 3), np.uint8)
    options = {"libx264": {"g": str(gop), "bf": "2", "crf": "20", "preset": "veryfast"},
               "libvpx-vp9": {"g": str(gop), "crf": "30", "b:v": "0", "deadline": "realtime", "cpu-used": "8"},
               "libx265": {"x265-params": f"keyint={gop}:min-keyint={gop}:log-level=none", "preset": "ultrafast"}}
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, fps, options=options[codec])
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, fps)
        for i in range(n_frames):
            img = background.copy()
            img[8:24, i % 48 : i % 48 + 16] = (i * 7) % 256
            vf = av.VideoFrame.from_ndarray(img, format="rgb24")
            vf.pts = i
            out.mux(stream.encode(vf))
        out.mux(stream.encode())
    return path


@pytest.mark.parametrize("codec,suffix", [("libx264", ".mp4"), ("libvpx-vp9", ".webm"), ("libx265", ".mp4")])
def test_a_seek_mid_gop_into_a_generated_clip_is_exact_and_decodes_less(tmp_path, codec, suffix):
    info = probe(_write_clip(tmp_path / f"clip{suffix}", codec))
    table, why = frame_table(info)
    assert table is not None, why
    assert list(table.key_ranks[:3]) == [0, 30, 60]
    assert len(_backends(info)) == len(BACKENDS)
    for i, backend in enumerate(BACKENDS):
        assert _compare(info, backend, 105, by_time=bool(i % 2)) == f"{backend.split('-')[0]} seek"
    # the seek is what makes it cheaper: from frame 105 the stream starts there, not at frame 0
    assert [i for i, _t, _f in PyAVDecoder().frames(info, start_index=105)][:2] == [105, 106]


def test_seeking_can_be_switched_off(tmp_path, monkeypatch):
    info = probe(_write_clip(tmp_path / "clip.mp4", "libx264", n_frames=90))
    monkeypatch.setenv(SEEK_ENV, "0")
    assert [i for i, _t, _f in OpenCVDecoder().frames(info, start_index=70)][0] == 0


def test_a_start_past_the_end_yields_nothing_after_it(tmp_path):
    info = probe(_write_clip(tmp_path / "clip.mp4", "libx264", n_frames=90))
    assert list(PyAVDecoder().frames(info, start_index=500)) == []
    assert [i for i, _t, _f in OpenCVDecoder().frames(info, start_s=10.0) if i >= 90] == []


def test_a_build_of_pieces_is_the_same_with_and_without_seeking(pick_place_scene, tmp_path, monkeypatch):
    """A 2.4 s clip cut into 0.8 s pieces (keyframes every 15 frames: pieces 2 and 3 are seeked into), written at the
    source's size (yuv frames to the encoder) and at a smaller one (OpenCV frames resized): the same parquet values,
    frame indices and video frames with seeking on and off."""
    import json
    import textwrap

    import pyarrow.parquet as pq

    from vla_builder.build import build
    from vla_builder.recipe import load_recipe
    from vla_builder.sinks.encode import count_video_frames

    scene, _truth = pick_place_scene  # 72 frames at 30 fps, 240x320

    def run(out: Path, size: str, seek: str):
        monkeypatch.setenv(SEEK_ENV, seek)
        recipe = tmp_path / f"{out.name}.yaml"
        recipe.write_text(textwrap.dedent(f"""
            name: seek
            sources:
              - video: {scene}/scene.mp4
                labels: {scene}/gt.txt
                classes: {{1: hand, 2: cup, 3: box}}
            max_episode_s: 0.8
            actor: hand
            fps: 30
            image_size: {size}
            output: {out}
        """))
        before = dict(SEEKS)
        assert build(load_recipe(recipe), log=lambda *a: None).exit_code == 0
        seeks = sum(SEEKS[k] - before.get(k, 0) for k in SEEKS if k.endswith("seek"))
        table = pq.read_table(sorted((out / "data").rglob("*.parquet"))).to_pandas()
        prov = [json.loads(x) for x in (out / "meta" / "provenance.jsonl").read_text().splitlines()]
        prov = [{k: r[k] for k in ("source_frames", "source_time_s", "span_s", "frames")} for r in prov]
        videos = sorted((out / "videos").rglob("*.mp4"))
        frames = [f.to_ndarray(format="rgb24") for v in videos for f in _decode_all(v)]
        return seeks, table, prov, frames, sum(count_video_frames(v) for v in videos)

    for size in ("[240, 320]", "[120, 160]"):
        tag = size.strip("[]").replace(", ", "x")
        seeks_on, table_on, prov_on, frames_on, n_on = run(tmp_path / f"on{tag}", size, "1")
        seeks_off, table_off, prov_off, frames_off, n_off = run(tmp_path / f"off{tag}", size, "0")
        assert seeks_on >= 2 and seeks_off == 0  # pieces 2 and 3 were seeked into (every pass of them)
        assert prov_on == prov_off and [p["source_frames"][0] for p in prov_on] == [0, 24, 48]
        assert table_on.columns.tolist() == table_off.columns.tolist()
        for column in table_on.columns:
            a, b = table_on[column].tolist(), table_off[column].tolist()
            assert json.dumps(a, default=str) == json.dumps(b, default=str), column
        assert n_on == n_off == len(frames_on) == len(frames_off) == 72
        assert all(np.array_equal(a, b) for a, b in zip(frames_on, frames_off))


def _decode_all(path: Path):
    import av

    with av.open(str(path)) as container:
        yield from container.decode(container.streams.video[0])
