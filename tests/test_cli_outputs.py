"""What researchers see: the CLI (build progress and summary, inspect, report, export hdf5, validate), the HTML QA
report in headless Chromium, the HDF5 export frame for frame against LeRobotDataset, and a quiet dataset open."""

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from conftest import cli_in_process, load_dataset
from vla_builder import __version__
from vla_builder.cli import main

FPS = 10


@pytest.fixture(scope="module")
def built(pick_place_scene, tmp_path_factory):
    """Two episodes of the synthetic scene (listed twice; the second with a human caption, so the label check gives
    it a verdict), small frames; the CLI's own build (its `main`, in this process)."""
    scene, _truth = pick_place_scene
    work = tmp_path_factory.mktemp("cli_build")
    (work / "clips").mkdir()
    shutil.copy(scene / "scene.mp4", work / "clips" / "scene.mp4")
    shutil.copy(scene / "gt.txt", work / "clips" / "scene_gt.txt")
    (work / "recipe.yaml").write_text(textwrap.dedent(f"""
        name: cli
        sources:
          - video: clips/scene.mp4
            labels: "clips/{{stem}}_gt.txt"
            classes: {{1: hand, 2: cup, 3: box}}
            licence: generated (Apache-2.0)
          - video: clips/scene.mp4
            labels: "clips/{{stem}}_gt.txt"
            classes: {{1: hand, 2: cup, 3: box}}
            licence: generated (Apache-2.0)
            caption: pick up the cup and move it to the right
        actor: hand
        fps: {FPS}
        image_size: [120, 160]
        output: out/cli
    """))
    res = cli_in_process("build", "recipe.yaml", cwd=work)  # the CLI's main(): no second interpreter to import
    assert res.returncode == 0, res.stdout + res.stderr
    return work, work / "out" / "cli", res


def run_main(capsys, *argv) -> tuple[int, str, str]:
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's --help / --version / usage errors
        rc = e.code
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_build_shows_progress_summary_and_writes_a_shareable_dataset(built):
    work, root, res = built
    assert "frames/s" in res.stderr and "build:" in res.stderr  # the progress bar (stderr)
    assert f"dataset:  {root.resolve()}" in res.stdout and "episodes: 2" in res.stdout
    assert "stage" in res.stdout and "sink" in res.stdout and "frames/s" in res.stdout  # the summary table
    assert "labels:   confirmed 1" in res.stdout  # the captioned episode's verdict
    report = root / "report" / "index.html"
    assert f"report:   {report.resolve()}" in res.stdout and report.is_file()
    assert "Traceback" not in res.stderr
    # every file readable by others (lerobot's merge writes some through mkstemp: 0600)
    private = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and not p.stat().st_mode & stat.S_IROTH]
    assert private == []
    # provenance paths relative to the recipe (not to where the build was started)
    prov = [json.loads(line) for line in (root / "meta" / "provenance.jsonl").read_text().splitlines()]
    assert [p["source"] for p in prov] == ["clips/scene.mp4"] * 2 and prov[0]["labels"] == "clips/scene_gt.txt"
    record = json.loads((root / "meta" / "vla_builder_build.json").read_text())
    assert record["recipe"] == str((work / "recipe.yaml").resolve())


def test_version_help_quiet_and_json_on_every_subcommand(built, capsys):
    work, root, _ = built
    rc, out, _ = run_main(capsys, "--version")
    assert rc == 0 and out.strip() == f"vla_builder {__version__}"
    for cmd in (["build"], ["validate"], ["inspect"], ["report"], ["export", "hdf5"]):
        rc, out, _ = run_main(capsys, *cmd, "--help")
        assert rc == 0 and "--quiet" in out and "--json" in out, cmd
        rc, out, _ = run_main(capsys, *cmd, "--version")
        assert rc == 0 and out.strip() == f"vla_builder {__version__}", cmd
    rc, out, _ = run_main(capsys, "export", "--help")
    assert rc == 0 and "hdf5" in out
    rc, out, err = run_main(capsys, "validate", root, "--quiet")
    assert rc == 0 and out == "" and err == ""
    rc, out, _ = run_main(capsys, "validate", root, "--json")
    v = json.loads(out)
    assert rc == 0 and v["ok"] and v["episodes"] == 2 and v["problems"] == []
    # an up-to-date rebuild, as JSON: one object on stdout, nothing else
    res = cli_in_process("build", "recipe.yaml", "--json", cwd=work)
    assert res.returncode == 0, res.stderr
    r = json.loads(res.stdout)  # up to date here (a concurrent edit of the builder's code would rebuild)
    assert r["episodes"] == 2 and r["dataset"] == str(root.resolve()) and r["exit_code"] == 0


