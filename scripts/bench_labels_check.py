"""`labels check` wall time on every video recipe in recipes/ and on a recipe per label test sample
(tests/assets/labels/: each format and each mapping of README's label section) — the dry run must print its summary
in < 3 s. Times `python -m vla_builder labels check RECIPE` as a user runs it (a fresh interpreter each: imports
included) and the check alone in this process (after the first). Prints a Markdown table.

    PYTHONPATH=. python scripts/bench_labels_check.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))


def sample_recipes(root: Path) -> dict[str, Path]:
    """One recipe per test sample, over a 250 s 4 fps synthetic video named as each label file expects."""
    import test_labels_layouts as T

    from vla_builder.synthetic import make_scene

    make_scene(root / "v", "pick_place", n_frames=1000, fps=4, size_px=(120, 160), seed=3)
    a = T.ASSETS
    samples = {
        "aihub_multimodal_video (mapping)": ("aihub_multimodal", {"labels": f"{a}/aihub_multimodal_video/clip_0001.json",
                                                                 "mapping": T.MULTIMODAL, "frame_base": 1}),
        "aihub_abnormal_cctv XML (mapping)": ("aihub_cctv", {"labels": f"{a}/aihub_abnormal_cctv/clip_falldown.xml",
                                                             "mapping": T.CCTV}),
        "aihub_sign_language (mapping)": ("NIA_SL_SEN0005_SYN05_D", {
            "labels": f"{a}/aihub_sign_language/NIA_SL_SEN0005_SYN05_D_morpheme.json", "mapping": T.SIGN}),
        "aihub_fitness keypoints (mapping)": ("fit", {"labels": f"{a}/aihub_fitness/D01-1-033.json",
                                                      "mapping": T.FITNESS}),
        "aihub_construction_safety folder (mapping)": ("H-210825_A03_E_UA-04_101", {
            "labels": f"{a}/aihub_construction_safety", "mapping": T.SAFETY}),
        "per_frame_json folder (mapping)": ("pf", {"labels": f"{a}/per_frame_json", "mapping": T.PER_FRAME}),
        "activitynet": ("v_bXdq2zI1Ms0", {"labels": f"{a}/activitynet/activitynet_captions.json"}),
        "youcook2": ("GLd3aX16zBg", {"labels": f"{a}/youcook2/youcookii_annotations_head.json"}),
        "charades": ("46GP8", {"labels": f"{a}/charades/Charades_v1_train_head.csv"}),
        "via": ("via_clip", {"labels": f"{a}/via/via3_video_project.json"}),
        "cvat_video": ("task", {"labels": f"{a}/cvat_video/annotations.xml"}),
        "coco (tao)": ("tao", {"labels": f"{a}/tao/ann.json"}),
        "youtube_vis": ("0043f083b5", {"labels": f"{a}/youtube_vis/native.json"}),
        "labelme folder": ("walk", {"labels": f"{a}/labelme"}),
        "voc folder": ("voc", {"labels": f"{a}/voc"}),
        "ava": ("ava", {"labels": f"{a}/ava/ava_default_v2.2.csv"}),
        "epic": ("P03_02", {"labels": f"{a}/epic/EPIC_100_uda_source_val_head.csv"}),
    }
    out = {}
    for label, (name, source) in samples.items():
        media = root / f"{name}.mp4"
        if not media.exists():
            media.symlink_to(root / "v" / "scene.mp4")
        path = root / f"{name}.yaml"
        path.write_text(yaml.safe_dump({"name": "bench", "sources": [{"video": media.name, **source}]},
                                       allow_unicode=True), encoding="utf-8")
        out[label] = path
    return out


def main() -> None:
    from vla_builder.recipe import load_recipe
    from vla_builder.sources.labels.check import check_recipe

    recipes = {f"recipes/{p.name}": p for p in sorted((REPO / "recipes").glob("*.yaml"))}
    with tempfile.TemporaryDirectory() as tmp:
        recipes.update(sample_recipes(Path(tmp)))
        print("| recipe | exit | CLI wall s | check alone s | sources | errors |")
        print("|---|---:|---:|---:|---:|---:|")
        for label, path in recipes.items():
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "vla_builder", "labels", "check", str(path)],
                                  capture_output=True, text=True, cwd=path.parent, env={
                                      "PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
            wall = time.perf_counter() - t0
            try:
                t1 = time.perf_counter()
                checks = check_recipe(load_recipe(path))
                alone, n, bad = f"{time.perf_counter() - t1:.2f}", len(checks), sum(bool(c.errors) for c in checks)
            except Exception as e:  # noqa: BLE001 — a recipe error (missing demo data, a text recipe)
                alone, n, bad = f"({type(e).__name__})", 0, 0
            print(f"| {label} | {proc.returncode} | {wall:.2f} | {alone} | {n} | {bad} |")


if __name__ == "__main__":
    main()
