"""The image track (`kind: images`): real COCO / VOC / AI Hub-style samples build into grounded records whose every
answer an independent recomputation (scripts/eval_images.py) confirms; ambiguous phrases are never written; the
records load with `datasets.load_dataset`; the QA page draws them on their images in a real browser."""

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, cli_in_process

spec = importlib.util.spec_from_file_location("eval_images", REPO / "scripts" / "eval_images.py")
ev = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ev)


def _build(recipe: Path, out: Path, *extra: str) -> list[dict]:
    res = cli_in_process("build", str(recipe), "--output", str(out), *extra)
    assert res.returncode == 0, res.stdout + res.stderr
    return [json.loads(x) for x in (out / "records.jsonl").read_text(encoding="utf-8").splitlines()]


def _checked(recipe: Path, records: list[dict]) -> None:
    """Every record's answer recomputed from the raw label file, by the evaluation's own implementation."""
    labels = ev.raw_objects(recipe)
    for r in records:
        w, h = r["width"], r["height"]
        objs = [{**o, "box": [min(max(v, 0.0), lim) for v, lim in zip(o["box"], (w, h) * 2, strict=True)]}
                for o in labels[Path(r["image_path"]).name]]
        assert ev.check_record(r, objs) is None, (r["id"], ev.check_record(r, objs))


def _text(r: dict, turn: int) -> str:
    return next(p["text"] for p in r["messages"][turn]["content"] if p["type"] == "text")


def test_coco_val_polygons_point_inside_and_phrases_name_one(tmp_path: Path):
    """COCO val2017 39769 (two cats, two remotes, a couch, a bed; real polygons): left/right phrases, points inside
    the outlines, counts; every answer confirmed."""
    recipe = ev.write_blank_sample(
        tmp_path / "coco_val", REPO / "tests/assets/labels/coco_val/instances_val2017_000000039769.json",
        "000000039769.jpg", (640, 480), "coco")
    records = _build(recipe, tmp_path / "out", "--no-report")
    _checked(recipe, records)
    questions = {_text(r, 1) for r in records}
    assert {"Point to the cat on the left.", "Point to the remote on the right."} & questions or \
        any("the cat on the left" in q for q in questions)
    assert not any(re.search(r"\bthe (cat|remote)\b(?! (on|to))", q) for q in questions), questions  # never bare
    pointing = [r for r in records if r["kind"] == "pointing"]
    assert pointing and all(json.loads(r["answer"])["point_from"] == "polygon" for r in pointing)
    counts = {json.loads(r["query"]).get("class"): json.loads(r["answer"])["count"]
              for r in records if json.loads(r["query"]).get("question") == "count"}
    assert counts.get("cat") == 2 and counts.get("remote") == 2
    # no "pick up the couch": large objects and people are no action targets
    assert all(json.loads(r["query"])["target"]["class"] == "remote" for r in records if r["kind"] == "action")
    steps = _text(records[0], 2).splitlines()
    assert steps[0].startswith("1. Question basis:") and steps[1].startswith("2. Error verification:") and \
        steps[2].startswith("3. Answer confirmation:") and steps[3].startswith("Answer: ")
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["kind"] == "images" and sum(manifest["records_by_kind"].values()) == len(records)
    assert manifest["languages"] == {"en": len(records)}


def test_voc_real_label(tmp_path: Path):
    """PASCAL VOC2007 000001.xml (a dog and a person): each named by its class alone; no action on the person."""
    recipe = ev.write_blank_sample(tmp_path / "voc", REPO / "tests/assets/labels/voc/000001.xml", "000001.jpg",
                                   (353, 500), "voc")
    records = _build(recipe, tmp_path / "out", "--no-report")
    _checked(recipe, records)
    targets = {json.loads(r["query"])["target"]["class"] for r in records if r["kind"] == "referring"}
    assert targets == {"dog", "person"}
    assert [json.loads(r["query"])["target"]["class"] for r in records if r["kind"] == "action"] in ([], ["dog"])


