"""Real label layouts read with no code: AI Hub-style frame-keyed JSON, XML, per-frame folders, keypoints,
dense captions (ActivityNet, YouCook2), Charades, VIA — and wrong input said before any frame is decoded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vla_builder.sources.labels import LabelError, detect_format, read_labels
from vla_builder.sources.labels.segments import expand_episodes
from vla_builder.types import SourceSpec, VideoInfo

ASSETS = Path(__file__).parent / "assets" / "labels"

# the recipe mappings of README's label section, one per real layout (kept here so a test reads each)
MULTIMODAL = {"records": "data.*.*", "frame": "$key0", "track_id": "$key1", "box": "bbox", "class": "클래스",
              "attributes": ["emotion"], "segment_start": "$key0", "segment_unit": "frame", "text": "dialogue",
              "actor": "$key1"}
CCTV = {"records": "object.*.action.*.frame.*", "segment_start": "start", "segment_end": "end",
        "segment_unit": "frame", "text": "$node1.actionname", "actor": "$node0.objectname"}
SIGN = {"records": "data", "video": "$doc.metaData.name", "segment_start": "start", "segment_end": "end", "text": "attributes[0].name"}
FITNESS = {"records": "frames.*", "frame": "$key0", "box": "view1.pts", "box_format": "points"}
SAFETY = {"records": '["Learning Data Info."].annotation', "video": '$doc["Raw Data Info."].raw_data_ID',
          "time_s": '$doc["Source Data Info."].frame', "box": "box", "box_format": "xywh", "class": "class_id",
          "frame_size": '$doc["Raw Data Info."].resolution'}
PER_FRAME = {"records": "objects", "box": "points", "box_format": "points", "class": "label"}


def info(w=160, h=120, fps=4.0, n=1000):
    return VideoInfo(Path("v.mp4"), w, h, fps, n, "h264", "yuv420p", 0, duration_s=n / fps)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A 250 s, 4 fps, 160x120 video (probe only here; the build test decodes it)."""
    from vla_builder.synthetic import make_scene

    out = tmp_path_factory.mktemp("layouts_video")
    make_scene(out, "pick_place", n_frames=1000, fps=4, size_px=(120, 160), seed=3)
    return out / "scene.mp4"


def named(video: Path, name: str) -> Path:
    link = video.parent / f"{name}.mp4"
    if not link.exists():
        link.symlink_to(video)
    return link


def test_frame_keyed_json_boxes_with_captured_keys_and_one_based_frames():
    spec = SourceSpec(video=Path("clip.mp4"), labels=ASSETS / "aihub_multimodal_video" / "clip_0001.json",
                      mapping=MULTIMODAL, frame_base=1)
    t = read_labels(spec, info())
    assert len(t) == 24 and sorted(set(t.frame.tolist())) == list(range(12))
    assert set(t.track_id.tolist()) == {1, 2} and set(t.class_name.tolist()) == {"사람"}
    first = np.flatnonzero((t.frame == 0) & (t.track_id == 1))[0]
    np.testing.assert_allclose(t.boxes_xyxy[first], [21 / 160, 30 / 120, 61 / 160, 110 / 120])
    assert t.extras["attributes"][first] == {"emotion": "중립"}


def test_one_based_frames_without_frame_base_are_refused_with_the_fix():
    spec = SourceSpec(video=Path("clip.mp4"), labels=ASSETS / "aihub_multimodal_video" / "clip_0001.json",
                      mapping=MULTIMODAL)
    with pytest.raises(LabelError, match=r"run 1\.\.12 on a video of 12 frames.*frame_base: 1"):
        read_labels(spec, info(n=12))


