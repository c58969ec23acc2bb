"""One actor rule (vla_builder/actor.py) for every stage: a recipe actor of any class name is a manipulator for the
interactions stage and for the label check alike, and its track id is a provenance field."""

import numpy as np
import pytest

from test_real_footage import SIZES, _clip, _motion, _rest_then_lift, _tracks
from vla_builder.actor import ActorError, choose_actor, is_manipulator, misspelt_actor
from vla_builder.stages.interactions import InteractionStage
from vla_builder.stages.verify_label import VerifyLabelStage
from vla_builder.types import SourceSpec


def _person_lifts_cup(recipe_actor: str | None):
    """A 'person' box reaches a cup, rests on it and lifts it; interactions then the label check, as a build runs
    them with the recipe's `actor:`."""
    tracks = _tracks(_rest_then_lift(), SIZES, {1: "person", 2: "cup"})
    clip = _clip(tracks, _motion(40, 2))
    clip = clip.with_(source=SourceSpec(video=clip.source.video, caption="picking up cup", caption_origin="test"))
    clip = InteractionStage(actor=recipe_actor).process(clip)
    return VerifyLabelStage(actor=recipe_actor).process(clip)


def test_recipe_actor_person_is_a_manipulator_for_interactions_and_the_label_check():
    clip = _person_lifts_cup("person")
    assert clip.actor_id == 1 and "from the recipe" in clip.actor_reason
    assert any(e.kind == "carry" and e.object_id == 2 for e in clip.events)  # the person holds the cup
    verdict = clip.label_verdict
    reach = next(c for c in verdict["checks"] if c["check"] == "a labeled hand/gripper reaches the object")
    # the bug: interactions inferred the hold while this check stayed off (min_gap None) and the label undetermined
    assert reach["min_gap"] is not None and reach["ok"] is True, verdict
    assert verdict["verdict"] == "confirmed", verdict


def test_without_a_recipe_actor_a_person_is_no_manipulator_anywhere():
    clip = _person_lifts_cup(None)
    assert not any(e.kind in ("carry", "grasp", "push") for e in clip.events)
    reach = next(c for c in clip.label_verdict["checks"] if c["check"] == "a labeled hand/gripper reaches the object")
    assert reach["min_gap"] is None and reach["ok"] is None  # no hand: the label cannot be confirmed by a reach


def test_the_rule_and_the_misspelling_check():
    assert is_manipulator("left hand", None) and is_manipulator("Person", "person") and not is_manipulator("cup", None)
    assert misspelt_actor("hnad", ["hand", "cup"]) == ("actor: 'hnad' names no class of the labels; the classes are "
                                                       "['cup', 'hand']; did you mean 'hand'?")
    assert misspelt_actor("hand", ["cup", "hand"]) is None
    assert misspelt_actor("hand", ["pedestrian"]) is None  # no manipulator labeled: the camera acts, no error
    tracks = _tracks({1: np.tile([0.5, 0.5], (5, 1)), 2: np.tile([0.2, 0.2], (5, 1))}, SIZES, {1: "hand", 2: "cup"})
    with pytest.raises(ActorError, match="did you mean 'hand'"):
        choose_actor(tracks, "hnad")


def test_actor_id_is_a_provenance_field_read_by_the_dataset_view():
    from vla_builder.dataset_view import actor_track_id
    from vla_builder.sinks.lerobot import provenance_record

    clip = _person_lifts_cup("person")
    record = provenance_record(clip)
    assert record["actor_id"] == 1 and actor_track_id(record) == 1
    camera = provenance_record(clip.with_(actor_id=None, actor_reason="no tracks: the camera's own motion"))
    assert camera["actor_id"] is None and actor_track_id(camera) is None
