"""The extractive-QA trace: place the answer, walk the rule table (`rules_qa.QA_CHECKS`), word the three steps."""

from __future__ import annotations

import random

from vla_builder.text.evidence import Overlap, locate
from vla_builder.text.messages import msg
from vla_builder.text.rules_qa import ON_FAIL, QA_CHECKS, Case
from vla_builder.text.shapes import question_type
from vla_builder.text.traces import UNANSWERABLE, Trace, _confirm, _join, _words, walk


def _place(c: Case) -> None:
    """Where the answer is: every occurrence, those at the record's offsets, and the one the checks judge — of
    several, the one whose sentence speaks best to the question (the first on ties)."""
    c.hits = locate(c.context, c.answer)
    if c.starts is not None:
        c.at = [h for h in c.hits if h[0] in c.starts]
    hits = c.at or c.hits
    c.found = max(hits, key=lambda h: (h[2], c.ov.score(c.ov.sentence_of(h[0]) or 0, (h[0], h[1])), -h[0]),
                  default=None)


def qa_trace(question: str, context: str, answer: str, *, key: str, duplicate_of: str | None = None,
             answer_start: int | list[int] | None = None, impossible: bool = False, lang: str = "en",
             weak_support: str = "flag", on_fail: dict[str, str] | None = None) -> Trace:
    """Extractive QA: the answer must be a span of the context (at `answer_start` when the record gives one), in a
    sentence that speaks to the question at least half as well as the best sentence, of the kind the question asks
    for, and not just a word of the question; a Korean answer's sentence must hold the question's focus predicate,
    and a number must not be beaten by another of its unit that sits much nearer the question's words (the rules:
    `rules_qa`). `impossible` records (SQuAD v2) confirm the abstention.

    A failed rule rejects the record where its failure is evidence against the label, and keeps it flagged where
    it is only a lack of evidence for it (`rules_qa.ON_FAIL`); `on_fail` overrides that per rule name, and
    `weak_support="reject"` is short for `on_fail={"answer_supported": "reject"}`."""
    rng = random.Random(key)
    ov = Overlap(question, context, lang)
    qword, expects, kind = question_type(question, lang)
    starts = None if answer_start is None else [answer_start] if isinstance(answer_start, int) else list(answer_start)
    c = Case(question, context, answer, lang, impossible, starts, weak_support, duplicate_of, ov, qword, expects, kind)
    c.empty = [r for r, v in (("question", question), ("context", context)) + (() if impossible else
               (("answer", answer),)) if not v.strip()]
    if not impossible and not c.empty:
        _place(c)
    severity = {**ON_FAIL, **({"answer_supported": "reject"} if weak_support == "reject" else {}), **(on_fail or {})}
    checks = walk(QA_CHECKS, c, lang, severity)
    failed = [x for x in checks if not x.passed]
    q_terms = _words(ov.q)
    terms = _join(q_terms)
    basis = {"task": "extractive_qa", "label_space": msg("qa_label_space", lang), "question_word": qword or None,
             "expects": expects, "question_keywords": q_terms, "evidence": c.evidence, "answerable": not impossible}
    quotes = " / ".join(f'"{e["quote"]}"' for e in c.evidence)
    if impossible:
        step1 = msg("basis_unanswerable", lang, expects=expects, terms=terms,
                    closest=msg("basis_closest", lang, quotes=quotes) if c.evidence else ".")
    elif c.evidence:
        step1 = rng.choice([msg(f"basis_{n}", lang, expects=expects, terms=terms, quotes=quotes) for n in (1, 2, 3)])
    else:
        step1 = msg("basis_unplaced", lang, expects=expects, terms=terms)
    # The confirmed answer is what the context actually says at the located span — not the label — so a label
    # that differs from its own context (say, in case) is caught by the label gate in the builder.
    if impossible:
        confirmed = UNANSWERABLE.get(lang, UNANSWERABLE["en"]) if not failed else None
    else:
        confirmed = context[c.found[0]:c.found[1]] if c.found and not failed else None
    step2 = rng.choice([msg(f"verify_{n}", lang) for n in (1, 2, 3)])
    return Trace("qa", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)
