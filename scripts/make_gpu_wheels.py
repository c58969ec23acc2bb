"""Prepare, on a CPU machine with network, what `scripts/gpu_check.sh` needs on a bare GPU machine (no network;
Python, torch with CUDA, numpy and OpenCV already there): `make gpu-wheels` -> gpu_wheels/.

    gpu_wheels/site.tar.xz     the wheels below, unpacked into one importable folder (gpu_check.sh puts it on
                               PYTHONPATH: no pip, no resolver, nothing downloaded there)
    gpu_wheels/kernels/        our CUDA kernel library built here by nvcc (sm_80, sm_90 + PTX), found through
                               VLA_KERNEL_CACHE where the GPU machine has no nvcc
    gpu_wheels/MANIFEST.txt    what is inside, with sizes

Why a tarball and not the .whl files: the two that matter are big — PyAV 15.1 (40 MB, FFmpeg inside; the product
probes and demuxes with it) and PyNvVideoCodec 2.2.4 (27 MB): 71 MB of wheels in all, over the 64 MiB that may
travel to the GPU machine; unpacked and xz-compressed they are ~57 MB. Wheels are fetched with `pip download
--no-deps` for one Python version and platform (`--python 3.12`, manylinux x86_64), pinned by constraints.txt.
Left out on purpose: lerobot and its datasets stack (the GPU checks stop before the sink), scipy (35 MB; imported
lazily, only tracking/association need it), torchvision (must match the machine's torch).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_BYTES = 64 << 20
# (distribution, why); versions come from constraints.txt where it pins them
PACKAGES = (
    ("PyNvVideoCodec", "NVDEC decoding (gpu extra)"),
    ("av", "probing and demuxing (sources/video.py, gpu_decode.packet_times_s), the H.264 test video"),
    ("pydantic", "stage configs"), ("pydantic_core", "pydantic"), ("annotated-types", "pydantic"),
    ("typing-inspection", "pydantic"), ("typing_extensions", "pydantic"),
    ("PyYAML", "recipes, YOLO labels, ultralytics"),
    ("pytest", "the checks are tests"), ("pluggy", "pytest"), ("iniconfig", "pytest"), ("packaging", "pytest"),
    ("Pygments", "pytest"), ("pytest-timeout", "pyproject's timeout setting"),
    ("ultralytics-opencv-headless", "detector throughput"), ("ultralytics-thop", "ultralytics"),
    ("pillow", "ultralytics"), ("psutil", "ultralytics"), ("tqdm", "ultralytics"),
)


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def download(dest: Path, python: str) -> list[Path]:
    known = pins()
    reqs = []
    for name, _why in PACKAGES:
        v = known.get(re.sub(r"[-_.]+", "-", name).lower())
        reqs.append(f"{name}=={v}" if v else name)
    if "pynvvideocodec" not in known:  # the gpu extra's pin (pyproject.toml)
        reqs[0] = "PyNvVideoCodec==2.2.4"
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", python, "-d", str(dest)]
    for plat in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux2010_x86_64",
                 "manylinux_2_12_x86_64", "manylinux_2_27_x86_64"):
        cmd += ["--platform", plat]
    subprocess.run(cmd + reqs, check=True)
    return sorted(dest.glob("*.whl"))


def unpack(wheels: list[Path], site: Path) -> None:
    """Every wheel into one folder as pip would lay out purelib/platlib (no scripts, no headers)."""
    for whl in wheels:
        with zipfile.ZipFile(whl) as z:
            z.extractall(site)
        for data in site.glob("*.data"):
            for sub in ("purelib", "platlib"):
                if (data / sub).is_dir():
                    for item in (data / sub).iterdir():
                        shutil.move(str(item), str(site / item.name))
            shutil.rmtree(data)


def build_kernels(cache: Path) -> str:
    env = {**os.environ, "VLA_KERNEL_CACHE": str(cache)}
    proc = subprocess.run([sys.executable, "-m", "vla_builder.kernels.build"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode == 2:
        return "not built (no nvcc here): gpu_check.sh builds them where nvcc exists"
    if proc.returncode != 0:
        raise SystemExit(f"kernel build failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout.strip().splitlines()[-1]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "gpu_wheels")
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python version (binary wheels are per version)")
    args = ap.parse_args(argv)
    out: Path = args.out
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = [f"for Python {args.python}, manylinux x86_64; built by scripts/make_gpu_wheels.py"]
    with tempfile.TemporaryDirectory() as tmp:
        wheels = download(Path(tmp) / "wheels", args.python)
        total = sum(w.stat().st_size for w in wheels)
        for w in wheels:
            lines.append(f"  {w.stat().st_size / 2**20:7.2f} MiB  {w.name}")
        lines.append(f"  {total / 2**20:7.2f} MiB  of wheels")
        site = Path(tmp) / "site"
        unpack(wheels, site)
        with tarfile.open(out / "site.tar.xz", "w:xz", preset=6) as tar:
            tar.add(site, arcname="site")
    lines.append("kernels: " + build_kernels(out / "kernels"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    lines.append(f"gpu_wheels/: {size / 2**20:.1f} MiB (limit {LIMIT_BYTES >> 20} MiB)")
    (out / "MANIFEST.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if size > LIMIT_BYTES:
        print(f"error: {out} is {size / 2**20:.1f} MiB, over {LIMIT_BYTES >> 20} MiB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
