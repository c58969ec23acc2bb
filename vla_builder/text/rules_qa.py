"""The QA rules as data: each check of an extractive-QA record is one named entry of `QA_CHECKS` (its languages,
when it applies, its test), and the answer-type check walks `TYPE_RULES` the same way. `qa.qa_trace` walks the
tables; wording comes from `messages`.

Adding a rule is one entry here plus its test (tests/test_text_rules.py runs each rule on a record it must catch).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable

from vla_builder.text.evidence import (SUPPORT_RATIO, Overlap, closest_rival, focus_keys, kind_beside,
                                       named_in_question, one_of_alternatives, restated, stem_key)
from vla_builder.text.kinds import (MEASURE_NOUN, answer_kinds, direction_only, kind_mismatch, lists_several,
                                    not_a_who, offers_alternatives, several_asked, subject_after_verb)
from vla_builder.text.lang import anaphoric, numbers
from vla_builder.text.lang import keywords as lang_keywords
from vla_builder.text.messages import msg
from vla_builder.text.shapes import (COUNT, DEGREE_PHRASE_EN, EVENT_PLACE_EN, FREQUENCY, MONTH_OR_TIME_PREP_EN,
                                     NAMED_KIND_EN, NOT_TIME_EN, NUMBER_NOUN, NUMBER_WORDS, PERSON_EN, TIME_WORDS,
                                     date_or_number_only)
from vla_builder.text.traces import BOTH, Check, Rule, _duplicate_check, _join, _words, clip

WEAK_SUPPORT_RATIO = 0.25  # below this share of the best sentence's overlap, the question is about another sentence
ELSEWHERE_MIN_WORDS = 2  # distinct question words another sentence must share to locate the question there
RIVAL_FACTOR = 2.0  # a same-kind span this many times nearer the question's words than the answer outranks it


@dataclass
class Case:
    """One QA record under check, with what the checks share: the question's overlap with each context sentence,
    the question type and, once placed, the answer's span and sentence."""
    question: str
    context: str
    answer: str
    lang: str
    impossible: bool
    starts: list[int] | None  # the record's answer_start offsets, if it gives any
    weak_support: str
    duplicate_of: str | None
    ov: Overlap
    qword: str
    expects: str
    kind: str
    empty: list[str] = field(default_factory=list)
    hits: list[tuple[int, int, bool]] = field(default_factory=list)  # every place the answer occurs
    at: list[tuple[int, int, bool]] = field(default_factory=list)  # those at the record's answer_start
    found: tuple[int, int, bool] | None = None  # the occurrence the checks judge
    evidence: list[dict] = field(default_factory=list)
    _support: tuple | None = None

    @property
    def en(self) -> bool:
        return self.lang != "ko"

    @property
    def i(self) -> int:
        """The sentence holding the judged occurrence."""
        return self.ov.sentence_of(self.found[0]) or 0

    @property
    def span(self) -> tuple[int, int]:
        return self.found[0], self.found[1]


def _support(c: Case) -> tuple[float, float, dict[str, str], tuple[int, dict[str, str]] | None]:
    """(the answer sentence's overlap, the best sentence's, the words it shares, the sentence restating the answer
    if the span's own is weak), computed once for the two rules that read it."""
    if c._support is None:
        ov, i = c.ov, c.i
        own, shared = ov.support(i, c.span, c.context, c.lang)
        best = max(ov.score(j) for j in range(len(ov.spans)))
        ok = own > 0 and own >= SUPPORT_RATIO * best
        c._support = (own, best, shared, None if ok else restated(ov, c.answer, i, best, c.context, c.lang))
    return c._support


def _quote(c: Case, j: int, shared: dict[str, str], **extra) -> dict:
    a, b = c.ov.spans[j]
    return {"quote": clip(c.context[a:b]), "start": a, "end": b, **extra, "shared_words": _words(shared)}


# --- answer_type: first rule that applies and finds a clash decides -------------------------------------------

