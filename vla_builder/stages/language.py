"""Grounded language from geometry: the task, its paraphrases, one instruction per subtask, move primitives, and a
per-frame reasoning trace whose every statement can be recomputed from the tracks (see `vla_builder.checker`).

Words come from class names and spatial relations read off the boxes (left of / right of / above / below / on);
paraphrases are picked deterministically from (seed, clip id), so a rebuild writes the same text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from vla_builder.actor import action_track
from vla_builder.boxes import centers, stored_image_mapping
from vla_builder.observability import gripper_known, is_manipulator_class
from vla_builder.pipeline import Stage
from vla_builder.schema import GRIPPER, STILL_SPEED_PER_S
from vla_builder.types import Clip, Event, TrackSet, Trajectory

MIN_NET_MOTION = 0.05  # normalized units: a net displacement below this is "stays in place"
MOTION_MIN_S = 0.5  # shortest motion row: see move_runs
JUMP_PER_FRAME = 0.2  # normalized units: a labeled box moving more than this in one sample is flagged

TASK_TEMPLATES = {
    "carry_rel": ["put the {obj} {rel} the {ref}", "place the {obj} {rel} the {ref}",
                  "pick up the {obj} and set it down {rel} the {ref}", "move the {obj} so it ends up {rel} the {ref}"],
    "carry_dir": ["move the {obj} {dir}", "carry the {obj} {dir}", "pick up the {obj} and move it {dir}"],
    "push": ["push the {obj} {dir}", "slide the {obj} {dir} by pushing it", "shove the {obj} {dir}"],
    "handover": ["hand the {obj} to the other {actor}", "pass the {obj} to the other {actor}",
                 "give the {obj} to the other {actor}"],
    "move_toward": ["move the {actor} {dir} toward the {ref}", "bring the {actor} {dir}, toward the {ref}"],
    "touch": ["touch the {obj}", "reach out and touch the {obj}", "touch the {obj} without moving it"],
    "move": ["move the {actor} {dir}", "shift the {actor} {dir}"],
    "still": ["keep the {actor} still", "hold the {actor} in place"],
    "body_still": ["the {actor} stays in place", "the {actor} stays where it is"],  # no hand: no "hold"
    "camera_move": ["move the camera {dir}", "pan the camera {dir}"],
    "camera_still": ["hold the camera still", "keep the camera steady"],
}
SUBTASK_TEMPLATES = {
    "reach": ["reach for the {obj}", "move the {actor} to the {obj}"],
    "retreat": ["let go of the {obj} and move the {actor} away", "release the {obj} and pull the {actor} back"],
    "retreat_touch": ["move the {actor} away from the {obj}", "pull the {actor} back from the {obj}"],
}


def pick(seed: int, clip_id: str, key: str, n: int) -> int:
    """A deterministic choice among n paraphrases: same seed and clip -> same text."""
    return int(hashlib.sha1(f"{seed}|{clip_id}|{key}".encode()).hexdigest(), 16) % n


def direction_words(d: np.ndarray) -> str:
    dx, dy = float(d[0]), float(d[1])
    if abs(dx) >= abs(dy):
        return "to the right" if dx > 0 else "to the left"
    return "down" if dy > 0 else "up"  # image axes: y grows downward (toward the camera on a tabletop)


def relation(obj_box: np.ndarray, ref_box: np.ndarray) -> str:
    """Spatial relation of an object to a reference, in the image: on / left of / right of / above / below."""
    ocx, ocy = centers(obj_box)
    if ref_box[0] <= ocx <= ref_box[2] and ref_box[1] <= ocy <= ref_box[3]:
        return "on"
    rcx, rcy = centers(ref_box)
    dx, dy = ocx - rcx, ocy - rcy
    if abs(dx) >= abs(dy):
        return "to the right of" if dx > 0 else "to the left of"
    return "below" if dy > 0 else "above"


def box_at(tracks: TrackSet, k: int, t: int | None = None) -> np.ndarray | None:
    """Track k's box at sample t (None: its last labeled position)."""
    present = np.nonzero(tracks.present[:, k])[0]
    if not len(present):
        return None
    if t is None:
        t = int(present[-1])
    return tracks.boxes_xyxy[t, k] if tracks.present[t, k] else None