def test_real_images_coco_and_aihub_korean(tmp_path: Path, real_data: Path):
    """Real hand-held frames (Something-Else) with their human boxes, as a COCO file and as per-image AI Hub-style
    JSON with Korean class names read through `mapping:` — Korean templates with the right particles."""
    coco = ev.write_coco_se(tmp_path / "coco_se", every=12)
    aihub = ev.write_aihub_se(tmp_path / "aihub_se", every=12)
    en = _build(coco, tmp_path / "out_en", "--no-report")
    ko = _build(aihub, tmp_path / "out_ko", "--no-report")
    _checked(coco, en)
    _checked(aihub, ko)
    assert len(en) == len(ko) > 20
    assert {r["language"] for r in en} == {"en"} and {r["language"] for r in ko} == {"ko"}
    # the same records, in Korean: particles follow the final consonant (병을, 책을, 손을 / 유리잔을, 퍼즐을 / 마우스를)
    kq = [_text(r, 1) for r in ko]
    assert any(q.startswith("병을 ") or q.startswith("병은 ") for q in kq)
    assert not any(re.search(r"(병|책|손|유리잔)(를|는|가) ", q) or re.search(r"(마우스|퍼즐 조각)(을|은|이) ", q)
                   for q in kq), kq
    assert all("질문 근거:" in _text(r, 2) and "최종 답:" in _text(r, 2) for r in ko)
    # exhaustive: false (Something-Else boxes only what the caption acts on): no counts, no "nearest"
    assert not any(json.loads(r["query"]).get("question") in ("count", "nearest") for r in en + ko)
    manifest = json.loads((tmp_path / "out_ko" / "manifest.json").read_text())
    assert manifest["sources"][0]["format"] == "mapping" and manifest["sources"][0]["exhaustive"] is False


def _coco(tmp_path: Path, objects: list[tuple[str, list[float]]], size=(640, 480), crowd=()) -> Path:
    from PIL import Image

    (tmp_path / "images").mkdir(parents=True)
    Image.new("RGB", size, (100, 100, 100)).save(tmp_path / "images" / "0001.jpg")
    cats = {c: i + 1 for i, c in enumerate(sorted({c for c, _ in objects}))}
    doc = {"images": [{"id": 1, "file_name": "0001.jpg", "width": size[0], "height": size[1]}],
           "annotations": [{"id": i + 1, "image_id": 1, "category_id": cats[c], "bbox": b, "iscrowd": int(i in crowd)}
                           for i, (c, b) in enumerate(objects)],
           "categories": [{"id": v, "name": k} for k, v in cats.items()]}
    (tmp_path / "labels.json").write_text(json.dumps(doc))
    (tmp_path / "recipe.yaml").write_text("kind: images\nname: t\nformat: jsonl\nsources:\n"
                                          "  - images: images\n    labels: labels.json\n")
    return tmp_path / "recipe.yaml"


def _targets(records: list[dict]) -> list[dict]:
    return [json.loads(r["query"])["target"] for r in records if r["kind"] in ("pointing", "referring", "action")]


def test_two_mugs_without_a_distinguishing_relation_are_never_named(tmp_path: Path):
    # two mugs side by side and overlapping (no left/right to say), a laptop below both: no "the mug", no relation
    recipe = _coco(tmp_path / "a", [("mug", [100, 100, 80, 80]), ("mug", [140, 110, 80, 80]),
                                    ("laptop", [60, 300, 260, 150])])
    records = _build(recipe, tmp_path / "a" / "out", "--no-report")
    assert records and not any(t["class"] == "mug" for t in _targets(records))
    assert not any("mug" in _text(r, 1) and json.loads(r["query"]).get("question") != "count" for r in records)
    _checked(recipe, records)
    # apart, with the laptop between them: each mug gets a phrase, and each phrase fits exactly one mug
    recipe = _coco(tmp_path / "b", [("mug", [40, 200, 60, 60]), ("mug", [520, 200, 60, 60]),
                                    ("laptop", [200, 180, 220, 140])])
    records = _build(recipe, tmp_path / "b" / "out", "--no-report")
    mugs = [t for t in _targets(records) if t["class"] == "mug"]
    assert {t["ordinal"] for t in mugs} == {"leftmost", "rightmost"}
    assert "Point to the mug on the left." in {_text(r, 1) for r in records} or \
        "Where is the mug on the left? Answer with one point." in {_text(r, 1) for r in records}
    _checked(recipe, records)


def test_crowd_regions_and_tiny_boxes_abstain(tmp_path: Path):
    # a crowd region of people: no phrase and no count for people; a tiny cup (under 0.2 % of the image) is never a
    # target, yet it still makes "the cup" ambiguous for the big one
    recipe = _coco(tmp_path, [("person", [300, 50, 100, 200]), ("person", [0, 0, 640, 200]),
                              ("cup", [50, 300, 120, 120]), ("cup", [600, 20, 8, 8]), ("book", [400, 300, 150, 100])],
                   crowd=(1,))
    records = _build(recipe, tmp_path / "out", "--no-report")
    targets = _targets(records)
    assert not any(t["class"] == "person" for t in targets)
    assert not any(json.loads(r["query"]).get("class") == "person" for r in records)
    cups = [t for t in targets if t["class"] == "cup"]
    assert cups and all(t["ordinal"] or t["relation"] for t in cups)  # never a bare "the cup"
    assert not any(json.loads(r["query"]).get("class") == "cup" for r in records)  # no count with a tiny one


