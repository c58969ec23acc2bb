"""The human label checked against the footage: the programme's "error verification" step on physical data.

A caption or narration ("Pushing bottle from left to right", "pick up lunch box", "pretending to pick a pillow up")
is parsed with a small verb lexicon into what it claims — a verb class, a direction, whether it is pretended, and
which labeled object it is about — and each claim is checked against geometry measured from the clip's tracks with
the camera's own motion removed (`camera_compensation.world_velocity`) and against the interaction events:

| verb class | words | signature checked |
|---|---|---|
| take | pick up, lift, take, grab, raise, get | the object moves (a carry event or >= 0.08), a hand reaches it |
| put | put, place, drop, set, lay, insert | the object moves, a hand reaches it |
| push | push, poke, slide, shove, pull, move, drag, roll, turn | the object moves, in the stated direction |
| pretend | pretending to ..., pretend | the object does *not* really move (no carry of >= 0.08, nor >= 0.16) |
| touch | touch, tap, hold, squeeze | the actor's box reaches the object's |

A stated left/right direction refutes when the net motion goes the other way; up/down only confirms (a hand-held
camera's tilt and perspective move image y). "Never moved" (< 0.05) refutes take/put/push.
| none | open, close, pour, wipe, ... | no box signature: undetermined |

Per episode a verdict — `confirmed` (every check agrees), `contradicted` (a check measures the opposite of the
label), `undetermined` (no check could decide: no object found, no signature, measurements in between) — with each
check's numbers. Held on the clip (`Clip.label_verdict`): the sink writes it into provenance (`label_verdict`),
the language stage into the reasoning trace.
`label_check.drop_contradicted: true` in the recipe drops contradicted episodes (a failure record with the evidence).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import Field

from vla_builder.actor import actor_is_manipulator, is_manipulator
from vla_builder.boxes import gap as box_gap
from vla_builder.camera_compensation import world_velocity
from vla_builder.config import StrictConfig
from vla_builder.pipeline import Stage
from vla_builder.types import Clip

MOVED = 0.08  # normalized units: an object whose world position changes this much has moved
STILL = 0.05  # ... and one that stays within this much never moved (label jitter on a still object: ~0.04)
DIRECTION = 0.05  # net displacement along the stated axis that decides a direction
CONTACT = 0.02  # gap between the actor's and the object's boxes that counts as touching

VERB_CLASSES = {
    "take": ("pick up", "picking up", "picks up", "pick", "picking", "lift", "lifting", "take", "taking", "grab",
             "grabbing", "raise", "raising", "get", "getting"),
    "put": ("put", "putting", "place", "placing", "drop", "dropping", "set", "setting", "lay", "laying", "insert"),
    "push": ("push", "pushing", "poke", "poking", "slide", "sliding", "shove", "shoving", "pull", "pulling", "move",
             "moving", "drag", "dragging", "roll", "rolling", "turn", "turning", "throw", "throwing"),
    "touch": ("touch", "touching", "tap", "tapping", "hold", "holding", "squeeze", "squeezing"),
}
NO_SIGNATURE = ("open", "close", "pour", "wipe", "wash", "fill", "shake", "cut", "stir", "clean", "fold", "show",
                "showing", "tear", "tearing", "spin", "spinning", "tilt", "tilting", "tip", "tipping")
DIRECTIONS = {  # (axis, sign): x grows to the right, y grows downward
    r"\bfrom left to right\b|\bto the right\b|\bleft to right\b|\brightward": (0, +1),
    r"\bfrom right to left\b|\bto the left\b|\bright to left\b|\bleftward": (0, -1),
    r"\bup\b|\bupward|\blift|\braise": (1, -1),
    r"\bdown\b|\bdownward": (1, +1),
}


class LabelCheckConfig(StrictConfig):
    """Recipe section `label_check:` — what to do with a human label the footage contradicts."""
    enabled: bool = True
    drop_contradicted: bool = False
    moved: float = Field(MOVED, gt=0, le=1)  # world displacement (normalized) that counts as "moved"


class LabelContradicted(Exception):
    """Raised when `drop_contradicted` is set: the episode is dropped, with the evidence as the reason."""


@dataclass(frozen=True)
class Claim:
    verb: str  # take | put | push | touch | none
    pretend: bool
    direction: tuple[int, int] | None  # (axis, sign)
    words: str  # the verb words matched


def parse_label(text: str) -> Claim:
    t = " ".join(text.lower().replace("-", " ").split())
    pretend = bool(re.search(r"\bpretend", t))
    body = re.sub(r"\bpretend(ing|s|ed)? (to )?", "", t)
    best: tuple[int, str, str] | None = None  # (position, class, word): the first verb in the sentence
    for cls, words in VERB_CLASSES.items():
        for w in words:
            m = re.search(rf"\b{re.escape(w)}\b", body)
            if m and (best is None or m.start() < best[0] or (m.start() == best[0] and len(w) > len(best[2]))):
                best = (m.start(), cls, w)
    for w in NO_SIGNATURE:
        m = re.search(rf"\b{re.escape(w)}\b", body)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), "none", w)
    verb = best[1] if best else "none"
    direction = None
    for pattern, d in DIRECTIONS.items():
        if re.search(pattern, body):
            direction = d
            break
    return Claim(verb, pretend, direction, best[2] if best else "")


def _object_track(clip: Clip, text: str, recipe_actor: str | None = None) -> tuple[int | None, str]:
    """The labeled object the text is about: a non-actor track whose class name appears in the text, else the
    object of the clip's events, else the only non-actor track."""
    tracks = clip.tracks
    assert tracks is not None
    t = text.lower()
    # the actor is the object too when it is no manipulator (no hand labeled: the only track was made the actor)
    candidates = [k for k in range(len(tracks)) if tracks.ids[k] != clip.actor_id
                  or not is_manipulator(tracks.class_names[k], recipe_actor)]
    named = [k for k in candidates if tracks.class_names[k].lower() in t]
    if named:
        # the most moved of the named ones (two "puzzle piece" boxes: the one acted on)
        k = max(named, key=lambda k: _excursion(clip, k)[0])
        return k, f"class '{tracks.class_names[k]}' named in the label"
    objects = [e.object_id for e in clip.events or () if e.object_id is not None]
    if objects:
        k = tracks.index_of(max(set(objects), key=objects.count))
        return k, "the object of the clip's interaction events"
    if len(candidates) == 1:
        return candidates[0], "the only non-actor track"
    return None, "no labeled object matches the label"