def test_inspect_matches_lerobots_view(built, capsys):
    _, root, _ = built
    rc, out, _ = run_main(capsys, "inspect", root, "--json")
    assert rc == 0
    s = json.loads(out)
    ds = load_dataset(root, "vla_builder/cli")
    assert s["episodes"] == ds.meta.total_episodes == 2 and s["frames"] == ds.meta.total_frames
    assert sorted(s["tasks"]) == sorted(ds.meta.tasks.index) and len(s["tasks"]) == 2
    for key, summary in (("action", s["action"]), ("observation.state", s["state"])):
        names = ds.meta.info.features[key]["names"]
        assert [d["name"] for d in summary] == names
        np.testing.assert_allclose([d["mean"] for d in summary], ds.meta.stats[key]["mean"], rtol=1e-6)
        np.testing.assert_allclose([d["max"] for d in summary], ds.meta.stats[key]["max"], rtol=1e-6)
    assert s["licences"] == {"generated (Apache-2.0)": 2} and [x["source"] for x in s["sources"]] == ["clips/scene.mp4"] * 2
    assert s["subtask_kinds"].get("carry") == 2 and s["event_kinds"].get("grasp") == 2
    # the captioned episode's label, checked against the footage (the hand does carry the cup to the right)
    assert list(s["label_verdicts"]) == ["1"] and s["label_verdicts"]["1"]["label_verdict"]["verdict"] == "confirmed"
    assert ds.meta.episodes[1]["tasks"] == ["pick up the cup and move it to the right"]
    rc, text, _ = run_main(capsys, "inspect", root)
    assert rc == 0 and "episodes: 2" in text and "ee_dx" in text and "generated (Apache-2.0)" in text
    assert "episode 1: confirmed" in text
    rc, _, err = run_main(capsys, "inspect", root / "meta")
    assert rc == 1 and "not a LeRobot dataset" in err


