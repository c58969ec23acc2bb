"""`python -m vla_builder validate DATASET`: open a LeRobot v3.0 dataset the way training will, and name the real
cause of any problem.

Order matters: the cheap structural checks run first, because lerobot, given a broken local dataset, falls back to
downloading it from the Hub — which offline surfaces as a misleading `OfflineModeIsEnabled` error. We report the
file that is actually broken instead (e.g. a parquet file without a footer: the writer was killed before
`finalize()`).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

TIMESTAMP_TOLERANCE_S = 1e-4  # LeRobotDataset's default tolerance_s


@dataclass
class ValidationReport:
    root: Path
    problems: list[str] = field(default_factory=list)
    episodes: int = 0
    frames: int = 0
    frames_decoded: int = 0
    statements_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_parquet(root: Path, report: ValidationReport) -> None:
    import pyarrow.parquet as pq

    files = sorted((root / "data").rglob("*.parquet")) + sorted((root / "meta").rglob("*.parquet"))
    if not list((root / "data").rglob("*.parquet")):
        report.problems.append(f"{root / 'data'}: no parquet data files")
    for f in files:
        try:
            pq.ParquetFile(f).metadata  # noqa: B018 — reading the footer is the check
        except Exception as e:  # noqa: BLE001
            report.problems.append(
                f"{f}: not a complete parquet file ({type(e).__name__}: {e}) — the writer was probably killed "
                "before finalize(); rebuild (vla_builder resumes) or delete the dataset")


def _check_videos_exist(root: Path, info: dict, report: ValidationReport) -> None:
    """Every video file the episode table points at must exist (else lerobot tries to download it)."""
    import pyarrow.parquet as pq

    video_keys = [k for k, ft in info.get("features", {}).items() if ft.get("dtype") == "video"]
    template = info.get("video_path")
    if not video_keys or not template:
        return
    seen: set[Path] = set()
    for f in sorted((root / "meta" / "episodes").rglob("*.parquet")):
        table = pq.read_table(f).to_pylist()
        for row in table:
            for key in video_keys:
                chunk, file = row.get(f"videos/{key}/chunk_index"), row.get(f"videos/{key}/file_index")
                if chunk is None or file is None:
                    report.problems.append(f"{f}: episode {row.get('episode_index')} has no video index for {key}")
                    continue
                path = root / template.format(video_key=key, chunk_index=chunk, file_index=file)
                if not path.is_file() and path not in seen:
                    seen.add(path)
                    report.problems.append(f"{path}: missing (video of episode {row.get('episode_index')}, {key})")


def _decode_episode_video(path: Path, from_s: float, to_s: float, fps: int, n_expected: int,
                          where: str, report: ValidationReport) -> None:
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            n = 0
            for frame in container.decode(stream):
                t = float(frame.time)
                if t < from_s - TIMESTAMP_TOLERANCE_S or t >= to_s - TIMESTAMP_TOLERANCE_S / 2:
                    continue
                expected = from_s + n / fps
                if abs(t - expected) > TIMESTAMP_TOLERANCE_S:
                    report.problems.append(f"{where}: frame {n} at {t:.6f} s, expected {expected:.6f} s "
                                           f"(off by more than lerobot's tolerance {TIMESTAMP_TOLERANCE_S} s)")
                    return
                frame.to_ndarray(format="rgb24")  # decode the pixels, not only the packet
                n += 1
    except Exception as e:  # noqa: BLE001
        report.problems.append(f"{path}: cannot decode ({type(e).__name__}: {e})")
        return
    report.frames_decoded += n
    if n != n_expected:
        report.problems.append(f"{where}: {n} video frames in [{from_s:.4f}, {to_s:.4f}) s, episode length {n_expected}")


def validate(root: str | Path, progress=None) -> ValidationReport:
    """Every problem as a message naming its file: an unexpected error becomes one, never a traceback. `progress`
    (optional: .start(n), .advance(), .close(), e.g. progress.Progress) shows the episodes decoded so far."""
    report = ValidationReport(Path(root))
    try:
        _validate(Path(root), report, progress)
    except Exception as e:  # noqa: BLE001
        report.problems.append(f"{root}: validation stopped ({type(e).__name__}: {str(e)[:300]})")
    return report


def _validate(root: Path, report: ValidationReport, progress=None) -> ValidationReport:
    import numpy as np

    info_path = root / "meta" / "info.json"
    if not info_path.is_file():
        report.problems.append(f"{info_path}: missing — not a LeRobot dataset folder")
        return report
    try:
        info = json.loads(info_path.read_text())
    except json.JSONDecodeError as e:
        report.problems.append(f"{info_path}: not valid JSON ({e})")
        return report
    if info.get("codebase_version") != "v3.0":
        report.problems.append(f"{info_path}: codebase_version {info.get('codebase_version')!r}, expected 'v3.0'")
    _check_parquet(root, report)
    if not report.problems:
        _check_videos_exist(root, info, report)
    if report.problems:
        return report  # lerobot would misreport these as a Hub download failure

    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    try:
        ds = LeRobotDataset(f"local/{root.name}", root=root, video_backend="pyav")
    except Exception as e:  # noqa: BLE001
        report.problems.append(f"{root}: lerobot cannot open it ({type(e).__name__}: {str(e)[:300]})")
        return report
    meta = ds.meta
    fps = int(meta.fps)
    report.episodes, report.frames = int(meta.total_episodes), int(meta.total_frames)
    lengths = 0
    if progress is not None:
        progress.start(meta.total_episodes)
    for ep in range(meta.total_episodes):
        row = meta.episodes[ep]
        length = int(row["length"])
        lengths += length
        for key in meta.video_keys:
            path = root / meta.get_video_file_path(ep, key)
            if not path.is_file():
                report.problems.append(f"{path}: video file of episode {ep} ({key}) is missing")
                continue
            from_s = float(row[f"videos/{key}/from_timestamp"])
            to_s = float(row[f"videos/{key}/to_timestamp"])
            _decode_episode_video(path, from_s, to_s, fps, length, f"episode {ep} {key} ({path.name})", report)
        # lerobot's own reader on the first and last frame of the episode
        for idx in (int(row["dataset_from_index"]), int(row["dataset_to_index"]) - 1):
            try:
                ds[idx]
            except Exception as e:  # noqa: BLE001
                report.problems.append(f"episode {ep}, frame index {idx}: lerobot cannot read it "
                                       f"({type(e).__name__}: {str(e)[:200]})")
        if progress is not None:
            progress.advance(n=1)
    if progress is not None:
        progress.close()
    if lengths != meta.total_frames:
        report.problems.append(f"{info_path}: total_frames {meta.total_frames} but episodes add up to {lengths}")

    stats = meta.stats or {}
    for key, ft in meta.features.items():
        if ft["dtype"] in ("float32", "float64") and key not in ("timestamp",):
            s = stats.get(key)
            if not s:
                report.problems.append(f"{root / 'meta' / 'stats.json'}: no stats for '{key}'")
                continue
            for name in ("mean", "std", "min", "max"):
                v = np.asarray(s.get(name, [math.nan]), dtype=float)
                if not np.all(np.isfinite(v)):
                    report.problems.append(f"{root / 'meta' / 'stats.json'}: '{key}' {name} is not finite")

    if (root / "meta" / "reasoning.jsonl").is_file():
        from vla_builder.checker import check_dataset

        try:
            check = check_dataset(root)
        except Exception as e:  # noqa: BLE001 — a message naming the file, never a traceback
            report.problems.append(f"{root / 'meta' / 'reasoning.jsonl'}: the reasoning check could not run "
                                   f"({type(e).__name__}: {str(e)[:300]})")
        else:
            report.problems += [f"reasoning trace: {p}" for p in check.inconsistencies[:20]]
            if len(check.inconsistencies) > 20:
                report.problems.append(f"reasoning trace: ... and {len(check.inconsistencies) - 20} more")
            report.statements_checked = check.statements

    prov_path = root / "meta" / "provenance.jsonl"
    if prov_path.is_file():
        rows = [json.loads(line) for line in prov_path.read_text().splitlines() if line.strip()]
        if [r.get("episode_index") for r in rows] != list(range(meta.total_episodes)):
            report.problems.append(f"{prov_path}: {len(rows)} provenance rows for {meta.total_episodes} episodes")
    else:
        report.problems.append(f"{prov_path}: missing (no record of where episodes came from)")
    return report
