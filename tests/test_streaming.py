"""Streaming: no frame lost to a slow encoder, frames decoded again instead of held, episode spans honoured."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from vla_builder.sinks.encode import EncodeError, PreEncodedVideo, VideoConfig, count_video_frames, encode_frames
from vla_builder.sources.grid import sample_to_grid
from vla_builder.sources.video import choose_decoder, probe
from vla_builder.stages.decode import DecodeStage
from vla_builder.stages.motion import MotionConfig
from vla_builder.types import Clip, LabelTable, SourceSpec


def _numbered_frame(i: int, size_hw=(48, 64)) -> np.ndarray:
    frame = np.zeros((*size_hw, 3), np.uint8)
    frame[:, : 2 + (i % 60)] = 200  # a bar whose width encodes the frame number
    return frame


@pytest.fixture(scope="module")
def counted_video(tmp_path_factory) -> Path:
    """60 frames at 10 fps, h264, frame i carries a bar of width 2 + i."""
    import av

    path = tmp_path_factory.mktemp("stream") / "count.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", 10, options={"g": "5", "crf": "18", "preset": "ultrafast"})
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 10)
        for i in range(60):
            vf = av.VideoFrame.from_ndarray(_numbered_frame(i), format="rgb24")
            vf.pts = i
            out.mux(stream.encode(vf))
        out.mux(stream.encode())
    return path


def _encoder():
    from lerobot.configs.video import RGBEncoderConfig

    return RGBEncoderConfig(vcodec="h264", crf=30, g=2, preset="ultrafast")


def test_a_failing_source_fails_the_encode(tmp_path):
    def broken():
        yield _numbered_frame(0)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError, match="decoder died"):
        encode_frames(broken(), tmp_path / "v.mp4", 10, _encoder())


def test_pre_encoded_video_refuses_a_count_mismatch(tmp_path):
    from vla_builder.sinks.encode import EncodeResult

    pre = PreEncodedVideo({"cam": EncodeResult(tmp_path / "v.mp4", 3, None, 0.0)})
    pre.start_episode(["cam"], tmp_path)
    for _ in range(4):
        pre.feed_frame("cam", None)
    with pytest.raises(EncodeError, match="4 data rows but 3 frames"):
        pre.finish_episode()


def _decode(video: Path, spec: SourceSpec, fps: int, stream: bool):
    info = probe(video)
    clip = Clip("c", spec, info=info, labels=LabelTable.empty())
    # grey frames kept at motion's size, as the build asks (build.PipelineFactory)
    gray = MotionConfig().max_side_px
    return DecodeStage(fps=fps, image_size=(48, 64), stream=stream, gray_max_side_px=gray).process(clip)


def test_streamed_frames_equal_held_frames_and_hold_nothing(counted_video):
    spec = SourceSpec(video=counted_video)
    held = _decode(counted_video, spec, 5, stream=False).frames
    streamed = _decode(counted_video, spec, 5, stream=True).frames
    lazy = streamed.rgb
    assert not isinstance(lazy, np.ndarray) and lazy.passes == 0  # the decode stage kept no pixels
    assert np.array_equal(held.source_index, streamed.source_index) and len(streamed) == 30
    assert np.array_equal(np.stack(list(lazy)), held.rgb) and lazy.passes == 1
    assert np.array_equal(lazy[3:6], held.rgb[3:6]) and np.array_equal(lazy[7], held.rgb[7])  # forward: streamed
    assert lazy._all is None
    assert np.array_equal(lazy[2], held.rgb[2])  # backward: held from then on
    assert np.array_equal(np.asarray(lazy), held.rgb)


@pytest.mark.parametrize("span_s, first, last", [((1.0, 2.0), 10, 19), ((None, 0.5), 0, 4), ((5.0, None), 50, 59)])
def test_decode_honours_the_episode_span(counted_video, span_s, first, last):
    spec = SourceSpec(video=counted_video, start_s=span_s[0], end_s=span_s[1], segment="test span")
    clip = _decode(counted_video, spec, 10, stream=True)
    assert clip.frames.source_index.tolist() == list(range(first, last + 1))
    assert clip.provenance["segment"] == "test span"
    widths = [int((f[24, :, 0] > 100).sum()) for f in clip.frames.rgb]
    assert abs(widths[0] - (2 + first)) <= 1 and abs(widths[-1] - (2 + last)) <= 1  # the right pixels, too


def test_labels_outside_the_span_are_counted_not_errors(counted_video):
    labels = LabelTable(np.array([2, 15, 40]), np.array([1, 1, 1]), np.array(["cup"] * 3, object),
                        np.tile([0.1, 0.1, 0.3, 0.3], (3, 1)), np.ones(3))
    spec = SourceSpec(video=counted_video, start_s=1.0, end_s=2.0)
    clip = Clip("c", spec, info=probe(counted_video), labels=labels)
    out = DecodeStage(fps=10, image_size=(48, 64)).process(clip)
    assert out.label_rows.outside_span == 2


def test_grid_of_the_held_path_is_unchanged(counted_video):
    info = probe(counted_video)
    decoder, _ = choose_decoder(info)
    _rgb, index, _t, _s = sample_to_grid(decoder.frames(info), 5, (10, 30), lambda f: f[:2, :2], str(info.path))
    assert index.tolist() == list(range(10, 31, 2))


def test_motion_reads_the_grey_frames_of_the_decode_pass(counted_video):
    from vla_builder.kernels.reference import to_gray

    spec = SourceSpec(video=counted_video)
    held = _decode(counted_video, spec, 5, stream=False).frames.rgb
    lazy = _decode(counted_video, spec, 5, stream=True).frames.rgb
    grays = lazy.grays(320)
    assert lazy.passes == 0 and len(grays) == len(held)  # kept from the decode stage's pass: no decoding again
    assert all(np.array_equal(g, to_gray(f, 320)) for g, f in zip(grays, held, strict=True))
    small = lazy.grays(32)  # another size: made in one more pass
    assert lazy.passes == 1 and small[0].shape == to_gray(held[0], 32).shape


@pytest.mark.parametrize("codec, crf, gop, preset", [("libsvtav1", 30, 2, None), ("libsvtav1", 28, 4, 8),
                                                     ("h264", 23, 2, "veryfast"), ("hevc", 28, 2, None)])
def test_encode_settings_give_lerobots_codec_options(codec, crf, gop, preset):
    """The decode pass encodes before lerobot is imported: its own settings must give what lerobot's would."""
    from lerobot.configs.video import RGBEncoderConfig

    from vla_builder.sinks.encode import EncodeSettings

    ours, theirs = EncodeSettings(codec, crf, gop, preset), RGBEncoderConfig(vcodec=codec, crf=crf, g=gop, preset=preset)
    assert ours.get_codec_options(as_strings=True) == theirs.get_codec_options(as_strings=True)
    assert (ours.pix_fmt, ours.preset) == (theirs.pix_fmt, theirs.preset)


