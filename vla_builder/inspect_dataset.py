"""`inspect DATASET`: what is in a built dataset, without writing code.

Episodes, frames, tasks, per-dimension action/state stats, sources with their licences, label verdicts (where the
build recorded them), subtask kinds and failures — as text, or as JSON with `--json`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from vla_builder.dataset_view import DatasetView, verdict_fields


def _dim_stats(view: DatasetView, key: str) -> list[dict]:
    stats = view.stats.get(key, {})
    names = view.names(key)
    out = []
    for i, name in enumerate(names):
        row = {"name": name}
        for s in ("min", "max", "mean", "std"):
            values = stats.get(s)
            row[s] = float(np.asarray(values, dtype=float).reshape(-1)[i]) if values is not None else None
        out.append(row)
    return out


def summarize(root) -> dict:
    view = DatasetView(root)
    eps = view.episodes_table
    lengths = eps["length"].to_numpy()
    prov = view.provenance
    sources = [{"episode_index": p.get("episode_index"), "source": p.get("source"), "labels": p.get("labels"),
                "licence": p.get("licence"), "frames": p.get("frames"), "actor": p.get("actor"),
                "decoder": p.get("decoder")} for p in prov]
    verdicts = {}
    for p in prov:
        v = verdict_fields(p)
        if v:
            verdicts[int(p.get("episode_index", len(verdicts)))] = v
    subtask_kinds = Counter(s["kind"] for r in view.subtasks.values() for s in r.get("subtasks", []))
    event_kinds = Counter(e["kind"] for r in view.subtasks.values() for e in r.get("events", []))
    return {
        "dataset": str(view.root.resolve()),
        "codebase_version": view.info.get("codebase_version"),
        "fps": view.fps,
        "episodes": view.n_episodes,
        "frames": view.n_frames,
        "duration_s": round(view.n_frames / view.fps, 3),
        "episode_length": {"min": int(lengths.min()), "max": int(lengths.max()), "mean": float(lengths.mean())},
        "cameras": {k: view.features[k]["shape"] for k in view.camera_keys},
        "tasks": view.tasks,
        "action": _dim_stats(view, "action"),
        "state": _dim_stats(view, "observation.state"),
        "gripper_known": _dim_stats(view, "observation.gripper_known"),  # the fraction of frames (mean) it is 1
        "language_columns": [k for k, v in view.features.items() if v.get("dtype") == "language"],
        "subtask_kinds": dict(subtask_kinds),
        "event_kinds": dict(event_kinds),
        "licences": dict(Counter(str(p.get("licence")) for p in prov)),
        "sources": sources,
        "label_verdicts": verdicts,
        "failures": view.failures,
        "build": view.build_record,
    }


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*header), fmt.format(*("-" * w for w in widths))]
                     + [fmt.format(*map(str, r)) for r in rows])


def format_text(s: dict) -> str:
    def num(x):
        return "-" if x is None else f"{x:+.4f}"

    lines = [
        f"dataset:  {s['dataset']}  (LeRobot {s['codebase_version']}, {s['fps']} fps)",
        f"episodes: {s['episodes']}  frames: {s['frames']}  ({s['duration_s']:.1f} s; episode length "
        f"{s['episode_length']['min']}-{s['episode_length']['max']}, mean {s['episode_length']['mean']:.1f})",
        "cameras:  " + ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in s["cameras"].items()),
        f"language: {', '.join(s['language_columns']) or '(none)'}",
        f"tasks ({len(s['tasks'])}):",
        *(f"  - {t}" for t in s["tasks"][:20]),
        *([f"  ... and {len(s['tasks']) - 20} more"] if len(s["tasks"]) > 20 else []),
    ]
    for key, title in (("action", "action"), ("state", "observation.state"),
                       ("gripper_known", "observation.gripper_known (1: the gripper value is evidence)")):
        if s.get(key):
            lines += ["", f"{title}:", _table([[d["name"], num(d["min"]), num(d["max"]), num(d["mean"]),
                                                 num(d["std"])] for d in s[key]],
                                               ["dim", "min", "max", "mean", "std"])]
    if s["subtask_kinds"] or s["event_kinds"]:
        lines += ["", "subtasks: " + ", ".join(f"{k} x{n}" for k, n in s["subtask_kinds"].items()),
                  "events:   " + ", ".join(f"{k} x{n}" for k, n in s["event_kinds"].items())]
    shown = s["sources"][:20]  # --json has them all
    lines += ["", "sources:", _table([[x["episode_index"], x["frames"], x["licence"], x["source"]] for x in shown],
                                     ["ep", "frames", "licence", "source"])]
    if len(s["sources"]) > len(shown):
        lines.append(f"... and {len(s['sources']) - len(shown)} more episodes (--json lists every one)")
    lines += ["", "licences: " + "; ".join(f"{k} ({n} episode(s))" for k, n in s["licences"].items())]
    if s["label_verdicts"]:
        lines += ["", "label verdicts:"]
        for ep, fields in s["label_verdicts"].items():
            v = fields.get("label_verdict") if isinstance(fields.get("label_verdict"), dict) else fields
            why = f" ({v['why']})" if v.get("why") else ""
            lines.append(f"  episode {ep}: {v.get('verdict', '?')}{why} — label: {v.get('label', '-')!r}")
        counts = Counter(str((f.get("label_verdict") or f).get("verdict")) for f in s["label_verdicts"].values()
                         if isinstance(f.get("label_verdict", f), dict))
        lines.append("  totals: " + ", ".join(f"{k} {n}" for k, n in counts.items()))
    else:
        lines += ["label verdicts: (none recorded)"]
    if s["failures"]:
        lines += ["", f"failed clips ({len(s['failures'])}):",
                  *(f"  - {f.get('clip_id')} [{f.get('stage')}] {f.get('file')}: {f.get('reason')}"
                    for f in s["failures"])]
    return "\n".join(lines)