def test_repeated_dialogue_is_one_episode_per_line_with_its_speaker_as_actor(video):
    warnings: list[str] = []
    spec = SourceSpec(video=named(video, "aihub_multimodal"), labels=ASSETS / "aihub_multimodal_video" /
                      "clip_0001.json", mapping=MULTIMODAL, frame_base=1)
    episodes = expand_episodes(spec, warnings)
    assert [(e.caption, e.segment_actor) for e in episodes] == [("이 컵 좀 들어 줄래?", "1"), ("응, 지금 옮길게.", "2")]
    assert episodes[0].start_s == 0.0 and episodes[0].end_s == pytest.approx(6 / 4)
    assert episodes[1].start_s == pytest.approx(6 / 4) and episodes[1].end_s == pytest.approx(12 / 4)
    assert warnings == ["clip_0001.json: 10 repeat(s) of an identical consecutive text merged: 2 distinct segment(s)"]


def test_xml_element_paths_with_parent_fields(video):
    spec = SourceSpec(video=video, labels=ASSETS / "aihub_abnormal_cctv" / "clip_falldown.xml", mapping=CCTV)
    eps = expand_episodes(spec)
    assert [(e.caption, e.start_s, e.end_s, e.segment_actor) for e in eps] == [
        ("falldown", 10.0, 15.0, "person_1"), ("standup", 20.0, 24.0, "person_1"), ("standup", 30.0, 33.0, "person_1")]
    assert eps[0].caption_origin == "clip_falldown.xml#object.0.action.0.frame.0.$node1.actionname"


def test_korean_sign_language_segments_of_the_video_the_file_names(video):
    path = ASSETS / "aihub_sign_language" / "NIA_SL_SEN0005_SYN05_D_morpheme.json"
    eps = expand_episodes(SourceSpec(video=named(video, "NIA_SL_SEN0005_SYN05_D"), labels=path, mapping=SIGN))
    assert [(e.caption, e.start_s, e.end_s) for e in eps] == [("여기", 1.167, 1.856), ("오다", 1.9, 2.45)]
    with pytest.raises(LabelError, match=r"no records of video 'scene' \(\$doc\.metaData\.name names "
                                         r"NIA_SL_SEN0005_SYN05_D\.mp4\): labels of another video\?"):
        expand_episodes(SourceSpec(video=video, labels=path, mapping=SIGN))
    # without `video:` the file's own video name is still said (a warning: the video may have been renamed)
    warnings: list[str] = []
    no_check = {k: v for k, v in SIGN.items() if k != "video"}
    assert len(expand_episodes(SourceSpec(video=video, labels=path, mapping=no_check), warnings)) == 2
    assert warnings == ["NIA_SL_SEN0005_SYN05_D_morpheme.json names the video NIA_SL_SEN0005_SYN05_D, not scene.mp4: "
                        "labels of another video? (mapping.video: '$doc.<field>' refuses them)"]


def test_keypoints_become_the_box_around_them():
    t = read_labels(SourceSpec(video=Path("c.mp4"), labels=ASSETS / "aihub_fitness" / "D01-1-033.json",
                               mapping=FITNESS), info())
    assert t.frame.tolist() == list(range(16))
    np.testing.assert_allclose(t.boxes_xyxy[0] * [160, 120, 160, 120], [60, 20, 68, 100])


def test_one_json_file_per_frame_polygons():
    t = read_labels(SourceSpec(video=Path("c.mp4"), labels=ASSETS / "per_frame_json", mapping=PER_FRAME), info())
    assert sorted(set(t.frame.tolist())) == list(range(8)) and set(t.class_name.tolist()) == {"hand", "cup"}
    hand = np.flatnonzero((t.frame == 3) & (t.class_name == "hand"))[0]
    np.testing.assert_allclose(t.boxes_xyxy[hand] * [160, 120, 160, 120], [36, 40, 56, 70])


def test_one_file_per_frame_with_dotted_keys_document_fields_and_video_ids(video):
    folder = ASSETS / "aihub_construction_safety"
    clip = named(video, "H-210825_A03_E_UA-04_101")
    t = read_labels(SourceSpec(video=clip, labels=folder, mapping=SAFETY), info())
    assert t.frame.tolist() == [0, 0, 2, 2, 4, 4] and set(t.class_name.tolist()) == {"WO-01", "WO-04"}
    assert t.dropped == {"record without a usable box (no 'box')": 3}  # the keypoint-only signaller
    np.testing.assert_allclose(t.boxes_xyxy[2] * [160, 120, 160, 120], [26, 20, 56, 100])
    with pytest.raises(LabelError, match=r"no records of video 'scene'.*H-210825_A03_E_UA-04_101.*another video"):
        read_labels(SourceSpec(video=video, labels=folder, mapping=SAFETY), info())