def test_labels_for_missing_images_are_left_out_not_misplaced(tmp_path: Path):
    recipe = _coco(tmp_path, [("mug", [100, 100, 80, 80])])
    doc = json.loads((tmp_path / "labels.json").read_text())
    doc["images"].append({"id": 2, "file_name": "0000.jpg", "width": 640, "height": 480})  # not in the folder
    doc["annotations"].append({"id": 9, "image_id": 2, "category_id": 1, "bbox": [400, 300, 50, 50]})
    (tmp_path / "labels.json").write_text(json.dumps(doc))
    records = _build(recipe, tmp_path / "out", "--no-report")
    assert all(json.loads(r["evidence"])[0]["box_px"][0] == 100 for r in records if r["kind"] == "referring")
    problems = (tmp_path / "out" / "problems.jsonl").read_text()
    assert "0000.jpg: labels for an image the folder does not hold" in problems


def test_bad_recipe_lists_every_problem(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("kind: images\nname: x\ncolour: red\nsources:\n  - images: nowhere\n"
                                     "    labels: none.json\n")
    res = cli_in_process("build", str(tmp_path / "r.yaml"))
    assert res.returncode == 2
    assert "colour: unknown key" in res.stderr and "no such folder: nowhere" in res.stderr and \
        "no such file or folder: none.json" in res.stderr


def test_same_seed_same_bytes_and_josa(tmp_path: Path):
    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("mug", [520, 200, 60, 60]),
                              ("laptop", [200, 180, 220, 140])])
    _build(recipe, tmp_path / "o1", "--no-report")
    _build(recipe, tmp_path / "o2", "--no-report")
    assert (tmp_path / "o1/records.jsonl").read_bytes() == (tmp_path / "o2/records.jsonl").read_bytes()
    from vla_builder.images.records import josa, plural

    assert [josa("컵", "을/를"), josa("사과", "을/를"), josa("cup", "이/가"), josa("o3", "은/는")] == \
        ["컵을", "사과를", "cup이(가)", "o3은"]
    assert [plural("person"), plural("bus"), plural("teddy bear"), plural("mouse")] == \
        ["people", "buses", "teddy bears", "mice"]


def test_records_load_with_datasets(tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("mug", [520, 200, 60, 60]),
                              ("laptop", [200, 180, 220, 140])])
    text = recipe.read_text().replace("format: jsonl", "format: both")
    recipe.write_text(text)
    records = _build(recipe, tmp_path / "out", "--no-report")
    pq = datasets.load_dataset("parquet", data_files=str(tmp_path / "out" / "records.parquet"), split="train")
    assert len(pq) == len(records) and pq.features["images"].feature.__class__.__name__ == "Image"
    row = pq[0]
    assert row["images"][0].size == (640, 480)  # decoded to a PIL image
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert row["messages"][1]["content"][0]["type"] == "image"
    js = datasets.load_dataset("json", data_files=str(tmp_path / "out" / "records.jsonl"), split="train")
    assert js["id"] == [r["id"] for r in records]
    assert (tmp_path / "out" / js[0]["image_path"]).is_file()  # paths relative to the output folder


def test_report_draws_records_in_headless_chromium(tmp_path: Path):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (`make test` installs Debian's chromium when run as root)")
    from PIL import Image

    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("mug", [520, 200, 60, 60]),
                              ("laptop", [200, 180, 220, 140])])
    Image.new("RGB", (640, 480), (20, 20, 20)).save(tmp_path / "images" / "0001.jpg")  # dark: the overlay shows
    res = cli_in_process("build", str(recipe), "--output", str(tmp_path / "out"))
    assert res.returncode == 0, res.stdout + res.stderr
    index = tmp_path / "out" / "report" / "index.html"
    assert index.is_file()
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
             "--disable-background-networking", "--virtual-time-budget=5000", "--window-size=1100,1400"]
    dom = subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p1'}", "--dump-dom", index.resolve().as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    frames = re.findall(r'<div class="frame"[^>]*>', dom)
    assert frames and all('data-state="loaded"' in f for f in frames), frames[:3]  # every image decoded
    assert dom.count('class="box-target"') >= len(frames) and 'class="point"' in dom
    assert "the mug on the left" in dom
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, f"--user-data-dir={tmp_path / 'p2'}", f"--screenshot={shot}", index.resolve().as_uri()],
                   capture_output=True, timeout=120)
    page = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    green = ((page[..., 1] > 180) & (page[..., 0] < 80) & (page[..., 2] < 80)).sum()  # target boxes
    magenta = ((page[..., 0] > 200) & (page[..., 2] > 200) & (page[..., 1] < 80)).sum()  # answer points
    assert green > 200 and magenta > 50, (green, magenta)