@dataclass(frozen=True)
class TypeRule:
    name: str
    langs: tuple[str, ...]  # "en" stands for every language but Korean
    applies: Callable[[Case], bool]
    clash: Callable[[Case], str | None]  # why the answer is of the wrong kind; None: it fits
    on_fail: str = "reject"  # an answer of the wrong kind is evidence against the label

    def speaks(self, lang: str) -> bool:
        return ("ko" if lang == "ko" else "en") in self.langs


EN = ("en",)


def _kind(*kinds: str) -> Callable[[Case], bool]:
    return lambda c: c.kind in kinds


def _other(c: Case) -> bool:
    return c.kind not in ("number", "duration", "frequency", "degree", "time")


def _year_as_count(c: Case) -> str | None:
    """"In May 2006" / "in 2006": a bare year where the context dates something counts nothing."""
    start = c.found[0]
    if re.fullmatch(r"1\d{3}|20\d{2}", c.answer.strip()) and \
            MONTH_OR_TIME_PREP_EN.search(c.context[max(0, start - 12):start]):
        return msg("year_not_count", c.lang)
    return None


def _time_clash(c: Case) -> str | None:
    text = c.answer if c.lang == "ko" else NOT_TIME_EN.sub(" ", c.answer)
    if TIME_WORDS.search(COUNT.sub(" ", text)):
        return None
    return msg("count_not_time" if COUNT.search(c.answer) else "no_time", c.lang)


def _only_number(c: Case) -> str | None:
    # ... unless the question asks for numbers by name ("What are the two integer responses?": 1 or 0) or for a
    # measure ("What is the population of X?")
    if not date_or_number_only(c.answer) or NUMBER_NOUN.search(c.question) or \
            (c.en and MEASURE_NOUN.search(c.question)):
        return None
    return msg("only_number_or_date", c.lang)


def _if(cond: Callable[[Case], object], key: str) -> Callable[[Case], str | None]:
    return lambda c: msg(key, c.lang) if cond(c) else None


TYPE_RULES: tuple[TypeRule, ...] = (
    TypeRule("count_has_number", BOTH, _kind("number"), _if(lambda c: not NUMBER_WORDS.search(c.answer), "no_number")),
    TypeRule("count_not_a_year", EN, _kind("number"), _year_as_count),
    # "380 years", "a decade", "three miles": a number or a time word
    TypeRule("duration_has_number_or_time", BOTH, _kind("duration"), _if(
        lambda c: not (NUMBER_WORDS.search(c.answer) or TIME_WORDS.search(c.answer)), "no_number_or_time")),
    TypeRule("frequency_shape", BOTH, _kind("frequency"), _if(lambda c: not (
        FREQUENCY.search(c.answer) or NUMBER_WORDS.search(c.answer) or TIME_WORDS.search(c.answer)), "no_frequency")),
    # "How populous is X?": a number, a rank or a degree — not a place or a name
    TypeRule("degree_not_direction_or_name", BOTH, _kind("degree"), _if(lambda c: direction_only(c.answer) or (
        re.search(r"\b[A-Z]", c.answer) and not NUMBER_WORDS.search(c.answer)), "not_a_degree")),
    TypeRule("time_has_time_word", BOTH, _kind("time"), _time_clash),
    TypeRule("not_only_number_or_date", BOTH, _other, _only_number),
    TypeRule("where_not_person", EN, lambda c: _other(c) and c.qword == "where", _if(
        lambda c: PERSON_EN.search(c.answer) or "person" in answer_kinds(c.answer, c.context, c.found[0]),
        "person_not_place")),
    TypeRule("where_not_degree_phrase", EN, lambda c: _other(c) and c.qword == "where",
             _if(lambda c: DEGREE_PHRASE_EN.match(c.answer.strip()), "degree_not_place")),
    TypeRule("who_not_event_or_place", EN, lambda c: _other(c) and c.qword in ("who", "whom"),
             _if(lambda c: EVENT_PLACE_EN.search(c.answer), "event_not_person")),
    TypeRule("named_kind_is_named", EN, lambda c: _other(c) and NAMED_KIND_EN.search(c.question),
             _if(lambda c: not re.search(r"\b[A-Z]", c.answer), "names_none")),
    TypeRule("who_is_an_agent", EN, lambda c: _other(c) and c.qword in ("who", "whom"),
             lambda c: not_a_who(c.answer, c.context, c.found[0])),
    TypeRule("kind_matches_question", EN, _other, lambda c: kind_mismatch(c.question, c.answer, c.context,
                                                                          c.found[0])),
    TypeRule("one_of_the_alternatives", EN, lambda c: _other(c) and offers_alternatives(c.question), _if(
        lambda c: not one_of_alternatives(set(lang_keywords(c.answer, c.lang)), c.question, c.lang),
        "not_an_alternative")),
    # 'Who sold X?': the doer stands before 'sold' (or after 'by')
    TypeRule("subject_before_verb", EN, _other, lambda c: subject_after_verb(
        c.question, c.span, c.ov.spans[c.i], c.context, stem_key)),
    TypeRule("lists_as_many_as_asked", EN, lambda c: _other(c) and several_asked(c.question),
             lambda c: None if lists_several(c.answer) else msg("names_one", c.lang, n=several_asked(c.question))),
)