def nearest_other(tracks: TrackSet, k: int, exclude: set[int], t: int | None = None) -> int | None:
    box = box_at(tracks, k, t)
    if box is None:
        return None
    c = centers(box)
    best, best_d = None, np.inf
    for j in range(len(tracks)):
        if j == k or j in exclude:
            continue
        b = box_at(tracks, j, t)
        if b is None:
            continue
        d = float(np.linalg.norm(c - centers(b)))
        if d < best_d:
            best, best_d = j, d
    return best


def net_motion(tracks: TrackSet, k: int, start: int = 0, end: int | None = None) -> np.ndarray:
    present = np.nonzero(tracks.present[start : (end + 1 if end is not None else None), k])[0] + start
    c = tracks.centers()[:, k]
    return c[present[-1]] - c[present[0]] if len(present) else np.zeros(2)


def _direction_word(dx: float, dy: float, v_min: float) -> str:
    """8 directions or "stay still" for one image-plane step (dx, dy) per sample."""
    if np.hypot(dx, dy) <= v_min:
        return "stay still"
    horiz = "right" if dx > 0 else "left"
    vert = "down" if dy > 0 else "up"
    if abs(dx) > 2.4 * abs(dy):
        return f"move {horiz}"
    if abs(dy) > 2.4 * abs(dx):
        return f"move {vert}"
    return f"move {vert} and {horiz}"


def move_runs(action: np.ndarray, fps: int, min_s: float = MOTION_MIN_S) -> list[tuple[int, int, str]]:
    """[(start, end_exclusive, word)]: the episode cut into runs of one move primitive, each at least `min_s` long
    (except a whole episode shorter than that).

    Each sample's direction is classified from its (ee_dx, ee_dy) averaged over a centred window of `min_s`, so a
    word says where the actor goes at the time scale of a narrated motion; a run still shorter than `min_s` joins
    the run before it (a short first run, the one after it), and each run is named by its own mean step (the row
    says where the actor went over its span); equal neighbours merge. Why: on hand-held real footage the per-sample direction
    changes every few samples (0.28 changes a sample on the real clips), and lerobot's `language_persistent`
    repeats every motion row on every frame of the episode — rows x frames, quadratic in the episode's length —
    for words that flicker faster than anyone narrates.
    """
    n = len(action)
    if n == 0:
        return []
    v_min = STILL_SPEED_PER_S / fps  # slower is "still", as for the interactions stage
    min_len = max(1, int(round(min_s * fps)))
    steps = np.asarray(action[:, :2], np.float64)
    # centred moving average; at the ends the window is cut (divided by the samples it holds)
    kernel = np.ones(min_len)
    counts = np.convolve(np.ones(n), kernel, mode="same")
    mean = np.stack([np.convolve(steps[:, k], kernel, mode="same") / counts for k in range(2)], axis=1)
    words = [_direction_word(dx, dy, v_min) for dx, dy in mean]
    runs: list[list] = []  # [start, end, word]
    for t in range(n):
        if runs and words[t] == runs[-1][2]:
            runs[-1][1] = t + 1
        else:
            runs.append([t, t + 1, words[t]])
    spans: list[list[int]] = []
    for a, b, _ in runs:
        if spans and (b - a < min_len or spans[-1][1] - spans[-1][0] < min_len):
            spans[-1][1] = b  # a short run joins the one before it (a short first run, the one after it)
        else:
            spans.append([a, b])
    out: list[tuple[int, int, str]] = []
    for a, b in spans:  # each span is named by its own mean step; equal neighbours merge
        word = _direction_word(*steps[a:b].mean(axis=0), v_min)
        if out and out[-1][2] == word:
            out[-1] = (out[-1][0], b, word)
        else:
            out.append((a, b, word))
    return out


