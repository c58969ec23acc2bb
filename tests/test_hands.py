"""Hand detection with the pretrained MediaPipe Hands model (vla_builder/detect/hands.py) on real video, and the
hand tracks DetectTrackStage.of(hands=True) adds to a source without labels.

Videos (the shared real data, see its MANIFEST.md): dexretargeting__human_hand_video.mp4 (one bare hand raised in
front of a wall) and sam2__03_blocks.mp4 (two hands picking up wooden blocks, top-down; the hands often enter from
the frame's edge, only fingers visible, which MediaPipe's palm detector misses: ~70 % of frames found).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip(
    "mediapipe", reason="optional hand model not installed: pip install --no-deps mediapipe==0.10.14 "
    "'protobuf>=4.25.3,<5' (see vla_builder/detect/hands.py)")

from vla_builder.detect.hands import HAND, HandDetector, HandDetectorError, grip_aperture, landmark_box  # noqa: E402
from vla_builder.stages.detect_track import DetectTrackStage  # noqa: E402
from vla_builder.types import Clip, Frames, LabelTable, SourceSpec  # noqa: E402

SIZE = (640, 360)  # (w, h) the frames are decoded at


def decode(path, step: int, count: int) -> np.ndarray:
    """Every `step`-th frame, `count` of them, scaled to SIZE (PyAV)."""
    import av

    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % step == 0:
                out.append(f.to_ndarray(format="rgb24", width=SIZE[0], height=SIZE[1]))
                if len(out) == count:
                    break
    return np.stack(out)


@pytest.fixture(scope="module")
def one_hand(real_data):
    return decode(real_data / "dexretargeting__human_hand_video.mp4", step=3, count=60)  # 6 s at 10 fps


@pytest.fixture(scope="module")
def blocks(real_data):
    return decode(real_data / "sam2__03_blocks.mp4", step=4, count=60)  # the whole 8 s at 7.5 fps


def centers(boxes: np.ndarray) -> np.ndarray:
    return (boxes[..., :2] + boxes[..., 2:]) / 2


def test_one_bare_hand_found_in_nearly_every_frame_and_moves_smoothly(one_hand):
    found = HandDetector(max_num_hands=2).detect_hands(one_hand)
    assert len(found) == len(one_hand)
    assert found.found.mean() >= 0.9, f"hand found in {found.found.mean():.0%} of frames"
    assert max(len(d) for d in found.detections) == 1  # one hand in the video, never a second (false) one
    for t, d in enumerate(found.detections):
        if len(d):
            assert list(d.class_name) == [HAND]
            assert d.boxes_xyxy.dtype == np.float32 and d.score.dtype == np.float32
            b = d.boxes_xyxy[0]
            assert 0 <= b[0] < b[2] <= 1 and 0 <= b[1] < b[3] <= 1
            assert 0.5 < d.score[0] <= 1
            assert found.landmarks[t].shape == (1, 21, 2) and found.handedness[t][0] in ("Left", "Right")
            # the box holds every landmark
            lm = found.landmarks[t][0]
            assert (lm >= b[:2] - 1e-6).all() or (b[:2] == 0).any()
            assert (lm <= b[2:] + 1e-6).all() or (b[2:] == 1).any()
    # smooth: at 10 fps the box center moves < 5 % of the frame per sample, and its size changes < 30 %
    kept = [d.boxes_xyxy[0] for d in found.detections if len(d)]
    idx = np.nonzero(found.found)[0]
    boxes = np.stack(kept)
    consecutive = np.diff(idx) == 1
    step = np.linalg.norm(np.diff(centers(boxes), axis=0), axis=1)[consecutive]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    ratio = (area[1:] / area[:-1])[consecutive]
    assert np.median(step) < 0.02 and step.max() < 0.05, (np.median(step), step.max())
    assert ratio.min() > 1 / 1.3 and ratio.max() < 1.3, (ratio.min(), ratio.max())
    aperture = np.concatenate(found.aperture)
    assert np.isfinite(aperture).all() and (aperture > 0).all() and aperture.max() < 3


def test_two_hands_over_blocks_found_in_most_frames(blocks):
    found = HandDetector(max_num_hands=2).detect_hands(blocks)
    assert found.found.mean() >= 0.6, f"hands found in {found.found.mean():.0%} of frames"
    assert max(len(d) for d in found.detections) <= 2
    # deterministic: a second run (a fresh graph) gives the same boxes
    again = HandDetector(max_num_hands=2).detect_hands(blocks)
    for a, b in zip(found.detections, again.detections, strict=True):
        np.testing.assert_array_equal(a.boxes_xyxy, b.boxes_xyxy)
        np.testing.assert_array_equal(a.score, b.score)


def test_stage_adds_hand_tracks_to_an_unlabeled_source(real_data):
    from vla_builder.pipeline import Pipeline
    from vla_builder.stages.decode import DecodeStage
    from vla_builder.stages.probe import LabelsStage, ProbeStage

    spec = SourceSpec(video=real_data / "sam2__03_blocks.mp4")  # no labels, no detector weights
    stages = [ProbeStage(), LabelsStage(), DecodeStage(fps=6, image_size=(360, 640)), DetectTrackStage.of(hands=True)]
    result = Pipeline(stages).run_clip(Clip(clip_id="blocks", source=spec))
    assert result.failure is None, f"{result.failure.stage}: {result.failure.reason}\n{result.failure.detail}"
    clip = result.clip
    tracks, prov = clip.tracks, clip.provenance
    assert len(tracks) >= 1 and set(tracks.class_names) == {HAND}
    assert len(set(tracks.ids.tolist())) == len(tracks) and not tracks.labeled.any()
    assert prov["hand_tracks"]["added"] == len(tracks) == prov["tracks"]
    assert "mediapipe" in prov["hand_tracks"]["source"]
    assert tracks.present.any(axis=1).mean() >= 0.5  # a hand track covers most samples


def _tiny_clip(class_name: str) -> Clip:
    t = 4
    labels = LabelTable(np.arange(t), np.full(t, 7), np.full(t, class_name, dtype=object),
                        np.tile([[0.1, 0.1, 0.3, 0.3]], (t, 1)), np.ones(t), format="mot")
    frames = Frames(np.zeros((t, 48, 64, 3), np.uint8), 5, np.arange(t), np.arange(t) / 5, 0.0, "test", (64, 48))
    return Clip(clip_id="tiny", source=SourceSpec(), labels=labels, frames=frames)


def test_stage_hands_ids_offset_above_labels_and_skip_when_labeled(blocks):
    # labels with a hand class: nothing added, the tracks are what hands=False gives
    clip = _tiny_clip("hand")
    off, on = DetectTrackStage.of().process(clip), DetectTrackStage.of(hands=True).process(clip)
    np.testing.assert_array_equal(off.tracks.ids, on.tracks.ids)
    np.testing.assert_array_equal(off.tracks.boxes_xyxy, on.tracks.boxes_xyxy)
    assert on.provenance["hand_tracks"]["added"] == 0 and "hand_tracks" not in off.provenance
    # labels of another class (id 7) on real hand frames: hand tracks are added with ids above 7
    clip = _tiny_clip("block")
    frames = Frames(blocks[40:50], 5, np.arange(10), np.arange(10) / 5, 0.0, "test", SIZE)
    labels = LabelTable(np.arange(10), np.full(10, 7), np.full(10, "block", dtype=object),
                        np.tile([[0.1, 0.1, 0.3, 0.3]], (10, 1)), np.ones(10), format="mot")
    out = DetectTrackStage.of(hands=True).process(clip.with_(frames=frames, labels=labels))
    assert out.tracks.ids[0] == 7 and out.tracks.class_names[0] == "block"
    assert len(out.tracks) >= 2 and (out.tracks.ids[1:] > 7).all()
    assert out.provenance["hand_tracks"]["id_offset"] == 7


def test_box_and_aperture_geometry():
    lm = np.zeros((21, 2), np.float32) + 0.5
    lm[0], lm[9] = (0.5, 0.6), (0.5, 0.4)  # wrist, middle MCP: hand size 0.2 of the height
    lm[4], lm[8] = (0.45, 0.3), (0.55, 0.3)  # thumb tip, index tip
    assert grip_aperture(lm, 100, 100) == pytest.approx(0.1 / 0.2)
    assert grip_aperture(lm, 200, 100) == pytest.approx(0.2 / 0.2)  # pixels, not normalized units
    np.testing.assert_allclose(landmark_box(lm, 0.1), [0.44, 0.27, 0.56, 0.63], atol=1e-6)
    lm[4] = (0.0, 0.0)
    assert landmark_box(lm, 0.1)[:2].tolist() == [0.0, 0.0]  # clipped to the frame


def test_missing_mediapipe_is_a_clear_error(monkeypatch):
    import sys

    for name in [m for m in sys.modules if m == "mediapipe" or m.startswith("mediapipe.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # import mediapipe -> ImportError
    with pytest.raises(HandDetectorError, match="needs mediapipe.*--no-deps mediapipe==0.10.14"):
        HandDetector().detect(np.zeros((1, 32, 32, 3), np.uint8))


def test_recipe_with_hands_builds_a_hand_actor(tmp_path):
    """No labels, no detector: the hand model makes the actor of a real human-demonstration video."""
    import json

    from conftest import REPO, cli_in_process

    res = cli_in_process("build", str(REPO / "recipes" / "human_hands.yaml"), "--output", str(tmp_path / "hands"),
                         "--no-report")
    assert res.returncode == 0, res.stdout + res.stderr
    from conftest import assert_valid

    assert_valid(tmp_path / "hands")
    prov = json.loads((tmp_path / "hands" / "meta" / "provenance.jsonl").read_text().splitlines()[0])
    assert prov["hand_tracks"]["added"] >= 1 and "mediapipe" in prov["hand_tracks"]["source"]
    assert "'hand' track" in prov["actor"] or "class 'hand'" in prov["actor"], prov["actor"]
    assert "hand" in prov["task"], prov["task"]
