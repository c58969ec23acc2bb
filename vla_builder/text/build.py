"""Build a text recipe: read each source (any layout of `readers`), trace every record, write records / rejects /
manifest.

A bad input line (not JSON, missing a field) or a record whose confirmed answer is not its source label is a
reject with its file and line number — data, never a crash. Every traced record has a verdict: confirmed, flagged
(kept, with the reasons a reviewer should look) or rejected (a check found evidence against its label); the recipe's
`flagged` writes flagged records with the rest or holds them apart in flagged.jsonl, and the manifest counts each.
Output order follows sources, files and lines, and nothing time- or machine-dependent goes into `records.jsonl`,
so a rebuild with the same seed is byte-identical.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vla_builder.text.lang import language_of
from vla_builder.text.readers import read_rows
from vla_builder.text.recipe import OPTIONAL_ROLES, LoadedTextRecipe, TextSourceConfig, load_text_recipe
from vla_builder.text.qa import qa_trace
from vla_builder.text.tasks import (choice_label, choice_trace, classification_trace, nli_label, nli_trace,
                                    summary_trace)
from vla_builder.text.traces import UNANSWERABLE, Trace, normalized
from vla_builder.track_build import (EXIT_PARTIAL, RecordsReport, claim_output, jsonl, load_and_build, print_first,
                                     write_files)

SYSTEM = {
    "qa": "You answer questions using only the given context. Reason in three labelled steps (question basis, "
          "error verification, answer confirmation), then give the final answer as a span of the context.",
    "classification": "You classify texts into one of the given labels. Reason in three labelled steps (question "
                      "basis, error verification, answer confirmation), then give the final label.",
    "multiple_choice": "You answer multiple-choice questions. Reason in three labelled steps (question basis, error "
                       "verification, answer confirmation), then give the chosen option.",
    "nli": "You decide whether the premise entails, contradicts or is neutral to the hypothesis. Reason in three "
           "labelled steps (question basis, error verification, answer confirmation), then give the relation.",
    "summarization": "You summarize documents faithfully. Reason in three labelled steps (question basis, error "
                     "verification, answer confirmation), then give the summary.",
}
SYSTEM_KO = {
    "qa": "주어진 지문만 근거로 질문에 답한다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 뒤 지문의 한 구간을 "
          "최종 답으로 제시한다.",
    "classification": "본문을 주어진 레이블 중 하나로 분류한다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 뒤 "
                      "최종 레이블을 제시한다.",
    "multiple_choice": "객관식 질문에 답한다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 뒤 고른 선택지를 "
                       "제시한다.",
    "nli": "전제가 가설을 함의하는지, 모순되는지, 중립인지 판단한다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 "
           "뒤 관계를 제시한다.",
    "summarization": "문서를 충실하게 요약한다. 세 단계(질문 근거, 오류 검증, 답변 확정)로 추론한 뒤 요약을 제시한다.",
}


@dataclass
class TextReport(RecordsReport):
    read: int = 0
    rejects: list[dict] = field(default_factory=list)  # rejects.jsonl: id, source, line, stage, reason
    written: bool = False
    held: int = 0  # flagged records written to flagged.jsonl instead of the dataset

    @property
    def partial(self) -> bool:
        return bool(self.rejects)


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


def _read_fields(obj: dict, src: TextSourceConfig) -> dict[str, Any] | str:
    """The record's roles (text, or typed where the role needs it), or why the object cannot be a record."""
    values: dict[str, Any] = {}
    missing = []
    optional = OPTIONAL_ROLES.get(src.task, ())
    for role, key in src.fields.items():
        ok, v = _get(obj, key)
        if not ok or v is None or (role in optional and v == ""):
            if role in optional:
                values[role] = None
            else:
                missing.append(key)
            continue
        if role == "answer_start":
            if isinstance(v, str) and v.strip().isdigit():
                v = int(v)
            offsets = v if isinstance(v, list) else [v]
            if not offsets or not all(isinstance(x, int) and not isinstance(x, bool) for x in offsets):
                return f"field '{key}' is {type(v).__name__}, expected a character offset"
            values[role] = v
        elif role == "impossible":
            values[role] = v if isinstance(v, bool) else str(v).strip().lower() in ("true", "1", "yes")
        elif role == "choices":
            if isinstance(v, dict) and isinstance(v.get("text"), list):
                v = v["text"]  # {"text": [...], "label": [...]} as in ARC / CommonsenseQA
            if isinstance(v, str):
                try:
                    v = json.loads(v)  # a CSV cell holding a JSON list
                except json.JSONDecodeError:
                    pass
            if not isinstance(v, list) or not all(isinstance(c, (str, int, float)) for c in v):
                return f"field '{key}' is {type(v).__name__}, expected a list of choices"
            values[role] = [str(c) for c in v]
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            values[role] = v if src.task in ("multiple_choice", "nli") and role in ("answer", "label") else str(v)
        elif not isinstance(v, str):
            return f"field '{key}' is {type(v).__name__}, expected text"
        else:
            values[role] = v
    return f"missing field(s): {', '.join(missing)}" if missing else values


