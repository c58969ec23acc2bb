"""What a question asks for and what shape an answer has: the question-type table (per language) and the answer
shape patterns that the QA type rules (`rules_qa.TYPE_RULES`) test.
"""

from __future__ import annotations

import re

from vla_builder.text.kinds import spelled_number_only
from vla_builder.text.messages import msg

# Question word -> (what it asks for, the kind of answer: number / time / entity / other); first match wins, so
# longer forms come first. The kind is checked against the answer: a count needs a number, a date needs a time
# expression, and an answer that is only a number or a date cannot answer a question for a person or a thing.
QTYPES = {
    "en": ((r"how many|how much|what (?:percentage|number|amount|population|size)|what (?:is|was|are|were) the (?:\w+ )?"
            r"(?:population|number|amount|total|percentage|proportion|ranking|rank)", "a count or amount", "number"),
           (r"how old", "an age", "number"),
           (r"when|what (?:year|century|decade|date|day|month|time|period|age)|what [a-z]+ (?:year|date)|"
            r"which (?:year|century|decade)",
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
           # "… 의원의 수는?", "… 인구는?": a count asked for by its noun (round 6)
           (r"몇|얼마|나이|(?<![가-힣])수는|(?<![가-힣])수가|인구|인원수|횟수|개수", "수량", "number"),
           (r"누구|누가|인물|사람|이름|저자", "인물", "entity"), (r"어디|장소|(?<![가-힣])곳", "장소", "entity"),
           (r"왜|이유", "이유", "other"), (r"무엇|어떤|어느|무슨", "대상", "other")),
}
TIME_WORDS = re.compile(r"\d|\b(century|centuries|year|years|decade|decades|era|age|period|reign|during|after|"
                         r"before|until|since|ago|bc|ad|bce|ce|spring|summer|autumn|fall|winter|morning|evening|night|"
                         r"today|now|january|february|march|april|may|june|july|august|september|october|november|"
                         r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|medieval|modern|early|late|"
                         r"mid|war)\b|년|월|일|세기|시대|때|무렵|이전|이후|초기|말기|중반|시절|왕조|기간", re.IGNORECASE)
NUMBER_WORDS = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|"
                           r"forty|fifty|hundred|thousand|million|billion|first|second|third|fourth|fifth|sixth|seventh|eighth|"
                           r"ninth|tenth|eleventh|twelfth|dozen|half|several|few|hundreds|thousands|millions|billions|dozens|"
                           r"many|single|both|double|triple|none)\b|(?:한|두|세|네|다섯|여섯|일곱|여덟|아홉|열|스무|백|천|만|억|첫|수)\s*"
                           r"(?:번|명|개|살|해|년|가지|차례|째|권|곳|배|시간|일|달|주|세|천|만|억|골|점|승|패|표|석|편|장|층|"
                           r"마리|채|척|대|경기)", re.IGNORECASE)
NUMBER_NOUN = re.compile(r"\b(integers?|numbers?|digits?|values?|figures?|scores?|numerals?)\b|숫자|수치|점수|값",
                          re.IGNORECASE)
# A number with a counter that counts things, not time (4차례, 5명, 3 times, 200 men): it cannot answer "when".
COUNT = re.compile(r"\d[\d,.]*\s*(?:차례|번째|번|회|명|개|위|권|곳|배|가지|마리|채|척|대|%|퍼센트|"
                    r"(?:times|people|persons|men|women|soldiers|troops|ships|percent)\b)", re.IGNORECASE)
MONTHS_EN = "january|february|march|april|may|june|july|august|september|october|november|december"
# An answer made only of these is a number or a date (1989년 2월 15일, the 10th and 11th centuries, 911, July 2013).
DATE_TOKEN = re.compile(r"^(\d[\d,.]*(?:st|nd|rd|th|s)?|\d+[년월일세살시분초개명번회차위%]*|the|and|or|of|in|on|"
                         r"about|around|c\.|century|centuries|year|years|decade|bc|ad|[ivxlc]+|"
                         rf"{MONTHS_EN}|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)$", re.IGNORECASE)
