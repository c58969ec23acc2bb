"""vla_builder: upcycle labeled video (boxes, classes, tracks) into LeRobot v3.0 episodes.

  python -m vla_builder build RECIPE [--output DIR] [--set key=value ...]   build a dataset (or a text / image set)
  python -m vla_builder inspect DATASET [--json]                          what is in it: episodes, tasks, stats
  python -m vla_builder report DATASET                                    HTML QA report: overlay videos, plots
  python -m vla_builder export hdf5 DATASET OUT.h5                        robomimic-layout HDF5
  python -m vla_builder validate DATASET                                   check a dataset as training will read it
  python -m vla_builder labels check RECIPE                               dry run of the labels: formats, counts

Every command takes --help, --quiet, --json and --version.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

# Offline by design: nothing may reach a hub at run time (a broken local dataset would otherwise make lerobot try
# to download it, which shows up as a misleading OfflineModeIsEnabled error much later).
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "YOLO_OFFLINE"):
    os.environ.setdefault(_var, "1")
# Quiet libraries' progress bars and the AV1 encoder's banner: our own log says what happens per clip.
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("SVT_LOG", "1")


def _common() -> argparse.ArgumentParser:
    """--quiet, --json and --version, on every subcommand."""
    from vla_builder import __version__

    c = argparse.ArgumentParser(add_help=False)
    c.add_argument("--version", action="version", version=f"vla_builder {__version__}")
    c.add_argument("-q", "--quiet", action="store_true", help="no progress or log lines; errors and the result only")
    c.add_argument("--json", action="store_true", help="print the result as one JSON object on stdout (implies no "
                                                       "progress bar; log lines go to stderr)")
    return c


def _parser() -> argparse.ArgumentParser:
    from vla_builder import __version__

    p = argparse.ArgumentParser(prog="python -m vla_builder", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"vla_builder {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    common = _common()
    b = sub.add_parser("build", parents=[common], help="build a LeRobot v3.0 dataset from a recipe")
    b.add_argument("recipe", type=Path, help="recipe YAML")
    b.add_argument("--output", type=Path, help="output dataset folder (overrides the recipe's 'output')")
    b.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, dotted for nested keys (e.g. --set fps=10 --set motion.preset=medium)")
    b.add_argument("--runner", choices=["local", "ray"], help="override the recipe's runner")
    b.add_argument("--fail-fast", action="store_true", default=None, help="stop at the first failed clip")
    b.add_argument("--overwrite", action="store_true",
                   help="rebuild even if the output is up to date (only ever replaces a dataset built here)")
    b.add_argument("--no-report", action="store_true", help="skip the HTML QA report (report/index.html)")
    b.add_argument("--max-videos", type=int, default=20, metavar="N",
                   help="overlays in the build's report: the first N episodes (default 20; `report` does all)")
    v = sub.add_parser("validate", parents=[common],
                       help="open a dataset as training would and name the cause of any problem")
    v.add_argument("dataset", type=Path, help="dataset folder (with meta/info.json)")
    i = sub.add_parser("inspect", parents=[common],
                       help="episodes, frames, tasks, label verdicts, action/state stats, sources, licences")
    i.add_argument("dataset", type=Path, help="dataset folder (with meta/info.json)")
    r = sub.add_parser("report", parents=[common],
                       help="write the HTML QA report (overlay videos, action/state plots, events, verdicts)")
    r.add_argument("dataset", type=Path, help="dataset folder (with meta/info.json)")
    r.add_argument("--output", type=Path, help="report folder (default: DATASET/report)")
    r.add_argument("--max-episodes", type=int, default=500, metavar="N",
                   help="a section with plots for the first N episodes, the rest as table rows (default 500)")
    r.add_argument("--max-videos", type=int, default=None, metavar="N",
                   help="overlay videos for the first N of those only (default: all of them)")
    r.add_argument("--burn-in", action="store_true",
                   help="draw the overlays into H.264 videos in the report folder (plays in any browser, travels "
                        "without the dataset; decodes and encodes every frame) instead of over the dataset's videos")
    lab = sub.add_parser("labels", help="look at a recipe's labels without building")
    lsub = lab.add_subparsers(dest="labels_command", required=True)
    lc = lsub.add_parser("check", parents=[common], help="per source: format, counts, first boxes and segments, "
                                                          "warnings; reads labels and probes only (no decode)")
    lc.add_argument("recipe", type=Path, help="recipe YAML")
    lc.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a recipe key, as for build")
    e = sub.add_parser("export", help="export a dataset to another format")
    esub = e.add_subparsers(dest="format", required=True)
    h = esub.add_parser("hdf5", parents=[common],
                        help="robomimic-layout HDF5 (data/demo_N/{obs,actions,dones,rewards}, mask/train|valid)")
    h.add_argument("dataset", type=Path, help="dataset folder (with meta/info.json)")
    h.add_argument("out", type=Path, help="the .h5 file to write")
    h.add_argument("--valid-frac", type=float, default=0.1, help="share of demos in mask/valid (default 0.1)")
    h.add_argument("--seed", type=int, default=0, help="seed of the train/valid split")
    h.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    return p


def _emit(args: argparse.Namespace, result: dict, text: str) -> None:
    if args.json:
        print(json.dumps(result, default=str))
    elif text:
        print(text)


def _open_dataset_error(args: argparse.Namespace, e: Exception) -> int:
    print(f"error: {e}", file=sys.stderr)
    return 1


def cmd_inspect(args: argparse.Namespace) -> int:
    from vla_builder.dataset_view import DatasetError
    from vla_builder.inspect_dataset import format_text, summarize

    if images_manifest(args.dataset):  # an image-track output: its manifest is the summary
        m = json.loads((args.dataset / "manifest.json").read_text())
        c = m["counts"]
        _emit(args, m, f"image records: {c['records']} from {c['images']} images ({c['problems']} problems)\n"
                       f"by kind: {m['records_by_kind']}\nlanguages: {m['languages']}\n"
                       + "\n".join(f"source {s['labels']}: {s.get('format', s.get('error'))}, {s['objects']} objects, "
                                    f"{s['named']} named, licence {s.get('licence')}" for s in m["sources"]))
        return 0
    try:
        summary = summarize(args.dataset)
    except DatasetError as e:
        return _open_dataset_error(args, e)
    _emit(args, summary, format_text(summary))
    return 0


def images_manifest(folder: Path) -> bool:
    """An image-track output (records + manifest.json of kind images), not a LeRobot dataset."""
    try:
        return json.loads((folder / "manifest.json").read_text()).get("kind") == "images"
    except (OSError, ValueError, AttributeError):
        return False


def cmd_report(args: argparse.Namespace) -> int:
    if images_manifest(args.dataset):
        from vla_builder.images.report import write_images_report

        page = write_images_report(args.dataset, args.output)
        _emit(args, {"report": page}, f"report: {page}")
        return 0
    from vla_builder.dataset_view import DatasetError, DatasetView
    from vla_builder.progress import Progress
    from vla_builder.report import write_report

    try:
        view = DatasetView(args.dataset)
        n = min(view.n_episodes, *(x for x in (args.max_videos, args.max_episodes) if x is not None))
        frames = int(view.episodes_table["length"].iloc[:n].sum())
        bar = Progress("report", "frame", enabled=not (args.quiet or args.json))
        bar.start(frames)
        result = write_report(args.dataset, args.output, max_videos=args.max_videos,
                              max_episodes=args.max_episodes, on_frames=lambda k: bar.advance(n=k),
                              burn_in=args.burn_in)
        bar.close()
    except DatasetError as e:
        return _open_dataset_error(args, e)
    _emit(args, result, f"report: {result['report']}  ({result['episodes']} episodes, {result['videos']} overlay "
                        f"videos, {result['seconds']:.1f} s)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from vla_builder.dataset_view import DatasetError, DatasetView
    from vla_builder.export_hdf5 import export_hdf5
    from vla_builder.progress import Progress

    if args.out.exists() and not args.overwrite:
        print(f"error: {args.out} exists; pass --overwrite to replace it", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    try:
        view = DatasetView(args.dataset)
        bar = Progress("export hdf5", "frame", enabled=not (args.quiet or args.json))
        bar.start(view.n_frames * max(1, len(view.camera_keys)))
        result = export_hdf5(args.dataset, args.out, valid_frac=args.valid_frac, seed=args.seed,
                             on_frames=lambda k: bar.advance(n=k))
        bar.close()
    except DatasetError as e:
        return _open_dataset_error(args, e)
    result["seconds"] = round(time.perf_counter() - t0, 2)
    _emit(args, result, f"hdf5: {result['output']}  ({result['demos']} demos, {result['frames']} frames; "
                        f"train {result['train']}, valid {result['valid']}; {result['bytes'] / 1e6:.1f} MB in "
                        f"{result['seconds']:.1f} s)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    import dataclasses

    from vla_builder.progress import Progress
    from vla_builder.validate import validate

    # long datasets take minutes: episodes checked so far on stderr (off with --quiet / --json)
    report = validate(args.dataset, Progress("validate", "episode", enabled=not (args.quiet or args.json)))
    if args.json:
        result = dataclasses.asdict(report) if dataclasses.is_dataclass(report) else dict(vars(report))
        print(json.dumps({"dataset": str(args.dataset), "ok": report.ok, **result}, default=str))
        return 0 if report.ok else 1
    if report.ok:
        if args.quiet:
            return 0
        print(f"OK: {args.dataset}: {report.episodes} episodes, {report.frames} frames, "
              f"{report.frames_decoded} video frames decoded, timestamps within lerobot's tolerance, "
              f"{report.statements_checked} reasoning statements recomputed")
        return 0
    print(f"INVALID: {args.dataset}: {len(report.problems)} problem(s):", file=sys.stderr)
    for p in report.problems:
        print(f"  - {p}", file=sys.stderr)
    return 1


def cmd_labels_check(args: argparse.Namespace) -> int:
    """Exit 0: every source's labels read; 1: some source has an error (each printed with its file); 2: recipe."""
    from dataclasses import asdict

    from vla_builder.recipe import RecipeError, load_recipe
    from vla_builder.sources.labels.check import check_recipe, format_checks

    t0 = time.perf_counter()
    if recipe_kind(args.recipe) == "text":
        _emit(args, {"sources": [], "errors": 0, "kind": "text"}, f"{args.recipe}: a text-track recipe "
              "(kind: text) has no video labels; `build` checks its sources")
        return 0
    try:
        loaded = load_recipe(args.recipe, args.overrides)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    checks = check_recipe(loaded)
    secs = time.perf_counter() - t0
    bad = sum(bool(c.errors) for c in checks)
    _emit(args, {"sources": [asdict(c) for c in checks], "errors": bad, "seconds": round(secs, 3)},
          format_checks(checks) + f"\n{len(checks)} source(s), {bad} with errors, {secs:.2f} s")
    return 1 if bad else 0


