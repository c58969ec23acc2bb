"""LeRobot-style single-frame episodes of the image track (`lerobot: true`): one episode per pointing or action
record, for trainers that read only LeRobot datasets.

Each episode is one frame: `observation.image` (the image letterboxed to `lerobot_image_size`, stored as an image,
no video), `action` = [point_x, point_y, box_x0, box_y0, box_x1, box_y1] normalized to that letterboxed frame (the
target-location answer: where to point or grasp, and the target's box), and the record's question as the task.
Referring and VQA records have no point to act on and stay in the chat records only. Written with lerobot's own
writer; `LeRobotDataset(repo_id, root=OUT/lerobot)` loads it (tested).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

ACTION_NAMES = ["point_x", "point_y", "box_x0", "box_y0", "box_x1", "box_y1"]
KINDS = ("pointing", "action")


def _letterbox(path: Path, size_hw: tuple[int, int]) -> tuple[np.ndarray, float, float, float]:
    """The image scaled to fit `size_hw` on a black canvas: (pixels, scale, x offset, y offset)."""
    from PIL import Image

    h, w = size_hw
    with Image.open(path) as im:
        im = im.convert("RGB")
        s = min(w / im.width, h / im.height)
        nw, nh = max(1, round(im.width * s)), max(1, round(im.height * s))
        canvas = Image.new("RGB", (w, h))
        x0, y0 = (w - nw) // 2, (h - nh) // 2
        canvas.paste(im.resize((nw, nh), Image.Resampling.BILINEAR), (x0, y0))
        return np.asarray(canvas), s, x0, y0


def write_lerobot(root: Path, rows: list[dict], size_hw: tuple[int, int], repo_id: str) -> int:
    """Write the episodes under `root / "lerobot"`; returns how many."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    out = root / "lerobot"
    if out.exists():
        shutil.rmtree(out)  # lerobot's create() wants a fresh folder; this one is ours (inside the output)
    h, w = size_hw
    features = {"observation.image": {"dtype": "image", "shape": (h, w, 3), "names": ["height", "width", "channels"]},
                "action": {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": ACTION_NAMES}}
    ds = LeRobotDataset.create(repo_id=repo_id, fps=1, features=features, root=out, use_videos=False)
    n = 0
    try:
        for r in rows:
            if r["kind"] not in KINDS:
                continue
            pixels, s, x0, y0 = _letterbox(root / r["image_path"], size_hw)
            answer = json.loads(r["answer"])
            box = answer.get("box") or _target_box(r)
            iw, ih = r["width"], r["height"]

            def fx(v: float, iw: float = iw) -> float:
                return (v * iw * s + x0) / w

            def fy(v: float, ih: float = ih) -> float:
                return (v * ih * s + y0) / h

            px, py = answer["point"]
            action = np.array([fx(px), fy(py), fx(box[0]), fy(box[1]), fx(box[2]), fy(box[3])], np.float32)
            question = next(p["text"] for p in r["messages"][1]["content"] if p["type"] == "text")
            ds.add_frame({"observation.image": pixels, "action": action, "task": question})
            ds.save_episode()
            n += 1
    finally:
        ds.finalize()
    return n


def _target_box(r: dict) -> list[float]:
    """A pointing record's target box (its answer is the point only): the first evidence label, normalized."""
    e = json.loads(r["evidence"])[0]["box_px"]
    return [e[0] / r["width"], e[1] / r["height"], e[2] / r["width"], e[3] / r["height"]]
