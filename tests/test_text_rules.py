"""The rule tables (vla_builder/text/rules_qa.py, rules_tasks.py): every rule has a record here that it catches,
with the verdict its table entry says (rejected: evidence against the label; flagged: kept for review). Adding a
rule to a table without a case here fails `test_every_rule_has_a_case` / `test_every_task_rule_has_a_case`."""

from __future__ import annotations

from pathlib import Path

import pytest

from vla_builder.text.qa import qa_trace
from vla_builder.text.readers import read_rows
from vla_builder.text.rules_qa import ON_FAIL, QA_CHECKS, TYPE_RULES
from vla_builder.text.tasks import choice_trace, classification_trace, nli_trace, summary_trace

REAL = Path(__file__).resolve().parents[1] / "recipes" / "data" / "text" / "real"

# answer_type rules: (question, context, answer) the rule catches, first of the table to do so.
TYPE_CASES = {
    "count_has_number": ("How many ships did the Normans send to Sicily in the spring?",
        "The Normans sent a fleet of ships to Sicily in the spring. They landed near Messina.",
        "a fleet"),
    "count_not_a_year": ("How many soldiers fought at the bridge?",
        "The battle at the bridge began in May 1066 and soldiers fought there for days.",
        "1066"),
    "duration_has_number_or_time": ("How long did the siege of the castle last?",
        "The siege of the castle lasted until the king surrendered to Robert.",
        "Robert"),
    "frequency_shape": ("How often is the festival held in the town?",
        "The festival is held in the town square by the guild of merchants.",
        "the town square"),
    "degree_not_direction_or_name": ("How large is the lake near the city?",
        "The lake lies north of the city of Geneva.",
        "Geneva"),
    "time_has_time_word": ("When did the duke sign the treaty?",
        "The duke signed the treaty with the bishop in the cathedral.",
        "the bishop"),
    "not_only_number_or_date": ("Who founded the abbey in the valley?",
        "The abbey in the valley was founded in 1120 by monks from Cluny.",
        "1120"),
    "where_not_person": ("Where did the king flee after the battle?",
        "After the battle the king fled with King Harold II to the coast.",
        "King Harold II"),
    "where_not_degree_phrase": ("Where is the region most densely populated?",
        "The region is most densely populated along the coast, the most densely populated strip.",
        "most densely populated"),
    "who_not_event_or_place": ("Who defeated the army in the north?",
        "The army in the north was defeated at the Battle of Stamford Bridge.",
        "Battle of Stamford Bridge"),
    "named_kind_is_named": ("What country did the merchants trade with?",
        "The merchants traded wool and cloth with distant partners across the sea.",
        "wool and cloth"),
    "who_is_an_agent": ("Who controlled the salt trade after the war?",
        "After the war the salt trade was controlled by taxation.",
        "taxation"),
    "kind_matches_question": ("What is the name of the desert on the border of Orra?",
        "On the border of Orra lies the Sable River, and the desert beyond it is wide.",
        "Sable River"),
    "one_of_the_alternatives": ("Is the theory abstract or concrete?",
        "The theory is considered mathematical by its authors, and abstract by others.",
        "mathematical"),
    "subject_before_verb": ("Who sold the estate to the church?",
        "The estate was bought by the church, and Lord Ashby sold the estate to the church in "
        "1200; the church sold the mill to Edward.",
        "Edward"),
    "lists_as_many_as_asked": ("What are the two languages spoken in the province?",
        "The two languages spoken in the province are French and English.",
        "French"),
}
# A rule for both languages has a Korean case too.
TYPE_CASES_KO = {
    "count_has_number": ("김씨는 병원에 몇 차례 입원했나?", "김씨는 병원에 여러 차례 입원했다. 그는 조현병을 앓았다.", "여러 차례"),
    "time_has_time_word": ("김씨는 언제부터 치료를 받았나?", "김씨는 2008년부터 서울의 병원에서 치료를 받았다.", "서울의 병원"),
    "not_only_number_or_date": ("치료를 맡은 병원은 어디인가?", "김씨는 2008년부터 서울의 병원에서 치료를 받았다.", "2008년"),
}


def _korquad(qid: str) -> dict:
    path = REAL / "korquad_v1.0_dev_excerpt.json"
    return next(v for _, _, v in read_rows(path, path.name, "squad") if isinstance(v, dict) and v["id"] == qid)


def _ko(qid: str, answer: str, **kw) -> object:
    r = _korquad(qid)
    return qa_trace(r["question"], r["context"], answer, key="k", answer_start=r["context"].index(answer), lang="ko",
                    **kw)


