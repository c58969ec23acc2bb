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

The second bundle, for a whole build there (`make gpu-build-wheels` = `--bundle build --out gpu_build_wheels`): what
a build really imports, measured here — a one-clip build and `validate` run in a child process, the distributions of
every module it loaded — less the first bundle and what the GPU machine has of its own (torch and its dependencies,
torchvision, numpy, OpenCV). lerobot's datasets stack is big (pyarrow alone 55 MB as a wheel): one archive per
distribution (xz), the archives packed into parts of at most PART_LIMIT together, `gpu_build_wheels/part-N/`, each
small enough to travel beside the repository in one call. gpu_check.sh unpacks every archive that has arrived into
the ignored folder gpu_site/ and puts it on PYTHONPATH.
"""

from __future__ import annotations

import argparse
import json
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


# a build's own imports that the GPU machine has already (torch with CUDA and what torch depends on, OpenCV), and the
# repository itself: never in the second bundle
MACHINE_OWN = {"torch", "triton", "numpy", "opencv-python-headless", "opencv-python", "sympy", "mpmath", "networkx",
               "jinja2", "markupsafe", "filelock", "setuptools", "torchvision", "vla-builder", "pip"}
# imported by a build only on paths the one-clip measurement does not take
BUILD_EXTRAS = (("lemminflect", "the label check of English captions"),)
PART_LIMIT = 56 << 20  # a part and the repository (~3 MiB) within the 64 MiB one call may carry

MEASURE = """
import importlib.metadata as md, json, os, sys, tempfile
from pathlib import Path
from vla_builder import synthetic
from vla_builder.cli import main
root = Path(tempfile.mkdtemp())
synthetic.make_corpus(root, 1, name="measure", output=str(root / "out"))
os.chdir(root)
rc = main(["build", str(root / "recipe.yaml"), "--overwrite"]) or main(["validate", str(root / "out")])
tops = {m.split(".")[0] for m in list(sys.modules)}
names = sorted({d for t in tops for d in md.packages_distributions().get(t, [])})
print("DISTS " + json.dumps({"rc": rc, "dists": names}))
"""


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def measured_build_imports() -> list[str]:
    """The distributions whose modules a one-clip build and its validate import here (a child process)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TQDM_DISABLE": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    res = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, env=env)
    line = next((ln for ln in res.stdout.splitlines() if ln.startswith("DISTS ")), None)
    if line is None or json.loads(line[6:])["rc"] != 0:
        raise SystemExit(f"the measuring build failed:\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}")
    return json.loads(line[6:])["dists"]


def build_packages(measured: list[str]) -> list[tuple[str, str]]:
    """(distribution, why) of the second bundle: measured, less the first bundle and the machine's own."""
    first = {norm(n) for n, _ in PACKAGES}
    keep = [(d, "imported by a build (measured)") for d in measured
            if norm(d) not in first | MACHINE_OWN and not norm(d).startswith("nvidia-")]
    return keep + [e for e in BUILD_EXTRAS if norm(e[0]) not in {norm(d) for d, _ in keep}]


def pack_parts(archives: list[Path], limit: int) -> list[list[Path]]:
    """Archives into parts of at most `limit` bytes each, largest first (first fit); one over the limit alone."""
    parts: list[list[Path]] = []
    for a in sorted(archives, key=lambda p: -p.stat().st_size):
        size = a.stat().st_size
        for part in parts:
            if sum(p.stat().st_size for p in part) + size <= limit:
                part.append(a)
                break
        else:
            parts.append([a])
    return parts


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)", line.strip())
        if m:
            out[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return out


def download(dest: Path, python: str, packages=PACKAGES) -> list[Path]:
    known = pins()
    reqs = []
    for name, _why in packages:
        v = known.get(norm(name))
        reqs.append(f"{name}=={v}" if v else name)
    if packages is PACKAGES and "pynvvideocodec" not in known:  # the gpu extra's pin (pyproject.toml)
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


def make_build_bundle(out: Path, python: str) -> int:
    """The second bundle: `out/part-N/<distribution>.tar.xz` (each unpacks to site/...) and MANIFEST.txt."""
    measured = measured_build_imports()
    packages = build_packages(measured)
    lines = [f"for Python {python}, manylinux x86_64; built by scripts/make_gpu_wheels.py --bundle build",
             f"measured: a one-clip build and validate import {len(measured)} distributions; "
             f"{len(packages)} travel here (the rest: the first bundle, or the GPU machine's own)"]
    with tempfile.TemporaryDirectory() as tmp:
        wheels = download(Path(tmp) / "wheels", python, tuple(packages))
        archives = []
        for whl in wheels:
            site = Path(tmp) / "site" / whl.name
            unpack([whl], site)
            archive = Path(tmp) / "archives" / (whl.name.split("-")[0] + ".tar.xz")
            archive.parent.mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive, "w:xz", preset=6) as tar:
                tar.add(site, arcname="site")
            lines.append(f"  {whl.stat().st_size / 2**20:7.2f} MiB wheel -> {archive.stat().st_size / 2**20:7.2f} MiB "
                         f"xz  {whl.name}")
            archives.append(archive)
        parts = pack_parts(archives, PART_LIMIT)
        for k, part in enumerate(parts, start=1):
            folder = out / f"part-{k}"
            folder.mkdir(parents=True)
            for a in part:
                shutil.move(str(a), folder / a.name)
            size = sum(p.stat().st_size for p in folder.iterdir())
            lines.append(f"part-{k}: {size / 2**20:.1f} MiB, {len(part)} archives "
                         f"({', '.join(a.name.removesuffix('.tar.xz') for a in part[:6])}{' ...' if len(part) > 6 else ''})")
    over = [f for f in out.glob("part-*") if sum(p.stat().st_size for p in f.iterdir()) > PART_LIMIT]
    lines.append(f"{len(parts)} parts; on the GPU machine, one call per part: carry gpu_build_wheels/part-N, run "
                 "scripts/gpu_check.sh --unpack-only")
    (out / "MANIFEST.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    if over:
        print(f"error: {', '.join(map(str, over))} over {PART_LIMIT >> 20} MiB (a single archive that big)",
              file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="default: gpu_wheels/, or gpu_build_wheels/ for the build")
    ap.add_argument("--python", default="3.12", help="the GPU machine's Python version (binary wheels are per version)")
    ap.add_argument("--bundle", choices=("gpu", "build"), default="gpu",
                    help="gpu: the GPU checks' packages and kernels; build: a whole build's (lerobot and its stack)")
    args = ap.parse_args(argv)
    out: Path = args.out or ROOT / ("gpu_wheels" if args.bundle == "gpu" else "gpu_build_wheels")
    if args.bundle == "build":
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        return make_build_bundle(out, args.python)
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