def _excursion(clip: Clip, k: int) -> tuple[float, np.ndarray, int]:
    """(largest world displacement from the first position, net displacement (2,), samples present) of track k."""
    v = world_velocity(clip.tracks, clip.motion)[:, k]
    present = ~np.isnan(v[:, 0])
    if present.sum() < 2:
        return 0.0, np.zeros(2), int(present.sum())
    path = np.cumsum(np.where(present[:, None], v, 0.0), axis=0)
    return float(np.linalg.norm(path, axis=1).max()), path[present][-1], int(present.sum())


def _min_gap(clip: Clip, k: int) -> float | None:
    tracks = clip.tracks
    if clip.actor_id is None or tracks is None:
        return None
    gap = box_gap(tracks.boxes_xyxy[:, tracks.index_of(clip.actor_id)], tracks.boxes_xyxy[:, k])
    return float(np.nanmin(gap)) if np.isfinite(gap).any() else None


def verify(clip: Clip, text: str, moved: float = MOVED, recipe_actor: str | None = None) -> dict[str, Any]:
    """The verdict for `text` on this clip, with every check and its numbers (`recipe_actor`: the recipe's
    `actor:`, a manipulator by the actor rule whatever its name)."""
    claim = parse_label(text)
    checks: list[dict[str, Any]] = []
    out = {"label": text, "verb_class": claim.verb, "verb": claim.words, "pretend": claim.pretend,
           "direction": None if claim.direction is None else ["x", "y"][claim.direction[0]] + (
               "+" if claim.direction[1] > 0 else "-"), "checks": checks}
    if clip.tracks is None or len(clip.tracks) == 0:
        return {**out, "verdict": "undetermined", "why": "no tracks to measure"}
    if claim.words and re.search(rf"\b{re.escape(claim.words)}\s+(the\s+|a\s+)?camera\b", text.lower()):
        return {**out, "verdict": "undetermined", "why": "the label is about the camera, not a labeled object"}
    if claim.verb == "none" and not claim.pretend:
        return {**out, "verdict": "undetermined", "why": f"'{claim.words or text}' has no box signature"}
    k, how = _object_track(clip, text, recipe_actor)
    if k is None:
        return {**out, "verdict": "undetermined", "why": how}
    name = clip.tracks.class_names[k]
    exc, net, n_present = _excursion(clip, k)
    carried = any(e.kind in ("carry", "grasp") and e.object_id == int(clip.tracks.ids[k]) for e in clip.events or ())
    out["object"] = {"track_id": int(clip.tracks.ids[k]), "class": name, "chosen_by": how}
    move_check = {"check": "object moved (world, camera motion removed)", "excursion": round(exc, 4),
                  "net_dx": round(float(net[0]), 4), "net_dy": round(float(net[1]), 4), "samples": n_present,
                  "moved_at_least": moved, "still_below": STILL, "carried_event": carried}
    if claim.pretend:
        really = carried and exc >= moved or exc >= 2 * moved
        move_check["expect"] = "not really moved"
        # confirmed only when nothing was carried and the object stayed put: a short "carry" event under a
        # pretended grasp would otherwise stand beside the label as a real pick-up
        move_check["ok"] = False if really else (True if not carried and exc < STILL else None)
        checks.append(move_check)
    elif claim.verb in ("take", "put", "push"):
        move_check["expect"] = "moved"
        move_check["ok"] = True if (exc >= moved or carried) else (False if exc < STILL else None)
        checks.append(move_check)
        gap = _min_gap(clip, k) if actor_is_manipulator(clip, recipe_actor) else None
        # a hand's act needs a hand: without a labeled manipulator reaching the object, a moving object may be the
        # camera's motion left over (a fit that failed) — it cannot confirm, only "never moved" can refute
        checks.append({"check": "a labeled hand/gripper reaches the object", "min_gap": gap if gap is None
                       else round(gap, 4), "contact_below": CONTACT,
                       "ok": True if gap is not None and gap <= CONTACT else None})
        if claim.direction is not None and move_check["ok"] is not False:
            axis, sign = claim.direction
            along = float(net[axis]) * sign
            # up / down in the image is not up / down in the world under a hand-held camera's tilt and
            # perspective (an object lifted toward the camera moves down the image): it can confirm, never refute
            refutable = axis == 0
            checks.append({"check": f"net motion along {'xy'[axis]}{'+' if sign > 0 else '-'}",
                           "along": round(along, 4), "decides_at": DIRECTION, "can_refute": refutable,
                           "ok": True if along >= DIRECTION else (False if refutable and along <= -DIRECTION
                                                                  else None)})
    if claim.verb == "touch" and not claim.pretend:
        gap = _min_gap(clip, k)
        checks.append({"check": "actor reaches the object", "min_gap": None if gap is None else round(gap, 4),
                       "contact_below": CONTACT,
                       "ok": None if gap is None else (True if gap <= CONTACT else (False if gap > 4 * CONTACT
                                                                                    else None))})
    oks = [c["ok"] for c in checks]
    verdict = "contradicted" if False in oks else ("confirmed" if oks and all(o is True for o in oks)
                                                   else "undetermined")
    return {**out, "verdict": verdict}


@dataclass
class VerifyLabelStage(Stage):
    config: LabelCheckConfig = field(default_factory=LabelCheckConfig)
    actor: str | None = None  # the recipe's `actor:` (a manipulator whatever its name: vla_builder/actor.py)

    name: ClassVar[str] = "verify_label"
    needs: ClassVar[tuple[str, ...]] = ("tracks", "events")
    makes: ClassVar[tuple[str, ...]] = ("label_verdict",)

    def process(self, clip: Clip) -> Clip:
        text = clip.source.caption
        if not self.config.enabled or not text:
            return clip
        result = verify(clip, text, self.config.moved, self.actor)
        result["origin"] = clip.source.caption_origin
        if result["verdict"] == "contradicted" and self.config.drop_contradicted:
            failed = [c for c in result["checks"] if c["ok"] is False]
            raise LabelContradicted(f"label '{text}' ({clip.source.caption_origin}) contradicted by the footage: "
                                    + "; ".join(f"{c['check']}: {c}" for c in failed))
        return clip.with_(label_verdict=result)  # a typed fact: the language stage reads it, the sink writes it
