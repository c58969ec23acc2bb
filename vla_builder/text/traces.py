"""The three-step reasoning trace for one text record: pure functions, no I/O, no model.

1. question basis: what the answer rests on (task type, label space, the quoted parts of the input);
2. error verification: named checks of the candidate answer against the input and the label set, each pass/fail;
3. answer confirmation: the answer the checks support, or None when they do not.

The builder keeps a record only when the confirmed answer equals its source label. Wording is picked among
paraphrases by `random.Random(key)` (string seeding is stable across runs and platforms), where `key` carries the
recipe seed and the record id: the same seed gives byte-identical text.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, dataclass

from vla_builder.text.kinds import (MEASURE_NOUN, answer_kinds, direction_only, kind_mismatch, lists_several,
                                    not_a_who, offers_alternatives, several_asked, spelled_number_only,
                                    subject_after_verb)
from vla_builder.text.lang import anaphoric
from vla_builder.text.lang import keywords as lang_keywords
from vla_builder.text.lang import sentences as lang_sentences
from vla_builder.text.lang import tokens as lang_tokens

STEP_TITLES = ("Step 1 - Question basis", "Step 2 - Error verification", "Step 3 - Answer confirmation")
STEP_TITLES_KO = ("1단계 - 질문 근거", "2단계 - 오류 검증", "3단계 - 답변 확정")
FINAL = {"en": "Final answer", "ko": "최종 답변"}
UNANSWERABLE = {"en": "unanswerable", "ko": "답할 수 없음"}  # the confirmed answer of a question the context leaves open

# Question word -> (what it asks for, the kind of answer: number / time / entity / other); first match wins, so
# longer forms come first. The kind is checked against the answer: a count needs a number, a date needs a time
# expression, and an answer that is only a number or a date cannot answer a question for a person or a thing.
_QTYPES = {
    "en": ((r"how many|how much|what (?:percentage|number|amount|population|size)|what (?:is|was|are|were) the (?:\w+ )?"
            r"(?:population|number|amount|total|percentage|proportion|ranking|rank)", "a count or amount", "number"),
           (r"how old", "an age", "number"),
           (r"when|what (?:year|century|decade|date|day|month|time|period|age)|which (?:year|century|decade)",
            "a time or date", "time"),
           (r"how long", "a duration or length", "duration"),
           (r"how often|how frequently", "a frequency", "frequency"),
           (r"how (?:large|big|small|tall|high|low|far|deep|wide|heavy|fast|slow|populous|dense|common|rare|"
            r"important|close|great|strong|successful|popular|wealthy|rich|poor|hot|cold|warm)", "a measure or degree",
            "degree"),
           (r"who|whom|whose", "a person or group", "entity"), (r"where", "a place", "entity"),
           (r"why", "a reason", "other"), (r"which", "one specific item", "other"),
           (r"what", "a thing or fact", "other"), (r"how", "a manner or method", "other")),
    "ko": ((r"몇\s*(?:년|해)|연도|년도|(?<![가-힣])해는|(?<![가-힣])해\?|언제|날짜|(?<![가-힣])날은|몇\s*세기|시기는",
            "시점", "time"),
           (r"몇|얼마|나이", "수량", "number"),
           (r"누구|누가|인물|사람|이름|저자", "인물", "entity"), (r"어디|장소|(?<![가-힣])곳", "장소", "entity"),
           (r"왜|이유", "이유", "other"), (r"무엇|어떤|어느|무슨", "대상", "other")),
}
_TIME_WORDS = re.compile(r"\d|\b(century|centuries|year|years|decade|decades|era|age|period|reign|during|after|"
                         r"before|until|since|ago|bc|ad|bce|ce|spring|summer|autumn|fall|winter|morning|evening|night|"
                         r"today|now|january|february|march|april|may|june|july|august|september|october|november|"
                         r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|medieval|modern|early|late|"
                         r"mid|war)\b|년|월|일|세기|시대|때|무렵|이전|이후|초기|말기|중반|시절|왕조|기간", re.IGNORECASE)
_NUMBER_WORDS = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                           r"forty|fifty|hundred|thousand|million|billion|first|second|third|fourth|fifth|sixth|seventh|eighth|"
                           r"ninth|tenth|eleventh|twelfth|dozen|half|several|few|hundreds|thousands|millions|billions|dozens|"
                           r"many|single|both|double|triple|none)\b|(?:한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|스무|백|천|만|억|첫|수)\s*"
                           r"(?:번|명|개|살|해|년|가지|차례|째|권|곳|배|시간|일|달|주|세|천|만|억)", re.IGNORECASE)
_NUMBER_NOUN = re.compile(r"\b(integers?|numbers?|digits?|values?|figures?|scores?|numerals?)\b|숫자|수치|점수|값",
                          re.IGNORECASE)
# A number with a counter that counts things, not time (4차례, 5명, 3 times, 200 men): it cannot answer "when".
_COUNT = re.compile(r"\d[\d,.]*\s*(?:차례|번째|번|회|명|개|위|권|곳|배|가지|마리|채|척|대|%|퍼센트|"
                    r"(?:times|people|persons|men|women|soldiers|troops|ships|percent)\b)", re.IGNORECASE)
_MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
# An answer made only of these is a number or a date (1989년 2월 15일, the 10th and 11th centuries, 911, July 2013).
_DATE_TOKEN = re.compile(r"^(\d[\d,.]*(?:st|nd|rd|th|s)?|\d+[년월일세살시분초개명번회차위%]*|the|and|or|of|in|on|"
                         r"about|around|c\.|century|centuries|year|years|decade|bc|ad|[ivxlc]+|"
                         rf"{_MONTHS_EN}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)$", re.IGNORECASE)
# Round 5: what a time check must not read as a time — a digit inside a name ("Astra 2A", "A380", "33C") and a
# number grouped in thousands ("40,000": a count; years are not written so).
_NOT_TIME_EN = re.compile(r"\b(?:[A-Za-z]+\d\w*|\d+(?!(?:st|nd|rd|th|s|am|pm|bc|ad|bce|ce)\b)[A-Za-z]\w*|"
                          r"\d{1,3}(?:,\d{3})+(?:\.\d+)?)\b")
_MONTH_OR_TIME_PREP_EN = re.compile(rf"\b(?:{_MONTHS_EN}|in|since|by|from|until|till|of)\s*$", re.IGNORECASE)


# "How often ...?" (round 5): a frequency says how many times in a span ("every four years", "twice a day",
# "annually"), or at least gives a number or a time word.
_FREQUENCY = re.compile(r"\b(every|each|per|once|twice|thrice|times?|always|never|rarely|seldom|often|usually|"
                        r"sometimes|regularly|frequently|occasionally|constantly|continuously|annual|annually|yearly|"
                        r"biennial|biennially|monthly|weekly|daily|hourly|nightly|quarterly|perennial|seasonal|"
                        r"seasonally)\b", re.IGNORECASE)
# An adjective phrase of degree ("most densely populated", "very large") describes; it names no place (round 5).
_DEGREE_PHRASE_EN = re.compile(r"^(?:the\s+)?(?:most|more|less|least|very|highly|extremely|fairly|relatively|"
                               r"quite|rather)\s+[a-z-]+(?:\s+[a-z-]+)?$")

# English answer shapes that cannot answer "where" (a person) or "who" (an event, place or thing).
_PERSON_EN = re.compile(r"^(king|queen|duke|duchess|count|countess|earl|lord|lady|prince|princess|emperor|empress|"
                        r"pope|bishop|archbishop|sir|saint|st\.?|mr|mrs|dr)\b|\b[A-Z][a-z]+ (?:I|II|III|IV|V|VI|VII|VIII"
                        r"|IX|X|XI|XII)$", re.IGNORECASE)
_EVENT_PLACE_EN = re.compile(r"\b(battle|war|siege|treaty|revolution|river|sea|ocean|lake|bay|mountains?|island|"
                             r"valley|castle|language|religion|century|year)\b", re.IGNORECASE)


# "What country / which city / what language ...": the answer is a proper name (capitalised in English).
_NAMED_KIND_EN = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:country|countries|city|cities|state|nation|"
                            r"continent|kingdom|region|island|river|sea|language|empire|county|province|town)\b",
                            re.IGNORECASE)


def _question_type(question: str, lang: str) -> tuple[str, str, str]:
    """(question word, what it asks for, answer kind). English asks up front ("Who was the leader when ..."), so
    the earliest question word wins; Korean asks at the end ("... 파견 된 인물은?"), so the last one does."""
    found = []
    for order, (w, expects, kind) in enumerate(_QTYPES.get(lang, _QTYPES["en"])):
        for m in re.finditer(rf"(?<![a-z])(?:{w})(?![a-z])", question.lower()):
            found.append((m.start() if lang != "ko" else -m.start(), order, m.group(0), expects, kind))
    if not found:
        return "", say(lang, "a fact", "사실"), "other"
    _, _, word, expects, kind = min(found)
    return word, expects, kind


def _named_in_question(answer: str, question: str, lang: str) -> set[str]:
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
    if shared and NEW_NAME_ANSWERS:
        # An answer that adds a name of its own ("Sky+HD Box" for "What replaced the Sky+ Box?": HD) names
        # something else than the question's subject; a title (King, Duke) or a regnal number adds none.
        own = {m.group(0).lower() for m in re.finditer(r"\b[A-Z][\w'+-]*|\b[A-Z]{2,}\b", answer)}
        asked = {m.group(0).lower() for m in re.finditer(r"\b[A-Z][\w'+-]*", question)}
        if {w for w in own - asked if w not in _TITLES and not re.fullmatch(r"[ivxlc]+", w)}:
            return set()
    return shared


NEW_NAME_ANSWERS = True  # an answer adding a name of its own is not the question's subject named again; measured
_TITLES = {"king", "queen", "duke", "duchess", "count", "countess", "earl", "lord", "lady", "prince", "princess",
           "emperor", "empress", "pope", "bishop", "archbishop", "sir", "saint", "st", "st.", "mr", "mrs", "dr", "the"}


def _stem_key(word: str) -> str:
    """An English word's match key (its Snowball stem), for comparing single words."""
    toks = lang_tokens(word, "en")
    return toks[0][0] if toks else word.lower()


