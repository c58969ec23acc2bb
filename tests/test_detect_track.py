"""Detection and tracking: the committed test detector, ByteTrack, and DetectTrackStage's label modes.

Scenes are made here with vla_builder.synthetic (seed 7: held out, the detector was trained on seeds >= 1000).
Detection runs at 320 px on the CPU. Metrics: py-motmetrics (IDF1, id switches) and our propagation IoU.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "1")

import numpy as np
import pytest

from vla_builder.detect.metrics import hota, mot_metrics, propagation_quality
from vla_builder.pipeline import Pipeline
from vla_builder.sources.labels import read_labels
from vla_builder.sources.video import probe
from vla_builder.stages.decode import DecodeStage
from vla_builder.stages.detect_track import DetectTrackError, DetectTrackStage
from vla_builder.stages.probe import LabelsStage, ProbeStage
from vla_builder.synthetic import CLASSES, make_scene
from vla_builder.boxes import iou_matrix
from vla_builder.tracking.bytetrack import ByteTracker, track_clip
from vla_builder.tracking.grid import labels_to_grid
from vla_builder.types import Clip, LabelTable, SourceSpec, TrackSet

WEIGHTS = Path(__file__).parent / "assets" / "detector" / "synthetic_yolo.pt"
IMGSZ = 320
SEED = 7  # held out: training used seeds >= 1000
N_FRAMES = 61  # every 15th frame (0, 15, ..., 60) then spans the whole clip


@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("scenes")
    out = {}
    for scenario in ("push", "pick_place", "idle"):
        make_scene(root / scenario, scenario, n_frames=N_FRAMES, fps=15, size_px=(240, 320), seed=SEED)
        out[scenario] = root / scenario
    return out


@pytest.fixture(scope="module")
def detector():
    from vla_builder.detect.ultralytics_adapter import UltralyticsDetector

    return UltralyticsDetector(WEIGHTS, imgsz=IMGSZ, device="cpu").load()


def frames_of(scene: Path) -> np.ndarray:
    import av

    with av.open(str(scene / "scene.mp4")) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])


def run(spec: SourceSpec, stage) -> Clip:
    pipeline = Pipeline([ProbeStage(), LabelsStage(), DecodeStage(fps=15, image_size=(240, 320)), stage])
    result = pipeline.run_clip(Clip(clip_id=spec.name, source=spec))
    assert result.failure is None, f"{result.failure.stage}: {result.failure.reason}\n{result.failure.detail}"
    return result.clip


def truth(scene: Path, source_index: np.ndarray) -> TrackSet:
    spec = SourceSpec(video=scene / "scene.mp4", labels=scene / "gt.txt", classes=CLASSES)
    return labels_to_grid(read_labels(spec, probe(spec.video)), source_index, 0)


def write_labels(scene: Path, name: str, every: int = 1, with_ids: bool = True) -> Path:
    rows = [ln.split(",") for ln in (scene / "gt.txt").read_text().splitlines() if ln.strip()]
    kept = [r for r in rows if (int(r[0]) - 1) % every == 0]
    if not with_ids:
        kept = [[r[0], "-1", *r[2:]] for r in kept]
    path = scene / name
    path.write_text("\n".join(",".join(r) for r in kept) + "\n")
    return path


# -- the detector -------------------------------------------------------------------------------------------------
def test_committed_weights_are_small():
    assert WEIGHTS.is_file(), f"{WEIGHTS} missing: run scripts/train_test_detector.py"
    assert WEIGHTS.stat().st_size < 3e6


def test_missing_weights_is_a_clear_error(tmp_path):
    from vla_builder.detect.ultralytics_adapter import DetectorError, UltralyticsDetector

    missing = tmp_path / "nowhere" / "yolov8n.pt"  # an official asset name: ultralytics would try to download it
    with pytest.raises(DetectorError, match="nowhere/yolov8n.pt.*not found"):
        UltralyticsDetector(missing).load()
    with pytest.raises(DetectorError, match="not found"):
        DetectTrackStage.of(weights=missing).setup()
    assert not missing.exists()


def test_unknown_class_names_are_a_clear_error():
    from vla_builder.detect.ultralytics_adapter import DetectorError, UltralyticsDetector

    with pytest.raises(DetectorError, match="person.*not detector classes"):
        UltralyticsDetector(WEIGHTS, class_map={"person": "pedestrian"}, device="cpu").load()


def test_batched_path_matches_predict(detector, scenes):
    """The torch letterbox + one forward + NMS gives what ultralytics' predict() gives, frame by frame."""
    rgb = frames_of(scenes["pick_place"])[::6]
    fast, ref = detector.detect(rgb), detector.predict_reference(rgb)
    assert sum(len(d) for d in ref) >= 2 * len(rgb)
    for a, b in zip(fast, ref, strict=True):
        assert len(a) == len(b)
        if len(a) == 0:
            continue
        iou = iou_matrix(a.boxes_xyxy, b.boxes_xyxy)
        j = iou.argmax(axis=1)
        assert iou.max(axis=1).min() > 0.98
        assert list(a.class_name) == list(b.class_name[j])
        np.testing.assert_allclose(a.score, b.score[j], atol=0.02)


