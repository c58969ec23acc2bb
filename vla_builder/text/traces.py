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
from dataclasses import asdict, dataclass

STEP_TITLES = ("Step 1 - Question basis", "Step 2 - Error verification", "Step 3 - Answer confirmation")

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being do does did done has have "
    "had what which who whom whose when where why how many much this that these those it its as into than then "
    "there their they them he she his her him i you we our your my me not no so if per each".split())
# Question word -> the kind of answer it asks for; first match wins, so two-word forms come first.
_QTYPES = (("how many", "a count"), ("how much", "an amount"), ("how long", "a duration or length"),
           ("who", "a person or group"), ("whom", "a person or group"), ("when", "a time or date"),
           ("where", "a place"), ("why", "a reason"), ("which", "one specific item"),
           ("what", "a thing or fact"), ("how", "a manner or method"))
_CLIP = 160  # longest quote, in characters: enough to show the evidence, short enough to read


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Trace:
    task: str
    basis: dict  # structured step 1: task type, label space, quoted evidence
    checks: tuple[Check, ...]  # step 2
    answer: str | None  # step 3: the confirmed answer, None when verification failed
    steps: tuple[str, str, str]  # the wording of the three steps

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    def as_dict(self) -> dict:
        return {"basis": self.basis, "verification": [asdict(c) for c in self.checks],
                "confirmation": {"answer": self.answer, "text": self.steps[2]}}

    def render(self) -> str:
        """The assistant turn: three labelled steps, then the final answer."""
        checks = "\n".join(f"- [{'pass' if c.passed else 'fail'}] {c.name}: {c.detail}" for c in self.checks)
        return (f"{STEP_TITLES[0]}: {self.steps[0]}\n{STEP_TITLES[1]}: {self.steps[1]}\n{checks}\n"
                f"{STEP_TITLES[2]}: {self.steps[2]}\nFinal answer: {self.answer}")


