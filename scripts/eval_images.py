"""Image track on real labeled images: build records from recipes, recompute every answer independently from the raw
label files, measure the share of objects that got an unambiguous phrase, and draw a random sample for a look by eye.

    PYTHONPATH=$PWD python scripts/eval_images.py [--out /tmp/eval_images] [--look 30]

Real samples (written into --out from the project's shared real data; nothing here is committed):
- coco_se:  Something-Else dev frames (6 real hand-held clips) with their human boxes, restructured into a COCO
            instances file (values unchanged; classes hand, bottle, book, glass, ...);
- aihub_se: the same frames and boxes as per-image JSON documents in the layout of AI Hub's road-vehicle image labels
            (FILE[0].ITEMS with BOX "x,y,w,h" and CLASS, as a public project's README reproduces an AI Hub file) with
            Korean class names (손, 병, 책, ...), read with `mapping:` — the layout is AI Hub's, the content is not;
- voc_mot:  MOT17-05 (6 frames, 640x480) and MOT17-04 (8 frames, 1080p, a crowd) ground truth as Pascal VOC XML
            (one per frame; conf-0 "ignore" rows left out, class from the MOT17 code);
- coco_val: COCO val2017 image 39769's real annotations (tests/assets/labels/coco_val, polygons) on a blank image of
            its size (the image itself is not shipped: geometry only, not for the look by eye);
- voc_2007: PASCAL VOC2007 000001.xml (tests/assets/labels/voc) on a blank image of its size (the same).

The recomputation is its own implementation: it parses the raw label files here (json / ElementTree), not through
the importers, and reads each record's structured `query` under the plain meaning of its words ("the leftmost X":
no other X has its centre further left; "the X left of the Y": the only Y, and the only X whose centre is left of
the Y's), with its own point-in-polygon test. A record is wrong if its phrase fits no object or several, or its
answer differs from what the labels say.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REAL = REPO.parent / "shared" / "data" / "real"
if not REAL.is_dir():
    REAL = Path("/work/shared/data/real")
SE_KO = {"hand": "손", "bottle": "병", "book": "책", "glass": "유리잔", "wireless mouse": "무선 마우스",
         "mobile charger": "휴대폰 충전기", "puzzle": "퍼즐", "puzzle piece": "퍼즐 조각"}
MOT17 = {1: "pedestrian", 2: "person on vehicle", 3: "car", 4: "bicycle", 5: "motorbike", 6: "non motorized vehicle",
         7: "static person", 8: "distractor", 9: "occluder", 10: "occluder on the ground", 11: "occluder full",
         12: "reflection"}


# ---------------------------------------------------------------------------------------------------------------
# real samples
# ---------------------------------------------------------------------------------------------------------------
def _se_frames(every: int) -> list[tuple[str, Path, dict]]:
    """(image name, frame file, record) for every `every`-th labeled Something-Else dev frame."""
    root = REAL / "something_else_dev"
    doc = json.loads((root / "annotations.json").read_text())
    out = []
    for clip in sorted(doc, key=str):
        for k, rec in enumerate(doc[clip]):
            if k % every:
                continue
            frame = root / "frames" / rec["name"]
            if frame.is_file():
                out.append((f"{clip}_{Path(rec['name']).stem}.jpg", frame, rec))
    return out


def _link(folder: Path, name: str, target: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).unlink(missing_ok=True)
    (folder / name).symlink_to(target.resolve())


def _size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


def write_coco_se(out: Path, every: int = 6) -> Path:
    images, anns, cats = [], [], {}
    for i, (name, frame, rec) in enumerate(_se_frames(every)):
        _link(out / "images", name, frame)
        w, h = _size(frame)
        images.append({"id": i + 1, "file_name": name, "width": w, "height": h})
        for lab in rec["labels"]:
            b = lab["box2d"]
            cid = cats.setdefault(lab["category"], len(cats) + 1)
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": cid, "iscrowd": 0,
                         "bbox": [b["x1"], b["y1"], b["x2"] - b["x1"], b["y2"] - b["y1"]]})
    doc = {"images": images, "annotations": anns, "categories": [{"id": v, "name": k} for k, v in cats.items()]}
    (out / "instances.json").write_text(json.dumps(doc))
    return _recipe(out, "coco_se", "images", "instances.json", "licence: MIT annotations (joaanna/something_else); "
                   "frames Something-Something v2, research use\n    exhaustive: false")


def write_aihub_se(out: Path, every: int = 6) -> Path:
    """Per-image JSON in the layout of AI Hub's road-vehicle image labels (as a public project's README reproduces
    one: `FILE[0]` with FILE_NAME, RESOLUTION "W*H", BOUNDINGCOUNT and `ITEMS` of DRAWING / SEGMENT / BOX "x,y,w,h" /
    POLYGON / CLASS), filled with the Something-Else boxes and Korean class names."""
    (out / "labels").mkdir(parents=True, exist_ok=True)
    for name, frame, rec in _se_frames(every):
        _link(out / "images", name, frame)
        w, h = _size(frame)
        items = []
        for lab in rec["labels"]:
            b = lab["box2d"]
            items.append({"DRAWING": "Box", "SEGMENT": "손" if lab["category"] == "hand" else "물체",
                          "BOX": f"{b['x1']:.2f},{b['y1']:.2f},{b['x2'] - b['x1']:.2f},{b['y2'] - b['y1']:.2f}",
                          "POLYGON": "", "CLASS": SE_KO[lab["category"]]})
        doc = {"FILE": [{"FILE_NAME": name, "COLLECTIONMETHOD": "스마트폰", "RESOLUTION": f"{w}*{h}",
                         "BOUNDINGCOUNT": str(len(items)), "ITEMS": items}]}
        (out / "labels" / f"{Path(name).stem}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1))
    return _recipe(out, "aihub_se", "images", "labels", "mapping: {records: 'FILE[0].ITEMS', box: BOX, "
                   "box_format: xywh, class: CLASS, attributes: [SEGMENT]}\n    exhaustive: false")


def write_voc_mot(out: Path) -> Path:
    for seq in ("MOT17-05-FRCNN", "MOT17-04-FRCNN"):
        root = REAL / "MOT17-mini" / seq
        rows: dict[int, list[list[float]]] = {}
        for line in (root / "gt" / "gt.txt").read_text().splitlines():
            v = [float(x) for x in line.split(",")]
            if v[6] != 0:  # conf 0: an "ignore" region, not an object
                rows.setdefault(int(v[0]), []).append(v)
        for img in sorted((root / "img1").glob("*.jpg")):
            name = f"{seq[:8]}_{img.name}"
            _link(out / "images", name, img)
            w, h = _size(img)
            objs = "".join(
                f"<object><name>{MOT17.get(int(v[7]), 'object')}</name><difficult>{int(v[8] < 0.25)}</difficult>"
                f"<bndbox><xmin>{v[2]:.0f}</xmin><ymin>{v[3]:.0f}</ymin><xmax>{v[2] + v[4] - 1:.0f}</xmax>"
                f"<ymax>{v[3] + v[5] - 1:.0f}</ymax></bndbox></object>"
                for v in rows.get(int(img.stem), []))
            (out / "Annotations").mkdir(parents=True, exist_ok=True)
            (out / "Annotations" / f"{Path(name).stem}.xml").write_text(
                f"<annotation><filename>{name}</filename><size><width>{w}</width><height>{h}</height>"
                f"<depth>3</depth></size>{objs}</annotation>")
    return _recipe(out, "voc_mot", "images", "Annotations", "licence: MOT17 CC BY-NC-SA 3.0")


def write_blank_sample(out: Path, label: Path, image_name: str, size: tuple[int, int], kind: str) -> Path:
    from PIL import Image

    (out / "images").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (128, 128, 128)).save(out / "images" / image_name)
    if kind == "voc":
        (out / "Annotations").mkdir(exist_ok=True)
        (out / "Annotations" / label.name).write_text(label.read_text())
        return _recipe(out, out.name, "images", "Annotations", "")
    (out / label.name).write_text(label.read_text())
    return _recipe(out, out.name, "images", label.name, "")


def _recipe(out: Path, name: str, images: str, labels: str, extra: str) -> Path:
    lines = ["kind: images", f"name: {name}", "sources:", f"  - images: {images}", f"    labels: {labels}"]
    if extra:
        lines.append(f"    {extra}")
    (out / "recipe.yaml").write_text("\n".join(lines) + "\n")
    return out / "recipe.yaml"


def write_samples(out: Path) -> dict[str, Path]:
    """Every real sample as a folder with its recipe: name -> recipe path."""
    assets = REPO / "tests" / "assets" / "labels"
    return {"coco_se": write_coco_se(out / "coco_se"), "aihub_se": write_aihub_se(out / "aihub_se"),
            "voc_mot": write_voc_mot(out / "voc_mot"),
            "coco_val": write_blank_sample(out / "coco_val",
                                           assets / "coco_val" / "instances_val2017_000000039769.json",
                                           "000000039769.jpg", (640, 480), "coco"),
            "voc_2007": write_blank_sample(out / "voc_2007", assets / "voc" / "000001.xml", "000001.jpg", (353, 500),
                                           "voc")}


# ---------------------------------------------------------------------------------------------------------------
# independent recomputation (no import from vla_builder)
# ---------------------------------------------------------------------------------------------------------------
def raw_objects(recipe: Path) -> dict[str, list[dict]]:
    """image file name -> objects {class, box [x0, y0, x1, y1] px, polygons, crowd}, parsed from the raw files."""
    import yaml

    src = yaml.safe_load(recipe.read_text())["sources"][0]
    base = recipe.parent
    labels = base / src["labels"]
    out: dict[str, list[dict]] = {}
    if labels.is_file() and labels.suffix == ".json":  # COCO
        doc = json.loads(labels.read_text())
        names = {c["id"]: c["name"] for c in doc["categories"]}
        files = {im["id"]: im["file_name"] for im in doc["images"]}
        for a in doc["annotations"]:
            x, y, w, h = a["bbox"]
            segs = a.get("segmentation") if isinstance(a.get("segmentation"), list) else []
            out.setdefault(files[a["image_id"]], []).append(
                {"class": names[a["category_id"]], "box": [x, y, x + w, y + h], "crowd": bool(a.get("iscrowd")),
                 "polygons": [list(zip(s[0::2], s[1::2], strict=True)) for s in segs]})
    elif src.get("mapping"):  # per-image AI Hub-style documents (FILE[0].ITEMS, BOX "x,y,w,h")
        keys = src["mapping"].get("attributes") or []
        for f in sorted(labels.glob("*.json")):
            doc = json.loads(f.read_text())["FILE"][0]
            for a in doc["ITEMS"]:
                x, y, w, h = (float(v) for v in a["BOX"].split(","))
                out.setdefault(doc["FILE_NAME"], []).append(
                    {"class": a["CLASS"], "box": [x, y, x + w, y + h], "crowd": False, "polygons": [],
                     "attributes": {k: a[k] for k in keys if k in a}})
    else:  # VOC folder: 1-based pixel corners
        for f in sorted(labels.glob("*.xml")):
            root = ET.parse(f).getroot()
            name = root.findtext("filename") or f.stem + ".jpg"
            if not (base / src["images"] / name).exists():
                name = f.stem + ".jpg"
            for o in root.findall("object"):
                b = [float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax")]
                out.setdefault(name, []).append({"class": o.findtext("name").strip(), "crowd": False, "polygons": [],
                                                 "box": [b[0] - 1, b[1] - 1, b[2], b[3]]})
    return out


def _centre(o: dict) -> tuple[float, float]:
    return (o["box"][0] + o["box"][2]) / 2, (o["box"][1] + o["box"][3]) / 2


SIDE = {"left_of": (0, -1), "right_of": (0, 1), "above": (1, -1), "below": (1, 1)}
ORD = {"leftmost": (0, -1), "rightmost": (0, 1), "topmost": (1, -1), "bottommost": (1, 1)}


def resolve(q: dict, objs: list[dict]) -> list[dict]:
    """The objects a structured phrase fits under its plain meaning."""
    same = [o for o in objs if o["class"] == q["class"]]
    if any(o["crowd"] for o in same):
        return same  # a crowd region of the class: never one object
    if q.get("attribute"):
        key, value = q["attribute"]
        return [o for o in same if str(o.get("attributes", {}).get(key, "")).strip() == value]
    if q.get("ordinal"):
        axis, sign = ORD[q["ordinal"]]
        best = [o for o in same if all(sign * (_centre(o)[axis] - _centre(p)[axis]) > 0 for p in same if p is not o)]
        return best
    if q.get("relation"):
        anchors = [o for o in objs if o["class"] == q["anchor_class"]]
        if len(anchors) != 1:
            return []
        axis, sign = SIDE[q["relation"]]
        a = anchors[0]
        return [o for o in same if sign * (_centre(o)[axis] - _centre(a)[axis]) > 0]
    return same


def _inside_poly(pt: tuple[float, float], poly: list[tuple[float, float]]) -> bool:
    x, y = pt
    inside = False
    for (x0, y0), (x1, y1) in zip(poly, poly[1:] + poly[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _close(a: list[float], b: list[float], tol: float) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def check_record(r: dict, objs: list[dict]) -> str | None:
    """None when the record's answer is what the labels say; else why not."""
    w, h = r["width"], r["height"]
    q, ans = json.loads(r["query"]), json.loads(r["answer"])
    text = next(p["text"] for p in r["messages"][1]["content"] if p["type"] == "text")
    said = next(p["text"] for p in r["messages"][2]["content"] if p["type"] == "text").rsplit("\n", 1)[-1]

    def one(phrase: dict, where: str = text) -> dict | str:
        fits = resolve(phrase, objs)
        if len(fits) != 1:
            return f"phrase {phrase} fits {len(fits)} objects"
        for c in filter(None, (phrase["class"], phrase.get("anchor_class"), (phrase.get("attribute") or [""])[-1])):
            if c not in where:
                return f"class {c!r} not in {where!r}"
        return fits[0]

    if r["kind"] in ("pointing", "referring", "action"):
        t = one(q["target"])
        if isinstance(t, str):
            return t
        nb = [t["box"][0] / w, t["box"][1] / h, t["box"][2] / w, t["box"][3] / h]
        if "box" in ans and not _close(ans["box"], nb, 0.0011):
            return f"box {ans['box']} is not the target's {nb}"
        if "point" in ans:
            x, y = ans["point"][0] * w, ans["point"][1] * h
            tol = 0.0006 * max(w, h)  # the point's three decimals
            in_box = t["box"][0] - tol <= x <= t["box"][2] + tol and t["box"][1] - tol <= y <= t["box"][3] + tol
            if not in_box:
                return f"point {ans['point']} outside the target's box"
            if t["polygons"] and not any(_inside_poly((x, y), p) for p in t["polygons"]):
                return f"point {ans['point']} outside the target's polygon"
        return None
    kind = q["question"]
    if kind == "count":
        n = sum(o["class"] == q["class"] for o in objs)
        return None if n == ans["count"] else f"count {ans['count']} != {n} labeled"
    if kind == "relation":
        a, b = one(q["a"]), one(q["b"])
        if isinstance(a, str) or isinstance(b, str):
            return a if isinstance(a, str) else b  # type: ignore[return-value]
        axis, sign = SIDE[q["relation"]]
        truth = sign * (_centre(a)[axis] - _centre(b)[axis]) > 0
        return None if truth == ans["yes"] else f"answer {ans['yes']} but the centres say {truth}"
    if kind == "nearest":
        a, n = one(q["a"]), one(q["answer"], said)  # the answer's phrase is in the final answer
        if isinstance(a, str) or isinstance(n, str):
            return a if isinstance(a, str) else n  # type: ignore[return-value]
        ca = _centre(a)
        others = sorted((o for o in objs if o is not a),
                        key=lambda o: (_centre(o)[0] - ca[0]) ** 2 + (_centre(o)[1] - ca[1]) ** 2)
        return None if others and others[0] is n else "another object's centre is nearer"
    return f"unknown question {kind}"


