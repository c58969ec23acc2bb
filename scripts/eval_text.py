"""Does the text track's verification keep true labels and catch wrong ones? Measured on real public samples.

For each committed excerpt (recipes/data/text/real/, sources in its README):
- true records: the share of published records the verifier confirms, flags (kept for review) and rejects.
  Records the published file itself gets wrong (KorQuAD questions filed under another paragraph: their
  `answer_start` points into a different text) are counted apart as `published_errors` — rejecting them is right;
- corrupted copies of the kept true records, rejected (and flagged):
  QA `swap` (the answer replaced by another question's answer on the same context — or, when there is none, a
  span of another sentence — with a consistent answer_start), QA `shift` (answer_start moved by 3 characters),
  NLI / classification `flip` (another label of the set), multiple choice `choice` (another index), summarization
  `swap` (another record's summary).

Sets in FIRST_LOOK are reported apart from the tuned ones (QA_FILES) and pooled per language.

  .venv/bin/python scripts/eval_text.py [--korean-tokens morph|ngram] [--on-fail RULE=flag] [--tuned-only]
                                        [--json out.json] [-v]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vla_builder.text import lang as lang_mod  # noqa: E402
from vla_builder.text.lang import language_of, sentences  # noqa: E402
from vla_builder.text.readers import read_rows  # noqa: E402
from vla_builder.text.tasks import choice_label, choice_trace, nli_label, nli_trace, summary_trace  # noqa: E402
from vla_builder.text.qa import qa_trace  # noqa: E402

REAL = REPO / "recipes" / "data" / "text" / "real"
QA_FILES = {"korquad_v1.0_dev": "korquad_v1.0_dev_excerpt.json", "squad_v2.0_dev": "squad_v2.0_dev_excerpt.json",
            # Held out: added after the rules were last changed, measured untouched (BENCHMARKS.md reports them
            # apart; rules tuned on them would make them tuned data).
            "korquad_v1.0_dev_heldout": "korquad_v1.0_dev_heldout.json",
            "squad_v2.0_dev_heldout": "squad_v2.0_dev_heldout.json",
            # Held out twice: added after the fixes the first held-out look prompted; no rule changed since.
            "korquad_v1.0_dev_heldout2": "korquad_v1.0_dev_heldout2.json",
            "squad_v2.0_dev_heldout2": "squad_v2.0_dev_heldout2.json",
            # Held out three times: another article (Computational_complexity_theory), measured before round 3's
            # rule changes and again after, never tuned on.
            "squad_v2.0_dev_heldout3": "squad_v2.0_dev_heldout3.json",
            # Held out four times: the same article's next paragraphs, first measured after round 3's last change.
            "squad_v2.0_dev_heldout4": "squad_v2.0_dev_heldout4.json",
            # Round 4: two more articles. Held out 5 (Southern_California) measured at first look before any round-4
            # rule change, then tuned on; held out 6 (Victoria_(Australia)) measured once, after the last change.
            "squad_v2.0_dev_heldout5": "squad_v2.0_dev_heldout5.json",
            "squad_v2.0_dev_heldout6": "squad_v2.0_dev_heldout6.json",
            # Round 5: measured once, after round 5's last rule change (Sky_(United_Kingdom); KorQuAD 윤증 and
            # 와트 타일러의 난).
            "squad_v2.0_dev_heldout7": "squad_v2.0_dev_heldout7.json",
            "korquad_v1.0_dev_heldout3": "korquad_v1.0_dev_heldout3.json",
            # Measured once, after round 5's last rule change (weak_support, the Korean past-tense contraction):
            # KorQuAD 특별시 / 게임_(래퍼) / 문화재_반환; SQuAD 2.0 *train* "Beyoncé" ¶0-4 (the stored dev copy is used up).
            "korquad_v1.0_dev_heldout4": "korquad_v1.0_dev_heldout4.json",
            "squad_v2.0_dev_heldout8": "squad_v2.0_dev_heldout8.json",
            # Round 6's first look (measured once after the three-verdict change: BENCHMARKS.md), then the fixes
            # its misses prompted (note marks and days of the month are no rival years, "what birth date", a
            # mention's own apposition, "Paris salons", 5개 / 35개, straight quotation pairs): tuned now.
            "korquad_v1.0_dev_heldout5": "korquad_v1.0_dev_heldout5.json",
            "squad_v2.0_train_heldout9": "squad_v2.0_train_heldout9.json",
            # Round 6's second first look, then the fixes its misses prompted (Korean count questions by noun,
            # 두 골's counter, a time of day is no rival date): tuned now.
            "korquad_v1.0_dev_heldout6": "korquad_v1.0_dev_heldout6.json",
            "squad_v2.0_train_heldout10": "squad_v2.0_train_heldout10.json"}
# First look: committed before any measurement, measured once after the last rule change and before any that
# follows it. A rule tuned on these makes them tuned data: move them to QA_FILES then.
FIRST_LOOK = {"korquad_v1.0_dev_heldout7": "korquad_v1.0_dev_heldout7.json",
              "squad_v2.0_train_heldout11": "squad_v2.0_train_heldout11.json"}


def _qa_rows(path: Path) -> list[dict]:
    """Flat SQuAD rows; `starts` lists every offset given for the answer, `answer_start` the first that holds it."""
    rows = [v for _, _, v in read_rows(path, path.name, "squad") if isinstance(v, dict)]
    for r in rows:
        s = r["answer_start"]
        r["starts"] = [] if s is None else [s] if isinstance(s, int) else list(s)
        held = [x for x in r["starts"] if r["context"][x:x + len(r["answer"])] == r["answer"]]
        r["answer_start"] = held[0] if held else (r["starts"][0] if r["starts"] else None)
    return rows


def _published_error(r: dict) -> bool:
    """The published offsets hold some other text: the question is filed under the wrong paragraph."""
    s = r["answer_start"]
    return s is not None and r["context"][s:s + len(r["answer"])] != r["answer"]


def _swap(r: dict, same_context: list[dict], rng: random.Random) -> tuple[str, int] | None:
    """Another question's answer on the same context that does not overlap this answer; else a span of another
    sentence (one to three words)."""
    a, b = r["answer_start"], r["answer_start"] + len(r["answer"])
    for o in same_context:
        s, t = o["answer_start"], o["answer_start"] + len(o["answer"])
        if o["answer"] != r["answer"] and (t <= a or s >= b) and o["answer"] not in r["answer"] \
                and r["answer"] not in o["answer"]:
            return o["answer"], s
    ctx, lang = r["context"], language_of(r["context"])
    others = [(x, y) for x, y in sentences(ctx, lang) if not x <= a < y]
    if not others:
        return None
    x, y = rng.choice(others)
    words = [(m_start, m_start + len(w)) for m_start, w in _words(ctx[x:y], x)]
    if not words:
        return None
    i = rng.randrange(len(words))
    j = min(len(words), i + rng.randint(1, 3)) - 1
    return ctx[words[i][0]:words[j][1]], words[i][0]


def _words(text: str, offset: int) -> list[tuple[int, str]]:
    import re
    return [(offset + m.start(), m.group(0)) for m in re.finditer(r"[\w'-]+", text)]


def eval_qa(path: Path, on_fail: dict[str, str] | None = None) -> dict:
    """Three verdicts per record: true records confirmed / flagged / rejected; swaps (built on the kept true
    records) rejected / flagged; shifted offsets rejected."""
    rows = _qa_rows(path)
    rng = random.Random(0)
    answerable = [r for r in rows if not r["is_impossible"]]
    errors = [r for r in answerable if _published_error(r)]
    true = [r for r in answerable if not _published_error(r)]
    by_context: dict[str, list[dict]] = {}
    for r in true:
        by_context.setdefault(r["context"], []).append(r)
    res = {"records": len(rows), "answerable": len(answerable), "unanswerable": len(rows) - len(answerable),
           "published_errors": len(errors), "published_errors_rejected": 0, "true": len(true), "confirmed": 0,
           "flagged": 0, "rejected": 0, "kept": 0, "swap": [0, 0], "swap_flagged": 0, "shift": [0, 0],
           "unanswerable_kept": 0, "false_rejections": [], "true_flags": {}, "swap_flags": {}, "swaps_missed": []}
    kw = {"on_fail": on_fail, "weak_support": "flag"}
    for r in errors:
        t = qa_trace(r["question"], r["context"], r["answer"], key="e", answer_start=r["answer_start"],
                     lang=language_of(r["context"], r["question"]), **kw)
        res["published_errors_rejected"] += t.verdict == "rejected"
    for r in rows:
        if r["is_impossible"]:
            t = qa_trace(r["question"], r["context"], "", key="u", impossible=True,
                         lang=language_of(r["context"], r["question"]), **kw)
            res["unanswerable_kept"] += t.answer is not None
    for r in true:
        lang = language_of(r["context"], r["question"])
        t = qa_trace(r["question"], r["context"], r["answer"], key="t", answer_start=r["starts"], lang=lang, **kw)
        res[t.verdict] += 1
        if t.verdict == "rejected" or t.answer != r["answer"]:
            res["false_rejections"].append({"id": r["id"], "answer": r["answer"],
                                            "why": "; ".join(f"{c['rule']}: {c['detail']}" for c in t.reasons)})
            continue
        res["kept"] += 1
        _count(res["true_flags"], t)
        sw = _swap(r, by_context[r["context"]], rng)
        if sw:
            bad = qa_trace(r["question"], r["context"], sw[0], key="s", answer_start=sw[1], lang=lang, **kw)
            res["swap"][0] += 1
            res["swap"][1] += bad.verdict == "rejected"
            res["swap_flagged"] += bad.verdict == "flagged"
            _count(res["swap_flags"], bad)
            if bad.verdict != "rejected":
                res["swaps_missed"].append({"id": r["id"], "question": r["question"], "true": r["answer"],
                                            "swapped": sw[0], "verdict": bad.verdict})
        bad = qa_trace(r["question"], r["context"], r["answer"], key="h", answer_start=[x + 3 for x in r["starts"]],
                       lang=lang, **kw)
        res["shift"][0] += 1
        res["shift"][1] += bad.verdict == "rejected"
    return res


def _count(tally: dict[str, int], t) -> None:
    """Per rule, how many kept records it flagged."""
    for c in t.flagged:
        tally[c.rule or c.name] = tally.get(c.rule or c.name, 0) + 1


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def eval_nli(path: Path, fields: dict[str, str], labels: list[str]) -> dict:
    rows = _jsonl(path)
    res = {"records": len(rows), "kept": 0, "confirmed": 0, "flagged": 0, "flip": [0, 0], "flip_flagged": 0}
    for i, r in enumerate(rows):
        p, h, y = r[fields["premise"]], r[fields["hypothesis"]], r[fields["label"]]
        lang = language_of(p, h)
        t = nli_trace(p, h, y, labels, key=str(i), lang=lang)
        res["kept"] += t.answer == nli_label(y, labels)
        res[t.verdict] = res.get(t.verdict, 0) + 1
        other = labels[(labels.index(nli_label(y, labels)) + 1) % len(labels)]
        bad = nli_trace(p, h, other, labels, key=str(i), lang=lang)
        res["flip"][0] += 1
        res["flip"][1] += bad.verdict == "rejected"
        res["flip_flagged"] += bool(bad.flagged)
    return res


def eval_choice(path: Path) -> dict:
    rows = _jsonl(path)
    res = {"records": len(rows), "kept": 0, "confirmed": 0, "flagged": 0, "choice": [0, 0], "choice_flagged": 0}
    for i, r in enumerate(rows):
        lang = language_of(r["question"], r.get("context") or "")
        t = choice_trace(r["question"], r["choices"], r["answer"], context=r.get("context"), key=str(i), lang=lang)
        res["kept"] += t.answer == choice_label(r["choices"], r["answer"])
        res[t.verdict] = res.get(t.verdict, 0) + 1
        other = (int(r["answer"]) + 1) % len(r["choices"])
        bad = choice_trace(r["question"], r["choices"], other, context=r.get("context"), key=str(i), lang=lang)
        res["choice"][0] += 1
        res["choice"][1] += bad.verdict == "rejected"
        res["choice_flagged"] += bool(bad.flagged)
    return res


def eval_summary(path: Path) -> dict:
    rows = _jsonl(path)
    res = {"records": len(rows), "kept": 0, "confirmed": 0, "flagged": 0, "swap": [0, 0], "swap_flagged": 0}
    for i, r in enumerate(rows):
        lang = language_of(r["document"])
        t = summary_trace(r["document"], r["summary"], key=str(i), lang=lang)
        res["kept"] += t.answer == r["summary"]
        res[t.verdict] = res.get(t.verdict, 0) + 1
        other = rows[(i + 1) % len(rows)]["summary"]
        bad = summary_trace(r["document"], other, key=str(i), lang=lang)
        res["swap"][0] += 1
        res["swap"][1] += bad.verdict == "rejected"
        res["swap_flagged"] += bad.verdict == "flagged"
    return res


def evaluate(korean_tokens: str = "ngram", on_fail: dict[str, str] | None = None, first_look: bool = True) -> dict:
    lang_mod.KOREAN_TOKENS = korean_tokens
    out = {"korean_tokens": korean_tokens, "on_fail": on_fail or {}}
    for name, fname in {**QA_FILES, **(FIRST_LOOK if first_look else {})}.items():
        out[name] = eval_qa(REAL / fname, on_fail)
    extra = {"klue_nli_dev": (REAL / "klue_nli_v1_dev_excerpt.jsonl", "nli"),
             # pairs 38-75, added after round 3's NLI rules were written on pairs 0-37: held out
             "klue_nli_dev_heldout": (REAL / "klue_nli_v1_dev_heldout.jsonl", "nli"),
             "mc": (REAL / "multiple_choice_excerpt.jsonl", "mc"),
             "summarization": (REAL / "summarization_excerpt.jsonl", "sum")}
    for name, (path, kind) in extra.items():
        if not path.is_file():
            continue
        if kind == "nli":
            out[name] = eval_nli(path, {"premise": "premise", "hypothesis": "hypothesis", "label": "gold_label"},
                                 ["entailment", "neutral", "contradiction"])
        elif kind == "mc":
            out[name] = eval_choice(path)
        else:
            out[name] = eval_summary(path)
    return out


def _pct(a: int, b: int) -> str:
    return f"{a}/{b} = {100 * a / b:.1f}%" if b else "n/a"


def pooled(res: dict, names: list[str]) -> dict:
    """QA figures summed over sets, per language (Korean sets are the KorQuAD ones)."""
    out: dict[str, dict] = {}
    for name in names:
        r, lang = res[name], "ko" if name.startswith("korquad") else "en"
        p = out.setdefault(lang, {"sets": [], "true": 0, "confirmed": 0, "flagged": 0, "rejected": 0, "swap": [0, 0],
                                  "swap_flagged": 0, "shift": [0, 0]})
        p["sets"].append(name)
        for k in ("true", "confirmed", "flagged", "rejected", "swap_flagged"):
            p[k] += r[k]
        for k in ("swap", "shift"):
            p[k] = [p[k][0] + r[k][0], p[k][1] + r[k][1]]
    return out


def _qa_line(r: dict) -> str:
    n, s = r["true"], r["swap"][0]
    return (f"true: confirmed {_pct(r['confirmed'], n)}, flagged {_pct(r['flagged'], n)}, rejected "
            f"{_pct(r['rejected'], n)}; swaps rejected {_pct(r['swap'][1], s)}, rejected or flagged "
            f"{_pct(r['swap'][1] + r['swap_flagged'], s)}; shifts rejected {_pct(r['shift'][1], r['shift'][0])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--korean-tokens", choices=["morph", "ngram"], default="ngram")
    ap.add_argument("--on-fail", action="append", default=[], metavar="RULE=reject|flag",
                    help="what a rule's failure does (rules_qa.ON_FAIL); repeatable")
    ap.add_argument("--tuned-only", action="store_true",
                    help="leave the first-look sets out (to compare rule changes without looking at them)")
    ap.add_argument("--json", type=Path, help="also write the full results (with every miss) here")
    ap.add_argument("-v", "--verbose", action="store_true", help="list false rejections and missed corruptions")
    args = ap.parse_args()
    on_fail = dict(x.split("=", 1) for x in args.on_fail)
    t0 = time.perf_counter()
    res = evaluate(args.korean_tokens, on_fail, first_look=not args.tuned_only)
    wall = time.perf_counter() - t0
    print(f"Korean tokens: {args.korean_tokens}   on_fail overrides: {on_fail or 'none'}   wall {wall:.1f} s")
    for name, r in res.items():
        if not isinstance(r, dict) or name == "on_fail":
            continue
        if "true" in r:
            print(f"{name}{' (first look)' if name in FIRST_LOOK else ''}: {r['records']} records "
                  f"({r['unanswerable']} unanswerable, kept as such: {r['unanswerable_kept']}); published errors "
                  f"rejected {_pct(r['published_errors_rejected'], r['published_errors'])}")
            print(f"  {_qa_line(r)}")
            print(f"  flags on kept true records: {r['true_flags'] or 'none'}; on swaps: {r['swap_flags'] or 'none'}")
            if args.verbose:
                for f in r["false_rejections"]:
                    print(f"    false rejection {f['id']} '{f['answer']}': {f['why'][:200]}")
                for m in r["swaps_missed"]:
                    print(f"    swap {m['verdict']} {m['id']} {m['question']} '{m['true']}' -> '{m['swapped']}'")
        else:
            corr = {k: v for k, v in r.items() if isinstance(v, list)}
            print(f"{name}: {r['records']} records, kept {_pct(r['kept'], r['records'])} (confirmed "
                  f"{r['confirmed']}, flagged {r['flagged']}); corrupted rejected: "
                  + ", ".join(f"{k} {_pct(v[1], v[0])}" for k, v in corr.items())
                  + "".join(f"; {k} {r[k]}" for k in r if k.endswith("_flagged")))
    for title, names in (("tuned", list(QA_FILES)), ("first look", list(FIRST_LOOK))):
        for lang, p in pooled(res, [n for n in names if n in res]).items():
            print(f"pooled {title}, {lang} ({len(p['sets'])} sets): {_qa_line(p)}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