def test_stats_downsampling_is_lerobots():
    from lerobot.datasets.compute_stats import auto_downsample_height_width

    from vla_builder.sinks.encode import downsample_like_lerobot

    for hw in [(48, 64), (1080, 1920), (720, 1280), (1920, 1080)]:
        img = np.arange(3 * hw[0] * hw[1], dtype=np.uint32).reshape(3, *hw)
        assert np.array_equal(downsample_like_lerobot(img), auto_downsample_height_width(img))


def test_the_decode_pass_encodes_the_episode_video(counted_video, tmp_path):
    """With a target set (as work.process_clip sets it), the decode stage's one pass writes the episode video: every
    sample in the file in order, the source decoded once; the sink takes the file only while the frames are uncut."""
    import av

    from vla_builder.sinks.encode import ENCODE_TARGET
    from vla_builder.sinks.lerobot import LeRobotSink
    from vla_builder.sources.lazy_frames import FramesWindow

    sink = LeRobotSink(fps=5, image_size=(48, 64), video=VideoConfig(codec="h264", crf=18, gop=2, preset="ultrafast"))
    shard = tmp_path / "shards" / "c"
    token = ENCODE_TARGET.set(sink.encode_target(shard))
    try:
        clip = _decode(counted_video, SourceSpec(video=counted_video), 5, stream=True)
    finally:
        ENCODE_TARGET.reset(token)
    lazy = clip.frames.rgb
    target, result = lazy.encoded
    assert lazy.passes == 0 and result.frames == len(lazy) == 30  # 6 s at 10 fps onto a 5 fps grid
    assert result.path.is_relative_to(target.folder) and count_video_frames(result.path) == 30
    with av.open(str(result.path)) as container:
        bars = [int((f.to_ndarray(format="rgb24")[24, :, 0] > 100).sum()) for f in container.decode(video=0)]
    assert [round(b) for b in bars] == [2 + 2 * t for t in range(30)]  # sample t shows source frame 2t
    assert sink._early_video(clip, shard) is result
    from vla_builder.kernels.reference import to_gray
    from vla_builder.sources.lazy_frames import DiskFrames

    held = _decode(counted_video, SourceSpec(video=counted_video), 5, stream=False).frames.rgb
    kept = lazy.grays(320)  # motion's grey frames went to a file beside the shard, not into memory
    assert isinstance(kept, DiskFrames) and len(kept) == 30 and lazy.passes == 0
    assert all(np.array_equal(kept[t], to_gray(held[t], 320)) for t in (0, 7, 29, -1))
    assert sink._early_video(clip, tmp_path / "shards" / "other") is None  # another shard's folder: encode again
    cut = clip.with_(frames=dataclasses.replace(clip.frames, rgb=FramesWindow(lazy, 2, 20)))
    assert sink._early_video(cut, shard) is None  # cut to the actor's span: the early file is not this episode


