"""LeRobot v3.0 output through lerobot 0.6.1's own writer.

Each clip is written as its own small dataset (a *shard*: create -> add_frame -> save_episode -> finalize, always
finalized) in a temporary folder that is renamed into place when complete: the rename is the commit point, so a
killed build leaves either a whole shard or a temporary folder to discard. Shards are merged in source order with
lerobot's `aggregate_datasets` — the same path a Ray runner's per-worker shards take.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_builder.boxes import letterbox
from vla_builder.observability import GRIPPER_KNOWN, GRIPPER_KNOWN_INFO, gripper_known
from vla_builder.schema import ACTION_INFO, ACTION_NAMES, STATE_INFO, STATE_NAMES
from vla_builder.sinks.encode import VideoConfig
from vla_builder.types import Clip

CLIP_RECORD = "vla_builder_clip.json"  # per-shard provenance, inside the shard's meta/
CLIP_REASONING = "vla_builder_reasoning.jsonl"  # a shard's reasoning rows, one JSON object a sample, beside it
MERGE_GROUP = 16  # shards merged per group (see LeRobotSink.merge_group)


class ShardError(Exception):
    """A shard that would not load as written (e.g. video frames != data rows): the clip fails with this reason."""


def release_free_memory() -> None:
    """Give the C heap's free pages back to the system (glibc's `malloc_trim`; elsewhere nothing), and Arrow's pool
    its unused ones. Called between the writer's steps — lerobot's `save_episode`, `aggregate_datasets`, its language
    columns writer — whose transient memory grows with the episode's length: glibc keeps what they free in the
    process, so without this their peaks add up across the steps instead of reusing the same room (a 9000-sample
    episode: ~45 MB lower peak). ~2 ms a call."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (AttributeError, OSError):  # not glibc
        pass
    import sys

    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def _normalized_language(per_episode: list[dict]) -> tuple[list[list[dict]], list[dict[float, list[dict]]]]:
    """Each episode's persistent rows (sorted, normalized) and its event rows bucketed by timestamp, exactly as
    lerobot's `LanguageColumnsWriter` stages them (its own validators, normalizers and sort keys)."""
    from lerobot.annotations.steerable_pipeline import writer as lw
    from lerobot.datasets.language import LANGUAGE_PERSISTENT, column_for_style

    persistent_by_ep, events_by_ep = [], []
    for lang in per_episode:
        rows = list(lang.get("persistent", [])) + list(lang.get("events", []))
        persistent = [r for r in rows if column_for_style(r.get("style")) == LANGUAGE_PERSISTENT]
        events = [r for r in rows if column_for_style(r.get("style")) != LANGUAGE_PERSISTENT]
        for r in persistent + events:
            lw._validate_atom_invariants(r)
            lw._validate_speech_atom(r)
        persistent_by_ep.append([lw._normalize_persistent_row(r) for r in sorted(persistent,
                                                                                key=lw._row_persistent_sort_key)])
        buckets: dict[float, list[dict]] = {}
        for r in events:
            buckets.setdefault(float(r["timestamp"]), []).append(lw._normalize_event_row(r))
        events_by_ep.append({ts: sorted(b, key=lw._row_event_sort_key) for ts, b in buckets.items()})
    return persistent_by_ep, events_by_ep