def test_class_filter_and_mapping(scenes):
    from vla_builder.detect.ultralytics_adapter import UltralyticsDetector

    det = UltralyticsDetector(WEIGHTS, class_map={"cup": "mug"}, imgsz=IMGSZ, device="cpu")
    out = det.detect(frames_of(scenes["idle"])[:4])
    names = {n for d in out for n in d.class_name}
    assert names == {"mug"}  # only the mapped class is kept, under its label-side name


@pytest.mark.gpu
@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs CUDA")
def test_batched_path_on_gpu_half(scenes):
    import torch

    from vla_builder.detect.ultralytics_adapter import UltralyticsDetector

    rgb = frames_of(scenes["push"])
    det = UltralyticsDetector(WEIGHTS, imgsz=IMGSZ, device="cuda").load()
    assert det._half
    fast = det.detect(torch.from_numpy(rgb).cuda())  # frames already on the GPU
    ref = det.predict_reference(rgb)
    for a, b in zip(fast, ref, strict=True):
        assert len(a) == len(b)
        if len(a):
            assert iou_matrix(a.boxes_xyxy, b.boxes_xyxy).max(axis=1).min() > 0.95


# -- the tracker --------------------------------------------------------------------------------------------------
def _moving_box(t: int, x0: float, dx: float) -> np.ndarray:
    return np.array([x0 + dx * t, 0.4, x0 + dx * t + 0.1, 0.5])


def test_bytetrack_keeps_ids_through_a_weak_and_a_missed_detection():
    dets = []
    for t in range(20):
        boxes = [_moving_box(t, 0.1, 0.01), _moving_box(t, 0.7, -0.005)]
        scores = [0.9, 0.9]
        if t == 8:
            scores[0] = 0.15  # a weak detection: ByteTrack's second round keeps the track on it
        if t == 12:
            boxes, scores = boxes[1:], scores[1:]  # a missed detection: the track is lost, then found again
        dets.append(LabelTable.of_frame(np.array(boxes, np.float32), np.array(scores, np.float32),
                               np.array(["cup"] * len(boxes), dtype=object)))
    ids = track_clip(dets)
    assert ids[0].tolist() == [1, 2]
    assert all(i[0] == 1 for i in ids if len(i) == 2)
    assert ids[8][0] == 1  # the weak detection stayed with its track
    assert ids[12].tolist() == [2] and ids[13].tolist() == [1, 2]


def test_tracker_state_is_fresh_per_instance_and_deterministic():
    d = LabelTable.of_frame(np.array([[0.1, 0.1, 0.2, 0.2]], np.float32), np.array([0.9], np.float32),
                   np.array(["box"], dtype=object))
    a, b = ByteTracker(), ByteTracker()
    assert a.update(d).tolist() == [1]
    assert b.update(d).tolist() == [1]  # no id counter shared between trackers
    seq = [d] * 5
    assert [x.tolist() for x in track_clip(seq)] == [x.tolist() for x in track_clip(seq)]