def move_primitives(action: np.ndarray, fps: int) -> list[str]:
    """The move primitive of every sample, from the action alone (so a checker can recompute it): the word of its
    run (`move_runs`: 8 directions or "stay still", runs at least MOTION_MIN_S long); a gripper change adds
    "close the gripper" / "open the gripper" at the sample where it happens."""
    words = [""] * len(action)
    for a, b, word in move_runs(action, fps):
        words[a:b] = [word] * (b - a)
    grip = action[:, GRIPPER] > 0.5
    for t in range(len(words)):
        before = grip[t - 1] if t > 0 else False
        if grip[t] and not before:
            words[t] = f"close the gripper, {words[t]}"
        elif before and not grip[t]:
            words[t] = f"open the gripper, {words[t]}"
    return words


@dataclass
class Phrase:
    key: str  # template family
    slots: dict[str, str]

    def render(self, seed: int, clip_id: str, templates: dict[str, list[str]] = TASK_TEMPLATES) -> list[str]:
        options = [t.format(**self.slots) for t in templates[self.key]]
        first = pick(seed, clip_id, self.key, len(options))
        return options[first:] + options[:first]  # the chosen one first, then the other paraphrases


def describe_act(tracks: TrackSet, ev: Event, actor: int) -> Phrase:
    """The phrase for one carry / push / handover event of the actor."""
    obj = tracks.index_of(ev.object_id)
    name = tracks.class_names[obj]
    if ev.kind == "handover":
        return Phrase("handover", {"obj": name, "actor": tracks.class_names[actor]})
    if ev.kind == "touch":
        return Phrase("touch", {"obj": name, "actor": tracks.class_names[actor]})
    if ev.kind == "push":
        return Phrase("push", {"obj": name, "dir": direction_words(net_motion(tracks, obj, ev.start, ev.end + 1))})
    end = min(ev.end + 1, tracks.boxes_xyxy.shape[0] - 1)
    ref = nearest_other(tracks, obj, {j for j, n in enumerate(tracks.class_names) if n == tracks.class_names[actor]},
                        end)
    if ref is not None and box_at(tracks, obj, end) is not None:
        rel = relation(box_at(tracks, obj, end), box_at(tracks, ref, end))
        ref_name = tracks.class_names[ref]
        return Phrase("carry_rel", {"obj": name, "rel": rel, "ref": f"other {ref_name}" if ref_name == name else ref_name})
    return Phrase("carry_dir", {"obj": name, "dir": direction_words(net_motion(tracks, obj, ev.start, ev.end + 1))})


def describe_episode(tracks: TrackSet, subtasks: list[Event], trajectory: Trajectory, actor: int | None) -> Phrase:
    """The episode in a phrase; `actor`: the track whose motion the action is (`actor.action_track`), None: the
    camera's."""
    if len(tracks) == 0 or actor is None:
        net = trajectory.state[-1, :2] - trajectory.state[0, :2]
        if np.linalg.norm(net) < MIN_NET_MOTION:
            return Phrase("camera_still", {})
        return Phrase("camera_move", {"dir": direction_words(net)})
    name = tracks.class_names[actor]
    # a person or a body as the actor (no hand, no gripper): boxes near boxes are no grasp, push or touch (issue 21)
    body = not is_manipulator_class(name)
    acts = [] if body else [s for s in subtasks if s.kind in ("carry", "push", "handover")]
    acts = acts or ([] if body else [s for s in subtasks if s.kind == "touch"])  # a touch only where nothing moved
    if acts:
        return describe_act(tracks, max(acts, key=lambda e: e.end - e.start), actor)
    net = trajectory.action[:-1, :2].sum(axis=0)  # the actor's own motion (camera motion removed)
    if np.linalg.norm(net) < MIN_NET_MOTION:
        return Phrase("body_still" if body else "still", {"actor": name})
    # never "toward the hand" for a hand: the reference is an object, not the actor or another manipulator's box
    ref = nearest_other(tracks, actor, {j for j, n in enumerate(tracks.class_names) if n == name})
    if ref is not None:
        return Phrase("move_toward", {"actor": name, "dir": direction_words(net), "ref": tracks.class_names[ref]})
    return Phrase("move", {"actor": name, "dir": direction_words(net)})


