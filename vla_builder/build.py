"""Plan and run a build: recipe -> clips -> runner -> shards -> merged LeRobot dataset.

Resumable: finished clips live as shards in `<output>/../.<name>.work/shards/`, each renamed into place when
complete; a rerun of the same command skips them. Failures are data (`failures.jsonl`), never a crashed build.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from vla_builder.pipeline import Failure, Pipeline, Resources
from vla_builder.prefetch import start_lerobot_import
from vla_builder.recipe import LoadedRecipe, Recipe
from vla_builder.sinks.lerobot import CLIP_RECORD, LeRobotSink, remove_tree
from vla_builder.sources.video import DecodeError, probe, probe_images
from vla_builder.track_build import EXIT_BAD_RECIPE, TrackReport  # noqa: F401 — cli takes EXIT_BAD_RECIPE from here
from vla_builder.types import Clip
from vla_builder.work import ClipOutcome, ClipTask

BUILD_RECORD = "vla_builder_build.json"


class BuildError(Exception):
    pass


@dataclass(frozen=True)
class PipelineFactory:
    """Picklable description of the stage list, so every worker builds (and sets up) its own pipeline.

    It holds the validated recipe: each stage gets its own section (a config model defined in the stage's file) or
    the top-level keys it uses; nothing is renamed or re-defaulted here."""

    recipe: Recipe
    fps: int
    detector_weights: str | None = None  # detector.weights resolved against the recipe's folder

    def key(self) -> str:
        """Identity of the pipeline (one set-up pipeline per worker and key)."""
        return json.dumps([self.recipe.model_dump(mode="json"), self.fps, self.detector_weights], sort_keys=True)

    def __hash__(self) -> int:
        return hash(self.key())

    @classmethod
    def from_recipe(cls, loaded: LoadedRecipe, fps: int) -> PipelineFactory:
        weights = loaded.detector_weights
        return cls(loaded.recipe, fps, str(weights) if weights is not None else None)

    @classmethod
    def of(cls, fps: int, detector_weights: str | None = None, **settings) -> PipelineFactory:
        """A factory from recipe keys alone, e.g. `of(15, actor="hand", motion={"method": "lk"})`: for scripts and
        tests that run clips without a recipe file (the recipe's validation still applies)."""
        recipe = Recipe.model_validate({"name": "adhoc", "sources": [{"video": "-"}], "fps": fps, **settings})
        return cls(recipe, fps, detector_weights)

    def detector_config(self):
        d = self.recipe.detector
        return d.model_copy(update={"weights": self.detector_weights}) if d is not None else None

    def resources(self) -> Resources:
        """What a worker running the whole pipeline needs, as its stages declare it (no model loaded)."""
        return Resources.enough_for(s.resources for s in self().stages)

    def __call__(self) -> Pipeline:
        from vla_builder.stages.decode import DecodeStage
        from vla_builder.stages.detect_track import DetectTrackStage
        from vla_builder.stages.interactions import InteractionStage
        from vla_builder.stages.language import LanguageStage
        from vla_builder.stages.motion import MotionStage
        from vla_builder.stages.probe import LabelsStage, ProbeStage
        from vla_builder.stages.trajectory import TrajectoryStage
        from vla_builder.stages.label_subtasks import LabelSubtasksStage
        from vla_builder.stages.verify_label import VerifyLabelStage

        r = self.recipe
        return Pipeline([
            ProbeStage(),
            LabelsStage(),
            # the decode pass keeps grey frames at motion's size: motion then never decodes the source again
            DecodeStage(fps=self.fps, image_size=tuple(r.image_size), backend=r.decoder,
                        gray_max_side_px=r.motion.max_side_px),
            DetectTrackStage(tracks=r.tracks, detector_config=self.detector_config(), actor=r.actor),
            MotionStage(r.motion),
            InteractionStage(actor=r.actor, config=r.interactions),
            VerifyLabelStage(config=r.label_check, actor=r.actor),
            LabelSubtasksStage(),
            TrajectoryStage(image_size=tuple(r.image_size)),
            LanguageStage(task=r.task, seed=r.seed, image_size=tuple(r.image_size)),
        ])


@dataclass
class BuildReport(TrackReport):
    episodes: int = 0
    frames: int = 0
    failures: list[Failure] = field(default_factory=list)  # failures.jsonl: clip, stage, file, reason
    unfinished: list[str] = field(default_factory=list)  # clips lost with their workers (Ray), retries spent
    resumed: int = 0
    up_to_date: bool = False
    records: list[dict] = field(default_factory=list)

    @property
    def built(self) -> int:
        return self.episodes

    @property
    def partial(self) -> bool:
        return bool(self.failures or self.unfinished)

    @property
    def verdicts(self) -> dict[str, int]:
        """Human labels checked against the footage: verdict -> episodes (dropped contradicted ones included)."""
        out: dict[str, int] = {}
        for r in self.records:
            v = (r.get("label_verdict") or {}).get("verdict")
            if v:
                out[v] = out.get(v, 0) + 1
        dropped = sum(f.stage == "verify_label" for f in self.failures)
        if dropped:
            out["contradicted (dropped)"] = dropped
        return out



def output_fps(loaded: LoadedRecipe) -> int:
    if loaded.recipe.fps is not None:
        return loaded.recipe.fps
    first = loaded.sources[0]
    try:
        info = probe(first.video) if first.video is not None else probe_images(first.media, first.frames_fps or 0)
    except DecodeError as e:
        raise BuildError(f"fps is not set and the first source cannot be probed for it: {e}") from None
    return max(1, int(round(info.fps)))


def _file_stamp(path: Path | None) -> list:
    if path is None:
        return []
    st = path.stat()
    return [str(path), st.st_size, st.st_mtime_ns]


def episode_specs(loaded: LoadedRecipe, warnings: list[str] | None = None) -> list:
    """Sources -> episodes: a segment file (EPIC CSV, `mapping:` segments) gives one episode per segment, a
    clip-label file gives the clip its caption. A broken one leaves its source whole: the labels stage then fails
    that clip with the reason (a failure record), the rest of the build carries on. `warnings` collects what the
    segment reading changed (merged repeats, spans cut at the video's end)."""
    from vla_builder.sources.labels import LabelError
    from vla_builder.sources.labels.segments import expand_episodes
    from vla_builder.sources.video import DecodeError

    out = []
    for spec in loaded.sources:
        try:
            out += expand_episodes(spec, warnings)
        except (LabelError, DecodeError, OSError):
            out.append(spec)
    from vla_builder.sources.split import split_specs

    # sources with `split:` become their pieces (shots, idle, max_s); longer episodes than the recipe's cap are cut
    return split_specs(out, loaded.recipe.max_episode_s)


def recipe_relative(path: Path | None, base: Path) -> str | None:
    """A provenance path: relative to the recipe's folder when inside it (the recipe travels with its data), else
    absolute — never relative to wherever the build was started."""
    if path is None:
        return None
    full, root = Path(os.path.abspath(path)), Path(os.path.abspath(base))
    return str(full.relative_to(root)) if full.is_relative_to(root) else str(full)


def make_clips(loaded: LoadedRecipe, warnings: list[str] | None = None) -> list[Clip]:
    clips, seen = [], set()
    for spec in episode_specs(loaded, warnings):
        base = loaded.path.parent
        clip_id = Clip.make_id(spec, base=base)
        n = 2
        while clip_id in seen:  # the same source listed twice is two episodes
            clip_id, n = f"{Clip.make_id(spec, base=base)}-{n}", n + 1
        seen.add(clip_id)
        clips.append(Clip(clip_id=clip_id, source=spec, provenance={
            "source": recipe_relative(spec.media, base), "labels": recipe_relative(spec.labels, base),
            "licence": spec.licence, "camera": spec.camera, "camera_kind": spec.camera_kind,
            **({"caption": spec.caption, "caption_origin": spec.caption_origin} if spec.caption else {}),
            **({"segment": spec.segment, "span_s": [spec.start_s, spec.end_s]} if spec.segment else {}),
        }))
    return clips


def code_fingerprint() -> str:
    """The builder's own code: a changed stage must not leave an old output 'up to date'."""
    h = hashlib.sha1()
    pkg = Path(__file__).resolve().parent
    for f in sorted(pkg.rglob("*.py")):
        h.update(f.relative_to(pkg).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def check_actor_class(loaded: LoadedRecipe) -> None:
    """`actor:` must name a class of the labels: BuildError (exit 2, nothing written) listing the classes otherwise.

    Reads labeled sources in order until one holds the class (usually the first, so a correct recipe pays for one
    probe and one label read). Only where the labels are all there is: a detector or MediaPipe hands add classes,
    and a recipe whose labels hold no manipulator at all makes the camera the actor (the interactions stage's rule).
    """
    recipe = loaded.recipe
    if not recipe.actor or recipe.detector is not None or recipe.tracks.hands:
        return
    from vla_builder.sources.labels import LabelError, read_labels
    from vla_builder.sources.video import DecodeError
    from vla_builder.actor import misspelt_actor

    want, classes = recipe.actor.lower(), set()
    for spec in loaded.sources:
        if spec.labels is None:
            continue
        try:
            info = probe(spec.video) if spec.video is not None else probe_images(spec.media, spec.frames_fps or 0)
            names = {str(n) for n in set(read_labels(spec, info).class_name.tolist())}
        except (LabelError, DecodeError, OSError):
            continue  # that clip fails later with its own reason
        if want in {n.lower() for n in names}:
            return
        classes |= names
    problem = misspelt_actor(recipe.actor, classes)
    if problem:
        raise BuildError(f"{loaded.path}: {problem}")


def resolved_motion(loaded: LoadedRecipe) -> dict:
    """The motion method, backend and device this machine runs (a backend that cannot run here: BuildError)."""
    from vla_builder.kernels import KernelUnavailable
    from vla_builder.stages.motion import describe, resolve_backend

    try:
        return describe(loaded.recipe.motion, resolve_backend(loaded.recipe.motion))
    except KernelUnavailable as e:
        raise BuildError(f"{loaded.path}: motion: {e}") from None


def fingerprint(loaded: LoadedRecipe, fps: int, motion: dict | None = None) -> str:
    """Settings, inputs, code and the resolved motion backend: a dataset is 'up to date' only for all four."""
    # motion.impl counts through what it resolves to (two spellings of the same backend: the same dataset)
    settings = loaded.recipe.model_dump(exclude={"output": True, "runner": True, "fail_fast": True,
                                                 "motion": {"impl"}})
    stamps = [_file_stamp(s.media) + _file_stamp(s.labels) + _file_stamp(s.segments) + _file_stamp(s.captions)
              for s in loaded.sources]
    stamps.append(_file_stamp(loaded.detector_weights))
    blob = json.dumps({"settings": settings, "fps": fps, "sources": stamps, "code": code_fingerprint(),
                       "motion": motion if motion is not None else resolved_motion(loaded)},
                      sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()


def make_runner(kind: str, config=None, log=print):
    """`config`: the recipe's `runner:` section (`RunnerConfig`)."""
    if kind == "local":
        from vla_builder.runners.local import LocalRunner

        return LocalRunner()
    if kind == "ray":
        from vla_builder.runners import RunnerConfig
        from vla_builder.runners.ray import RayRunner  # noqa: F401 — optional dependency

        c = config or RunnerConfig()
        return RayRunner(address=c.address, num_workers=c.num_workers, max_retries=c.max_retries,
                         retry_backoff_s=c.retry_backoff_s, clips_per_gpu=c.clips_per_gpu, log=log)
    raise BuildError(f"unknown runner {kind!r}; have local, ray")


def build(
    loaded: LoadedRecipe,
    output: Path | None = None,
    runner: str | None = None,
    fail_fast: bool | None = None,
    overwrite: bool = False,
    log=print,
    progress=None,  # optional: .start(n_clips, resumed) and .advance(outcome), e.g. cli's progress bar
) -> BuildReport:
    t0 = time.perf_counter()
    recipe = loaded.recipe
    output = Path(output) if output is not None else loaded.output
    fail_fast = recipe.fail_fast if fail_fast is None else fail_fast
    fps = output_fps(loaded)
    motion = resolved_motion(loaded)
    stamp = fingerprint(loaded, fps, motion)
    report = BuildReport(output=output)

    previous = output / "meta" / BUILD_RECORD
    if output.exists():
        if previous.is_file():
            prev = json.loads(previous.read_text())
            if (prev.get("fingerprint") == stamp and not prev.get("failures") and not prev.get("unfinished")
                    and not overwrite):
                report.episodes, report.frames, report.up_to_date = prev["episodes"], prev["frames"], True
                report.wall_s = time.perf_counter() - t0
                return report
        elif not output.is_dir() or any(output.iterdir()):  # --overwrite too: it must never delete other data
            raise BuildError(f"{output} exists and is not a dataset built by vla_builder (no meta/{BUILD_RECORD}); "
                             "refusing to replace it, even with --overwrite: choose another --output or remove it")

    check_actor_class(loaded)  # before anything is written: a misspelt actor is a recipe error
    start_lerobot_import()  # ~4 s of CPU every build needs: beside planning, probing and the first decode pass
    work = output.parent / f".{output.name}.work"
    shards = work / "shards"
    work_record = work / "build.json"
    if work_record.is_file() and json.loads(work_record.read_text()).get("fingerprint") != stamp:
        log(f"inputs or settings changed since the interrupted build in {work}: starting over")
        remove_tree(work)
    shards.mkdir(parents=True, exist_ok=True)
    work_record.write_text(json.dumps({"fingerprint": stamp, "recipe": str(loaded.path)}))

    sink = LeRobotSink(fps=fps, image_size=tuple(recipe.image_size), camera=loaded.sources[0].camera,
                       video=recipe.video)
    factory = PipelineFactory.from_recipe(loaded, fps)
    log(f"pipeline: {factory().describe()} -> lerobot shard  (fps {fps}, {len(loaded.sources)} source(s); "
        f"motion {motion['method']} on {motion['backend']}/{motion['device']})")

    plan_warnings: list[str] = []
    clips = make_clips(loaded, plan_warnings)
    for w in plan_warnings:
        log(f"warning: {w}")
    for leftover in shards.glob("*.tmp"):  # a shard being written when the last build was killed
        remove_tree(leftover)
    todo = []
    for clip in clips:
        if (shards / clip.clip_id / "meta" / CLIP_RECORD).is_file():
            report.resumed += 1
        else:
            todo.append(ClipTask(clip, shards / clip.clip_id, factory, sink))
    if report.resumed:
        log(f"resuming: {report.resumed} clip(s) already done, {len(todo)} to go")
    if progress is not None:
        progress.start(len(todo), report.resumed)

    failures_path = work / "failures.jsonl"
    failures_path.unlink(missing_ok=True)

    def on_outcome(outcome: ClipOutcome) -> bool:
        if progress is not None:
            progress.advance(outcome)
        if outcome.infrastructure is not None:  # lost with its workers: not the data's fault, no failure record
            report.unfinished.append(outcome.clip_id)
            log(f"  NOT RUN {outcome.clip_id}: {outcome.infrastructure}; a rerun runs it")
            return not fail_fast
        if outcome.failure is not None:
            f = outcome.failure
            report.failures.append(f)
            with open(failures_path, "a") as fh:
                fh.write(json.dumps(f.to_json()) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            log(f"  FAILED {f.clip_id} [{f.stage}] {f.file}: {f.reason}")
            return not fail_fast
        secs = sum(outcome.seconds_by_stage.values())
        log(f"  done   {outcome.clip_id}: {outcome.frames} frames in {secs:.1f} s")
        return True

    make_runner(runner or recipe.runner.kind, recipe.runner, log).run(todo, on_outcome)

    done = [shards / c.clip_id for c in clips if (shards / c.clip_id / "meta" / CLIP_RECORD).is_file()]
    if done:
        partial = output.parent / f".{output.name}.partial"
        report.records = sink.merge(done, partial, repo_id=f"vla_builder/{recipe.name}")
        report.episodes = len(done)
        report.frames = sum(int(r["frames"]) for r in report.records)
        if report.verdicts:
            log("label verdicts: " + ", ".join(f"{n} {v}" for v, n in sorted(report.verdicts.items())))
        failures = [f.to_json() for f in report.failures]
        with open(partial / "meta" / "failures.jsonl", "w") as fh:
            fh.writelines(json.dumps(f) + "\n" for f in failures)
        (partial / "meta" / BUILD_RECORD).write_text(json.dumps({
            "fingerprint": stamp, "recipe": str(loaded.path.resolve()), "episodes": report.episodes,
            "frames": report.frames, "fps": fps, "failures": len(failures), "unfinished": len(report.unfinished),
            "motion": motion,
        }))
        # commit point: the old output (if any) goes, the finished one takes its place
        remove_tree(output)
        os.replace(partial, output)
        if not report.failures and not report.unfinished:
            remove_tree(work)  # everything is in the output; a rerun is a no-op
    report.wall_s = time.perf_counter() - t0
    return report
