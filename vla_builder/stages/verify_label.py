"""The human label checked against the footage: the programme's "error verification" step on physical data.

A caption or narration ("Pushing bottle from left to right", "pick up lunch box", "pretending to pick a pillow up")
is parsed with a small verb lexicon into what it claims — a verb class, a direction, whether it is pretended, and
which labeled object it is about — and each claim is checked against geometry measured from the clip's tracks with
the camera's own motion removed (`camera_compensation.world_velocity`) and against the interaction events:

| verb class | words (lemmas; any form: lifts, lifted; Korean in `KOREAN_VERB_CLASSES`) | signature checked |
|---|---|---|
| take | pick up, lift, take, grab, raise, get, bring, carry | the object moves (a carry event or >= 0.08), a hand reaches it |
| put | put, place, drop, set, lay, insert | the object moves, a hand reaches it |
| push | push, poke, slide, shove, pull, move, drag, roll, turn | the object moves, in the stated direction |
| pretend | pretending to ..., pretend; ...척하다, 시늉 | the object does *not* really move (no carry of >= 0.08, nor >= 0.16) |
| touch | touch, tap, hold, squeeze, press | the actor's box reaches the object's |

A stated left/right direction refutes when the net motion goes the other way; up/down only confirms (a hand-held
camera's tilt and perspective move image y). "Never moved" (< 0.05) refutes take/put/push.
| none | open, close, pour, wipe, ... | no box signature: undetermined |

A verb outside the lexicon leaves the caption undetermined and is named (`unknown_verb`).

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

# verb lemmas per class: English words in any form through lemminflect (lifts, lifted, lifting -> lift), Korean
# through Kiwi's verb stems (들어 -> 들다); the first known verb of an English caption decides ("Picking X up and
# putting it ..."), the last known verb of a Korean one (the verb ends the sentence; 들어 ... 놓는다: 놓다)
VERB_CLASSES = {
    "take": ("pick", "lift", "take", "grab", "raise", "get", "bring", "carry"),
    "put": ("put", "place", "drop", "set", "lay", "insert"),
    "push": ("push", "poke", "slide", "shove", "pull", "move", "drag", "roll", "turn", "throw"),
    "touch": ("touch", "tap", "hold", "squeeze", "press"),
    "none": ("open", "close", "pour", "wipe", "wash", "fill", "shake", "cut", "stir", "clean", "fold", "show", "tear",
             "spin", "tilt", "tip"),  # no box signature: undetermined
}
KOREAN_VERB_CLASSES = {
    "take": ("들다", "집다", "잡다", "줍다", "쥐다", "올리다", "들어올리다", "꺼내다", "가져가다", "가져오다", "챙기다"),
    "put": ("놓다", "두다", "넣다", "떨어뜨리다", "떨어트리다", "내려놓다", "올려놓다", "얹다", "꽂다", "내리다"),
    "push": ("밀다", "옮기다", "당기다", "끌다", "굴리다", "돌리다", "던지다", "밀어내다", "움직이다", "찌르다",
             "미끄러뜨리다", "밀치다"),
    "touch": ("만지다", "누르다", "건드리다", "두드리다", "대다", "짜다", "쥐어짜다", "터치하다"),
    "none": ("열다", "닫다", "붓다", "따르다", "닦다", "씻다", "채우다", "흔들다", "자르다", "썰다", "젓다", "접다",
             "보여주다", "찢다", "기울이다", "뒤집다", "펴다"),
}
ENGLISH_AUXILIARIES = {"be", "have", "do", "can", "will", "shall", "may", "must", "would", "should", "could", "might"}
# Korean auxiliaries after a main verb (만지고 있다, 열어 두다) and light verbs (척하다, 시늉을 내다): no verb of their own
KOREAN_AUXILIARIES = {"있다", "없다", "주다", "보다", "버리다", "두다", "놓다", "내다", "가다", "오다", "싶다", "않다",
                      "말다", "하다", "되다", "지다"}
KOREAN_PRETEND = {"척", "체", "시늉", "흉내"}  # 집는 척하다, 드는 시늉을 하다: pretending to pick, to lift
# a verb whose object is the actor's own body ("raises his hand", "손을 들어 올린다") is a gesture, not an act on a labeled
# object: no box measures it (the person's box stays put while a hand goes up)
BODY_PARTS = {"hand", "hands", "arm", "arms", "leg", "legs", "head", "foot", "feet", "finger", "fingers", "face",
              "shoulder", "shoulders", "손", "팔", "다리", "머리", "발", "손가락", "얼굴", "어깨", "고개"}
DETERMINERS = {"a", "an", "the", "his", "her", "their", "its", "my", "your", "our", "one", "both", "left", "right"}
KOREAN_NEEDS_EXTRA = "Korean needs the korean extra (pip install -e '.[korean]')"
DIRECTIONS = {  # (axis, sign): x grows to the right, y grows downward
    r"\bfrom left to right\b|\bto the right\b|\bleft to right\b|\brightward": (0, +1),
    r"\bfrom right to left\b|\bto the left\b|\bright to left\b|\bleftward": (0, -1),
    r"\bup\b|\bupward|\blift|\braise": (1, -1),
    r"\bdown\b|\bdownward": (1, +1),
}
# Korean: a side with 으로 (toward) is a direction, a side with 에 (at) only a place (오른쪽에 놓는다: put at the right)
KOREAN_DIRECTIONS = {
    r"(오른쪽|우측)\s*(으로|방향)": (0, +1),
    r"(왼쪽|좌측)\s*(으로|방향)": (0, -1),
    r"위\s*(로|쪽으로)|올리|올려|들어\s*올": (1, -1),
    r"아래\s*(로|쪽으로)|내리|내려": (1, +1),
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
    words: str  # the verb whose class decides, as written ("lifts"; Korean: its dictionary form, "들다")
    lemma: str = ""  # its dictionary form ("lift", "들다")
    unknown: str = ""  # no verb of the lexicon: the word taken for the caption's verb, which the lexicon does not know
    about_camera: bool = False  # the verb's object is the camera ("Moving camera away from ...", "카메라를 움직인다")
    body_part: str = ""  # the verb's object is the actor's own body part ("raises his hand"): a gesture
    why: str = ""  # why no verb class decides (verb "none"), in words

    @property
    def reason(self) -> str:
        return self.why or (f"'{self.words}' has no box signature" if self.words else "no verb in the label")


def parse_label(text: str) -> Claim:
    """What a caption claims: its verb class (from the verb's lemma), pretend, a stated direction."""
    from vla_builder.text.lang import language_of

    return _parse_korean(text) if language_of(text) == "ko" else _parse_english(text)


def _class_of(lemmas, classes: dict[str, tuple[str, ...]]) -> str | None:
    return next((cls for lemma in lemmas for cls, words in classes.items() if lemma in words), None)


def _english_verb_lemmas(word: str) -> tuple[str, ...]:
    """The lemmas `word` can have as a verb (lemminflect's dictionary; its rules for an -ing/-ed word outside it)."""
    from lemminflect import getAllLemmas, getAllLemmasOOV

    lemmas = getAllLemmas(word, upos="VERB").get("VERB", ())
    if not lemmas and len(word) > 4 and word.endswith(("ing", "ed")):
        lemmas = getAllLemmasOOV(word, upos="VERB").get("VERB", ())
    return tuple(lemmas)


def _parse_english(text: str) -> Claim:
    t = " ".join(text.lower().replace("-", " ").split())
    pretend = bool(re.search(r"\bpretend", t))
    body = re.sub(r"\bpretend(ing|s|ed)? (to )?", "", t)
    words = [(m.group(), _english_verb_lemmas(m.group())) for m in re.finditer(r"[a-z]+", body)]
    direction = next((d for pattern, d in DIRECTIONS.items() if re.search(pattern, body)), None)
    for word, lemmas in words:  # the first word the lexicon knows (as written, or as a verb's form)
        cls = _class_of((word, *lemmas), VERB_CLASSES)
        if cls is not None:
            lemma = next(x for x in (word, *lemmas) if x in VERB_CLASSES[cls])
            camera = bool(re.search(rf"\b{re.escape(word)}\s+(the\s+|a\s+)?camera\b", body))
            at = words.index((word, lemmas))
            thing = next((w for w, _ in words[at + 1:] if w not in DETERMINERS), "")  # the verb's object
            return Claim(cls, pretend, direction, word, lemma, about_camera=camera,
                         body_part=thing if thing in BODY_PARTS else "")
    # no known verb: name the word most likely the caption's verb — an inflected verb form (talking, seen, juggles),
    # else a first word that can be a verb (an instruction: "scoop rice")
    ranked = []
    for i, (word, lemmas) in enumerate(words):
        if not lemmas or set(lemmas) & ENGLISH_AUXILIARIES:
            continue
        rank = (0 if word.endswith("ing") or (word not in lemmas and not word.endswith("s"))
                else 1 if word not in lemmas else 2 if i == 0 else None)
        if rank is not None:
            ranked.append((rank, i, word, lemmas[0]))
    if not ranked:
        return Claim("none", pretend, direction, "", why=f"no verb found in '{text}'")
    _, _, word, lemma = min(ranked)
    return Claim("none", pretend, direction, "", lemma, unknown=word,
                 why=f"the verb '{word}' ({lemma}) is not in the verb lexicon")


def _parse_korean(text: str) -> Claim:
    from vla_builder.text.lang import _kiwi

    try:
        tokens = _kiwi().tokenize(text)
    except RuntimeError:  # kiwipiepy missing: no verb can be found, and the caption says why
        return Claim("none", False, None, "", why=KOREAN_NEEDS_EXTRA)
    pretend_at = next((i for i, tok in enumerate(tokens) if tok.form in KOREAN_PRETEND
                       and tok.tag in ("NNB", "NNG")), None)
    verbs, negated = [], []  # content verbs' lemmas in order; the pretended one comes before the pretend marker
    for i, tok in enumerate(tokens[:pretend_at]):
        tag = tok.tag.split("-")[0]  # VV-R, VV-I: regular / irregular
        if tag == "XSV" and i > 0 and tokens[i - 1].tag in ("NNG", "XR"):  # 터치 + 하다
            lemma = tokens[i - 1].form + "하다"
        elif (tag == "VV" and tok.lemma not in ("하다", "되다")
              or tag == "VX" and tok.lemma not in KOREAN_AUXILIARIES):  # 드는 시늉: 들다 tagged VX
            lemma = tok.lemma
        else:
            continue
        no = ((i > 0 and tokens[i - 1].tag == "MAG" and tokens[i - 1].form in ("안", "못"))
              or (i + 2 < len(tokens) and tokens[i + 1].form == "지" and tokens[i + 2].lemma in ("않다", "말다")))
        (negated if no else verbs).append(lemma)  # 움직이지 않고 만진다: touching without moving
    direction = next((d for pattern, d in KOREAN_DIRECTIONS.items() if re.search(pattern, text)), None)
    objects = [tok.form for i, tok in enumerate(tokens[:-1]) if tokens[i + 1].tag == "JKO"]  # 컵을, 카메라를
    camera = "카메라" in objects
    body_part = next((o for o in objects if o in BODY_PARTS), "")
    pretend = pretend_at is not None
    known = [lemma for lemma in verbs if _class_of((lemma,), KOREAN_VERB_CLASSES)]
    if known:
        return Claim(_class_of(known[-1:], KOREAN_VERB_CLASSES), pretend, direction, known[-1], known[-1],
                     about_camera=camera, body_part=body_part)
    if not verbs:
        why = f"its only verb '{negated[0]}' is negated" if negated else f"no verb found in '{text}'"
        return Claim("none", pretend, direction, "", why=why)
    return Claim("none", pretend, direction, "", verbs[-1], unknown=verbs[-1], about_camera=camera,
                 why=f"the verb '{verbs[-1]}' is not in the Korean verb lexicon")


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
    out = {"label": text, "verb_class": claim.verb, "verb": claim.words, "verb_lemma": claim.lemma,
           "pretend": claim.pretend, "direction": None if claim.direction is None else ["x", "y"][claim.direction[0]] + (
               "+" if claim.direction[1] > 0 else "-"), "checks": checks}
    if claim.unknown:
        out["unknown_verb"] = claim.unknown
    if clip.tracks is None or len(clip.tracks) == 0:
        return {**out, "verdict": "undetermined", "why": "no tracks to measure"}
    if claim.about_camera:
        return {**out, "verdict": "undetermined", "why": "the label is about the camera, not a labeled object"}
    if claim.body_part:
        return {**out, "verdict": "undetermined",
                "why": f"the label moves a body part ('{claim.body_part}'), not a labeled object"}
    if claim.verb == "none" and not claim.pretend:
        return {**out, "verdict": "undetermined", "why": claim.reason}
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
