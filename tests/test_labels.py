"""Label import: MOT, COCO (image- and video-style), YOLO; cleaning; association of id-less boxes."""

import json
from pathlib import Path

import numpy as np
import pytest

from vla_builder.sources.labels import LabelError, read_labels
from vla_builder.tracking.association import associate
from vla_builder.tracking.grid import labels_to_grid
from vla_builder.types import SourceSpec, VideoInfo

INFO = VideoInfo(Path("v.mp4"), 640, 480, 30.0, 100, "h264", "yuv420p", 0)


def spec(labels: Path, fmt="auto", **kw) -> SourceSpec:
    return SourceSpec(video=Path("v.mp4"), labels=labels, labels_format=fmt, **kw)


def test_mot17_ground_truth(real_data):
    seq = real_data / "MOT17-mini" / "MOT17-05-FRCNN"
    table = read_labels(spec(seq / "gt" / "gt.txt"), INFO)
    raw = np.loadtxt(seq / "gt" / "gt.txt", delimiter=",")
    assert len(table) == int((raw[:, 6] == 1).sum())  # conf-0 rows are ignore regions
    assert table.dropped["ignore region (conf 0)"] == int((raw[:, 6] == 0).sum())
    assert table.frame.min() == 0  # 1-based file -> 0-based frames
    assert set(table.class_name) <= {"pedestrian", "person on vehicle", "static person"}
    first = raw[(raw[:, 0] == 1) & (raw[:, 6] == 1)][0]
    row = np.nonzero((table.frame == 0) & (table.track_id == int(first[1])))[0][0]
    x, y, w, h = first[2:6]
    expected = np.clip([x / 640, y / 480, (x + w) / 640, (y + h) / 480], 0, 1)
    np.testing.assert_allclose(table.boxes_xyxy[row], expected)


def test_dirty_mot_rows_are_dropped_with_reasons(tmp_path):
    gt = tmp_path / "gt.txt"
    gt.write_text("\n".join([
        "1,1,10,10,20,20,1,1,1",  # fine
        "1,1,50,50,20,20,1,1,1",  # duplicate id 1 in frame 1
        "1,2,nan,10,20,20,1,1,1",  # NaN
        "1,3,10,10,-5,20,1,1,1",  # negative width
        "1,4,900,900,20,20,1,1,1",  # entirely outside a 640x480 frame
        "1,5,630,470,40,40,1,1,1",  # partly outside: clipped, kept
        "1,6,10,10,20,20,1,42,1",  # unknown class id
        "1,7,10,10,20,20,0,1,1",  # ignore region
        "garbage line",
    ]))
    table = read_labels(spec(gt, classes={1: "hand"}), INFO)
    assert sorted(table.track_id.tolist()) == [1, 5]
    assert table.dropped == {
        "unparseable line": 1, "ignore region (conf 0)": 1, "box with NaN or infinite coordinates": 1,
        "box with zero or negative size": 1, "box entirely outside the frame": 1, "unknown class id": 1,
        "duplicate track id in one frame": 1,
    }
    assert table.boxes_xyxy.max() <= 1.0


def test_empty_or_wrong_format_label_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "gt.txt"
    empty.write_text("")
    with pytest.raises(LabelError, match="empty file"):
        read_labels(spec(empty), INFO)
    wrong = tmp_path / "labels.txt"
    wrong.write_text("<html>not labels</html>\n" * 5)
    with pytest.raises(LabelError, match="no MOT rows"):
        read_labels(spec(wrong), INFO)
    bad_json = tmp_path / "l.json"
    bad_json.write_text("{\"images\": 3}")
    with pytest.raises(LabelError, match="not COCO"):
        read_labels(spec(bad_json), INFO)


