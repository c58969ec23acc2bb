"""The image track's QA page: a sample of records drawn on their images, the way a reviewer checks them.

`report/index.html` in the output folder: per record, the image (the copy the records point to) with an inline SVG
overlay: the evidence boxes (target solid, anchor dashed), the answer's point as a cross-hair and its box, and the
phrase; beside it the question, the reasoning trace and the answer. Everything is read from `records.jsonl` /
`records.parquet`, so the page shows what training will see. `draw_record_png` draws the same overlay into a PNG
(scripts/eval_images.py uses it for the look by eye).
"""

from __future__ import annotations

import html
import json
import os
import random
from pathlib import Path

TARGET_RGB = (0, 230, 0)  # the target's box and the answer: what the browser test looks for in a screenshot
ANCHOR_RGB = (66, 135, 245)
POINT_RGB = (255, 0, 255)


def read_records(root: Path) -> list[dict]:
    if (root / "records.jsonl").exists():
        return [json.loads(line) for line in (root / "records.jsonl").read_text(encoding="utf-8").splitlines()]
    import pyarrow.parquet as pq

    return pq.read_table(root / "records.parquet", columns=[
        "id", "source", "kind", "language", "image_path", "width", "height", "messages", "answer", "query",
        "evidence", "trace"]).to_pylist()