def recipe_kind(path: Path) -> str:
    """`kind: text` recipes go to the text track, `kind: images` to the image track; everything else is video."""
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
    if recipe_kind(args.recipe) == "images":
        from vla_builder.images.build import build_images_cli

        return build_images_cli(args)

    try:
        loaded = load_recipe(args.recipe, args.overrides)
    except RecipeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from vla_builder.build import EXIT_BAD_RECIPE, BuildError, build

    from vla_builder.progress import Progress

    quiet = args.quiet or args.json
    bar = Progress("build", "clip", enabled=not quiet)
    stage_s: dict[str, float] = {}

    class BuildProgress:  # the bar, plus seconds per stage for the summary table
        def start(self, total: int, resumed: int) -> None:
            bar.start(total, resumed)

        def advance(self, outcome) -> None:
            for stage, secs in (getattr(outcome, "seconds_by_stage", None) or {}).items():
                stage_s[stage] = stage_s.get(stage, 0.0) + secs
            bar.advance(outcome)

    def log(message: str) -> None:
        if args.json:
            bar.write(message, file=sys.stderr)  # stdout holds the JSON result only
        elif not args.quiet:
            bar.write(message)
        elif "FAILED" in message or "NOT RUN" in message:
            print(message, file=sys.stderr, flush=True)  # failures are shown even with --quiet

    try:
        report = build(loaded, output=args.output, runner=args.runner, fail_fast=args.fail_fast,
                       overwrite=args.overwrite, log=log, progress=BuildProgress())
    except BuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_RECIPE
    finally:
        bar.close()
    failures_path = None
    if report.failures:
        failures_path = (report.output / "meta" / "failures.jsonl" if report.episodes else
                         report.output.parent / f".{report.output.name}.work" / "failures.jsonl").resolve()
    result = {"dataset": str(report.output.resolve()) if report.episodes else None, "up_to_date": report.up_to_date,
              "episodes": report.episodes, "frames": report.frames, "failed_clips": len(report.failures),
              "unfinished_clips": len(getattr(report, "unfinished", ())),
              "resumed": report.resumed, "wall_s": round(report.wall_s, 3), "failures_file": failures_path,
              "seconds_by_stage": {k: round(v, 3) for k, v in stage_s.items()}, "report": None,
              "label_verdicts": getattr(report, "verdicts", {}),
              "exit_code": report.exit_code if not report.up_to_date else 0}
    if report.up_to_date:
        _emit(args, result, f"up to date: {report.output} ({report.episodes} episodes, {report.frames} frames); "
                            "--overwrite rebuilds")
        return 0
    if report.episodes and not args.no_report:
        from vla_builder.report import write_report

        try:
            result["report"] = write_report(report.output, max_videos=args.max_videos, max_episodes=100)["report"]
        except Exception as e:  # the dataset is built and committed; a report problem must not hide that
            print(f"warning: the QA report could not be written: {type(e).__name__}: {e}", file=sys.stderr)
    if args.json:
        _emit(args, result, "")
        return result["exit_code"]
    if args.quiet:
        if report.episodes:
            print(report.output.resolve())
    else:
        print(summary_table(result))
    if failures_path is not None:
        print(f"failures: {failures_path}", file=sys.stderr if args.quiet else sys.stdout)
    if result["unfinished_clips"]:
        print(f"{result['unfinished_clips']} clip(s) not run (workers or nodes lost, retries spent): rerun the same "
              "command to finish", file=sys.stderr if args.quiet else sys.stdout)
    return report.exit_code


