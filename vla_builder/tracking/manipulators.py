"""Manipulator tracks: which classes are hands / grippers, and one track per hand where a detector split it.

A track is a manipulator by the actor rule (`vla_builder.actor.is_manipulator`). MediaPipe's hand
detector (and ByteTrack after it) can split one hand into several tracks that never coexist; `join_fragments` joins
them before the interactions stage chooses its actor.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from vla_builder.actor import is_manipulator
from vla_builder.types import TrackSet


def join_fragments(tracks: TrackSet, recipe_actor: str | None, max_jump: float = 0.15) -> tuple[TrackSet, list]:
    """One track per hand: manipulator tracks of one class that never overlap in time and where one ends near where
    the next starts are one hand (a detector such as MediaPipe's splits one hand into several tracks).

    Returns the joined tracks and [(kept id, [joined ids])]. Labeled tracks that coexist are never joined.
    """
    present = tracks.present
    centers = tracks.centers()
    groups: dict[str, list[int]] = {}
    for k, n in enumerate(tracks.class_names):
        if is_manipulator(n, recipe_actor) and present[:, k].any():
            groups.setdefault(n, []).append(k)
    boxes = tracks.boxes_xyxy.copy()
    labeled = tracks.labeled.copy()
    drop: set[int] = set()
    joined = []
    for ks in groups.values():
        ks = sorted(ks, key=lambda k: int(np.argmax(present[:, k])))
        chains: list[list[int]] = []
        for k in ks:
            first = int(np.argmax(present[:, k]))
            best, best_d = None, max_jump
            for chain in chains:  # the chain whose hand ended nearest to where this fragment starts
                tail = chain[-1]
                last = int(np.nonzero(present[:, tail])[0][-1])
                if last >= first:
                    continue  # both in view at once: two hands
                d = float(np.linalg.norm(centers[last, tail] - centers[first, k]))
                if d <= best_d:
                    best, best_d = chain, d
            if best is not None:
                best.append(k)
            else:
                chains.append([k])
        for chain in chains:
            if len(chain) < 2:
                continue
            head = chain[0]
            for k in chain[1:]:
                on = present[:, k]
                boxes[on, head] = tracks.boxes_xyxy[on, k]
                labeled[on, head] = tracks.labeled[on, k]
                drop.add(k)
            joined.append((int(tracks.ids[head]), [int(tracks.ids[k]) for k in chain[1:]]))
    if not drop:
        return tracks, []
    keep = [k for k in range(len(tracks)) if k not in drop]
    out = dataclasses.replace(tracks, ids=tracks.ids[keep], class_names=tuple(tracks.class_names[k] for k in keep),
                              boxes_xyxy=boxes[:, keep], labeled=labeled[:, keep])
    return out, joined