# --- the checks of a QA record, in trace order ----------------------------------------------------------------

def not_empty(c: Case) -> Check:
    if c.empty:
        return Check("not_empty", False, msg("empty", c.lang, roles=", ".join(c.empty)))
    return Check("not_empty", True, msg("non_empty_unanswerable" if c.impossible else "non_empty", c.lang))


def no_answer_given(c: Case) -> Check:
    given = bool(c.answer.strip())
    return Check("no_answer_given", not given, msg("answer_given", c.lang, answer=clip(c.answer, 60)) if given
                 else msg("no_answer_given", c.lang))


def question_on_topic(c: Case) -> Check:
    """An unanswerable record: quote the closest sentence; whether it answers is the label's word (flagged)."""
    ov = c.ov
    best = max(range(len(ov.spans)), key=lambda i: (ov.score(i), -i), default=None)
    if best is not None and ov.shared(best):
        c.evidence.append(_quote(c, best, ov.shared(best)))
    detail = msg("on_topic", c.lang, words=_join(c.evidence[0]["shared_words"])) if c.evidence else \
        msg("off_topic", c.lang)
    return Check("question_on_topic", True, detail, flagged=True)


def answer_start_matches(c: Case) -> Check:
    # Several offsets (SQuAD dev: one per annotator who chose this same text): any of them may hold it.
    if c.at:
        return Check("answer_start_matches", True, msg("start_matches", c.lang, start=c.at[0][0]))
    s = c.starts[0]
    occurs = msg("occurs_at", c.lang, at=", ".join(str(h[0]) for h in c.hits[:3])) if c.hits else ""
    return Check("answer_start_matches", False, msg("start_elsewhere", c.lang, start=s, occurs=occurs,
                                                    there=clip(c.context[s:s + len(c.answer)], 40)))


def answer_in_context(c: Case) -> Check:
    if c.found is None:
        return Check("answer_in_context", False, msg("not_in_context", c.lang, answer=clip(c.answer, 60)))
    start, end, exact = c.found
    return Check("answer_in_context", True, msg("in_context", c.lang, answer=clip(c.answer, 60), start=start, end=end)
                 + ("" if exact else msg("in_context_loose", c.lang, found=c.context[start:end])))