# -- the stage ----------------------------------------------------------------------------------------------------
def test_detect_and_track_reaches_idf1(scenes):
    scene = scenes["push"]
    clip = run(SourceSpec(video=scene / "scene.mp4"), DetectTrackStage.of(weights=WEIGHTS, imgsz=IMGSZ, device="cpu"))
    assert clip.provenance["tracks_mode"].startswith("detect")
    gt = truth(scene, clip.frames.source_index)
    m = mot_metrics(gt, clip.tracks)
    assert m["idf1"] >= 0.9, m
    assert m["num_switches"] == 0, m
    assert hota(gt, clip.tracks)["hota"] >= 0.7
    assert not clip.tracks.labeled.any()  # detector boxes are never claimed as labels


def test_a_carried_object_keeps_its_id_while_hidden(scenes):
    """pick_place: the cup vanishes under the hand that carries it and reappears where it is put down: the tracker
    follows it with its carrier and gives it back its id (no switch, no fourth track)."""
    scene = scenes["pick_place"]
    clip = run(SourceSpec(video=scene / "scene.mp4"), DetectTrackStage.of(weights=WEIGHTS, imgsz=IMGSZ, device="cpu"))
    m = mot_metrics(truth(scene, clip.frames.source_index), clip.tracks)
    assert m["num_switches"] == 0 and len(clip.tracks) == 3, (m, clip.tracks.ids)
    assert m["idf1"] >= 0.85, m


def test_tracker_ids_fresh_per_clip(scenes):
    """One stage (one worker) over two clips: both clips' ids start at 1 (no counter carried across clips)."""
    stage = DetectTrackStage.of(weights=WEIGHTS, imgsz=IMGSZ, device="cpu")
    first = run(SourceSpec(video=scenes["idle"] / "scene.mp4"), stage)
    second = run(SourceSpec(video=scenes["push"] / "scene.mp4"), stage)
    for clip in (first, second):
        assert clip.tracks.ids.min() == 1
        assert sorted(clip.tracks.ids.tolist()) == list(range(1, len(clip.tracks) + 1))


@pytest.mark.parametrize("scenario", ["push", "pick_place"])
def test_sparse_labels_every_15th_frame(scenes, scenario):
    scene = scenes[scenario]
    sparse = write_labels(scene, "sparse15.txt", every=15)
    spec = SourceSpec(video=scene / "scene.mp4", labels=sparse, classes=CLASSES)
    clip = run(spec, DetectTrackStage.of(weights=WEIGHTS, imgsz=IMGSZ, device="cpu"))
    assert clip.provenance["tracks_mode"].startswith("sparse")
    tracks = clip.tracks
    gt = truth(scene, clip.frames.source_index)
    assert tracks.ids.tolist() == gt.ids.tolist()  # ids come from the labels
    assert tracks.labeled.sum() == 5 * 3 and tracks.labeled[::15].all()
    labeled_gt = gt.boxes_xyxy[tracks.labeled.any(axis=1)]
    np.testing.assert_allclose(tracks.boxes_xyxy[tracks.labeled.any(axis=1)], labeled_gt)  # labels win
    assert tracks.present.all()  # every frame filled
    q = propagation_quality(gt, tracks)
    assert q["mean_iou"] >= 0.7, q
    assert mot_metrics(gt, tracks)["num_switches"] == 0


def test_sparse_labels_without_detector_use_flow(scenes):
    scene = scenes["push"]
    sparse = write_labels(scene, "sparse15.txt", every=15)
    clip = run(SourceSpec(video=scene / "scene.mp4", labels=sparse, classes=CLASSES), DetectTrackStage.of())
    assert clip.provenance["propagation"]["from_detector"] == 0
    q = propagation_quality(truth(scene, clip.frames.source_index), clip.tracks)
    assert q["mean_iou"] >= 0.7, q


