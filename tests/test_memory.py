"""Memory flat in the episode's length after the decode pass (issue 12): no per-sample Python objects held for the
whole clip by the language stage, the sink's reasoning file, the merge or the report's reader."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from vla_builder.schema import ACTION_NAMES, GRIPPER, STATE_NAMES
from vla_builder.types import Clip, Event, Frames, SourceSpec, TrackSet, Trajectory


def long_clip(n: int) -> Clip:
    """A labeled clip of n samples (hand 1 carries cup 2 past box 3), without pixels: what the language stage reads."""
    t = np.arange(n)
    third = n // 3
    hand = np.stack([0.2 + 0.5 * np.clip((t - third) / third, 0, 1), 0.6 + 0.05 * np.sin(t / 7.0)], axis=1)
    cup = np.where((t >= third)[:, None], hand + [0.0, 0.02], hand[third] + [0.0, 0.02])
    box = np.tile([0.5, 0.3], (n, 1))
    half = np.array([0.05, 0.06])
    boxes = np.stack([np.concatenate([c - half, c + half], axis=1) for c in (hand, cup, box)], axis=1)
    boxes[n // 2 : n // 2 + 5, 2] = np.nan  # the box unlabeled for a moment
    tracks = TrackSet(ids=np.array([1, 2, 3]), class_names=("hand", "cup", "box"), boxes_xyxy=boxes,
                      labeled=~np.isnan(boxes[..., 0]))
    state = np.zeros((n, len(STATE_NAMES)), np.float32)
    state[:, :2] = hand
    action = np.zeros((n, len(ACTION_NAMES)), np.float32)
    action[:-1, :2] = np.diff(hand, axis=0)
    action[third : 2 * third, GRIPPER] = 1.0
    subtasks = (Event("reach", 0, third - 1, 1, 2), Event("carry", third, 2 * third - 1, 1, 2),
                Event("retreat", 2 * third, n - 1, 1, 2))
    frames = Frames(rgb=np.broadcast_to(np.zeros((1, 1, 1, 3), np.uint8), (n, 120, 160, 3)), fps=30,
                    source_index=t, source_time_s=t / 30, start_s=0.0, backend="none (test)",
                    source_size_px=(160, 120))
    return Clip(clip_id="long", source=SourceSpec(video=Path("long.mp4")), frames=frames, tracks=tracks,
                actor_id=1, actor_reason="class 'hand' from the recipe", subtasks=subtasks,
                events=(Event("grasp", third, third, 1, 2), Event("carry", third, 2 * third - 1, 1, 2)),
                trajectory=Trajectory(state, STATE_NAMES, action, ACTION_NAMES, follows_camera=False))


def test_language_stage_holds_no_rows_per_sample():
    from vla_builder.stages.language import LanguageStage, label_checks, visible_objects
    from vla_builder.boxes import stored_image_mapping

    n = 6000
    clip, stage = long_clip(n), LanguageStage(image_size=(120, 160))
    stage.process(long_clip(30))  # lerobot's resolvers imported outside the measurement
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        out = stage.process(clip)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    # a list of per-sample dicts held ~2.5 KB a sample (15 MB here); the compact trace ~0.2 KB
    assert held / n < 600, f"the language stage holds {held / n:.0f} bytes a sample"
    trace = out.language["reasoning"]
    assert len(trace) == n and not isinstance(trace, list)
    rows = list(trace)
    assert [r["frame_index"] for r in rows] == list(range(n)) and trace[-1] == rows[-1]
    # the rows equal what the per-sample functions give on their own (the trace's shared arrays change nothing)
    stored = clip.tracks.mapped(*stored_image_mapping(clip.frames.size_px, (120, 160)))
    for t in (0, 1, n // 3, n // 2 + 1, n // 2 + 5, n - 1):
        assert rows[t]["visible_objects"] == visible_objects(stored, t)
        assert rows[t]["error_verification"] == label_checks(stored, list(clip.subtasks), t)
    assert rows[n // 3]["gripper"] == "closed" and rows[0]["gripper"] == "open"
    assert rows[n // 3]["subtask"] != rows[0]["subtask"] == rows[n // 3 - 1]["subtask"]
    assert len(rows[n // 2 + 1]["visible_objects"]) == 2  # the unlabeled box is not claimed visible


def test_reasoning_file_copied_into_the_dataset_byte_for_byte(tmp_path):
    """The shard's reasoning file, prefixed with the episode's index at the merge, gives the bytes the merge wrote
    when it held the rows: json.dumps({"episode_index": i, **row}) of the row as the record stored it."""
    import io

    from vla_builder.sinks.lerobot import ShardError, copy_reasoning, write_reasoning

    rows = [{"frame_index": 0, "task": "put the cup — left of the box", "value": np.float32(0.5), "b": [1, (2, 3)],
             "nested": {"ok": True, "none": None, "x": 0.1 + 0.2}},
            {"frame_index": 1, "move": "stay still"}]
    path = tmp_path / "r.jsonl"
    assert write_reasoning(iter(rows), path) == 2
    out = io.StringIO()
    copy_reasoning(path, 7, out)
    expected = "".join(json.dumps({"episode_index": 7, **json.loads(json.dumps(r, default=str))}) + "\n"
                       for r in rows)
    assert out.getvalue() == expected
    path.write_text('{"frame_index": 0}\n[1, 2]\n')
    with pytest.raises(ShardError, match="not a non-empty JSON object"):
        copy_reasoning(path, 0, io.StringIO())


def test_dataset_view_reads_one_episodes_reasoning_rows(tmp_path):
    from vla_builder.dataset_view import DatasetError, DatasetView

    root = tmp_path / "ds"
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text(json.dumps({"codebase_version": "v3.0", "fps": 30, "features": {}}))
    lines = [{"episode_index": 0, "frame_index": 1, "a": "x"}, {"episode_index": 0, "frame_index": 0},
             {"episode_index": 1, "frame_index": 0}, {"frame_index": 2, "episode_index": 0}]  # the last: key not first
    text = "\n".join(json.dumps(r) for r in lines[:2]) + "\n\n" + "\n".join(json.dumps(r) for r in lines[2:]) + "\n"
    (root / "meta" / "reasoning.jsonl").write_text(text)
    view = DatasetView(root)
    assert list(view.reasoning_rows(0)) == [lines[0], lines[1], lines[3]]  # file order, only episode 0's
    assert [r["frame_index"] for r in view.reasoning(0)] == [0, 1, 2]
    assert view.reasoning(1) == [lines[2]] and view.reasoning(5) == []
    (root / "meta" / "reasoning.jsonl").write_text(text + '{"episode_index": 1, oops\n')
    with pytest.raises(DatasetError, match=r"reasoning.jsonl:6: not valid JSON"):
        list(DatasetView(root).reasoning_rows(1))