def answer_supported(c: Case) -> Check:
    """The answer's sentence speaks to the question at least `SUPPORT_RATIO` as well as the best sentence, or the
    context names the answer again in one that does (`evidence.restated`). Less is weak support: a flag (the
    words do not prove a paraphrase wrong), unless `question_elsewhere` finds evidence against."""
    own, best, shared, again = _support(c)
    numbers = {"support": round(own, 3), "best_support": round(best, 3)}
    c.evidence.append(_quote(c, c.i, shared, holds_answer=True))
    if again is not None:  # the span's own sentence is weak, but the context says the answer again
        j, shared = again
        c.evidence.append(_quote(c, j, shared, holds_answer=False, restates_answer=True))
        return Check("answer_supported", True, msg("restated", c.lang, words=_join(_words(shared))), numbers=numbers)
    if own > 0 and own >= SUPPORT_RATIO * best:
        return Check("answer_supported", True, msg("supported", c.lang, words=_join(_words(shared))), numbers=numbers)
    if best == 0:
        # No sentence shares a word with the question (a paraphrase through and through): the words cannot tell
        # the answer's sentence from any other, so this is undecidable, not wrong.
        return Check("answer_supported", True, msg("no_overlap", c.lang), flagged=True, numbers=numbers)
    return Check("answer_supported", False, msg("weak_support", c.lang, words=_join(_words(shared))) if shared
                 else msg("shares_nothing", c.lang), numbers=numbers)


def question_elsewhere(c: Case) -> Check | None:
    """Evidence against: the question's words locate another sentence — one sharing at least `ELSEWHERE_MIN_WORDS`
    of them and carrying more than 1 / `WEAK_SUPPORT_RATIO` times the overlap of the answer's (which restates
    it nowhere): the label sits where the question is not about. A best sentence sharing a single word (often the
    article's subject) locates nothing: then weak support stays a flag."""
    own, best, shared, again = _support(c)
    if again is not None or best == 0 or own >= SUPPORT_RATIO * best:
        return None  # answer_supported has said all there is
    ov = c.ov
    top = max(range(len(ov.spans)), key=lambda j: (ov.score(j), -j))
    located = _words(ov.shared(top))
    numbers = {"support": round(own, 3), "best_support": round(best, 3), "best_sentence_words": len(located)}
    if own >= WEAK_SUPPORT_RATIO * best and own > 0 or len(located) < ELSEWHERE_MIN_WORDS:
        return Check("question_elsewhere", True, msg("not_elsewhere", c.lang, share=own / best,
                                                    words=_join(located)), numbers=numbers)
    return Check("question_elsewhere", False, msg("elsewhere", c.lang, share=own / best, words=_join(located)),
                 numbers=numbers)


def answer_not_in_question(c: Case) -> Check:
    a_keys = set(lang_keywords(c.answer, c.lang))
    # An English answer naming the question's own subject ("King Ethelred II" for "Where did Ethelred flee?")
    # answers something else: a capitalised answer word that the question holds.
    named = named_in_question(c.answer, c.question, c.lang)
    # "Is it abstract or concrete?" names its answers: repeating one of them is the answer.
    # A number the question does not hold as a whole number is new, whatever its bigrams (5개 in "35개 … 몇개로").
    new_number = bool(set(numbers(c.answer)) - set(numbers(c.question)))
    echo = bool(a_keys) and a_keys <= set(c.ov.q) and not new_number and \
        not one_of_alternatives(a_keys, c.question, c.lang)
    if not (echo or named):
        return Check("answer_not_in_question", True, msg("adds_something", c.lang))
    if echo:
        words = _join(sorted(_words(lang_keywords(c.answer, c.lang))))
        return Check("answer_not_in_question", False, msg("echoes_question", c.lang, words=words))
    return Check("answer_not_in_question", False,
                 msg("names_subject", c.lang, words=_join(sorted(c.ov.q[k] for k in named))))


def answer_type(c: Case) -> Check:
    for rule in TYPE_RULES:
        if rule.speaks(c.lang) and rule.applies(c) and (why := rule.clash(c)):
            return Check("answer_type", False, msg("type_clash", c.lang, expects=c.expects, why=why), rule=rule.name)
    return Check("answer_type", True, msg("type_fits", c.lang, expects=c.expects))