def test_dense_labels_pass_through_unchanged(scenes):
    scene = scenes["pick_place"]
    spec = SourceSpec(video=scene / "scene.mp4", labels=scene / "gt.txt", classes=CLASSES)
    ours = run(spec, DetectTrackStage.of(weights=WEIGHTS))  # a detector is configured but dense labels never need it
    theirs = labels_to_grid(ours.labels, ours.frames.source_index, 2.0 * ours.info.fps)  # the labels, as they are
    assert ours.provenance["tracks_mode"].startswith("dense")
    assert ours.tracks.ids.tolist() == theirs.ids.tolist()
    np.testing.assert_array_equal(ours.tracks.boxes_xyxy, theirs.boxes_xyxy)
    np.testing.assert_array_equal(ours.tracks.labeled, theirs.labeled)


def test_boxes_without_ids_are_associated(scenes):
    scene = scenes["push"]
    labels = write_labels(scene, "noids.txt", with_ids=False)
    clip = run(SourceSpec(video=scene / "scene.mp4", labels=labels, classes=CLASSES), DetectTrackStage.of())
    assert "associated" in clip.provenance["track_ids"]
    assert clip.provenance["tracks_mode"].startswith("dense")
    gt = truth(scene, clip.frames.source_index)
    assert sorted(clip.tracks.class_names) == sorted(gt.class_names)
    assert mot_metrics(gt, clip.tracks)["idf1"] == 1.0


def test_no_labels_and_no_detector_is_a_clear_failure(scenes):
    spec = SourceSpec(video=scenes["idle"] / "scene.mp4")
    pipeline = Pipeline([ProbeStage(), LabelsStage(), DecodeStage(fps=15, image_size=(240, 320)),
                         DetectTrackStage.of(mode="detect")])
    result = pipeline.run_clip(Clip(clip_id="x", source=spec))
    assert result.failure is not None and result.failure.stage == "detect_track"
    assert "no detector" in result.failure.reason
    # in auto mode the same source has no tracks (a wrist camera: its ego-motion becomes the action)
    auto = Pipeline([ProbeStage(), LabelsStage(), DecodeStage(fps=15, image_size=(240, 320)), DetectTrackStage.of()])
    result = auto.run_clip(Clip(clip_id="x", source=spec))
    assert result.failure is None and len(result.clip.tracks) == 0
    with pytest.raises(ValueError, match="mode"):  # pydantic: names the key and the choices
        DetectTrackStage.of(mode="guess")
    assert issubclass(DetectTrackError, Exception)


def test_recipe_with_a_detector_and_no_labels_builds(tmp_path):
    """No labels at all: the committed test detector + ByteTrack make the tracks, the rest of the build follows."""
    import textwrap

    from conftest import REPO, cli_in_process
    from vla_builder.synthetic import make_scene

    make_scene(tmp_path / "s", "push", n_frames=45, fps=15, size_px=(240, 320), seed=7)
    weights = REPO / "tests" / "assets" / "detector" / "synthetic_yolo.pt"
    (tmp_path / "recipe.yaml").write_text(textwrap.dedent(f"""
        name: detected
        sources:
          - video: s/scene.mp4
        actor: hand
        image_size: [240, 320]
        detector: {{weights: {weights}, imgsz: 320, device: cpu}}
        output: out
    """))
    res = cli_in_process("build", "recipe.yaml", "--no-report", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    prov = json.loads((tmp_path / "out" / "meta" / "provenance.jsonl").read_text().splitlines()[0])
    assert prov["tracks_mode"].startswith("detect") and prov["tracks"] >= 3
    assert "push" in prov["task"] or "slide" in prov["task"] or "shove" in prov["task"], prov["task"]
    missing = cli_in_process("build", "recipe.yaml", "--set", "detector.weights=nope.pt", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.pt" in missing.stderr
