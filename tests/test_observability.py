"""Evidence or abstain (issue 21): on real frames and real labels, a claim whose measurement the footage cannot show
is `uncertain` with its reason — never `contradicted` (nor confirmed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vla_builder.observability import MIN_LABELED_SAMPLES, clipped_axes, fills_frame, observable_steps
from vla_builder.stages.verify_label import verify

# captions that are contradicted on the clips as labeled (tests/test_labels_language.py): the checks can refute them
WRONG_ON_BOTTLE = ["Touching (without moving) bottle", "Pretending to pick bottle up", "Pretending to lift bottle up"]
WRONG_ON_BOOK = ["Picking book up", "Pushing book from left to right"]


def build_clips(real_data, tmp_path, ids, edit=None):
    from conftest import clips_until_label_check

    return clips_until_label_check(real_data, tmp_path, ids, edit)


def assert_uncertain(clip, captions, reason):
    for text in captions:
        r = verify(clip, text)
        assert r["verdict"] == "uncertain", (text, r)
        assert reason in r["why"], (text, r["why"])
        assert not any(c["ok"] is False for c in r["checks"]), (text, r["checks"])


def test_observability_rules_on_boxes():
    boxes = np.array([[0.0, 0.2, 0.3, 0.5], [0.2, 0.2, 0.4, 0.99], [0.1, 0.1, 0.9, 0.9], [0.2, 0.2, 0.3, 0.3],
                      [np.nan] * 4])
    assert clipped_axes(boxes).tolist() == [[True, False], [False, True], [False, False], [False, False],
                                            [False, False]]
    assert fills_frame(boxes).tolist() == [False, False, True, False, False]
    # a step shows motion along an axis only with the box present, unclipped along it and not filling, at both ends
    assert observable_steps(boxes).tolist() == [[False, False], [False, False], [False, False], [False, False],
                                                [False, False]]
    still = np.tile([[0.2, 0.2, 0.3, 0.3]], (3, 1))
    assert observable_steps(still).tolist() == [[True, True], [True, True], [False, False]]


def test_a_frame_filling_box_supports_and_refutes_nothing(real_data, tmp_path):
    """Clip 4's "puzzle" mat is labeled with a box over ~90% of the frame, cut by the image edges on every frame:
    whatever is said of it — moved, still, carried, touched — is uncertain, with the reason."""
    clip = build_clips(real_data, tmp_path, ["4"])["4"]
    k = list(clip.tracks.class_names).index("puzzle")
    assert fills_frame(clip.tracks.boxes_xyxy[:, k]).all()
    assert_uncertain(clip, ["Moving puzzle from left to right", "Picking puzzle up", "Pretending to move puzzle",
                            "Touching (without moving) puzzle", "Touching puzzle"],
                     "covers most of the frame")


def test_a_box_cut_by_the_frame_edges_shows_no_world_motion(real_data, tmp_path):
    """Clip 2003's book (still; "Picking book up" is contradicted as labeled) with its box cut by the left and
    bottom image edges on every frame, as a book reaching out of the picture is labeled: no motion claim is refuted
    or confirmed; the hand reaching it is still seen."""
    def to_the_edges(ann):
        for frame in ann["2003"]:
            for label in frame["labels"]:
                if label["category"] == "book":
                    label["box2d"].update(x1=0.0, y2=240.0)

    clip = build_clips(real_data, tmp_path, ["2003"], to_the_edges)["2003"]
    k = list(clip.tracks.class_names).index("book")
    assert clipped_axes(clip.tracks.boxes_xyxy[:, k]).all() and not fills_frame(clip.tracks.boxes_xyxy[:, k]).any()
    assert_uncertain(clip, WRONG_ON_BOOK + ["Pretending to pick book up", "Touching (without moving) book"],
                     "touches the frame edge")
    assert verify(clip, "Touching book")["verdict"] != "contradicted"


@pytest.mark.parametrize("keep", ["all", "hand"])
def test_too_few_actor_samples_refute_nothing(real_data, tmp_path, keep):
    """Clip 151201's bottle is carried away (the wrong captions below are contradicted on the clip as labeled).
    Cut to 3 labeled samples of the hand — every label row but 3 dropped ("all"), or only the hand's ("hand"; the
    bottle keeps its labels) — no claim stands: uncertain, saying how few samples there were."""
    def three_samples(ann):
        rows = ann["151201"]
        for i, frame in enumerate(rows):
            if i not in (3, 10, 17):
                frame["labels"] = [] if keep == "all" else [x for x in frame["labels"] if x["category"] != "hand"]
        ann["151201"] = [f for f in rows if f["labels"]]

    clip = build_clips(real_data, tmp_path, ["151201"], three_samples)["151201"]
    actor = clip.tracks.index_of(clip.actor_id)
    assert clip.tracks.labeled[:, actor].sum() == 3 < MIN_LABELED_SAMPLES
    assert_uncertain(clip, WRONG_ON_BOTTLE + ["Lifting bottle up", "병을 들어 올린다"],
                     "only 3 labeled samples of the hand")


def test_a_clip_too_short_to_show_stillness_refutes_no_act(real_data, tmp_path):
    """Another real clip: MOT17-05 (pedestrians, a moving platform, 6 labeled frames = 0.36 s at 14 fps). Nothing a
    hand does shows in 0.36 s: an act whose only evidence against it would be "never moved" is uncertain."""
    from conftest import run_until_label_check

    (tmp_path / "r.yaml").write_text(f"name: m\nsources:\n  - frames: {real_data}/MOT17-mini/MOT17-05-FRCNN/img1\n"
                                     "    labels: \"{dir}/gt/gt.txt\"\n    classes: {1: pedestrian}\n")
    (clip,) = [c for name, c in run_until_label_check(tmp_path / "r.yaml").items() if name != "_rest"]
    assert_uncertain(clip, ["Picking pedestrian up", "Pushing pedestrian from left to right",
                            "Pretending to push pedestrian"], "too short to show")


def _gripper_columns(root):
    import pyarrow.parquet as pq

    from vla_builder.observability import GRIPPER_KNOWN
    from vla_builder.schema import GRIPPER

    rows = [r for f in sorted(root.glob("data/*/*.parquet")) for r in pq.read_table(f).to_pylist()]
    known = np.array([np.ravel(r[GRIPPER_KNOWN])[0] for r in rows])  # lerobot stores shape (1,) as a scalar
    gripper = np.array([r["action"][GRIPPER] for r in rows])
    return known, gripper, np.array([r["episode_index"] for r in rows])


def test_gripper_known_is_0_on_people_and_1_where_a_hand_can_hold(real_data, tmp_path):
    """Real footage without manipulation — MOT17-05's pedestrians on a street seen from a moving platform, the actor
    a walking person — gets `observation.gripper_known` = 0 on every frame: its gripper of 0 claims nothing.
    The Something-Else hand clips get 1 where the hand is seen with an object in view, and on every frame that
    says the hand holds. The feature is documented in info.json and shown by `inspect`."""
    import textwrap

    from conftest import assert_valid, cli_in_process

    from vla_builder.inspect_dataset import format_text, summarize
    from vla_builder.observability import GRIPPER_KNOWN

    (tmp_path / "mot.yaml").write_text(textwrap.dedent(f"""
        name: mot17
        sources:
          - frames: {real_data}/MOT17-mini/MOT17-05-FRCNN/img1
            labels: "{{dir}}/gt/gt.txt"
            classes: {{1: pedestrian}}
            licence: CC BY-NC-SA 3.0
        output: {tmp_path}/people
    """))
    dev = real_data / "something_else_dev"
    (tmp_path / "hands.yaml").write_text(
        "name: hands\nsources:\n"
        + "".join(f"  - frames: {dev}/frames/{cid}\n    fps: 12\n    labels: {dev}/annotations.json\n"
                  for cid in ("2003", "4"))
        + f"actor: hand\nfps: 12\nimage_size: [240, 428]\noutput: {tmp_path}/hands\n")
    for name in ("mot.yaml", "hands.yaml"):
        res = cli_in_process("build", str(tmp_path / name), "--no-report", cwd=tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
    for root in (tmp_path / "people", tmp_path / "hands"):
        assert_valid(root)
        info = json.loads((root / "meta" / "info.json").read_text())
        assert info["features"][GRIPPER_KNOWN]["info"]["gripper_known"].startswith("1 where the gripper value")

    known, _gripper, _ep = _gripper_columns(tmp_path / "people")
    assert len(known) >= 5 and (known == 0).all()
    for line in (tmp_path / "people" / "meta" / "provenance.jsonl").read_text().splitlines():
        task = json.loads(line)["task"]  # a walking person gets no grasp language from its box ("hold ... in place")
        assert not any(w in task.split() for w in ("hold", "grasp", "pick", "carry", "push", "touch", "keep")), task
    assert "observation.gripper_known" in format_text(summarize(tmp_path / "people"))

    known, gripper, ep = _gripper_columns(tmp_path / "hands")
    assert set(np.unique(known)) <= {0.0, 1.0}
    assert (known[gripper > 0.5] == 1).all()  # a held object is always evidence
    for e in np.unique(ep):  # the hand is seen beside the book / the puzzle pieces on most frames
        assert known[ep == e].mean() > 0.5, e
    # the reasoning trace's words follow the mask, frame by frame: "unknown" where it is 0 (every frame of the
    # street), "open" / "closed" only where it is 1
    for root in (tmp_path / "people", tmp_path / "hands"):
        known, _g, _e = _gripper_columns(root)
        rows = sorted((json.loads(line) for line in (root / "meta" / "reasoning.jsonl").read_text().splitlines()),
                      key=lambda r: (r["episode_index"], r["frame_index"]))
        assert [r["gripper"] == "unknown" for r in rows] == list(known == 0), root
