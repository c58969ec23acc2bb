"""Where a question's words stand in its context: the sentence overlap, rarity weights and word distances that the
QA rules (`rules_qa`) read. Pure functions over text, no wording, no verdicts.
"""

from __future__ import annotations

import math
import re

from vla_builder.text.lang import anaphoric
from vla_builder.text.lang import keywords as lang_keywords
from vla_builder.text.lang import sentences as lang_sentences
from vla_builder.text.lang import tokens as lang_tokens

SUPPORT_RATIO = 0.5  # the answer's sentence must carry at least this share of the best sentence's question overlap
ANSWER_WORD_WEIGHT = 0.5
NEIGHBOUR_WEIGHT = 0.5


def named_in_question(answer: str, question: str, lang: str) -> set[str]:
    """English only: names (capitalised words, not opening the sentence) in both the answer and the question — an
    answer naming the question's own subject ("King Ethelred II" for "Where did Ethelred flee?") answers
    something else."""
    if lang == "ko":
        return set()

    def names(text: str, skip_first: bool) -> set[str]:
        pattern = r"(?<!^)\b[A-Z][\w'-]{2,}" if skip_first else r"\b[A-Z][\w'-]{2,}"
        return {k for m in re.finditer(pattern, text.strip()) for k in lang_keywords(m.group(0), lang)}
    # In the question, a capital opening it is no sign of a name ("Copper ..." / "Why do ... copper bases?").
    shared = names(answer, False) & names(question, True)
    if shared and _adds_common_words(answer, question, lang):
        return set()  # "Paris salons" for "… visit in Paris …": a thing in the named place, not the place
    if shared:
        # An answer that adds a name of its own ("Sky+HD Box" for "What replaced the Sky+ Box?": HD) names
        # something else than the question's subject; a title (King, Duke) or a regnal number adds none.
        own = {m.group(0).lower() for m in re.finditer(r"\b[A-Z][\w'+-]*|\b[A-Z]{2,}\b", answer)}
        asked = {m.group(0).lower() for m in re.finditer(r"\b[A-Z][\w'+-]*", question)}
        if {w for w in own - asked if w not in _TITLES and not re.fullmatch(r"[ivxlc]+", w)}:
            return set()
    return shared


_TITLES = {"king", "queen", "duke", "duchess", "count", "countess", "earl", "lord", "lady", "prince", "princess",
           "emperor", "empress", "pope", "bishop", "archbishop", "sir", "saint", "st", "st.", "mr", "mrs", "dr", "the"}


def _adds_common_words(answer: str, question: str, lang: str) -> bool:
    """The answer holds a lower-case content word (not a title) that the question does not."""
    asked = set(lang_keywords(question, lang))
    return any(set(lang_keywords(w, lang)) - asked for w in re.findall(r"\b[a-z][\w'-]*", answer)
               if w not in _TITLES)


def stem_key(word: str) -> str:
    """An English word's match key (its Snowball stem), for comparing single words."""
    toks = lang_tokens(word, "en")
    return toks[0][0] if toks else word.lower()



def locate(context: str, answer: str) -> list[tuple[int, int, bool]]:
    """Every place the answer occurs: (start, end, exact); exact matches, else matches ignoring case and spacing."""
    hits = [(m.start(), m.start() + len(answer), True) for m in re.finditer(re.escape(answer), context)]
    if not hits and answer.split():
        pattern = r"\s+".join(re.escape(t) for t in answer.split())
        hits = [(m.start(), m.end(), False) for m in re.finditer(pattern, context, re.IGNORECASE)]
    return hits


# English words of one family meet (religious / religion, settlers / settlement: Snowball stems keep the suffixes
# apart): a lower-case context word sharing its first DERIVED_PREFIX letters with a question word counts as that
# word (round 5). Names are left alone: a name is its own word (Raoulii is not "Raouliii").
DERIVED_PREFIX = 6


def _derived_key(key: str, question_keys: dict[str, str]) -> str:
    if key in question_keys or len(key) < DERIVED_PREFIX:
        return key
    return next((q for q in question_keys if len(q) >= DERIVED_PREFIX and q[:DERIVED_PREFIX] == key[:DERIVED_PREFIX]),
                key)


