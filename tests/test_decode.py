"""Every real video decodes with the right frame count and orientation, or fails with a clear message."""

import numpy as np
import pytest

from vla_builder.sources.grid import n_grid_samples, sample_to_grid
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
    assert len(index) == n_grid_samples(pts[-1] - pts[0], 30)
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