def describe_subtask(tracks: TrackSet, st: Event, trajectory: Trajectory, actor: int | None, seed: int,
                     clip_id: str) -> str:
    key = f"subtask{st.start}"
    if st.kind in ("reach", "retreat") and st.object_id is not None and actor is not None:
        slots = {"obj": tracks.class_names[tracks.index_of(st.object_id)], "actor": tracks.class_names[actor]}
        kind = "retreat_touch" if st.kind == "retreat" and st.detail.get("after") == "touch" else st.kind
        return Phrase(kind, slots).render(seed, clip_id + key, SUBTASK_TEMPLATES)[0]
    if st.kind in ("carry", "push", "handover", "touch") and actor is not None:
        return describe_act(tracks, st, actor).render(seed, clip_id + key)[0]
    return describe_episode(tracks, [], trajectory, actor).render(seed, clip_id + key)[0]


def visible_objects(tracks: TrackSet, t: int, present: np.ndarray | None = None) -> list[dict[str, Any]]:
    """The tracks present at sample t with their boxes. `present`: `tracks.present`, when the caller has it (it
    costs a pass over the whole clip)."""
    present = tracks.present if present is None else present
    return [{"id": int(tracks.ids[k]), "name": tracks.class_names[k],
             "box": [round(float(v), 4) for v in tracks.boxes_xyxy[t, k]]}
            for k in range(len(tracks)) if present[t, k]]


def label_checks(tracks: TrackSet, subtasks: list[Event], t: int, centers: np.ndarray | None = None,
                 present: np.ndarray | None = None) -> list[dict[str, Any]]:
    """Error verification at sample t: contradictions between the labels and what the trace claims.
    `centers` / `present`: `tracks.centers()` / `tracks.present`, when the caller has them (a pass over the clip
    each: made once per clip, not once per sample)."""
    present = tracks.present if present is None else present
    checks = []
    if t > 0:
        c = tracks.centers() if centers is None else centers
        for k in range(len(tracks)):
            if present[t, k] and present[t - 1, k]:
                jump = float(np.linalg.norm(c[t, k] - c[t - 1, k]))
                checks.append({"check": f"{tracks.class_names[k]} {int(tracks.ids[k])} moves smoothly",
                               "ok": jump <= JUMP_PER_FRAME, "value": round(jump, 4)})
    for st in subtasks:
        if st.kind in ("carry", "handover", "push") and st.start <= t <= st.end and st.object_id is not None:
            k = tracks.index_of(st.object_id)
            checks.append({"check": f"the {tracks.class_names[k]} being moved is labeled",
                           "ok": bool(present[t, k])})
    return checks