def _date_or_number_only(answer: str) -> bool:
    words = re.findall(r"[\w.%]+", answer)
    return bool(words) and any(ch.isdigit() for ch in answer) and all(_DATE_TOKEN.match(w) for w in words) or \
        spelled_number_only(answer)


SUPPORT_RATIO = 0.5  # the answer's sentence must carry at least this share of the best sentence's question overlap
WEAK_SUPPORT_RATIO = 0.25  # with weak_support="flag", from here up to SUPPORT_RATIO the answer is kept and flagged
ANSWER_WORD_WEIGHT = 0.5
NEIGHBOUR_WEIGHT = 0.5
_CLIP = 160  # longest quote, in characters: enough to show the evidence, short enough to read


def say(lang: str, en: str, ko: str) -> str:
    """The wording in the record's language (the trace structure and check names stay the same)."""
    return particles(ko) if lang == "ko" else en


_PARTICLE = re.compile(r"(을\(를\)|이\(가\)|은\(는\)|와\(과\))")
_PAIRS = {"을(를)": ("을", "를"), "이(가)": ("이", "가"), "은(는)": ("은", "는"), "와(과)": ("과", "와")}


def particles(text: str) -> str:
    """Korean templates write 을(를) after an inserted word; pick the one its last syllable takes (받침 or not):
    '리슐리외'가, 1624년을. After a non-Hangul ending (a Latin word, a digit) the neutral form stays."""
    def pick(m: re.Match) -> str:
        before = text[:m.start()].rstrip("'\"”’)]」』 ")
        last = before[-1:] if before else ""
        if not "\uac00" <= last <= "\ud7a3":
            return m.group(0)
        with_final, without = _PAIRS[m.group(0)]
        return with_final if (ord(last) - 0xAC00) % 28 else without
    return _PARTICLE.sub(pick, text)


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    flagged: bool = False  # passed, but undecidable from the text: kept, and counted in the manifest


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

    def as_dict(self) -> dict:
        return {"language": self.lang, "basis": self.basis, "verification": [asdict(c) for c in self.checks],
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


def _locate(context: str, answer: str) -> list[tuple[int, int, bool]]:
    """Every place the answer occurs: (start, end, exact); exact matches, else matches ignoring case and spacing."""
    hits = [(m.start(), m.start() + len(answer), True) for m in re.finditer(re.escape(answer), context)]
    if not hits and answer.split():
        pattern = r"\s+".join(re.escape(t) for t in answer.split())
        hits = [(m.start(), m.end(), False) for m in re.finditer(pattern, context, re.IGNORECASE)]
    return hits


# English words of one family meet (religious / religion, settlers / settlement: Snowball stems keep the suffixes
# apart): a lower-case context word sharing its first DERIVED_PREFIX letters with a question word counts as that
# word (round 5). Names are left alone: a name is its own word (Raoulii is not "Raouliii").
DERIVED_WORDS = True
DERIVED_PREFIX = 6


def _derived_key(key: str, question_keys: dict[str, str]) -> str:
    if key in question_keys or len(key) < DERIVED_PREFIX:
        return key
    return next((q for q in question_keys if len(q) >= DERIVED_PREFIX and q[:DERIVED_PREFIX] == key[:DERIVED_PREFIX]),
                key)


class _Overlap:
    """Question content shared by each context sentence, weighted by rarity across the sentences (a word every
    sentence carries, like the article's subject, says little about where the answer is)."""

    def __init__(self, question: str, context: str, lang: str):
        self.q = keywords(question, lang)
        self.spans = lang_sentences(context, lang)
        toks = lang_tokens(context, lang)
        if lang != "ko" and DERIVED_WORDS:
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
        if i > 0 and (anaphoric(context[a:b], lang) or (DEFINITE_ANAPHORA and self.continues(i, context, lang))):
            own += NEIGHBOUR_WEIGHT * self.score(i - 1)
            shared = {**shared, **{k: v for k, v in self.shared(i - 1).items() if k not in shared}}
        return own, shared


def _one_of_alternatives(a_keys: set[str], question: str, lang: str) -> bool:
    """English alternative questions ("... abstract or concrete?"): the answer's words are all in the up-to-three
    words on one side of the question's "or"."""
    if lang == "ko":
        return False
    for m in re.finditer(r"\bor\b", question):
        left = " ".join(question[:m.start()].split()[-3:])
        right = " ".join(question[m.end():].split()[:3])
        if any(a_keys <= set(keywords(side, lang)) for side in (left, right)):
            return True
    return False


RESTATED = True
FLAG_NO_OVERLAP = True  # a question sharing no word with any sentence: support flagged as undecidable, not failed
SUBJECT_BEFORE_VERB = True  # 'Who sold X?': the doer stands before 'sold' (or after 'by'); measured
DEFINITE_ANAPHORA = True  # "the alphabet" after "an alphabet" continues the sentence before (English; measured)


def _restated(ov: "_Overlap", answer: str, i: int, best: float, context: str,
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
    """What follows the last number: 년, 월, years, century (particles and punctuation dropped)."""
    m = re.search(r"\d[\d,.]*\s*([^\W\d_]*)[^\d]*$", text)
    word = m.group(1).lower() if m else ""
    return word[:1] if word and "\uac00" <= word[0] <= "\ud7a3" else word.rstrip("s")


def _closest_rival(ov: "_Overlap", i: int, span: tuple[int, int], context: str) -> tuple[float, str | None, float]:
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
        text = context[a:b].strip(".,;:!?\"'()[]")
        if not text or not _same_kind(answer, text):
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


def _focus_keys(question: str, lang: str) -> tuple[dict[str, str], dict[str, str]]:
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


def _kind_beside(ov: "_Overlap", i: int, span: tuple[int, int], context: str, kind: dict[str, str],
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


def qa_trace(question: str, context: str, answer: str, *, key: str, duplicate_of: str | None = None,
             answer_start: int | list[int] | None = None, impossible: bool = False, lang: str = "en",
             weak_support: str = "reject") -> Trace:
    """Extractive QA: the answer must be a span of the context (at `answer_start` when the record gives one), in a
    sentence that speaks to the question at least half as well as the best sentence, of the kind the question asks
    for, and not just a word of the question; a Korean answer's sentence must hold the question's focus predicate
    (`_focus_keys`), and a number must not be beaten by another of its unit that sits much nearer the question's
    words (`_closest_rival`). `impossible` records (SQuAD v2) confirm the abstention. `weak_support="flag"` keeps
    (and flags) an answer whose sentence speaks to the question at least `WEAK_SUPPORT_RATIO` as well as the best
    one but less than `SUPPORT_RATIO`: fewer true records lost, fewer wrong ones rejected (BENCHMARKS.md)."""
    rng = random.Random(key)
    ov = _Overlap(question, context, lang)
    q_terms = _words(ov.q)
    terms = _join(q_terms)
    qword, expects, kind = _question_type(question, lang)
    empty = [r for r, v in (("question", question), ("context", context)) + (() if impossible else
             (("answer", answer),)) if not v.strip()]
    checks = [Check("not_empty", not empty, (say(lang, "question and context are both non-empty",
                                                  "질문과 지문이 모두 비어 있지 않다") if impossible else
                                              say(lang, "question, context and answer are all non-empty",
                                                  "질문, 지문, 답이 모두 비어 있지 않다")) if not empty
                    else say(lang, f"empty: {', '.join(empty)}", f"비어 있음: {', '.join(empty)}"))]
    evidence: list[dict] = []
    found = None
    if impossible:
        checks.append(Check("no_answer_given", not answer.strip(), say(
            lang, "the record marks the question unanswerable and gives no answer",
            "레코드가 질문을 답할 수 없음으로 표시하고 답을 주지 않는다") if not answer.strip() else say(
            lang, f"marked unanswerable but gives the answer '{clip(answer, 60)}'",
            f"답할 수 없음으로 표시했지만 답 '{clip(answer, 60)}'을(를) 준다")))
        best = max(range(len(ov.spans)), key=lambda i: (ov.score(i), -i), default=None)
        if best is not None and ov.shared(best):
            a, b = ov.spans[best]
            evidence.append({"quote": clip(context[a:b]), "start": a, "end": b,
                             "shared_words": _words(ov.shared(best))})
        checks.append(Check("question_on_topic", True, say(
            lang, f"the context's closest sentence shares {_join(evidence[0]['shared_words'])}; it does not state "
                  "the answer (by the record's label, which text alone cannot prove)",
            f"가장 가까운 문장이 {_join(evidence[0]['shared_words'])}을(를) 공유하지만 답을 말하지 않는다(레코드의 "
            "표시에 따름, 본문만으로는 증명할 수 없음)") if evidence else say(
            lang, "no context sentence shares a content word with the question",
            "질문과 내용어를 공유하는 지문 문장이 없다"), flagged=True))
    elif not empty:
        hits = _locate(context, answer)
        if answer_start is not None:
            # Several offsets (SQuAD dev: one per annotator who chose this same text): any of them may hold it.
            starts = [answer_start] if isinstance(answer_start, int) else list(answer_start)
            at = [h for h in hits if h[0] in starts]
            answer_start = starts[0]
            checks.append(Check("answer_start_matches", bool(at), say(
                lang, f"the answer is at character {at[0][0] if at else answer_start}, as the record says",
                f"답이 레코드가 말한 {at[0][0] if at else answer_start}번째 글자에 있다") if at else say(
                lang, f"character {answer_start} holds '{clip(context[answer_start:answer_start + len(answer)], 40)}', "
                      f"not the answer" + (f" (which occurs at {', '.join(str(h[0]) for h in hits[:3])})" if hits else ""),
                f"{answer_start}번째 글자에는 답이 아니라 '{clip(context[answer_start:answer_start + len(answer)], 40)}'"
                f"이(가) 있다" + (f" (답은 {', '.join(str(h[0]) for h in hits[:3])}번째에 있음)" if hits else ""))))
            hits = at or hits
        # Of several occurrences, the one whose sentence speaks best to the question (the first on ties).
        found = max(hits, key=lambda h: (h[2], ov.score(ov.sentence_of(h[0]) or 0, (h[0], h[1])), -h[0]),
                    default=None)
        if found is None:
            checks.append(Check("answer_in_context", False, say(
                lang, f"'{clip(answer, 60)}' does not occur in the context",
                f"'{clip(answer, 60)}'이(가) 지문에 없다")))
        else:
            start, end, exact = found
            checks.append(Check("answer_in_context", True, say(
                lang, f"'{clip(answer, 60)}' found at characters {start}-{end}",
                f"'{clip(answer, 60)}'이(가) {start}-{end}번째 글자에 있다") + ("" if exact else say(
                lang, f" as '{context[start:end]}' (only when ignoring case and spacing)",
                f" ('{context[start:end]}', 대소문자와 띄어쓰기를 무시할 때만)"))))
            i = ov.sentence_of(start) or 0
            own, shared = ov.support(i, (start, end), context, lang)
            best = max(ov.score(j) for j in range(len(ov.spans)))
            a, b = ov.spans[i]
            evidence.append({"quote": clip(context[a:b]), "start": a, "end": b, "holds_answer": True,
                             "shared_words": _words(shared)})
            ok = own > 0 and own >= SUPPORT_RATIO * best
            again = None if ok or not RESTATED else _restated(ov, answer, i, best, context, lang)
            if again is not None:  # the span's own sentence is weak, but the context says the answer again
                j, shared = again
                ok, (a, b) = True, ov.spans[j]
                evidence.append({"quote": clip(context[a:b]), "start": a, "end": b, "holds_answer": False,
                                 "restates_answer": True, "shared_words": _words(shared)})
            supported = Check("answer_supported", ok, (say(
                lang, f"its sentence shares {_join(_words(shared))} with the question",
                f"답이 있는 문장이 질문과 {_join(_words(shared))}을(를) 공유한다") if again is None else say(
                lang, f"the answer's words recur in another sentence, which shares {_join(_words(shared))} with "
                      "the question", f"답의 말이 다른 문장에 다시 나오고, 그 문장이 질문과 {_join(_words(shared))}을(를) "
                                      "공유한다")) if ok else say(
                lang, "its sentence shares no content word with the question" if not shared else
                f"its sentence shares only {_join(_words(shared))}; another sentence matches the question "
                "at least twice as well",
                "답이 있는 문장이 질문과 내용어를 공유하지 않는다" if not shared else
                f"답이 있는 문장은 {_join(_words(shared))}만 공유하고, 다른 문장이 질문과 두 배 이상 더 맞는다"))
            if not ok and again is None and weak_support == "flag" and own > 0 and own >= WEAK_SUPPORT_RATIO * best:
                supported = Check("answer_supported", True, say(
                    lang, f"its sentence shares only {_join(_words(shared))}; another sentence matches the question "
                          "better — weak support, flagged for review",
                    f"답이 있는 문장은 {_join(_words(shared))}만 공유하고 다른 문장이 질문과 더 맞는다 — 근거가 약해 "
                    "검토 대상"), flagged=True)
            if not ok and best == 0 and FLAG_NO_OVERLAP:
                # No sentence shares a word with the question (a paraphrase through and through): the words cannot
                # tell the answer's sentence from any other, so this is undecidable, not wrong.
                supported = Check("answer_supported", True, say(
                    lang, "no sentence of the context shares a content word with the question: support cannot be "
                          "judged from the words", "지문의 어느 문장도 질문과 내용어를 공유하지 않아 말로는 근거를 판단할 수 없다"),
                    flagged=True)
            checks.append(supported)
            a_keys = set(keywords(answer, lang))
            # An English answer naming the question's own subject ("King Ethelred II" for "Where did Ethelred
            # flee?") answers something else: a capitalised answer word that the question holds.
            named = _named_in_question(answer, question, lang)
            # "Is it abstract or concrete?" names its answers: repeating one of them is the answer.
            echo = bool(a_keys) and a_keys <= set(ov.q) and not _one_of_alternatives(a_keys, question, lang)
            checks.append(Check("answer_not_in_question", not (echo or named), say(
                lang, "the answer adds something the question does not already say",
                "답이 질문에 이미 있는 말만으로 되어 있지 않다") if not (echo or named) else say(
                lang, f"the answer only repeats the question's own words ({_join(sorted(_words(keywords(answer, lang))))})"
                if echo else f"the answer names the question's own subject ({_join(sorted(ov.q[k] for k in named))})",
                f"답이 질문의 말({_join(sorted(_words(keywords(answer, lang))))})을 되풀이할 뿐이다")))
            if kind == "number":
                ok = bool(_NUMBER_WORDS.search(answer))
                why = say(lang, "the answer holds no number", "답에 수가 없다")
                # "In May 2006" / "in 2006": a bare year where the context dates something counts nothing
                if ok and lang != "ko" and re.fullmatch(r"1\d{3}|20\d{2}", answer.strip()) and \
                        _MONTH_OR_TIME_PREP_EN.search(context[max(0, start - 12):start]):
                    ok, why = False, "the answer is a year (the context dates something with it), not a count"
            elif kind == "duration":  # "380 years", "a decade", "three miles": a number or a time word
                ok = bool(_NUMBER_WORDS.search(answer) or _TIME_WORDS.search(answer))
                why = say(lang, "the answer holds neither a number nor a time word", "답에 수도 시간 표현도 없다")
            elif kind == "frequency":
                ok = bool(_FREQUENCY.search(answer) or _NUMBER_WORDS.search(answer) or _TIME_WORDS.search(answer))
                why = say(lang, "the answer says no frequency, number or time", "답에 빈도, 수, 시간 표현이 없다")
            elif kind == "degree":  # "How populous is X?": a number, a rank or a degree — not a place or a name
                ok = not (direction_only(answer) or (
                    re.search(r"\b[A-Z]", answer) and not _NUMBER_WORDS.search(answer)))
                why = say(lang, "the answer is a direction or a name, not a measure or degree",
                          "답이 정도나 수치가 아니라 방향이나 이름이다")
            elif kind == "time":
                ok = bool(_TIME_WORDS.search(_COUNT.sub(" ", answer if lang == "ko" else _NOT_TIME_EN.sub(" ", answer))))
                why = say(lang, "the answer holds no time expression" if not _COUNT.search(answer) else
                          "the answer is a count, not a time", "답에 시간 표현이 없다" if not _COUNT.search(answer)
                          else "답이 시점이 아니라 횟수나 개수다")
            else:
                # ... unless the question asks for numbers by name ("What are the two integer responses?": 1 or 0)
                ok = not _date_or_number_only(answer) or bool(_NUMBER_NOUN.search(question)) or \
                    (lang != "ko" and bool(MEASURE_NOUN.search(question)))  # "What is the population of X?"
                why = say(lang, "the answer is only a number or a date", "답이 수나 날짜뿐이다")
                if ok and lang != "ko" and qword == "where" and (_PERSON_EN.search(answer) or
                                                                 "person" in answer_kinds(answer, context)):
                    ok, why = False, "the answer names a person (a title, a regnal number or 'the duke, X'), not a place"
                elif ok and lang != "ko" and qword == "where" and _DEGREE_PHRASE_EN.match(answer.strip()):
                    ok, why = False, "the answer is a description of degree ('most …'), not a place"
                elif ok and lang != "ko" and qword in ("who", "whom") and _EVENT_PLACE_EN.search(answer):
                    ok, why = False, "the answer names an event, a place or a thing, not a person or group"
                elif ok and lang != "ko" and _NAMED_KIND_EN.search(question) and \
                        not re.search(r"\b[A-Z]", answer):
                    ok, why = False, "the question asks for a named place or group, but the answer names none"
                elif ok and lang != "ko" and qword in ("who", "whom") and (clash := not_a_who(answer, context)):
                    ok, why = False, clash
                elif ok and lang != "ko" and (clash := kind_mismatch(question, answer, context)):
                    ok, why = False, clash
                elif ok and lang != "ko" and offers_alternatives(question) and \
                        not _one_of_alternatives(set(keywords(answer, lang)), question, lang):
                    ok, why = False, "the question offers alternatives ('... or ...') and the answer is none of them"
                elif ok and lang != "ko" and SUBJECT_BEFORE_VERB and (clash := subject_after_verb(
                        question, (start, end), ov.spans[i], context, _stem_key)):
                    ok, why = False, clash
                elif ok and lang != "ko" and several_asked(question) and not lists_several(answer):
                    ok, why = False, f"it asks for {several_asked(question)} things and the answer names one"
            checks.append(Check("answer_type", ok, say(
                lang, f"the question asks for {expects} and the answer fits", f"질문이 {expects}을(를) 묻고 답이 이에 맞는다")
                if ok else say(lang, f"the question asks for {expects}, but {why}", f"질문이 {expects}을(를) 묻는데 {why}")))
            focus, kind_keys = _focus_keys(question, lang)
            with_focus = [j for j, sent in enumerate(ov.per_sentence) if any(k in focus for k, _, _ in sent)]
            near_focus = {i, i - 1} if i > 0 and anaphoric(context[a:b], lang) else {i}
            # Named right beside its kind ("안형광이라는 이름의 궁녀" for "도와준 궁녀의 이름은?"), an answer
            # stands even where the focus is paraphrased (도와준 / 도움으로).
            if with_focus:  # Korean questions whose focus word the context holds
                word = ", ".join(dict.fromkeys(focus.values()))
                holds = bool(near_focus & set(with_focus))
                beside = not holds and _kind_beside(ov, i, (start, end), context, kind_keys)
                kind_word = ", ".join(dict.fromkeys(kind_keys.values()))
                checks.append(Check("answer_by_focus", holds or beside, say(
                    lang, f"the answer's sentence holds the question's focus word '{word}'",
                    f"답이 있는 문장이 질문의 중심어 '{word}'을(를) 담는다") if holds else say(
                    lang, f"the focus word '{word}' is in another sentence, but the answer stands right before "
                          f"'{kind_word}', the kind the question asks for",
                    f"중심어 '{word}'은(는) 다른 문장에 있지만 답 바로 뒤에 질문이 묻는 '{kind_word}'이(가) 있다")
                    if beside else say(
                    lang, f"the question's focus word '{word}' is in another sentence, not in the answer's",
                    f"질문의 중심어 '{word}'은(는) 다른 문장에 있고 답이 있는 문장에는 없다")))
            near, rival, rival_near = _closest_rival(ov, i, (start, end), context)
            ok = rival is None or rival_near <= RIVAL_FACTOR * near
            checks.append(Check("answer_nearest", ok, say(
                lang, f"no span of the same kind in its sentence sits closer to the question's words "
                      f"(nearness {near:.2f})", f"같은 문장에서 같은 종류의 다른 구간이 질문의 말에 더 가깝지 않다"
                                                 f"(근접도 {near:.2f})") if ok else say(
                lang, f"'{rival}' sits much closer to the question's words in the same sentence "
                      f"(nearness {rival_near:.2f} against {near:.2f})",
                f"같은 문장에서 '{rival}'이(가) 질문의 말에 훨씬 더 가깝다(근접도 {rival_near:.2f}, 답 {near:.2f})")))
    checks.append(_duplicate_check(duplicate_of, say(lang, "question and context", "질문과 지문"), lang))
    failed = [c for c in checks if not c.passed]
    basis = {"task": "extractive_qa", "label_space": say(lang, "a span of the context", "지문의 한 구간"),
             "question_word": qword or None, "expects": expects, "question_keywords": q_terms, "evidence": evidence,
             "answerable": not impossible}
    quotes = " / ".join(f'"{e["quote"]}"' for e in evidence)
    if impossible:
        step1 = say(lang, f"The question asks for {expects}; its key terms are {terms}. The record marks it as not "
                          f"answered by the context" + (f"; the closest sentence is {quotes}." if evidence else "."),
                    f"질문은 {expects}을(를) 묻고 핵심어는 {terms}이다. 레코드는 지문이 이 질문에 답하지 않는다고 "
                    f"표시한다" + (f". 가장 가까운 문장은 {quotes}이다." if evidence else "."))
    elif evidence:
        step1 = rng.choice([
            say(lang, f"The question asks for {expects}, copied verbatim from the context. It turns on {terms}; "
                      f"the sentence holding the answer is {quotes}",
                f"질문은 지문에서 그대로 옮긴 {expects}을(를) 묻는다. 핵심어는 {terms}이고, 답이 있는 문장은 {quotes}이다."),
            say(lang, f"This is extractive QA: the answer, {expects}, must be a span of the context. Key terms in the "
                      f"question: {terms}. The context states the answer in {quotes}",
                f"추출형 질의응답이다: 답({expects})은 지문의 한 구간이어야 한다. 질문의 핵심어는 {terms}이며, 지문은 "
                f"{quotes}에서 답을 말한다."),
            say(lang, f"To answer I need {expects} taken from the context. The question rests on {terms}, "
                      f"and the answer's sentence is {quotes}",
                f"답하려면 지문에서 {expects}을(를) 찾아야 한다. 질문은 {terms}에 기대고, 답이 있는 문장은 {quotes}이다."),
        ])
    else:
        step1 = say(lang, f"The question asks for {expects} from the context ({terms}), but the candidate answer "
                          "could not be placed in it.",
                    f"질문은 지문에서 {expects}을(를) 묻지만({terms}) 후보 답을 지문에서 찾지 못했다.")
    # The confirmed answer is what the context actually says at the located span — not the label — so a label
    # that differs from its own context (say, in case) is caught by the label gate in the builder.
    if impossible:
        confirmed = UNANSWERABLE.get(lang, UNANSWERABLE["en"]) if not failed else None
    else:
        confirmed = context[found[0]:found[1]] if found and not failed else None
    step2 = rng.choice([say(lang, "Checking the candidate answer against the context:", "후보 답을 지문과 대조한다:"),
                        say(lang, "Verifying the given answer:", "주어진 답을 검증한다:"),
                        say(lang, "Checks on the candidate answer:", "후보 답에 대한 검증:")])
    return Trace("qa", basis, tuple(checks), confirmed, (step1, step2, _confirm(rng, confirmed, failed, lang)), lang)


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