def sample_records(records: list[dict], n: int, seed: int = 0) -> list[dict]:
    """Up to `n` records, spread over the kinds (each kind gets its share), in a stable order."""
    by_kind: dict[str, list[dict]] = {}
    for r in records:
        by_kind.setdefault(r["kind"], []).append(r)
    rng = random.Random(seed)
    picked: list[dict] = []
    per = max(1, n // max(1, len(by_kind)))
    for kind in sorted(by_kind):
        rows = by_kind[kind]
        picked += rng.sample(rows, min(per, len(rows)))
    chosen = {r["id"] for r in picked}
    rest = [r for r in records if r["id"] not in chosen]
    picked += rng.sample(rest, min(max(0, n - len(picked)), len(rest)))
    return sorted(picked, key=lambda r: r["id"])


def overlay_shapes(r: dict) -> list[dict]:
    """What to draw for a record, in image pixels: boxes (role target / anchor / answer) and a point."""
    w, h = r["width"], r["height"]
    answer = json.loads(r["answer"])
    evidence = json.loads(r["evidence"])
    query = json.loads(r["query"])
    target_ref = (query.get("target") or {}).get("anchor")
    shapes = []
    for e in evidence:
        role = "anchor" if e["id"] == target_ref else "target"
        shapes.append({"type": "box", "role": role, "box": e["box_px"], "label": f"{e['id']} {e['class']}"})
    if "box" in answer:
        b = answer["box"]
        shapes.append({"type": "box", "role": "answer", "box": [b[0] * w, b[1] * h, b[2] * w, b[3] * h],
                       "label": ""})
    if "point" in answer:
        shapes.append({"type": "point", "xy": [answer["point"][0] * w, answer["point"][1] * h]})
    return shapes


def _rgb(c: tuple[int, int, int]) -> str:
    return f"rgb({c[0]},{c[1]},{c[2]})"


def _svg(r: dict) -> str:
    w, h = r["width"], r["height"]
    stroke = max(2.0, w / 250)
    parts = []
    for s in overlay_shapes(r):
        if s["type"] == "box":
            x0, y0, x1, y1 = s["box"]
            colour = _rgb(ANCHOR_RGB if s["role"] == "anchor" else TARGET_RGB)
            dash = ' stroke-dasharray="8,5"' if s["role"] == "anchor" else ""
            if s["role"] == "answer":
                parts.append(f'<rect class="answer-box" x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                             f'height="{y1 - y0:.1f}" fill="{_rgb(TARGET_RGB)}" fill-opacity="0.18" stroke="none"/>')
                continue
            parts.append(f'<rect class="box-{s["role"]}" x="{x0:.1f}" y="{y0:.1f}" width="{x1 - x0:.1f}" '
                         f'height="{y1 - y0:.1f}" fill="none" stroke="{colour}" stroke-width="{stroke:.1f}"{dash}/>')
            parts.append(f'<text x="{x0 + 3:.1f}" y="{max(y0 + 14 * stroke / 2, 14):.1f}" fill="{colour}" '
                         f'font-size="{7 * stroke:.0f}" font-family="sans-serif" paint-order="stroke" '
                         f'stroke="black" stroke-width="{stroke:.1f}">{html.escape(s["label"])}</text>')
        else:
            x, y = s["xy"]
            r_px = 6 * stroke
            colour = _rgb(POINT_RGB)
            parts.append(f'<g class="point"><circle cx="{x:.1f}" cy="{y:.1f}" r="{r_px:.1f}" fill="none" '
                         f'stroke="{colour}" stroke-width="{stroke:.1f}"/><line x1="{x - 2 * r_px:.1f}" y1="{y:.1f}" '
                         f'x2="{x + 2 * r_px:.1f}" y2="{y:.1f}" stroke="{colour}" stroke-width="{stroke:.1f}"/>'
                         f'<line x1="{x:.1f}" y1="{y - 2 * r_px:.1f}" x2="{x:.1f}" y2="{y + 2 * r_px:.1f}" '
                         f'stroke="{colour}" stroke-width="{stroke:.1f}"/></g>')
    return (f'<svg class="overlay" viewBox="0 0 {w} {h}" preserveAspectRatio="none" '
            f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>')


def _text_of(message: dict) -> str:
    return "\n".join(p["text"] for p in message["content"] if p.get("type") == "text" and p.get("text"))


def write_images_report(root: str | Path, out_dir: str | Path | None = None, n: int = 60, seed: int = 0) -> str:
    """Write the page and return its path."""
    root = Path(root)
    out = Path(out_dir) if out_dir is not None else root / "report"
    out.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    records = read_records(root)
    shown = sample_records(records, n, seed)
    cards = []
    for r in shown:
        img = Path(root / r["image_path"]).resolve()
        rel = Path(os.path.relpath(img, out.resolve())).as_posix()
        question = _text_of(r["messages"][1])
        reasoning = _text_of(r["messages"][2])
        cards.append(
            f'<div class="card" data-kind="{html.escape(r["kind"])}" data-id="{html.escape(r["id"])}">'
            f'<div class="frame" style="aspect-ratio:{r["width"]}/{r["height"]}">'
            f'<img src="{html.escape(rel)}" alt="{html.escape(r["image_path"])}" '
            f'onload="this.parentNode.dataset.state=\'loaded\'">{_svg(r)}</div>'
            f'<div class="text"><p class="kind">{html.escape(r["kind"])} · {html.escape(r["language"])} · '
            f'{html.escape(r["id"])}</p><p class="question">{html.escape(question)}</p>'
            f'<pre>{html.escape(reasoning)}</pre></div></div>')
    counts = manifest.get("counts", {})
    kinds = ", ".join(f"{k} {v}" for k, v in manifest.get("records_by_kind", {}).items())
    langs = ", ".join(f"{k} {v}" for k, v in manifest.get("languages", {}).items())
    rows = "".join(
        f"<tr><td>{html.escape(str(s.get('labels')))}</td><td>{html.escape(str(s.get('format', '')))}</td>"
        f"<td>{s.get('images', 0)}</td><td>{s.get('objects', 0)}</td><td>{s.get('eligible', 0)}</td>"
        f"<td>{s.get('named', 0)}</td><td>{s.get('records', 0)}</td>"
        f"<td>{html.escape(str(s.get('error') or s.get('licence') or ''))}</td></tr>"
        for s in manifest.get("sources", []))
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(manifest.get('name', 'images'))}: image records</title>
<style>
body {{ font-family: sans-serif; margin: 16px; background: #fafafa; }}
.card {{ display: flex; gap: 16px; margin: 12px 0; padding: 8px; background: white; border: 1px solid #ddd; }}
.frame {{ position: relative; width: 480px; flex: none; }}
.frame img {{ width: 100%; height: 100%; display: block; }}
.frame svg {{ position: absolute; left: 0; top: 0; width: 100%; height: 100%; }}
.text {{ flex: 1; min-width: 0; }} pre {{ white-space: pre-wrap; font-size: 12px; }}
.kind {{ color: #666; font-size: 12px; }} .question {{ font-weight: bold; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 2px 6px; font-size: 13px; }}
</style></head><body>
<h1>{html.escape(manifest.get('name', ''))}: grounded image records</h1>
<p>{counts.get('records', 0)} records from {counts.get('images', 0)} images ({kinds}; languages: {langs});
{counts.get('problems', 0)} problem(s) in problems.jsonl. Shown: {len(shown)} records, drawn on their images —
target box green, anchor dashed blue, answer box shaded, answer point magenta.</p>
<table><tr><th>labels</th><th>format</th><th>images</th><th>objects</th><th>big enough</th><th>named</th>
<th>records</th><th>licence / error</th></tr>{rows}</table>
{''.join(cards)}
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    return str((out / "index.html").resolve())


def draw_record_png(root: Path, r: dict, path: Path) -> None:
    """The record's overlay drawn into a PNG (image, boxes, point, question and answer as a caption)."""
    from PIL import Image, ImageDraw

    im = Image.open(root / r["image_path"]).convert("RGB")
    d = ImageDraw.Draw(im)
    width = max(2, im.width // 250)
    for s in overlay_shapes(r):
        if s["type"] == "box":
            if s["role"] == "answer":
                continue
            d.rectangle(s["box"], outline=ANCHOR_RGB if s["role"] == "anchor" else TARGET_RGB, width=width)
            d.text((s["box"][0] + 3, s["box"][1] + 2), s["label"], fill=(255, 255, 0))
        else:
            x, y = s["xy"]
            k = 6 * width
            d.ellipse([x - k, y - k, x + k, y + k], outline=POINT_RGB, width=width)
            d.line([x - 2 * k, y, x + 2 * k, y], fill=POINT_RGB, width=width)
            d.line([x, y - 2 * k, x, y + 2 * k], fill=POINT_RGB, width=width)
    answer = json.loads(r["answer"])
    if "box" in answer:
        b = answer["box"]
        d.rectangle([b[0] * im.width, b[1] * im.height, b[2] * im.width, b[3] * im.height], outline=(255, 255, 255),
                    width=1)
    caption = Image.new("RGB", (im.width, 44), (0, 0, 0))
    cd = ImageDraw.Draw(caption)
    cd.text((4, 4), _text_of(r["messages"][1])[:120], fill=(255, 255, 255))
    cd.text((4, 24), "A: " + _text_of(r["messages"][2]).rsplit("\n", 1)[-1][:120], fill=(255, 255, 0))
    sheet = Image.new("RGB", (im.width, im.height + 44))
    sheet.paste(im, (0, 0))
    sheet.paste(caption, (0, im.height))
    sheet.save(path)