def test_disk_frames_read_back_what_was_appended(tmp_path):
    from vla_builder.sources.lazy_frames import DiskFrames

    store = DiskFrames(tmp_path / "d")
    frames = [np.full((3, 4), i, np.uint8) for i in range(5)]
    for f in frames:
        store.append(f)
    assert len(store) == 5 and [int(f[0, 0]) for f in store] == [0, 1, 2, 3, 4]
    assert np.array_equal(store[-1], frames[4]) and [int(f[1, 1]) for f in store[1:3]] == [1, 2]
    with pytest.raises(IndexError):
        store[5]
    with pytest.raises(ValueError, match="frame 5"):
        store.append(np.zeros((4, 3), np.uint8))


def test_a_slow_encoder_process_loses_no_frame(tmp_path):
    """The encoder process (the build's path) takes frames slower than they come: the writer waits, none is lost."""
    frames = [_numbered_frame(i) for i in range(20)]
    result = encode_frames(iter(frames), tmp_path / "v.mp4", 10, _encoder(), worker_stall_s=0.05)
    assert result.frames == 20 and count_video_frames(tmp_path / "v.mp4") == 20
    assert result.stats is not None and result.stats["mean"].shape == (3,)


def test_a_failing_encoder_process_names_the_file_and_the_reason(tmp_path):
    from vla_builder.sinks.encode import EncodeSettings

    bad = EncodeSettings(vcodec="h264", crf=23, g=2, preset="no-such-preset")
    with pytest.raises(EncodeError, match=r"v\.mp4: the encoder (failed|stopped).*"):
        encode_frames(iter([_numbered_frame(i) for i in range(3)]), tmp_path / "v.mp4", 10, bad)


def _decode_encoding(video: Path, size_hw: tuple[int, int], folder: Path) -> Clip:
    """The decode stage on `video` with the episode video encoded in its pass (as a build runs it), at `size_hw`."""
    from vla_builder.sinks.encode import ENCODE_TARGET
    from vla_builder.sinks.lerobot import LeRobotSink

    sink = LeRobotSink(fps=5, image_size=size_hw, video=VideoConfig(codec="h264", crf=18, gop=2, preset="ultrafast"))
    token = ENCODE_TARGET.set(sink.encode_target(folder))
    try:
        clip = Clip("c", SourceSpec(video=video), info=probe(video), labels=LabelTable.empty())
        return DecodeStage(fps=5, image_size=size_hw, stream=True).process(clip)
    finally:
        ENCODE_TARGET.reset(token)


def test_frames_at_the_source_size_reach_the_encoder_unconverted(counted_video, tmp_path):
    """Written at the source's own size, the decode pass hands yuv420p frames to the encoder, never through RGB:
    the video shows the same samples; at another size the RGB path (resize, letterbox) is taken."""
    import av

    def decode_into(size_hw):
        return _decode_encoding(counted_video, size_hw, tmp_path / f"s{size_hw[0]}")

    same = decode_into((48, 64))
    assert "unconverted" in same.provenance["decoder"]
    _target, result = same.frames.rgb.encoded
    with av.open(str(result.path)) as container:
        bars = [int((f.to_ndarray(format="rgb24")[24, :, 0] > 100).sum()) for f in container.decode(video=0)]
    assert bars == [2 + 2 * t for t in range(30)]
    assert "unconverted" not in decode_into((96, 128)).provenance["decoder"]