def test_labelme_polygons_give_points_inside_the_outline(tmp_path: Path):
    """The real LabelMe sample (two 'track' polygons and a 'car' polygon on a 1000x563 frame): points come from the
    outlines and lie inside them (the evaluation's own ray casting)."""
    from PIL import Image

    src = REPO / "tests/assets/labels/labelme/00000100.json"
    doc = json.loads(src.read_text())
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (1000, 563), (90, 90, 90)).save(tmp_path / "images" / "00000100.jpg")
    (tmp_path / "labels" / src.name).write_text(src.read_text())
    (tmp_path / "r.yaml").write_text("kind: images\nname: lm\nformat: jsonl\nsources:\n  - images: images\n"
                                     "    labels: labels\n")
    records = _build(tmp_path / "r.yaml", tmp_path / "out", "--no-report")
    outlines = {s["label"]: [] for s in doc["shapes"]}
    for s in doc["shapes"]:
        outlines[s["label"]].append([tuple(p) for p in s["points"]])
    pointed = [r for r in records if r["kind"] == "pointing"]
    assert any(json.loads(r["query"])["target"]["class"] == "car" for r in pointed)
    for r in pointed:
        a = json.loads(r["answer"])
        assert a["point_from"] == "polygon"
        x, y = a["point"][0] * 1000, a["point"][1] * 563
        cls = json.loads(r["query"])["target"]["class"]
        assert any(ev._inside_poly((x, y), poly) for poly in outlines[cls]), (r["id"], x, y)


def test_attribute_phrases_name_one_of_two_overlapping_cups_in_korean(tmp_path: Path):
    """Per-image JSON with a colour attribute: two overlapping cups (no left/right to say) are told apart by their
    colours ("빨간색 컵"); without the attribute in `phrase_attributes` neither is named."""
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(tmp_path / "images" / "img_001.jpg")
    doc = {"FILE": [{"FILE_NAME": "img_001.jpg", "RESOLUTION": "640*480", "ITEMS": [
        {"DRAWING": "Box", "CLASS": "컵", "COLOR": "빨간색", "BOX": "100,100,120,120"},
        {"DRAWING": "Box", "CLASS": "컵", "COLOR": "파란색", "BOX": "150,110,120,120"},
        {"DRAWING": "Box", "CLASS": "노트북", "COLOR": "은색", "BOX": "300,250,300,200"}]}]}
    (tmp_path / "labels" / "img_001.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    base = ("kind: images\nname: attr\nformat: jsonl\nsources:\n  - images: images\n    labels: labels\n"
            "    mapping: {records: 'FILE[0].ITEMS', box: BOX, box_format: xywh, class: CLASS,\n"
            "              attributes: [COLOR]}\n")
    (tmp_path / "plain.yaml").write_text(base, encoding="utf-8")
    (tmp_path / "attr.yaml").write_text(base + "grounding: {phrase_attributes: [COLOR]}\n", encoding="utf-8")
    plain = _build(tmp_path / "plain.yaml", tmp_path / "o1", "--no-report")
    assert not any(t["class"] == "컵" for t in _targets(plain))
    records = _build(tmp_path / "attr.yaml", tmp_path / "o2", "--no-report")
    cups = {tuple(t["attribute"]) for t in _targets(records) if t["class"] == "컵"}
    assert cups == {("COLOR", "빨간색"), ("COLOR", "파란색")}
    questions = {_text(r, 1) for r in records}
    assert "빨간색 컵을 가리켜라." in questions or "빨간색 컵은 어디에 있나? 점 하나로 답하라." in questions
    assert all(r["language"] == "ko" for r in records)
    _checked(tmp_path / "attr.yaml", records)


def test_crowded_real_pedestrians_abstain(tmp_path: Path, real_data: Path):
    """MOT17-05 / MOT17-04 ground truth as a VOC folder (real frames, 381 boxes, a crowd): no pedestrian is one of at
    most four, so none gets a phrase — nothing is written rather than "the leftmost pedestrian" of fifty."""
    recipe = ev.write_voc_mot(tmp_path / "voc_mot")
    res = cli_in_process("build", str(recipe), "--output", str(tmp_path / "out"), "--no-report")
    assert res.returncode == 1, res.stdout + res.stderr  # nothing built
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    src = manifest["sources"][0]
    assert src["format"] == "voc" and src["images"] == 14 and src["objects"] == 381 and src["named"] == 0


