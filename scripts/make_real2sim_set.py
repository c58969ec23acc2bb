"""Lay out the Real2Sim clip (Something-Something v2 video 13956, Something-Else boxes) in the development set's
layout, for `eval_real.py --dev DIR`: a first look on a clip the label check and interaction rules were never tuned on.

    python scripts/make_real2sim_set.py REAL2SIM_GIT_DIR VIDEO_SKILLS_GIT_DIR OUT_DIR

REAL2SIM_GIT_DIR: a checkout or bare snapshot of github.com/makarandtapaswi/Real2Sim_CoRL2020 (commit 2b15d5a), whose
`labels/something_else_annots.json` holds the Something-Else records of 64 clips. VIDEO_SKILLS_GIT_DIR: one of
github.com/petrikvladimir/video_skills_learning_with_approx_physics (commit 09376a3), whose
`doc/render_13956_1_1_video.gif` is the only copy of any of those clips' frames found on public GitHub. OUT_DIR gets
`frames/13956/NNNN.png` (the GIF's frames, decoded losslessly; frame k is the record named `13956/000k.jpg`),
`annotations.json` (the clip's records, unchanged) and the captions and README of `tests/assets/labels/real2sim_new/`.
The frames are Something-Something v2 (research use) in a GPL-3.0 repository: never copied into this repository.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from PIL import Image

from make_something_else_set import finish_set, git

CAPTIONS = Path(__file__).resolve().parents[1] / "tests" / "assets" / "labels" / "real2sim_new"
GIFS = {"13956": "doc/render_13956_1_1_video.gif"}  # clip id -> its frames in the video-skills repository


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("real2sim", type=Path)
    ap.add_argument("video_skills", type=Path)
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    annotations = json.loads(git(args.real2sim, "show", "HEAD:labels/something_else_annots.json"))
    for cid, gif_path in GIFS.items():
        gif = Image.open(io.BytesIO(git(args.video_skills, "show", f"HEAD:{gif_path}")))
        if gif.n_frames != len(annotations[cid]):  # frame k <-> record k only holds if the counts agree
            raise SystemExit(f"{gif_path}: {gif.n_frames} frames, but {len(annotations[cid])} box records for {cid}")
        dest = args.out / "frames" / cid
        dest.mkdir(parents=True, exist_ok=True)
        for k in range(gif.n_frames):
            gif.seek(k)
            gif.convert("RGB").save(dest / f"{k + 1:04d}.png")
    finish_set(args.out, {cid: annotations[cid] for cid in GIFS}, CAPTIONS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