def _stem(word: str) -> str:
    # Crude on purpose (no dictionary, no model): enough that "teams"/"team" and "installed"/"install" meet.
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def keywords(text: str) -> dict[str, str]:
    """Content words of `text`: stem -> the word as first written, in first-seen order (stems match, words show)."""
    out: dict[str, str] = {}
    for w in _WORD.findall(text.lower()):
        if w not in _STOP and len(s := _stem(w)) > 1:
            out.setdefault(s, w)
    return out


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: split after . ! ? followed by space."""
    spans, start = [], 0
    for m in re.finditer(r"(?<=[.!?])\s+", text):
        spans.append((start, m.start()))
        start = m.end()
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if text[a:b].strip()]


def clip(text: str, n: int = _CLIP) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def normalized(text: str) -> str:
    """Key for duplicate detection: case and spacing do not make a record new."""
    return " ".join(text.lower().split())


def _join(words: list[str]) -> str:
    return ", ".join(f"'{w}'" for w in words) if words else "(none)"


def _confirm(rng: random.Random, answer: str | None, failed: list[Check]) -> str:
    if answer is None:
        return rng.choice([
            f"Verification failed ({', '.join(c.name for c in failed)}), so no answer can be confirmed.",
            f"No answer can be confirmed: {', '.join(c.name for c in failed)} did not pass.",
        ])
    return rng.choice([
        f"Every check passes, so the answer is confirmed: {answer}.",
        f"The candidate is supported by the input and survives every check: {answer}.",
        f"Confirmed: {answer}.",
    ])


def _duplicate_check(duplicate_of: str | None, what: str) -> Check:
    return Check("not_duplicate", duplicate_of is None,
                 f"no earlier record has the same {what}" if duplicate_of is None
                 else f"same {what} as the earlier record {duplicate_of}")


def _locate(context: str, answer: str) -> list[tuple[int, int, bool]]:
    """Every place the answer occurs: (start, end, exact); exact matches, else matches ignoring case and spacing."""
    hits = [(m.start(), m.start() + len(answer), True) for m in re.finditer(re.escape(answer), context)]
    if not hits and answer.split():
        pattern = r"\s+".join(re.escape(t) for t in answer.split())
        hits = [(m.start(), m.end(), False) for m in re.finditer(pattern, context, re.IGNORECASE)]
    return hits


def qa_trace(question: str, context: str, answer: str, *, key: str, duplicate_of: str | None = None) -> Trace:
    """Extractive QA: the answer must be a span of the context, in a sentence that speaks to the question."""
    rng = random.Random(key)
    q_words = keywords(question)
    spans = sentences(context)
    shared = [[q_words[s] for s in keywords(context[a:b]) if s in q_words] for a, b in spans]
    # Evidence: the (up to two) sentences sharing most content words with the question, in context order.
    ranked = sorted((i for i in range(len(spans)) if shared[i]), key=lambda i: (-len(shared[i]), i))[:2]
    evidence = [{"quote": clip(context[spans[i][0]:spans[i][1]]), "start": spans[i][0], "end": spans[i][1],
                 "shared_words": shared[i]} for i in sorted(ranked)]
    q = question.lower()
    qword, expects = next(((w, k) for w, k in _QTYPES if re.search(rf"\b{w}\b", q)), ("", "a fact"))
    basis = {"task": "extractive_qa", "label_space": "a span of the context", "question_word": qword or None,
             "expects": expects, "question_keywords": list(q_words.values()), "evidence": evidence}
    quotes = " and ".join(f'"{e["quote"]}"' for e in evidence)
    terms = _join(list(q_words.values()))
    if evidence:
        step1 = rng.choice([
            f"The question asks for {expects}, copied verbatim from the context. It turns on {terms}; "
            f"the context speaks to these in {quotes}",
            f"This is extractive QA: the answer, {expects}, must be a span of the context. Key terms in the "
            f"question: {terms}. The context covers them in {quotes}",
            f"To answer I need {expects} taken from the context. The question rests on {terms}, "
            f"which the context addresses in {quotes}",
        ])
    else:
        step1 = (f"The question asks for {expects} from the context, but no context sentence shares a content word "
                 f"with it ({terms}).")

    empty = [r for r, v in (("question", question), ("context", context), ("answer", answer)) if not v.strip()]
    checks = [Check("not_empty", not empty, "question, context and answer are all non-empty" if not empty
                    else f"empty: {', '.join(empty)}")]
    def support(start: int) -> list[str]:  # question words shared by the sentence holding `start`
        return next((shared[i] for i, (a, b) in enumerate(spans) if a <= start < b), [])

    # Of several occurrences, the one in the sentence that best matches the question (the first on ties).
    hits = _locate(context, answer) if not empty else []
    found = max(hits, key=lambda h: (h[2], len(support(h[0]))), default=None)
    if found is None:
        checks.append(Check("answer_in_context", False, "not checked: the record has empty fields" if empty
                            else f"'{clip(answer, 60)}' does not occur in the context"))
    else:
        start, end, exact = found
        checks.append(Check("answer_in_context", True,
                            f"'{clip(answer, 60)}' found at characters {start}-{end}" + ("" if exact else
                            f" as '{context[start:end]}' (only when ignoring case and spacing)")))
        words = support(start)
        checks.append(Check("answer_supported", bool(words),
                            f"its sentence shares {_join(words)} with the question" if words else
                            "its sentence shares no content word with the question"))
    checks.append(_duplicate_check(duplicate_of, "question and context"))
    failed = [c for c in checks if not c.passed]
    # The confirmed answer is what the context actually says at the located span — not the label — so a label
    # that differs from its own context (say, in case) is caught by the label gate in the builder.
    confirmed = context[found[0]:found[1]] if found and not failed else None
    step2 = rng.choice(["Checking the candidate answer against the context:", "Verifying the given answer:",
                        "Checks on the candidate answer:"])
    return Trace("qa", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed)))


def _find_cues(text: str, cues: dict[str, list[str]]) -> list[dict]:
    found = []
    for label, words in cues.items():
        for w in words:
            if m := re.search(rf"\b{re.escape(w)}\b", text, re.IGNORECASE):
                found.append({"cue": m.group(0), "label": label, "start": m.start()})
    return sorted(found, key=lambda c: (c["start"], c["label"]))


def classification_trace(text: str, label: str, labels: list[str], *, key: str,
                         cues: dict[str, list[str]] | None = None, duplicate_of: str | None = None) -> Trace:
    """Classification: the label must be in the declared set and agree with any cue words the recipe lists."""
    rng = random.Random(key)
    found = _find_cues(text, cues or {})
    basis = {"task": "classification", "label_space": list(labels), "quote": clip(text), "cues": found}
    space = ", ".join(labels)
    cue_text = (" Cue words: " + ", ".join(f"'{c['cue']}' ({c['label']})" for c in found) + ".") if found else ""
    step1 = rng.choice([
        f"The instruction asks for exactly one label from {{{space}}}, and the answer depends on the whole text: "
        f"\"{clip(text)}\"",
        f"One label out of {{{space}}} has to be chosen for the text \"{clip(text)}\"",
        f"The task is classification over {{{space}}}; the evidence is the text itself: \"{clip(text)}\"",
    ]) + cue_text

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
    checks.append(_duplicate_check(duplicate_of, "text"))
    failed = [c for c in checks if not c.passed]
    # The label set is the only source of truth for the answer: confirm the matching member of the set.
    confirmed = next((x for x in labels if x == label), None) if not failed else None
    step2 = rng.choice(["Checking the given label:", "Verifying the label against the text and the label set:",
                        "Checks on the candidate label:"])
    return Trace("classification", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed)))