def write_language_columns(root: Path, per_episode: list[dict]) -> None:
    """`language_persistent` and `language_events` into every `data/*/*.parquet`, the columns lerobot's
    `LanguageColumnsWriter` (the code path of `lerobot-annotate`) writes, written an episode at a time.

    Why not its `write_all`: lerobot's format repeats an episode's whole persistent slice on every frame, and the
    writer materializes a whole data file's rows at once — all its episodes' frames x persistent rows, which grew
    with the square of a long episode's length and with the episodes in a file. Here each episode's slice is made
    and written as its own row group (lerobot's layout: one row group per episode), so memory is one episode's.
    The columns' types are inferred from all rows of the dataset (lerobot infers them per file), so every data file
    has the same schema. Same rows, order and values as lerobot's writer (tested against it).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq
    from lerobot.datasets.language import LANGUAGE_EVENTS, LANGUAGE_PERSISTENT

    persistent_by_ep, events_by_ep = _normalized_language(per_episode)
    persistent_type = pa.array([[r for rows in persistent_by_ep for r in rows]]).type
    events_type = pa.array([[r for b in events_by_ep for rows in b.values() for r in rows]]).type
    for path in sorted((root / "data").rglob("*.parquet")):
        table = pq.read_table(path)
        keep = [n for n in table.column_names
                if n not in ("subtask_index", "tools", LANGUAGE_PERSISTENT, LANGUAGE_EVENTS)]  # as lerobot drops
        episode = table.column("episode_index").to_numpy()
        starts = np.r_[0, np.nonzero(np.diff(episode))[0] + 1]
        tmp = path.with_suffix(path.suffix + ".tmp")
        writer = None
        try:
            for a, b in zip(starts, np.r_[starts[1:], len(episode)], strict=True):
                part = table.slice(int(a), int(b - a)).select(keep)
                ep = int(episode[a])
                persistent = persistent_by_ep[ep] if ep < len(persistent_by_ep) else []
                buckets = events_by_ep[ep] if ep < len(events_by_ep) else {}
                times = part.column("timestamp").to_pylist()
                part = part.append_column(LANGUAGE_PERSISTENT, pa.array([persistent] * len(times), persistent_type))
                part = part.append_column(LANGUAGE_EVENTS, pa.array([buckets.get(float(t), []) for t in times],
                                                                    events_type))
                if writer is None:
                    writer = pq.ParquetWriter(str(tmp), part.schema, compression="snappy", use_dictionary=True)
                writer.write_table(part)  # one episode -> one row group
                del part
                release_free_memory()
        finally:
            if writer is not None:
                writer.close()
        tmp.replace(path)  # a crash mid-write leaves the old file whole


def write_language(root: Path, per_episode: list[dict], reasoning_files: list[Path] | None = None) -> None:
    """Language columns through lerobot's own annotation writer, plus meta/reasoning.jsonl and meta/subtasks.jsonl.

    `language_persistent` (task_aug, plan, subtask, motion) and `language_events` (vqa, trace) as lerobot's
    `LanguageColumnsWriter` writes them (`write_language_columns`), so lerobot's own language helpers
    (`active_at`, `emitted_at`, the message renderer) read them. The reasoning rows come from
    `reasoning_files` (one per episode, written by the sink, copied a line at a time: memory does not grow with the
    episodes' length) or, where none is given, from each episode's `reasoning` rows.
    """
    from lerobot.annotations.steerable_pipeline.executor import Executor

    write_language_columns(root, per_episode)
    with contextlib.redirect_stdout(io.StringIO()):  # it prints an "[annotate]" line meant for lerobot-annotate
        Executor._ensure_annotation_metadata_in_info(root)  # info.json must advertise the two columns
    with open(root / "meta" / "reasoning.jsonl", "w") as fh:
        for ep, lang in enumerate(per_episode):
            if reasoning_files is not None:
                copy_reasoning(reasoning_files[ep], ep, fh)
                continue
            for row in lang.get("reasoning", []):
                fh.write(json.dumps({"episode_index": ep, **row}) + "\n")
    with open(root / "meta" / "subtasks.jsonl", "w") as fh:
        for ep, lang in enumerate(per_episode):
            fh.write(json.dumps({"episode_index": ep, "subtasks": lang.get("subtasks", []),
                                 "events": lang.get("events_detected", [])}) + "\n")


def write_reasoning(rows, path: Path) -> int:
    """One episode's reasoning rows (dicts, e.g. the language stage's `ReasoningTrace`, made one at a time) to a
    JSONL file, a row per line; returns the rows written."""
    n = 0
    with open(path, "w") as fh:
        for row in rows:
            if not row:
                raise ValueError(f"reasoning row {n} is empty")
            fh.write(json.dumps(row, default=str) + "\n")
            n += 1
    return n


def copy_reasoning(path: Path, episode_index: int, out) -> None:
    """A shard's reasoning rows into the dataset's meta/reasoning.jsonl with their episode's index first: the bytes
    `json.dumps({"episode_index": i, **row})` writes (every row is a non-empty object written by `json.dumps`)."""
    prefix = '{"episode_index": %d, ' % episode_index
    with open(path) as fh:
        for line in fh:
            if not line.startswith("{") or line.startswith("{}"):
                raise ShardError(f"{path}: a reasoning row is not a non-empty JSON object")
            out.write(prefix + line[1:] if line.endswith("\n") else prefix + line[1:] + "\n")


def language_problems(persistent: list[dict], events: list[dict], timestamps: list[float]) -> list[str]:
    """Every frame at which one of lerobot's default language bindings (`active_at` for each persistent style,
    `emitted_at` for VQA) would be ambiguous or fail: what a training loader would hit, found before writing.

    `events` rows carry the timestamp of the frame they are written to. A resolver's answer changes only at a row's
    timestamp, so the frames checked are the first one and every frame a row starts on.
    """
    from lerobot.configs.recipe import DEFAULT_BINDINGS
    from lerobot.datasets.language_render import active_at, emitted_at

    at = sorted({timestamps[0], *(float(r["timestamp"]) for r in persistent + events)} & set(timestamps)) \
        if timestamps else []
    styles = sorted({r["style"] for r in persistent if r.get("style") != "task_aug"})
    problems = []
    for t in at:
        here = [r for r in events if float(r["timestamp"]) == t]
        resolvers = [(f"active_at(style={st})", lambda st=st: active_at(t, persistent=persistent, style=st))
                     for st in styles]
        for name, spec in DEFAULT_BINDINGS.items():
            if spec.startswith("emitted_at"):
                args = dict(a.strip().split("=") for a in spec[spec.index(",") + 1 : -1].split(","))
                resolvers.append((f"{name}: {spec}", lambda a=args: emitted_at(t, persistent=persistent, events=here,
                                                                                 **a)))
        for name, resolve in resolvers:
            try:
                resolve()
            except Exception as e:  # noqa: BLE001 — whatever lerobot raises is the problem to report
                problems.append(f"frame at {t:.4f} s: {name}: {str(e)[:160]}")
    return problems


def provenance_record(clip: Clip) -> dict:
    """An episode's provenance, assembled once, here: what the stages reported (`clip.provenance`) plus the clip's
    typed facts — decoder, source span, label rows dropped, label verdict, motion method and backend, actor choice
    (`actor`: why, `actor_id`: its track id, None: the camera) — read from the fields that hold them (no stage reads
    another's provenance keys)."""
    facts: dict = {"actor": clip.actor_reason, "actor_id": clip.actor_id}
    f = clip.frames
    if f is not None and len(f.source_index):
        facts.update(decoder=f.backend, source_frames=[int(f.source_index[0]), int(f.source_index[-1])],
                     source_time_s=[round(float(f.source_time_s[0]), 6), round(float(f.source_time_s[-1]), 6)])
    rows = clip.label_rows
    if rows is not None and rows.dropped():
        facts["label_rows_dropped"] = rows.dropped()
    if rows is not None and rows.outside_span:
        facts["label_rows_outside_span"] = rows.outside_span
    if clip.label_verdict is not None:
        facts["label_verdict"] = clip.label_verdict
    if clip.motion is not None:
        facts["motion"] = clip.motion.method
        facts["motion_backend"] = {"backend": clip.motion.backend, "device": clip.motion.device}
    return {**clip.provenance, **facts}


def early_video_dir(shard_dir: Path) -> Path:
    """The folder the decode stage encodes a shard's video into (removed after the shard is written or failed)."""
    return shard_dir.parent / f"{shard_dir.name}.early"


def remove_tree(path: Path) -> None:
    if path.exists():
        shutil.rmtree(path)


@dataclass
class LeRobotSink:
    fps: int
    image_size: tuple[int, int]  # (h, w)
    camera: str = "front"
    video: VideoConfig = field(default_factory=VideoConfig)  # the recipe's `video:` (codec, crf, gop, preset)
    robot_type: str = "vla_builder_upcycled"
    # lerobot's aggregate_datasets appends each source by rewriting the growing destination files (video remux,
    # parquet read + write), so merging n shards into one file costs O(n^2). Merging groups of `merge_group` shards
    # first, then the groups without concatenation, keeps the merge linear (bench_scale.py).
    merge_group: int = field(default_factory=lambda: MERGE_GROUP)

    @property
    def image_key(self) -> str:
        return f"observation.images.{self.camera}"

    def features(self) -> dict:
        h, w = self.image_size
        return {
            self.image_key: {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]},
            "observation.state": {"dtype": "float32", "shape": (len(STATE_NAMES),), "names": list(STATE_NAMES),
                                  "info": STATE_INFO},
            "action": {"dtype": "float32", "shape": (len(ACTION_NAMES),), "names": list(ACTION_NAMES),
                       "info": ACTION_INFO},
            GRIPPER_KNOWN: {"dtype": "float32", "shape": (1,), "names": ["gripper_known"], "info": GRIPPER_KNOWN_INFO},
        }

    def _encoder(self):
        return self.encode_settings().lerobot_config()

    def encode_settings(self):
        from vla_builder.sinks.encode import EncodeSettings

        return EncodeSettings.from_config(self.video)

    def encode_target(self, shard_dir: Path):
        """Where the decode stage encodes this shard's video during its own pass (see `work.process_clip`)."""
        from vla_builder.sinks.encode import EncodeTarget

        return EncodeTarget(early_video_dir(shard_dir), self.encode_settings(), tuple(self.image_size), self.fps)

    def _early_video(self, clip: Clip, shard_dir: Path):
        """The video the decode stage encoded in its pass, when it is this episode's exactly: same settings, size
        and folder, and the frames not cut since (a crop to the actor's span gives a window: encoded again)."""
        found = getattr(clip.frames.rgb, "encoded", None)
        if found is None:
            return None
        target, result = found
        if target != self.encode_target(shard_dir) or result.frames != len(clip.frames) or not result.path.is_file():
            return None
        return result

    def write_shard(self, clip: Clip, shard_dir: Path) -> None:
        """Write one clip as one finalized single-episode dataset at `shard_dir` (atomically).

        The episode's video was encoded during the decode stage's pass when `work.process_clip` asked for it (the
        frames uncut since); otherwise it is encoded first, here, in-process (`sinks/encode.py`: every frame
        encoded, none dropped), from `clip.frames.rgb` walked once (a streaming clip decodes its source again); lerobot's writer then
        adds the data rows and takes the finished video in place of its streaming encoder. The shard fails, with
        the reason, unless the written video has exactly one frame per data row.
        """
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        from vla_builder.sinks.encode import PreEncodedVideo, count_video_frames, encode_frames, private_video_path

        frames, traj = clip.frames, clip.trajectory
        assert frames is not None and traj is not None and clip.task is not None
        n_rows = len(frames)
        if len(traj.action) != n_rows or len(traj.state) != n_rows:
            raise ShardError(f"{len(traj.action)} actions and {len(traj.state)} states for {n_rows} frames")
        # the commit point: a clip lerobot's language resolvers would refuse becomes a failure record, never part of
        # a dataset (timestamps as the parquet's float32 ones)
        language = clip.language or {}
        problems = language_problems(language.get("persistent", []), language.get("events", []),
                                     [float(np.float32(t / self.fps)) for t in range(n_rows)])
        if problems:
            raise ShardError(f"{len(problems)} language resolver problem(s) (would break lerobot's reader), "
                             f"first: {problems[0]}")
        tmp = shard_dir.parent / f"{shard_dir.name}.tmp"
        video_tmp = shard_dir.parent / f"{shard_dir.name}.video"  # lerobot's create() wants a fresh root
        remove_tree(tmp)  # leftovers of a killed build
        remove_tree(video_tmp)
        encoder = self._encoder()
        encoded = self._early_video(clip, shard_dir)
        if encoded is None:  # not encoded during the decode pass (or cut since): walk the frames once more
            letterboxed = (letterbox(rgb, self.image_size) for rgb in frames.rgb)
            encoded = encode_frames(letterboxed, private_video_path(video_tmp, self.image_key), self.fps, encoder)
        if encoded.frames != n_rows:
            raise ShardError(f"the encoder wrote {encoded.frames} frames for {n_rows} data rows")
        ds = LeRobotDataset.create(
            repo_id=f"vla_builder/{shard_dir.name}",
            fps=self.fps,
            features=self.features(),
            root=tmp,
            robot_type=self.robot_type,
            use_videos=True,
            rgb_encoder=encoder,
            video_backend="pyav",  # for reading back; probing torchcodec prints a traceback where its FFmpeg libs are missing
            streaming_encoding=True,  # the writer's streaming path, fed our finished video (no PNG round trip)
        )
        ds.writer._streaming_encoder = PreEncodedVideo({self.image_key: encoded})
        black = np.zeros((*self.image_size, 3), np.uint8)  # the writer validates a frame's shape; pixels are encoded
        known = gripper_known(clip, n_rows)
        try:
            for t in range(n_rows):
                ds.add_frame({
                    self.image_key: black,
                    "observation.state": traj.state[t].astype(np.float32),
                    "action": traj.action[t].astype(np.float32),
                    GRIPPER_KNOWN: known[t: t + 1],
                    "task": clip.task,
                })
            ds.save_episode()
        finally:
            ds.finalize()  # always: an unfinalized dataset has parquet files without footers
            remove_tree(video_tmp)
            del ds
            release_free_memory()  # lerobot's episode buffer and its Arrow copy, per sample
        videos = sorted((tmp / "videos").rglob("*.mp4"))
        n_video = sum(count_video_frames(v) for v in videos)
        if len(videos) != 1 or n_video != n_rows:
            raise ShardError(f"the shard's video has {n_video} frames in {len(videos)} file(s) for {n_rows} data rows")
        # the per-sample reasoning rows go to a file of their own, a row at a time, not into the record: held
        # as one JSON document they cost memory in proportion to the episode's length (here and at the merge)
        language = dict(clip.language or {})
        n_reasoning = write_reasoning(language.pop("reasoning", ()), tmp / "meta" / CLIP_REASONING)
        if n_reasoning not in (0, n_rows):
            raise ShardError(f"{n_reasoning} reasoning rows for {n_rows} data rows")
        record = {"clip_id": clip.clip_id, "task": clip.task, "frames": n_rows, **provenance_record(clip),
                  "encode": {"codec": self.video.codec, "crf": self.video.crf, "gop": self.video.gop,
                             "preset": encoder.preset,
                             "frames": encoded.frames},  # no timings: a rebuild gives the same provenance
                  "language": language}
        (tmp / "meta" / CLIP_RECORD).write_text(json.dumps(record, default=str))
        os.replace(tmp, shard_dir)

    def merge(self, shard_dirs: list[Path], partial: Path, repo_id: str) -> list[dict]:
        """Aggregate finished shards, in the given order, into `partial`; return per-episode provenance.

        The caller adds its own records and renames `partial` into place (the commit point of a build).
        """
        from lerobot.datasets.aggregate import aggregate_datasets

        def aggregate(roots: list[Path], into: Path, concatenate: bool = True) -> None:
            with quiet_libav():  # the mp4 muxer's "Starting second pass" line, once per merged file
                aggregate_datasets(repo_ids=[f"vla_builder/{d.name}" for d in roots], aggr_repo_id=repo_id,
                                   roots=list(roots), aggr_root=into, concatenate_videos=concatenate,
                                   concatenate_data=concatenate)
            release_free_memory()

        remove_tree(partial)
        if len(shard_dirs) == 1:
            # one shard is a dataset already, in lerobot's layout, written by lerobot's own writer: copied as it is
            # (less this builder's own files), not aggregated — aggregate_datasets of one shard rewrote its files
            # with the same content (the episodes' task_index quantiles 0 instead of ~1e-15), on one core at the end
            # of the build (BENCHMARKS.md, issue 23)
            shutil.copytree(shard_dirs[0], partial, ignore=shutil.ignore_patterns(CLIP_RECORD, CLIP_REASONING))
        elif len(shard_dirs) <= self.merge_group:
            aggregate(list(shard_dirs), partial)
        else:
            groups_dir = partial.parent / f"{partial.name}.groups"
            remove_tree(groups_dir)
            groups = []
            for i in range(0, len(shard_dirs), self.merge_group):
                groups.append(groups_dir / f"group{i // self.merge_group:05d}")
                aggregate(list(shard_dirs[i : i + self.merge_group]), groups[-1])
            aggregate(groups, partial, concatenate=False)  # copies each group's files: linear
            remove_tree(groups_dir)
        records, language = [], []
        for i, d in enumerate(shard_dirs):
            rec = json.loads((d / "meta" / CLIP_RECORD).read_text())
            language.append(rec.pop("language", {}))
            records.append({"episode_index": i, **rec})
        with open(partial / "meta" / "provenance.jsonl", "w") as fh:
            for rec in records:
                fh.write(json.dumps(rec, default=str) + "\n")
        write_language(partial, language, [d / "meta" / CLIP_REASONING for d in shard_dirs])
        release_free_memory()  # before the QA report
        readable_by_others(partial)
        return records


@contextlib.contextmanager
def quiet_libav():
    """FFmpeg's info lines through PyAV (lerobot turns them on) would interleave with our progress output."""
    import av.logging

    level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        yield
    finally:
        av.logging.set_level(level)


def readable_by_others(root: Path) -> None:
    """lerobot's merge writes some files through mkstemp (mode 0600); a dataset is shared: files get 0666 & ~umask
    (0644 under the usual umask), folders 0777 & ~umask."""
    umask = os.umask(0)
    os.umask(umask)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)