def test_frames_at_another_size_are_scaled_and_letterboxed_in_yuv(counted_video, tmp_path):
    """Written at another size, a yuv420p source is scaled by swscale and letterboxed in yuv (never through RGB): the
    stored video shows the same samples, scaled, on black bars where `boxes.letterbox` puts them; a letterbox offset
    that 4:2:0 chroma cannot follow (odd) takes the RGB route, with the same picture."""
    import av

    from vla_builder.boxes import fit_size, letterbox_offset_px

    def stored(size_hw):
        out = _decode_encoding(counted_video, size_hw, tmp_path / f"s{size_hw[0]}")
        with av.open(str(out.frames.rgb.encoded[1].path)) as container:
            return out.provenance["decoder"], [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]

    for size_hw, route in (((96, 96), "scaled to 96x72 by swscale"), ((98, 96), "opencv")):
        how, frames = stored(size_hw)
        assert route in how and "unconverted" not in how
        x0, y0 = letterbox_offset_px(fit_size((64, 48), size_hw), size_hw)
        assert (x0, y0) == (0, 12 if size_hw[0] == 96 else 13) and frames[0].shape == (*size_hw, 3)
        assert all(f[: y0 - 1].max() < 20 and f[y0 + 73 :].max() < 20 for f in frames)  # black bars, top and bottom
        bars = [int((f[y0 + 36, :, 0] > 100).sum()) for f in frames]
        assert len(bars) == 30 and all(abs(b - 1.5 * (2 + 2 * t)) <= 1 for t, b in enumerate(bars)), bars


def test_yuv_frames_give_the_grey_frames_and_stats_pixels_of_their_rgb():
    """On a real 720p video: grey frames and stats pixels taken from the planes match those of the decoded RGB
    within the conversions' rounding (swscale's differs from the textbook formula by ~1.5 levels)."""
    import av

    from vla_builder.kernels.reference import to_gray
    from vla_builder.sinks.encode import downsample_like_lerobot, stats_step
    from vla_builder.sources.yuv import Yuv420Frame

    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "dexretargeting__human_hand_video.mp4"
    if not path.exists():
        pytest.skip(f"{path} not present")
    with av.open(str(path)) as container:
        frame = next(iter(container.decode(video=0)))
        yuv, rgb = Yuv420Frame(frame.to_ndarray(format="yuv420p")), frame.to_ndarray(format="rgb24")
    assert yuv.shape == rgb.shape and np.abs(yuv.rgb().astype(int) - rgb).mean() < 3
    gray_diff = to_gray(rgb, 320).astype(int) - yuv.gray(320)
    assert np.abs(gray_diff).max() <= 4 and abs(gray_diff.mean()) < 2
    step = stats_step(*rgb.shape[:2])
    theirs = downsample_like_lerobot(rgb.transpose(2, 0, 1)).transpose(1, 2, 0).reshape(-1, 3).astype(int)
    ours = yuv.stats_pixels(step)
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() <= 4 and np.abs((ours - theirs).mean(0)).max() < 2


def test_image_stats_are_lerobots_fed_column_major_pixels():
    """The episode's image stats are lerobot's RunningQuantileStats over the same pixels as its streaming encoder
    gives it, fed column-major (fast reductions): min, max, mean and quantiles equal, std within float32 rounding."""
    from lerobot.datasets.compute_stats import RunningQuantileStats, auto_downsample_height_width

    from vla_builder.sinks.encode import _ImageStats

    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(90 + 3 * i, 50, (480, 640, 3)), 0, 255).astype(np.uint8) for i in range(12)]
    ours, theirs = _ImageStats(None), RunningQuantileStats()
    for frame in frames:
        ours.add(frame)
        small = auto_downsample_height_width(frame.transpose(2, 0, 1))  # lerobot's streaming encoder's own steps
        theirs.update(small.transpose(1, 2, 0).reshape(-1, small.shape[0]))
    got, want = ours.result(len(frames)), theirs.get_statistics()
    assert sorted(got) == sorted(want)
    for key in want:
        tol = 1e-4 * np.abs(want[key]).max() if key == "std" else 0
        assert np.allclose(got[key], want[key], rtol=0, atol=tol), key


