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


CHOICE_CHECKS: tuple[Rule, ...] = (
    Rule("not_empty", BOTH, _always, not_empty, "reject"),
    Rule("choices_distinct", BOTH, _always, choices_distinct, "reject"),
    Rule("answer_index_in_range", BOTH, _always, answer_index_in_range, "reject"),
    Rule("choice_supported", BOTH, lambda c: bool(c.context) and c.in_range, choice_supported, "flag"),
    Rule("not_duplicate", BOTH, _always, not_duplicate, "reject"),
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
    if not c.new_numbers:
        return Check("numbers_entailed", True, msg("numbers_entailed", c.lang))
    return Check("numbers_entailed", False, msg("new_numbers", c.lang, numbers=_join(c.new_numbers)))


def polarity_entailed(c: Case) -> Check:
    """One side says not-X of an X the other side states (불편함없이 / 불편함이 많았다): no entailment."""
    if not c.clash:
        return Check("polarity_entailed", True, msg("polarity_ok", c.lang))
    return Check("polarity_entailed", False, msg("polarity_clash", c.lang, words=_join(c.clash)))


def _entailment(c: Case) -> bool:
    return c.name == "entailment"


NLI_CHECKS: tuple[Rule, ...] = (
    Rule("not_empty", BOTH, _always, not_empty, "reject"),
    Rule("label_in_set", BOTH, _always, label_in_set, "reject"),
    Rule("cues_agree", BOTH, _always, nli_cues_agree, "flag"),
    Rule("numbers_entailed", BOTH, _entailment, numbers_entailed, "reject"),
    Rule("polarity_entailed", BOTH, _entailment, polarity_entailed, "reject"),
    Rule("not_duplicate", BOTH, _always, not_duplicate, "reject"),
)


# --- summarization ----------------------------------------------------------------------------------------------

def numbers_supported(c: Case) -> Check:
    if not c.missing_numbers:
        return Check("numbers_supported", True, msg("numbers_supported", c.lang))
    return Check("numbers_supported", False, msg("numbers_missing", c.lang, numbers=_join(c.missing_numbers)))


def entities_supported(c: Case) -> Check:
    if not c.missing_names:
        return Check("entities_supported", True, msg("names_supported", c.lang))
    return Check("entities_supported", False, msg("names_missing", c.lang, names=_join(c.missing_names[:6])))


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


SUMMARY_CHECKS: tuple[Rule, ...] = (
    Rule("not_empty", BOTH, _always, not_empty, "reject"),
    Rule("numbers_supported", BOTH, _always, numbers_supported, "reject"),
    Rule("entities_supported", BOTH, _always, entities_supported, "reject"),
    Rule("content_supported", BOTH, _always, content_supported, "reject"),
    Rule("shorter_than_document", BOTH, _always, shorter_than_document, "reject"),
    Rule("not_duplicate", BOTH, _always, not_duplicate, "reject"),
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


CLASSIFICATION_CHECKS: tuple[Rule, ...] = (
    Rule("not_empty", BOTH, _always, class_not_empty, "reject"),
    Rule("label_in_set", BOTH, _always, class_label_in_set, "reject"),
    Rule("cues_agree", BOTH, lambda c: bool(c.cues), class_cues_agree, "reject"),
    Rule("not_duplicate", BOTH, _always, not_duplicate, "reject"),
)
