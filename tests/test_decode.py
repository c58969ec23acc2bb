"""Every real video decodes with the right frame count and orientation, or fails with a clear message."""

import numpy as np
import pytest

from vla_builder.sources.grid import grid_samples, n_grid_samples, sample_to_grid
from vla_builder.sources.video import AUTO_ORDER, DECODERS, DecodeError, choose_decoder, probe

# file -> (frames PyAV decodes, display (height, width)); counts from shared/data/real/MANIFEST.md
EXPECTED = {
    "androidx__bear-vp9-odd-dimensions.webm": (30, (121, 161)),
    "androidx__bear-vp9.webm": (82, (240, 320)),
    "androidx__dolbyVision-hdr.MOV": (4, (1280, 720)),  # header says 5; rotation -90
    "androidx__hdr10-av1.mp4": (127, (1280, 720)),  # AV1 10-bit
    "androidx__sample.avi": (96, (400, 960)),  # header says 98
    "androidx__sample_android_slow_motion.mp4": (7, (720, 1280)),  # variable frame rate
    "decord__flipping_a_pancake.mkv": (310, (240, 426)),
    "decord__video_0.mov": (3, (320, 568)),
    "decord__video_90.mov": (3, (568, 320)),  # rotation -90: displayed portrait
    "dexretargeting__human_hand_video.mp4": (621, (720, 1280)),
    "intel__bottle-detection.mp4": (1189, (360, 640)),
    "intel__car-detection.mp4": (377, (432, 768)),
    "sam2__02_cups.mp4": (300, (720, 1280)),
    "sam2__03_blocks.mp4": (292, (720, 1280)),
    "sam2__04_coffee.mp4": (287, (720, 1280)),
    "torchcodec__nasa_13013.mp4": (325, (180, 320)),  # the first of two video streams
    "lerobot_umi_cup_in_the_wild/videos/observation.image_episode_000000.mp4": (400, (224, 224)),  # 4:4:4
    "lerobot_so101_chess_ep4/videos/chunk-000/observation.images.follower_wrist/episode_000004.mp4": (1, (480, 640)),
}
VIDEO_SUFFIXES = {".mp4", ".mov", ".webm", ".avi", ".mkv"}


def test_expected_table_covers_every_real_video(real_data):
    found = {str(p.relative_to(real_data)) for p in real_data.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES}
    assert found == set(EXPECTED), found ^ set(EXPECTED)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("backend", ["auto", *DECODERS])
def test_every_real_video_decodes_right_or_fails_clearly(real_data, backend):
    outcomes = {}
    for name, (n_expected, hw) in EXPECTED.items():
        path = real_data / name
        info = probe(path)
        assert (info.height_px, info.width_px) == hw, name
        try:
            decoder, _why = choose_decoder(info, backend)
            if backend == "auto":
                # auto hands the file to the first of AUTO_ORDER that accepts it, unchanged: that backend's own
                # parametrization decodes every file it accepts and checks it, so decoding again here proves nothing
                assert type(decoder) in {DECODERS[n] for n in AUTO_ORDER}, (name, decoder)
                assert all(DECODERS[n]().can_decode(info) for n in AUTO_ORDER[:AUTO_ORDER.index(_why.split()[0])])
                outcomes[name] = "ok"
                continue
            n, shape = 0, None
            for _i, _pts, rgb in decoder.frames(info):
                shape = rgb.shape if shape is None else shape
                assert rgb.shape == shape and rgb.dtype == np.uint8
                n += 1
        except DecodeError as e:
            assert e.path == str(path) and e.reason, name  # names the file and says why
            outcomes[name] = f"refused: {e.reason}"
            continue
        assert n == n_expected, f"{backend} decoded {n} frames of {name}, expected {n_expected}"
        assert shape == (*hw, 3), f"{backend} gave {shape} for {name}, expected {(*hw, 3)}"
        outcomes[name] = "ok"
    if backend in ("auto", "pyav"):  # PyAV reads every file here: auto must never refuse one
        assert all(v == "ok" for v in outcomes.values()), outcomes


def test_backends_agree_on_rotated_pixels(real_data):
    info = probe(real_data / "decord__video_90.mov")
    assert info.rotation_deg in (90, 270)
    frames = {name: next(iter(DECODERS[name]().frames(info)))[2] for name in ("pyav", "opencv", "decord")}
    for name in ("opencv", "decord"):
        assert np.abs(frames[name].astype(int) - frames["pyav"]).mean() < 3.0, name


def test_broken_inputs_fail_with_file_and_reason(tmp_path, real_data):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((real_data / "intel__bottle-detection.mp4").read_bytes()[:4000])
    for path in (empty, junk, truncated):
        with pytest.raises(DecodeError) as e:
            info = probe(path)
            decoder, _ = choose_decoder(info)
            list(decoder.frames(info))
        assert str(path) in str(e.value)