def test_inspect_and_report_commands_on_an_image_output(tmp_path: Path):
    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("laptop", [200, 180, 220, 140])])
    _build(recipe, tmp_path / "out", "--no-report")
    res = cli_in_process("inspect", str(tmp_path / "out"))
    assert res.returncode == 0 and "image records:" in res.stdout and "'referring'" in res.stdout
    res = cli_in_process("report", str(tmp_path / "out"))
    assert res.returncode == 0 and (tmp_path / "out" / "report" / "index.html").is_file()


def test_yolo_folder_with_class_names_above_it(tmp_path: Path):
    """YOLO txt per image, names in the dataset's data.yaml one folder up (the Ultralytics layout)."""
    from PIL import Image

    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    for stem in ("a", "b"):
        Image.new("RGB", (320, 240), (60, 60, 60)).save(tmp_path / "images" / f"{stem}.jpg")
    (tmp_path / "labels" / "a.txt").write_text("0 0.2 0.5 0.2 0.3\n1 0.7 0.5 0.3 0.4\n")
    (tmp_path / "labels" / "b.txt").write_text("1 0.5 0.5 0.3 0.3\n")
    (tmp_path / "labels" / "c.txt").write_text("0 0.5 0.5 0.3 0.3\n")  # no image c: left out, not put on b
    (tmp_path / "data.yaml").write_text("names: [mug, laptop]\n")
    (tmp_path / "r.yaml").write_text("kind: images\nname: y\nformat: jsonl\nsources:\n  - images: images\n"
                                     "    labels: labels\n")
    records = _build(tmp_path / "r.yaml", tmp_path / "out", "--no-report")
    by_image = {}
    for r in records:
        if r["kind"] == "referring":
            by_image.setdefault(Path(r["image_path"]).name, set()).add(json.loads(r["query"])["target"]["class"])
    assert by_image == {"a.jpg": {"mug", "laptop"}, "b.jpg": {"laptop"}}
    assert "c.txt: labels for an image the folder does not hold" in (tmp_path / "out" / "problems.jsonl").read_text()


def test_lerobot_single_frame_episodes_on_request(tmp_path: Path):
    """`lerobot: true`: one LeRobot episode per pointing / action record, loadable by LeRobotDataset and batched by
    a DataLoader; the action is the record's point and box in the letterboxed frame."""
    import torch
    from conftest import load_dataset

    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("mug", [520, 200, 60, 60]),
                              ("laptop", [200, 180, 220, 140])])
    recipe.write_text(recipe.read_text() + "lerobot: true\nlerobot_image_size: [120, 200]\n")
    records = _build(recipe, tmp_path / "out", "--no-report")
    acting = [r for r in records if r["kind"] in ("pointing", "action")]
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["counts"]["lerobot_episodes"] == len(acting) > 0 and "lerobot/" in manifest["files"]
    ds = load_dataset(tmp_path / "out" / "lerobot", "vla_builder/t")
    assert ds.num_episodes == len(acting) and len(ds) == len(acting)
    # 640x480 into 200x120: scale 0.25, 160x120 centred (x offset 20)
    for i, r in enumerate(acting):
        item = ds[i]
        assert item["task"] == _text(r, 1) and tuple(item["observation.image"].shape) == (3, 120, 200)
        px, py = json.loads(r["answer"])["point"]
        a = item["action"].numpy()
        assert abs(a[0] - (px * 160 + 20) / 200) < 1e-5 and abs(a[1] - py) < 1e-5
        assert a[2] <= a[0] <= a[4] and a[3] <= a[1] <= a[5]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert batch["action"].shape[1] == 6


def test_a_broken_source_is_named_and_the_rest_is_built(tmp_path: Path):
    recipe = _coco(tmp_path, [("mug", [40, 200, 60, 60]), ("laptop", [200, 180, 220, 140])])
    (tmp_path / "broken.json").write_text("{not json")
    recipe.write_text(recipe.read_text() + "  - images: images\n    labels: broken.json\n    labels_format: coco\n")
    res = cli_in_process("build", str(recipe), "--output", str(tmp_path / "out"), "--no-report")
    assert res.returncode == 3, res.stdout + res.stderr  # partial: one source failed
    assert "broken.json" in res.stdout and "cannot read COCO json" in res.stdout
    assert (tmp_path / "out" / "records.jsonl").read_text().strip()
    problem = json.loads((tmp_path / "out" / "problems.jsonl").read_text().splitlines()[0])
    assert problem["fatal"] and problem["source"] == "broken.json"
