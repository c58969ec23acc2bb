"""Language-aware text pieces for the checks: which language a record is in, its content words, its sentences.

English: lower-cased words less stop words, as Snowball stems (`snowballstemmer`, pure Python, no data; the older
crude suffix list stays as `ENGLISH_STEMMER = "crude"`). Korean attaches particles and endings to
words (임종석이 / 임종석의 / 임종석을), so whitespace words never match. Two ways around it, both measured by
scripts/eval_text.py on real KorQuAD (BENCHMARKS.md, "Text track on real data"):
- `ngram` (default): character bigrams inside each word — 임종석이 and 임종석의 share 임종 and 종석 — with the second
  syllable's final consonant dropped, so verb forms meet (보낸 / 보냈던). No model, and it kept more true labels
  *and* caught more corrupted ones than morphemes did;
- `morph`: content morphemes from Kiwi (`kiwipiepy`, optional extra `korean`; its model ships in the
  `kiwipiepy_model` wheel, no download): nouns, verb/adjective stems, roots, numbers, foreign words, hanja.
Korean sentences are split by a rule that also splits sentences glued without a space ("하였다.또한"); Kiwi's
splitter gave the same results on the samples at ~0.5 s per paragraph.
"""

from __future__ import annotations

import functools
import re
import unicodedata

_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_LETTER = re.compile(r"[^\W\d_]")
_WORD_EN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_EN = frozenset(
    "a an the of in on at to for from by with and or but is are was were be been being do does did done has have "
    "had what which who whom whose when where why how many much this that these those it its as into than then "
    "there their they them he she his her him i you we our your my me not no so if per each "
    # a question's frame, not its content ("What was the name of ...", as 이름 in Korean): says an answer is a name
    "name names".split())
# Kiwi part-of-speech tags that carry content: nouns, numerals, verb/adjective stems, roots, foreign, hanja, digits.
_CONTENT_TAGS = frozenset({"NNG", "NNP", "NR", "VV", "VA", "XR", "SL", "SH", "SN", "MAG"})
# Korean stop morphemes: question words and light nouns/verbs that every question or sentence carries.
_STOP_KO = frozenset("무엇 누구 어디 언제 어느 어떤 얼마 몇 것 수 등 때 이 그 저 하 되 있 없 않 같 위하 대하 의하 "
                     "이름 사람 인물 곳 해 날 무슨 왜 어떻".split())
_NEGATION_EN = frozenset("not no never none nobody nothing neither nor cannot can't don't doesn't didn't isn't "
                         "aren't wasn't weren't won't".split())
_NEGATION_KO = ("않", "없", "못", "아니", "안 ", "말")
KOREAN_TOKENS = "ngram"  # or "morph" (Kiwi morphemes): scripts/eval_text.py measures both; bigrams measured better


def language_of(*texts: str) -> str:
    """'ko' when Hangul makes up at least a fifth of the letters, else 'en'."""
    text = " ".join(texts)
    letters = len(_LETTER.findall(text))
    return "ko" if letters and len(_HANGUL.findall(text)) / letters >= 0.2 else "en"


@functools.cache
def _kiwi():
    try:
        from kiwipiepy import Kiwi  # imported here: only the morpheme mode pays its ~2 s load
    except ImportError as e:
        raise RuntimeError("Korean morphemes need kiwipiepy: pip install -e '.[korean]' "
                           "(the default character-bigram mode does not)") from e
    return Kiwi()


ENGLISH_STEMMER = "snowball"  # or "crude" (the suffix list below); scripts/eval_text.py measures both


@functools.cache
def _snowball():
    import snowballstemmer  # pure Python, no data files
    return snowballstemmer.stemmer("english")


def _stem_en(word: str) -> str:
    if ENGLISH_STEMMER == "snowball":
        return _snowball_stem(word)
    return _crude_stem_en(word)


@functools.lru_cache(maxsize=65536)
def _snowball_stem(word: str) -> str:
    return _snowball().stemWord(word.removesuffix("'s"))


def _crude_stem_en(word: str) -> str:
    # Crude on purpose (no dictionary, no model): enough that "teams"/"team" and "installed"/"install" meet.
    word = word.removesuffix("'s")
    for suffix in ("ing", "ed", "es", "al", "s"):  # "arrival"/"arriving" meet too
        if word.endswith(suffix) and not word.endswith("ss") and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:-1] if word.endswith("e") and len(word) > 4 else word  # "replaced"/"replace", "premiered"/"premiere"