def _focus(c: Case) -> tuple[dict[str, str], dict[str, str], list[int]]:
    focus, kind_keys = focus_keys(c.question, c.lang)
    return focus, kind_keys, [j for j, sent in enumerate(c.ov.per_sentence) if any(k in focus for k, _, _ in sent)]


def answer_by_focus(c: Case) -> Check | None:
    """Korean: the answer's sentence (or the one it points back to) holds the question's focus predicate."""
    focus, kind_keys, with_focus = _focus(c)
    if not with_focus:  # only questions whose focus word the context holds
        return None
    a, b = c.ov.spans[c.i]
    near_focus = {c.i, c.i - 1} if c.i > 0 and anaphoric(c.context[a:b], c.lang) else {c.i}
    word = ", ".join(dict.fromkeys(focus.values()))
    if near_focus & set(with_focus):
        return Check("answer_by_focus", True, msg("focus_holds", c.lang, word=word))
    # Named right beside its kind ("안형광이라는 이름의 궁녀" for "도와준 궁녀의 이름은?"), an answer stands even
    # where the focus is paraphrased (도와준 / 도움으로).
    if kind_beside(c.ov, c.i, c.span, c.context, kind_keys):
        return Check("answer_by_focus", True, msg("focus_kind_beside", c.lang, word=word,
                                                  kind=", ".join(dict.fromkeys(kind_keys.values()))))
    return Check("answer_by_focus", False, msg("focus_elsewhere", c.lang, word=word))


def answer_nearest(c: Case) -> Check:
    near, rival, rival_near = closest_rival(c.ov, c.i, c.span, c.context)
    if rival is None or rival_near <= RIVAL_FACTOR * near:
        return Check("answer_nearest", True, msg("nearest", c.lang, near=near), numbers={"nearness": round(near, 3)})
    return Check("answer_nearest", False, msg("rival_nearer", c.lang, rival=rival, near=near, rival_near=rival_near),
                 numbers={"nearness": round(near, 3), "rival_nearness": round(rival_near, 3)})


def not_duplicate(c: Case) -> Check:
    return _duplicate_check(c.duplicate_of, msg("question_and_context", c.lang), c.lang)


def _answerable(c: Case) -> bool:
    return not c.impossible and not c.empty


def _placed(c: Case) -> bool:
    return _answerable(c) and c.found is not None


QA_CHECKS: tuple[Rule, ...] = (
    Rule("not_empty", BOTH, lambda c: True, not_empty, "reject"),
    Rule("no_answer_given", BOTH, lambda c: c.impossible, no_answer_given, "reject"),
    Rule("question_on_topic", BOTH, lambda c: c.impossible, question_on_topic, "flag"),
    Rule("answer_start_matches", BOTH, lambda c: _answerable(c) and c.starts is not None, answer_start_matches,
           "reject"),
    Rule("answer_in_context", BOTH, _answerable, answer_in_context, "reject"),
    Rule("answer_supported", BOTH, _placed, answer_supported, "flag"),
    Rule("question_elsewhere", BOTH, _placed, question_elsewhere, "reject"),
    Rule("answer_not_in_question", BOTH, _placed, answer_not_in_question, "reject"),
    Rule("answer_type", BOTH, _placed, answer_type, "reject"),  # each TYPE_RULES entry says its own
    Rule("answer_by_focus", ("ko",), _placed, answer_by_focus, "flag"),
    # a same-unit number nearer the question's words is the words' preference, no evidence against (round 6)
    Rule("answer_nearest", BOTH, _placed, answer_nearest, "flag"),
    Rule("not_duplicate", BOTH, lambda c: True, not_duplicate, "reject"),
)
# What a failure of each rule means, by name (a recipe may override it per source: `on_fail`).
ON_FAIL: dict[str, str] = {**{r.name: r.on_fail for r in QA_CHECKS}, **{r.name: r.on_fail for r in TYPE_RULES}}
