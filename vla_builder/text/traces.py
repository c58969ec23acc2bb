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
import re
from dataclasses import asdict, dataclass, field

from vla_builder.text.lang import keywords as lang_keywords
from vla_builder.text.messages import particles

STEP_TITLES = ("Step 1 - Question basis", "Step 2 - Error verification", "Step 3 - Answer confirmation")
STEP_TITLES_KO = ("1단계 - 질문 근거", "2단계 - 오류 검증", "3단계 - 답변 확정")
FINAL = {"en": "Final answer", "ko": "최종 답변"}
VERDICTS = ("rejected", "flagged", "confirmed")
UNANSWERABLE = {"en": "unanswerable", "ko": "답할 수 없음"}  # the confirmed answer of a question the context leaves open
_CLIP = 160  # longest quote, in characters: enough to show the evidence, short enough to read


def say(lang: str, en: str, ko: str) -> str:
    """The wording in the record's language (the trace structure and check names stay the same)."""
    return particles(ko) if lang == "ko" else en


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
        mark = {True: say(self.lang, "pass", "통과"), False: say(self.lang, "fail", "실패")}
        checks = "\n".join(f"- [{say(self.lang, 'flag', '보류') if c.flagged else mark[c.passed]}] {c.name}: {c.detail}"
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
    names = ", ".join(c.name for c in failed)
    if lang == "ko":
        if answer is None:
            return rng.choice([f"검증에 실패했으므로({names}) 답을 확정할 수 없다.",
                               f"{names} 검증을 통과하지 못해 확정할 답이 없다."])
        return rng.choice([f"모든 검증을 통과했으므로 답을 확정한다: {answer}.",
                           f"후보 답이 입력에 근거하고 모든 검증을 통과한다: {answer}.", f"확정: {answer}."])
    if answer is None:
        return rng.choice([
            f"Verification failed ({names}), so no answer can be confirmed.",
            f"No answer can be confirmed: {names} did not pass.",
        ])
    return rng.choice([
        f"Every check passes, so the answer is confirmed: {answer}.",
        f"The candidate is supported by the input and survives every check: {answer}.",
        f"Confirmed: {answer}.",
    ])


def _duplicate_check(duplicate_of: str | None, what: str, lang: str = "en") -> Check:
    if duplicate_of is None:
        return Check("not_duplicate", True, say(lang, f"no earlier record has the same {what}",
                                                 f"같은 {what}의 앞선 레코드가 없다"))
    return Check("not_duplicate", False, say(lang, f"same {what} as the earlier record {duplicate_of}",
                                             f"앞선 레코드 {duplicate_of}와 {what}이(가) 같다"))


def _find_cues(text: str, cues: dict[str, list[str]], lang: str = "en") -> list[dict]:
    found = []
    for label, words in cues.items():
        for w in words:
            # Korean cues take particles and endings (최고 -> 최고다, 최고의): match the stem as a substring.
            pattern = re.escape(w) if lang == "ko" else rf"\b{re.escape(w)}\b"
            if m := re.search(pattern, text, re.IGNORECASE):
                found.append({"cue": m.group(0), "label": label, "start": m.start()})
    return sorted(found, key=lambda c: (c["start"], c["label"]))


def classification_trace(text: str, label: str, labels: list[str], *, key: str,
                         cues: dict[str, list[str]] | None = None, duplicate_of: str | None = None,
                         lang: str = "en") -> Trace:
    """Classification: the label must be in the declared set and agree with any cue words the recipe lists."""
    rng = random.Random(key)
    found = _find_cues(text, cues or {}, lang)
    basis = {"task": "classification", "label_space": list(labels), "quote": clip(text), "cues": found}
    space = ", ".join(labels)
    cue_text = (" Cue words: " + ", ".join(f"'{c['cue']}' ({c['label']})" for c in found) + ".") if found else ""
    step1 = rng.choice([
        f"The instruction asks for exactly one label from {{{space}}}, and the answer depends on the whole text: "
        f"\"{clip(text)}\"",
        f"One label out of {{{space}}} has to be chosen for the text \"{clip(text)}\"",
        f"The task is classification over {{{space}}}; the evidence is the text itself: \"{clip(text)}\"",
    ]) + cue_text
    if lang == "ko":
        step1 = rng.choice([f"{{{space}}} 중 정확히 하나의 레이블을 골라야 하며, 근거는 본문 전체다: \"{clip(text)}\"",
                            f"본문 \"{clip(text)}\"에 {{{space}}} 중 하나의 레이블을 붙여야 한다"]) + \
            (" 단서어: " + ", ".join(f"'{c['cue']}' ({c['label']})" for c in found) + "." if found else "")

    empty = [r for r, v in (("text", text), ("label", label)) if not v.strip()]
    checks = [Check("not_empty", not empty, "text and label are both non-empty" if not empty
                    else f"empty: {', '.join(empty)}")]
    checks.append(Check("label_in_set", label in labels, f"'{label}' is one of {{{space}}}" if label in labels
                        else f"'{label}' is not one of {{{space}}}"))
    if cues:
        pointed = sorted({c["label"] for c in found})
        ok = not found or label in pointed  # mixed cues are fine; only a label every cue argues against fails
        checks.append(Check("cues_agree", ok, "no cue words in the text" if not found else
                            f"cue words point to {', '.join(pointed)}" + ("" if ok else f", not '{label}'")))
    checks.append(_duplicate_check(duplicate_of, say(lang, "text", "본문"), lang))
    failed = [c for c in checks if not c.passed]
    # The label set is the only source of truth for the answer: confirm the matching member of the set.
    confirmed = next((x for x in labels if x == label), None) if not failed else None
    step2 = rng.choice(["Checking the given label:", "Verifying the label against the text and the label set:",
                        "Checks on the candidate label:"] if lang != "ko" else
                       ["주어진 레이블을 검증한다:", "레이블을 본문과 레이블 집합에 대조한다:"])
    return Trace("classification", basis, tuple(checks), confirmed,
                 (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)