def _language(recipe_language: str, src: TextSourceConfig, v: dict[str, Any]) -> str:
    chosen = src.language or recipe_language
    if chosen != "auto":
        return chosen
    return language_of(*(x for x in v.values() if isinstance(x, str)))


def _trace(src: TextSourceConfig, v: dict[str, Any], key: str, duplicate_of: str | None,
           lang: str) -> tuple[Trace, str, str]:
    """(trace, the user turn, the source label)."""
    ko = lang == "ko"
    if src.task == "qa":
        impossible = bool(v.get("impossible")) and not v["answer"].strip()
        t = qa_trace(v["question"], v["context"], v["answer"], key=key, duplicate_of=duplicate_of,
                     answer_start=v.get("answer_start"), impossible=bool(v.get("impossible")), lang=lang,
                     weak_support=src.weak_support, on_fail=src.on_fail)
        label = UNANSWERABLE[lang] if impossible else v["answer"]
        user = f"지문: {v['context']}\n\n질문: {v['question']}" if ko else \
            f"Context: {v['context']}\n\nQuestion: {v['question']}"
        return t, user, label
    if src.task == "multiple_choice":
        t = choice_trace(v["question"], v["choices"], v["answer"], context=v.get("context"), key=key,
                         duplicate_of=duplicate_of, index_base=src.index_base, lang=lang)
        options = "\n".join(f"{chr(65 + i)}. {c}" for i, c in enumerate(v["choices"]))
        passage = (f"{'지문' if ko else 'Passage'}: {v['context']}\n\n" if v.get("context") else "")
        user = passage + f"{'질문' if ko else 'Question'}: {v['question']}\n{options}"
        return t, user, choice_label(v["choices"], v["answer"], src.index_base) or str(v["answer"])
    if src.task == "nli":
        labels = src.labels or []
        t = nli_trace(v["premise"], v["hypothesis"], v["label"], labels, key=key, duplicate_of=duplicate_of,
                      lang=lang)
        user = (f"전제: {v['premise']}\n가설: {v['hypothesis']}\n관계({', '.join(labels)})는?" if ko else
                f"Premise: {v['premise']}\nHypothesis: {v['hypothesis']}\nRelation ({', '.join(labels)})?")
        return t, user, nli_label(v["label"], labels) or str(v["label"])
    if src.task == "summarization":
        t = summary_trace(v["document"], v["summary"], key=key, duplicate_of=duplicate_of, lang=lang)
        user = f"다음 문서를 요약하라.\n\n{v['document']}" if ko else f"Summarize the document.\n\n{v['document']}"
        return t, user, v["summary"]
    labels = src.labels or []
    t = classification_trace(v["text"], v["label"], labels, key=key, cues=src.cues, duplicate_of=duplicate_of,
                             lang=lang)
    user = (f"본문을 다음 중 하나로 분류하라: {', '.join(labels)}.\n\n본문: {v['text']}" if ko else
            f"Classify the text as one of: {', '.join(labels)}.\n\nText: {v['text']}")
    return t, user, v["label"]


