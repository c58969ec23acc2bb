"""The GPU checks, prepared on a CPU machine: scripts/gpu_check.sh reports "no CUDA" for every GPU check, quickly;
the second bundle's parts unpack as they arrive; the whole-build benchmark's pieces (clips dealt to workers, its
recipes, nvidia-smi lines, the encoder's CPU share) and the bundle's packing are right."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from conftest import REPO


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        return False


@pytest.mark.skipif(_cuda(), reason="a CUDA machine runs the checks themselves")
def test_every_gpu_check_says_no_cuda_quickly(tmp_path):
    env = {**os.environ, "PYTHON": sys.executable, "OUT": str(tmp_path), "VLA_GPU_CHECK_CPU": "0"}
    res = subprocess.run(["bash", str(REPO / "scripts" / "gpu_check.sh")], env=env, capture_output=True, text=True,
                         timeout=120, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr  # 2: no CUDA here
    summary = (tmp_path / "gpu_check" / "summary.txt").read_text()
    for name in ("kernels", "parity", "gpu-tests", "motion-1080p", "nvdec", "detector", "e2e"):
        assert re.search(rf"^{name}\s+SKIP\s+0 s\s+no CUDA$", summary, re.M), (name, summary)
    assert "no CUDA on this machine" in res.stdout


def test_parts_of_the_second_bundle_unpack_once_as_they_arrive(tmp_path):
    """A stand-in repository root: gpu_check.sh --unpack-only unpacks each archive under gpu_build_wheels/part-N/
    into gpu_site/ once, and one arriving in a later call joins the same folder."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "gpu_check.sh", tmp_path / "scripts" / "gpu_check.sh")

    def archive(part: str, package: str) -> None:
        src = tmp_path / "src" / package / "site" / package
        src.mkdir(parents=True)
        (src / "__init__.py").write_text(f"NAME = {package!r}\n")
        (tmp_path / "gpu_build_wheels" / part).mkdir(parents=True, exist_ok=True)
        with tarfile.open(tmp_path / "gpu_build_wheels" / part / f"{package}.tar.xz", "w:xz") as tar:
            tar.add(src.parent, arcname="site")

    def unpack() -> str:
        res = subprocess.run(["bash", "scripts/gpu_check.sh", "--unpack-only"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=60, env={**os.environ, "OUT": str(tmp_path / "out")})
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    archive("part-1", "pkg_a")
    assert "1 archive(s) unpacked" in unpack()
    (tmp_path / "gpu_site" / "site" / "pkg_a" / "__init__.py").write_text("NAME = 'kept'\n")
    shutil.rmtree(tmp_path / "gpu_build_wheels" / "part-1")  # the next call carries part 2 only
    archive("part-2", "pkg_b")
    assert "2 archive(s) unpacked" in unpack()
    site = tmp_path / "gpu_site" / "site"
    assert (site / "pkg_a" / "__init__.py").read_text() == "NAME = 'kept'\n"  # not unpacked again
    assert (site / "pkg_b" / "__init__.py").read_text() == "NAME = 'pkg_b'\n"


def test_whole_build_benchmark_pieces(tmp_path):
    bench = _script("bench_gpu_build")
    clips = [tmp_path / f"clip{i:02d}" for i in range(8)]
    det = tmp_path / "det.mp4"
    # weak scaling: one clip per worker at 8, 4 and 1 workers; the unlabeled clip to the last worker
    for workers in (8, 4, 1):
        shares = bench.deal(clips, det, workers, per_worker=1)
        assert len(shares) == workers and all(len(c) == 1 for c, _ in shares)
        assert [d for _, d in shares] == [None] * (workers - 1) + [det]
    assert bench.deal(clips, None, 4, per_worker=2)[0][0] == [clips[0], clips[4]]
    # the most workers first, each GPU build beside its CPU twin there
    assert bench.plan([8, 4, 1], ["480x640", "source"])[:5] == [
        ("480x640", True, 8), ("480x640", False, 8), ("source", True, 8), ("source", False, 8), ("480x640", True, 4)]
    assert bench.parse_smi_line("87, 45, 10240\n") == (87.0, 45.0, 10240.0)
    assert bench.parse_smi_line("[N/A], [N/A], 3\n") is None
    g = bench.summarize_gpu([(80.0, 40.0, 1000.0), (100.0, 60.0, 3000.0)])
    assert g["sm_util_mean_pct"] == 90.0 and g["nvdec_util_max_pct"] == 60.0 and g["gpu_memory_peak_mib"] == 3000.0
    c = bench.cpu_summary({1: (False, 30.0), 2: (True, 10.0)}, 3 << 30)
    assert c["encoder_cpu_share"] == 0.25 and c["host_memory_peak_mib"] == 3072


def test_whole_build_benchmark_recipes_load(tmp_path):
    from vla_builder.recipe import load_recipe

    bench = _script("bench_gpu_build")
    clip = tmp_path / "clip00"
    clip.mkdir()
    for path in (clip / "scene.mp4", clip / "gt.txt", tmp_path / "det.mp4"):
        path.write_bytes(b"")
    for gpu in (True, False):
        loaded = load_recipe(bench.write_recipe(tmp_path / f"r{gpu}.yaml", [clip], tmp_path / "det.mp4", gpu,
                                                (480, 640), 30, 320, None if gpu else 20.0))
        r = loaded.recipe
        assert (r.decoder, r.motion.method, r.detector.device) == (("nvdec", "lk", "cuda") if gpu else
                                                                    ("auto", "dis", "cpu"))
        assert len(loaded.sources) == 2 and loaded.sources[1].labels is None  # the detector's clip
        assert (loaded.sources[0].end_s is None) == gpu


def test_second_bundle_packing_and_choice(tmp_path):
    wheels = _script("make_gpu_wheels")
    sizes = {"a": 40, "b": 30, "c": 20, "d": 10, "e": 70}
    files = []
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
        files.append(tmp_path / name)
    parts = wheels.pack_parts(files, 60)
    assert [[p.name for p in part] for part in parts] == [["e"], ["a", "c"], ["b", "d"]]  # e alone: over the limit
    chosen = dict(wheels.build_packages(["pyarrow", "torch", "PyYAML", "nvidia-cublas", "lerobot", "numpy"]))
    assert set(chosen) == {"pyarrow", "lerobot", "lemminflect"}  # PyYAML: first bundle; torch, numpy: the machine's
