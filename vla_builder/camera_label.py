"""A caption about the camera's own motion, measured on the filmed object's box in the image.

Something-Something has a family of such captions ("Approaching [something] with your camera", "Moving away from
[something] with your camera", "Turning the camera left while filming [something]"), and people write them freely
("Moving camera away from the mouse", "카메라를 마우스에서 멀어지게 움직인다"). What they claim is image geometry, which
the labels measure directly, without a camera-motion fit: a camera that approaches an object makes its box grow, one
that moves away makes it shrink, and a camera that turns left makes everything it films move right in the image.

- **Scale.** The object's box size (square root of its area) at the start and the end of the episode: the median of
  the log size over the first and the last third of the samples that can show it — labeled, cut by no frame edge
  (an edge-clipped box's size is the frame's), not covering most of the frame. Evidence: the log size ratio, signed
  by the claim, over `SCALE_BAND` (or the labels' own size jitter where larger): +1 confirms, -1 refutes.
- **Turning.** The object's net image displacement along the turned axis, summed over the steps that show it
  (`observability.observable_steps`), signed by the claim (the object moves the other way), over `TURN_BAND`.

Fewer than `observability.MIN_LABELED_SAMPLES` usable samples (or observed steps) measure nothing: the check is
unobservable and says why. This module only measures; `stages/verify_label.py` turns the numbers into checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from vla_builder.observability import (MIN_LABELED_SAMPLES, MIN_OBSERVED_STEPS, clipped_axes, fills_frame,
                                       observable_steps)

SCALE_BAND = 0.1  # log size ratio: a box whose size changes by 10% (one way or the other) decides
TURN_BAND = 0.05  # normalized image displacement along the turned axis that decides (as a stated direction)

# the camera is what moves: the verb's object ("moving the camera", "카메라를 움직인다"), or the instrument of the act
# ("approaching X with your camera"), or it films while turning ("turning ... while filming")
CAMERA_MOVES = r"\b(with|using) (your|the|a|my|his|her|their) camera\b|\bcamera\b.*\bwhile filming\b"
TOWARD = r"\bapproach\w*|\bcloser\b|\bnearer\b|\btowards?\b|\bzoom(s|ed|ing)? in\b"
AWAY = r"\baway\b|\bfarther\b|\bfurther\b|\bzoom(s|ed|ing)? out\b"
# the camera turns / moves this way -> the filmed object moves the other way in the image: (axis, sign of its motion)
TURNS = {r"\bcamera (to the )?left\b|\bleft(ward)?s? while filming\b": (0, +1),
         r"\bcamera (to the )?right\b|\bright(ward)?s? while filming\b": (0, -1),
         r"\bcamera (up|upwards?)\b|\bupwards? while filming\b": (1, +1),
         r"\bcamera (down|downwards?)\b|\bdownwards? while filming\b": (1, -1)}
KOREAN_TOWARD = r"가까이|다가|접근"
KOREAN_AWAY = r"멀어|멀리"
KOREAN_TURNS = {r"(왼쪽|좌측)": (0, +1), r"(오른쪽|우측)": (0, -1), r"위\s*(로|쪽)": (1, +1), r"아래\s*(로|쪽)": (1, -1)}


def camera_moves(text: str) -> bool:
    """An English caption whose camera is the mover without being the verb's object ("... with your camera")."""
    return bool(re.search(CAMERA_MOVES, text))


def camera_motion(text: str, language: str) -> str:
    """What a caption about the camera says it did, as the filmed object's image change: "grows" (toward it),
    "shrinks" (away from it), "x+" / "x-" / "y+" / "y-" (the object's motion when the camera turns); "" none stated."""
    t = " ".join(text.lower().split())
    toward, away, turns = ((KOREAN_TOWARD, KOREAN_AWAY, KOREAN_TURNS) if language == "ko" else (TOWARD, AWAY, TURNS))
    if re.search(away, t):
        return "shrinks"
    if re.search(toward, t):
        return "grows"
    for pattern, (axis, sign) in turns.items():
        if re.search(pattern, t):
            return f"{'xy'[axis]}{'+' if sign > 0 else '-'}"
    return ""


@dataclass(frozen=True)
class CameraMeasure:
    """One measurement of a camera claim on the object's box: `value` signed so that + supports the claim."""

    name: str
    value: float
    band: float
    numbers: dict
    why: list[str]


def measure(kind: str, name: str, boxes_xyxy: np.ndarray, labeled: np.ndarray) -> CameraMeasure:
    """The camera claim `kind` (`camera_motion`) measured on one track's (T, 4) normalized boxes and (T,) flags of
    the samples that are measurements."""
    return _scale(kind, name, boxes_xyxy, labeled) if kind in ("grows", "shrinks") else _turn(kind, name, boxes_xyxy)


def _scale(kind: str, name: str, b: np.ndarray, labeled: np.ndarray) -> CameraMeasure:
    usable = labeled & np.isfinite(b[:, 0]) & ~clipped_axes(b).any(axis=1) & ~fills_frame(b)
    idx = np.nonzero(usable)[0]
    grows = kind == "grows"
    check = f"the {name}'s box {'grows' if grows else 'shrinks'} (the camera {'approaches' if grows else 'moves away'})"
    if len(idx) < MIN_LABELED_SAMPLES:
        return CameraMeasure(check, 0.0, SCALE_BAND, {"usable_samples": int(len(idx))},
                             [f"the {name}'s size shown on {len(idx)} samples (needs {MIN_LABELED_SAMPLES}: labeled, "
                              "cut by no frame edge, not covering most of the frame)"])
    w, h = b[idx, 2] - b[idx, 0], b[idx, 3] - b[idx, 1]
    log_size = 0.5 * np.log(np.maximum(w * h, 1e-9))
    third = max(len(idx) // 3, 1)
    ratio = float(np.median(log_size[-third:]) - np.median(log_size[:third]))
    # the labels' own wobble of the size: second differences cancel a smooth zoom (as `observability.label_jitter`)
    d2 = np.abs(np.diff(log_size, 2))
    jitter = float(1.4826 * np.median(d2) / np.sqrt(6.0)) if len(d2) >= 4 else 0.0
    band = max(SCALE_BAND, 3 * jitter)
    numbers = {"log_size_ratio": round(ratio, 4), "size_ratio": round(float(np.exp(ratio)), 3),
               "usable_samples": int(len(idx)), "band": round(band, 4)}
    return CameraMeasure(check, ratio if kind == "grows" else -ratio, band, numbers, [])


def _turn(kind: str, name: str, b: np.ndarray) -> CameraMeasure:
    axis, sign = "xy".index(kind[0]), (1 if kind[1] == "+" else -1)
    check = f"the {name} moves along {kind} in the image (the camera turns the other way)"
    steps = observable_steps(b)[:, axis]
    n = int(steps.sum())
    if n < MIN_OBSERVED_STEPS:
        return CameraMeasure(check, 0.0, TURN_BAND, {"observed_steps": n},
                             [f"{'xy'[axis]} motion of the {name} observed on {n} steps (needs {MIN_OBSERVED_STEPS})"])
    centre = (b[:, axis] + b[:, axis + 2]) / 2
    step = np.diff(centre)
    net = float(np.sum(step[steps[:-1]]))
    return CameraMeasure(check, net * sign, TURN_BAND, {"net_image_motion": round(net, 4), "observed_steps": n}, [])
