"""Input layouts of the text track: every reader yields rows `(id, position, object-or-problem)` in file order.

- `jsonl`: one JSON object per line (position = line number; a bad line is a problem, not a crash);
- `json`: a JSON list of objects, or an object whose `data` is one;
- `csv` / `tsv`: a header row, then one record per row (every value is text);
- `squad`: SQuAD / KorQuAD nested JSON (`data -> paragraphs -> qas -> answers{text, answer_start}`), v1 and v2.
  Each question becomes one flat row: id, title, question, context, answer (the first answer's text),
  answer_start, is_impossible (v2's flag, or no answers at all), answers (all of them). Unanswerable questions
  stay unanswerable: their answer is empty.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LAYOUTS = ("auto", "jsonl", "json", "csv", "tsv", "squad")
Row = tuple[str, int, "dict[str, Any] | str"]


def detect_layout(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        return suffix[1:]
    if suffix == ".json":
        with path.open("rb") as fh:
            head = fh.read(4096).decode("utf-8", "replace")
        return "squad" if '"paragraphs"' in head or '"qas"' in head else "json"
    return "jsonl"


def read_rows(path: Path, name: str, layout: str = "auto") -> Iterator[Row]:
    layout = detect_layout(path) if layout == "auto" else layout
    if layout == "jsonl":
        with path.open("rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if raw.strip():  # blank lines (a trailing newline) are not records
                    yield f"{name}:{lineno}", lineno, _object(raw)
        return
    if layout in ("csv", "tsv"):
        text = path.read_text(encoding="utf-8-sig")
        reader = csv.DictReader(io.StringIO(text), delimiter="\t" if layout == "tsv" else ",")
        for row in reader:
            yield f"{name}:{reader.line_num}", reader.line_num, dict(row)
        return
    try:
        doc = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        yield f"{name}:0", 0, f"not valid JSON: {e}"
        return
    if layout == "squad":
        yield from _squad(doc, name)
        return
    items = doc.get("data") if isinstance(doc, dict) else doc
    if not isinstance(items, list):
        yield f"{name}:0", 0, "expected a JSON list of records (or an object whose 'data' is one)"
        return
    for i, obj in enumerate(items, 1):
        yield f"{name}:{i}", i, obj if isinstance(obj, dict) else f"not a JSON object (got {type(obj).__name__})"


def _object(raw: bytes) -> dict | str:
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return f"not valid JSON: {e}"
    return obj if isinstance(obj, dict) else f"not a JSON object (got {type(obj).__name__})"


def _squad(doc: Any, name: str) -> Iterator[Row]:
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        yield f"{name}:0", 0, "not SQuAD layout: expected an object with a 'data' list of articles"
        return
    n = 0
    for a, article in enumerate(doc["data"]):
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            yield f"{name}:data[{a}]", n, "not SQuAD layout: an article without a 'paragraphs' list"
            continue
        for p, para in enumerate(paragraphs):
            if not isinstance(para, dict) or not isinstance(para.get("qas"), list):
                yield f"{name}:data[{a}].paragraphs[{p}]", n, "not SQuAD layout: a paragraph without 'qas'"
                continue
            for q, qa in enumerate(para["qas"]):
                n += 1
                if not isinstance(qa, dict):
                    yield f"{name}:data[{a}].paragraphs[{p}].qas[{q}]", n, "a question that is not an object"
                    continue
                answers = [x for x in qa.get("answers") or [] if isinstance(x, dict)]
                first = answers[0] if answers else {}
                impossible = bool(qa.get("is_impossible", not answers))
                qid = qa.get("id", f"data[{a}].paragraphs[{p}].qas[{q}]")
                yield f"{name}:{qid}", n, {
                    "id": qid, "title": article.get("title"), "question": qa.get("question"),
                    "context": para.get("context"), "answer": "" if impossible else first.get("text"),
                    # every offset annotators gave for the first answer's text (SQuAD dev has up to five)
                    "answer_start": None if impossible else _starts(answers, first),
                    "is_impossible": impossible, "answers": answers}


def _starts(answers: list[dict], first: dict) -> int | list[int] | None:
    starts = list(dict.fromkeys(a.get("answer_start") for a in answers if a.get("text") == first.get("text")))
    return starts[0] if len(starts) == 1 else starts