def evaluate(out_root: Path, recipe: Path) -> dict:
    """Build one sample through the CLI path and check every record; plus the phrase coverage."""
    from vla_builder.cli import main

    built = out_root / "built" / recipe.parent.name
    rc = main(["build", str(recipe), "--output", str(built), "--quiet", "--no-report"])
    if rc not in (0, 1, 3):  # 1: nothing to write (every object abstained), itself a result
        raise SystemExit(f"build of {recipe} failed ({rc})")
    labels = raw_objects(recipe)
    records = [json.loads(x) for x in (built / "records.jsonl").read_text().splitlines()]
    wrong: list[tuple[str, str]] = []
    named = set()
    for r in records:
        # boxes as the image shows them: label boxes reaching past the border are cut at it
        objs = [{**o, "i": i, "box": [min(max(v, 0.0), lim) for v, lim in zip(o["box"], (r["width"], r["height"]) * 2,
                                                                     strict=True)]}
                for i, o in enumerate(labels.get(Path(r["image_path"]).name, []))]
        why = check_record(r, objs)
        if why:
            wrong.append((r["id"], why))
        q = json.loads(r["query"])
        if "target" in q:
            t = resolve(q["target"], objs)
            if len(t) == 1:
                named.add((r["image_path"], t[0]["i"]))
    n_obj = sum(len(v) for v in labels.values())
    kinds: dict[str, int] = {}
    for r in records:
        kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
    manifest = json.loads((built / "manifest.json").read_text())
    src = manifest["sources"][0]
    return {"sample": recipe.parent.name, "images": src["images"], "objects": n_obj, "records": len(records),
            "by_kind": kinds, "languages": manifest["languages"], "wrong": wrong,
            "named_objects": len(named), "named_share": round(len(named) / n_obj, 3) if n_obj else None,
            "eligible": src["eligible"],
            "named_share_of_eligible": round(len(named) / src["eligible"], 3) if src["eligible"] else None,
            "built": str(built)}


