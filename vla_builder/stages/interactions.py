"""Who acts, and on what: the actor, and the intervals in which it holds, pushes or touches an object.

Derived from geometry only, so every claim can be rechecked, and built to hold on hand-held real footage: an object
counts as moved only when it is displaced *in the world* — relative to the background, by more than the camera-motion
fit's uncertainty and its labels' jitter, measured only on box sides the frame's border does not cut — for a minimum
duration. It is *held* (carry, gripper closed) while it so moves *together with* the actor (co-motion: its grip
point's world displacement matches the hand's) and the actor's box grips it, from the sample it starts to move (not
when the boxes begin to overlap); *pushed* while it moves the way an actor that only touches it moves; *touched*
when in contact without moving (no gripper) — a pretend is a touch. A still pause inside a carry keeps the hold; an
object that leaves the view in the hand stays held while the hand is in view. Where a measurement is not observable
(`observability.py`: the camera fit unreliable, a box over the frame or cut on every side, too few labeled samples),
an *uncertain* event with its reason is recorded instead of a verb. Every event records its evidence and thresholds.
Manipulator fragments (one hand split into several tracks by a detector) are joined first, and the episode is cut to
the actor's labeled span.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np

from pydantic import Field

from vla_builder.actor import asked_actor, choose_actor, is_manipulator
from vla_builder.boxes import centers, coverage, sizes
from vla_builder.camera_compensation import camera_uncertainty
from vla_builder.observability import (fills_frame, label_jitter, measured_samples, observed_world_steps,
                                       track_observability)
from vla_builder.config import StrictConfig
from vla_builder.pipeline import Stage
from vla_builder.schema import STILL_SPEED_PER_S
from vla_builder.sources.labels.fit import label_fit
from vla_builder.sources.lazy_frames import FramesWindow
from vla_builder.tracking.manipulators import join_fragments
from vla_builder.types import Clip, Event, TrackSet

log = logging.getLogger(__name__)

APPROACH_WOBBLE = 0.02  # normalized units an approaching hand may drift away from its target in one sample
JITTER_Z = 2.0  # a net displacement within this many sigmas of the labels' jitter (at its two ends) is no motion
Z_DECIDES = 1.0  # evidence (a margin over its sigma) below this is weak: it decides nothing on its own
CO_MOTION_TOL = 0.5  # carried: the hand's world displacement matches the object's within this fraction of it


def _touches_edge(box_xyxy: np.ndarray, margin: float = 0.03) -> bool:
    """The (normalized) box reaches within `margin` of the frame's border."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    return min(x0, y0) <= margin or max(x1, y1) >= 1.0 - margin


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive [start, end] of each run of True."""
    runs, start = [], None
    for t, m in enumerate(mask):
        if m and start is None:
            start = t
        elif not m and start is not None:
            runs.append((start, t - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def close_gaps(mask: np.ndarray, max_gap: int) -> np.ndarray:
    """Fill runs of False up to `max_gap` long between two True runs (hysteresis: one noisy sample is no release)."""
    out = mask.copy()
    runs = _runs(mask)
    for (_s0, e0), (s1, _e1) in zip(runs, runs[1:], strict=False):
        if s1 - e0 - 1 <= max_gap:
            out[e0 + 1 : s1] = True
    return out


def motion_runs(steps: np.ndarray, unc: np.ndarray, step_min: float, disp_min: float, min_len: int,
                max_gap: int = 1) -> list[tuple[int, int]]:
    """Runs of steps [s, e] in which a track moves in the world: per-step motion above `step_min` plus the camera
    uncertainty, short gaps closed, and kept only when the run's net world displacement (center or a corner)
    exceeds `disp_min` plus the accumulated uncertainty and it lasts `min_len` steps — label jitter and camera-fit
    residue move a box back and forth, not away.

    steps: (T, 6) from `world_steps` for one track; unc: (T,) from `camera_uncertainty`.
    """
    per_step = np.nan_to_num(np.abs(steps), nan=0.0).max(axis=-1)  # NaN: a side cut by the border shows nothing
    moving = close_gaps(per_step > step_min + unc, max_gap)
    out = []
    for s, e in _runs(moving):
        if e - s + 1 < min_len:
            continue
        net = np.abs(np.nansum(steps[s : e + 1], axis=0)).max()
        if net > disp_min + float(np.sum(unc[s : e + 1])):
            out.append((s, e))
    return out


def displacement_evidence(steps: np.ndarray, unc: np.ndarray, s: int, e: int, decides_at: float,
                          jitter: float) -> dict:
    """How far a track got in the world over steps [s, e] against `decides_at` (the displacement that counts as
    moved): net displacement (the largest of center and corners), evidence = (net - decides_at) / sigma, sigma =
    the label jitter at the run's two ends plus the camera fit's accumulated uncertainty. + moved, - still."""
    net = float(np.nan_to_num(np.abs(np.nansum(steps[s : e + 1], axis=0)).max(), nan=0.0))
    sigma = float(np.sqrt(2.0) * jitter + np.sum(unc[s : e + 1])) or 1e-6
    return {"net_displacement": round(net, 4), "moved_at": round(decides_at, 4), "sigma": round(sigma, 4),
            "evidence": round((net - decides_at) / sigma, 3)}


def grip_steps(obj_steps: np.ndarray, obj_boxes: np.ndarray, hand_centers: np.ndarray, s: int, e: int) -> np.ndarray:
    """(L, 2) world steps over [s, e] of the object's *grip point*: the point of its box where the hand is (the
    hand's center in the box's own coordinates, clamped to the box, median over the run). A held object turns and
    tips about the hand: its center swings, the point in the hand moves with the hand. From the steps of the box's
    two sides (`observed_world_steps`' components 2-5); where one side is cut, the other's."""
    span = slice(s, e + 1)
    size = obj_boxes[span, 2:4] - obj_boxes[span, 0:2]
    rel = np.clip((hand_centers[span] - obj_boxes[span, 0:2]) / np.where(size > 0, size, np.nan), 0.0, 1.0)
    u = np.nan_to_num(np.nanmedian(rel, axis=0), nan=0.5) if np.isfinite(rel).any() else np.full(2, 0.5)
    lo, hi = obj_steps[span, 2:4], obj_steps[span, 4:6]
    both = (1.0 - u) * lo + u * hi
    return np.where(np.isnan(both), np.where(np.isnan(lo), hi, lo), both)


def _robust_sum(steps: np.ndarray, jitter: float) -> float:
    """The displacement of a series of steps with each step clipped to 3 x the median step plus the jitter band: a
    box whose extent is redrawn in one sample (a hand's box suddenly taking in the arm) jumps once; motion is
    spread over many steps."""
    bound = 3.0 * float(np.median(np.abs(steps))) + 3.0 * np.sqrt(2.0) * jitter
    return float(np.clip(steps, -bound, bound).sum())


def co_motion(grip_xy: np.ndarray, hand_xy: np.ndarray, s: int, e: int, jitter_obj: float, jitter_hand: float,
              tol: float = CO_MOTION_TOL) -> dict:
    """Does the hand move *with* the object over steps [s, e]? The world displacements of the object's grip point
    (`grip_steps`, (L, 2)) and of the hand (`observed_world_steps`' per-axis steps), summed over the steps both
    show, compared: the residual |d_obj - d_hand| against `tol` x the larger of the two. evidence = (tol x
    max(|d_obj|, |d_hand|) - residual) / sigma, sigma = both labels' jitter at the ends of every observed stretch
    (the camera's error cancels: both are at the same place). + moves with the hand, - moves apart from it (a
    hand lifted over a still object: a pretend). Unobservable (`why`) where no axis is shown by both on at least
    half the run's steps."""
    o, h = grip_xy, hand_xy[s : e + 1]
    both = np.isfinite(o) & np.isfinite(h)
    axes = [a for a in (0, 1) if both[:, a].sum() >= max(2, int(np.ceil(0.5 * len(o))))]
    if not axes:
        return {"observable": False, "why": f"neither box shows its motion along x or y on half of steps {s}-{e} "
                                            "(cut by the frame's border, covering the frame, or unseen)"}
    d_o = np.array([_robust_sum(o[both[:, a], a], jitter_obj) for a in axes])
    d_h = np.array([_robust_sum(h[both[:, a], a], jitter_hand) for a in axes])
    stretches = max(len(_runs(both[:, a])) for a in axes)  # each observed stretch adds its two ends' jitter
    sigma = float(np.sqrt(2.0 * stretches * len(axes) * (jitter_obj**2 + jitter_hand**2))) or 1e-6
    residual = float(np.linalg.norm(d_o - d_h))
    scale = max(float(np.linalg.norm(d_o)), float(np.linalg.norm(d_h)))
    z = (tol * scale - residual) / sigma
    return {"observable": True, "axes": "".join("xy"[a] for a in axes), "grip_displacement": round(float(
        np.linalg.norm(d_o)), 4), "hand_displacement": round(float(np.linalg.norm(d_h)), 4),
            "residual": round(residual, 4), "tolerance": tol, "sigma": round(sigma, 4), "evidence": round(z, 3)}


class InteractionsConfig(StrictConfig):
    """The recipe's `interactions:` section."""

    # actor: the episode is the actor's labeled span (no frames without it); clip: the whole decoded clip
    episode_span: Literal["actor", "clip"] = "actor"
    min_move_s: float = Field(0.15, gt=0)  # an object must move in the world at least this long to count as moved
    min_displacement: float = Field(0.02, ge=0)  # ... and get this far (normalized units, center or a corner)
    camera_rel_err: float = Field(0.25, ge=0)  # the camera-motion fit's error, a fraction of the motion it predicts
    grasp_overlap: float = Field(0.25, gt=0, le=1)  # fraction of the object's box a hand covers to hold it
    max_pause_s: float = Field(1.0, ge=0)  # a still pause inside a carry up to this long keeps the hold


@dataclass
class InteractionStage(Stage):
    actor: str | None = None  # the recipe's `actor:` (vla_builder/actor.py)
    config: InteractionsConfig = field(default_factory=InteractionsConfig)

    name: ClassVar[str] = "interactions"
    needs: ClassVar[tuple[str, ...]] = ("tracks", "motion")
    makes: ClassVar[tuple[str, ...]] = ("events", "subtasks", "actor_id")

    def process(self, clip: Clip) -> Clip:
        tracks, frames = clip.tracks, clip.frames
        assert tracks is not None and frames is not None
        misfit = label_fit(clip)
        if misfit:
            log.warning("%s", misfit)
        want = asked_actor(clip, self.actor)  # a labeled segment's own actor (its speaker) first
        tracks, joined = join_fragments(tracks, want)
        clip = clip.with_(tracks=tracks)
        actor, reason = choose_actor(tracks, want)
        prov = dict(clip.provenance)  # the actor choice is a typed fact (actor_id, actor_reason); the sink writes it
        if joined:
            prov["hand_fragments_joined"] = joined
        if actor is None:
            if clip.source.camera_kind != "wrist":
                log.warning("%s: %s", clip.source.media, reason if len(tracks) else
                            "a third-person source without labels: the camera's ego-motion becomes the action")
            return clip.with_(events=tuple(presence_events(tracks)), subtasks=(), actor_id=None, actor_reason=reason,
                              provenance=prov)
        if self.config.episode_span == "actor":
            clip, span = crop_to_actor(clip, actor)
            if span is not None:
                prov["episode_span"] = span
            tracks, frames = clip.tracks, clip.frames
            assert tracks is not None and frames is not None
        events = presence_events(tracks)
        actor_id = int(tracks.ids[actor])
        if not is_manipulator(tracks.class_names[actor], self.actor):
            # a pedestrian walking beside another is not carrying it: only hands/grippers grasp and push
            prov["interactions"] = f"none inferred: actor class '{tracks.class_names[actor]}' is not a manipulator"
        else:
            # every manipulator's holds and pushes (a handover needs the receiving hand's too)
            hands = [k for k, n in enumerate(tracks.class_names) if is_manipulator(n, self.actor)]
            steps, steps_xy = observed_world_steps(tracks, clip.motion)  # cut sides are no measurement
            unc, bad_fit = camera_uncertainty(clip.motion, tracks, self.config.camera_rel_err)
            # labels are whole pixels: two boxes moving together differ by up to ~1 px per axis per sample
            quantum = 2.0 / min(frames.source_size_px)
            inliers = clip.motion.global_inlier_ratio if clip.motion is not None else None
            measured = measured_samples(tracks)
            unseen = [track_observability(tracks.class_names[k], tracks.boxes_xyxy[:, k], measured[:, k],
                                          inliers).contact_unobservable() for k in range(len(tracks))]
            for k in hands:
                events += self.find_events(tracks, k, frames.fps, steps, unc, quantum, bad_fit, steps_xy, unseen)
            events += approach_events(tracks, actor, events, frames.fps, STILL_SPEED_PER_S)
            uncertain = [e for e in events if e.kind == "uncertain" and e.actor_id == actor_id]
            if uncertain:
                prov["interactions_uncertain"] = [f"samples {e.start}-{e.end}: {e.detail.get('why')}"
                                                  for e in uncertain]
        events.sort(key=lambda ev: (ev.start, ev.end, ev.kind, ev.actor_id))
        subtasks = segment_subtasks(events, actor_id, len(frames), max_gap=int(round(self.config.max_pause_s * frames.fps)))
        return clip.with_(events=tuple(events), subtasks=tuple(subtasks), actor_id=actor_id, actor_reason=reason,
                          provenance=prov)

    def find_events(self, tracks: TrackSet, actor: int, fps: int, steps: np.ndarray, unc: np.ndarray,
                    quantum: float = 0.0, bad_fit: np.ndarray | None = None, steps_xy: np.ndarray | None = None,
                    unseen: list[list[str]] | None = None) -> list[Event]:
        """Grasp / carry / place, push, touch and uncertain events of one manipulator track.

        steps, steps_xy = observed_world_steps(...) (world_steps' (T, K, 6) alone: every side taken as observed),
        (unc, bad_fit) = camera_uncertainty(...), unseen[k]: why track k's contacts cannot be measured
        (`TrackObservability.contact_unobservable`). A *carry* is a run in which the object is displaced in the
        world beyond its labels' jitter (see `motion_runs`) *together with the actor* (`co_motion`) while the
        actor's box grips it (covers `grasp_overlap` of it, or overlaps it at all, or it leaves the view with the
        hand); it starts when the object starts to move, not when the boxes begin to overlap. A *push* moves an
        object the actor only touches, in the direction the actor moves. Contact without world motion is a
        *touch* (no gripper): a hand over an object that stays within its jitter (a pretend) is one. Where a
        measurement is not observable (a box cut by the border or filling the frame, too few labeled samples, the
        camera fit unreliable), the event is *uncertain* with its reason and no verb is claimed. Every event
        records its evidence (a signed margin over its uncertainty) and the thresholds that decided it.
        """
        boxes = tracks.boxes_xyxy
        centers = tracks.centers()
        t_count = boxes.shape[0]
        c = self.config
        if steps_xy is None:
            steps_xy = steps[..., 0:2]
        step_min = STILL_SPEED_PER_S / fps + quantum / 2  # one pixel of label rounding is no motion
        min_len = max(2, int(round(c.min_move_s * fps)))
        max_pause = int(round(c.max_pause_s * fps))
        actor_id = int(tracks.ids[actor])
        present_a = tracks.present[:, actor]
        jitter_a = label_jitter(steps_xy[:, actor], quantum / 2)
        thresholds = {"min_displacement": c.min_displacement, "jitter_z": JITTER_Z, "co_motion_tol": CO_MOTION_TOL,
                      "grasp_overlap": c.grasp_overlap, "min_move_s": c.min_move_s}
        events: list[Event] = []
        for o in range(len(tracks)):
            if o == actor or is_manipulator(tracks.class_names[o], self.actor):
                continue
            obj_id = int(tracks.ids[o])
            overlap = coverage(boxes[:, actor], boxes[:, o], grow=0.02)  # the actor box slightly grown
            contact = close_gaps(overlap > 0, 1)
            covered = overlap >= c.grasp_overlap
            overlapping = coverage(boxes[:, actor], boxes[:, o]) > 0  # the boxes themselves intersect
            if not contact.any():
                continue
            why_unseen = (unseen[actor] + unseen[o]) if unseen else []
            if why_unseen:  # too few labeled samples, a box over the frame: the contact itself proves nothing
                # a box over most of the frame (a mat, a seat filling the view) is no object a hand holds in view:
                # what the hand holds is told by the other objects, so the gripper's value stays evidence
                surface = not unseen[actor] and bool(fills_frame(boxes[tracks.present[:, o], o]).mean() > 0.5)
                for s, e in _runs(contact):
                    if e - s + 1 >= min_len:
                        events.append(Event("uncertain", s, e, actor_id, obj_id, {
                            "why": "; ".join(why_unseen) + ": no claim made", "evidence": None,
                            "thresholds": thresholds, "masks_gripper": not surface}))
                continue
            unc_o = unc[:, o]
            jitter_o = label_jitter(steps_xy[:, o], quantum / 2)
            moved_at = c.min_displacement + JITTER_Z * np.sqrt(2.0) * jitter_o  # beyond the labels' own wobble
            runs = motion_runs(steps[:, o], unc_o, step_min, moved_at, min_len)
            held = np.zeros(t_count, bool)
            pushed = np.zeros(t_count, bool)
            unsure = np.zeros(t_count, bool)
            found: list[tuple[int, int, str, dict]] = []  # (s, e, kind, evidence) per run
            last_o = int(np.nonzero(tracks.present[:, o])[0][-1])
            # leaving the view means crossing the frame's edge: a box that vanishes mid-frame was occluded or was a
            # detector flicker, and proves nothing about where the object went
            exits_at_edge = _touches_edge(boxes[last_o, o])
            for s, e in runs:
                span = slice(s, e + 1)
                if not contact[span].mean() >= 0.8:
                    continue  # moved on its own (or by something else)
                disp = displacement_evidence(steps[:, o], unc_o, s, e, moved_at + float(np.sum(unc_o[span])), jitter_o)
                grip = grip_steps(steps[:, o], boxes[:, o], centers[:, actor], s, e)
                co = co_motion(grip, steps_xy[:, actor], s, e, jitter_o, jitter_a)
                # an object that leaves the view while moving with the hand, the hand still in view, went with it:
                # a pushed object stays behind (a hand holding a bottle by its end covers little of its box)
                leaves_with_hand = (e >= last_o - 1 and last_o < t_count - 1 and bool(present_a[last_o + 1])
                                    and exits_at_edge)
                grips = covered[span].mean() >= 0.5 or overlapping[span].mean() >= 0.5 or leaves_with_hand
                if grips and not co["observable"]:
                    unsure[span] = True
                    found.append((s, e, "uncertain", {"why": f"whether the {tracks.class_names[o]} moved with the "
                                                             f"{tracks.class_names[actor]}: {co['why']}"}))
                elif (grips and not (covered[span].mean() >= 0.5 or leaves_with_hand)
                      and self._trails(centers[:, actor], boxes[:, o], s, e)
                      and self._follows(centers[:, actor], centers[:, o], s, e) and self._translates(boxes[:, o], s, e)):
                    # a hand on a small part of the object, behind it as it moves: a push looks so in the image
                    # (co-motion alone cannot tell it from a grip at the object's rear)
                    pushed[span] = True
                    found.append((s, e, "push", {"evidence": disp["evidence"], "displacement": disp,
                                                 "co_motion": co}))
                elif grips and co["evidence"] >= (0.0 if covered[span].mean() >= 0.5 or leaves_with_hand
                                                  else Z_DECIDES):
                    # a hand over the object: its motion with the hand decides; a hand on a small part of it (a pen
                    # held at one end): the co-motion must be strong on its own
                    held[span] = True
                    found.append((s, e, "carry", {"evidence": min(disp["evidence"], co["evidence"]),
                                                  "displacement": disp, "co_motion": co}))
                elif grips and disp["evidence"] < Z_DECIDES:
                    # barely beyond the labels' jitter, and not with the hand: neither a carry nor a still object
                    unsure[span] = True
                    why = (f"the {tracks.class_names[o]} moved barely beyond its labels' jitter (evidence "
                           f"{disp['evidence']:+.2f}) and not with the {tracks.class_names[actor]} (co-motion "
                           f"{co['evidence']:+.2f})")
                    found.append((s, e, "uncertain", {"why": why, "displacement": disp, "co_motion": co}))
                elif self._follows(centers[:, actor], centers[:, o], s, e) and self._translates(boxes[:, o], s, e):
                    pushed[span] = True
                    found.append((s, e, "push", {"evidence": disp["evidence"], "displacement": disp,
                                                 "co_motion": co}))
            held = self._bridge_pauses(held, centers[:, actor], centers[:, o], covered, max_pause)

            def evidence_of(kind: str, s: int, e: int) -> dict:
                """The detail of an event over [s, e]: its runs' evidence (the weakest), numbers and thresholds."""
                parts = [d for rs, re_, k, d in found if k == kind and rs <= e and re_ >= s]
                detail: dict = {"evidence": min((d["evidence"] for d in parts if d.get("evidence") is not None),
                                                default=None),
                                "runs": [{k: v for k, v in d.items() if k != "evidence"} for d in parts],
                                "thresholds": thresholds}
                if kind == "uncertain":
                    detail["why"] = "; ".join(dict.fromkeys(d["why"] for d in parts)) + ": no claim made"
                return detail

            for s, e in _runs(held):
                if e - s + 1 < min_len:
                    continue
                left_in_hand = e >= last_o - 1 and last_o < t_count - 1 and exits_at_edge
                if left_in_hand:
                    # the object left the view in the hand: the hold lasts while the hand stays in view
                    after = np.nonzero(~present_a[last_o:])[0]
                    e = last_o + int(after[0]) - 1 if len(after) else t_count - 1
                    held[s : e + 1] = True
                events.append(Event("grasp", s, s, actor_id, obj_id))
                events.append(Event("carry", s, e, actor_id, obj_id, evidence_of("carry", s, e)))
                if not left_in_hand:
                    events.append(Event("place", min(e + 1, t_count - 1), min(e + 1, t_count - 1), actor_id, obj_id))
            for s, e in _runs(pushed & ~held):
                if e - s + 1 >= min_len:
                    events.append(Event("push", s, e, actor_id, obj_id, evidence_of("push", s, e)))
            for s, e in _runs(unsure & ~held & ~pushed):
                events.append(Event("uncertain", s, e, actor_id, obj_id, evidence_of("uncertain", s, e)))
            moved = held | pushed | unsure
            for s, e in _runs(contact & ~moved):
                if e - s + 1 < min_len:
                    continue
                seen = np.isfinite(steps_xy[s : e + 1, o]).any(axis=1).mean()
                if bad_fit is not None and bad_fit[s : e + 1].mean() > 0.3:
                    why = (f"the camera-motion fit is unreliable while the {tracks.class_names[actor]} touches the "
                           f"{tracks.class_names[o]}: no claim made")
                elif seen < 0.5:  # "it did not move" needs its motion shown
                    why = (f"the {tracks.class_names[o]}'s box shows its motion on {seen:.0%} of samples {s}-{e} (cut "
                           "by the frame's border or covering the frame): whether it moved is unknown; no claim made")
                else:
                    still = displacement_evidence(steps[:, o], unc_o, s, e, moved_at + float(np.sum(unc_o[s : e + 1])),
                                                  jitter_o)
                    if still["evidence"] < Z_DECIDES:  # "touched without moving" unless it clearly moved
                        events.append(Event("touch", s, e, actor_id, obj_id, {
                            "evidence": -still["evidence"], "displacement": still, "thresholds": thresholds}))
                        continue
                    why = (f"the {tracks.class_names[o]} moved {still['net_displacement']:.3f} while the "
                           f"{tracks.class_names[actor]} touched it (evidence {still['evidence']:+.2f}), but not as "
                           f"a carry or a push: no claim made")
                events.append(Event("uncertain", s, e, actor_id, obj_id,
                                    {"why": why, "evidence": None, "thresholds": thresholds}))
        return events

    @staticmethod
    def _trails(c_actor: np.ndarray, box_obj: np.ndarray, s: int, e: int) -> bool:
        """At the run's start the actor's centre lies behind the object's rear edge along the object's net motion
        over [s, e+1]: a pusher's place (a hand gripping an end, a pen held at its back, has its centre on the
        object)."""
        end = min(e + 1, len(box_obj) - 1)
        c_o = centers(box_obj)
        d_o = c_o[end] - c_o[s]
        size = sizes(box_obj[s])
        if not (np.all(np.isfinite(d_o)) and np.all(np.isfinite(c_actor[s])) and np.all(np.isfinite(size))):
            return False
        norm = float(np.hypot(*d_o))
        if norm == 0.0:
            return False
        u = d_o / norm
        extent = float(abs(u[0]) * size[0] + abs(u[1]) * size[1])  # the box's length along u
        return float((c_actor[s] - c_o[s]) @ u) < -0.5 * extent

    @staticmethod
    def _follows(c_actor: np.ndarray, c_obj: np.ndarray, s: int, e: int) -> bool:
        """The object's net motion over [s, e+1] points the way the actor moves (a push follows its pusher)."""
        end = min(e + 1, len(c_obj) - 1)
        d_o, d_a = c_obj[end] - c_obj[s], c_actor[end] - c_actor[s]
        if not (np.all(np.isfinite(d_o)) and np.all(np.isfinite(d_a))):
            return False
        return float(d_o @ d_a) > 0.5 * float(d_o @ d_o)

    @staticmethod
    def _translates(box: np.ndarray, s: int, e: int) -> bool:
        """The box moves as a whole over [s, e+1]: its size changes less than its center moves. A box whose one edge
        moves (a region clipped at the frame edge, a relabeled extent) is not a pushed object."""
        end = min(e + 1, len(box) - 1)
        a, b = box[s], box[end]
        if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
            return False
        moved = np.abs(centers(b) - centers(a)).sum()
        resized = np.abs(sizes(b) - sizes(a)).sum()
        return bool(resized < moved)

    @staticmethod
    def _bridge_pauses(held, c_actor, c_obj, covered, max_pause: int) -> np.ndarray:
        """Join held runs separated by a short still pause in which the object stays where the actor holds it."""
        held = held.copy()
        runs = _runs(held)
        for (s0, e0), (s1, _e1) in zip(runs, runs[1:], strict=False):
            gap = slice(e0 + 1, s1)
            if s1 - e0 - 1 > max_pause or not covered[gap].all():
                continue
            rel = c_obj[e0 + 1 : s1 + 1] - c_actor[e0 + 1 : s1 + 1]
            if np.all(np.linalg.norm(rel - rel[0], axis=-1) < 0.03):
                held[gap] = True
        return held


def crop_to_actor(clip: Clip, actor: int) -> tuple[Clip, list[int] | None]:
    """The clip cut to the actor's labeled span (first to last sample it is present): frames before it appears and
    after it leaves hold no actor, so their state would be invented. Returns the clip and [first, last] (grid
    samples of the uncut clip), or None when nothing was cut."""
    import dataclasses

    tracks, frames, motion = clip.tracks, clip.frames, clip.motion
    assert tracks is not None and frames is not None
    on = np.nonzero(tracks.present[:, actor])[0]
    if not len(on) or (on[0] == 0 and on[-1] == len(frames) - 1):
        return clip, None
    s, e = int(on[0]), int(on[-1])
    cut = slice(s, e + 1)
    rgb = frames.rgb[cut] if isinstance(frames.rgb, np.ndarray) else FramesWindow(frames.rgb, s, e + 1)
    frames = dataclasses.replace(frames, rgb=rgb, source_index=frames.source_index[cut],
                                 source_time_s=frames.source_time_s[cut],
                                 start_s=float(frames.source_time_s[s]))
    tracks = dataclasses.replace(tracks, boxes_xyxy=tracks.boxes_xyxy[cut], labeled=tracks.labeled[cut])
    if motion is not None:
        affine = motion.global_affine[cut].copy()
        affine[-1] = np.eye(2, 3)  # the last sample moves nowhere
        motion = dataclasses.replace(motion, global_affine=affine, global_inlier_ratio=motion.global_inlier_ratio[cut],
                                     track_flow=motion.track_flow[cut], energy=motion.energy[cut])
    prov = {**clip.provenance, "source_frames": [int(frames.source_index[0]), int(frames.source_index[-1])],
            "source_time_s": [round(float(frames.source_time_s[0]), 6), round(float(frames.source_time_s[-1]), 6)]}
    return clip.with_(frames=frames, tracks=tracks, motion=motion, provenance=prov), [s, e]


def presence_events(tracks: TrackSet) -> list[Event]:
    """appear / leave: a track that starts after the first sample or ends before the last."""
    events = []
    present = tracks.present
    t_count = present.shape[0]
    for k in range(len(tracks)):
        on = np.nonzero(present[:, k])[0]
        if not len(on):
            continue
        tid = int(tracks.ids[k])
        if on[0] > 0:
            events.append(Event("appear", int(on[0]), int(on[0]), tid))
        if on[-1] < t_count - 1:
            events.append(Event("leave", int(on[-1]), int(on[-1]), tid))
    return events


def approach_events(tracks: TrackSet, actor: int, events: list[Event], fps: int, min_speed_per_s: float) -> list[Event]:
    """approach: the run of samples before a grasp/push in which the actor moves toward that object."""
    actor_id = int(tracks.ids[actor])
    centers = tracks.centers()
    v_min = min_speed_per_s / fps
    out = []
    starts = sorted((e for e in events if e.actor_id == actor_id and e.kind in ("grasp", "push")),
                    key=lambda e: e.start)
    floor = 0
    for ev in starts:
        o = tracks.index_of(ev.object_id)
        dist = np.linalg.norm(centers[:, actor] - centers[:, o], axis=-1)
        t = ev.start - 1
        while t >= floor and np.linalg.norm(centers[t + 1, actor] - centers[t, actor]) <= v_min:
            t -= 1  # a still pause at the object is part of the approach's end, not its start
        end = t
        # back in time while the actor moves and is not getting farther (a small wobble at the end is allowed)
        while (t >= floor and dist[t] + APPROACH_WOBBLE >= dist[t + 1]
               and np.linalg.norm(centers[t + 1, actor] - centers[t, actor]) > v_min):
            t -= 1
        if end - t >= 2:
            out.append(Event("approach", t + 1, ev.start - 1, actor_id, ev.object_id))
        floor = max(floor, ev.end + 1)
    return out


def segment_subtasks(events: list[Event], actor_id: int, t_count: int, max_gap: int) -> list[Event]:
    """Cut the episode into consecutive, non-overlapping subtasks: reach -> carry/push/hand over/touch -> retreat (or one
    'move'). Acts that overlap in time (two objects moved at once) are cut so that exactly one subtask is active at
    every sample — lerobot's `active_at` needs one row per style at any time."""
    acts = sorted((e for e in events if e.actor_id == actor_id and e.kind in ("carry", "push", "touch")),
                  key=lambda e: e.start)
    subtasks: list[Event] = []
    cursor = 0
    for ev in acts:
        if ev.end < cursor:
            continue  # inside an act already segmented (two objects moved at once): one subtask at a time
        if ev.start < cursor:
            ev = Event(ev.kind, cursor, ev.end, ev.actor_id, ev.object_id, ev.detail)
        if ev.start > cursor:
            subtasks.append(Event("reach", cursor, ev.start - 1, actor_id, ev.object_id))
        kind = ev.kind
        if kind == "carry":
            # handed over: another manipulator's carry of the same object starts as this one ends
            receiver = [e for e in events if e.kind == "carry" and e.object_id == ev.object_id
                        and e.actor_id != actor_id and 0 <= e.start - ev.end <= max_gap + 1]
            if receiver:
                subtasks.append(Event("handover", ev.start, ev.end, actor_id, ev.object_id,
                                      {"to": receiver[0].actor_id}))
                cursor = ev.end + 1
                continue
        subtasks.append(Event(kind, ev.start, ev.end, actor_id, ev.object_id))
        cursor = ev.end + 1
    if cursor <= t_count - 1:
        subtasks.append(Event("retreat" if acts else "move", cursor, t_count - 1, actor_id,
                              acts[-1].object_id if acts else None, {"after": acts[-1].kind} if acts else {}))
    return subtasks
