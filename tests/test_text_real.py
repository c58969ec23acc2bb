"""The text track on real data: Korean and English QA verification floors on committed public excerpts, the
SQuAD/KorQuAD layout, the multiple-choice / NLI / summarization tasks, Korean reasoning, `datasets` loading."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from vla_builder.text import lang as lang_mod
from vla_builder.text.build import build_text_cli
from vla_builder.text.readers import read_rows
from vla_builder.text.qa import qa_trace
from vla_builder.text.traces import STEP_TITLES, STEP_TITLES_KO, particles

REPO = Path(__file__).resolve().parents[1]
REAL_RECIPE = REPO / "recipes" / "text_real.yaml"
TASKS_RECIPE = REPO / "recipes" / "text_tasks.yaml"
# The KorQuAD 1.0 dev paragraph of the issue's report, with its five published questions (ids 6548850-0-*,
# 6548853-0-*, 6332405-0-0): whitespace words never matched across Korean particles, so 4 of 5 were rejected.
IMJONGSEOK = ("1989년 2월 15일 여의도 농민 폭력 시위를 주도한 혐의(폭력행위등처벌에관한법률위반)으로 지명수배되었다. "
              "1989년 3월 12일 서울지방검찰청 공안부는 임종석의 사전구속영장을 발부받았다. 같은 해 6월 30일 평양축전에 "
              "임수경을 대표로 파견하여 국가보안법위반 혐의가 추가되었다. 경찰은 12월 18일~20일 사이 서울 경희대학교에서 "
              "임종석이 성명 발표를 추진하고 있다는 첩보를 입수했고, 12월 18일 오전 7시 40분 경 가스총과 전자봉으로 무장한 "
              "특공조 및 대공과 직원 12명 등 22명의 사복 경찰을 승용차 8대에 나누어 경희대학교에 투입했다. 1989년 12월 18일 "
              "오전 8시 15분 경 서울청량리경찰서는 호위 학생 5명과 함께 경희대학교 학생회관 건물 계단을 내려오는 임종석을 "
              "발견, 검거해 구속을 집행했다. 임종석은 청량리경찰서에서 약 1시간 동안 조사를 받은 뒤 오전 9시 50분 경 서울 "
              "장안동의 서울지방경찰청 공안분실로 인계되었다.")
IMJONGSEOK_QA = [("임종석이 여의도 농민 폭력 시위를 주도한 혐의로 지명수배 된 날은?", "1989년 2월 15일", 0),
                 ("1989년 6월 30일 평양축전에 대표로 파견 된 인물은?", "임수경", 125),
                 ("임종석이 여의도 농민 폭력 시위를 주도한 혐의로 지명수배된 연도는?", "1989년", 0),
                 ("임종석을 검거한 장소는 경희대 내 어디인가?", "학생회관 건물 계단", 365),
                 ("임종석이 조사를 받은 뒤 인계된 곳은 어딘가?", "서울지방경찰청 공안분실", 457)]


def _args(recipe: Path, output: Path, *overrides: str) -> argparse.Namespace:
    return argparse.Namespace(recipe=recipe, output=output, overrides=list(overrides), overwrite=False,
                              fail_fast=None, runner=None)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def evaluation() -> dict:
    spec = importlib.util.spec_from_file_location("eval_text", REPO / "scripts" / "eval_text.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["eval_text"] = module
    spec.loader.exec_module(module)
    return module.evaluate("ngram")


@pytest.fixture(scope="module")
def real_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text_real") / "out"
    assert build_text_cli(_args(REAL_RECIPE, out)) == 3  # the misfiled KorQuAD questions are rejected
    return out


@pytest.fixture(scope="module")
def tasks_build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text_tasks") / "out"
    assert build_text_cli(_args(TASKS_RECIPE, out)) == 3
    return out


def test_issue_korquad_records_are_confirmed_with_korean_evidence():
    for question, answer, start in IMJONGSEOK_QA:
        t = qa_trace(question, IMJONGSEOK, answer, key="k", answer_start=start, lang="ko")
        assert t.answer == answer, (question, [c.detail for c in t.failed])
        evidence = t.basis["evidence"][0]
        assert evidence["holds_answer"] and evidence["start"] <= start < evidence["end"]
        assert t.steps[0].startswith(("질문은", "추출형", "답하려면")), t.steps[0]
    # The same records with the answer moved elsewhere are not.
    assert qa_trace(IMJONGSEOK_QA[0][0], IMJONGSEOK, "1989년 2월 15일", key="k", answer_start=3, lang="ko").answer is None
    assert qa_trace(IMJONGSEOK_QA[1][0], IMJONGSEOK, "1989년 3월 12일", key="k", lang="ko").answer is None


def test_real_samples_floors(evaluation: dict):
    """Three verdicts on the committed excerpts the rules were tuned on (BENCHMARKS.md, "tuned"): floors a little
    under what is measured. Every shifted offset and every misfiled KorQuAD question is rejected, every
    unanswerable record kept as such; a true record is rejected only on evidence against it."""
    module = sys.modules["eval_text"]
    tuned = module.pooled(evaluation, list(module.QA_FILES))
    for lang, p in tuned.items():
        assert p["shift"][1] == p["shift"][0], lang
        assert p["rejected"] / p["true"] <= 0.015, lang  # ko 2/299, en 7/534
        assert (p["swap"][1] + p["swap_flagged"]) / p["swap"][0] >= 0.79, lang  # ko 88.9%, en 79.5%
    ko, en = tuned["ko"], tuned["en"]
    assert ko["true"] == 299 and ko["confirmed"] >= 277 and ko["swap"][1] / ko["swap"][0] >= 0.70
    assert en["true"] == 534 and en["confirmed"] >= 506 and en["swap"][1] / en["swap"][0] >= 0.66
    for name in module.QA_FILES:
        r = evaluation[name]
        assert r["published_errors_rejected"] == r["published_errors"], name
        assert r["unanswerable_kept"] == r["unanswerable"], name
    assert evaluation["korquad_v1.0_dev"]["published_errors"] == 26
    # Real multiple choice (CosmosQA, KoBEST COPA: inference, first look 51/59 kept, 3/59 changed indices caught)
    # and summarization (SciTLDR: first look 14/15, 11/15); then choice support flags instead of rejecting and
    # summary names are checked (tuned now).
    mc, summ = evaluation["mc"], evaluation["summarization"]
    assert mc["records"] == 59 and mc["kept"] == 59  # no true label lost to words the passage lacks
    assert summ["records"] == 15 and summ["kept"] >= 13 and summ["swap"][1] / summ["swap"][0] >= 0.8
    nli = evaluation["klue_nli_dev"]
    assert nli["kept"] == nli["records"]  # no true NLI label is rejected (cues flag; numbers/negation decide)
    assert nli["flip"][1] >= 6  # flips to 'entailment' over a new number or a negated shared word
    nli_h = evaluation["klue_nli_dev_heldout"]  # first look 37/38 kept, 5/38 flips; one fix since (tuned now)
    assert nli_h["records"] == 38 and nli_h["kept"] == 38 and nli_h["flip"][1] >= 5


def test_first_look_figures_are_the_recorded_ones(evaluation: dict):
    """Round 6's third first look (BENCHMARKS.md): measured once, after the fixes the second one prompted and
    before any rule change that follows it. A change that moves these figures makes the sets tuned data: move them
    from FIRST_LOOK to QA_FILES and report them as tuned."""
    module = sys.modules["eval_text"]
    first = module.pooled(evaluation, list(module.FIRST_LOOK))
    got = {lang: (p["true"], p["confirmed"], p["flagged"], p["rejected"], p["swap"], p["swap_flagged"], p["shift"])
           for lang, p in first.items()}
    assert got == {"ko": (71, 61, 6, 4, [67, 43], 11, [67, 67]), "en": (94, 82, 6, 6, [88, 63], 8, [88, 88])}
    assert evaluation["squad_v2.0_train_heldout11"]["unanswerable_kept"] == 24


def _korquad(qid: str) -> dict:
    path = REPO / "recipes" / "data" / "text" / "real" / "korquad_v1.0_dev_excerpt.json"
    return next(v for _, _, v in read_rows(path, path.name, "squad") if isinstance(v, dict) and v["id"] == qid)


def _qa(r: dict, answer: str) -> object:
    return qa_trace(r["question"], r["context"], answer, key="k", answer_start=r["context"].index(answer), lang="ko")


def test_focus_and_nearness_tell_swapped_answers_apart():
    # "전경협의 오빠가 그녀를 죽이기 위해 보낸 것은?": the answer's sentence should hold the focus 보낸 (보냈던 there);
    # one that does not lacks support (flagged for review), which is no evidence against it.
    sent = _korquad("6549412-2-1")
    assert _qa(sent, "독이 든 계란 과자").verdict == "confirmed"
    bad = _qa(sent, "이교도")
    assert bad.verdict == "flagged" and [c.name for c in bad.flagged] == ["answer_by_focus"]
    # The focus 도와준 is paraphrased (도움으로), but the answer stands right before its kind: 이름의 궁녀.
    helper = _korquad("6549412-0-1")
    assert _qa(helper, "안형광").answer == "안형광"
    # Two years in one sentence: the one next to 태어났으며 answers "언제 태어났나?" (a comma parts 896년 from it).
    born = _korquad("6471291-0-0")
    assert _qa(born, "877년").answer == "877년"
    assert [c.name for c in _qa(born, "896년").flagged] == ["answer_nearest"]  # the words prefer 877년: review
    # English answer shapes: "how long" takes a number; "where" is no person; "who" is no battle.
    assert qa_trace("How long did it last?", "The siege lasted 380 years.", "380 years", key="k").answer == "380 years"
    ctx = "In 1066, Duke William II of Normandy conquered England killing King Harold II at the Battle of Hastings."
    assert qa_trace("Where did Harold II die?", ctx, "Battle of Hastings", key="k").answer == "Battle of Hastings"
    assert qa_trace("Where did Harold II die?", ctx, "William II", key="k").answer is None
    assert qa_trace("Who killed Harold II?", ctx, "Battle of Hastings", key="k").answer is None


def test_round3_rules_keep_true_answers_and_catch_wrong_ones():
    # A stop inside a quotation ends no sentence: the quoted clause and the speaker's words are one sentence.
    quoted = "남자가 “편견 없는 대한민국. 현재 세계 치안 1위지만 더 안전한 대한민국”이라고 적힌 판을 들었다. 경찰이 왔다."
    assert [quoted[a:b] for a, b in lang_mod.sentences(quoted, "ko")][1] == "경찰이 왔다."
    assert qa_trace("판을 든 남자는 세계 치안 몇위라고 하였나?", quoted, "1위", key="k", lang="ko").answer == "1위"
    # A counted number (4차례) is no year; the year in the same sentence is.
    year = "김씨는 2008년부터 조현병으로 치료를 받았고 4차례 입원했다."
    assert qa_trace("김씨는 몇년도부터 치료를 받았나?", year, "2008년", key="k", lang="ko").answer == "2008년"
    assert [c.name for c in qa_trace("김씨는 몇년도부터 치료를 받았나?", year, "4차례", key="k",
                                     lang="ko").failed] == ["answer_type"]
    # "abstract or concrete?" is answered by one of its alternatives; a plain echo of the question is not an answer.
    ctx = "A problem is an abstract question. An instance of it is a rather concrete utterance."
    assert qa_trace("Is an instance abstract or concrete?", ctx, "concrete", key="k").answer == "concrete"
    assert qa_trace("What is a concrete utterance?", ctx, "concrete", key="k").answer is None
    # A common noun marked where the context first names it, asked about what a later sentence says of it.
    ctx = ("A computational problem can be viewed as a collection of instances. Consider the traveling salesman. "
           "Stated another way, the instance is a particular input to the problem.")
    q = "What is another name for a particular input to the problem?"
    assert qa_trace(q, ctx, "instances", key="k", answer_start=ctx.index("instances")).answer == "instances"
    assert qa_trace(q, ctx, "traveling salesman", key="k",
                    answer_start=ctx.index("traveling")).answer is None


def test_nli_numbers_and_negated_words_reject_entailment():
    from vla_builder.text.tasks import nli_trace
    labels = ["entailment", "neutral", "contradiction"]
    pool = "10층에 건물사람들만 이용하는 수영장과 썬베드들이 있구요."

    def answer(p, h, y):
        return nli_trace(p, h, y, labels, key="k", lang="ko").answer
    assert answer(pool, "수영장과 썬베드는 9층에 있습니다.", "entailment") is None  # a number the premise lacks
    assert answer(pool, "수영장과 썬베드는 9층에 있습니다.", "contradiction") == "contradiction"
    glad = "10명이 함께 사용하기 불편함없이 만족했다."
    assert answer(glad, "10명이 함께 사용하기 불편함이 많았다.", "entailment") is None  # 불편함 negated, then stated
    assert answer(glad, "10명이 함께 사용하기에 만족스러웠다.", "entailment") == "entailment"  # 불편함 not mentioned
    # The premise negates 방영 of one thing and states it of another: no clash with a hypothesis about the other.
    aired = "1기는 한국에 정식으로 방영되지 않았으며 학생회 임원들이 이번에 정식 방영하는 것은 처음이다."
    assert answer(aired, "학생회 임원들이 이번에 정식 방영한다.", "entailment") == "entailment"
    assert nli_trace("The team did not win the final.", "The team won the final.", "entailment", labels,
                     key="k").answer is None


def test_korquad_layout_builds_with_korean_reasoning(real_build: Path):
    records, rejects = _jsonl(real_build / "records.jsonl"), _jsonl(real_build / "rejects.jsonl")
    manifest = json.loads((real_build / "manifest.json").read_text())
    ko = [r for r in records if r["language"] == "ko"]
    en = [r for r in records if r["language"] == "en"]
    assert len(ko) >= 55 and len(en) >= 120
    for r in ko:
        text = r["messages"][2]["content"]
        assert [text.index(t) for t in STEP_TITLES_KO] == sorted(text.index(t) for t in STEP_TITLES_KO)
        assert text.endswith(f"최종 답변: {r['answer']}") and "Step 1" not in text
        assert r["messages"][1]["content"].startswith("지문:")
    for r in en:
        assert r["messages"][2]["content"].startswith(STEP_TITLES[0])
    unanswerable = [r for r in en if not r["trace"]["basis"]["answerable"]]
    assert len(unanswerable) == 69 and {r["answer"] for r in unanswerable} == {"unanswerable"}
    misfiled = [r for r in rejects if "answer_start_matches" in r["reason"]]
    assert len(misfiled) == 26 and all(r["source"].startswith("data/text/real/korquad") for r in misfiled)
    assert manifest["counts"]["records"] == len(records) and manifest["languages"]["ko"] == 83
    assert manifest["checks"]["answer_start_matches"]["failed"] == 26
    assert sorted(manifest["files"]) == ["manifest.json", "records.jsonl", "records.parquet", "rejects.jsonl"]


def test_task_recipes_build(tasks_build: Path):
    records, rejects = _jsonl(tasks_build / "records.jsonl"), _jsonl(tasks_build / "rejects.jsonl")
    by_task = {t: [r for r in records if r["task"] == t] for t in ("multiple_choice", "summarization", "nli", "qa")}
    assert {t: len(v) for t, v in by_task.items()} == {"multiple_choice": 5, "summarization": 3, "nli": 38, "qa": 57}
    assert all(r["verdict"] in ("confirmed", "flagged") and bool(r["reasons"]) == (r["verdict"] == "flagged")
               for r in records)
    reasons = {(r["source"], r["line"]): r["reason"] for r in rejects}
    assert "answer_index_in_range" in reasons[("data/text/choice.jsonl", 6)]
    assert "numbers_supported" in reasons[("data/text/summaries.jsonl", 4)] and "'50'" in reasons[("data/text/summaries.jsonl", 4)]
    mc_ko = next(r for r in by_task["multiple_choice"] if r["language"] == "ko")
    assert mc_ko["answer"] == "B. 2층" and mc_ko["messages"][2]["content"].endswith("최종 답변: B. 2층")
    assert next(r for r in by_task["multiple_choice"] if r["language"] == "en")["answer"] == "B. 1989"
    assert all(r["language"] == "ko" and "1단계 - 질문 근거" in r["messages"][2]["content"] for r in by_task["nli"])
    assert any("cues_agree" in r["flags"] for r in by_task["nli"])
    assert {r["language"] for r in by_task["summarization"]} == {"en", "ko"}


def test_records_load_with_datasets(tasks_build: Path, tmp_path: Path):
    datasets = pytest.importorskip("datasets")
    datasets.disable_progress_bars()
    n = len(_jsonl(tasks_build / "records.jsonl"))
    cache = str(tmp_path / "hf_cache")
    as_json = datasets.load_dataset("json", data_files=str(tasks_build / "records.jsonl"), split="train",
                                    cache_dir=cache)
    as_parquet = datasets.load_dataset("parquet", data_files=str(tasks_build / "records.parquet"), split="train",
                                       cache_dir=cache)
    assert as_json.num_rows == as_parquet.num_rows == n
    row = as_parquet[0]
    assert [m["role"] for m in row["messages"]] == ["system", "user", "assistant"]
    assert json.loads(row["trace"])["confirmation"]["answer"] == row["answer"]
    assert as_json["id"] == as_parquet["id"]


def test_readers_csv_json_and_bad_squad(tmp_path: Path):
    (tmp_path / "a.csv").write_text('premise,hypothesis,label\n"A dog runs.","An animal runs.",0\n', encoding="utf-8")
    (tmp_path / "b.json").write_text(json.dumps([{"document": "x"}, 3]), encoding="utf-8")
    (tmp_path / "c.json").write_text('{"data": [{"paragraphs": [{"context": "c"}]}]}', encoding="utf-8")
    assert [v for _, _, v in read_rows(tmp_path / "a.csv", "a.csv")] == \
        [{"premise": "A dog runs.", "hypothesis": "An animal runs.", "label": "0"}]
    rows = list(read_rows(tmp_path / "b.json", "b.json"))
    assert rows[0][2] == {"document": "x"} and "not a JSON object" in rows[1][2]
    assert "without 'qas'" in next(read_rows(tmp_path / "c.json", "c.json"))[2]
    recipe = tmp_path / "r.yaml"
    recipe.write_text("kind: text\nname: r\nsources:\n  - {path: a.csv, task: nli}\n  - {path: c.json, task: qa}\n")
    assert build_text_cli(_args(recipe, tmp_path / "o")) == 3
    rec = _jsonl(tmp_path / "o" / "records.jsonl")
    assert rec[0]["answer"] == "entailment" and rec[0]["language"] == "en"  # integer label -> KLUE/SNLI order
    assert "without 'qas'" in _jsonl(tmp_path / "o" / "rejects.jsonl")[0]["reason"]
    # `language:` forces the reasoning language; `format: parquet` writes no JSONL records (and removes stale ones).
    assert build_text_cli(_args(recipe, tmp_path / "o", "language=ko", "format=parquet")) == 3
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["manifest.json", "records.parquet", "rejects.jsonl"]
    import pyarrow.parquet as pq
    row = pq.read_table(tmp_path / "o" / "records.parquet").to_pylist()[0]
    assert row["language"] == "ko" and row["messages"][2]["content"].startswith("1단계 - 질문 근거")


def test_korean_tokens_meet_across_particles():
    # (The `morph` mode loads Kiwi's model, ~8 s here: scripts/eval_text.py --korean-tokens morph measures it.)
    a = set(lang_mod.keywords("임종석이 검거되었다", "ko", "ngram"))
    assert a & set(lang_mod.keywords("임종석의 영장", "ko", "ngram"))
    assert not a & set(lang_mod.keywords("경찰은 첩보를 입수했다", "ko", "ngram"))
    assert lang_mod.language_of("임종석은 조사를 받았다") == "ko" and lang_mod.language_of("The mill, 1820.") == "en"
    # Korean particles follow the inserted word's last syllable: 받침 or not, a Latin word keeps the neutral form.
    assert particles("'리슐리외'이(가), 1624년을(를), 이유을(를), Melting이(가)") == "'리슐리외'가, 1624년을, 이유를, Melting이(가)"