# Round 5: what a time check must not read as a time — a digit inside a name ("Astra 2A", "A380", "33C") and a
# number grouped in thousands ("40,000": a count; years are not written so).
NOT_TIME_EN = re.compile(r"\b(?:[A-Za-z]+\d\w*|\d+(?!(?:st|nd|rd|th|s|am|pm|bc|ad|bce|ce)\b)[A-Za-z]\w*|"
                          r"\d{1,3}(?:,\d{3})+(?:\.\d+)?)\b")
MONTH_OR_TIME_PREP_EN = re.compile(rf"\b(?:{MONTHS_EN}|in|since|by|from|until|till|of)\s*$", re.IGNORECASE)


# "How often ...?" (round 5): a frequency says how many times in a span ("every four years", "twice a day",
# "annually"), or at least gives a number or a time word.
FREQUENCY = re.compile(r"\b(every|each|per|once|twice|thrice|times?|always|never|rarely|seldom|often|usually|"
                        r"sometimes|regularly|frequently|occasionally|constantly|continuously|annual|annually|yearly|"
                        r"biennial|biennially|monthly|weekly|daily|hourly|nightly|quarterly|perennial|seasonal|"
                        r"seasonally)\b", re.IGNORECASE)
# An adjective phrase of degree ("most densely populated", "very large") describes; it names no place (round 5).
DEGREE_PHRASE_EN = re.compile(r"^(?:the\s+)?(?:most|more|less|least|very|highly|extremely|fairly|relatively|"
                               r"quite|rather)\s+[a-z-]+(?:\s+[a-z-]+)?$")

# English answer shapes that cannot answer "where" (a person) or "who" (an event, place or thing).
PERSON_EN = re.compile(r"^(king|queen|duke|duchess|count|countess|earl|lord|lady|prince|princess|emperor|empress|"
                        r"pope|bishop|archbishop|sir|saint|st\.?|mr|mrs|dr)\b|\b[A-Z][a-z]+ (?:I|II|III|IV|V|VI|VII|VIII"
                        r"|IX|X|XI|XII)$", re.IGNORECASE)
EVENT_PLACE_EN = re.compile(r"\b(battle|war|siege|treaty|revolution|river|sea|ocean|lake|bay|mountains?|island|"
                             r"valley|castle|language|religion|century|year)\b", re.IGNORECASE)


# "What country / which city / what language ...": the answer is a proper name (capitalised in English).
NAMED_KIND_EN = re.compile(r"\b(?:what|which)\s+(?:\w+\s+)?(?:country|countries|city|cities|state|nation|"
                            r"continent|kingdom|region|island|river|sea|language|empire|county|province|town)\b",
                            re.IGNORECASE)


def question_type(question: str, lang: str) -> tuple[str, str, str]:
    """(question word, what it asks for, answer kind). English asks up front ("Who was the leader when ..."), so
    the earliest question word wins; Korean asks at the end ("... 파견 된 인물은?"), so the last one does."""
    found = []
    for order, (w, expects, kind) in enumerate(QTYPES.get(lang, QTYPES["en"])):
        for m in re.finditer(rf"(?<![a-z])(?:{w})(?![a-z])", question.lower()):
            found.append((m.start() if lang != "ko" else -m.start(), order, m.group(0), expects, kind))
    if not found:
        return "", msg("a_fact", lang), "other"
    _, _, word, expects, kind = min(found)
    return word, expects, kind


def date_or_number_only(answer: str) -> bool:
    words = re.findall(r"[\w.%]+", answer)
    return bool(words) and any(ch.isdigit() for ch in answer) and all(DATE_TOKEN.match(w) for w in words) or \
        spelled_number_only(answer)