@dataclass(frozen=True, eq=False)
class ReasoningTrace:
    """The per-sample reasoning rows of one clip (ECoT-style fields plus the three upcycling steps), made one at a
    time from compact per-sample arrays: held as a list of dicts they cost ~2.5 KB of Python objects a sample
    (a 5-minute 30 fps episode: ~25 MB, more again as JSON), which grew a long build's peak memory. Iterate it to
    write the rows (the sink streams them to a file), index it for one."""

    tracks: TrackSet  # in the stored image's coordinates
    subtasks: tuple[Event, ...]
    sub_texts: tuple[str, ...]
    task: str
    plan: str
    move_words: tuple[str, ...]  # the distinct move primitives ...
    move_code: np.ndarray  # (T,) ... and which one each sample has
    gripper_closed: np.ndarray  # (T,) bool
    gripper_known: np.ndarray  # (T,) bool: the gripper value is evidence (`observability.gripper_known`), else "unknown"
    basis: list[str]
    verdict: dict[str, Any] | None

    def __post_init__(self) -> None:
        # what every row reads, computed once per clip (per row it made the trace O(T^2) in the clip's length)
        object.__setattr__(self, "_centers", self.tracks.centers())
        object.__setattr__(self, "_present", self.tracks.present)
        active = np.full(len(self.move_code), -1, np.int64)  # the first subtask covering each sample, -1: none
        for i in reversed(range(len(self.subtasks))):
            st = self.subtasks[i]
            active[max(0, st.start) : max(0, st.end + 1)] = i
        object.__setattr__(self, "_active", active)

    def __len__(self) -> int:
        return int(len(self.move_code))

    def __iter__(self):
        return (self.row(t) for t in range(len(self)))

    def __getitem__(self, t: int) -> dict[str, Any]:
        t = int(t) + (len(self) if t < 0 else 0)
        if not 0 <= t < len(self):
            raise IndexError(t)
        return self.row(t)

    def row(self, t: int) -> dict[str, Any]:
        i = int(self._active[t])
        subtask = self.sub_texts[i] if i >= 0 else self.task
        move = self.move_words[int(self.move_code[t])]
        # where nothing tells open from closed (no hand as the actor, the hand unseen) the trace claims neither
        gripper = ("closed" if self.gripper_closed[t] else "open") if self.gripper_known[t] else "unknown"
        checks = label_checks(self.tracks, list(self.subtasks), t, self._centers, self._present)
        verdict = self.verdict
        return {
            "frame_index": t,
            "task": self.task,
            "plan": self.plan,
            "subtask": subtask,
            "move": move,
            "gripper": gripper,
            "visible_objects": visible_objects(self.tracks, t, self._present),
            "question_basis": self.basis,
            "error_verification": checks,
            "answer_confirmation": {
                "subtask": subtask, "move": move, "gripper": gripper,
                "labels_consistent": all(c["ok"] for c in checks),
                **({"label_verdict": verdict["verdict"]} if verdict else {}),
            },
            **({"label_verification": verdict["checks"]} if verdict else {}),
        }


