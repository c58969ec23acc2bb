"""Build a text recipe: read each source's JSON Lines, trace every record, write records / rejects / manifest.

A bad input line (not JSON, missing a field) or a record whose confirmed answer is not its source label is a
reject with its file and line number — data, never a crash. Output order follows sources, files and lines, and
nothing time- or machine-dependent goes into `records.jsonl`, so a rebuild with the same seed is byte-identical.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vla_builder.recipe import RecipeError
from vla_builder.text.recipe import LoadedTextRecipe, TextSourceConfig, load_text_recipe
from vla_builder.text.traces import Trace, classification_trace, normalized, qa_trace

# Same meanings as the video track's exit codes (vla_builder.build), not imported to keep this track light.
EXIT_OK, EXIT_NOTHING_BUILT, EXIT_BAD_RECIPE, EXIT_PARTIAL = 0, 1, 2, 3
FILES = ("records.jsonl", "rejects.jsonl", "manifest.json")

SYSTEM = {
    "qa": "You answer questions using only the given context. Reason in three labelled steps (question basis, "
          "error verification, answer confirmation), then give the final answer as a span of the context.",
    "classification": "You classify texts into one of the given labels. Reason in three labelled steps (question "
                      "basis, error verification, answer confirmation), then give the final label.",
}


class TextBuildError(Exception):
    pass


@dataclass
class TextReport:
    output: Path
    read: int = 0
    records: int = 0
    rejects: list[dict] = field(default_factory=list)
    written: bool = False
    wall_s: float = 0.0

    @property
    def exit_code(self) -> int:
        if not self.records:
            return EXIT_NOTHING_BUILT
        return EXIT_PARTIAL if self.rejects else EXIT_OK


def _get(obj: Any, dotted: str) -> tuple[bool, Any]:
    """Value at a dotted key ('answers.text.0' reaches into nested objects and lists)."""
    for part in dotted.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return False, None
    return True, obj


def _read_fields(raw: bytes, src: TextSourceConfig) -> dict[str, str] | str:
    """The record's roles as text, or why the line cannot be a record."""
    try:
        obj = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return f"not valid JSON: {e}"
    if not isinstance(obj, dict):
        return f"not a JSON object (got {type(obj).__name__})"
    values, missing = {}, []
    for role, key in src.fields.items():
        ok, v = _get(obj, key)
        if not ok or v is None:
            missing.append(key)
        elif isinstance(v, int) and not isinstance(v, bool):
            values[role] = str(v)  # integer class ids are common; the label set is written as text
        elif not isinstance(v, str):
            return f"field '{key}' is {type(v).__name__}, expected text"
        else:
            values[role] = v
    return f"missing field(s): {', '.join(missing)}" if missing else values


def _trace(src: TextSourceConfig, v: dict[str, str], key: str, duplicate_of: str | None) -> tuple[Trace, str, str]:
    """(trace, the user turn, the source label)."""
    if src.task == "qa":
        t = qa_trace(v["question"], v["context"], v["answer"], key=key, duplicate_of=duplicate_of)
        return t, f"Context: {v['context']}\n\nQuestion: {v['question']}", v["answer"]
    labels = src.labels or []
    t = classification_trace(v["text"], v["label"], labels, key=key, cues=src.cues, duplicate_of=duplicate_of)
    return t, f"Classify the text as one of: {', '.join(labels)}.\n\nText: {v['text']}", v["label"]


def _dedup_key(src: TextSourceConfig, v: dict[str, str]) -> str:
    parts = (v["question"], v["context"]) if src.task == "qa" else (v["text"],)
    return src.task + "\x00" + "\x00".join(normalized(p) for p in parts)


