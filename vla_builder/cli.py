"""vla_builder: upcycle labeled video (boxes, classes, tracks) into LeRobot v3.0 episodes.

  python -m vla_builder build RECIPE [--output DIR] [--set key=value ...]   build a dataset (or a text-track set)
  python -m vla_builder validate DATASET                                   check a dataset as training will read it
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Offline by design: nothing may reach a hub at run time (a broken local dataset would otherwise make lerobot try
# to download it, which shows up as a misleading OfflineModeIsEnabled error much later).
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "YOLO_OFFLINE"):
    os.environ.setdefault(_var, "1")
# Quiet libraries' progress bars and the AV1 encoder's banner: our own log says what happens per clip.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("SVT_LOG", "1")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vla_builder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="build a LeRobot v3.0 dataset from a recipe")
    b.add_argument("recipe", type=Path, help="recipe YAML")
    b.add_argument("--output", type=Path, help="output dataset folder (overrides the recipe's 'output')")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, dotted for nested keys (e.g. --set fps=10 --set motion.preset=medium)")
    b.add_argument("--runner", choices=["local", "ray"], help="override the recipe's runner")
    b.add_argument("--fail-fast", action="store_true", default=None, help="stop at the first failed clip")
    b.add_argument("--overwrite", action="store_true", help="rebuild even if the output is up to date")
    v = sub.add_parser("validate", help="open a dataset as training would and name the cause of any problem")
    v.add_argument("dataset", type=Path, help="dataset folder (with meta/info.json)")
    return p


def cmd_validate(args: argparse.Namespace) -> int:
    from vla_builder.validate import validate

    report = validate(args.dataset)
    if report.ok:
        print(f"OK: {args.dataset}: {report.episodes} episodes, {report.frames} frames, "
              f"{report.frames_decoded} video frames decoded, timestamps within lerobot's tolerance, "
              f"{report.statements_checked} reasoning statements recomputed")
        return 0
    print(f"INVALID: {args.dataset}: {len(report.problems)} problem(s):", file=sys.stderr)
    for p in report.problems:
        print(f"  - {p}", file=sys.stderr)
    return 1


def recipe_kind(path: Path) -> str:
    """`kind: text` recipes go to the text track; everything else is a video recipe."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return "video"  # load_recipe reports the problem
    return str(data.get("kind", "video")) if isinstance(data, dict) else "video"


def cmd_build(args: argparse.Namespace) -> int:
    from vla_builder.recipe import RecipeError, load_recipe

    if recipe_kind(args.recipe) == "text":
        from vla_builder.text.build import build_text_cli

        return build_text_cli(args)

    try:
        loaded = load_recipe(args.recipe, args.overrides)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from vla_builder.build import EXIT_BAD_RECIPE, BuildError, build

    try:
        report = build(loaded, output=args.output, runner=args.runner, fail_fast=args.fail_fast,
                       overwrite=args.overwrite, log=lambda m: print(m, flush=True))
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_RECIPE
    if report.up_to_date:
        print(f"up to date: {report.output} ({report.episodes} episodes, {report.frames} frames); "
              "--overwrite rebuilds")
        return 0
    print(f"dataset:  {report.output.resolve() if report.episodes else '(none written)'}")
    print(f"episodes: {report.episodes}  frames: {report.frames}  failed clips: {len(report.failures)}"
          f"{f'  resumed: {report.resumed}' if report.resumed else ''}")
    print(f"wall time: {report.wall_s:.1f} s")
    if report.failures:
        where = report.output / "meta" / "failures.jsonl" if report.episodes else \
            report.output.parent / f".{report.output.name}.work" / "failures.jsonl"
        print(f"failures: {where}")
    return report.exit_code


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        return cmd_build(args)
    if args.command == "validate":
        return cmd_validate(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