# English sentences opening on a connective ("But a storm dispersed the fleet.") continue the one before, as the
# Korean 그러나 / 또한 / 하지만 do.
_ANAPHOR_EN = re.compile(r"^(it|he|she|they|this|these|those|his|her|its|their|there|the latter|the former|"
                         r"but|however|yet|so|then|thus|also)\b", re.I)
_ANAPHOR_KO = re.compile(r"^(그|그녀|그들|이|이들|이는|이로|이에|이후|당시|그러나|또한|하지만)")


def anaphoric(sentence: str, lang: str) -> bool:
    """The sentence opens by pointing back ("It premiered...", "그는 ..."): its subject is in the sentence before."""
    return bool((_ANAPHOR_KO if lang == "ko" else _ANAPHOR_EN).match(sentence.lstrip()))


@functools.lru_cache(maxsize=4096)
def _korean_morphs(text: str) -> tuple[tuple[str, str, int, int], ...]:
    return tuple((t.form, t.tag, t.start, t.start + t.len) for t in _kiwi().tokenize(text))



def _bigram_key(pair: str) -> str:
    """A character bigram with the second syllable's final consonant (batchim) dropped: verb forms that differ
    only there meet (보낸 / 보냈던 / 보내 -> 보내)."""
    if len(pair) < 2 or not "\uac00" <= pair[1] <= "\ud7a3":
        return pair
    code = ord(pair[1]) - 0xAC00
    if code % 28 == 20 and code // 28 % 21 == 6:
        # 이 + 었 -> 였 (죽였다 / 죽인, 남겼다 / 남긴, 일으켰다 / 일으킨): the past tense of a stem ending in ㅣ
        # contracts to ㅕ + ㅆ; undone, the stem's vowel meets its other forms (round 5)
        code += (20 - 6) * 28
    return pair[0] + chr(0xAC00 + code - code % 28)


def _fold_accents(text: str) -> str:
    """é -> e, one character for one (positions stay valid): "fiancée" meets "fiancee"."""
    return "".join(unicodedata.normalize("NFKD", c)[0] if ord(c) > 127 else c for c in text)


def tokens(text: str, lang: str, mode: str | None = None) -> list[tuple[str, str, int]]:
    """Content tokens: (key, surface, start) — keys match across inflections, surfaces are what a reader sees."""
    if lang != "ko":
        return [(s, m.group(0), m.start()) for m in _WORD_EN.finditer(_fold_accents(text.lower()))
                if m.group(0) not in _STOP_EN and len(s := _stem_en(m.group(0))) > 1]
    if (mode or KOREAN_TOKENS) == "ngram":
        out = []
        for m in re.finditer(r"\w+", text):
            w = m.group(0).lower()
            if len(w) == 1:
                out.append((w, w, m.start()))
            out += [(_bigram_key(w[i:i + 2]), w, m.start() + i) for i in range(len(w) - 1)]
        return out
    out = []
    for form, tag, a, b in _korean_morphs(text):
        if tag.split("-")[0] in _CONTENT_TAGS and form not in _STOP_KO:
            key = form.lower() if tag != "SL" else _stem_en(form.lower())
            out.append((key, text[a:b], a))
    return out


def keywords(text: str, lang: str, mode: str | None = None) -> dict[str, str]:
    """Content words of `text`: key -> the word as first written, in first-seen order."""
    out: dict[str, str] = {}
    for key, surface, _ in tokens(text, lang, mode):
        out.setdefault(key, surface)
    return out


