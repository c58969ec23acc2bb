"""Traces for multiple choice, NLI and summarization — same three steps, same Check/Trace shape as `traces`: each
measures its record once into a case and walks its task's rule table (`rules_tasks`), which says what text alone
can prove (rejected) and what it only suggests (flagged)."""

from __future__ import annotations

import random
import re

from types import SimpleNamespace as Case

from vla_builder.text.lang import affirmed_keys, keywords, negated, negated_keys, numbers
from vla_builder.text.messages import msg
from vla_builder.text.rules_tasks import CHOICE_CHECKS, CLASSIFICATION_CHECKS, NLI_CHECKS, SUMMARY_CHECKS
from vla_builder.text.traces import Trace, _confirm, _join, clip, walk


def _choice_index(choices: list[str], answer: int | str, index_base: int) -> int | None:
    if isinstance(answer, (int, float)) and not isinstance(answer, bool):
        return int(answer) - index_base
    a = str(answer).strip()
    if m := re.fullmatch(r"\(?([A-Za-z])[).]?", a):
        return ord(m.group(1).upper()) - 65
    if re.fullmatch(r"\d+", a):
        return int(a) - index_base
    return next((i for i, c in enumerate(choices) if c.strip() == a), None)


def choice_label(choices: list[str], answer: int | str, index_base: int = 0) -> str | None:
    """The label as records carry it: "B. text of the choice"."""
    i = _choice_index(choices, answer, index_base)
    return f"{chr(65 + i)}. {choices[i]}" if i is not None and 0 <= i < len(choices) else None


def choice_trace(question: str, choices: list[str], answer: int | str, *, context: str | None, key: str,
                 duplicate_of: str | None = None, index_base: int = 0, lang: str = "en") -> Trace:
    rng = random.Random(key)
    i = _choice_index(choices, answer, index_base)
    letters = ", ".join(chr(65 + j) for j in range(len(choices)))
    empty = [r for r, v in (("question", question),) if not v.strip()] + \
        ([msg("role_choices", lang)] if not choices or any(not c.strip() for c in choices) else [])
    in_range = i is not None and 0 <= i < len(choices)
    support: list[float] = []
    if context and in_range:
        ctx = set(keywords(context, lang))
        for c in choices:
            k = set(keywords(c, lang))
            support.append(len(k & ctx) / len(k) if k else 0.0)
    case = Case(task="multiple_choice", lang=lang, empty=empty, choices=choices, answer=answer, i=i, in_range=in_range,
                letters=letters, context=context, support=support, duplicate_of=duplicate_of)
    checks = walk(CHOICE_CHECKS, case, lang)
    failed = [c for c in checks if not c.passed]
    confirmed = choice_label(choices, answer, index_base) if not failed else None
    basis = {"task": "multiple_choice", "label_space": [f"{chr(65 + j)}. {c}" for j, c in enumerate(choices)],
             "question_keywords": list(dict.fromkeys(keywords(question, lang).values())),
             "passage": clip(context) if context else None, "choice_support": [round(s, 3) for s in support]}
    opts = ", ".join(f"{chr(65 + j)}) {clip(c, 40)}" for j, c in enumerate(choices))
    passage = msg("mc_passage", lang, passage=clip(context)) if context else "."
    step1 = rng.choice([msg("mc_basis_1", lang, opts=opts, question=clip(question), passage=passage),
                        msg("mc_basis_2", lang, opts=opts, question=clip(question), n=len(choices))])
    step2 = msg("mc_verify", lang)
    return Trace("multiple_choice", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed, lang)),
                 lang)


def nli_label(label: int | str, labels: list[str]) -> str | None:
    """The label's name: integers (and digit strings from CSV) index the label set, in KLUE/SNLI/MNLI order."""
    if isinstance(label, str) and label.strip().isdigit() and label.strip() not in labels:
        label = int(label)
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return labels[int(label)] if 0 <= int(label) < len(labels) else None
    return str(label).strip()


