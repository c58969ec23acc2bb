"""The three-step reasoning trace for one text record: pure functions, no I/O, no model.

1. question basis: what the answer rests on (task type, label space, the quoted parts of the input);
2. error verification: named checks of the candidate answer against the input and the label set, each pass/fail;
3. answer confirmation: the answer the checks support, or None when they do not.

The builder keeps a record only when the confirmed answer equals its source label. Wording is picked among
paraphrases by `random.Random(key)` (string seeding is stable across runs and platforms), where `key` carries the
recipe seed and the record id: the same seed gives byte-identical text.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

from vla_builder.text.lang import keywords as lang_keywords
from vla_builder.text.messages import msg, particles

STEP_TITLES = ("Step 1 - Question basis", "Step 2 - Error verification", "Step 3 - Answer confirmation")
STEP_TITLES_KO = ("1단계 - 질문 근거", "2단계 - 오류 검증", "3단계 - 답변 확정")
FINAL = {"en": "Final answer", "ko": "최종 답변"}
VERDICTS = ("rejected", "flagged", "confirmed")
UNANSWERABLE = {"en": "unanswerable", "ko": "답할 수 없음"}  # the confirmed answer of a question the context leaves open
_CLIP = 160  # longest quote, in characters: enough to show the evidence, short enough to read


@dataclass(frozen=True)
class Check:
    """One check's outcome: passed; failed (evidence *against* the label: the record is rejected); or flagged
    (passed=True, flagged=True: the text cannot decide or supports the label only weakly — the record is kept with
    this reason for a reviewer)."""
    name: str
    passed: bool
    detail: str
    flagged: bool = False
    rule: str = ""  # the table entry that decided, where one check walks several (rules_qa.TYPE_RULES)
    numbers: dict = field(default_factory=dict)  # the measured values the outcome rests on (ratios, offsets)


@dataclass(frozen=True)
class Trace:
    task: str
    basis: dict  # structured step 1: task type, label space, quoted evidence
    checks: tuple[Check, ...]  # step 2
    answer: str | None  # step 3: the confirmed answer, None when verification failed
    steps: tuple[str, str, str]  # the wording of the three steps
    lang: str = "en"

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def flagged(self) -> list[Check]:
        return [c for c in self.checks if c.flagged]

    @property
    def verdict(self) -> str:
        """rejected (a check found evidence against the label), flagged (kept, a check asks for review) or
        confirmed (every check holds)."""
        return VERDICTS[0 if self.failed else 1 if self.flagged else 2]

    @property
    def reasons(self) -> list[dict]:
        """What decided the verdict: the failed checks of a rejected record, the flagged ones of a flagged one."""
        return [{"check": c.name, "rule": c.rule or c.name, "detail": c.detail, **({"numbers": c.numbers}
                                                                                 if c.numbers else {})}
                for c in (self.failed or self.flagged)]

    def as_dict(self) -> dict:
        return {"language": self.lang, "verdict": self.verdict, "basis": self.basis,
                "verification": [asdict(c) for c in self.checks],
                "confirmation": {"answer": self.answer, "text": self.steps[2]}}

    def render(self) -> str:
        """The assistant turn: three labelled steps, then the final answer."""
        titles = STEP_TITLES_KO if self.lang == "ko" else STEP_TITLES
        mark = {True: msg("mark_pass", self.lang), False: msg("mark_fail", self.lang)}
        checks = "\n".join(f"- [{msg('mark_flag', self.lang) if c.flagged else mark[c.passed]}] {c.name}: {c.detail}"
                           for c in self.checks)
        text = (f"{titles[0]}: {self.steps[0]}\n{titles[1]}: {self.steps[1]}\n{checks}\n"
                f"{titles[2]}: {self.steps[2]}\n{FINAL.get(self.lang, FINAL['en'])}: {self.answer}")
        return particles(text) if self.lang == "ko" else text


def keywords(text: str, lang: str = "en") -> dict[str, str]:
    """Content words of `text`: key -> the word as first written (stems/morphemes match, words show)."""
    return lang_keywords(text, lang)


def clip(text: str, n: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def normalized(text: str) -> str:
    """Key for duplicate detection: case and spacing do not make a record new."""
    return " ".join(text.lower().split())


def _words(keyed: dict[str, str]) -> list[str]:
    """The distinct words behind matched keys (several character bigrams can come from one word)."""
    return list(dict.fromkeys(keyed.values()))


def _join(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words) if words else "(none)"


def _confirm(rng: random.Random, answer: str | None, failed: list[Check], lang: str = "en") -> str:
    text = _confirm_text(rng, answer, failed, lang)
    return text[:-1] if text.endswith("..") and not text.endswith("...") else text  # an answer ending in "."


def _confirm_text(rng: random.Random, answer: str | None, failed: list[Check], lang: str) -> str:
    if answer is None:
        return rng.choice([msg(f"unconfirmed_{n}", lang, names=", ".join(c.name for c in failed)) for n in (1, 2)])
    return rng.choice([msg(f"confirmed_{n}", lang, answer=answer) for n in (1, 2, 3)])


def _duplicate_check(duplicate_of: str | None, what: str, lang: str = "en") -> Check:
    if duplicate_of is None:
        return Check("not_duplicate", True, msg("duplicate_none", lang, what=what))
    return Check("not_duplicate", False, msg("duplicate_of", lang, what=what, earlier=duplicate_of))


BOTH = ("en", "ko")


@dataclass(frozen=True)
class Rule:
    """One check of a task's table (rules_qa, rules_tasks): its name, languages ("en" stands for every language
    but Korean), when it applies, its test, and what its failure does — "reject" (evidence against the label) or
    "flag" (only a lack of evidence for it: kept, with the reason)."""
    name: str
    langs: tuple[str, ...]
    applies: Callable[[Any], bool]
    test: Callable[[Any], Check | None]  # None: nothing to judge (the rule stays silent)
    on_fail: str


def walk(rules: tuple[Rule, ...], case: Any, lang: str, severity: dict[str, str] | None = None) -> list[Check]:
    """The checks of one record: every rule that speaks its language and applies, in table order; a failure whose
    rule flags (`severity` by rule name, else the rule's own `on_fail`) is kept as a flag."""
    checks = []
    for rule in rules:
        if ("ko" if lang == "ko" else "en") in rule.langs and rule.applies(case) and (check := rule.test(case)):
            if not check.passed and (severity or {}).get(check.rule or check.name, rule.on_fail) == "flag":
                check = replace(check, passed=True, flagged=True)  # kept, with the reason to review
            checks.append(check)
    return checks
