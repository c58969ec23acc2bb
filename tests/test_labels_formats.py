"""Every label format on a real public sample (tests/assets/labels/, sources in its README): auto-detected,
frames on their true frame numbers, and broken variants that lose nothing but the broken rows, each counted."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from vla_builder.sources.labels import LabelError, detect_format, read_labels
from vla_builder.types import SourceSpec, VideoInfo

ASSETS = Path(__file__).parent / "assets" / "labels"


def info(w: int, h: int, fps: float = 30.0) -> VideoInfo:
    return VideoInfo(Path("v.mp4"), w, h, fps, 1000, "h264", "yuv420p", 0)


def spec(labels: Path, name: str = "v", **kw) -> SourceSpec:
    return SourceSpec(video=Path(f"{name}.mp4"), labels=labels, **kw)


def rows(table, frame):
    return np.nonzero(table.frame == frame)[0]


def test_cvat_video_tracks_outside_keyframes_attributes():
    path = ASSETS / "cvat_video" / "annotations.xml"
    assert detect_format(path) == "cvat_video"
    t = read_labels(spec(path), info(25, 20))
    # CVAT's frame numbers are the source's (start_frame 10, step 3), not 0, 1, 2
    assert sorted(set(t.frame.tolist())) == [10, 13]
    assert t.dropped["shape marked outside (object left the frame)"] == 4  # `outside="1"` ends a track
    box = t.boxes_xyxy[(t.frame == 10) & (t.track_id == 0)][0]
    np.testing.assert_allclose(box, [3 / 25, 4 / 20, 10 / 25, 5 / 20])
    attrs = t.extras["attributes"][(t.frame == 10) & (t.track_id == 1)][0]
    assert attrs["hgl"] == "hgkf" and attrs["keyframe"] is True
    assert set(t.class_name) == {"II", "klhg"}


def test_cvat_images_boxes_and_attributes():
    path = ASSETS / "cvat_images" / "train.xml"
    assert detect_format(path) == "cvat_images"
    t = read_labels(spec(path), info(8, 8))
    assert sorted(set(t.frame.tolist())) == [0, 1]  # img0.jpg, img1.jpg
    assert t.dropped == {"shape without a label name": 2}
    i = np.nonzero(t.class_name == "label1")[0][0]
    np.testing.assert_allclose(t.boxes_xyxy[i], [0, 2 / 8, 4 / 8, 4 / 8])
    assert t.extras["attributes"][i]["a2"] == "v3"


def test_tao_frames_are_true_frame_indices_not_frame_id():
    path = ASSETS / "tao" / "ann.json"
    t = read_labels(spec(path, "v_f69ebe5b731d3e87c1a3992ee39c3b7e"), info(640, 480))
    assert sorted(set(t.frame.tolist())) == [390, 420]  # frame_id 0 / 1 would be the bug
    assert t.dropped == {"unknown class id": 2}  # category 95 is not among the sample's categories
    assert set(t.track_id.tolist()) == {1}


@pytest.mark.parametrize("name", ["mmtracking_coco_video.json", "native.json"])
def test_youtube_vis_every_fifth_frame_lands_on_its_frame(name):
    path = ASSETS / "youtube_vis" / name
    assert detect_format(path) == ("coco" if "coco" in name else "youtube_vis")
    t = read_labels(spec(path, "0043f083b5"), info(1280, 720))
    assert sorted(set(t.frame.tolist())) == list(range(10, 100, 5))  # not 2..19 compressed 5x
    assert len(t) == 30 and set(t.track_id.tolist()) == {1, 2} and set(t.class_name) == {"sedan"}
    first = t.boxes_xyxy[(t.frame == 40) & (t.track_id == 2)][0]
    np.testing.assert_allclose(first, [1153 / 1280, 372 / 720, (1153 + 21) / 1280, (372 + 54) / 720])


def test_labelme_polygons_become_boxes_on_their_frame():
    folder = ASSETS / "labelme"
    assert detect_format(folder) == "labelme"
    t = read_labels(spec(folder), info(1000, 563))
    assert t.frame.tolist() == [100, 100, 100]  # 00000100.json
    car = t.boxes_xyxy[t.class_name == "car"][0]
    np.testing.assert_allclose(car, [905 / 1000, 306 / 563, 1.0, 432 / 563])


def test_voc_folder():
    folder = ASSETS / "voc"
    assert detect_format(folder) == "voc"
    t = read_labels(spec(folder), info(353, 500))
    assert t.frame.tolist() == [1, 1] and list(t.class_name) == ["dog", "person"]
    np.testing.assert_allclose(t.boxes_xyxy[0], [47 / 353, 239 / 500, 195 / 353, 371 / 500])  # 1-based pixels
    assert t.extras["attributes"][0]["truncated"] == "1"


def test_ava_people_at_timestamps_with_actions():
    path = ASSETS / "ava" / "ava_default_v2.2.csv"
    assert detect_format(path) == "ava"
    t = read_labels(spec(path, "video1"), info(8, 8, fps=30.0))
    assert sorted(set(t.frame.tolist())) == [0, 30]  # timestamps 0 and 1 s at 30 fps
    assert sorted(t.track_id[t.frame == 0].tolist()) == [0, 1, 2]  # person ids
    assert t.extras["attributes"][(t.frame == 0) & (t.track_id == 2)][0]["action_ids"] == [4]
    with pytest.raises(LabelError, match="none named 'video9'"):
        read_labels(spec(path, "video9"), info(8, 8))


def test_coco_keypoints_kept():
    path = ASSETS / "coco_keypoints" / "person_keypoints_train.json"
    t = read_labels(spec(path), info(5, 5))
    assert t.dropped == {"unknown class id": 2}  # category 0 is not declared
    kp = t.extras["keypoints"]
    assert kp.shape == (2, 3, 3)
    np.testing.assert_allclose(kp[0, 0], [1 / 5, 2 / 5, 2])


def test_coco_keypoints_without_bbox_are_boxed_by_visible_points(tmp_path):
    doc = json.loads((ASSETS / "coco_keypoints" / "person_keypoints_train.json").read_text())
    doc["annotations"][0]["bbox"] = []
    path = tmp_path / "kp.json"
    path.write_text(json.dumps(doc))
    t = read_labels(spec(path), info(5, 5))
    np.testing.assert_allclose(t.boxes_xyxy[0], [0, 1 / 5, 4 / 5, 2 / 5])  # points (1,2) (0,2) (4,1)


def test_epic_csv_is_segments_not_mot():
    path = ASSETS / "epic" / "EPIC_100_uda_source_val_head.csv"
    assert detect_format(path) == "epic"  # was taken for MOT ("no MOT rows ...")
    assert len(read_labels(spec(path, "P03_02"), info(456, 256, 60))) == 0


def test_unknown_and_ambiguous_files_name_the_candidates(tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text(json.dumps({"frames": []}))
    with pytest.raises(LabelError, match="set labels_format: one of .*cvat_video"):
        read_labels(spec(odd), info(10, 10))
    both = tmp_path / "both"
    both.mkdir()
    shutil.copy(ASSETS / "labelme" / "00000100.json", both)
    shutil.copy(ASSETS / "voc" / "000001.xml", both)
    with pytest.raises(LabelError, match="ambiguous label format .*labelme or voc.*labels_format"):
        read_labels(spec(both), info(10, 10))
    t = read_labels(spec(both, labels_format="voc"), info(353, 500))  # the recipe decides
    assert t.format == "voc"


# --- broken variants: each bad row dropped and counted, the good ones kept ---------------------------------------

def test_broken_cvat_video(tmp_path):
    text = (ASSETS / "cvat_video" / "annotations.xml").read_text()
    text = text.replace('xtl="3.00"', 'xtl="three"')  # wrong type
    text = text.replace('points="7.85,13.88;3.50,6.67;15.90,2.00;13.31,7.21"',  # the first: frame 13, inside
                        'points="107.85,113.88;103.50,106.67;115.90,102.00;113.31,107.21"', 1)
    path = tmp_path / "a.xml"
    path.write_text(text)
    t = read_labels(spec(path, classes={0: "klhg", 1: "II"}), info(25, 20))
    assert t.dropped["box without numeric frame/coordinates"] == 1
    assert "box entirely outside the frame" in t.dropped
    assert t.frame.tolist() == [10] and list(t.class_name) == ["klhg"]  # the one intact shape is kept
    t2 = read_labels(spec(path, classes={0: "klhg"}), info(25, 20))  # "II" is not a recipe class
    assert t2.dropped["unknown class id"] >= 1 and set(t2.class_name) == {"klhg"}


def test_broken_youtube_vis(tmp_path):
    doc = json.loads((ASSETS / "youtube_vis" / "native.json").read_text())
    doc["annotations"][0]["bboxes"][5] = ["a", 1, 2, 3]  # wrong type
    doc["annotations"][0]["bboxes"][6] = [5000, 5000, 10, 10]  # outside the frame
    doc["annotations"][1]["bboxes"] = doc["annotations"][1]["bboxes"][:-1]  # wrong length
    path = tmp_path / "vis.json"
    path.write_text(json.dumps(doc))
    t = read_labels(spec(path, "0043f083b5"), info(1280, 720))
    assert t.dropped == {"box with non-numeric values": 1, "box entirely outside the frame": 1,
                         "annotation whose 'bboxes' length differs from the video's file_names": 1}
    assert len(t) == 18 - 2
    del doc["videos"]
    path.write_text(json.dumps(doc))
    with pytest.raises(LabelError, match="vis.json: .*"):
        read_labels(spec(path, "0043f083b5", labels_format="youtube_vis"), info(1280, 720))


def test_broken_labelme_and_voc_folders(tmp_path):
    lm = tmp_path / "lm"
    lm.mkdir()
    doc = json.loads((ASSETS / "labelme" / "00000100.json").read_text())
    doc["shapes"][0].pop("label")  # missing field
    doc["shapes"][1]["points"] = "oops"  # wrong type
    (lm / "00000100.json").write_text(json.dumps(doc))
    (lm / "00000101.json").write_text("{not json")  # unreadable file: counted, the rest kept
    t = read_labels(spec(lm), info(1000, 563))
    assert t.dropped == {"shape without a label": 1, "shape without numeric points": 1, "unreadable LabelMe file": 1}
    assert list(t.class_name) == ["car"]
    voc = tmp_path / "voc"
    voc.mkdir()
    text = (ASSETS / "voc" / "000001.xml").read_text().replace("<xmin>48</xmin>", "<xmin>forty</xmin>")
    (voc / "000001.xml").write_text(text)
    t = read_labels(spec(voc), info(353, 500))
    assert t.dropped == {"object without a numeric bndbox": 1} and list(t.class_name) == ["person"]


def test_broken_ava_and_something_else(tmp_path, real_data):
    path = tmp_path / "ava.csv"
    lines = (ASSETS / "ava" / "ava_default_v2.2.csv").read_text().splitlines()
    lines[4] = "video1,000000,zero,0,2,2,2,0"
    lines.append("video1,000002,0.1")
    path.write_text("\n".join(lines) + "\n")
    t = read_labels(spec(path, "video1"), info(8, 8))
    assert t.dropped == {"row with non-numeric fields": 1, "row with fewer than 7 fields": 1}
    se = json.loads((real_data / "something_else_dev" / "annotations.json").read_text())
    clip = se["2003"]
    clip[0]["labels"][0]["box2d"] = {"x1": 1}  # missing fields
    clip[1]["labels"][0]["box2d"]["x1"] = "left"  # wrong type
    clip[2]["labels"][0]["box2d"] = {"x1": 900, "y1": 900, "x2": 950, "y2": 950}  # outside the 427x240 frame
    path = tmp_path / "se.json"
    path.write_text(json.dumps({"2003": clip}))
    t = read_labels(SourceSpec(frames=real_data / "something_else_dev" / "frames" / "2003", frames_fps=12,
                               labels=path), info(427, 240))
    assert t.dropped == {"label without box2d {x1, y1, x2, y2}": 1, "label with non-numeric box2d": 1,
                         "box entirely outside the frame": 1}
    assert len(t) == sum(len(r["labels"]) for r in clip) - 3
    with pytest.raises(LabelError, match="no clip '151201'"):
        read_labels(SourceSpec(frames=real_data / "something_else_dev" / "frames" / "151201", frames_fps=12,
                               labels=path), info(427, 240))


def test_something_else_clips_read_from_their_own_annotations(real_data):
    root = real_data / "something_else_dev"
    doc = json.loads((root / "annotations.json").read_text())
    for clip_id, records in doc.items():
        s = SourceSpec(frames=root / "frames" / clip_id, frames_fps=12, labels=root / "annotations.json")
        assert detect_format(s.labels) == "something_else"
        t = read_labels(s, info(427, 240))
        assert len(t) == sum(len(r["labels"]) for r in records), clip_id
        # a record labels the frame its name says ("<id>/0005.jpg" -> the folder's 5th image)
        assert t.frame.max() == max(int(Path(r["name"]).stem) for r in records) - 1
        assert "hand" in set(t.class_name) or clip_id == "3201"


def test_epic_sample_expands_into_one_episode_per_narration():
    from vla_builder.sources.labels.segments import expand_episodes

    path = ASSETS / "epic" / "EPIC_100_uda_source_val_head.csv"
    warnings: list[str] = []
    episodes = expand_episodes(SourceSpec(video=Path("P03_02.MP4"), labels=path, segment_padding_s=0.25), warnings)
    # 17 narrations, two of them the same "pick up lunch box" over the same moment (6.36-7.18 s and 6.49-7.18 s):
    # one action labeled twice is one episode, said in a warning
    assert len(episodes) == 16
    assert warnings == ["EPIC_100_uda_source_val_head.csv: 1 repeat(s) of an identical consecutive text merged: "
                        "16 distinct segment(s)"]
    first = episodes[0]
    assert first.caption == "put lunch box" and first.caption_origin.endswith("#P03_02_0.narration")
    assert first.start_s == pytest.approx(3.29 - 0.25) and first.end_s == pytest.approx(4.26 + 0.25)
    assert episodes[2].caption == "pick up lunch box" and episodes[2].end_s == pytest.approx(7.18 + 0.25)
    assert episodes[14].caption == "put rubbish in the bin"


def test_mapping_csv_with_pixel_xywh_boxes_and_track_ids(tmp_path):
    mapping = {"video": "vid", "time_s": "t", "class": "obj", "track_id": "id", "attributes": ["colour"]}
    doc = [{"vid": "v", "t": 0.5, "obj": "cup", "id": 3, "box": [10, 20, 30, 40], "colour": "red"},
           {"vid": "v", "t": 1.0, "obj": "cup", "id": 3, "box": [12, 20, 30, 40], "colour": "red"},
           {"vid": "other", "t": 1.0, "obj": "cup", "id": 3, "box": [12, 20, 30, 40]},
           {"vid": "v", "t": 1.5, "obj": "cup", "id": 3, "box": ["oops", 20, 30, 40]}]
    jpath = tmp_path / "boxes.json"
    jpath.write_text(json.dumps(doc))
    t = read_labels(spec(jpath, mapping={**mapping, "box": "box", "box_format": "xywh"}), info(100, 100, fps=10))
    assert t.frame.tolist() == [5, 10] and set(t.track_id.tolist()) == {3}
    np.testing.assert_allclose(t.boxes_xyxy[0], [0.1, 0.2, 0.4, 0.6])
    assert t.dropped == {"record without a usable box (could not convert string to float: 'oops')": 1}
    assert t.extras["attributes"][0] == {"colour": "red"}
    # the same from a CSV, the box as "x y w h" in one column
    path = tmp_path / "boxes.csv"
    path.write_text("vid,t,obj,id,box\nv,0.5,cup,3,10 20 30 40\n")
    t = read_labels(spec(path, mapping={**mapping, "box": "box", "box_format": "xywh", "attributes": []}),
                    info(100, 100, fps=10))
    assert t.frame.tolist() == [5]


SAMPLES = [("cvat_video/annotations.xml", 25, 20), ("cvat_images/train.xml", 10, 10), ("tao/ann.json", 640, 480),
           ("youtube_vis/native.json", 1280, 720), ("youtube_vis/mmtracking_coco_video.json", 1280, 720),
           ("ava/ava_default_v2.2.csv", 8, 8), ("coco_keypoints/person_keypoints_train.json", 5, 5),
           ("epic/EPIC_100_uda_source_val_head.csv", 456, 256)]


@pytest.mark.parametrize("sample, w, h", SAMPLES)
def test_mutated_samples_give_a_table_or_a_clear_error(tmp_path, sample, w, h):
    """Random byte-level damage (cuts, swapped characters, replaced numbers): a table, or a LabelError naming the
    file — never another exception."""
    rng = np.random.default_rng(11)
    text = (ASSETS / sample).read_text()
    for i in range(25):
        chars = list(text)
        for _ in range(int(rng.integers(1, 6))):
            j = int(rng.integers(0, len(chars)))
            chars[j] = str(rng.choice(list('x0-9.,"[]{}<> :')))
        damaged = "".join(chars)
        if rng.random() < 0.3:
            damaged = damaged[: int(rng.integers(0, len(damaged)))]
        path = tmp_path / f"{i}{Path(sample).suffix}"
        path.write_text(damaged)
        try:
            table = read_labels(spec(path, "0043f083b5" if "vis" in sample else "video1"), info(w, h))
        except LabelError as e:
            assert str(path) in str(e)
        else:
            assert np.isfinite(table.boxes_xyxy).all() and (table.boxes_xyxy >= 0).all()


def test_recipe_accepts_exactly_the_formats_the_readers_know():
    import typing

    from vla_builder.recipe import SourceConfig
    from vla_builder.sources.labels import LABEL_FORMATS

    allowed = set(typing.get_args(SourceConfig.model_fields["labels_format"].annotation))
    assert allowed == {*LABEL_FORMATS, "auto", "none"}