class Overlap:
    """Question content shared by each context sentence, weighted by rarity across the sentences (a word every
    sentence carries, like the article's subject, says little about where the answer is)."""

    def __init__(self, question: str, context: str, lang: str):
        self.q = lang_keywords(question, lang)
        self.spans = lang_sentences(context, lang)
        toks = lang_tokens(context, lang)
        if lang != "ko":
            toks = [(_derived_key(k, self.q) if context[pos:pos + 1].islower() else k, s, pos) for k, s, pos in toks]
        self.per_sentence: list[list[tuple[str, str, int]]] = [[] for _ in self.spans]
        for t in toks:
            i = self.sentence_of(t[2])
            if i is not None:
                self.per_sentence[i].append(t)
        df: dict[str, int] = {}
        for sent in self.per_sentence:
            for k in {k for k, _, _ in sent}:
                df[k] = df.get(k, 0) + 1
        n = len(self.spans)
        self.weight = {k: math.log(1 + n / d) for k, d in df.items()}

    def sentence_of(self, pos: int) -> int | None:
        return next((i for i, (a, b) in enumerate(self.spans) if a <= pos < b), None)

    def shared(self, i: int, skip: tuple[int, int] = (0, 0)) -> dict[str, str]:
        """Question keys found in sentence i: key -> surface in the context."""
        out: dict[str, str] = {}
        for k, surface, pos in self.per_sentence[i]:
            if k in self.q:
                out.setdefault(k, surface)
        return out

    def score(self, i: int, skip: tuple[int, int] = (0, 0)) -> float:
        """Weighted overlap of sentence i with the question; words inside `skip` (the answer itself) count
        `ANSWER_WORD_WEIGHT`: a true answer may hold a question word (보호무역 for 무역), a wrong one should not
        vouch for itself."""
        inside = {k for k, _, pos in self.per_sentence[i] if k in self.q and skip[0] <= pos < skip[1]}
        outside = {k for k, _, pos in self.per_sentence[i] if k in self.q and not skip[0] <= pos < skip[1]}
        return sum(self.weight[k] for k in outside) + \
            ANSWER_WORD_WEIGHT * sum(self.weight[k] for k in inside - outside)

    def words(self, i: int, context: str) -> list[tuple[int, int]]:
        """(start, end) of the whitespace words of sentence i (Korean eojeol: a word with its particles)."""
        a, b = self.spans[i]
        return [(a + m.start(), a + m.end()) for m in re.finditer(r"\S+", context[a:b])]

    def nearness(self, i: int, span: tuple[int, int], context: str) -> float:
        """How close the question's words sit to `span` inside sentence i: each question key found outside the span
        adds its rarity weight / (1 + the number of words between it and the span), nearest occurrence counted."""
        words = self.words(i, context)
        inside = [j for j, (a, b) in enumerate(words) if a < span[1] and b > span[0]]
        if not inside:
            return 0.0
        first, last = inside[0], inside[-1]
        best: dict[str, int] = {}
        for k, _, pos in self.per_sentence[i]:
            if k not in self.q or span[0] <= pos < span[1]:
                continue
            j = next((j for j, (a, b) in enumerate(words) if a <= pos < b), None)
            if j is None or first <= j <= last:
                continue
            gap = first - j - 1 if j < first else j - last - 1
            # A clause boundary (a comma) between them: the word belongs to another clause's predicate.
            between = words[j:first] if j < first else words[last:j]
            gap += CLAUSE_GAP * sum(context[b - 1] == "," for _, b in between)
            best[k] = min(best.get(k, gap), gap)
        return sum(self.weight[k] / (1 + g) for k, g in best.items())

    def continues(self, i: int, context: str, lang: str) -> bool:
        """English only: the sentence opens on a definite noun its predecessor introduced ("... a string over an
        alphabet. Usually, the alphabet is taken to be ..."): it goes on about the thing the sentence before named."""
        if lang == "ko" or i == 0:
            return False
        a, b = self.spans[i]
        m = re.search(r"\bthe\s+([a-z][a-z-]+)\b", " ".join(context[a:b].split()[:5]))
        if not m:
            return False
        keys = [k for k, _, _ in lang_tokens(m.group(1), lang)]
        return bool(keys) and keys[0] in {k for k, _, _ in self.per_sentence[i - 1]}

    def support(self, i: int, skip: tuple[int, int], context: str, lang: str) -> tuple[float, dict[str, str]]:
        """Overlap of the answer's sentence; one that opens by pointing back ("It premiered ...", "그는 ...") also
        counts its predecessor at `NEIGHBOUR_WEIGHT` (its subject lives there)."""
        own, shared = self.score(i, skip), self.shared(i, skip)
        a, b = self.spans[i]
        if i > 0 and (anaphoric(context[a:b], lang) or self.continues(i, context, lang)):
            own += NEIGHBOUR_WEIGHT * self.score(i - 1)
            shared = {**shared, **{k: v for k, v in self.shared(i - 1).items() if k not in shared}}
        return own, shared