def test_boxes_in_the_wrong_units_are_refused_with_the_fix(tmp_path):
    import json

    path = tmp_path / "hd.json"  # pixel boxes of 1920x1080 frames, read on a 160x120 video
    path.write_text(json.dumps([{"f": i, "box": [900 + i, 500, 1200, 900]} for i in range(4)]))
    mapping = {"frame": "f", "box": "box"}
    with pytest.raises(LabelError, match=r"hd\.json: 4 of 4 boxes reach past the 160x120 frame.*mapping\.frame_size"):
        read_labels(SourceSpec(video=Path("c.mp4"), labels=path, mapping=mapping), info())
    path.write_text(json.dumps([{"f": 0, "box": [0.1, 0.2, 0.5, 0.9], "res": [1920, 1080]}]))
    with pytest.raises(LabelError, match=r"within 0\.\.1.*normalized: true"):
        read_labels(SourceSpec(video=Path("c.mp4"), labels=path, mapping=mapping), info())
    t = read_labels(SourceSpec(video=Path("c.mp4"), labels=path, mapping={**mapping, "normalized": True}), info())
    np.testing.assert_allclose(t.boxes_xyxy[0], [0.1, 0.2, 0.5, 0.9])
    # the file's own resolution: the table says which frame size its boxes are stated in (checked against the
    # probe at the labels stage)
    path.write_text(json.dumps([{"f": 0, "box": [192, 108, 960, 972], "res": [1920, 1080]}]))
    t = read_labels(SourceSpec(video=Path("c.mp4"), labels=path, mapping={**mapping, "frame_size": "res"}), info())
    assert t.frame_size_px == (1920.0, 1080.0)
    np.testing.assert_allclose(t.boxes_xyxy[0], [0.1, 0.1, 0.5, 0.9])


def test_dense_captions_are_detected_and_read_for_their_video(video):
    path = ASSETS / "activitynet" / "activitynet_captions.json"
    assert detect_format(path) == "activitynet"
    long_video = named(video, "v_bXdq2zI1Ms0")
    eps = expand_episodes(SourceSpec(video=long_video, labels=path))
    assert [e.caption for e in eps] == [
        "A man is seen speaking to the camera and pans out into more men standing behind him.",
        "The first man then begins performing martial arts moves while speaking to he camera.",
        "He continues moving around and looking to the camera."]
    assert (eps[1].start_s, eps[1].end_s) == (10.6, 39.84)
    yc = ASSETS / "youcook2" / "youcookii_annotations_head.json"
    assert detect_format(yc) == "youcook2"
    eps = expand_episodes(SourceSpec(video=named(video, "GLd3aX16zBg"), labels=yc))
    assert len(eps) == 5 and eps[4].caption == "cut the sandwich in half diagonally"
    assert (eps[0].start_s, eps[0].end_s) == (90, 102)


def test_captions_of_another_video_are_refused(video):
    with pytest.raises(LabelError, match=r"no records of video 'scene'.*v_uqiMw7tQ1Cc.*another video"):
        expand_episodes(SourceSpec(video=video, labels=ASSETS / "activitynet" / "activitynet_captions.json"))


def test_charades_actions_with_the_class_list_words(video):
    path = ASSETS / "charades" / "Charades_v1_train_head.csv"
    assert detect_format(path) == "charades"
    eps = expand_episodes(SourceSpec(video=named(video, "46GP8"), labels=path))
    assert [(e.caption, e.start_s, e.end_s) for e in eps] == [
        ("Someone is cooking something", 0.0, 12.6), ("Watching/Looking outside of a window", 11.9, 21.2)]


