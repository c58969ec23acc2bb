"""Unit tests of the decode and tracks stages' rules, on hand-built inputs (no CLI, no lerobot, tiny videos).

Each test states one rule of a stage and fails when the rule is broken: letterbox sizing, frozen inputs never
mutated, gap filling only up to max_gap, labels always winning over filled boxes, dense vs sparse choice, the
detector settings reaching the stage from the recipe's sections.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla_builder.boxes import fit_size
from vla_builder.stages.decode import DecodeStage
from vla_builder.stages.detect_track import DetectorConfig, DetectTrackStage, TracksConfig
from vla_builder.tracking.grid import grid_coverage, labels_to_grid
from vla_builder.types import Clip, Frames, LabelRowCounts, LabelTable, SourceSpec


def _table(rows, fmt="mot") -> LabelTable:
    """rows: (frame, track_id, class, x0, y0, x1, y1)."""
    return LabelTable(np.array([r[0] for r in rows]), np.array([r[1] for r in rows]),
                      np.array([r[2] for r in rows], dtype=object), np.array([r[3:7] for r in rows], float),
                      np.ones(len(rows)), format=fmt)


# -- decode -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("size, box, want", [
    ((1920, 1080), (480, 640), (640, 360)),  # 16:9 into 4:3: width-bound, aspect kept
    ((1080, 1920), (480, 640), (270, 480)),  # portrait: height-bound
    ((641, 479), (480, 640), (640, 478)),  # odd source: even sizes (encoders need them), inside the box
])
def test_fit_size_keeps_aspect_and_even_sizes(size, box, want):
    got = fit_size(size, box)
    assert got == want and got[0] % 2 == 0 and got[1] % 2 == 0
    assert got[0] <= box[1] and got[1] <= box[0]
    assert abs(got[0] / got[1] - size[0] / size[1]) < 0.01


@pytest.fixture(scope="module")
def tiny_video(tmp_path_factory) -> Path:
    """12 frames, 64x48, MPEG-4 part 2 (OpenCV's own writer: no encoder dependency)."""
    import cv2

    path = tmp_path_factory.mktemp("tiny") / "tiny.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (64, 48))
    for i in range(12):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    return path


def test_decode_never_mutates_the_frozen_label_table(tiny_video):
    from vla_builder.sinks.lerobot import provenance_record
    from vla_builder.stages.probe import ProbeStage

    spec = SourceSpec(video=tiny_video)
    clip = ProbeStage().process(Clip("tiny", spec))
    dropped = {"NaN box": 2}
    labels = LabelTable(*(getattr(_table([(0, 1, "cup", .1, .1, .3, .3), (30, 1, "cup", .1, .1, .3, .3)]), f)
                          for f in ("frame", "track_id", "class_name", "boxes_xyxy", "score")), dropped=dropped)
    # as LabelsStage hands it on: the import's counts, a typed fact
    clip = clip.with_(labels=labels, label_rows=LabelRowCounts.of(labels))
    out = DecodeStage(fps=12, image_size=(48, 64)).process(clip)
    assert out.label_rows.dropped() == {"NaN box": 2, "label row past the video's end": 1}
    assert clip.label_rows.past_end is None  # the input clip's fact is a value of its own, untouched
    assert labels.dropped == {"NaN box": 2}  # the label table's own counts are untouched
    assert provenance_record(out)["label_rows_dropped"] == out.label_rows.dropped()  # the sink writes them
    assert len(out.frames) == 12 and out.frames.size_px == (64, 48)


# -- tracks -------------------------------------------------------------------------------------------------------
def test_gaps_are_filled_only_up_to_max_gap_and_marked_unlabeled():
    rows = [(0, 7, "cup", 0.0, 0.0, 0.2, 0.2), (4, 7, "cup", 0.4, 0.0, 0.6, 0.2),  # 4-frame gap: filled
            (14, 7, "cup", 0.4, 0.0, 0.6, 0.2)]  # 10-frame gap: left empty
    tracks = labels_to_grid(_table(rows), np.arange(15), max_gap_frames=5)
    assert tracks.ids.tolist() == [7] and tracks.class_names == ("cup",)
    np.testing.assert_allclose(tracks.boxes_xyxy[2, 0], [0.2, 0.0, 0.4, 0.2])  # halfway, linear
    assert tracks.labeled[:, 0].tolist() == [t in (0, 4, 14) for t in range(15)]
    assert np.all(np.isnan(tracks.boxes_xyxy[5:14, 0]))


def test_majority_class_names_a_track():
    rows = [(t, 1, "cup" if t != 2 else "mug", 0.1, 0.1, 0.2, 0.2) for t in range(5)]
    assert labels_to_grid(_table(rows), np.arange(5), 0).class_names == ("cup",)


def test_coverage_tells_dense_from_sparse():
    dense = labels_to_grid(_table([(t, 1, "cup", .1, .1, .2, .2) for t in range(20)]), np.arange(20), 0)
    sparse = labels_to_grid(_table([(t, 1, "cup", .1, .1, .2, .2) for t in range(0, 20, 5)]), np.arange(20), 0)
    assert grid_coverage(dense) == 1.0
    assert grid_coverage(sparse) == pytest.approx(4 / 16)


def _clip_with(rows, t_count=21) -> Clip:
    frames = Frames(rgb=np.zeros((t_count, 8, 8, 3), np.uint8), fps=10, source_index=np.arange(t_count),
                    source_time_s=np.arange(t_count) / 10, start_s=0.0, backend="test", source_size_px=(8, 8))
    return Clip("c", SourceSpec(video=Path("x.mp4")), labels=_table(rows), frames=frames)


def test_sparse_keyframes_are_interpolated_and_labels_win():
    # a box labeled every 10th sample, moving right at a constant speed; flow off: linear between keyframes
    rows = [(t, 3, "cup", 0.01 * t, 0.1, 0.01 * t + 0.2, 0.3) for t in (0, 10, 20)]
    out = DetectTrackStage.of(flow=False).process(_clip_with(rows))
    assert out.provenance["tracks_mode"].startswith("sparse")
    boxes = out.tracks.boxes_xyxy[:, 0]
    np.testing.assert_allclose(boxes[:, 0], 0.01 * np.arange(21), atol=1e-12)
    assert out.tracks.labeled[:, 0].sum() == 3 and out.tracks.ids.tolist() == [3]
    dense = DetectTrackStage.of().process(_clip_with([(t, 3, "cup", .1, .1, .2, .2) for t in range(21)]))
    assert dense.provenance["tracks_mode"].startswith("dense")


def test_recipe_sections_reach_the_stage():
    stage = DetectTrackStage.of(weights="w.pt", imgsz=320, conf_min=0.4, mode="sparse", max_gap_s=1.5)
    assert stage.tracks == TracksConfig(mode="sparse", max_gap_s=1.5)
    assert stage.detector_config == DetectorConfig(weights="w.pt", imgsz=320, conf_min=0.4)
    with pytest.raises(ValueError, match="without weights"):
        DetectTrackStage.of(imgsz=320)
    with pytest.raises(ValueError, match="mode"):
        TracksConfig(mode="guess")