@dataclass
class LanguageStage(Stage):
    task: str | None = None  # a fixed task from the recipe overrides the generated one
    seed: int = 0
    # (h, w) of the stored image: VQA boxes and visible objects are given in its coordinates (None: the source's)
    image_size: tuple[int, int] | None = None

    name: ClassVar[str] = "language"
    needs: ClassVar[tuple[str, ...]] = ("frames", "tracks", "events", "subtasks", "trajectory")
    makes: ClassVar[tuple[str, ...]] = ("task", "language")

    def process(self, clip: Clip) -> Clip:
        tracks, subtasks, traj, frames = clip.tracks, list(clip.subtasks or ()), clip.trajectory, clip.frames
        assert tracks is not None and traj is not None and frames is not None
        fps = frames.fps
        actor = action_track(clip)
        paraphrases = describe_episode(tracks, subtasks, traj, actor).render(self.seed, clip.clip_id)
        caption = clip.source.caption  # human words for this clip / segment: the task verbatim (issue 11)
        if caption:
            paraphrases = []  # geometry-made paraphrases could contradict the human label: none beside it
        task = caption or self.task or paraphrases[0]
        camera = f"observation.images.{clip.source.camera}"
        sub_texts = [st.detail["text"] if st.kind == "label" else describe_subtask(tracks, st, traj, actor,
                                                                                  self.seed, clip.clip_id) for st in subtasks]
        labeled = any(st.kind == "label" for st in subtasks)  # human-labeled subtasks (segments_as: subtasks)
        verdict = clip.label_verdict or {}
        if caption and subtasks and not labeled and (verdict.get("verdict") != "confirmed" or verdict.get("camera")):
            # geometry the label's checks did not confirm must not speak beside the human label ("shove the pillow
            # down" for "pretending to pick a pillow up"): one step, the label; confirmed subtasks agree with it
            # (a confirmed camera motion says nothing of the objects' steps)
            subtasks = [Event("label", 0, len(frames) - 1, subtasks[0].actor_id, subtasks[0].object_id)]
            sub_texts = [caption]
        plan = "; ".join(f"{i + 1}. {s}" for i, s in enumerate(sub_texts)) if sub_texts else task
        moves = move_primitives(traj.action, fps)
        ts = [float(np.float32(t / fps)) for t in range(len(frames))]  # as the parquet's float32 timestamps

        persistent = [{"role": "user", "content": p, "style": "task_aug", "timestamp": 0.0}
                      for p in ([task] if (self.task or caption) else []) + paraphrases
                      + list(clip.source.caption_variants if caption else ())]
        persistent.append({"role": "assistant", "content": plan, "style": "plan", "timestamp": 0.0})
        persistent += [{"role": "assistant", "content": text, "style": "subtask", "timestamp": ts[st.start]}
                       for st, text in zip(subtasks, sub_texts, strict=True)]
        persistent += [{"role": "assistant", "content": m, "style": "motion", "timestamp": ts[t]}
                       for t, m in enumerate(moves) if t == 0 or m != moves[t - 1]]
        events_rows = []
        # boxes a model reads next to the stored frames are in those frames' coordinates (letterbox included);
        # the words above come from the source's geometry
        stored = tracks.mapped(*stored_image_mapping(frames.size_px, self.image_size))
        for st in subtasks:
            t = st.start
            objs = {f"{o['name']} {o['id']}": o["box"] for o in visible_objects(stored, t)}
            events_rows += [
                {"role": "user", "content": "Which objects are visible, and where (x0, y0, x1, y1)?",
                 "style": "vqa", "timestamp": ts[t], "camera": camera},
                {"role": "assistant", "content": json.dumps(objs), "style": "vqa", "timestamp": ts[t],
                 "camera": camera},
            ]
            if actor is not None:
                path = traj.state[st.start : st.end + 1, :2]
                idx = np.unique(np.linspace(0, len(path) - 1, min(len(path), 8)).round().astype(int))
                events_rows.append({"role": "assistant", "style": "trace", "timestamp": ts[t], "camera": camera,
                                    "content": json.dumps([[round(float(x), 4), round(float(y), 4)]
                                                           for x, y in path[idx]])})
        reasoning = self._reasoning(clip.with_(tracks=stored), task, plan, subtasks, sub_texts, moves, traj)
        language = {"persistent": persistent, "events": events_rows, "reasoning": reasoning,
                    "subtasks": [{"kind": st.kind, "start": st.start, "end": st.end, "object_id": st.object_id,
                                  "text": text} for st, text in zip(subtasks, sub_texts, strict=True)],
                    "events_detected": [{"kind": e.kind, "start": e.start, "end": e.end, "actor_id": e.actor_id,
                                         "object_id": e.object_id, **({"detail": e.detail} if e.detail else {})}
                                        for e in clip.events or ()]}
        return clip.with_(task=task, language=language)

    @staticmethod
    def _reasoning(clip: Clip, task, plan, subtasks, sub_texts, moves, traj) -> ReasoningTrace:
        """ECoT-style fields plus the three upcycling steps, for every sample (made row by row when read)."""
        labels_format = clip.labels.format if clip.labels is not None else "none"
        basis = [f"labels: {labels_format} boxes from {clip.source.labels}", f"actor: {clip.actor_reason}"]
        for st, text in zip(subtasks, sub_texts, strict=True):
            basis.append(f"samples {st.start}-{st.end}: {st.kind} -> '{text}'")
        for ev in clip.events or ():  # where the evidence could not carry a verb, the trace says so
            if ev.kind == "uncertain" and not traj.follows_camera and ev.actor_id == clip.actor_id:
                basis.append(f"samples {ev.start}-{ev.end}: uncertain — {ev.detail.get('why', 'no claim made')}")
        verdict = clip.label_verdict  # the human label checked against the footage (issue 11)
        if verdict:
            basis.insert(0, f"label: '{verdict['label']}' from {verdict.get('origin')}")
        words = tuple(dict.fromkeys(moves))
        code = {w: n for n, w in enumerate(words)}
        return ReasoningTrace(
            tracks=clip.tracks, subtasks=tuple(subtasks), sub_texts=tuple(sub_texts), task=task, plan=plan,
            move_words=words, move_code=np.array([code[m] for m in moves], np.int32),
            gripper_closed=np.asarray(traj.action[: len(moves), GRIPPER] > 0.5),
            gripper_known=gripper_known(clip, len(moves)) > 0, basis=basis, verdict=verdict)