def _check_output(output: Path) -> None:
    """Refuse to write into a folder that is not ours: a wrong --output must not clobber someone's files."""
    if output.exists() and not output.is_dir():
        raise TextBuildError(f"output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()):
        try:
            ours = json.loads((output / "manifest.json").read_text()).get("kind") == "text"
        except (OSError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise TextBuildError(f"output {output} is not empty and holds no text-track manifest.json; "
                                 "choose another --output")


def _jsonl(rows: list[dict]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def build_text(loaded: LoadedTextRecipe, output: Path | None = None, fail_fast: bool = False) -> TextReport:
    t0 = time.perf_counter()
    recipe = loaded.recipe
    report = TextReport(output=Path(output) if output is not None else loaded.output)
    _check_output(report.output)
    records: list[dict] = []
    seen: dict[str, str] = {}  # duplicate key -> id of the emitted record it duplicates
    per_source = []
    for src, files in zip(recipe.sources, loaded.files):
        counts = {"read": 0, "records": 0, "rejects": 0}
        for f in files:
            name = loaded.display(f)
            with f.open("rb") as fh:
                for lineno, raw in enumerate(fh, 1):
                    if not raw.strip():
                        continue  # blank lines (a trailing newline) are not records
                    counts["read"] += 1
                    rid = f"{name}:{lineno}"
                    reject = {"id": rid, "source": name, "line": lineno}
                    v = _read_fields(raw, src)
                    if isinstance(v, str):
                        reject.update(stage="parse", reason=v, raw=raw.decode("utf-8", "replace").strip()[:500])
                    else:
                        dkey = _dedup_key(src, v)
                        trace, user, label = _trace(src, v, f"{recipe.seed}|{rid}", seen.get(dkey))
                        if trace.answer == label:  # the gate: only a confirmed answer equal to the label is kept
                            seen[dkey] = rid
                            counts["records"] += 1
                            records.append({
                                "id": rid, "source": name, "line": lineno, "task": src.task,
                                "messages": [{"role": "system", "content": SYSTEM[src.task]},
                                             {"role": "user", "content": user},
                                             {"role": "assistant", "content": trace.render()}],
                                "trace": trace.as_dict(), "answer": trace.answer})
                            continue
                        why = "; ".join(f"{c.name}: {c.detail}" for c in trace.failed) or \
                            f"confirmed answer '{trace.answer}' differs from the source label '{label}'"
                        reject.update(stage="verify", reason=why, label=label, trace=trace.as_dict())
                    counts["rejects"] += 1
                    report.rejects.append(reject)
                    if fail_fast:
                        report.read += counts["read"]
                        report.wall_s = time.perf_counter() - t0
                        return report  # nothing written: a fail-fast build is all or nothing
        report.read += counts["read"]
        per_source.append({"path": src.path, "task": src.task, "licence": src.licence,
                           "files": [loaded.display(f) for f in files], **counts})
    report.records = len(records)
    manifest = {"kind": "text", "name": recipe.name, "format": recipe.format, "seed": recipe.seed,
                "counts": {"read": report.read, "records": report.records, "rejects": len(report.rejects)},
                "sources": per_source, "recipe_file": loaded.path.name, "recipe": recipe.model_dump(mode="json")}
    report.output.mkdir(parents=True, exist_ok=True)
    texts = (_jsonl(records), _jsonl(report.rejects), json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    for fname, text in zip(FILES, texts):  # manifest last: its presence marks a finished build
        tmp = report.output / f".{fname}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, report.output / fname)
    report.written = True
    report.wall_s = time.perf_counter() - t0
    return report


def build_text_cli(args: Any) -> int:
    """`python -m vla_builder build RECIPE` for `kind: text` recipes (args as `vla_builder.cli` parses them)."""
    try:
        loaded = load_text_recipe(args.recipe, getattr(args, "overrides", None))
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_RECIPE
    try:
        report = build_text(loaded, getattr(args, "output", None), fail_fast=bool(getattr(args, "fail_fast", False)))
    except TextBuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_RECIPE
    if not report.written:
        r = report.rejects[-1]
        print(f"stopped at the first reject (--fail-fast), nothing written: {r['source']}:{r['line']}: {r['reason']}")
        return EXIT_PARTIAL
    print(f"dataset:  {report.output.resolve()}")
    print(f"records:  {report.records}  rejects: {len(report.rejects)}  (read {report.read} lines)")
    if report.rejects:
        print(f"rejects:  {report.output / 'rejects.jsonl'}")
        for r in report.rejects[:10]:
            print(f"  {r['source']}:{r['line']}: {r['reason']}")
        if len(report.rejects) > 10:
            print(f"  ... and {len(report.rejects) - 10} more")
    print(f"wall time: {report.wall_s:.2f} s")
    return report.exit_code
