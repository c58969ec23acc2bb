"""Compile every CUDA kernel with nvcc; exit non-zero if any fails. CI runs this on CPU machines (nvcc needs no GPU).

    python -m vla_builder.kernels.build            # compile each .cu, link, store in the kernel cache
    python -m vla_builder.kernels.build --check    # compile each .cu only (nothing cached)

Exit status: 0 all built, 1 a kernel failed to compile or link, 2 nvcc not found.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from vla_builder.kernels import KernelUnavailable
from vla_builder.kernels import cuda as kc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vla_builder.kernels.build", description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compile every .cu, do not link or cache")
    ap.add_argument("--archs", default=None, help=f"comma-separated SM versions (default {','.join(kc.DEFAULT_ARCHS)})")
    ap.add_argument("--jobs", type=int, default=None, help="parallel nvcc processes (default: CPU count)")
    args = ap.parse_args(argv)
    archs = tuple(a.strip() for a in args.archs.split(",")) if args.archs else kc.DEFAULT_ARCHS
    nvcc = kc.find_nvcc()
    if nvcc is None:
        print("error: nvcc not found (set VLA_NVCC or put nvcc on PATH)", file=sys.stderr)
        return 2
    files = kc.kernel_sources()
    if not files:
        print(f"error: no .cu files in {kc.source_dir()}", file=sys.stderr)
        return 1
    print(f"{nvcc}: {kc.nvcc_version(nvcc).splitlines()[-1]}")
    print(f"archs {', '.join(archs)}; {len(files)} sources in {kc.source_dir()}")
    t0 = time.perf_counter()
    try:
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                times = kc.compile_objects(files, Path(tmp), archs=archs, nvcc=nvcc, jobs=args.jobs)
            for name, s in sorted(times.items()):
                print(f"  {name:24s} {s:6.2f} s")
            print(f"ok: {len(files)} kernels compiled in {time.perf_counter() - t0:.1f} s")
        else:
            kc.build_library(force=True, archs=archs, verbose=True)
    except kc.KernelBuildError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KernelUnavailable as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
