"""English answer kinds: what kind of thing a question asks for, and what kind of thing an answer is.

Pure rules over words (no model; the long word lists in `kinds.yaml`), for the QA trace's `answer_type` check. They hold for English in
general, not for particular records:
- a question asking "what / which K" (also "the name of the K", "what kind of K") names the kind of its answer;
  an answer whose own head noun ("Colorado *River*", "*Battle* of Hastings") or whose kind as the context gives it
  ("Hollywood, *a district* within ...", "*the state of* Nevada", "their *duke*, William ...") is another kind
  cannot answer it. Kinds come in groups of nouns that can stand for each other (city / town / capital), and a
  few question nouns accept several groups ("water body": river, lake, sea);
- closed classes are checked by membership: a question for a continent, a compass direction or a unit of measure
  takes only one;
- "What are the two X" asks for several things: the answer lists them ("time and storage", "yes or no");
- "Is it simple or complex?" offers its answers: the answer is one of them;
- "who" is not answered by a river, a battle, the territory a title rules ("earl of *Hereford*") or a lower-case
  word that names no person or group ("embroidery"); "who VERB ...?" asks for the doer, who stands before the
  verb in the context (or after "by"), not after it ("Maciot sold the rights ... to *Enrique*");
- a number spelled out ("seven") is a number, and a question naming a measure ("the population", "the lowest
  ranking") may take a bare number.
A kind the rules do not know decides nothing: no check, no rejection. Measured by scripts/eval_text.py
(BENCHMARKS.md, text track, round 4).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

# The long word lists are data (kinds.yaml); each becomes one alternation, in the file's order.
_WORDS: dict[str, list[str]] = yaml.safe_load(Path(__file__).with_name("kinds.yaml").read_text(encoding="utf-8"))


def _any(name: str) -> str:
    return "|".join(_WORDS[name])

# noun -> kind group. Only nouns that name a kind of thing unambiguously; generic ones (area, place, region, thing,
# part) are left out on purpose: they accept anything.
_GROUPS = {
    "river": "river stream creek tributary",
    "lake": "lake reservoir lagoon",
    "sea": "sea ocean gulf bay strait",
    "desert": "desert",
    "mountain": "mountain mount peak volcano",
    "valley": "valley canyon gorge",
    "island": "island isle archipelago",
    "continent": "continent",
    "country": "country nation kingdom empire republic",
    "state": "state province",
    "county": "county shire",
    "city": "city town village capital metropolis",
    "district": "district borough neighborhood neighbourhood suburb",
    "coast": "coast coastline shore",
    "border": "border boundary frontier",
    "company": "company corporation firm studio conglomerate",
    "industry": "industry sector",
    "university": "university college",
    "party": "party",
    "church": "church cathedral abbey monastery",
    "castle": "castle fortress",
    "battle": "battle war siege",
    "treaty": "treaty pact",
    "language": "language dialect",
    "religion": "religion faith denomination",
    "direction": "direction",
    "person": "king queen duke duchess earl emperor empress pope bishop archbishop prince princess sultan "
              "general admiral president chancellor abbot",
}
_GROUP_OF = {w: g for g, words in _GROUPS.items() for w in words.split()}
# A question's kind accepts its own group and these (an island or a state can be a country; a coastline is named by
# its sea).
_ACCEPTS = {"country": {"country", "state", "island"}, "state": {"state", "country"}, "coast": {"coast", "sea"},
            "water body": {"river", "lake", "sea"}, "island": {"island", "country"}, "religion": {"religion", "church"}}
# Nouns that type a following name with "of" ("the state of Nevada", "counties of Los Angeles"); relational nouns
# (capital of, coast of, university of) do not.
_OF_TYPES = {"city", "town", "village", "county", "state", "province", "kingdom", "duchy", "island", "isle",
             "republic", "borough", "district", "river"}
_GROUP_OF["duchy"] = "country"

_DETERMINERS = {"the", "their", "his", "her", "its", "a", "an"}
_PREPOSITIONS = {"in", "on", "at", "to", "by", "for", "from", "with", "within", "across", "over", "under", "after",
                 "before", "during", "throughout", "inside", "outside", "near", "into", "through", "around"}

CONTINENTS = {"africa", "asia", "europe", "antarctica", "australia", "oceania", "america", "north america",
              "south america", "latin america", "australasia", "eurasia", "americas"}
_COMPASS = re.compile(r"\b((?:north|south|east|west)(?:-?(?:east|west))?(?:ern|erly|ward|wards)?|clockwise|"
                      r"anti-?clockwise|counter-?clockwise|upstream|downstream|inland|upward|downward|left|right)\b",
                      re.I)
_COMPASS_ONLY = re.compile(rf"^(?:the\s+|to\s+the\s+)?{_COMPASS.pattern}(?:\s+(?:of\s+\w+|side|part))?$", re.I)

# what / which [is the] [name of the] [adjectives] K ; "what kind of K" names K too.
_Q_KIND = re.compile(
    r"\b(?:[Ww]hat|[Ww]hich)\s+(?:(?:is|was|are|were)\s+)?(?:the\s+|a\s+|an\s+)?"
    r"(?:(?:name|term)\s+(?:of|given\s+to|for)\s+(?:the\s+|a\s+|an\s+)?)?"
    r"(?:(?:kind|type|sort|form)\s+of\s+)?"
    r"(?:(?:[Oo]ther|[Mm]ajor|[Mm]ain|[Cc]hief|[Pp]rincipal|[Ff]amous|[Cc]ardinal|[Ll]ast|[Ff]irst|[Nn]ext|[Ss]ame|"
    r"[a-z]+est|[A-Z][\w-]*)\s+){0,2}"  # modifiers: a few adjectives, superlatives, proper adjectives (Norman)
    r"([Ww]ater\s+body|[Bb]ody\s+of\s+water|[a-z]+)\b")

# Units of measure ("In what unit ...?" takes one of these; round 5).
_UNIT = re.compile(rf"\b(?:{_any('units')})\b|%|\$|£|€", re.I)

_SPELLED = re.compile(rf"^(?:{_any('spelled_numbers')})$", re.I)
# Nouns that name a measure: a question holding one may take a bare number ("What is the population of X?").
MEASURE_NOUN = re.compile(rf"\b({_any('measure_nouns')})\b", re.I)
# "What is the population / number / total ... of": the question asks for a number.
NUMBER_HEAD = re.compile(r"\b(?:what|which)\s+(?:is|was|are|were)\s+(?:the\s+)?(?:\w+\s+)?"
                         r"(population|number|amount|total|percentage|proportion|ranking|rank|count)\b", re.I)
# "What are the two X" / "Who were the two abbots" / "What two fields": several things are asked for.
_SEVERAL = re.compile(r"\b(?:what|which|who)\s+(?:(?:are|were)\s+)?(?:the\s+)?(two|three|four|five|six|both)\b",
                      re.I)
_LISTS = re.compile(r",|;|&|/|\b(?:and|or|nor|both|as well as|plus)\b", re.I)


def _singular(word: str) -> str:
    w = word.lower()
    if w.endswith("ies") and len(w) > 4:
        return w[:-3] + "y"
    if w.endswith("s") and not w.endswith("ss") and w[:-1] in _GROUP_OF:
        return w[:-1]
    return w


def question_kind(question: str) -> str | None:
    """The kind noun a question asks for ("What river ...": river), or None when it names none this module knows."""
    for m in _Q_KIND.finditer(question):
        noun = " ".join(m.group(1).lower().split())
        if noun in ("water body", "body of water"):
            return "water body"
        noun = _singular(noun)
        if noun in ("unit", "units"):  # asked for only: "unit" heads no answer's kind (an army unit is no measure)
            return "unit"
        if noun in _GROUP_OF:
            return _GROUP_OF[noun]
    return None


def answer_kinds(answer: str, context: str, at: int | None = None) -> set[str]:
    """Kind groups the answer is of: its head noun (last word, or "K of ..."), and the kinds the context gives it
    by apposition ("X, a district", "the state of X", "their duke, X", "the river X", "X Desert") — at the mention
    starting at `at` when given (a name can name several things: "the Duchy of Warsaw" / "grew up in Warsaw")."""
    kinds: set[str] = set()
    words = re.findall(r"[A-Za-z]+", answer)
    if not words:
        return kinds
    if (last := _singular(words[-1])) in _GROUP_OF and len(words) > 1:
        kinds.add(_GROUP_OF[last])
    m = re.match(r"^(?:the\s+)?([A-Za-z]+)\s+of\b", answer, re.I)
    if m and _singular(m.group(1)) in _GROUP_OF:
        kinds.add(_GROUP_OF[_singular(m.group(1))])
    a = re.escape(answer)
    # "earl of Hereford", "Duke of Normandy": what follows a title and "of" is the territory it rules
    titles = "|".join(_GROUPS["person"].split())
    if any(at is None or m.end() - len(answer) == at
           for m in re.finditer(rf"\b(?:{titles})s?\s+of\s+(?:the\s+)?{a}\b", context, re.I)):
        kinds.add("territory")
    for pattern, of_type in ((rf"{a},\s+(?:a|an|the)\s+((?:[a-z-]+\s+){{0,3}}[a-z]+)\b", False),  # X, a district
                             (rf"\b([A-Za-z]+)\s+of\s+(?:the\s+)?{a}\b", True),  # the state of Nevada
                             # their duke, William ...; its capital and largest city, Melbourne
                             (rf"\b(?:[Tt]he|[Tt]heir|[Hh]is|[Hh]er|[Ii]ts|[Aa]|[Aa]n)\s+(?:[a-z-]+\s+){{0,3}}?"
                              rf"([a-z]+),\s+{a}\b", False),
                             (rf"\bthe\s+([a-z]+)\s+{a}\b", False),  # the river Seine
                             (rf"\b{a}\s+([A-Z][a-z]+)\b", False)):  # Colorado Desert: the name's own noun
        for m in re.finditer(pattern, context):
            if at is not None and not m.start() <= at < m.end():
                continue  # an apposition of another mention of the same name
            if m.group(0)[:1].isalpha() and m.group(0).split()[0].lower() in _DETERMINERS and \
                    context[:m.start()].split()[-1:] and context[:m.start()].split()[-1].lower() in _PREPOSITIONS:
                continue  # "Within the state, Melbourne is ...": a fronted adverbial, not an apposition
            # an apposition's head is its first kind noun ("San Diego, the second most populous city in ...")
            noun = next((n for n in map(_singular, m.group(1).split()) if n in _GROUP_OF), "")
            # "the capital of Australia" says nothing of what Australia is: only naming nouns type with "of"
            if noun in _GROUP_OF and (not of_type or noun in _OF_TYPES):
                kinds.add(_GROUP_OF[noun])
    return kinds


def kind_mismatch(question: str, answer: str, context: str, at: int | None = None) -> str | None:
    """Why the answer cannot be of the kind the question asks for ("the answer is a desert, not a river"), or None
    when it can be (or nothing is known)."""
    q = question_kind(question)
    plain = " ".join(answer.lower().replace("the ", " ").split())
    if q == "continent":
        return None if any(c == plain or plain.endswith(" " + c) for c in CONTINENTS) else \
            "the answer names no continent"
    if q == "direction":
        return None if _COMPASS.search(answer) else "the answer gives no direction"
    if q == "unit":  # "In what unit is the size measured?": a unit of measure, or a count of things ("number of
        # gates", "steps"); a clause ("how much time the best algorithm requires") is neither
        clause = re.match(r"\s*(?:how|what|which|when|where|whether|why|who|that)\b", answer, re.I)
        counted = re.search(r"\b(?:number|amount|count|quantity)\s+of\b", answer, re.I) or re.search(r"[a-z]s$", answer)
        return None if not clause and (_UNIT.search(answer) or counted) else "the answer names no unit of measure"
    if _COMPASS_ONLY.match(answer.strip()):
        if q is not None and q not in ("coast", "border", "district", "direction"):
            return f"the answer is a compass direction, not a {q}"
        return None
    if q is None:
        return None
    kinds = answer_kinds(answer, context, at)
    accepted = _ACCEPTS.get(q, {q})
    if kinds and not kinds & accepted:
        return f"the answer is a {'/'.join(sorted(kinds))}, not a {q}"
    return None


# Kinds that are never a "who": things, places, events (a country or a city may act, and stay allowed).
_NOT_AGENT = {"territory", "river", "lake", "sea", "desert", "mountain", "valley", "coast", "border", "continent",
              "battle", "treaty", "industry", "direction"}
# Lower-case answers to "who" are people or groups: plurals (dukes), agent nouns (farmers, an ally, the emperor),
# or collective nouns (the government).
_AGENT_NOUN = re.compile(rf"(?:s|er|or|ist|ian|ant|ent|man|men|ee|eer|ier|ess|ary)$|^(?:{_any('agent_nouns')})$",
                         re.I)


_NOMINAL_ADJ = re.compile(r"(?:ed|ly|^(?:poor|rich|young|old|sick|dead|living|faithful|wealthy|powerful|weak|"
                          r"strong|brave|free|blind|deaf|homeless|innocent|guilty|wise|great))$", re.I)
# "Is it abstract or concrete?": a yes/no-form question that offers alternatives is answered by one of them.
_ALTERNATIVE_Q = re.compile(r"^\s*(?:is|are|was|were|does|do|did|can|could|will|would|has|have|had|should)\b.*\bor\b",
                            re.I)


def offers_alternatives(question: str) -> bool:
    return bool(_ALTERNATIVE_Q.search(question))


def not_a_who(answer: str, context: str, at: int | None = None) -> str | None:
    """Why the answer cannot answer "who" (a river, a battle, the territory a title rules, a lower-case word that
    names no person or group), or None."""
    kinds = answer_kinds(answer, context, at) & _NOT_AGENT
    if kinds:
        return f"the answer is a {'/'.join(sorted(kinds))}, not a person or group"
    if _COMPASS_ONLY.match(answer.strip()):
        return "the answer is a compass direction, not a person or group"
    words = re.findall(r"[A-Za-z]+", answer)
    # "the poor", "the unemployed": an adjective with "the" names the people it describes
    nominal = len(words) == 2 and words[0].lower() == "the" and bool(_NOMINAL_ADJ.search(words[1]))
    if words and not re.search(r"[A-Z\d]", answer) and not _AGENT_NOUN.search(words[-1]) and not nominal:
        return f"'{words[-1]}' names no person or group"
    return None


_AUX = {"was", "were", "is", "are", "did", "does", "do", "has", "have", "had", "can", "could", "will", "would",
        "should", "may", "might", "must", "shall", "first", "also", "then", "originally", "eventually", "later"}


def subject_after_verb(question: str, answer_span: tuple[int, int], sentence: tuple[int, int], context: str,
                       lang_key) -> str | None:
    """"Who sold the rights?" asks for the one who sold: in an active sentence that states the verb, its doer
    stands before it ("Maciot de Bethencourt sold the rights ... to Enrique"), or after "by" in a passive one. An
    answer standing after the question's verb, with no "by" between them, is what was sold or whom to."""
    m = re.match(r"\s*who\s+([a-z]+)\b", question, re.I)  # "who" + a verb: the question asks for its subject
    if not m or m.group(1).lower() in _AUX:
        return None
    verb = lang_key(m.group(1))
    a, b = sentence
    before = [w for w in re.finditer(r"[A-Za-z]+", context[a:answer_span[0]])]
    hits = [w for w in before if lang_key(w.group(0)) == verb]
    after = [w for w in re.finditer(r"[A-Za-z]+", context[answer_span[1]:b]) if lang_key(w.group(0)) == verb]
    if not hits or after:
        return None  # the verb is not stated before the answer only: nothing to tell
    between = context[a + hits[-1].end():answer_span[0]]
    if re.search(r"\bby\b", between, re.I):
        return None
    return f"the answer stands after '{hits[-1].group(0)}', where what is {m.group(1)} stands, not who did it"


def direction_only(answer: str) -> bool:
    """"south-east", "to the north of the city": a compass direction and nothing else."""
    return bool(_COMPASS_ONLY.match(answer.strip()))


def spelled_number_only(answer: str) -> bool:
    """"seven", "twelve million", "a dozen": a number written out in words, and nothing else."""
    words = re.findall(r"[A-Za-z]+", answer)
    return bool(words) and not re.search(r"\d", answer) and all(_SPELLED.match(w) for w in words) and \
        any(w.lower() not in ("and", "a", "an", "about", "around", "over", "nearly", "some") for w in words)


def several_asked(question: str) -> str | None:
    """The count word when the question asks for several things ("What are the two ...")."""
    m = _SEVERAL.search(question)
    return m.group(1).lower() if m else None


def lists_several(answer: str) -> bool:
    return bool(_LISTS.search(answer))