KYRA = ("Richard reached Kyra in 1191 on his way to the crusade. The despot of Kyra, Isaak Kom, had refused his "
        "fleet water. Ships of the fleet were wrecked off the coast.")
ESTATE = "The estate was sold by Lord Ashby to the abbey of Kyra. The mill burned in 1200."


def _en(question: str, context: str, answer: str, **kw) -> object:
    start = context.find(answer)
    return qa_trace(question, context, answer, key="k", answer_start=start if start >= 0 else None, **kw)


# QA_CHECKS entries: a trace each one decides.
CHECK_CASES = {
    "not_empty": lambda: _en("Who sold the estate?", ESTATE, " "),
    "no_answer_given": lambda: qa_trace("Who sold the estate?", ESTATE, "Lord Ashby", key="k", impossible=True),
    "question_on_topic": lambda: qa_trace("Who bought the mill?", ESTATE, "", key="k", impossible=True),
    "answer_start_matches": lambda: qa_trace("Who sold the estate?", ESTATE, "Lord Ashby", key="k", answer_start=3),
    "answer_in_context": lambda: _en("Who sold the estate?", ESTATE, "Lady Ashby"),
    "answer_supported": lambda: _en("Who ruled Kyra in 1191?", KYRA, "Isaak Kom"),
    "question_elsewhere": lambda: _en("Who sold the estate to the abbey?", ESTATE, "The mill"),
    "answer_not_in_question": lambda: _en("Who sold the estate to the abbey?", ESTATE, "the abbey"),
    "answer_type": lambda: _en(*TYPE_CASES["time_has_time_word"]),
    # "전경협의 오빠가 그녀를 죽이기 위해 보낸 것은?": the focus 보낸 is not in the swapped answer's sentence
    "answer_by_focus": lambda: _ko("6549412-2-1", "이교도"),
    # "언제 태어났나?": 896년 stands in the sentence of 877년, which sits right by 태어났으며
    "answer_nearest": lambda: _ko("6471291-0-0", "896년"),
    "not_duplicate": lambda: _en("Who sold the estate?", ESTATE, "Lord Ashby", duplicate_of="r1"),
}


def test_every_rule_has_a_case():
    assert set(CHECK_CASES) == {r.name for r in QA_CHECKS}
    assert set(TYPE_CASES) == {r.name for r in TYPE_RULES}
    assert {r.name for r in TYPE_RULES if "ko" in r.langs} <= set(TYPE_CASES_KO) | {
        "duration_has_number_or_time", "frequency_shape", "degree_not_direction_or_name"}  # Korean asks none
    assert len(ON_FAIL) == len(QA_CHECKS) + len(TYPE_RULES)  # names are unique across the tables
    assert set(ON_FAIL.values()) == {"reject", "flag"}


@pytest.mark.parametrize("name", [r.name for r in QA_CHECKS])
def test_each_check_decides_its_case_as_its_table_says(name: str):
    t = CHECK_CASES[name]()
    decided = [c for c in t.checks if c.name == name and (c.flagged or not c.passed)]
    assert decided, (name, [(c.name, c.passed, c.flagged, c.detail) for c in t.checks])
    if ON_FAIL[name] == "reject":
        assert t.verdict == "rejected" and t.answer is None
    else:  # kept, with the reason a reviewer should look
        assert decided[0].passed and decided[0].flagged and t.answer is not None


@pytest.mark.parametrize("lang,name", [("en", r.name) for r in TYPE_RULES] + [("ko", n) for n in TYPE_CASES_KO])
def test_each_type_rule_catches_its_case(lang: str, name: str):
    question, context, answer = (TYPE_CASES if lang == "en" else TYPE_CASES_KO)[name]
    t = qa_trace(question, context, answer, key="k", answer_start=context.find(answer), lang=lang)
    typed = next(c for c in t.checks if c.name == "answer_type")
    assert not typed.passed and typed.rule == name, (typed.rule, typed.detail)
    assert t.verdict == "rejected" and {"check": "answer_type", "rule": name} in [
        {k: r[k] for k in ("check", "rule")} for r in t.reasons]


def test_recipe_override_turns_a_rejection_into_a_flag_and_back():
    question, context, answer = TYPE_CASES["time_has_time_word"]
    t = _en(question, context, answer, on_fail={"time_has_time_word": "flag"})
    assert t.verdict == "flagged" and t.answer == answer and t.flagged[0].rule == "time_has_time_word"
    assert _en("Who ruled Kyra in 1191?", KYRA, "Isaak Kom", weak_support="reject").verdict == "rejected"


