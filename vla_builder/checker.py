"""Recheck every statement of the reasoning traces against the written dataset.

For each frame's trace (`meta/reasoning.jsonl`) the checker recomputes, from the dataset's own columns and the
boxes the trace lists: the gripper state (from `action.gripper`), the move primitive (from `action`, with the same
rule the language stage used), the active subtask and plan (from `language_persistent`, through lerobot's
`active_at`), the task (from the episode's task), the visible objects (present in the episode's labels), and
each error-verification flag (box jumps recomputed from consecutive frames' boxes). A statement that does not
recompute to the same value is reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vla_builder.boxes import centers
from vla_builder.observability import GRIPPER_KNOWN
from vla_builder.stages.language import JUMP_PER_FRAME, move_primitives
from vla_builder.schema import GRIPPER


@dataclass
class CheckReport:
    statements: int = 0
    inconsistencies: list[str] = field(default_factory=list)

    @property
    def consistent_fraction(self) -> float:
        return 1.0 - len(self.inconsistencies) / max(self.statements, 1)


def check_dataset(root: str | Path) -> CheckReport:
    import pyarrow.parquet as pq
    from lerobot.datasets.language_render import active_at

    root = Path(root)
    info = json.loads((root / "meta" / "info.json").read_text())
    fps = int(info["fps"])
    rows_by_ep: dict[int, list[dict]] = defaultdict(list)
    for f in sorted((root / "data").rglob("*.parquet")):
        for row in pq.read_table(f).to_pylist():
            rows_by_ep[int(row["episode_index"])].append(row)
    tasks_table = pq.read_table(root / "meta" / "tasks.parquet")
    tasks = None
    if "task_index" in tasks_table.column_names:
        # lerobot keeps the task text as the (pandas) index column of tasks.parquet
        text_col = next(c for c in tasks_table.column_names if c != "task_index")
        tasks = {int(r["task_index"]): r[text_col] for r in tasks_table.to_pylist()}
    traces: dict[int, list[dict]] = defaultdict(list)
    for line in (root / "meta" / "reasoning.jsonl").read_text().splitlines():
        r = json.loads(line)
        traces[int(r["episode_index"])].append(r)

    report = CheckReport()

    def claim(ok: bool, what: str) -> None:
        report.statements += 1
        if not ok:
            report.inconsistencies.append(what)

    for ep, rows in sorted(rows_by_ep.items()):
        rows.sort(key=lambda r: r["frame_index"])
        action = np.array([r["action"] for r in rows], dtype=np.float32)
        moves = move_primitives(action, fps)
        trace = sorted(traces.get(ep, []), key=lambda r: r["frame_index"])
        claim(len(trace) == len(rows), f"episode {ep}: {len(trace)} traces for {len(rows)} frames")
        for tr in trace:
            t = int(tr["frame_index"])
            where = f"episode {ep} frame {t}"
            if not 0 <= t < len(rows):
                claim(False, f"{where}: a trace for a frame the episode does not have ({len(rows)} frames)")
                continue
            row = rows[t]
            gripper = "closed" if action[t, GRIPPER] > 0.5 else "open"
            known = row.get(GRIPPER_KNOWN)  # a dataset without the mask: every value is a claim
            if known is not None and float(np.asarray(known).reshape(-1)[0]) < 0.5:
                gripper = "unknown"  # nothing tells open from closed: the trace claims neither
            claim(tr["gripper"] == gripper, f"{where}: gripper '{tr['gripper']}' but action says {gripper}")
            claim(tr["move"] == moves[t], f"{where}: move '{tr['move']}' but the action gives '{moves[t]}'")
            persistent = row.get("language_persistent") or []
            ts = float(row["timestamp"])
            try:
                sub = active_at(ts, persistent=persistent, style="subtask")
                plan = active_at(ts, persistent=persistent, style="plan")
            except ValueError as e:  # lerobot refuses ambiguous language: a problem of the dataset, reported
                claim(False, f"{where}: lerobot cannot resolve its language ({str(e)[:160]})")
                continue
            expected_sub = sub["content"] if sub else tr["task"]
            claim(tr["subtask"] == expected_sub, f"{where}: subtask '{tr['subtask']}', active is '{expected_sub}'")
            claim(plan is not None and tr["plan"] == plan["content"], f"{where}: plan differs from the plan row")
            if tasks is not None:
                claim(tr["task"] == tasks.get(int(row["task_index"])), f"{where}: task differs from the episode's")
            conf = tr["answer_confirmation"]
            claim(conf["subtask"] == tr["subtask"] and conf["move"] == tr["move"] and conf["gripper"] == gripper,
                  f"{where}: answer confirmation differs from the trace")
            # error verification: every jump flag recomputed from the boxes of this and the previous frame
            prev = {o["id"]: o["box"] for o in trace[t - 1]["visible_objects"]} if t > 0 else {}
            boxes = {o["id"]: o["box"] for o in tr["visible_objects"]}
            for check in tr["error_verification"]:
                if check["check"].endswith("moves smoothly"):
                    oid = int(check["check"].split()[-3])
                    if oid in prev and oid in boxes:
                        a, b = np.array(prev[oid]), np.array(boxes[oid])
                        jump = float(np.linalg.norm(centers(a) - centers(b)))
                        claim(check["ok"] == (jump <= JUMP_PER_FRAME + 1e-3) or abs(jump - JUMP_PER_FRAME) < 2e-3,
                              f"{where}: jump flag for {oid} disagrees with the boxes ({jump:.4f})")
            claim(conf["labels_consistent"] == all(c["ok"] for c in tr["error_verification"]),
                  f"{where}: labels_consistent disagrees with the checks")
    return report