def one_of_alternatives(a_keys: set[str], question: str, lang: str) -> bool:
    """English alternative questions ("... abstract or concrete?"): the answer's words are all in the up-to-three
    words on one side of the question's "or"."""
    if lang == "ko":
        return False
    for m in re.finditer(r"\bor\b", question):
        left = " ".join(question[:m.start()].split()[-3:])
        right = " ".join(question[m.end():].split()[:3])
        if any(a_keys <= set(lang_keywords(side, lang)) for side in (left, right)):
            return True
    return False




def restated(ov: "Overlap", answer: str, i: int, best: float, context: str,
              lang: str) -> tuple[int, dict[str, str]] | None:
    """Another sentence naming the answer again — its content words in order, stems matching ("instances" / "the
    instance") — that speaks to the question well enough: a span marked where the context first names a thing
    still answers a question about what a later sentence says of it. Only for English common nouns: a name
    (capitalised) recurs wherever its bearer acts, so its recurrence says nothing, and Korean shows no capitals
    (measured: names and Korean let wrong answers through, BENCHMARKS.md). The answer's own words count as in
    `support`."""
    seq = [k for k, _, _ in lang_tokens(answer, lang)]
    if not seq or lang == "ko" or re.search(r"[A-Z]", answer):
        return None
    n = len(seq)
    for j in sorted(range(len(ov.spans)), key=lambda j: -ov.score(j)):
        toks = ov.per_sentence[j]
        at = next((x for x in range(len(toks) - n + 1) if [k for k, _, _ in toks[x:x + n]] == seq), None)
        if j == i or at is None:
            continue
        own, shared = ov.support(j, (toks[at][2], toks[at + n - 1][2] + 1), context, lang)
        if own > 0 and own >= SUPPORT_RATIO * best:
            return j, shared
    return None


CLAUSE_GAP = 2  # words added to a distance for each comma crossed
RIVAL_FACTOR = 2.0  # a same-kind span this many times nearer the question's words than the answer outranks it


def _same_kind(answer: str, candidate: str) -> bool:
    """Spans that could stand in for each other: numbers of one unit (877년 / 896년, not 935년 / 3월). Names were
    tried too (English capitals) and dropped: they rejected true SQuAD answers (BENCHMARKS.md)."""
    return any(ch.isdigit() for ch in answer) and any(ch.isdigit() for ch in candidate) and \
        _unit(answer) == _unit(candidate)


def _unit(text: str) -> str:
    """What follows the last number: 년, 월, years, century (particles and punctuation dropped). A time of day
    (02:28:01) and a date naming its month (May 12) are kinds of their own: no rival for a year (round 6)."""
    m = re.search(r"\d[\d,.]*\s*([^\W\d_]*)[^\d]*$", text)
    word = m.group(1).lower() if m else ""
    kind = "clock:" if re.search(r"\d:\d\d", text) else "date:" if _MONTH_NAME.search(text) else ""
    return kind + (word[:1] if word and "\uac00" <= word[0] <= "\ud7a3" else word.rstrip("s"))


_MONTH_NAME = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)
_MONTH_AFTER = re.compile(r"\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b", re.IGNORECASE)


def _day_of_month(context: str, end: int) -> bool:
    """A number a month name follows is a day of the month ("1 March 1810"): no rival for a year."""
    return bool(_MONTH_AFTER.match(context, end))