def look(results: list[dict], n: int, out: Path, seed: int = 0) -> list[Path]:
    """Draw `n` random records of the samples with real pixels into contact sheets of six."""
    from PIL import Image

    from vla_builder.images.report import draw_record_png

    pool = []
    for res in results:
        if res["sample"] in ("coco_val", "voc_2007"):
            continue  # blank images: geometry only
        built = Path(res["built"])
        pool += [(built, json.loads(x)) for x in (built / "records.jsonl").read_text().splitlines()]
    picked = random.Random(seed).sample(pool, min(n, len(pool)))
    out.mkdir(parents=True, exist_ok=True)
    tiles = []
    for i, (built, r) in enumerate(picked):
        p = out / f"look_{i:02d}.png"
        draw_record_png(built, r, p)
        tiles.append((p, r))
    (out / "look.jsonl").write_text("".join(json.dumps({"i": i, "id": r["id"], "q": r["messages"][1]["content"][1]
                                                        ["text"], "a": r["answer"]}, ensure_ascii=False) + "\n"
                                            for i, (_, r) in enumerate(tiles)))
    sheets = []
    for s in range(0, len(tiles), 6):
        ims = [Image.open(p) for p, _ in tiles[s:s + 6]]
        ims = [im.resize((480, int(im.height * 480 / im.width))) for im in ims]
        cell_h = max(im.height for im in ims)
        sheet = Image.new("RGB", (960, cell_h * 3), (255, 255, 255))
        for k, im in enumerate(ims):
            sheet.paste(im, ((k % 2) * 480, (k // 2) * cell_h))
        path = out / f"sheet_{s // 6}.png"
        sheet.save(path)
        sheets.append(path)
    return sheets


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("/tmp/eval_images"))
    ap.add_argument("--look", type=int, default=30, help="records drawn for the look by eye (contact sheets)")
    ap.add_argument("--seed", type=int, default=0, help="which records the look draws")
    args = ap.parse_args(argv)
    recipes = write_samples(args.out / "samples")
    results = [evaluate(args.out, r) for r in recipes.values()]
    total_wrong = 0
    print(f"{'sample':<10}{'images':>7}{'objects':>8}{'named':>7}{'share':>7}{'of big':>7}{'records':>8}{'wrong':>6}"
          "  kinds / languages")
    for res in results:
        total_wrong += len(res["wrong"])
        print(f"{res['sample']:<10}{res['images']:>7}{res['objects']:>8}{res['named_objects']:>7}"
              f"{res['named_share'] or 0:>7.1%}{res['named_share_of_eligible'] or 0:>7.1%}{res['records']:>8}"
              f"{len(res['wrong']):>6}  {res['by_kind']} {res['languages']}")
        for rid, why in res["wrong"][:10]:
            print(f"    WRONG {rid}: {why}")
    if args.look:
        sheets = look(results, args.look, args.out / "look", args.seed)
        print(f"look by eye: {len(sheets)} sheets in {args.out / 'look'}")
    (args.out / "results.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 1 if total_wrong else 0


if __name__ == "__main__":
    sys.exit(main())