def test_coco_image_style_with_categories(tmp_path):
    doc = {
        "images": [{"id": 10 + i, "file_name": f"frame_{i + 1:04d}.jpg", "width": 640, "height": 480} for i in range(3)],
        "annotations": [{"image_id": 10 + i, "bbox": [64 * i, 48, 64, 96], "category_id": 7} for i in range(3)],
        "categories": [{"id": 7, "name": "mug"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc))
    table = read_labels(spec(path), INFO)
    assert table.format == "coco" and list(table.class_name) == ["mug"] * 3
    assert table.frame.tolist() == [0, 1, 2]  # numbered from the smallest file number
    assert not table.has_ids
    np.testing.assert_allclose(table.boxes_xyxy[1], [0.1, 0.1, 0.2, 0.3])


def test_coco_video_style_picks_the_matching_video(tmp_path):
    doc = {
        "videos": [{"id": 1, "name": "other.mp4"}, {"id": 2, "name": "v.mp4"}],
        "images": [{"id": i, "video_id": 1 + i % 2, "frame_id": i // 2, "width": 640, "height": 480} for i in range(6)],
        "annotations": [{"image_id": i, "bbox": [10, 10, 30, 30], "category_id": 1, "track_id": 5} for i in range(6)],
        "categories": [{"id": 1, "name": "cup"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc))
    table = read_labels(spec(path), INFO)
    assert table.frame.tolist() == [0, 1, 2] and table.track_id.tolist() == [5, 5, 5]


def test_yolo_folder_with_class_names(tmp_path):
    folder = tmp_path / "labels"
    folder.mkdir()
    (folder / "classes.txt").write_text("hand\ncup\n")
    for i in range(3):
        (folder / f"frame_{i:05d}.txt").write_text(f"1 {0.2 + 0.1 * i} 0.5 0.1 0.2\n0 0.8 0.5 0.1 0.1\n")
    table = read_labels(spec(folder), INFO)
    assert table.format == "yolo" and len(table) == 6
    cup = table.class_name == "cup"
    np.testing.assert_allclose(table.boxes_xyxy[cup][:, 0], [0.15, 0.25, 0.35])


def test_boxes_without_ids_become_tracks():
    # two objects crossing paths slowly plus one appearing later: Hungarian on IoU keeps identities
    from vla_builder.types import LabelTable

    rows = []
    for f in range(10):
        rows.append((f, "cup", [0.1 + 0.01 * f, 0.1, 0.2 + 0.01 * f, 0.2]))
        rows.append((f, "cup", [0.5 - 0.01 * f, 0.5, 0.6 - 0.01 * f, 0.6]))
        if f >= 5:
            rows.append((f, "box", [0.7, 0.7, 0.8, 0.8]))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(rows))  # row order inside a frame must not matter
    rows = [rows[i] for i in order]
    table = LabelTable(np.array([r[0] for r in rows]), np.full(len(rows), -1), np.array([r[1] for r in rows], object),
                       np.array([r[2] for r in rows], float), np.ones(len(rows)))
    tracked = associate(table)
    ids_by_start = {}
    for f, tid, box in zip(tracked.frame, tracked.track_id, tracked.boxes_xyxy, strict=True):
        key = "a" if box[1] == 0.1 else ("b" if box[1] == 0.5 else "c")
        ids_by_start.setdefault(key, set()).add(int(tid))
    assert all(len(v) == 1 for v in ids_by_start.values()), ids_by_start
    assert len({next(iter(v)) for v in ids_by_start.values()}) == 3


def test_sparse_labels_are_interpolated_on_the_grid():
    from vla_builder.types import LabelTable

    frames = np.array([0, 10, 20])
    boxes = np.array([[0.0, 0, 0.1, 0.1], [0.5, 0, 0.6, 0.1], [0.5, 0.5, 0.6, 0.6]])
    table = LabelTable(frames, np.ones(3, int), np.array(["cup"] * 3, object), boxes, np.ones(3))
    tracks = labels_to_grid(table, np.arange(0, 21, 2), max_gap_frames=15)
    assert tracks.labeled[:, 0].tolist() == [True, False, False, False, False, True, False, False, False, False, True]
    np.testing.assert_allclose(tracks.boxes_xyxy[1, 0], [0.1, 0, 0.2, 0.1])
    far = labels_to_grid(table, np.arange(0, 21, 2), max_gap_frames=5)
    assert np.isnan(far.boxes_xyxy[1, 0, 0])  # gaps longer than the limit stay absent
