"""The rules of the other task kinds as data, one table each: multiple choice (`CHOICE_CHECKS`), NLI
(`NLI_CHECKS`), summarization (`SUMMARY_CHECKS`) and classification (`CLASSIFICATION_CHECKS`). Each entry names its
check, when it applies, its test and what its failure does (`traces.Rule`); `tasks` and `traces` walk them; wording
comes from `messages`. A case (`SimpleNamespace`) carries what the trace measured once: the record's fields, the
language, and the task's own measures (coverage, cues, support).

What text alone can prove decides `on_fail`: a choice index out of range, a label outside the set, a number the
document never states are evidence against the label (reject); lexical cues that only *suggest* another answer
(overlap, negation) are no evidence against it (flag): rejecting on them threw away true human labels (measured in
BENCHMARKS.md, "Text track on real data").
"""

from __future__ import annotations

from types import SimpleNamespace as Case

from vla_builder.text.messages import msg
from vla_builder.text.traces import BOTH, Check, Rule, _duplicate_check, _join

SUMMARY_MIN_COVERAGE = 0.3  # below: the summary is about something else (rejected); 0.3..0.6 is flagged
SUMMARY_FLAG_COVERAGE = 0.6


def _always(c: Case) -> bool:
    return True


def not_empty(c: Case) -> Check:
    if c.empty:
        return Check("not_empty", False, msg("empty", c.lang, roles=", ".join(c.empty)))
    return Check("not_empty", True, msg(f"non_empty_{c.task}", c.lang))


def not_duplicate(c: Case) -> Check:
    return _duplicate_check(c.duplicate_of, msg(f"what_{c.task}", c.lang), c.lang)


def _table(empty_test, *own: tuple) -> tuple[Rule, ...]:
    """A task's table, every rule in both languages: its own rows `(name, test, on_fail[, applies])` (applies:
    always, unless given) between the two every task has — an empty role rejects first (`empty_test`, the task's
    wording), a repeat of an earlier record rejects last."""
    rows = [("not_empty", empty_test, "reject"), *own, ("not_duplicate", not_duplicate, "reject")]
    return tuple(Rule(name, BOTH, applies[0] if applies else _always, test, on_fail)
                 for name, test, on_fail, *applies in rows)


def _none_found(name: str, found: list[str], lang: str, passed: str, failed: str, field: str) -> Check:
    """A check that holds while nothing offends, and else names what does (`failed`'s `field`)."""
    if not found:
        return Check(name, True, msg(passed, lang))
    return Check(name, False, msg(failed, lang, **{field: _join(found)}))


# --- multiple choice ----------------------------------------------------------------------------------------

def choices_distinct(c: Case) -> Check:
    dupes = len({x.strip().lower() for x in c.choices}) != len(c.choices)
    return Check("choices_distinct", not dupes, msg("choices_repeat" if dupes else "choices_distinct", c.lang))


def answer_index_in_range(c: Case) -> Check:
    if c.in_range:
        return Check("answer_index_in_range", True, msg("index_in_range", c.lang, answer=c.answer,
                                                         letter=chr(65 + c.i), letters=c.letters))
    return Check("answer_index_in_range", False, msg("index_out_of_range", c.lang, answer=c.answer,
                                                      letters=c.letters))


def choice_supported(c: Case) -> Check:
    """The passage covers the chosen option at least as well as any other. In inference questions (CosmosQA,
    KoBEST COPA) the right option is often unstated while a distractor reuses the passage's words (8 of 39 true
    CosmosQA labels would be lost to a rejection), so a miss flags."""
    best = max(c.support)
    share = c.support[c.i]
    if share == best:
        return Check("choice_supported", True, msg("choice_covered", c.lang, share=share))
    top = ", ".join(chr(65 + j) for j, s in enumerate(c.support) if s == best)
    return Check("choice_supported", False, msg("choice_covered", c.lang, share=share) +
                 msg("choice_covered_better", c.lang, top=top, best=best), numbers={"support": round(share, 3),
                                                                                    "best_support": round(best, 3)})


CHOICE_CHECKS = _table(
    not_empty,
    ("choices_distinct", choices_distinct, "reject"),
    ("answer_index_in_range", answer_index_in_range, "reject"),
    ("choice_supported", choice_supported, "flag", lambda c: bool(c.context) and c.in_range),
)


# --- NLI ------------------------------------------------------------------------------------------------------

def label_in_set(c: Case) -> Check:
    if c.name in c.labels:
        return Check("label_in_set", True, msg("label_in_set", c.lang, label=c.name, space=c.space))
    return Check("label_in_set", False, msg("label_not_in_set", c.lang, label=c.label, space=c.space))