def closest_rival(ov: "Overlap", i: int, span: tuple[int, int], context: str) -> tuple[float, str | None, float]:
    """The answer's nearness to the question's words, and the nearest other span of its kind and length in the same
    sentence (one holding no question word): two years in one sentence are told apart by which one stands next to
    what the question asks about."""
    near = ov.nearness(i, span, context)
    words = ov.words(i, context)
    n = max(1, sum(1 for a, b in words if a < span[1] and b > span[0]))
    q_pos = {pos for k, _, pos in ov.per_sentence[i] if k in ov.q}
    answer = context[span[0]:span[1]]
    best, best_text = 0.0, None
    for j in range(len(words) - n + 1):
        a, b = words[j][0], words[j + n - 1][1]
        if a < span[1] and b > span[0]:
            continue
        if any(a <= p < b for p in q_pos):
            continue
        if "[" in context[a:b] or "]" in context[a:b]:
            continue  # a note mark ("[n 1]") counts nothing
        text = context[a:b].strip(".,;:!?\"'()[]")
        if not text or not _same_kind(answer, text) or _day_of_month(context, b) != _day_of_month(context, span[1]):
            continue
        score = ov.nearness(i, (a, b), context)
        if score > best:
            best, best_text = score, text
    return near, best_text, best


# Korean question words and the light nouns a question ends on ("... 보낸 것은?", "... 궁녀의 이름은?"): the word
# before them is what the question turns on.
_KO_NOT_FOCUS = re.compile(r"^(무엇|뭐|누구|누가|어디|언제|어느|어떤|어떻|무슨|몇|얼마|왜|것|이름|사람|인물|곳|때|이유|"
                           r"방법|장소|시기|연도|년도|해는|해가|날은|날짜|"
                           # auxiliary and light verbs carry no content ("놓이게 되었는가", "하였는가", "있었나")
                           r"되|됐|된|하였|했|하는|한가|있|없|않)")


def focus_keys(question: str, lang: str) -> tuple[dict[str, str], dict[str, str]]:
    """Korean: (focus, kind). The focus is the keys of the predicate nearest the end of the question, past its
    question word and light noun — what the asked-for thing is tied to (보낸 in "... 죽이기 위해 보낸 것은?"); the
    kind is the keys of the nouns after it, which name what is asked for (궁녀, 이름 in "도와준 궁녀의 이름은?")."""
    if lang != "ko":
        return {}, {}
    words = re.findall(r"[^\s?.!]+", question)
    for n in range(len(words) - 1, -1, -1):
        w = words[n]
        # A question ending on a noun with its topic particle ("... 믿은 종교는?") names the kind of the answer
        # (종교: 천주교), which the context need not repeat beside it: it is never the focus.
        last_topic = n == len(words) - 1 and re.search(r"[은는란]$", w)
        if not last_topic and not _KO_NOT_FOCUS.match(w) and _predicate_like(w):
            kind: dict[str, str] = {}
            for x in words[n + 1:]:
                if not _KO_QUESTION_WORD.match(x):
                    kind.update(lang_keywords(x, lang))
            return lang_keywords(w, lang), kind
    return {}, {}


_KO_QUESTION_WORD = re.compile(r"^(무엇|뭐|누구|누가|어디|언제|어느|어떤|어떻|무슨|몇|얼마|왜|것)")


def kind_beside(ov: "Overlap", i: int, span: tuple[int, int], context: str, kind: dict[str, str],
                 within: int = 2) -> bool:
    """A key of `kind` within `within` words after the span in sentence i (Korean puts the noun after its name)."""
    if not kind:
        return False
    words = ov.words(i, context)
    last = max((j for j, (a, b) in enumerate(words) if a < span[1] and b > span[0]), default=None)
    if last is None:
        return False
    lo, hi = words[last][0], words[min(len(words) - 1, last + within)][1]
    return any(k in kind and lo <= pos < hi and not span[0] <= pos < span[1] for k, _, pos in ov.per_sentence[i])


def _predicate_like(word: str) -> bool:
    """A Korean word that ends as a verb does before a noun (보낸, 믿은, 참석하는, 할) or at a question's end
    (태어났나, 보냈는가): bare nouns (앨범 in "앨범 이름은") say what kind of answer is wanted, not where it is."""
    last = word[-1:]
    if not "\uac00" <= last <= "\ud7a3":
        return False
    return (ord(last) - 0xAC00) % 28 in (4, 8) or last in "나가까냐지요다"

