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

Each check carries an `evidence` score: its measurement minus the value that decides it, over its uncertainty (a
label-jitter band combined with the camera fit's accumulated error); +`Z_CONFIRM` confirms, -`Z_CONTRADICT` refutes
(only a check that can). The label's evidence is its weakest check's (an unobservable check counts 0; an English
label naming no labeled object -0.5). Whether the footage could show a measurement at all is `observability.py`'s
question: boxes cut by the frame's edge, boxes filling the frame, fewer than 6 measured samples of the object or
the actor, a camera fit with few inliers.

Per episode a verdict — `confirmed` (every check agrees), `contradicted` (a check measures the opposite of the
label with strong evidence), `uncertain` (a measurement the label needs was not observable: `why` says which and
why), `undetermined` (no check could decide: no object found, no signature, measurements in between) — with each
check's numbers, its evidence and the thresholds. Held on the clip (`Clip.label_verdict`): the sink writes it into provenance (`label_verdict`),
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
from vla_builder.camera_compensation import camera_uncertainty, world_velocity
from vla_builder.camera_label import camera_motion, camera_moves
from vla_builder.camera_label import measure as measure_camera
from vla_builder.config import StrictConfig
from vla_builder.observability import (MIN_COVERAGE, TrackObservability, fills_frame, measured_samples,
                                       observable_steps, track_observability)
from vla_builder.pipeline import Stage
from vla_builder.types import Clip

MOVED = 0.08  # normalized units: an object whose world position changes this much has moved
STILL = 0.05  # ... and one that stays within this much never moved (label jitter on a still object: ~0.04)
DIRECTION = 0.05  # net displacement along the stated axis that decides a direction
CONTACT = 0.02  # gap between the actor's and the object's boxes that counts as touching
# evidence: a check's measurement minus the value that decides it, over its uncertainty (a label-jitter band combined
# with the camera fit's accumulated error); these turn it into a verdict
Z_CONFIRM = 1.0  # evidence at or above this confirms (moved: >= MOVED on a still camera; contact: a gap <= CONTACT)
Z_CONTRADICT = 1.0  # at or below minus this, a check that can refute contradicts (moved: < STILL; contact: > 4 x CONTACT)
CONTACT_DECIDES, CONTACT_BAND = 2.5 * CONTACT, 1.5 * CONTACT  # gap 0.05 +- 0.03: touching at 0.02, apart at 0.08
CAMERA_REL_ERR = 0.25  # the camera fit's error, a fraction of the motion it predicts (as `InteractionsConfig`)

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
    "push": ("밀다", "옮기다", "당기다", "끌다", "끌어당기다", "잡아당기다", "굴리다", "돌리다", "던지다", "밀어내다",
             "움직이다", "찌르다", "미끄러뜨리다", "밀치다"),
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
STILL_WORDS = r"\bwithout (it )?(moving|being moved)\b|\bwithout moving it\b"  # touching (without moving) X
# "so it slightly moves", "살짝 움직이게": a motion the caption itself says is small — it may lie within the labels'
# jitter, so a measured "never moved" cannot refute it (it can still confirm a motion that shows)
SLIGHT_WORDS = r"\b(slightly|a little( bit)?|a bit|barely|a tiny bit)\b"
KOREAN_SLIGHT = {"살짝", "조금", "약간", "살며시", "조금씩"}
KOREAN_NEEDS_EXTRA = "Korean needs the korean extra (pip install -e '.[korean]')"
DIRECTIONS = {  # (axis, sign): x grows to the right, y grows downward
    r"\bfrom left to right\b|\bto the right\b|\bleft to right\b|\brightward": (0, +1),
    r"\bfrom right to left\b|\bto the left\b|\bright to left\b|\bleftward": (0, -1),
    r"\bup\b|\bupward": (1, -1),
    r"\bdown\b|\bdownward": (1, +1),
}
# the direction a verb implies where no word states one ("Lifting bottle" goes up; "lifting it down" goes down)
IMPLIED_DIRECTIONS = {r"\blift|\brais(e|es|ed|ing)\b": (1, -1)}
# where an English verb's object ends ("putting marker *next* to watch"); particles that may precede it ("picking *up* X")
PREPOSITIONS = {"into", "onto", "on", "in", "next", "to", "from", "beside", "behind", "under", "over", "toward",
                "towards", "across", "at", "with", "near", "by", "inside", "off", "out", "against", "between", "along",
                "through", "underneath", "above", "below", "upon", "so", "until", "without", "while", "and", "but"}
PARTICLES = {"up", "down", "away", "back", "out", "off"}
PRONOUNS = {"it", "them", "something", "one", "this", "that", "these", "those", "itself"}
NOT_NAMED = -0.5  # evidence of an English label naming no labeled object: against it, too weak to refute (synonyms)
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
    still: bool = False  # the label says the object does not move ("Touching (without moving) book", "움직이지 않고")
    slight: bool = False  # the label says the motion is small ("so it slightly moves", "살짝"): `SLIGHT_WORDS`
    language: str = "en"  # en | ko: an English label names its object in the labels' own words
    camera: str = ""  # a label about the camera: what it did, as the filmed object's image change (`camera_label`)
    object_words: str = ""  # English: the words of the verb's object, up to a preposition ("marker" of "put marker
    # next to watch"): the thing the act moves, not where it goes

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


def _stated_direction(body: str) -> tuple[int, int] | None:
    """The direction the words state, the first in the text; else the one its verb implies."""
    found = [(m.start(), d) for pattern, d in DIRECTIONS.items() for m in re.finditer(pattern, body)]
    if found:
        return min(found)[1]
    return next((d for pattern, d in IMPLIED_DIRECTIONS.items() if re.search(pattern, body)), None)


def _parse_english(text: str) -> Claim:
    t = " ".join(text.lower().replace("-", " ").split())
    pretend = bool(re.search(r"\bpretend", t))
    body = re.sub(r"\bpretend(ing|s|ed)? (to )?", "", t)
    words = [(m.group(), _english_verb_lemmas(m.group())) for m in re.finditer(r"[a-z]+", body)]
    direction = _stated_direction(body)
    for word, lemmas in words:  # the first word the lexicon knows (as written, or as a verb's form)
        cls = _class_of((word, *lemmas), VERB_CLASSES)
        if cls is not None:
            lemma = next(x for x in (word, *lemmas) if x in VERB_CLASSES[cls])
            camera = bool(re.search(rf"\b{re.escape(word)}\s+(the\s+|a\s+)?camera\b", body)) or camera_moves(body)
            at = words.index((word, lemmas))
            thing = next((w for w, _ in words[at + 1:] if w not in DETERMINERS), "")  # the verb's object
            return Claim(cls, pretend, direction, word, lemma, about_camera=camera,
                         body_part=thing if thing in BODY_PARTS else "", still=bool(re.search(STILL_WORDS, body)),
                         slight=bool(re.search(SLIGHT_WORDS, body)), camera=camera_motion(body, "en") if camera else "",
                         object_words=_object_words([w for w, _ in words[at + 1:]]))
    if camera_moves(body):  # "Approaching X with your camera": no verb of the lexicon, but a camera that moves
        return Claim("none", pretend, direction, "", about_camera=True, camera=camera_motion(body, "en"),
                     why="the label is about the camera, and says nothing of how it moved")
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


def _object_words(after_verb: list[str]) -> str:
    """The verb's object: the words after it up to a preposition, particles and determiners dropped ("up the red
    cup next to ..." -> "red cup"); "of" joins ("one end of the bottle")."""
    words = [w for w in after_verb if w not in DETERMINERS]
    while words and words[0] in PARTICLES:
        words = words[1:]
    end = next((i for i, w in enumerate(words) if w in PREPOSITIONS), len(words))
    return " ".join(words[:end])


def _parse_korean(text: str) -> Claim:
    from vla_builder.text.lang import _kiwi

    try:
        tokens = _kiwi().tokenize(text)
    except RuntimeError:  # kiwipiepy missing: no verb can be found, and the caption says why
        return Claim("none", False, None, "", why=KOREAN_NEEDS_EXTRA, language="ko")
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
                     about_camera=camera, camera=camera_motion(text, "ko") if camera else "", body_part=body_part, still="움직이다" in negated, language="ko",
                     slight=any(tok.form in KOREAN_SLIGHT for tok in tokens))
    if not verbs:
        why = f"its only verb '{negated[0]}' is negated" if negated else f"no verb found in '{text}'"
        return Claim("none", pretend, direction, "", why=why, language="ko")
    return Claim("none", pretend, direction, "", verbs[-1], unknown=verbs[-1], about_camera=camera, language="ko",
                 camera=camera_motion(text, "ko") if camera else "",
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
        k = max(named, key=lambda k: _world_path(clip, k).excursion)
        return k, f"class '{tracks.class_names[k]}' named in the label"
    objects = [e.object_id for e in clip.events or () if e.object_id is not None]
    if objects:
        k = tracks.index_of(max(set(objects), key=objects.count))
        return k, "the object of the clip's interaction events"
    if len(candidates) == 1:
        return candidates[0], "the only non-actor track"
    return None, "no labeled object matches the label"


@dataclass(frozen=True)
class WorldPath:
    """A track's world displacement measured only on the steps that show it (`observability.observable_steps`)."""

    excursion: float  # largest displacement from the first position (normalized)
    net: np.ndarray  # (2,) displacement at the end
    samples: int  # samples present
    camera_sigma: float  # the camera fit's accumulated uncertainty up to the largest displacement
    camera_sigma_net: float  # ... up to the end
    seen: TrackObservability
    observed: np.ndarray  # (T, 2) the steps that show motion along x / y


def _world_path(clip: Clip, k: int) -> WorldPath:
    tracks = clip.tracks
    assert tracks is not None
    v = world_velocity(tracks, clip.motion)[:, k]
    observed = observable_steps(tracks.boxes_xyxy[:, k])
    v = np.where(observed & np.isfinite(v), v, 0.0)  # an unobservable step adds no motion (and hides any)
    path = np.cumsum(v, axis=0)
    # the camera fit's error along the path: each step's own error (`interactions.camera_uncertainty`: a share of the
    # motion it predicts, all of it where the fit had few inliers), independent from step to step (a random walk)
    unc, _bad_fit = camera_uncertainty(clip.motion, tracks, CAMERA_REL_ERR)
    cam = np.sqrt(np.cumsum(np.where(observed.any(axis=1), np.nan_to_num(unc[:, k]), 0.0) ** 2))
    norms = np.linalg.norm(path, axis=1)
    i = int(np.argmax(norms)) if len(norms) else 0
    inliers = None if clip.motion is None else clip.motion.global_inlier_ratio
    step_s = 1.0 / clip.frames.fps if clip.frames is not None else None  # the clip's time grid
    seen = track_observability(tracks.class_names[k], tracks.boxes_xyxy[:, k], measured_samples(tracks)[:, k], inliers,
                               step_s)
    n_present = int(tracks.present[:, k].sum())
    return WorldPath(float(norms[i]) if len(norms) else 0.0, path[-1] if len(path) else np.zeros(2), n_present,
                     float(cam[i]) if len(cam) else 0.0, float(cam[-1]) if len(cam) else 0.0, seen, observed)


def _contact(clip: Clip, k: int) -> tuple[float | None, list[str]]:
    """(smallest gap between the actor's and object k's boxes, on the samples that can show it; why contact is not
    observable — empty when it is). A box covering most of the frame touches everything: those samples show nothing."""
    tracks = clip.tracks
    if clip.actor_id is None or tracks is None:
        return None, ["no actor in the clip"]
    ka = tracks.index_of(clip.actor_id)
    if ka == k:
        return None, ["the actor is the object"]
    a, b = tracks.boxes_xyxy[:, ka], tracks.boxes_xyxy[:, k]
    why = []
    for kk in (ka, k):
        why += track_observability(tracks.class_names[kk], tracks.boxes_xyxy[:, kk], measured_samples(tracks)[:, kk],
                                   None).contact_unobservable()
    usable = np.isfinite(a[:, 0]) & np.isfinite(b[:, 0]) & ~fills_frame(a) & ~fills_frame(b)
    if not usable.any():
        return None, why or ["the actor and the object are never seen together"]
    return float(np.min(box_gap(a, b)[usable])), why


def _motion_why(path: WorldPath, shows_motion: bool) -> list[str]:
    """Why the evidence cannot stand: motion is shown along any observable axis; stillness needs both axes observed
    on most steps (an unobserved step may hide the motion)."""
    if shows_motion:
        return [] if path.seen.motion_observable_axes() else path.seen.motion_unobservable((0, 1))
    return path.seen.motion_unobservable((0, 1), coverage=MIN_COVERAGE)


def _margin(value: float, decides_at: float, band: float, camera_sigma: float = 0.0) -> tuple[float, float]:
    """(evidence, its uncertainty): the signed distance of a measurement from the value that decides, over the
    label-jitter band combined with the camera fit's uncertainty."""
    sigma = float(np.hypot(band, camera_sigma))
    return (value - decides_at) / sigma, sigma


def _check(name: str, evidence: float, why: list[str], can_refute: bool = True, can_confirm: bool = True,
           **numbers: Any) -> dict[str, Any]:
    """One check: its numbers, its evidence (+ supports the label, - refutes it) and what that decides: `ok` True at
    or above `Z_CONFIRM`, False at or below -`Z_CONTRADICT` (only a check that can refute), else None; a check whose
    measurement is not observable decides nothing (`unobservable`: why)."""
    out: dict[str, Any] = {"check": name, **numbers, "evidence": round(float(evidence), 3), "can_refute": can_refute}
    if why:
        out.update(ok=None, observable=False, unobservable=why)
        return out
    ok = (True if can_confirm and evidence >= Z_CONFIRM
          else False if can_refute and evidence <= -Z_CONTRADICT else None)
    return {**out, "ok": ok, "observable": True}


def _contact_check(clip: Clip, k: int, expect: bool, can_refute: bool, name: str) -> dict[str, Any]:
    gap, why = _contact(clip, k)
    if gap is None:
        return {"check": name, "min_gap": None, "ok": None, "observable": False, "unobservable": why,
                "evidence": 0.0, "can_refute": can_refute}
    z, sigma = _margin(CONTACT_DECIDES - gap, 0.0, CONTACT_BAND)  # a gap below CONTACT: + ; above 4 x CONTACT: -
    return _check(name, z if expect else -z, why, can_refute=can_refute, min_gap=round(gap, 4),
                  contact_below=CONTACT, sigma=round(sigma, 4))


def verify(clip: Clip, text: str, moved: float = MOVED, recipe_actor: str | None = None) -> dict[str, Any]:
    """The verdict for `text` on this clip, with every check, its numbers, its evidence and what was observable
    (`recipe_actor`: the recipe's `actor:`, a manipulator by the actor rule whatever its name)."""
    claim = parse_label(text)
    checks: list[dict[str, Any]] = []
    out = {"label": text, "verb_class": claim.verb, "verb": claim.words, "verb_lemma": claim.lemma,
           "pretend": claim.pretend, "direction": None if claim.direction is None else ["x", "y"][claim.direction[0]] + (
               "+" if claim.direction[1] > 0 else "-"), "checks": checks,
           "thresholds": {"confirm_at": Z_CONFIRM, "contradict_at": -Z_CONTRADICT}, "evidence": None}
    if claim.unknown:
        out["unknown_verb"] = claim.unknown
    if clip.tracks is None or len(clip.tracks) == 0:
        return {**out, "verdict": "undetermined", "why": "no tracks to measure"}
    if claim.about_camera and not claim.camera:
        return _unmeasured(out, clip, text, claim, claim.why or "the label is about the camera, not a labeled object")
    if claim.body_part:
        return {**out, "verdict": "undetermined",
                "why": f"the label moves a body part ('{claim.body_part}'), not a labeled object"}
    if claim.camera:  # the camera's own motion: measured on the filmed object's box in the image
        k, how = _object_track(clip, text, recipe_actor)
        return {**out, "verdict": "undetermined", "why": how} if k is None else {**out, **_camera_verdict(clip, k, how,
                                                                                                         claim)}
    if claim.verb == "none" and not claim.pretend:
        return _unmeasured(out, clip, text, claim, claim.reason)
    k, how = _object_track(clip, text, recipe_actor)
    landmarks = _landmarks_only(clip, claim, text)
    if landmarks:  # "Putting frog next to watch", no frog labeled: the watch is where it goes, not what moves
        return {**out, "verdict": "undetermined", "evidence": NOT_NAMED, "checks": [_not_named_check(clip)],
                "why": f"the act's object '{claim.object_words}' is no labeled class (the labeled "
                       f"{', '.join(landmarks)} is where it goes, not what it moves)"}
    if k is None:
        return {**out, "verdict": "undetermined", "why": how}
    name = clip.tracks.class_names[k]
    path = _world_path(clip, k)
    exc, net = path.excursion, path.net
    obj_id = int(clip.tracks.ids[k])
    # a carry the interactions stage found counts only where the object's motion was observable during it
    carried = any(e.kind in ("carry", "grasp") and e.object_id == obj_id
                  and path.observed[e.start: e.end + 1].any(axis=1).mean() >= 0.5 for e in clip.events or ())
    out["object"] = {"track_id": obj_id, "class": name, "chosen_by": how}
    numbers = {"excursion": round(exc, 4), "net_dx": round(float(net[0]), 4), "net_dy": round(float(net[1]), 4),
               "samples": path.samples, "labeled_samples": path.seen.labeled_samples,
               "observed_steps_xy": list(path.seen.observed_steps), "steps": path.seen.steps,
               "moved_at_least": moved, "still_below": STILL, "carried_event": carried,
               "camera_sigma": round(path.camera_sigma, 4)}
    move_name = "object moved (world, camera motion removed)"
    if claim.pretend:
        # a pretend allows a nudge: confirmed below STILL, refuted from 2 x moved (from `moved` with a carry event)
        z, sigma = _margin(STILL / 2 + moved, exc, moved - STILL / 2, path.camera_sigma)
        if carried:
            z = min(z, _margin((STILL + moved) / 2, exc, (moved - STILL) / 2, path.camera_sigma)[0], 0.0)
        checks.append({**_check(move_name, z, _motion_why(path, shows_motion=z < 0), **numbers,
                                sigma=round(sigma, 4)), "expect": "not really moved"})
        if claim.verb == "touch":  # pretending to touch: the hand stops short of the object
            checks.append(_contact_check(clip, k, expect=False, can_refute=True,
                                         name="actor stops short of the object"))
    elif claim.verb in ("take", "put", "push"):
        z, sigma = _margin(exc, (STILL + moved) / 2, (moved - STILL) / 2, path.camera_sigma)
        if carried:
            z = max(z, Z_CONFIRM)
        # a motion the label calls slight may be within the labels' jitter: "never moved" cannot refute it
        why = _motion_why(path, shows_motion=z > 0)
        if claim.slight and z < 0 and not why:  # below what the labels resolve: it neither supports nor refutes
            why = [f"a slight motion of the {name} is within the labels' resolution (moved {exc:.3f}; "
                   f"{(STILL + moved) / 2:.3f} decides)"]
        move = {**_check(move_name, z, why, can_refute=not claim.slight, **numbers,
                         sigma=round(sigma, 4)), "expect": "slightly moved" if claim.slight else "moved"}
        checks.append(move)
        # a hand's act needs a hand: without a labeled manipulator reaching the object, a moving object may be the
        # camera's motion left over (a fit that failed) — it cannot confirm, only "never moved" can refute
        reach = "a labeled hand/gripper reaches the object"
        checks.append(_contact_check(clip, k, expect=True, can_refute=False, name=reach)
                      if actor_is_manipulator(clip, recipe_actor) else {"check": reach, "min_gap": None, "ok": None, "evidence": 0.0, "can_refute": False,
                            "observable": False, "unobservable": ["no labeled hand or gripper"]})
        if claim.direction is not None and move["ok"] is not False:
            axis, sign = claim.direction
            along = float(net[axis]) * sign
            # up / down in the image is not up / down in the world under a hand-held camera's tilt and
            # perspective (an object lifted toward the camera moves down the image): it can confirm, never refute
            z, sigma = _margin(along, 0.0, DIRECTION, path.camera_sigma_net)
            checks.append(_check(f"net motion along {'xy'[axis]}{'+' if sign > 0 else '-'}",
                                 z, _axis_why(path, axis, shows_motion=z > 0), can_refute=axis == 0,
                                 along=round(along, 4), decides_at=DIRECTION, sigma=round(sigma, 4)))
    if claim.verb == "touch" and not claim.pretend:
        checks.append(_contact_check(clip, k, expect=True, can_refute=True, name="actor reaches the object"))
        if claim.still:  # "without moving": the object stays put
            z, sigma = _margin((STILL + moved) / 2, exc, (moved - STILL) / 2, path.camera_sigma)
            if carried:
                z = min(z, -Z_CONTRADICT)
            checks.append({**_check(move_name, z, _motion_why(path, shows_motion=z < 0), **numbers,
                                    sigma=round(sigma, 4)), "expect": "not moved"})
    if claim.language == "en" and not how.startswith("class"):
        checks.append(_not_named_check(clip))
    actor_why = _actor_unobservable(clip)
    if actor_why:  # the act's actor is barely seen: no check of its act stands, whatever the object did
        checks[:] = [{**c, "ok": None, "observable": False, "unobservable": [*c.get("unobservable", []), *actor_why]}
                     for c in checks]
    return {**out, **_verdict(checks)}


def _landmarks_only(clip: Clip, claim: Claim, text: str) -> list[str]:
    """The labeled classes an English act names only where its object goes ("next to watch"), its own object
    ("frog") being no labeled class: measuring the landmark would check the act on the wrong thing."""
    words = claim.object_words
    if claim.language != "en" or claim.verb not in ("take", "put", "push", "touch") or not words \
            or set(words.split()) & PRONOUNS:
        return []
    named = _named_classes(clip, text)
    return named if named and not any(n.lower() in words for n in named) else []


def _camera_verdict(clip: Clip, k: int, how: str, claim: Claim) -> dict[str, Any]:
    """A label about the camera's motion, checked on object k's image box (`camera_label`); a pretended one
    ("pretending to approach ...") the other way round."""
    tracks = clip.tracks
    assert tracks is not None
    m = measure_camera(claim.camera, tracks.class_names[k], tracks.boxes_xyxy[:, k], measured_samples(tracks)[:, k])
    z = m.value / m.band * (-1 if claim.pretend else 1)
    checks = [{**_check(m.name, z, m.why, **m.numbers), "expect": "not done" if claim.pretend else claim.camera}]
    if claim.language == "en" and not how.startswith("class"):
        checks.append(_not_named_check(clip))
    return {"object": {"track_id": int(tracks.ids[k]), "class": tracks.class_names[k], "chosen_by": how},
            "camera": claim.camera, "checks": checks, **_verdict(checks)}


def _actor_unobservable(clip: Clip) -> list[str]:
    """Why the clip's actor cannot carry a verdict: under `MIN_LABELED_SAMPLES` labeled samples of it, or its box
    covering most of the frame (empty: it can; no actor track: the object's own checks say what is observable)."""
    tracks = clip.tracks
    if clip.actor_id is None or tracks is None or clip.actor_id not in set(int(i) for i in tracks.ids):
        return []
    ka = tracks.index_of(clip.actor_id)
    return track_observability(tracks.class_names[ka], tracks.boxes_xyxy[:, ka], measured_samples(tracks)[:, ka],
                               None).contact_unobservable()


def _unmeasured(out: dict[str, Any], clip: Clip, text: str, claim: Claim, why: str) -> dict[str, Any]:
    """`undetermined`: no box signature to measure; an English label naming no labeled object is weak evidence
    against it all the same (`NOT_NAMED`)."""
    if claim.language != "en" or _named_classes(clip, text):
        return {**out, "verdict": "undetermined", "why": why}
    return {**out, "verdict": "undetermined", "why": why, "evidence": NOT_NAMED, "checks": [_not_named_check(clip)]}


def _named_classes(clip: Clip, text: str) -> list[str]:
    """The labeled classes the text names (its own words)."""
    assert clip.tracks is not None
    t = text.lower()
    return sorted({n for n in clip.tracks.class_names if n.lower() in t})


def _not_named_check(clip: Clip) -> dict[str, Any]:
    """An English label names its object in the labels' words: naming none of them, it speaks of an object no box
    carries (or calls it another word) — weak evidence against it, never enough to refute."""
    assert clip.tracks is not None
    return {"check": "the label names a labeled object", "ok": None, "observable": True, "can_refute": False,
            "evidence": NOT_NAMED, "object_classes": sorted(set(clip.tracks.class_names))}


def _axis_why(path: WorldPath, axis: int, shows_motion: bool) -> list[str]:
    """A net motion along one axis: shown on enough observed steps of it; its absence (or the opposite) needs most
    steps observed along it."""
    return path.seen.motion_unobservable((axis,), coverage=0.0 if shows_motion else MIN_COVERAGE)


def _verdict(checks: list[dict[str, Any]]) -> dict[str, Any]:
    """The label's verdict and evidence from its checks. Evidence: the weakest measured check (a conjunction holds
    as far as its weakest part); a check that cannot refute (image up/down, a hand reaching) counts down to
    -`Z_CONTRADICT` at most — it is never strong evidence against. An unobservable check supports nothing: 0."""
    measured = [(c["evidence"] if c["can_refute"] else max(c["evidence"], -Z_CONTRADICT)) if c.get("observable")
                else 0.0 for c in checks]  # an unobservable part of the claim: no support (0), however the rest goes
    evidence = min(measured) if measured else None
    oks = [c["ok"] for c in checks]
    unseen = [w for c in checks if not c.get("observable", True) for w in c["unobservable"]]
    if False in oks:
        return {"verdict": "contradicted", "evidence": evidence}
    if oks and all(o is True for o in oks):
        return {"verdict": "confirmed", "evidence": evidence}
    if unseen:  # a measurement the label needs could not be made: it neither supports nor refutes
        return {"verdict": "uncertain", "evidence": evidence, "why": "not observable: " + "; ".join(dict.fromkeys(unseen))}
    return {"verdict": "undetermined", "evidence": evidence}


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