def nli_cues_agree(c: Case) -> Check:
    """What overlap and negation suggest, when they suggest anything; they cannot decide entailment, so a label
    they argue against — or one they cannot judge — is flagged."""
    cue_text = msg("nli_cues", c.lang, coverage=c.coverage, one_sided=msg("one_sided", c.lang) if c.neg_p != c.neg_h
                   else "")
    numbers = {"coverage": round(c.coverage, 3)}
    if c.suggests is None or c.suggests not in c.labels:
        return Check("cues_agree", False, cue_text + msg("undecidable", c.lang), numbers=numbers)
    if c.suggests == c.name:
        return Check("cues_agree", True, cue_text + msg("consistent", c.lang, label=c.name), numbers=numbers)
    return Check("cues_agree", False, cue_text + msg("suggests", c.lang, label=c.name, suggests=c.suggests),
                 numbers=numbers)


def numbers_entailed(c: Case) -> Check:
    """A number the hypothesis states and the premise never does cannot follow from the premise (on KLUE NLI dev,
    5 of 38 pairs bring a new number: 4 contradictions, 1 neutral, no entailment)."""
    return _none_found("numbers_entailed", c.new_numbers, c.lang, "numbers_entailed", "new_numbers", "numbers")


def polarity_entailed(c: Case) -> Check:
    """One side says not-X of an X the other side states (불편함없이 / 불편함이 많았다): no entailment."""
    return _none_found("polarity_entailed", c.clash, c.lang, "polarity_ok", "polarity_clash", "words")


def _entailment(c: Case) -> bool:
    return c.name == "entailment"


NLI_CHECKS = _table(
    not_empty,
    ("label_in_set", label_in_set, "reject"),
    ("cues_agree", nli_cues_agree, "flag"),
    ("numbers_entailed", numbers_entailed, "reject", _entailment),
    ("polarity_entailed", polarity_entailed, "reject", _entailment),
)


# --- summarization ----------------------------------------------------------------------------------------------

def numbers_supported(c: Case) -> Check:
    return _none_found("numbers_supported", c.missing_numbers, c.lang, "numbers_supported", "numbers_missing",
                       "numbers")


def entities_supported(c: Case) -> Check:
    return _none_found("entities_supported", c.missing_names[:6], c.lang, "names_supported", "names_missing",
                       "names")


def content_supported(c: Case) -> Check:
    """Below `SUMMARY_MIN_COVERAGE` the summary is about something else (evidence against); up to
    `SUMMARY_FLAG_COVERAGE` it may paraphrase (flagged)."""
    detail = msg("content_share", c.lang, coverage=c.coverage) + (
        msg("content_missing", c.lang, words=_join(c.unsupported[:8])) if c.unsupported else "")
    numbers = {"coverage": round(c.coverage, 3)}
    if c.coverage < SUMMARY_MIN_COVERAGE:
        return Check("content_supported", False, detail, numbers=numbers)
    return Check("content_supported", True, detail, flagged=c.coverage < SUMMARY_FLAG_COVERAGE, numbers=numbers)


def shorter_than_document(c: Case) -> Check:
    return Check("shorter_than_document", len(c.summary) < len(c.document), msg(
        "lengths", c.lang, summary=len(c.summary), document=len(c.document)))


SUMMARY_CHECKS = _table(
    not_empty,
    ("numbers_supported", numbers_supported, "reject"),
    ("entities_supported", entities_supported, "reject"),
    ("content_supported", content_supported, "reject"),
    ("shorter_than_document", shorter_than_document, "reject"),
)


# --- classification ---------------------------------------------------------------------------------------------

def class_not_empty(c: Case) -> Check:
    # English wording in both languages, as before the catalog (a Korean text is asked in Korean elsewhere)
    if c.empty:
        return Check("not_empty", False, msg("empty", "en", roles=", ".join(c.empty)))
    return Check("not_empty", True, msg("non_empty_classification", "en"))


def class_label_in_set(c: Case) -> Check:
    ok = c.label in c.labels
    return Check("label_in_set", ok, msg("label_in_set" if ok else "label_not_in_set", "en", label=c.label,
                                         space=c.space))


def class_cues_agree(c: Case) -> Check:
    """Mixed cues are fine; only a label every cue argues against fails."""
    if not c.found:
        return Check("cues_agree", True, msg("no_cues", "en"))
    pointed = sorted({x["label"] for x in c.found})
    ok = c.label in pointed
    return Check("cues_agree", ok, msg("cues_point", "en", labels=", ".join(pointed)) +
                 ("" if ok else msg("cues_not", "en", label=c.label)))


CLASSIFICATION_CHECKS = _table(
    class_not_empty,
    ("label_in_set", class_label_in_set, "reject"),
    ("cues_agree", class_cues_agree, "reject", lambda c: bool(c.cues)),
)
