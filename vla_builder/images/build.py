"""Build an image recipe: read each labeled image folder through the label importers, write grounded records
(pointing, referring, spatial VQA, target-location actions), the images they show, problems and a manifest.

Outputs (loadable with `datasets.load_dataset`): `records.jsonl` (images as paths relative to the output folder) and
`records.parquet` (images embedded, typed as `datasets.Image`), in the chat layout vision-language SFT trainers read
(`messages` with an image part in the user turn, `images` beside them). A bad source (unreadable labels, missing
folder) is a problem line naming it; the other sources are still built. Nothing time- or machine-dependent goes into
the records, so a rebuild with the same seed is byte-identical.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vla_builder.images.grounding import Scene
from vla_builder.images.labels import read_source
from vla_builder.images.recipe import LoadedImagesRecipe, load_images_recipe
from vla_builder.images.records import SYSTEM, image_drafts
from vla_builder.sources.labels import LabelError
from vla_builder.track_build import RecordsReport, claim_output, jsonl, load_and_build, print_first, write_files


@dataclass
class ImagesReport(RecordsReport):
    images: int = 0
    problems: list[dict] = field(default_factory=list)  # problems.jsonl: source, reason, fatal (a source not read)

    @property
    def partial(self) -> bool:
        return any(p.get("fatal") for p in self.problems)


def _hangul_share(names: list[str]) -> float:
    text = "".join(names)
    letters = [c for c in text if c.isalpha()]
    return sum("가" <= c <= "힣" for c in letters) / len(letters) if letters else 0.0


def _write_parquet(rows: list[dict], root: Path, path: Path) -> None:
    """Images embedded as `datasets.Image` ({bytes, path}); `datasets` reads the feature types from the schema's
    `huggingface` metadata, so `load_dataset("parquet", ...)` decodes them to PIL images."""
    import pyarrow as pa  # pyarrow comes with `datasets` (a lerobot dependency)
    import pyarrow.parquet as pq

    part = pa.struct([("type", pa.string()), ("text", pa.string())])
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("kind", pa.string()),
                        ("language", pa.string()), ("images", pa.list_(image)), ("image_path", pa.string()),
                        ("width", pa.int64()), ("height", pa.int64()),
                        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.list_(part))]))),
                        ("answer", pa.string()), ("query", pa.string()), ("evidence", pa.string()),
                        ("trace", pa.string())])
    features = {"id": {"dtype": "string", "_type": "Value"}, "source": {"dtype": "string", "_type": "Value"},
                "kind": {"dtype": "string", "_type": "Value"}, "language": {"dtype": "string", "_type": "Value"},
                "images": {"feature": {"_type": "Image"}, "_type": "List"},
                "image_path": {"dtype": "string", "_type": "Value"}, "width": {"dtype": "int64", "_type": "Value"},
                "height": {"dtype": "int64", "_type": "Value"},
                "messages": {"feature": {"role": {"dtype": "string", "_type": "Value"},
                                         "content": {"feature": {"type": {"dtype": "string", "_type": "Value"},
                                                                 "text": {"dtype": "string", "_type": "Value"}},
                                                     "_type": "List"}}, "_type": "List"},
                **{k: {"dtype": "string", "_type": "Value"} for k in ("answer", "query", "evidence", "trace")}}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    # written in row groups, each image read once per group: memory stays bounded on large builds (every record
    # embeds its image, as `datasets` does, so the file holds an image once per record that shows it)
    with pq.ParquetWriter(path, schema.with_metadata(meta)) as writer:
        for start in range(0, max(len(rows), 1), 256):
            cache: dict[str, bytes] = {}
            batch = []
            for r in rows[start:start + 256]:
                rel = r["image_path"]
                if rel not in cache:
                    cache[rel] = (root / rel).read_bytes()
                batch.append({**r, "images": [{"bytes": cache[rel], "path": Path(rel).name}]})
            writer.write_table(pa.Table.from_pylist(batch, schema=schema.with_metadata(meta)))


def build_images(loaded: LoadedImagesRecipe, output: Path | None = None) -> ImagesReport:
    t0 = time.perf_counter()
    recipe = loaded.recipe
    report = ImagesReport(output=Path(output) if output is not None else loaded.output)
    claim_output(report.output, "images", "image-track")
    rows: list[dict] = []
    per_source = []
    kinds: dict[str, int] = {}
    languages: dict[str, int] = {}
    copies: dict[Path, str] = {}  # source image -> path inside the output
    for si, src in enumerate(recipe.sources):
        images_dir, labels = loaded.resolve(src.images), loaded.resolve(src.labels)
        stats = {"images": 0, "images_with_records": 0, "objects": 0, "eligible": 0, "named": 0, "records": 0}
        try:
            got = read_source(src, images_dir, labels)
        except (LabelError, OSError, ValueError) as e:
            report.problems.append({"source": src.labels, "fatal": True, "reason": str(e)})
            per_source.append({"images": src.images, "labels": src.labels, "error": str(e), **stats})
            continue
        report.problems += [{"source": src.labels, "reason": p} for p in got.problems]
        for img in got.images:
            names = [o.cls for o in img.objects]
            lang = src.language or recipe.language
            if lang == "auto":
                lang = "ko" if _hangul_share(names) > 0.5 else "en"
            scene = Scene(img.objects, img.width_px, img.height_px, recipe.grounding)
            key = f"{recipe.seed}|{si}|{img.path.name}"
            drafts, st = image_drafts(scene, lang, list(recipe.records), key, recipe.max_records_per_image,
                                      exhaustive=src.exhaustive)
            stats["images"] += 1
            stats["objects"] += st["objects"]
            stats["eligible"] += st["eligible"]
            stats["named"] += st["named"]
            if not drafts:
                continue
            stats["images_with_records"] += 1
            if img.path not in copies:
                copies[img.path] = f"images/s{si}/{img.path.name}"
            rel = copies[img.path]
            for n, d in enumerate(drafts):
                kinds[d.kind] = kinds.get(d.kind, 0) + 1
                languages[lang] = languages.get(lang, 0) + 1
                stats["records"] += 1
                rows.append({
                    "id": f"s{si}/{img.path.stem}/{n:02d}-{d.kind}", "source": loaded.display(labels),
                    "kind": d.kind, "language": lang, "images": [rel], "image_path": rel,
                    "width": img.width_px, "height": img.height_px,
                    "messages": [
                        {"role": "system", "content": [{"type": "text", "text": SYSTEM[lang]}]},
                        {"role": "user", "content": [{"type": "image", "text": None},
                                                     {"type": "text", "text": d.question}]},
                        {"role": "assistant", "content": [{"type": "text", "text": d.assistant(lang)}]}],
                    "answer": json.dumps(d.answer, ensure_ascii=False),
                    "query": json.dumps(d.query, ensure_ascii=False),
                    "evidence": json.dumps(d.evidence, ensure_ascii=False),
                    "trace": json.dumps(dict(zip(("question_basis", "error_verification", "answer_confirmation"),
                                                 d.steps, strict=True)), ensure_ascii=False)})
        report.images += stats["images"]
        per_source.append({"images": src.images, "labels": src.labels, "format": got.format,
                           "licence": src.licence, "exhaustive": src.exhaustive,
                           "dropped_by_importer": got.dropped,
                           "named_share": round(stats["named"] / stats["eligible"], 3) if stats["eligible"] else None,
                           **stats})
    report.records = len(rows)
    files = ([] if recipe.format == "parquet" else ["records.jsonl"]) + \
        (["records.parquet"] if recipe.format in ("parquet", "both") else []) + ["problems.jsonl", "manifest.json"]
    manifest = {"kind": "images", "name": recipe.name, "format": recipe.format, "seed": recipe.seed, "files": files,
                "counts": {"images": report.images, "images_written": len(copies), "records": report.records,
                           "problems": len(report.problems)},
                "records_by_kind": dict(sorted(kinds.items())), "languages": dict(sorted(languages.items())),
                "sources": per_source, "recipe_file": loaded.path.name, "recipe": recipe.model_dump(mode="json")}
    out = report.output
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # its presence marks a finished build: gone while writing
    for stale in {"records.jsonl", "records.parquet"} - set(files):
        (out / stale).unlink(missing_ok=True)
    if (out / "images").exists():
        shutil.rmtree(out / "images")
    for srcpath, rel in copies.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(srcpath, out / rel)
    if "records.parquet" in files:
        tmp = out / ".records.parquet.tmp"
        _write_parquet(rows, out, tmp)
        os.replace(tmp, out / "records.parquet")
    outputs = [("problems.jsonl", jsonl(report.problems)),
               ("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")]
    if "records.jsonl" in files:
        outputs.insert(0, ("records.jsonl", jsonl(rows)))
    if (out / "lerobot").exists():
        shutil.rmtree(out / "lerobot")  # a rebuild without `lerobot: true` leaves no stale episodes
    if recipe.lerobot and any(r["kind"] in ("pointing", "action") for r in rows):
        from vla_builder.images.lerobot import write_lerobot

        n = write_lerobot(out, rows, tuple(recipe.lerobot_image_size), f"vla_builder/{recipe.name}")
        manifest["files"].insert(-2, "lerobot/")
        manifest["counts"]["lerobot_episodes"] = n
        outputs[-1] = ("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    write_files(out, outputs)  # manifest last
    report.wall_s = time.perf_counter() - t0
    return report


def build_images_cli(args: Any) -> int:
    """`python -m vla_builder build RECIPE` for `kind: images` recipes (args as `vla_builder.cli` parses them)."""
    report = load_and_build(lambda: load_images_recipe(args.recipe, getattr(args, "overrides", None)),
                            lambda loaded: build_images(loaded, getattr(args, "output", None)))
    if isinstance(report, int):
        return report
    page = None
    if report.records and not getattr(args, "no_report", False):
        from vla_builder.images.report import write_images_report

        page = write_images_report(report.output)
    if getattr(args, "json", False):
        print(json.dumps({"dataset": str(report.output.resolve()), "images": report.images,
                          "records": report.records, "problems": len(report.problems), "report": page,
                          "wall_s": round(report.wall_s, 3), "exit_code": report.exit_code}))
        return report.exit_code
    if not getattr(args, "quiet", False):
        print(f"dataset:  {report.output.resolve()}")
        print(f"records:  {report.records} from {report.images} images  problems: {len(report.problems)}")
        print_first([f"{p['source']}: {p['reason']}" for p in report.problems], " (problems.jsonl)")
        if page:
            print(f"report:   {page}")
        print(f"wall time: {report.wall_s:.2f} s")
    elif report.records:
        print(report.output.resolve())
    return report.exit_code