def summary_table(r: dict) -> str:
    """The end-of-build summary: the dataset, counts, throughput and where each stage's time went."""
    fps = r["frames"] / r["wall_s"] if r["wall_s"] else 0.0
    lines = [f"dataset:  {r['dataset'] or '(none written)'}",
             f"episodes: {r['episodes']}  frames: {r['frames']}  failed clips: {r['failed_clips']}"
             + (f"  resumed: {r['resumed']}" if r["resumed"] else ""),
             f"wall time: {r['wall_s']:.1f} s  ({fps:.1f} frames/s)"]
    if r.get("label_verdicts"):
        lines.append("labels:   " + ", ".join(f"{k} {n}" for k, n in r["label_verdicts"].items())
                     + "  (human labels checked against the footage)")
    if r["report"]:
        lines.append(f"report:   {r['report']}")
    total = sum(r["seconds_by_stage"].values())
    if total > 0:
        lines += ["", f"{'stage':<14}{'seconds':>9}{'share':>8}"]
        for stage, secs in sorted(r["seconds_by_stage"].items(), key=lambda kv: -kv[1]):
            if secs >= 0.005:
                lines.append(f"{stage:<14}{secs:>9.2f}{secs / total:>8.0%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "build":
        return cmd_build(args)
    if args.command == "validate":
        return cmd_validate(args)
    if args.command == "inspect":
        return cmd_inspect(args)
    if args.command == "report":
        return cmd_report(args)
    if args.command == "export":
        return cmd_export(args)
    if args.command == "labels":
        return cmd_labels_check(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