def nli_trace(premise: str, hypothesis: str, label: int | str, labels: list[str], *, key: str,
              duplicate_of: str | None = None, lang: str = "en") -> Trace:
    """NLI: the label must be in the set, and 'entailment' is rejected when the hypothesis states a number the
    premise does not; overlap and negation cues are quoted and checked, and a label they argue against is flagged,
    not rejected — those cues cannot decide entailment (see the module docstring)."""
    rng = random.Random(key)
    name = nli_label(label, labels)
    p_keys, h_keys = keywords(premise, lang), keywords(hypothesis, lang)
    shared = list(dict.fromkeys(h_keys[k] for k in h_keys if k in p_keys))
    new = list(dict.fromkeys(h_keys[k] for k in h_keys if k not in p_keys and h_keys[k] not in shared))
    coverage = sum(k in p_keys for k in h_keys) / len(h_keys) if h_keys else 0.0
    neg_p, neg_h = negated(premise, lang), negated(hypothesis, lang)
    # What the cues suggest, when they suggest anything: a negation on one side only over shared content hints
    # contradiction; full coverage with the same polarity hints entailment; mostly new content hints neutral.
    if neg_p != neg_h and coverage >= 0.5:
        suggests = "contradiction"
    elif coverage >= 0.99 and neg_p == neg_h:
        suggests = "entailment"
    elif coverage < 0.34:
        suggests = "neutral"
    else:
        suggests = None
    empty = [r for r, v in (("premise", premise), ("hypothesis", hypothesis)) if not v.strip()]
    space = ", ".join(labels)
    p_numbers = set(numbers(premise))
    new_numbers = [n for n in dict.fromkeys(numbers(hypothesis)) if n not in p_numbers]
    # A negation of something the other side never mentions (불편함없이 만족했다 / 만족스러웠다) decides nothing; a
    # side that also states the word outside the negation (방영되지 않았으며 … 정식 방영하는 것은) negates it of
    # something else: no clash.
    p_not, h_not = negated_keys(premise, lang), negated_keys(hypothesis, lang)
    p_yes, h_yes = affirmed_keys(premise, lang), affirmed_keys(hypothesis, lang)
    clash = sorted({p_keys[k] for k in p_not - p_yes if k in h_yes and k not in h_not} |
                   {h_keys[k] for k in h_not - h_yes if k in p_yes and k not in p_not})
    case = Case(task="nli", lang=lang, empty=empty, name=name, label=label, labels=labels, space=space,
                coverage=coverage, neg_p=neg_p, neg_h=neg_h, suggests=suggests, new_numbers=new_numbers, clash=clash,
                duplicate_of=duplicate_of)
    checks = walk(NLI_CHECKS, case, lang)
    failed = [c for c in checks if not c.passed]
    confirmed = name if not failed else None
    basis = {"task": "nli", "label_space": list(labels), "premise": clip(premise), "hypothesis": clip(hypothesis),
             "shared_words": shared, "new_words": new, "negation": {"premise": neg_p, "hypothesis": neg_h},
             "cues_suggest": suggests, "new_numbers": new_numbers}
    words = {"premise": clip(premise), "hypothesis": clip(hypothesis), "shared": _join(shared), "new": _join(new)}
    step1 = rng.choice([msg("nli_basis_1", lang, space=space, **words), msg("nli_basis_2", lang, **words)])
    step2 = msg("nli_verify", lang)
    return Trace("nli", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)


# Names a summary states (round 5): an acronym or a word with inner capitals (BERT, GANs, BiLSTM, ImageNet), or a
# capitalised word that does not open a sentence (English); in Korean text, words in Latin letters. Korean names in
# Hangul show no mark and are left to content_supported.
_NAME_EN = re.compile(r"(?<![\w-])(?:[A-Z][A-Za-z]*[A-Z][A-Za-z]*s?|[A-Z][a-z]+)(?![\w-])")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]*[A-Za-z0-9]")
_NOT_NAMES = {"I", "A", "An", "The", "We", "Our", "This", "These", "It", "In", "On", "For", "To", "By", "And", "Or"}