_DEDUP_ROLES = {"qa": ("question", "context"), "classification": ("text",), "multiple_choice": ("question", "choices"),
                "nli": ("premise", "hypothesis"), "summarization": ("document",)}


def _dedup_key(src: TextSourceConfig, v: dict[str, Any]) -> str:
    parts = [v[r] if isinstance(v[r], str) else json.dumps(v[r], ensure_ascii=False) for r in _DEDUP_ROLES[src.task]]
    return src.task + "\x00" + "\x00".join(normalized(p) for p in parts)


def _write_parquet(records: list[dict], path: Path) -> None:
    """One row per record; the trace (its shape differs per task) travels as a JSON string, the messages as a
    list of {role, content} — the chat layout `datasets` and SFT trainers read."""
    import pyarrow as pa  # pyarrow comes with `datasets` (a lerobot dependency)
    import pyarrow.parquet as pq

    schema = pa.schema([("id", pa.string()), ("source", pa.string()), ("line", pa.int64()), ("task", pa.string()),
                        ("language", pa.string()),
                        ("messages", pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))),
                        ("answer", pa.string()), ("verdict", pa.string()), ("flags", pa.list_(pa.string())),
                        ("reasons", pa.string()), ("trace", pa.string())])
    rows = [{**r, "trace": json.dumps(r["trace"], ensure_ascii=False),
             "reasons": json.dumps(r["reasons"], ensure_ascii=False)} for r in records]
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def build_text(loaded: LoadedTextRecipe, output: Path | None = None, fail_fast: bool = False) -> TextReport:
    t0 = time.perf_counter()
    recipe = loaded.recipe
    report = TextReport(output=Path(output) if output is not None else loaded.output)
    claim_output(report.output, "text", "text-track")
    records: list[dict] = []
    held: list[dict] = []  # flagged records a `flagged: exclude` recipe keeps out of the dataset
    seen: dict[str, str] = {}  # duplicate key -> id of the emitted record it duplicates
    per_source = []
    check_counts: dict[str, dict[str, int]] = {}  # check name -> passed / failed / flagged, over every record
    languages: dict[str, int] = {}
    for src, files in zip(recipe.sources, loaded.files):
        counts = {"read": 0, "records": 0, "rejects": 0, "confirmed": 0, "flagged": 0, "rejected": 0}
        for f in files:
            name = loaded.display(f)
            for rid, position, v in read_rows(f, name, src.layout):
                counts["read"] += 1
                reject = {"id": rid, "source": name, "line": position}
                if isinstance(v, dict):
                    v = _read_fields(v, src)
                if isinstance(v, str):
                    reject.update(stage="parse", reason=v)
                else:
                    dkey = _dedup_key(src, v)
                    lang = _language(recipe.language, src, v)
                    languages[lang] = languages.get(lang, 0) + 1
                    trace, user, label = _trace(src, v, f"{recipe.seed}|{rid}", seen.get(dkey), lang)
                    for c in trace.checks:
                        tally = check_counts.setdefault(c.name, {"passed": 0, "failed": 0, "flagged": 0})
                        tally["flagged" if c.flagged else "passed" if c.passed else "failed"] += 1
                    if trace.answer == label:  # the gate: only a confirmed answer equal to the label is kept
                        seen[dkey] = rid
                        counts[trace.verdict] += 1
                        system = (SYSTEM_KO if lang == "ko" else SYSTEM)[src.task]
                        record = {
                            "id": rid, "source": name, "line": position, "task": src.task, "language": lang,
                            "messages": [{"role": "system", "content": system},
                                         {"role": "user", "content": user},
                                         {"role": "assistant", "content": trace.render()}],
                            "trace": trace.as_dict(), "answer": trace.answer, "verdict": trace.verdict,
                            "flags": [c.name for c in trace.flagged], "reasons": trace.reasons}
                        if trace.verdict == "flagged" and recipe.flagged == "exclude":
                            held.append(record)
                        else:
                            counts["records"] += 1
                            records.append(record)
                        continue
                    counts["rejected"] += 1
                    why = "; ".join(f"{c.name}: {c.detail}" for c in trace.failed) or \
                        f"confirmed answer '{trace.answer}' differs from the source label '{label}'"
                    reasons = trace.reasons if trace.failed else [{"check": "label_gate", "rule": "label_gate",
                                                                   "detail": why}]
                    reject.update(stage="verify", reason=why, label=label, verdict="rejected", reasons=reasons,
                                  trace=trace.as_dict())
                counts["rejects"] += 1
                report.rejects.append(reject)
                if fail_fast:
                    report.read += counts["read"]
                    report.wall_s = time.perf_counter() - t0
                    return report  # nothing written: a fail-fast build is all or nothing
        report.read += counts["read"]
        per_source.append({"path": src.path, "task": src.task, "licence": src.licence,
                           "files": [loaded.display(f) for f in files], **counts})
    report.records, report.held = len(records), len(held)
    files = ([] if recipe.format == "parquet" else ["records.jsonl"]) + \
        (["records.parquet"] if recipe.format in ("parquet", "both") else []) + \
        (["flagged.jsonl"] if recipe.flagged == "exclude" else []) + ["rejects.jsonl", "manifest.json"]
    manifest = {"kind": "text", "name": recipe.name, "format": recipe.format, "seed": recipe.seed, "files": files,
                "counts": {"read": report.read, "records": report.records, "rejects": len(report.rejects),
                           # verdicts of the traced records (parse errors have none): flagged ones are in
                           # records (flagged: include) or in flagged.jsonl (exclude)
                           **{v: sum(s[v] for s in per_source) for v in ("confirmed", "flagged", "rejected")}},
                "checks": dict(sorted(check_counts.items())), "languages": dict(sorted(languages.items())),
                "sources": per_source, "recipe_file": loaded.path.name, "recipe": recipe.model_dump(mode="json")}
    report.output.mkdir(parents=True, exist_ok=True)
    for stale in set(("records.jsonl", "records.parquet", "flagged.jsonl")) - set(files):
        (report.output / stale).unlink(missing_ok=True)  # a rebuild in another format leaves no old records behind
    if "records.parquet" in files:
        tmp = report.output / ".records.parquet.tmp"
        _write_parquet(records, tmp)
        os.replace(tmp, report.output / "records.parquet")
    outputs = [("rejects.jsonl", jsonl(report.rejects))] + \
        ([("flagged.jsonl", jsonl(held))] if "flagged.jsonl" in files else []) + [
               ("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")]
    if "records.jsonl" in files:
        outputs.insert(0, ("records.jsonl", jsonl(records)))
    write_files(report.output, outputs)  # manifest last: its presence marks a finished build
    report.written = True
    report.wall_s = time.perf_counter() - t0
    return report


def build_text_cli(args: Any) -> int:
    """`python -m vla_builder build RECIPE` for `kind: text` recipes (args as `vla_builder.cli` parses them)."""
    report = load_and_build(lambda: load_text_recipe(args.recipe, getattr(args, "overrides", None)),
                            lambda loaded: build_text(loaded, getattr(args, "output", None),
                                                      fail_fast=bool(getattr(args, "fail_fast", False))))
    if isinstance(report, int):
        return report
    if not report.written:
        r = report.rejects[-1]
        print(f"stopped at the first reject (--fail-fast), nothing written: {r['source']}:{r['line']}: {r['reason']}")
        return EXIT_PARTIAL
    print(f"dataset:  {report.output.resolve()}")
    print(f"records:  {report.records}  rejects: {len(report.rejects)}  (read {report.read} lines)")
    if report.held:
        print(f"flagged:  {report.held} held for review in {report.output / 'flagged.jsonl'} (flagged: exclude)")
    if report.rejects:
        print(f"rejects:  {report.output / 'rejects.jsonl'}")
        print_first([f"{r['source']}:{r['line']}: {r['reason']}" for r in report.rejects])
    print(f"wall time: {report.wall_s:.2f} s")
    return report.exit_code
