"""The text track: QA / classification -> SFT records with a three-step trace, over the shipped example."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from vla_builder.text.build import build_text_cli
from vla_builder.text.qa import qa_trace
from vla_builder.text.tasks import classification_trace
from vla_builder.text.traces import STEP_TITLES

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "recipes" / "text_demo.yaml"
# The deliberately bad lines of recipes/data/text/*.jsonl and a word their reject reason must carry.
EXPECTED_REJECTS = {
    ("data/text/qa.jsonl", 18): "does not occur in the context",
    ("data/text/qa.jsonl", 19): "empty: answer",
    ("data/text/qa.jsonl", 20): "differs from the source label",
    ("data/text/qa.jsonl", 21): "not valid JSON",
    ("data/text/qa.jsonl", 22): "same question and context",
    ("data/text/sentiment.jsonl", 19): "is not one of",
    ("data/text/sentiment.jsonl", 20): "missing field(s): label",
    ("data/text/sentiment.jsonl", 21): "cue words point to negative",
}


def _args(recipe: Path, output: Path | None, *overrides: str) -> argparse.Namespace:
    return argparse.Namespace(recipe=recipe, output=output, overrides=list(overrides), overwrite=False,
                              fail_fast=None, runner=None)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("text") / "demo"
    assert build_text_cli(_args(DEMO, out)) == 3  # some records rejected, on purpose
    return out


def test_records_answer_their_source_labels(demo: Path):
    records = _jsonl(demo / "records.jsonl")
    assert len(records) == 35
    for r in records:
        line = (DEMO.parent / r["source"]).read_text().splitlines()[r["line"] - 1]
        source = json.loads(line)
        label = source["answer"] if r["task"] == "qa" else source["label"]
        assert r["answer"] == label == r["trace"]["confirmation"]["answer"]
        assert [m["role"] for m in r["messages"]] == ["system", "user", "assistant"]
        text = r["messages"][2]["content"]
        positions = [text.index(title) for title in STEP_TITLES]
        assert positions == sorted(positions), "the three steps come in order"
        assert text.endswith(f"Final answer: {label}")
        assert r["trace"]["verification"] and all(c["passed"] for c in r["trace"]["verification"])
        if r["task"] == "qa":
            assert label in source["context"]
            assert r["trace"]["basis"]["evidence"], "QA basis quotes the context"


def test_bad_records_are_rejected_with_reasons(demo: Path):
    rejects = _jsonl(demo / "rejects.jsonl")
    assert {(r["source"], r["line"]): r["reason"] for r in rejects}.keys() == EXPECTED_REJECTS.keys()
    for r in rejects:
        assert EXPECTED_REJECTS[(r["source"], r["line"])] in r["reason"]
    emitted = {(r["source"], r["line"]) for r in _jsonl(demo / "records.jsonl")}
    assert not emitted & EXPECTED_REJECTS.keys()
    manifest = json.loads((demo / "manifest.json").read_text())
    verified = sum(r["stage"] == "verify" for r in rejects)  # the others never parsed: no verdict
    assert manifest["counts"] == {"read": 43, "records": 35, "rejects": 8, "confirmed": 35, "flagged": 0,
                                  "rejected": verified}
    assert all(r["verdict"] == "rejected" and r["reasons"] for r in rejects if r["stage"] == "verify")
    assert all(s["licence"] for s in manifest["sources"])


def test_bad_recipe_lists_every_problem_and_writes_nothing(tmp_path: Path, capsys):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(
        "kind: text\nname: bad\nseed: many\ncolour: blue\n"
        "sources:\n"
        "  - {path: nowhere.jsonl, task: qa}\n"
        "  - {path: nowhere_*.jsonl, task: classification, fields: {txt: body}}\n")
    out = tmp_path / "out"
    assert build_text_cli(_args(recipe, out)) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "6 problem(s)" in err
    for expected in ("seed: Input should be a valid integer", "colour: unknown key",
                     "sources[0].path: no such file: nowhere.jsonl", "sources[1].path: no such file",
                     "sources[1].fields: unknown role(s) ['txt']", "sources[1].labels: required"):
        assert expected in err, expected
    assert not out.exists()


def test_same_seed_same_bytes(tmp_path: Path, demo: Path):
    again, other = tmp_path / "again", tmp_path / "other"
    assert build_text_cli(_args(DEMO, again)) == 3
    assert (again / "records.jsonl").read_bytes() == (demo / "records.jsonl").read_bytes()
    assert (again / "rejects.jsonl").read_bytes() == (demo / "rejects.jsonl").read_bytes()
    # Another seed rewords the traces, never the answers.
    assert build_text_cli(_args(DEMO, other, "seed=7")) == 3
    a, b = _jsonl(demo / "records.jsonl"), _jsonl(other / "records.jsonl")
    assert [r["answer"] for r in a] == [r["answer"] for r in b]
    assert [r["messages"] for r in a] != [r["messages"] for r in b]


def test_cli_subprocess(tmp_path: Path):
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "vla_builder", "build", "recipes/text_demo.yaml", "--output",
                          str(out)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert run.returncode == 3, run.stderr
    assert "records:  35  rejects: 8" in run.stdout and "wall time:" in run.stdout
    assert str(out.resolve()) in run.stdout
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "records.jsonl", "rejects.jsonl"]


def test_nothing_produced_and_foreign_output(tmp_path: Path):
    (tmp_path / "d.jsonl").write_text('{"text": "x", "label": "odd"}\nnot json\n')
    recipe = tmp_path / "r.yaml"
    recipe.write_text("kind: text\nname: r\nsources:\n"
                      "  - {path: d.jsonl, task: classification, labels: [even]}\n")
    assert build_text_cli(_args(recipe, tmp_path / "o")) == 1  # every line rejected
    assert len(_jsonl(tmp_path / "o" / "rejects.jsonl")) == 2
    # A non-empty folder that is not a text-track output is never written into.
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    assert build_text_cli(_args(recipe, foreign)) == 2
    assert [p.name for p in foreign.iterdir()] == ["keep.txt"]


def test_traces_are_pure_and_seeded():
    ctx = "The mill was built in 1820. It ground oats for the village."
    one = qa_trace("When was the mill built?", ctx, "1820", key="0|a")
    assert one == qa_trace("When was the mill built?", ctx, "1820", key="0|a")
    assert one.answer == "1820" and not one.failed
    wordings = {qa_trace("When was the mill built?", ctx, "1820", key=f"{s}|a").steps for s in range(20)}
    assert len(wordings) > 1  # the seed picks among paraphrases
    bad = qa_trace("When was the mill built?", ctx, "1830", key="0|a")
    assert bad.answer is None and [c.name for c in bad.failed] == ["answer_in_context"]
    dup = classification_trace("Fine.", "ok", ["ok", "bad"], key="k", duplicate_of="f:1")
    assert dup.answer is None and [c.name for c in dup.failed] == ["not_duplicate"]


def test_summary_names_must_be_in_the_document():
    from vla_builder.text.tasks import summary_trace
    doc = ("We train GAN models on ImageNet and compare them with a BERT baseline. Results improve by 3 points. "
           "Training is stable across seeds.")
    ok = summary_trace(doc, "GANs trained on ImageNet beat the BERT baseline by 3 points.", key="s", lang="en")
    assert ok.answer is not None, [c.detail for c in ok.failed]  # GANs / GAN; "Training" opens no name
    bad = summary_trace(doc, "GANs trained on ImageNet beat the RoBERTa baseline by 3 points.", key="s", lang="en")
    assert [c.name for c in bad.failed] == ["entities_supported"] and "RoBERTa" in bad.failed[0].detail
    ko_doc = "연구진은 CRISPR 기술로 유전자를 고쳤다. 실험은 3년 걸렸다."
    assert summary_trace(ko_doc, "연구진이 CRISPR로 유전자를 고쳤다.", key="k", lang="ko").answer is not None
    assert "entities_supported" in [c.name for c in summary_trace(
        ko_doc, "연구진이 TALEN으로 유전자를 고쳤다.", key="k", lang="ko").failed]


def test_choice_the_passage_never_states_is_flagged_not_rejected():
    # Inference questions (CosmosQA-like): the right option is unstated, a distractor reuses the passage's words.
    from vla_builder.text.tasks import choice_trace
    ctx = "I missed the bus this morning and walked to the office in the rain."
    t = choice_trace("Why might I feel tired?", ["I walked to the office in the rain", "I slept badly"], 1,
                     context=ctx, key="c", lang="en")
    assert t.answer == "B. I slept badly" and [c.name for c in t.flagged] == ["choice_supported"]
    assert choice_trace("Why?", ["a", "b"], 5, context=ctx, key="c", lang="en").answer is None  # out of range


def test_weak_support_is_flagged_by_default_and_flagged_records_can_be_held_apart(tmp_path: Path):
    # The despot's sentence shares only "Kyra" with the question; the sentence before shares "Kyra" and "1191":
    # support below half the best but above a quarter — no evidence against the label, so it is kept and flagged
    # (weak_support: reject turns it into a rejection; flagged: exclude holds it apart in flagged.jsonl).
    ctx = ("Richard reached Kyra in 1191 on his way to the crusade. The despot of Kyra, Isaak Kom, had refused his "
           "fleet water. Ships of the fleet were wrecked off the coast.")
    rows = [{"question": "Who ruled Kyra in 1191?", "context": ctx, "answer": "Isaak Kom",
             "answer_start": ctx.index("Isaak Kom")},
            {"question": "Who reached Kyra in 1191?", "context": ctx, "answer": "Richard", "answer_start": 0}]
    (tmp_path / "qa.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    cases = (("weak_support: reject", ["Richard"], [], {"confirmed": 1, "flagged": 0, "rejected": 1}),
             ("weak_support: flag", ["Isaak Kom", "Richard"], [], {"confirmed": 1, "flagged": 1, "rejected": 0}),
             ("on_fail: {answer_supported: reject}", ["Richard"], [], {"confirmed": 1, "flagged": 0, "rejected": 1}),
             ("", ["Richard"], ["Isaak Kom"], {"confirmed": 1, "flagged": 1, "rejected": 0}))
    for n, (option, kept, held, verdicts) in enumerate(cases):
        recipe = tmp_path / f"r{n}.yaml"
        recipe.write_text(f"kind: text\nname: r{n}\n" + ("flagged: exclude\n" if held else "") +
                          f"sources:\n  - {{path: qa.jsonl, task: qa{', ' + option if option else ''}}}\n")
        out = tmp_path / f"out{n}"
        assert build_text_cli(_args(recipe, out)) in (0, 3)
        records = _jsonl(out / "records.jsonl")
        assert sorted(r["answer"] for r in records) == kept, option
        manifest = json.loads((out / "manifest.json").read_text())
        assert {k: manifest["counts"][k] for k in verdicts} == verdicts, option
        assert (out / "flagged.jsonl").exists() == bool(held)
        for r in records + (_jsonl(out / "flagged.jsonl") if held else []):
            assert r["verdict"] == ("flagged" if r["answer"] == "Isaak Kom" else "confirmed")
            if r["verdict"] == "flagged":  # the reason a reviewer should look, with the numbers it rests on
                assert r["reasons"][0]["check"] == "answer_supported" and r["reasons"][0]["numbers"]["support"] > 0
        if held:
            assert [r["answer"] for r in _jsonl(out / "flagged.jsonl")] == held


def test_unknown_rule_in_on_fail_is_a_recipe_error(tmp_path: Path, capsys):
    (tmp_path / "qa.jsonl").write_text(json.dumps({"question": "q?", "context": "c.", "answer": "c"}) + "\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("kind: text\nname: r\nsources:\n  - {path: qa.jsonl, task: qa, on_fail: {answer_typo: flag}}\n")
    assert build_text_cli(_args(recipe, tmp_path / "out")) == 2
    assert "answer_typo" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_korean_past_tense_contraction_meets_its_stem():
    from vla_builder.text.lang import tokens
    keys = lambda text: {k for k, _, _ in tokens(text, "ko")}  # noqa: E731
    assert "죽이" in keys("수행원들이 타일러를 죽였다.") & keys("타일러를 죽인 장소는?")  # 죽이 + 었 -> 죽였
    assert "남기" in keys("기록을 남겼다") & keys("남긴 기록")
    assert "보내" in keys("편지를 보냈다") & keys("편지를 보낸 사람")  # the final consonant alone, as before


def test_sentences_keep_abbreviations_and_dots_between_nouns():
    from vla_builder.text.lang import sentences
    ko = '2003년 부산의 66개 시민.사회단체가 결성했다.또한 믹스 테잎 "Vol. 1"으로 데뷔했다. 그 후 갔다.'
    assert [ko[a:b] for a, b in sentences(ko, "ko")] == [
        "2003년 부산의 66개 시민.사회단체가 결성했다.", '또한 믹스 테잎 "Vol. 1"으로 데뷔했다.', "그 후 갔다."]
    en = "She attended St. Mary's school. Then she left."
    assert [en[a:b] for a, b in sentences(en, "en")] == ["She attended St. Mary's school.", "Then she left."]
