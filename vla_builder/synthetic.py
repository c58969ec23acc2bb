"""Synthetic labeled tabletop scenes with exact ground truth (the tests' and the demo's data).

A textured table seen from above, textured objects (a cup, a box) and a "hand" that acts on them. The scene is
written as an H.264 video, a MOTChallenge `gt.txt` (ids 1 hand, 2 cup, 3 box) and `truth.json` with what really
happened: every object's box per frame, the hand's motion per frame, the grasp interval and the camera motion.

Scenarios: `pick_place` (grasp the cup, carry it to the right of the box, release), `push` (push the box to the
right without grasping), `idle` (the hand moves around, touches nothing), `pan` (no interaction, the camera pans),
`pick_place_pan` / `pick_place_shake` (pick and place under a panning / shaking camera, the hand resting on the cup
for a while before lifting it: the grasp starts when the cup starts to move, not when the hand arrives).
`random` draws a pick-and-place from the seed (`random_scene`): a still, panning, shaking or zooming camera, the cup's
and the box's places, the approach, a dwell of the hand on the cup before the lift, the carry's length, sometimes
the hand hidden (unlabeled) under an occluder for a few frames of the carry, sometimes the box panned out of the
frame — the generalization benchmark's scenes (scripts/eval_scenes.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vla_builder import boxes as box_geometry

CLASSES = {1: "hand", 2: "cup", 3: "box"}  # MOT class ids of gt.txt
TRACK_CLASS = {1: 1, 2: 2, 3: 3, 4: 1}  # track id -> class id (track 4 is a second hand, in handovers)
SIZES = {1: (0.13, 0.16), 2: (0.10, 0.12), 3: (0.16, 0.18), 4: (0.13, 0.16)}  # (w, h) normalized
COLORS = {1: (224, 172, 140), 2: (200, 40, 40), 3: (40, 70, 200), 4: (190, 140, 110)}


@dataclass
class Keyframes:
    frames: list[int]
    points: list[tuple[float, float]]

    def at(self, t: np.ndarray) -> np.ndarray:
        x = np.interp(t, self.frames, [p[0] for p in self.points])
        y = np.interp(t, self.frames, [p[1] for p in self.points])
        return np.stack([x, y], axis=-1)


def _scenario(name: str, n: int) -> tuple[dict[int, np.ndarray], tuple[int, int] | None, np.ndarray, str, dict]:
    """Centers per track id (n, 2), the interval [from, to] in which hand 1 moves an object, camera pan, the
    task, and the true events (frame numbers)."""
    t = np.arange(n, dtype=float)
    f = lambda a: int(round(a * (n - 1)))  # noqa: E731 — fraction of the clip -> frame
    cup0, box0 = (0.25, 0.62), (0.55, 0.38)
    pan = np.zeros((n, 2))
    attach = None
    events: dict = {}
    if name == "pick_place":
        grasp = (cup0[0], cup0[1] - 0.03)  # the hand covers the cup's top
        place = (0.82, 0.38 - 0.03)
        hand = Keyframes([0, f(0.22), f(0.28), f(0.62), f(0.68), n - 1],
                         [(0.10, 0.85), grasp, grasp, place, place, (0.60, 0.85)]).at(t)
        attach = (f(0.28), f(0.62))
        offset = np.array(cup0) - np.array(grasp)
        cup = np.tile(cup0, (n, 1))
        a, b = attach
        cup[a : b + 1] = hand[a : b + 1] + offset
        cup[b + 1 :] = cup[b]
        centers = {1: hand, 2: cup, 3: np.tile(box0, (n, 1))}
        task = "put the cup to the right of the box"
        events = {"approach": [0, a - 1], "grasp": a, "carry": [a, b - 1], "place": b}
    elif name == "push":
        # the hand comes from the left, touches the box's left side and pushes it right, then leaves
        contact = (box0[0] - (SIZES[3][0] + SIZES[1][0]) / 2 + 0.01, box0[1])
        end = (contact[0] + 0.25, contact[1])
        hand = Keyframes([0, f(0.25), f(0.30), f(0.65), f(0.70), n - 1],
                         [(0.10, 0.70), contact, contact, end, end, (0.20, 0.85)]).at(t)
        box = np.tile(box0, (n, 1))
        a, b = f(0.30), f(0.65)
        box[a : b + 1] = hand[a : b + 1] + (np.array(box0) - np.array(contact))
        box[b + 1 :] = box[b]
        centers = {1: hand, 2: np.tile(cup0, (n, 1)), 3: box}
        task = "push the box to the right"
        events = {"approach": [0, a - 1], "push": [a, b - 1]}
    elif name == "handover":
        # hand 1 picks the cup up and brings it to the middle; hand 2 takes it and puts it right of the box
        grasp = (cup0[0], cup0[1] - 0.03)
        middle = (0.45, 0.72)
        place = (0.82, 0.38 - 0.03)
        h1 = Keyframes([0, f(0.15), f(0.20), f(0.45), f(0.50), n - 1],
                       [(0.10, 0.85), grasp, grasp, middle, middle, (0.05, 0.95)]).at(t)
        middle2 = (middle[0] + 0.04, middle[1] - 0.02)  # hand 2 grips the cup from the other side
        h2 = Keyframes([0, f(0.30), f(0.47), f(0.50), f(0.80), n - 1],
                       [(0.70, 0.92), (0.70, 0.92), middle2, middle2, (place[0] + 0.04, place[1] - 0.02),
                        (place[0] + 0.04, place[1] - 0.02)]).at(t)
        a, b = f(0.20), f(0.45)  # hand 1 moves the cup
        c, d = f(0.50), f(0.80)  # hand 2 moves it
        cup = np.tile(cup0, (n, 1))
        cup[a : b + 1] = h1[a : b + 1] + (np.array(cup0) - np.array(grasp))
        cup[b + 1 : c + 1] = cup[b]
        cup[c : d + 1] = h2[c : d + 1] + (cup[c] - h2[c])
        cup[d + 1 :] = cup[d]
        attach = (a, b)
        centers = {1: h1, 2: cup, 3: np.tile(box0, (n, 1)), 4: h2}
        task = "hand the cup to the other hand"
        events = {"approach": [0, a - 1], "grasp": a, "carry": [a, b - 1], "place": b, "receive": [c, d - 1]}
    elif name in ("pick_place_pan", "pick_place_shake"):
        # a moving camera and a hand that rests on the cup before lifting it: the grasp starts when the cup moves
        grasp = (cup0[0], cup0[1] - 0.03)
        place = (0.80, 0.38 - 0.03)
        a, b = f(0.40), f(0.66)
        hand = Keyframes([0, f(0.15), a, b, f(0.74), n - 1],
                         [(0.10, 0.85), grasp, grasp, place, place, (0.55, 0.88)]).at(t)
        cup = np.tile(cup0, (n, 1))
        cup[a : b + 1] = hand[a : b + 1] + (np.array(cup0) - np.array(grasp))
        cup[b + 1 :] = cup[b]
        if name == "pick_place_pan":  # a steady pan right and a little down
            pan = np.stack([np.linspace(0, 0.12, n), np.linspace(0, 0.04, n)], axis=1)
        else:  # a hand-held shake: a few pixels back and forth, never still
            pan = np.stack([0.012 * np.sin(2 * np.pi * t / 7.0) + 0.006 * np.sin(2 * np.pi * t / 3.1),
                            0.010 * np.sin(2 * np.pi * t / 5.3 + 1.0)], axis=1)
        centers = {1: hand - pan, 2: cup - pan, 3: np.tile(box0, (n, 1)) - pan}
        attach = (a, b)
        task = "put the cup to the right of the box"
        events = {"grasp": a, "carry": [a, b - 1], "place": b}
    elif name == "idle":
        hand = Keyframes([0, f(0.5), n - 1], [(0.15, 0.88), (0.85, 0.88), (0.5, 0.9)]).at(t)
        centers = {1: hand, 2: np.tile(cup0, (n, 1)), 3: np.tile(box0, (n, 1))}
        task = ""
    elif name == "pan":
        pan = np.stack([np.linspace(0, 0.15, n), np.zeros(n)], axis=1)  # the camera moves right: scene goes left
        centers = {1: np.tile((0.15, 0.85), (n, 1)), 2: np.tile(cup0, (n, 1)), 3: np.tile(box0, (n, 1))}
        centers = {k: v - pan for k, v in centers.items()}
        task = ""
    else:
        raise ValueError(f"unknown scenario {name!r}; have pick_place, push, handover, idle, pan, pick_place_pan, "
                         "pick_place_shake, random")
    return centers, attach, pan, task, events


RANDOM_CAMERAS = ("still", "pan", "shake", "zoom")


def random_scene(seed: int, n: int) -> dict:
    """A pick-and-place drawn from `seed` (see the module's docstring): centers per track (n, 2) in the camera's
    view before zoom, the carry interval, the camera's pan (n, 2) and zoom (n,), the frames the hand is occluded,
    the true events."""
    rng = np.random.default_rng(10_000 + seed)  # apart from the textures' stream (`make_scene`'s seed)
    t = np.arange(n, dtype=float)
    camera = RANDOM_CAMERAS[seed % len(RANDOM_CAMERAS)]  # every kind in turn over consecutive seeds
    cup0 = np.array([rng.uniform(0.18, 0.32), rng.uniform(0.55, 0.70)])
    box0 = np.array([rng.uniform(0.50, 0.62), rng.uniform(0.30, 0.42)])
    box_leaves = camera == "pan" and (seed // len(RANDOM_CAMERAS)) % 2 == 1  # every other pan seed
    if box_leaves:  # the box near the right edge, the cup put left of it; the pan then carries the box out
        box0 = np.array([rng.uniform(0.78, 0.82), rng.uniform(0.16, 0.22)])
    grasp = cup0 - [0, 0.03]  # the hand covers the cup's top
    place = box0 + ([-rng.uniform(0.20, 0.24), 0.02] if box_leaves else [rng.uniform(0.20, 0.26), -0.03])
    arrive = int(rng.integers(int(0.12 * n), int(0.20 * n)))
    a = arrive + int(rng.integers(0, int(0.18 * n)))  # the dwell: resting on the cup before lifting it
    b = min(a + int(rng.integers(int(0.25 * n), int(0.35 * n))), n - 8)
    leave = min(b + int(rng.integers(3, 7)), n - 2)
    hand = Keyframes([0, arrive, a, b, leave, n - 1],
                     [(0.10, 0.88), tuple(grasp), tuple(grasp), tuple(place), tuple(place),
                      (rng.uniform(0.45, 0.65), 0.88)]).at(t)
    cup = np.tile(cup0, (n, 1))
    cup[a: b + 1] = hand[a: b + 1] + (cup0 - grasp)
    cup[b + 1:] = cup[b]
    pan, zoom = np.zeros((n, 2)), np.ones(n)
    if camera == "pan":  # a steady pan; where the box leaves, leftward and far enough to carry it off the right edge
        dx = -rng.uniform(0.30, 0.34) if box_leaves else rng.uniform(0.06, 0.14)
        pan = np.stack([np.linspace(0, dx, n), np.linspace(0, rng.uniform(-0.04, 0.04), n)], 1)
    elif camera == "shake":
        ph = rng.uniform(0, 2 * np.pi, 2)
        pan = np.stack([0.012 * np.sin(2 * np.pi * t / 7.0 + ph[0]) + 0.006 * np.sin(2 * np.pi * t / 3.1),
                        0.010 * np.sin(2 * np.pi * t / 5.3 + ph[1])], axis=1)
    elif camera == "zoom":
        zoom = np.linspace(1.0, rng.uniform(1.15, 1.3), n)
    occluded = np.zeros(n, bool)
    if rng.random() < 0.4:  # a few frames of the carry with the hand hidden under an occluder (and unlabeled)
        o = int(rng.integers(a + 3, max(a + 4, b - 6)))
        occluded[o: o + int(rng.integers(3, 6))] = True
    centers = {1: hand - pan, 2: cup - pan, 3: np.tile(box0, (n, 1)) - pan}
    return {"centers": centers, "attach": (a, b), "pan": pan, "zoom": zoom, "occluded": occluded,
            "camera": camera, "box_leaves": bool(box_leaves),
            "task": f"put the cup to the {'left' if box_leaves else 'right'} of the box",
            "events": {"grasp": a, "carry": [a, b - 1], "place": b}}


def _texture(rng: np.random.Generator, h: int, w: int, base: tuple[int, int, int], amp: float) -> np.ndarray:
    import cv2

    noise = rng.normal(0, 1, (h, w, 1)).astype(np.float32)
    noise = cv2.GaussianBlur(noise, (0, 0), 1.5)[..., None]
    noise /= noise.std() + 1e-6
    return np.clip(np.array(base, np.float32) + amp * noise, 0, 255).astype(np.uint8)


def make_scene(
    out_dir: str | Path,
    scenario: str = "pick_place",
    n_frames: int = 60,
    fps: int = 15,
    size_px: tuple[int, int] = (240, 320),
    seed: int = 0,
) -> dict:
    """Render a scene into out_dir (scene.mp4, gt.txt, truth.json); return the truth dict."""
    import av

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    h, w = size_px
    rng = np.random.default_rng(seed)
    zoom, occluded, extra = np.ones(n_frames), np.zeros(n_frames, bool), {}
    if scenario == "random":
        drawn = random_scene(seed, n_frames)
        centers, attach, pan, task, events = (drawn[k] for k in ("centers", "attach", "pan", "task", "events"))
        zoom, occluded = drawn["zoom"], drawn["occluded"]
        extra = {"camera": drawn["camera"], "box_leaves": drawn["box_leaves"],
                 "occluded": np.nonzero(occluded)[0].tolist(), "zoom": zoom.tolist()}
    else:
        centers, attach, pan, task, events = _scenario(scenario, n_frames)
    pad = int(0.2 * w)  # room for the camera to pan over a larger table
    if scenario == "random":  # ... as far as it pans
        pad += int(np.ceil(np.abs(pan).max() * max(h, w)))
    table = _texture(rng, h + 2 * pad, w + 2 * pad, (150, 120, 90), 40)
    tracks = sorted(centers)
    sprites = {k: _texture(rng, max(2, int(SIZES[k][1] * h)), max(2, int(SIZES[k][0] * w)), COLORS[k], 45)
               for k in tracks}
    boxes = {k: np.zeros((n_frames, 4)) for k in tracks}  # pixel xyxy (float, as labeled)
    container = av.open(str(out / "scene.mp4"), mode="w")
    stream = container.add_stream("libx264", rate=fps)
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    stream.options = {"crf": "12", "preset": "veryfast", "g": "15"}
    for t in range(n_frames):
        ox, oy = int(round(pad + pan[t, 0] * w)), int(round(pad + pan[t, 1] * h))
        frame = table[oy : oy + h, ox : ox + w].copy()
        for k in [k for k in (3, 2, 1, 4) if k in centers]:  # box, cup, then the hands on top
            sh, sw = sprites[k].shape[:2]
            cx, cy = centers[k][t, 0] * w, centers[k][t, 1] * h
            x0, y0 = int(round(cx - sw / 2)), int(round(cy - sh / 2))
            xa, ya, xb, yb = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
            if xb > xa and yb > ya:
                frame[ya:yb, xa:xb] = sprites[k][ya - y0 : yb - y0, xa - x0 : xb - x0]
            boxes[k][t] = (x0, y0, x0 + sw, y0 + sh)
        if occluded[t]:  # a grey cloth over the hand
            x0, y0, x1, y1 = boxes[1][t].astype(int)
            frame[max(y0 - 4, 0): max(min(y1 + 4, h), 0), max(x0 - 4, 0): max(min(x1 + 4, w), 0)] = (128, 128, 128)
        if zoom[t] != 1.0:  # zoom in about the image center: pixels and boxes scale alike
            import cv2

            z, cx, cy = zoom[t], w / 2, h / 2
            m = np.array([[z, 0, cx * (1 - z)], [0, z, cy * (1 - z)]], np.float32)
            frame = cv2.warpAffine(frame, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
            for k in tracks:
                boxes[k][t] = boxes[k][t] * z + [cx * (1 - z), cy * (1 - z)] * 2
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
        for packet in stream.encode(vf):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()

    with open(out / "gt.txt", "w") as fh:
        for t in range(n_frames):
            for k in tracks:
                x0, y0, x1, y1 = boxes[k][t]
                if scenario == "random":  # a labeler boxes what is in the frame, and nothing hidden
                    x0, y0, x1, y1 = np.clip(boxes[k][t], 0, [w, h, w, h])
                    if x1 - x0 < 1 or y1 - y0 < 1 or (k == 1 and occluded[t]):
                        continue
                fh.write(f"{t + 1},{k},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},1,{TRACK_CLASS[k]},1\n")
    centers_norm = {k: (box_geometry.centers(boxes[k]) / [w, h]) for k in tracks}
    hand = centers_norm[1]
    gripper = np.zeros(n_frames, int)
    if attach is not None:
        gripper[attach[0] : attach[1]] = 1  # command at t moves the attached cup from t to t+1
    truth = {
        "scenario": scenario,
        "fps": fps,
        "n_frames": n_frames,
        "size_px": [h, w],
        "classes": CLASSES,
        "task": task,
        "attach": list(attach) if attach else None,
        "events": events,
        "gripper": gripper.tolist(),
        "hand_center": hand.tolist(),
        "hand_velocity": np.vstack([np.diff(hand, axis=0), [[0.0, 0.0]]]).tolist(),
        "centers": {str(k): v.tolist() for k, v in centers_norm.items()},
        "camera_pan": pan.tolist(),
        **extra,
    }
    (out / "truth.json").write_text(json.dumps(truth))
    return truth


def make_corpus(root: str | Path, n: int, frames: int = 24, size_px: tuple[int, int] = (96, 128),
                scenarios: tuple[str, ...] = ("pick_place", "push", "idle", "pan"), name: str = "corpus",
                output: str = "out/corpus") -> list[Path]:
    """n small labeled clips `root/clip0000/` (the scenarios in turn, seed = index) and `root/recipe.yaml` that
    builds them all (tests and bench_scale)."""
    dirs = []
    for i in range(n):
        d = Path(root) / f"clip{i:04d}"
        make_scene(d, scenarios[i % len(scenarios)], n_frames=frames, fps=15, size_px=size_px, seed=i)
        dirs.append(d)
    (Path(root) / "recipe.yaml").write_text(
        f"name: {name}\nsources:\n  - video: clip*/scene.mp4\n    labels: \"{{dir}}/gt.txt\"\n"
        f"    classes: {{1: hand, 2: cup, 3: box}}\nactor: hand\nfps: 15\nimage_size: [{size_px[0]}, {size_px[1]}]\n"
        f"output: {output}\n")
    return dirs