def names(text: str, lang: str) -> list[str]:
    if lang == "ko":
        return list(dict.fromkeys(m.group(0) for m in _LATIN_WORD.finditer(text) if len(m.group(0)) > 1))
    out = []
    for m in _NAME_EN.finditer(text):
        w = m.group(0)
        opens = re.search(r"(?:^|[.!?:;\n]\s*|[\"“(]\s*)$", text[:m.start()]) is not None
        if w in _NOT_NAMES or (opens and not re.search(r"[A-Z].*[A-Z]", w)):
            continue  # a sentence's first word is capitalised whatever it is
        out.append(w)
    return list(dict.fromkeys(out))


def _name_in(name: str, document: str) -> bool:
    """The document names it too: case aside, and a plural 's' aside (GANs / GAN)."""
    stem = name[:-1] if name.endswith("s") and len(name) > 3 else name
    return re.search(rf"(?<![A-Za-z]){re.escape(stem)}", document, re.IGNORECASE) is not None


def summary_trace(document: str, summary: str, *, key: str, duplicate_of: str | None = None,
                  lang: str = "en") -> Trace:
    """Summarization: every number and every name (`names`) in the summary must be in the document, and the
    summary's content words must come mostly from it (a summary of another document shares little)."""
    rng = random.Random(key)
    empty = [r for r, v in (("document", document), ("summary", summary)) if not v.strip()]
    doc_numbers = set(numbers(document))
    d_keys, s_keys = keywords(document, lang), keywords(summary, lang)
    shared = list(dict.fromkeys(s_keys[k] for k in s_keys if k in d_keys))
    case = Case(task="summarization", lang=lang, empty=empty, document=document, summary=summary,
                missing_numbers=[n for n in dict.fromkeys(numbers(summary)) if n not in doc_numbers],
                missing_names=[n for n in names(summary, lang) if not _name_in(n, document)],
                unsupported=list(dict.fromkeys(s_keys[k] for k in s_keys if k not in d_keys and s_keys[k] not in shared)),
                coverage=sum(k in d_keys for k in s_keys) / len(s_keys) if s_keys else 0.0, duplicate_of=duplicate_of)
    checks = walk(SUMMARY_CHECKS, case, lang)
    failed = [c for c in checks if not c.passed]
    confirmed = summary if not failed else None
    basis = {"task": "summarization", "label_space": msg("summary_label_space", lang),
             "document": clip(document), "summary_keywords": list(dict.fromkeys(s_keys.values())), "supported_words": shared,
             "numbers": sorted(set(numbers(summary)))}
    terms = _join(list(dict.fromkeys(s_keys.values()))[:10])
    step1 = rng.choice([msg("summary_basis_1", lang, document=clip(document), terms=terms),
                        msg("summary_basis_2", lang, document=clip(document))])
    step2 = msg("summary_verify", lang)
    return Trace("summarization", basis, tuple(checks), confirmed,
                 (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)


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
    cue_list = ", ".join(f"'{c['cue']}' ({c['label']})" for c in found)
    # English is drawn first in both languages (a Korean record then draws its own): the seed's wording stays put
    step1 = rng.choice([msg(f"cls_basis_{n}", "en", space=space, text=clip(text)) for n in (1, 2, 3)]) + \
        (msg("cls_cues", "en", cues=cue_list) if found else "")
    if lang == "ko":
        step1 = rng.choice([msg(f"cls_basis_{n}", "ko", space=space, text=clip(text)) for n in (1, 2)]) + \
            (msg("cls_cues", "ko", cues=cue_list) if found else "")

    empty = [r for r, v in (("text", text), ("label", label)) if not v.strip()]
    case = Case(task="classification", lang=lang, empty=empty, label=label, labels=labels, space=space, cues=cues,
                found=found, duplicate_of=duplicate_of)
    checks = walk(CLASSIFICATION_CHECKS, case, lang)
    failed = [c for c in checks if not c.passed]
    # The label set is the only source of truth for the answer: confirm the matching member of the set.
    confirmed = next((x for x in labels if x == label), None) if not failed else None
    step2 = rng.choice([msg(f"cls_verify_{n}", lang) for n in ((1, 2, 3) if lang != "ko" else (1, 2))])
    return Trace("classification", basis, tuple(checks), confirmed,
                 (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)