# The other task kinds' tables (rules_tasks): each entry, a trace it decides.
PASSAGE = "I stayed up until three finishing the report, so this morning I could hardly keep my eyes open."
DOC = "The council voted 7 to 2 on Tuesday to extend the night bus to the Harbour district from March."
TASK_CASES = {
    ("CHOICE_CHECKS", "not_empty"): lambda: choice_trace("Why?", ["a", " "], 0, context=None, key="k"),
    ("CHOICE_CHECKS", "choices_distinct"): lambda: choice_trace("Why?", ["Yes", "yes"], 0, context=None, key="k"),
    ("CHOICE_CHECKS", "answer_index_in_range"): lambda: choice_trace("Why?", ["a", "b"], 5, context=None, key="k"),
    ("CHOICE_CHECKS", "choice_supported"): lambda: choice_trace(
        "Why was I tired?", ["I finished the report late", "I slept badly"], 1, context=PASSAGE, key="k"),
    ("CHOICE_CHECKS", "not_duplicate"): lambda: choice_trace("Why?", ["a", "b"], 0, context=None, key="k",
                                                             duplicate_of="r1"),
    ("NLI_CHECKS", "not_empty"): lambda: nli_trace("", "It rained.", "neutral", NLI, key="k"),
    ("NLI_CHECKS", "label_in_set"): lambda: nli_trace("It rained.", "It was wet.", "maybe", NLI, key="k"),
    ("NLI_CHECKS", "cues_agree"): lambda: nli_trace("It rained all day.", "It did not rain all day.", "neutral",
                                                    NLI, key="k"),
    ("NLI_CHECKS", "numbers_entailed"): lambda: nli_trace("Ten people came.", "Twelve people, 12, came.",
                                                          "entailment", NLI, key="k"),
    ("NLI_CHECKS", "polarity_entailed"): lambda: nli_trace("불편함없이 잘 지냈다.", "불편함이 많았다.", "entailment", NLI,
                                                           key="k", lang="ko"),
    ("NLI_CHECKS", "not_duplicate"): lambda: nli_trace("It rained.", "It was wet.", "neutral", NLI, key="k",
                                                       duplicate_of="r1"),
    ("SUMMARY_CHECKS", "not_empty"): lambda: summary_trace(DOC, "", key="k"),
    ("SUMMARY_CHECKS", "numbers_supported"): lambda: summary_trace(DOC, "The council voted 9 to 0.", key="k"),
    ("SUMMARY_CHECKS", "entities_supported"): lambda: summary_trace(DOC, "The council extended the Airport bus.",
                                                                    key="k"),
    ("SUMMARY_CHECKS", "content_supported"): lambda: summary_trace(DOC, "Cats sleep most afternoons.", key="k"),
    ("SUMMARY_CHECKS", "shorter_than_document"): lambda: summary_trace(DOC, DOC + " It will run nightly.", key="k"),
    ("SUMMARY_CHECKS", "not_duplicate"): lambda: summary_trace(DOC, "The council extended the night bus.", key="k",
                                                               duplicate_of="r1"),
    ("CLASSIFICATION_CHECKS", "not_empty"): lambda: classification_trace(" ", "good", ["good", "bad"], key="k"),
    ("CLASSIFICATION_CHECKS", "label_in_set"): lambda: classification_trace("Fine.", "meh", ["good", "bad"], key="k"),
    ("CLASSIFICATION_CHECKS", "cues_agree"): lambda: classification_trace(
        "An awful, bad day.", "good", ["good", "bad"], key="k", cues={"good": ["great"], "bad": ["awful"]}),
    ("CLASSIFICATION_CHECKS", "not_duplicate"): lambda: classification_trace("Fine.", "good", ["good", "bad"],
                                                                             key="k", duplicate_of="r1"),
}
NLI = ["entailment", "neutral", "contradiction"]


def test_every_task_rule_has_a_case():
    import vla_builder.text.rules_tasks as tables
    named = {(table, r.name) for table in ("CHOICE_CHECKS", "NLI_CHECKS", "SUMMARY_CHECKS", "CLASSIFICATION_CHECKS")
             for r in getattr(tables, table)}
    assert set(TASK_CASES) == named


@pytest.mark.parametrize("table,name", list(TASK_CASES))
def test_each_task_rule_decides_its_case_as_its_table_says(table: str, name: str):
    import vla_builder.text.rules_tasks as tables
    on_fail = next(r.on_fail for r in getattr(tables, table) if r.name == name)
    t = TASK_CASES[(table, name)]()
    decided = next(c for c in t.checks if c.name == name)
    if on_fail == "reject":
        assert not decided.passed and t.verdict == "rejected" and t.answer is None, decided
    else:
        assert decided.passed and decided.flagged and t.verdict == "flagged" and t.answer is not None, decided