def sentences(text: str, lang: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence. Korean: Kiwi's splitter; English: after . ! ? followed by space."""
    return list(_sentences(text, lang))


# Korean sentences also end glued to the next one ("하였다.또한"): a stop followed by Hangul splits too; a stop
# between digits (1.5) never does, as it is followed by neither space nor Hangul.
_SPLIT = {"en": re.compile(r"[.!?]([\"'”’)\]]*)\s+"),
          "ko": re.compile(r"[.!?]([\"'”’」』)\]]*)(?:\s+|(?=[\uac00-\ud7a3]))")}
# Round 5: a stop after these ends no sentence; a Korean stop glued to the next word ends one only after a
# sentence-final syllable (하였다.또한), not between nouns (시민.사회단체).
_ABBREVIATION = re.compile(r"(?<![A-Za-z])(?:Vol|Vols|No|Nos|pp|Fig|Figs|Art|Sec|Ch|Op|St|Mt|Dr|Mr|Mrs|Ms|Jr|Sr|vs|"
                           r"ca|approx|Inc|Ltd|Co|Corp|etc)$")
_KO_FINAL = re.compile(r"[다요까죠오라자음함됨임님네며고서]$")
# Quotations that open and close with typographic marks; a sentence that quotes speech holds all of it.
_QUOTE = re.compile(r"“[^“”]*”|「[^「」]*」|『[^『』]*』|«[^«»]*»|\"[^\"]{1,300}\"")  # straight pairs: short ones
SENTENCE_SPLITTER = "regex"  # or "kiwi" (Kiwi's splitter: ~0.5 s per paragraph on 2 cores, measured the same)


@functools.lru_cache(maxsize=1024)  # a context serves several questions: split it once
def _sentences(text: str, lang: str) -> tuple[tuple[int, int], ...]:
    if lang == "ko" and SENTENCE_SPLITTER == "kiwi":
        spans = [(s.start, s.end) for s in _kiwi().split_into_sents(text)]
        return tuple((a, b) for a, b in spans if text[a:b].strip()) or ((0, len(text)),)
    spans, start = [], 0
    quoted = [(q.start(), q.end()) for q in _QUOTE.finditer(text)]
    for m in _SPLIT.get(lang, _SPLIT["en"]).finditer(text):
        if any(a < m.start() < b - 1 for a, b in quoted):
            continue  # a stop inside a quotation ("“... 대한민국. 현재 세계 치안 1위지만 ...”란 내용의") ends no sentence
        if _ABBREVIATION.search(text[max(0, m.start() - 8):m.start()]) and m.group(0)[:1] == ".":
            continue  # "Vol. 1", "No. 5", "Dr. Dre": an abbreviation's stop (round 5)
        if m.end() == m.end(1) and lang == "ko" and m.group(0)[:1] == "." and not _KO_FINAL.search(
                text[max(0, m.start() - 1):m.start()]):
            continue  # glued to the next word after no sentence ending: a dot between nouns (시민.사회단체)
        spans.append((start, m.end(1)))  # the stop and any closing quote stay with their sentence
        start = m.end()
    spans.append((start, len(text)))
    return tuple((a, b) for a, b in spans if text[a:b].strip())


def numbers(text: str) -> list[str]:
    """Numbers as written with separators removed ("1,200" -> "1200"), for summary/answer support checks."""
    return [n.replace(",", "") for n in re.findall(r"\d[\d,]*(?:\.\d+)?", unicodedata.normalize("NFKC", text))]


def negated(text: str, lang: str) -> bool:
    if lang == "ko":
        return any(cue in text for cue in _NEGATION_KO)
    return any(w in _NEGATION_EN for w in re.findall(r"[a-z']+", text.lower()))


# Korean negation: a word carrying 없 / 아니 negates itself or the word before (불편함없이, 부족장이 아니었다); an
# auxiliary 않 / 못 negates the verb before it (출전하지 않았다); a free-standing 안 / 못 the word after (못 간다).
_KO_NEG_SELF = re.compile(r"없|아니")
_KO_NEG_AUX = re.compile(r"^(않|못하|못했|못한|못해|아니|없)")


def negated_keys(text: str, lang: str) -> set[str]:
    """Keys of the words a negation applies to: what a sentence says is not so (its scope, by adjacency)."""
    words, scope = _negation_scope(text, lang)
    out: set[str] = set()
    for n, whole in scope.items():
        keys = keywords(words[n], lang)
        out |= set(keys) if whole else {k for k in keys if not _KO_NEG_SELF.search(k)}
    return out


def affirmed_keys(text: str, lang: str) -> set[str]:
    """Keys of the words outside every negation's scope (and not negations themselves): what the text states."""
    words, scope = _negation_scope(text, lang)
    out: set[str] = set()
    for n, w in enumerate(words):
        if n not in scope and not _KO_NEG_AUX.match(w) and w.lower().strip(".,;:!?") not in _NEGATION_EN \
                and w not in ("안", "못"):
            out |= set(keywords(w, lang))
    return out


def _negation_scope(text: str, lang: str) -> tuple[list[str], dict[int, bool]]:
    """Whitespace words and the indices a negation applies to (True: all of the word's keys; False: the word
    carries the negation itself, 불편함없이, so its keys holding 없/아니 are left out)."""
    words = text.split()
    scope: dict[int, bool] = {}
    for n, w in enumerate(words):
        if lang == "ko":
            if _KO_NEG_AUX.match(w) and n > 0:
                scope[n - 1] = True
            elif _KO_NEG_SELF.search(w):
                scope.setdefault(n, False)
                if re.match(r"^(아니|없)", w) and n > 0:
                    scope[n - 1] = True
            elif w in ("안", "못") and n + 1 < len(words):
                scope[n + 1] = True
        elif w.lower().strip(".,;:!?") in _NEGATION_EN:
            scope.update({j: True for j in range(n + 1, min(n + 4, len(words)))})
    return words, scope
