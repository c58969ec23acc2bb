"""Lay out clips of `joaanna/something_else` in the development set's layout, for `eval_real.py --dev DIR`.

    python scripts/make_something_else_set.py REPO_GIT_DIR OUT_DIR [--ids 13201 862 ...]

REPO_GIT_DIR: a checkout or bare snapshot of github.com/joaanna/something_else (commit 74fa88e); OUT_DIR gets
`frames/<id>/NNNN.jpg` (bytes as committed), `annotations.json` (the clips' records, unchanged) and the captions and
README of `tests/assets/labels/something_else_extra/`. The frames are Something-Something v2 (research use): they are
never copied into this repository. Default ids: the seven clips the development set lacks.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path

EXTRA = Path(__file__).resolve().parents[1] / "tests" / "assets" / "labels" / "something_else_extra"


def git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def finish_set(out: Path, records: dict, captions: Path) -> None:
    """Beside the laid-out frames: the clips' box records, unchanged, and the set's captions and README."""
    (out / "annotations.json").write_text(json.dumps(records))
    for name in ("README.md", "labels.json", "as_written.json"):
        shutil.copy(captions / name, out / name)
    print(f"{len(records)} clip(s) laid out in {out}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--ids", nargs="+", default=[r["id"] for r in json.loads((EXTRA / "labels.json").read_text())])
    args = ap.parse_args()
    annotations = json.loads(git(args.repo, "show", "HEAD:annotations.json"))
    missing = [i for i in args.ids if i not in annotations]
    if missing:
        raise SystemExit(f"{args.repo}: annotations.json has no records for clips {missing}")
    for cid in args.ids:
        dest = args.out / "frames" / cid
        dest.mkdir(parents=True, exist_ok=True)
        for path in git(args.repo, "ls-tree", "--name-only", "HEAD", f"videos/{cid}/").decode().split():
            (dest / Path(path).name).write_bytes(git(args.repo, "show", f"HEAD:{path}"))
    finish_set(args.out, {i: annotations[i] for i in args.ids}, EXTRA)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