def test_stats_samples_held_during_lerobots_import_are_bounded():
    """While lerobot imports, stats samples wait in a list; past the cap (bytes) the decode waits for the import."""
    import threading

    from vla_builder.sinks.encode import STATS_WAITING_BYTES, _ImageStats

    assert STATS_WAITING_BYTES >= 300 * 58 * 1024  # a 300-frame build at 480x640 never waits for the import
    release = threading.Event()
    importing = threading.Thread(target=release.wait, daemon=True)
    importing.start()
    cap_frames = 40
    stats = _ImageStats(importing, max_waiting_bytes=cap_frames * 48 * 64 * 3)  # 48x64 frames: 9216 bytes each
    held = []
    for i in range(cap_frames + 20):
        if i == cap_frames:
            threading.Timer(0.2, release.set).start()  # the "import" ends while the decode waits
        stats.add(_numbered_frame(i))
        held.append(len(stats.waiting))
    assert max(held) == cap_frames and stats.stats is not None and not stats.waiting
    assert stats.result(cap_frames + 20)["count"][0] == (cap_frames + 20) * 48 * 64


def test_hand_detection_and_sparse_propagation_stream_the_clip(counted_video):
    """The stages that revisit frames walk the streamed clip instead of holding it (a long clip at full size was
    tens of GB): hand detection in one walk, sparse-label propagation on grey frames made in one walk (on disk) —
    with the same results as on the held clip."""
    from vla_builder.detect.hands import HandDetector
    from vla_builder.tracking.propagation import FlowField, propagation_priors
    from vla_builder.types import TrackSet

    spec = SourceSpec(video=counted_video)
    held = _decode(counted_video, spec, 10, stream=False).frames.rgb
    lazy = _decode(counted_video, spec, 10, stream=True).frames.rgb
    found = HandDetector(max_num_hands=2).detect_hands(lazy)
    assert len(found.detections) == len(held) == 60 and lazy.passes == 1 and lazy._all is None
    t_count = len(held)
    boxes = np.full((t_count, 1, 4), np.nan)
    labeled = np.zeros((t_count, 1), bool)
    for t in (0, 40):  # the bar's right edge, labeled every 40th sample: carried forward and backward between
        right = (2 + t % 60) / 64
        boxes[t, 0], labeled[t, 0] = (max(0.0, right - 0.1), 0.2, right + 0.05, 0.8), True
    anchors = TrackSet(np.array([1]), ("bar",), boxes, labeled)
    on_held = propagation_priors(anchors, FlowField(held, 64, "farneback"), 10)
    on_lazy = propagation_priors(anchors, FlowField(lazy, 64, "farneback"), 10)
    assert lazy._all is None and lazy.passes == 2  # one more walk, for the grey frames
    for a, b in zip(on_held, on_lazy, strict=True):
        assert np.array_equal(a, b, equal_nan=True)
    assert np.isfinite(on_lazy[0][20, 0]).all()  # a box was carried into the gap


ORPHANING_PARENT = """
import json, os, subprocess, sys
from vla_builder.sinks.encode import WORKER_SCRIPT
enc = subprocess.Popen([sys.executable, str(WORKER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
enc.stdin.write(json.dumps({"path": sys.argv[1], "fps": 10, "format": "rgb24", "width": 64, "height": 48,
                            "vcodec": "libx264", "pix_fmt": "yuv420p", "options": {}}).encode() + b"\\n")
enc.stdin.write(bytes(64 * 48 * 3) * 3)  # three whole frames, then no end of the episode
enc.stdin.flush()
print(enc.pid, flush=True)
os._exit(0)  # killed mid-episode, as with its Ray worker or node: its end of the pipe closes with it
"""


def test_an_encoder_whose_build_process_died_writes_no_video(tmp_path):
    """The end of input from a dead parent is no end of the episode: the orphaned encoder writes nothing (a retry or a
    rerun may be encoding the same clip to the same path by then)."""
    import subprocess
    import sys
    import time

    import psutil

    path = tmp_path / "v.mp4"
    pid = int(subprocess.run([sys.executable, "-c", ORPHANING_PARENT, str(path)], capture_output=True, text=True,
                             check=True).stdout)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the orphaned encoder is still running")
    assert not path.exists() or path.stat().st_size == 0  # no video: not even the 3 frames it had