def test_via3_segments_and_regions(video):
    path = ASSETS / "via" / "via3_video_project.json"
    assert detect_format(path) == "via"
    clip = named(video, "via_clip")
    eps = expand_episodes(SourceSpec(video=clip, labels=path))
    assert [(e.caption, e.start_s, e.end_s) for e in eps] == [("pick up the cup", 1.0, 2.5),
                                                             ("put the cup down", 3.0, 4.5)]
    t = read_labels(SourceSpec(video=clip, labels=path), info())
    assert sorted(t.class_name.tolist()) == ["cup", "hand"] and set(t.frame.tolist()) == {6}
    hand = np.flatnonzero(t.class_name == "hand")[0]
    np.testing.assert_allclose(t.boxes_xyxy[hand] * [160, 120, 160, 120], [40, 30, 64, 66])


def test_times_in_frames_read_as_seconds_get_a_units_hint(video, tmp_path):
    import json

    path = tmp_path / "spans.json"
    path.write_text(json.dumps([{"s": 228, "e": 512, "text": "pick"}]))
    mapping = {"segment_start": "s", "segment_end": "e", "text": "text"}
    with pytest.raises(LabelError, match=r"spans\.json: .*past the video's end.*look like frame numbers.*"
                                         r"segment_unit: frame"):
        expand_episodes(SourceSpec(video=video, labels=path, mapping=mapping))
    eps = expand_episodes(SourceSpec(video=video, labels=path, mapping={**mapping, "segment_unit": "frame"}))
    assert (eps[0].start_s, eps[0].end_s) == (57.0, 128.25)


def test_a_mapping_that_finds_nothing_names_the_path_and_the_keys(tmp_path):
    import json

    path = tmp_path / "l.json"
    path.write_text(json.dumps({"data": {"1": {"7": {"box": [1, 2, 3, 4]}}}}))
    with pytest.raises(LabelError, match=r"'frames\.\*' finds nothing: the document has no 'frames' \(its keys: data\)"):
        read_labels(SourceSpec(video=Path("c.mp4"), labels=path, mapping={"records": "frames.*", "box": "bbox"}),
                    info())
    with pytest.raises(LabelError, match=r"box: l\.json#data\.1\.7: the record has no 'bbox' \(its keys: box\)"):
        read_labels(SourceSpec(video=Path("c.mp4"), labels=path,
                               mapping={"records": "data.*.*", "box": "bbox", "frame": "$key0"}), info())


@pytest.fixture(scope="module")
def layouts_build(video, tmp_path_factory):
    """One tiny build (1 fps, 48x64) over every layout above, each from its recipe mapping or auto-detected."""
    import json

    import yaml

    from vla_builder.build import build
    from vla_builder.recipe import load_recipe

    root = tmp_path_factory.mktemp("layouts_build")
    for name in ("H-210825_A03_E_UA-04_101", "aihub_multimodal", "aihub_cctv", "NIA_SL_SEN0005_SYN05_D", "aihub_fitness", "frames_json", "v_bXdq2zI1Ms0",
                 "GLd3aX16zBg", "46GP8", "via_clip"):
        (root / f"{name}.mp4").symlink_to(video)
    a = ASSETS
    sources = [
        {"video": "aihub_multimodal.mp4", "labels": f"{a}/aihub_multimodal_video/clip_0001.json",
         "mapping": MULTIMODAL, "frame_base": 1},
        {"video": "aihub_cctv.mp4", "labels": f"{a}/aihub_abnormal_cctv/clip_falldown.xml", "mapping": CCTV},
        {"video": "NIA_SL_SEN0005_SYN05_D.mp4", "labels": f"{a}/aihub_sign_language/NIA_SL_SEN0005_SYN05_D_morpheme.json",
         "mapping": SIGN, "segment_padding_s": 0.5},
        {"video": "aihub_fitness.mp4", "labels": f"{a}/aihub_fitness/D01-1-033.json", "mapping": FITNESS, "end_s": 4},
        {"video": "frames_json.mp4", "labels": f"{a}/per_frame_json", "mapping": PER_FRAME, "end_s": 2},
        {"video": "H-210825_A03_E_UA-04_101.mp4", "labels": f"{a}/aihub_construction_safety", "mapping": SAFETY,
         "end_s": 2},
        {"video": "v_bXdq2zI1Ms0.mp4", "labels": f"{a}/activitynet/activitynet_captions.json"},
        {"video": "GLd3aX16zBg.mp4", "labels": f"{a}/youcook2/youcookii_annotations_head.json",
         "segments_as": "subtasks"},  # one episode, the five steps its labeled subtasks
        {"video": "46GP8.mp4", "labels": f"{a}/charades/Charades_v1_train_head.csv"},
        {"video": "via_clip.mp4", "labels": f"{a}/via/via3_video_project.json"},
    ]
    recipe = {"name": "layouts", "sources": sources, "fps": 1, "image_size": [48, 64], "output": str(root / "out"),
              "motion": {"preset": "fast"}, "interactions": {"episode_span": "clip"}}
    (root / "recipe.yaml").write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    logs: list[str] = []
    report = build(load_recipe(root / "recipe.yaml"), log=logs.append)
    tasks = {}
    for line in (root / "out" / "meta" / "episodes").rglob("*.parquet"):
        import pandas as pd

        df = pd.read_parquet(line)
        for _, row in df.iterrows():
            tasks[int(row["episode_index"])] = list(row["tasks"])
    return report, logs, tasks, root, json