def test_variable_frame_rate_is_resampled_to_the_grid(real_data):
    info = probe(real_data / "androidx__sample_android_slow_motion.mp4")
    decoder, _ = choose_decoder(info, "pyav")
    pts = [p for _i, p, _rgb in decoder.frames(info)]
    rgb, index, times, start = sample_to_grid(decoder.frames(info), 30, None, lambda f: f[::8, ::8], str(info.path))
    assert len(index) == n_grid_samples(pts[-1] - pts[0], pts[-1] - pts[-2], 30)
    grid_t = start + np.arange(len(index)) / 30
    # each sample shows the frame on screen at its time: the last frame whose pts <= t
    for t, j in zip(grid_t, index, strict=True):
        assert pts[j] <= t + 1e-6 and (j + 1 == len(pts) or pts[j + 1] > t + 1e-6)
    assert index[0] == 0 and (index == 0).sum() == 10  # the first frame lasts 0.325 s = 10 samples at 30 fps


def test_grid_downsamples_a_constant_rate_source(real_data):
    info = probe(real_data / "decord__flipping_a_pancake.mkv")
    decoder, _ = choose_decoder(info)
    _rgb, index, _t, _s = sample_to_grid(decoder.frames(info), 10, (30, 120), lambda f: f[:4, :4], str(info.path))
    assert index.tolist() == list(range(30, 121, 3))


def _constant_rate_stream(n_frames: int, src_fps: float):
    """(index, pts, frame) of a constant-rate source; the frame is its index (the grid only passes it on)."""
    return ((i, i / src_fps, i) for i in range(n_frames))


def _grid(n_frames, src_fps, fps, span=None, time_span_s=None):
    samples = list(grid_samples(_constant_rate_stream(n_frames, src_fps), fps, span, "gen", time_span_s))
    return np.array([s[0] for s in samples]), samples[0][2] + np.arange(len(samples)) / fps


@pytest.mark.parametrize("src_fps, fps, n_frames, n_samples", [
    (60000 / 1001, 60, 60, 61),  # 59.94 -> 60: 60 frames last 1.001 s; the grid instant at 1.000 s shows frame 59
    (25, 30, 25, 30),  # 1 s at 25 fps is 30 samples at 30 fps, the last showing frame 24
    (30, 30, 30, 30),  # same rate: one sample per frame, as before
    (24, 30, 48, 60),
    (30, 10, 31, 11),  # a slower build shows every third frame; the last lands on the grid
])
def test_the_grid_shows_the_spans_last_frame_and_nothing_past_its_end(src_fps, fps, n_frames, n_samples):
    index, grid_t = _grid(n_frames, src_fps, fps)
    last_end_s = n_frames / src_fps  # the last frame is on screen until then
    assert len(index) == n_samples == n_grid_samples((n_frames - 1) / src_fps, 1 / src_fps, fps)
    assert index[-1] == n_frames - 1 and grid_t[-1] < last_end_s
    assert set(index) == set(range(n_frames)) or fps < src_fps  # every frame shown where the build is not slower
    for t, j in zip(grid_t, index, strict=True):  # each sample shows the frame on screen at its time
        assert j / src_fps <= t + 1e-6 < (j + 1) / src_fps


@pytest.mark.parametrize("src_fps, fps", [(60000 / 1001, 60), (25, 30)])
def test_a_span_inside_the_video_ends_on_its_last_frame(src_fps, fps):
    """A labeled span (frame indices) or a segment (times) deep in a longer video: its last frame is shown, the
    frame after it never, and no sample reaches that next frame's time."""
    first, last = int(src_fps), 2 * int(src_fps) - 1  # one second's frames, from the 1 s mark
    for span, time_span_s in (((first, last), None), (None, (first / src_fps, (last + 1) / src_fps))):
        index, grid_t = _grid(10 * int(src_fps), src_fps, fps, span, time_span_s)
        assert index[0] == first and index[-1] == last and set(index) == set(range(first, last + 1))
        assert grid_t[-1] < (last + 1) / src_fps
        assert len(index) == n_grid_samples((last - first) / src_fps, 1 / src_fps, fps)


def test_a_gap_after_a_segments_end_does_not_stretch_it():
    """A variable-rate source whose next frame comes 2 s after the segment's end: the segment's last frame counts
    up to the end time (or one grid step), not up to that far-away frame."""
    pts = [0.0, 0.1, 0.2, 0.3, 2.3]
    stream = ((i, p, i) for i, p in enumerate(pts))
    samples = list(grid_samples(stream, 10, None, "gen", (0.0, 0.4)))
    assert [s[0] for s in samples] == [0, 1, 2, 3]
