"""Read a built dataset the way a researcher looks at it: metadata, per-episode arrays, our side files, frames.

Shared by `inspect`, `report` and `export hdf5`. Reads the files directly (pyarrow / PyAV) rather than through
`LeRobotDataset`, whose per-item access seeks the video for every frame: exporting or drawing a whole episode decodes
it once, sequentially. Frames come out exactly as lerobot's PyAV backend gives them (rgb24 per decoded frame),
which `tests/test_cli_outputs.py` checks frame for frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np


class DatasetError(Exception):
    """The folder is not a readable LeRobot v3.0 dataset; the message names the file and the problem."""


def _json_line(path: Path, n: int, line: bytes | str) -> dict:
    try:
        return json.loads(line)
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}:{n}: not valid JSON: {e}") from None


def read_jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise DatasetError(f"{path}:{n}: not valid JSON: {e}") from None
    return rows


@dataclass
class Episode:
    index: int
    length: int
    tasks: list[str]
    state: np.ndarray  # (length, n_state) float32
    action: np.ndarray  # (length, n_action) float32
    timestamp: np.ndarray  # (length,) seconds
    task_index: np.ndarray  # (length,)
    video: dict[str, tuple[Path, float, float]]  # camera key -> (file, from_s, to_s)
    gripper_known: np.ndarray | None = None  # (length,) observation.gripper_known (None: a dataset without it)


class DatasetView:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        info = self.root / "meta" / "info.json"
        if not info.is_file():
            raise DatasetError(f"{self.root}: no meta/info.json — not a LeRobot dataset folder")
        try:
            self.info = json.loads(info.read_text())
        except json.JSONDecodeError as e:
            raise DatasetError(f"{info}: not valid JSON: {e}") from None
        if self.info.get("codebase_version") != "v3.0":
            raise DatasetError(f"{info}: codebase_version {self.info.get('codebase_version')!r}, expected 'v3.0'")

    # --- metadata -------------------------------------------------------------------------------------------
    @property
    def fps(self) -> int:
        return int(self.info["fps"])

    @property
    def features(self) -> dict:
        return self.info["features"]

    @property
    def camera_keys(self) -> list[str]:
        return [k for k, v in self.features.items() if v.get("dtype") == "video"]

    def names(self, key: str) -> list[str]:
        names = self.features.get(key, {}).get("names") or []
        return list(names) if isinstance(names, list) else list(names.get("motors", []))

    @cached_property
    def episodes_table(self):
        import pyarrow.parquet as pq

        files = sorted((self.root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError(f"{self.root}/meta/episodes: no episode metadata files")
        cols = None
        tables = []
        for f in files:
            try:
                t = pq.read_table(f)
            except Exception as e:  # a writer killed before finalize() leaves a file without footer
                raise DatasetError(f"{f}: unreadable parquet ({e})") from None
            cols = cols or [c for c in t.column_names if not c.startswith("stats/")]
            tables.append(t.select(cols))
        import pyarrow as pa

        return pa.concat_tables(tables).to_pandas().sort_values("episode_index").reset_index(drop=True)

    @property
    def n_episodes(self) -> int:
        return len(self.episodes_table)

    @property
    def n_frames(self) -> int:
        return int(self.episodes_table["length"].sum())

    @cached_property
    def tasks(self) -> list[str]:
        import pandas as pd

        path = self.root / "meta" / "tasks.parquet"
        if not path.is_file():
            return []
        t = pd.read_parquet(path)
        return [str(x) for x in t.sort_values("task_index").index]

    @cached_property
    def provenance(self) -> list[dict]:
        return read_jsonl(self.root / "meta" / "provenance.jsonl")

    @cached_property
    def subtasks(self) -> dict[int, dict]:
        return {int(r["episode_index"]): r for r in read_jsonl(self.root / "meta" / "subtasks.jsonl")}

    @cached_property
    def failures(self) -> list[dict]:
        return read_jsonl(self.root / "meta" / "failures.jsonl")

    @cached_property
    def build_record(self) -> dict:
        path = self.root / "meta" / "vla_builder_build.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @cached_property
    def stats(self) -> dict:
        path = self.root / "meta" / "stats.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def reasoning(self, episode: int) -> list[dict]:
        """The per-frame reasoning rows of one episode (meta/reasoning.jsonl), in frame order."""
        return sorted(self.reasoning_rows(episode), key=lambda r: r.get("frame_index", 0))

    def reasoning_rows(self, episode: int):
        """Yield one episode's reasoning rows in file order, read from the file as they go: a row is ~5 KB of Python
        objects, so a long episode's (or a whole dataset's) rows are never all held."""
        path, runs = self.root / "meta" / "reasoning.jsonl", self._reasoning_index.get(episode, [])
        if not runs:
            return
        with open(path, "rb") as fh:
            for start, end, n in runs:
                fh.seek(start)
                while start < end:  # a line at a time: a long episode's run is tens of MB
                    line = fh.readline()
                    start += len(line)
                    if line.strip():
                        row = _json_line(path, n, line)
                        if int(row["episode_index"]) == episode:
                            yield row
                    n += 1

    @cached_property
    def _reasoning_index(self) -> dict[int, list[tuple[int, int, int]]]:
        """Episode -> (first byte, end byte, first line number) of each run of its lines in meta/reasoning.jsonl,
        from one pass over the file (a line's episode read from its start where the sink wrote it there)."""
        import re

        path = self.root / "meta" / "reasoning.jsonl"
        out: dict[int, list[tuple[int, int, int]]] = {}
        if not path.is_file():
            return out
        head = re.compile(rb'\{"episode_index": (\d+)[,}]')
        run: list | None = None  # [episode, start, end, first line]
        offset = 0
        with open(path, "rb") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    m = head.match(line)
                    ep = int(m.group(1)) if m else int(_json_line(path, n, line)["episode_index"])
                    if run is None or run[0] != ep:
                        if run is not None:
                            out.setdefault(run[0], []).append(tuple(run[1:]))
                        run = [ep, offset, offset, n]
                    run[2] = offset + len(line)
                offset += len(line)
        if run is not None:
            out.setdefault(run[0], []).append(tuple(run[1:]))
        return out

    # --- per-episode data -----------------------------------------------------------------------------------
    @cached_property
    def _data(self):
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted((self.root / "data").glob("chunk-*/file-*.parquet"))
        if not files:
            raise DatasetError(f"{self.root}/data: no data files")
        cols = ["observation.state", "action", "observation.gripper_known", "timestamp", "episode_index", "frame_index",
                "index", "task_index"]
        tables = []
        for f in files:
            try:
                tables.append(pq.read_table(f, columns=[c for c in cols if c in pq.read_schema(f).names]))
            except Exception as e:
                raise DatasetError(f"{f}: unreadable parquet ({e})") from None
        # kept as Arrow (~60 bytes a sample): as pandas rows holding an array each it was ~0.45 KB a sample
        return pa.concat_tables(tables)

    def episode(self, index: int) -> Episode:
        import pyarrow as pa
        import pyarrow.compute as pc

        row = self.episodes_table.iloc[index]
        assert int(row["episode_index"]) == index
        data = self._data
        rows = data.filter(pc.equal(data["episode_index"], index)).sort_by("frame_index")
        video = {}
        for key in self.camera_keys:
            path = self.root / self.info["video_path"].format(
                video_key=key, chunk_index=int(row[f"videos/{key}/chunk_index"]),
                file_index=int(row[f"videos/{key}/file_index"]))
            video[key] = (path, float(row[f"videos/{key}/from_timestamp"]), float(row[f"videos/{key}/to_timestamp"]))

        def stack(col: str) -> np.ndarray:
            if col not in rows.column_names:
                return np.zeros((rows.num_rows, 0))
            lists = rows[col].combine_chunks()
            if not pa.types.is_list(lists.type) and not pa.types.is_fixed_size_list(lists.type):
                return lists.to_numpy(zero_copy_only=False).astype(np.float32)[:, None]  # a (1,) feature: scalars
            lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
            if len(lists) and lists.null_count == 0 and (lengths == lengths[0]).all():  # one flat copy, no per-row arrays
                flat = pc.list_flatten(lists).to_numpy(zero_copy_only=False)
                return flat.astype(np.float32).reshape(len(lists), int(lengths[0]))
            return np.stack(lists.to_numpy(zero_copy_only=False)).astype(np.float32)

        return Episode(index=index, length=int(row["length"]), tasks=[str(t) for t in row["tasks"]],
                       state=stack("observation.state"), action=stack("action"),
                       timestamp=rows["timestamp"].to_numpy().astype(np.float64),
                       task_index=rows["task_index"].to_numpy().astype(np.int64), video=video,
                       gripper_known=stack("observation.gripper_known").reshape(-1)
                       if "observation.gripper_known" in rows.column_names else None)

    def frames(self, ep: Episode, key: str):
        """Yield the episode's frames of camera `key` as (H, W, 3) uint8 RGB, one per dataset frame, in order.

        Each frame is the decoded frame nearest to `from_timestamp + timestamp` (what lerobot's loaders return).
        """
        import av

        path, from_s, _to_s = ep.video[key]
        if not path.is_file():
            raise DatasetError(f"{path}: video file missing (episode {ep.index})")
        wanted = from_s + ep.timestamp
        tol_s = 0.5 / self.fps
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            container.seek(max(0, round(from_s / stream.time_base) - 1), backward=True, any_frame=False,
                           stream=stream)
            i = 0
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                ts = float(frame.pts * stream.time_base)
                if ts > wanted[i] + tol_s:  # a frame the video lacks: lerobot's loader would fail there too
                    raise DatasetError(f"{path}: no frame at {wanted[i]:.4f} s (episode {ep.index}, frame {i})")
                if abs(ts - wanted[i]) <= tol_s:
                    yield frame.to_ndarray(format="rgb24")
                    i += 1
                    if i == len(wanted):
                        return
        if i < len(wanted):
            raise DatasetError(f"{path}: video ends before frame {i} of episode {ep.index} ({wanted[i]:.4f} s)")


def actor_track_id(provenance: dict) -> int | None:
    """The actor's track id, as the build recorded it (provenance `actor_id`; None: the camera is the actor)."""
    actor = provenance.get("actor_id")
    return int(actor) if actor is not None else None


def verdict_fields(provenance: dict) -> dict:
    """Whatever the label-verdict stage recorded in provenance (keys naming a verdict or its evidence)."""
    return {k: v for k, v in provenance.items() if "verdict" in k or "evidence" in k}