def test_every_layout_builds_from_its_recipe(layouts_build):
    report, logs, tasks, root, json = layouts_build
    assert not report.failures, [f.reason for f in report.failures]
    texts = {t for ts in tasks.values() for t in ts}
    for expected in ("이 컵 좀 들어 줄래?", "falldown", "standup", "여기", "오다",
                     "The first man then begins performing martial arts moves while speaking to he camera.",
                     "Someone is cooking something",
                     "pick up the cup"):
        assert expected in texts, expected
    # 2 dialogue lines + 3 CCTV actions + 2 signs + fitness + 2 per-frame folders + 3 ActivityNet + YouCook2 (its
    # steps as subtasks) + 2 Charades + 2 VIA
    assert report.episodes == 2 + 3 + 2 + 1 + 2 + 3 + 1 + 2 + 2
    assert any("10 repeat(s) of an identical consecutive text merged" in line for line in logs)
    prov = [json.loads(line) for line in (root / "out" / "meta" / "provenance.jsonl").read_text().splitlines() if line]
    assert "5 labeled subtasks from youcookii_annotations_head.json" in {p.get("segment") for p in prov}
    from conftest import assert_valid

    assert_valid(root / "out")


def test_keys_a_video_source_would_ignore_are_refused(tmp_path, video):
    from vla_builder.recipe import RecipeError, load_recipe

    (tmp_path / "r.yaml").write_text(f"name: r\nsources:\n  - video: {video}\n    fps: 10\n")
    with pytest.raises(RecipeError, match=r"fps: a video's frame rate is read from the file"):
        load_recipe(tmp_path / "r.yaml")


def test_labels_of_another_frame_shape_fail_at_the_labels_stage_before_decode(video, tmp_path):
    import json

    from vla_builder.sources.labels.fit import LabelFitError
    from vla_builder.stages.probe import LabelsStage, ProbeStage
    from vla_builder.types import Clip

    path = tmp_path / "hd.json"  # a COCO file stating 1920x1080 frames (16:9) for the 160x120 (4:3) video
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "f_0000.jpg", "width": 1920, "height": 1080}],
                                "annotations": [{"image_id": 1, "category_id": 1, "bbox": [100, 100, 300, 400]}],
                                "categories": [{"id": 1, "name": "hand"}]}))
    clip = ProbeStage().process(Clip(clip_id="c", source=SourceSpec(video=video, labels=path)))
    with pytest.raises(LabelFitError, match=r"hd\.json: the labels state 1920x1080 frames.*160x120"):
        LabelsStage().process(clip)


