"""The actor: whose motion is the action — one rule for every stage that asks.

A class is a *manipulator* (a hand, a gripper: something that grasps and pushes) when its name holds one of
`ACTOR_CLASS_HINTS` or it is the recipe's `actor:` — so `actor: person` makes the person a manipulator for the
interactions stage (holds, pushes) and the label check ("a hand reaches the object") alike. The actor track is the
recipe's class (a labeled segment's own actor first: a class or a track id, `asked_actor`) where the clip has it,
else a manipulator, else the most active track; a recipe actor that names no class while the labels hold a
manipulator is a misspelling, said with the nearest class (`misspelt_actor`).
`Clip.actor_id` holds the chosen track's id (None: the camera is the actor), `Clip.actor_reason` why; the sink writes
both into provenance (`actor_id`, `actor`).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import numpy as np

from vla_builder.types import Clip, Event, TrackSet

ACTOR_CLASS_HINTS = ("hand", "gripper", "end effector", "end_effector", "robot", "arm", "claw")


class ActorError(ValueError):
    """The recipe's `actor:` names no class of the clip's labels (a misspelt class)."""


def asked_actor(clip: Clip, recipe_actor: str | None) -> str | None:
    """The actor this clip asks for: its labeled segment's own (a class or a track id, e.g. a speaker's), else the
    recipe's `actor:`."""
    return clip.source.segment_actor or recipe_actor


def is_manipulator(class_name: str, recipe_actor: str | None) -> bool:
    """A class that grasps and pushes: its name holds a hand / gripper word, or it is the recipe's actor."""
    name = class_name.lower()
    return (recipe_actor is not None and name == recipe_actor.lower()) or _hinted(name)


def _hinted(name: str) -> bool:
    return any(h in name.lower() for h in ACTOR_CLASS_HINTS)


def misspelt_actor(recipe_actor: str, classes: Iterable[str]) -> str | None:
    """Why `recipe_actor` is a misspelling of the labels' classes (the nearest one suggested), or None: it names one
    of them, or none of them is a manipulator (an object filmed alone: the camera acts, no error)."""
    classes = sorted({str(c) for c in classes})
    if recipe_actor.lower() in {c.lower() for c in classes} or not any(_hinted(c) for c in classes):
        return None
    close = difflib.get_close_matches(recipe_actor, classes, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"actor: '{recipe_actor}' names no class of the labels; the classes are {classes}{hint}"


def path_length(centers: np.ndarray) -> float:
    """Total distance a (T, 2) center path covers (NaN steps count 0)."""
    d = np.linalg.norm(np.diff(centers, axis=0), axis=-1)
    return float(np.nansum(d))


def choose_actor(tracks: TrackSet, actor_class: str | None) -> tuple[int | None, str]:
    """Index of the actor track and why it was chosen (None: the camera is the actor).

    A recipe actor that names none of the clip's classes is an error listing them when the clip has a manipulator
    class (a misspelling); a clip without any manipulator (an object filmed alone) makes the camera the actor.
    """
    if len(tracks) == 0:
        return None, "no tracks: the camera's own motion is the action"
    centers = tracks.centers()
    activity = np.array([path_length(centers[:, k]) for k in range(len(tracks))])
    names = [n.lower() for n in tracks.class_names]

    def most_active(cands: list[int]) -> int:
        return max(cands, key=lambda k: (activity[k], tracks.present[:, k].sum(), -k))

    hinted = [k for k, n in enumerate(names) if _hinted(n)]
    if actor_class:
        cands = [k for k, n in enumerate(names) if n == actor_class.lower()] or [
            k for k in range(len(tracks)) if str(int(tracks.ids[k])) == actor_class]  # a track id (a speaker's)
        if cands:
            k = most_active(cands)
            return k, f"class '{actor_class}' from the recipe (track {int(tracks.ids[k])}, the most active of {len(cands)})"
        problem = misspelt_actor(actor_class, tracks.class_names)
        if problem:
            raise ActorError(problem)
        return None, (f"class '{actor_class}' from the recipe is not in this clip's labels "
                      f"({sorted(set(tracks.class_names))}) and none of them is a manipulator: the camera's own "
                      "motion is the action")
    if hinted:
        k = most_active(hinted)
        return k, f"a '{tracks.class_names[k]}' track (track {int(tracks.ids[k])}), the most active of {len(hinted)}"
    k = most_active(list(range(len(tracks))))
    return k, f"the most active track (track {int(tracks.ids[k])}, class '{tracks.class_names[k]}')"


def actor_is_manipulator(clip: Clip, recipe_actor: str | None) -> bool:
    """The clip's chosen actor grasps and pushes (False where the camera is the actor)."""
    if clip.actor_id is None or clip.tracks is None:
        return False
    return is_manipulator(clip.tracks.class_names[clip.tracks.index_of(clip.actor_id)], recipe_actor)


def action_track(clip: Clip) -> int | None:
    """Index of the track whose box motion the trajectory's action is (None: the camera's ego-motion is)."""
    traj, tracks = clip.trajectory, clip.tracks
    if clip.actor_id is None or tracks is None or (traj is not None and traj.follows_camera):
        return None
    return tracks.index_of(clip.actor_id)


def held_mask(events: tuple[Event, ...] | list[Event], t_count: int, actor_id: int | None) -> np.ndarray:
    """gripper[t] = 1 while the actor holds an object (the command at t moves it from t to t+1)."""
    mask = np.zeros(t_count, bool)
    for ev in events:
        if ev.kind == "carry" and ev.actor_id == actor_id:
            mask[ev.start : ev.end + 1] = True
    return mask
