"""The set-up contract and project rules that no other test would catch."""

import re
import subprocess
import sys
from importlib import metadata

from conftest import REPO, cli_in_process, run_cli


def test_exactly_one_opencv_distribution():
    names = {d.metadata["Name"].lower() for d in metadata.distributions()}
    opencv = sorted(n for n in names if re.fullmatch(r"opencv-(contrib-)?python(-headless)?", n))
    assert opencv == ["opencv-python-headless"], opencv


def test_ultralytics_is_imported_only_by_its_adapter():
    # AGPL-3.0: keep it behind one module
    offenders = []
    for path in (REPO / "vla_builder").rglob("*.py"):
        if re.search(r"^\s*(import ultralytics|from ultralytics)", path.read_text(), re.M):
            offenders.append(str(path.relative_to(REPO)))
    assert set(offenders) <= {"vla_builder/detect/ultralytics_adapter.py"}, offenders


def test_ci_runs_the_readme_test_command():
    assert "make test" in (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme


def test_demo_recipe_builds(tmp_path):
    scene = REPO / "recipes" / "data" / "synthetic_pick_place"
    if not (scene / "scene.mp4").exists():  # `make demo` makes it; the test makes it too
        subprocess.run([sys.executable, str(REPO / "scripts" / "make_synthetic_scene.py"), str(scene)], check=True)
    res = run_cli("build", str(REPO / "recipes" / "demo.yaml"), "--output", str(tmp_path / "demo"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "episodes: 2" in res.stdout
    from conftest import assert_valid

    assert_valid(tmp_path / "demo")  # the demo holds the real MOT17-05 frames and labels
    rerun = cli_in_process("build", str(REPO / "recipes" / "demo.yaml"), "--output", str(tmp_path / "demo"))
    assert rerun.returncode == 0 and "up to date" in rerun.stdout
    # the explore notebook is run in a Jupyter kernel on a built dataset by test_cli_outputs.test_notebook_executes