def test_labels_check_reports_every_source_in_seconds(layouts_build):
    import time

    from conftest import cli_in_process

    _, _, _, root, json = layouts_build
    t0 = time.perf_counter()
    out = cli_in_process("labels", "check", root / "recipe.yaml", "--json")
    assert time.perf_counter() - t0 < 3.0 and out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    by_source = {s["source"]: s for s in result["sources"]}
    mm = by_source["aihub_multimodal.mp4"]
    assert (mm["format"], mm["boxes"], mm["tracks"], mm["segments"], mm["classes"]) == ("mapping", 24, 2, 2, ["사람"])
    assert mm["first_boxes"][0].startswith("frame 0 (0.00 s) 사람 #1")
    assert any("10 repeat(s)" in w for w in mm["warnings"])
    assert by_source["v_bXdq2zI1Ms0.mp4"]["format"] == "activitynet"
    assert by_source["46GP8.mp4"]["first_segments"][0].startswith("[0.00, 12.60] s 'Someone is cooking something'")
    assert by_source["via_clip.mp4"]["boxes"] == 2 and by_source["via_clip.mp4"]["segments"] == 2


def test_validate_shows_progress_over_episodes(layouts_build):
    from conftest import cli_in_process

    report, _, _, root, _ = layouts_build
    out = cli_in_process("validate", root / "out")
    assert out.returncode == 0 and out.stdout.startswith("OK:"), out.stdout + out.stderr
    assert f"validate: {report.episodes}/{report.episodes} episodes" in out.stderr


def test_one_based_file_numbers_of_any_format_are_refused_with_the_fix(tmp_path):
    import shutil

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, f in enumerate(sorted((ASSETS / "per_frame_json").glob("*.json")), start=1):
        shutil.copy(f, folder / f"frame_{i:04d}.json")  # frame_0001 .. frame_0008 on an 8-frame video
    with pytest.raises(LabelError, match=r"frames: frame numbers run 1\.\.8 on a video of 8 frames.*frame_base: 1"):
        read_labels(SourceSpec(video=Path("c.mp4"), labels=folder, mapping=PER_FRAME), info(n=8))
    t = read_labels(SourceSpec(video=Path("c.mp4"), labels=folder, mapping=PER_FRAME, frame_base=1), info(n=8))
    assert sorted(set(t.frame.tolist())) == list(range(8))


def test_via2_image_projects_and_via3_projects_of_another_video(tmp_path, video):
    import json

    path = tmp_path / "via_project.json"
    path.write_text(json.dumps({"_via_settings": {}, "_via_img_metadata": {
        f"frame_{i:04d}.jpg{1000 + i}": {"filename": f"frame_{i:04d}.jpg", "size": 1000 + i, "file_attributes": {},
                                         "regions": [{"shape_attributes": {"name": "rect", "x": 10 + i, "y": 20,
                                                                           "width": 30, "height": 40},
                                                      "region_attributes": {"object": "cup"}},
                                                     {"shape_attributes": {"name": "polygon",
                                                                           "all_points_x": [100, 120, 110],
                                                                           "all_points_y": [50, 50, 90]},
                                                      "region_attributes": {"object": "hand"}}]}
        for i in range(3)}, "_via_attributes": {}}))
    assert detect_format(path) == "via"
    t = read_labels(SourceSpec(video=video, labels=path), info())
    assert sorted(set(t.frame.tolist())) == [0, 1, 2] and set(t.class_name.tolist()) == {"cup", "hand"}
    hand = np.flatnonzero(t.class_name == "hand")[0]
    np.testing.assert_allclose(t.boxes_xyxy[hand] * [160, 120, 160, 120], [100, 50, 120, 90])
    assert expand_episodes(SourceSpec(video=video, labels=path)) == [SourceSpec(video=video, labels=path)]
    doc = json.loads((ASSETS / "via" / "via3_video_project.json").read_text())
    doc["file"]["2"] = {"fid": "2", "fname": "other.mp4", "type": 4, "loc": 1, "src": ""}
    two = tmp_path / "two_files.json"
    two.write_text(json.dumps(doc))
    with pytest.raises(LabelError, match=r"no file of video 'scene' in the VIA project.*via_clip\.mp4.*another video"):
        expand_episodes(SourceSpec(video=video, labels=two))