def test_export_hdf5_equals_the_lerobot_episodes_frame_for_frame(built, tmp_path, capsys):
    import h5py

    _, root, _ = built
    out = tmp_path / "cli.h5"
    rc, stdout, _ = run_main(capsys, "export", "hdf5", root, out, "--json")
    assert rc == 0, stdout
    assert json.loads(stdout)["demos"] == 2
    rc, _, err = run_main(capsys, "export", "hdf5", root, out)  # no silent overwrite
    assert rc == 1 and "--overwrite" in err
    ds = load_dataset(root, "vla_builder/cli")
    with h5py.File(out) as f:
        data = f["data"]
        assert data.attrs["total"] == ds.meta.total_frames
        env = json.loads(data.attrs["env_args"])
        assert env["env_kwargs"]["action_names"] == ds.meta.info.features["action"]["names"]
        train = {x.decode() for x in f["mask/train"][:]}
        valid = {x.decode() for x in f["mask/valid"][:]}
        assert train | valid == {"demo_0", "demo_1"} and not train & valid and valid
        index = 0
        for ep in range(ds.meta.total_episodes):
            demo = data[f"demo_{ep}"]
            n = int(demo.attrs["num_samples"])
            assert n == ds.meta.episodes[ep]["length"]
            assert demo.attrs["task"] == ds.meta.episodes[ep]["tasks"][0]
            assert "subtasks" in json.loads(demo.attrs["language"])
            assert demo["dones"][-1] == 1 and demo["dones"][:-1].sum() == 0 and demo["rewards"][-1] == 1
            images = demo["obs/front"][:]
            assert images.shape == (n, 120, 160, 3) and images.dtype == np.uint8
            for t in range(n):
                item = ds[index + t]
                assert int(item["episode_index"]) == ep and int(item["frame_index"]) == t
                np.testing.assert_array_equal(demo["actions"][t], item["action"].numpy())
                np.testing.assert_array_equal(demo["obs/state"][t], item["observation.state"].numpy())
                assert demo["obs/gripper_known"][t] == float(item["observation.gripper_known"])
                frame = (item["observation.images.front"].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
                np.testing.assert_array_equal(images[t], frame, err_msg=f"episode {ep} frame {t}")
            index += n
        assert index == len(ds)


def test_report_command_writes_where_asked(built, tmp_path, capsys):
    _, root, _ = built
    rc, out, _ = run_main(capsys, "report", root, "--output", tmp_path / "qa", "--max-videos", "1", "--json")
    r = json.loads(out)
    assert rc == 0 and r["episodes"] == 2 and r["videos"] == 1 and r["report"] == str(tmp_path / "qa" / "index.html")
    page = (tmp_path / "qa" / "index.html").read_text()
    assert page.count("<video") == 1 and page.count("<svg") == 2 and "over the --max-videos limit" in page
    assert sorted(p.name for p in (tmp_path / "qa").iterdir()) == ["index.html"]  # the overlay links the dataset's
    src = re.search(r"<video src='([^']+)'", page).group(1)
    assert (tmp_path / "qa" / src).resolve().is_file() and "/videos/" in src
    rc, out, _ = run_main(capsys, "report", root, "--output", tmp_path / "burnt", "--max-videos", "1", "--burn-in",
                          "--json")
    assert rc == 0 and json.loads(out)["videos"] == 1
    assert sorted(p.name for p in (tmp_path / "burnt").iterdir()) == ["episode_000000.mp4", "index.html"]
    rc, _, err = run_main(capsys, "report", tmp_path)
    assert rc == 1 and "not a LeRobot dataset" in err


def test_overwrite_refuses_a_folder_that_is_not_a_built_dataset(built, tmp_path, capsys):
    work, _, _ = built
    precious = tmp_path / "thesis"
    precious.mkdir()
    (precious / "chapter1.tex").write_text("years of work")
    rc, _, err = run_main(capsys, "build", work / "recipe.yaml", "--output", precious, "--overwrite")
    assert rc == 2 and "not a dataset built by vla_builder" in err
    assert (precious / "chapter1.tex").read_text() == "years of work"


def test_failed_clips_print_the_failures_file(tmp_path):
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(2000))
    (tmp_path / "r.yaml").write_text("name: broken\nsources:\n  - video: broken.mp4\nfps: 10\noutput: out/b\n")
    res = cli_in_process("build", "r.yaml", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    line = next(ln for ln in res.stdout.splitlines() if ln.startswith("failures:"))
    path = line.split(":", 1)[1].strip()
    rows = [json.loads(x) for x in open(path).read().splitlines()]
    assert len(rows) == 1 and rows[0]["file"].endswith("broken.mp4") and "FAILED" in res.stdout


def test_report_renders_in_headless_chromium(built, tmp_path):
    """The report's videos decode and its plots draw, seen by a real browser: DOM marks + a screenshot."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (`make test` installs Debian's chromium when run as root)")
    _, root, _ = built
    index = root / "report" / "index.html"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--hide-scrollbars", "--virtual-time-budget=8000"]
    url = index.resolve().as_uri()
    window = "--window-size=1400,2600"  # the same layout for the DOM dump and the screenshot
    dom = subprocess.run([*flags, window, f"--user-data-dir={tmp_path / 'p1'}", "--dump-dom", url],
                         capture_output=True, text=True, timeout=120).stdout
    videos = re.findall(r"<video[^>]*>", dom)
    assert len(videos) == 2, dom[:2000]
    assert all('data-state="playable"' in v for v in videos), videos  # the browser decoded a frame
    assert all('data-video-width="160"' in v for v in videos), videos  # the dataset's own 160 px frames ...
    assert all(re.search(r'data-rect="\d+,\d+,320,', v) for v in videos), videos  # ... shown at 2x
    drawn = re.findall(r'<div class="overlay" data-episode="(\d+)"[^>]* data-frame="0"', dom)
    assert drawn == ["0", "1"], dom[:3000]  # each overlay drew its episode's first frame (the second: a seek)
    assert '<p class="video-error"' not in dom
    assert dom.count('data-verdict="confirmed"') == 1 and "object moved" in dom  # verdict with its evidence
    plots = re.findall(r"<div class=\"plot\"[^>]*>", dom)
    assert len(plots) == 2 and dom.count("<svg") >= 2
    shot = tmp_path / "shot.png"
    subprocess.run([*flags, window, f"--user-data-dir={tmp_path / 'p2'}", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    import cv2

    page = cv2.imread(str(shot))[:, :, ::-1].astype(int)

    def region(tag: str) -> np.ndarray:
        x, y, w, h = map(int, re.search(r'data-rect="([\d,]+)"', tag).group(1).split(","))
        assert w > 50 and h > 50 and y + h <= page.shape[0], (tag, page.shape)
        return page[y : y + h, x : x + w]

    from vla_builder.report import ARROW_RGB

    for tag in videos:
        video = region(tag)
        assert video.std() > 20, "the video area is flat: no frame drawn"
        magenta = (np.abs(video - np.array(ARROW_RGB)).max(axis=2) < 60).sum()
        green = (video[..., 1] - np.maximum(video[..., 0], video[..., 2]) > 60).sum()  # the actor's box
        assert magenta > 50 and green > 30, (magenta, green)
    for tag in plots:
        plot = region(tag)
        blue = (np.abs(plot - np.array((31, 119, 180))).max(axis=2) < 30).sum()  # matplotlib's first line colour
        assert blue > 300 and (plot.sum(axis=2) < 600).mean() > 0.01, blue  # lines and dark axes/labels


def ffmpeg_shared_libs() -> bool:
    """FFmpeg 4-8's libavutil, as torchcodec looks for it (`make system-deps` installs it as root)."""
    import ctypes

    for major in (56, 57, 58, 59, 60):
        try:
            ctypes.CDLL(f"libavutil.so.{major}")
            return True
        except OSError:
            pass
    return False


def test_opening_a_built_dataset_prints_no_traceback(built):
    if not ffmpeg_shared_libs() and os.geteuid() != 0:
        pytest.skip("FFmpeg's shared libraries are missing and this is not root to install them: `sudo make system-deps`")
    _, root, _ = built
    code = ("from lerobot.datasets.lerobot_dataset import LeRobotDataset; "
            f"ds = LeRobotDataset('vla_builder/cli', root={str(root)!r}); ds[0]; print(ds._video_backend)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr and "WARNING" not in res.stderr, res.stderr[-2000:]
    assert res.stdout.strip() == "torchcodec"  # FFmpeg's shared libraries are there (Makefile: system-deps)


@pytest.mark.parametrize("name", ["explore_dataset.ipynb", "train_act.ipynb"])
def test_notebook_executes(built, tmp_path, monkeypatch, name):
    """Each notebook runs top to bottom in a Jupyter kernel (nbclient), on the small build; training cut to 2 steps."""
    import nbformat
    from nbclient import NotebookClient

    from conftest import REPO

    _, root, _ = built
    monkeypatch.setenv("VLA_NOTEBOOK_DATASET", str(root))
    monkeypatch.setenv("VLA_NOTEBOOK_STEPS", "2")
    monkeypatch.setenv("VLA_NOTEBOOK_BATCH", "4")
    monkeypatch.setenv("VLA_NOTEBOOK_RUN", str(tmp_path / "run"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    if name == "train_act.ipynb":
        assert "2 loss values logged" in text and (tmp_path / "run" / "checkpoints" / "last").exists(), text[-2000:]
    else:
        assert "0 inconsistent" in text and "episodes: 2" in text, text[-2000:]
