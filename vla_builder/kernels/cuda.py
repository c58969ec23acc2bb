"""Our CUDA motion kernels (`cuda_kernels/*.cu`): ahead-of-time nvcc build, on-disk cache, ctypes loading.

Why not `torch.utils.cpp_extension.load_inline`: it took ~70 s for one kernel (it compiles torch's headers).
These sources include only the CUDA runtime and export a plain C ABI (raw pointers, sizes, a cudaStream_t), so
nvcc builds all of them in a few seconds, once per (sources, nvcc version, archs): the library is cached under
`~/.cache/vla_builder/kernels/<sources hash>-<nvcc+archs hash>/libvla_kernels.so` (`VLA_KERNEL_CACHE` moves
it) and CI builds it with `python -m vla_builder.kernels.build`. A machine without nvcc uses a library built from
the same sources that was copied into its cache (or named by `VLA_KERNEL_LIB`). Calls pass `tensor.data_ptr()`
and torch's current stream, so the kernels run in order with torch's own work and use its caching allocator for
scratch memory.

Every kernel also has a `_host` twin in the library (the same per-element code run in CPU loops): with
`device="host"` the functions here run on NumPy arrays without a GPU, which is how CPU-only CI checks the
kernels' arithmetic against the NumPy spec (`reference_lk.py`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from vla_builder.kernels import KernelUnavailable
from vla_builder.kernels import reference_lk as rl
from vla_builder.kernels.reference import affine_px_to_norm

if TYPE_CHECKING:  # the ops read the motion stage's config whole; only for the annotation (no stage import here)
    from vla_builder.stages.motion import MotionConfig

ABI_VERSION = 2
LIB_NAME = "libvla_kernels.so"
# sm_80 (A100), sm_90 (H100/H200) as machine code, plus compute_90 PTX that newer GPUs JIT-compile
DEFAULT_ARCHS = ("80", "90")
# --fmad=false / -ffp-contract=off: a*b+c rounds twice, as NumPy does, so per-pixel results equal the spec's
NVCC_FLAGS = ("-O3", "--fmad=false", "-std=c++17", "-Xcompiler", "-fPIC,-O3,-ffp-contract=off,-fvisibility=hidden")
WORKSPACE_BUDGET_BYTES = int(os.environ.get("VLA_KERNEL_WORKSPACE_BYTES", 1 << 30))


class KernelBuildError(RuntimeError):
    """nvcc failed: the message carries the command and its output."""


class KernelError(RuntimeError):
    """A kernel call returned an error code."""


# ---------------------------------------------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------------------------------------------


def source_dir() -> Path:
    env = os.environ.get("VLA_CUDA_KERNELS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "cuda_kernels"


def kernel_sources() -> list[Path]:
    """The .cu files (each compiled on its own) of `cuda_kernels/`."""
    return sorted(source_dir().glob("*.cu"))


def find_nvcc() -> str | None:
    for cand in (os.environ.get("VLA_NVCC"), os.environ.get("CUDACXX"), shutil.which("nvcc"),
                 "/usr/local/cuda/bin/nvcc"):
        if cand and Path(cand).is_file() and os.access(cand, os.X_OK):
            return cand
    return None


@lru_cache(maxsize=8)
def nvcc_version(nvcc: str) -> str:
    return subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def gencode_flags(archs: tuple[str, ...]) -> list[str]:
    flags = []
    for a in archs:
        flags += ["-gencode", f"arch=compute_{a},code=sm_{a}"]
    top = max(archs, key=int)
    return flags + ["-gencode", f"arch=compute_{top},code=compute_{top}"]


def default_archs() -> tuple[str, ...]:
    """DEFAULT_ARCHS, plus this machine's GPU when it is another one (so it does not have to JIT the PTX)."""
    archs = list(DEFAULT_ARCHS)
    try:
        import torch

        if torch.cuda.is_available():
            major, minor = torch.cuda.get_device_capability()
            cc = f"{major}{minor}"
            if cc not in archs and int(cc) >= 75:
                archs.append(cc)
    except Exception:
        pass
    return tuple(sorted(archs, key=int))


def cache_root() -> Path:
    env = os.environ.get("VLA_KERNEL_CACHE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "vla_builder" / "kernels"


def source_key() -> str:
    """Hash of what the library is made from: the sources, the flags, the ABI version."""
    h = hashlib.sha256()
    for path in sorted(source_dir().glob("*.cu*")):  # .cu and .cuh
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    h.update(" ".join(NVCC_FLAGS).encode() + str(ABI_VERSION).encode())
    return h.hexdigest()[:16]


def build_key(nvcc: str, archs: tuple[str, ...]) -> str:
    """Cache directory name: <source_key>-<hash of nvcc version + archs>."""
    tool = hashlib.sha256((nvcc_version(nvcc) + " ".join(gencode_flags(archs))).encode()).hexdigest()[:8]
    return f"{source_key()}-{tool}"


def find_prebuilt(cache_dir: Path | None = None) -> Path | None:
    """A library built elsewhere from these very sources (e.g. by CI, copied into the cache): usable without nvcc."""
    env = os.environ.get("VLA_KERNEL_LIB")
    if env:
        return Path(env)
    libs = sorted((cache_dir or cache_root()).glob(f"{source_key()}-*/{LIB_NAME}"), key=lambda p: p.stat().st_mtime)
    return libs[-1] if libs else None


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise KernelBuildError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")


def compile_objects(files: list[Path], out_dir: Path, *, archs: tuple[str, ...] = DEFAULT_ARCHS,
                    nvcc: str | None = None, jobs: int | None = None) -> dict[str, float]:
    """nvcc -c every file (in parallel); returns {file name: seconds}. Raises KernelBuildError on the first error."""
    nvcc = nvcc or find_nvcc()
    if nvcc is None:
        raise KernelUnavailable("nvcc not found (set VLA_NVCC or put nvcc on PATH)")
    out_dir.mkdir(parents=True, exist_ok=True)

    def one(src: Path) -> tuple[str, float]:
        t0 = time.perf_counter()
        _run([nvcc, *NVCC_FLAGS, *gencode_flags(archs), "-c", str(src), "-o", str(out_dir / (src.stem + ".o"))],
             f"nvcc {src.name}")
        return src.name, time.perf_counter() - t0

    jobs = jobs or max(1, min(len(files), os.cpu_count() or 1))
    with ThreadPoolExecutor(jobs) as pool:
        return dict(pool.map(one, files))


def build_library(*, force: bool = False, archs: tuple[str, ...] | None = None, cache_dir: Path | None = None,
                  verbose: bool = False) -> Path:
    """Path of the compiled library, building it when the cache has none for these sources/nvcc/archs."""
    nvcc = find_nvcc()
    if nvcc is None:
        prebuilt = None if force else find_prebuilt(cache_dir)
        if prebuilt is not None:
            return prebuilt
        raise KernelUnavailable("nvcc not found (set VLA_NVCC or put nvcc on PATH) and no prebuilt library for these "
                                f"sources in {cache_dir or cache_root()}; cannot build cuda_kernels/")
    files = kernel_sources()
    if not files:
        raise KernelUnavailable(f"no .cu sources in {source_dir()}")
    archs = archs or default_archs()
    target_dir = (cache_dir or cache_root()) / build_key(nvcc, archs)
    target = target_dir / LIB_NAME
    if target.is_file() and not force:
        return target
    target_dir.mkdir(parents=True, exist_ok=True)
    # build beside the target and rename: concurrent workers never see a half-written library
    with tempfile.TemporaryDirectory(dir=target_dir, prefix=".build-") as tmp:
        t0 = time.perf_counter()
        times = compile_objects(files, Path(tmp), archs=archs, nvcc=nvcc)
        out = Path(tmp) / LIB_NAME
        _run([nvcc, "-shared", "-o", str(out), *[str(Path(tmp) / (f.stem + ".o")) for f in files]], "nvcc link")
        os.replace(out, target)
        if verbose:
            for name, s in sorted(times.items()):
                print(f"  {name:24s} {s:6.2f} s")
            print(f"built {target} in {time.perf_counter() - t0:.1f} s (archs {', '.join(archs)})")
    return target


# ---------------------------------------------------------------------------------------------------------------
# loading
# ---------------------------------------------------------------------------------------------------------------

_P, _I, _LL, _SZ, _F, _D = (ctypes.c_void_p, ctypes.c_int, ctypes.c_longlong, ctypes.c_size_t, ctypes.c_float,
                            ctypes.c_double)
# The LK settings after `levels`, in the order of the C ABI (`vla_lk_flow*` in lk_flow.cu): each one's C type and how
# it is read from `LKParams` (floats are rounded to float32 by ctypes, as the spec rounds them). The one place a new
# LK setting enters the kernels' argument list.
_LK_ABI: tuple[tuple[type, Callable[[rl.LKParams], float | int]], ...] = (
    (_I, lambda lk: lk.radius_px), (_I, lambda lk: lk.iters), (_I, lambda lk: lk.level_iters(0)),
    (_F, lambda lk: lk.reg), (_I, lambda lk: lk.select_step_px), (_I, lambda lk: lk.select_radius_px),
    (_I, lambda lk: lk.refine_iters), (_F, lambda lk: lk.smooth), (_F, lambda lk: lk.smooth_eps_px),
    (_F, lambda lk: lk.sor_omega),
)
_LK_TYPES = [t for t, _ in _LK_ABI]
_SIGNATURES = {
    "vla_abi_version": ([], _I),
    "vla_error_string": ([_I], ctypes.c_char_p),
    "vla_lk_workspace_bytes": ([_I, _I, _I, _I], _SZ),
    "vla_lk_flow": ([_P, _I, _I, _I, _I, *_LK_TYPES, _P, _P, _SZ, _P], _I),
    "vla_lk_flow_host": ([_P, _I, _I, _I, _I, *_LK_TYPES, _P, _P, _SZ], _I),
    "vla_motion_energy": ([_P, _I, _LL, _P, _P], _I),
    "vla_motion_energy_host": ([_P, _I, _LL, _P], _I),
    "vla_box_median_flow": ([_P, _I, _I, _I, _P, _I, _P, _P], _I),
    "vla_box_median_flow_host": ([_P, _I, _I, _I, _P, _I, _P], _I),
    "vla_global_similarity": ([_P, _I, _I, _I, _P, _I, _I, _I, _I, _D, _D, _D, _I, _P, _P], _I),
    "vla_global_similarity_host": ([_P, _I, _I, _I, _P, _I, _I, _I, _I, _D, _D, _D, _I, _P], _I),
}


class KernelLib:
    """The loaded library with typed entry points; `check` turns error codes into KernelError."""

    def __init__(self, path: Path):
        self.path = path
        self._dll = ctypes.CDLL(str(path))
        for name, (args, res) in _SIGNATURES.items():
            fn = getattr(self._dll, name)
            fn.argtypes, fn.restype = args, res
            setattr(self, name, fn)
        version = self._dll.vla_abi_version()
        if version != ABI_VERSION:
            raise KernelUnavailable(f"{path}: ABI version {version}, expected {ABI_VERSION}")

    def check(self, rc: int, what: str) -> None:
        if rc != 0:
            raise KernelError(f"{what}: {self._dll.vla_error_string(rc).decode()} (code {rc})")


@lru_cache(maxsize=1)
def get_library() -> KernelLib:
    """Build (first time on a machine: a few seconds) or find the cached library, and load it."""
    return KernelLib(build_library())


# ---------------------------------------------------------------------------------------------------------------
# kernel calls: `_host` on NumPy arrays (no GPU), `_cuda` on torch CUDA tensors
# ---------------------------------------------------------------------------------------------------------------


def _np_ptr(a: np.ndarray) -> int:
    assert a.flags.c_contiguous
    return a.ctypes.data


def _stream(tensor) -> int:
    import torch

    return torch.cuda.current_stream(tensor.device).cuda_stream


def _lk_args(lk: rl.LKParams) -> tuple:
    return tuple(read(lk) for _, read in _LK_ABI)


def lk_flow_host(grays: np.ndarray, lk: rl.LKParams = rl.LKParams()) -> np.ndarray:
    """(T, h, w) uint8 -> (T-1, h, w, 2) float32 flow, by the kernels' code on the CPU."""
    lib = get_library()
    grays = np.ascontiguousarray(grays, dtype=np.uint8)
    t, h, w = grays.shape
    levels = lk.n_levels(h, w)
    ws = np.empty(lib.vla_lk_workspace_bytes(t, h, w, levels), np.uint8)
    flow = np.empty((t - 1, h, w, 2), np.float32)
    lib.check(lib.vla_lk_flow_host(_np_ptr(grays), t, h, w, levels, *_lk_args(lk), _np_ptr(flow), _np_ptr(ws),
                                   ws.nbytes), "lk_flow_host")
    return flow


def lk_flow_cuda(grays, lk: rl.LKParams = rl.LKParams()):
    """(T, h, w) uint8 CUDA tensor -> (T-1, h, w, 2) float32 CUDA tensor."""
    import torch

    lib = get_library()
    grays = grays.contiguous()
    t, h, w = grays.shape
    levels = lk.n_levels(h, w)
    ws = torch.empty(lib.vla_lk_workspace_bytes(t, h, w, levels), dtype=torch.uint8, device=grays.device)
    flow = torch.empty((t - 1, h, w, 2), dtype=torch.float32, device=grays.device)
    lib.check(lib.vla_lk_flow(grays.data_ptr(), t, h, w, levels, *_lk_args(lk), flow.data_ptr(), ws.data_ptr(),
                              ws.numel(), _stream(grays)), "lk_flow")
    return flow


def lk_workspace_bytes(t: int, h: int, w: int, lk: rl.LKParams = rl.LKParams()) -> int:
    return int(get_library().vla_lk_workspace_bytes(t, h, w, lk.n_levels(h, w)))


def motion_energy_sums_host(grays: np.ndarray) -> np.ndarray:
    lib = get_library()
    grays = np.ascontiguousarray(grays, dtype=np.uint8)
    t = grays.shape[0]
    sums = np.empty(t - 1, np.uint64)
    lib.check(lib.vla_motion_energy_host(_np_ptr(grays), t, grays[0].size, _np_ptr(sums)), "motion_energy_host")
    return sums


def motion_energy_sums_cuda(grays):
    """(T, ...) uint8 CUDA tensor -> (T-1,) int64 CUDA tensor of sum |a - b| (uint64 bits; never near 2^63)."""
    import torch

    lib = get_library()
    grays = grays.contiguous()
    t = grays.shape[0]
    sums = torch.empty(t - 1, dtype=torch.int64, device=grays.device)
    lib.check(lib.vla_motion_energy(grays.data_ptr(), t, grays[0].numel(), sums.data_ptr(), _stream(grays)),
              "motion_energy")
    return sums


def box_median_flow_host(flow: np.ndarray, rects: np.ndarray) -> np.ndarray:
    """flow (P, h, w, 2) float32, rects (P, K, 4) int32 -> (P, K, 2) float32 px (NaN where absent)."""
    lib = get_library()
    flow = np.ascontiguousarray(flow, dtype=np.float32)
    rects = np.ascontiguousarray(rects, dtype=np.int32)
    p, h, w, _ = flow.shape
    k = rects.shape[1]
    out = np.empty((p, k, 2), np.float32)
    lib.check(lib.vla_box_median_flow_host(_np_ptr(flow), p, h, w, _np_ptr(rects), k, _np_ptr(out)),
              "box_median_flow_host")
    return out


def box_median_flow_cuda(flow, rects):
    import torch

    lib = get_library()
    flow, rects = flow.contiguous(), rects.to(torch.int32).contiguous()
    p, h, w, _ = flow.shape
    k = rects.shape[1]
    out = torch.empty((p, k, 2), dtype=torch.float32, device=flow.device)
    lib.check(lib.vla_box_median_flow(flow.data_ptr(), p, h, w, rects.data_ptr(), k, out.data_ptr(), _stream(flow)),
              "box_median_flow")
    return out


def _irls_args(irls: rl.IRLSParams) -> tuple:
    return (irls.step_px, irls.huber_iters, irls.tukey_iters, irls.huber_px, irls.tukey_px, irls.inlier_px,
            irls.min_samples)


def global_similarity_host(flow: np.ndarray, rects: np.ndarray, irls: rl.IRLSParams = rl.IRLSParams()) -> np.ndarray:
    """flow (P, h, w, 2), background rects (P, K, 4) -> (P, 8) float64 [A (2x3, px) row-major, inliers, n]."""
    lib = get_library()
    flow = np.ascontiguousarray(flow, dtype=np.float32)
    rects = np.ascontiguousarray(rects, dtype=np.int32)
    p, h, w, _ = flow.shape
    k = rects.shape[1]
    out = np.empty((p, 8), np.float64)
    lib.check(lib.vla_global_similarity_host(_np_ptr(flow), p, h, w, _np_ptr(rects), k, *_irls_args(irls),
                                             _np_ptr(out)), "global_similarity_host")
    return out


def global_similarity_cuda(flow, rects, irls: rl.IRLSParams = rl.IRLSParams()):
    import torch

    lib = get_library()
    flow, rects = flow.contiguous(), rects.to(torch.int32).contiguous()
    p, h, w, _ = flow.shape
    k = rects.shape[1]
    out = torch.empty((p, 8), dtype=torch.float64, device=flow.device)
    lib.check(lib.vla_global_similarity(flow.data_ptr(), p, h, w, rects.data_ptr(), k, *_irls_args(irls),
                                        out.data_ptr(), _stream(flow)), "global_similarity")
    return out


# ---------------------------------------------------------------------------------------------------------------
# grey + downscale with torch (any device): the same integers as reference_lk.gray_small
# ---------------------------------------------------------------------------------------------------------------


def gray_small_torch(rgb, max_side_px: int):
    """(T, H, W, 3) uint8 tensor -> (T, h, w) uint8 tensor, pixel for pixel `reference_lk.gray_small`."""
    import torch

    t, h, w, _ = rgb.shape
    x = rgb.to(torch.int32)
    cr, cg, cb = rl.GRAY_COEFFS_Q15
    gray = (x[..., 0] * cr + x[..., 1] * cg + x[..., 2] * cb + (1 << 14)) >> 15
    oh, ow = rl.small_size(h, w, max_side_px)
    if (oh, ow) != (h, w):
        dev = rgb.device
        x0, x1 = (torch.from_numpy(a).to(dev) for a in rl.pool_bins(w, ow))
        y0, y1 = (torch.from_numpy(a).to(dev) for a in rl.pool_bins(h, oh))
        zeros_col = torch.zeros((t, h, 1), dtype=torch.int32, device=dev)
        cs = torch.cat([zeros_col, torch.cumsum(gray, dim=2, dtype=torch.int32)], dim=2)
        colsum = cs.index_select(2, x1) - cs.index_select(2, x0)  # (t, h, ow); < 2^31 for any real frame
        zeros_row = torch.zeros((t, 1, ow), dtype=torch.int32, device=dev)
        cs = torch.cat([zeros_row, torch.cumsum(colsum, dim=1, dtype=torch.int32)], dim=1)
        total = cs.index_select(1, y1) - cs.index_select(1, y0)
        count = ((y1 - y0)[:, None] * (x1 - x0)[None, :]).to(torch.int32)
        gray = torch.div(total + count // 2, count, rounding_mode="floor")
    return gray.to(torch.uint8)


# ---------------------------------------------------------------------------------------------------------------
# the motion step
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KernelMotion:
    """The `lk` method's kernels as the motion driver's operations (`kernels/driver.py`): CUDA tensors, or
    (device='host') the kernels' CPU twins on NumPy arrays; frames go to the LK kernel in blocks that fit the
    workspace budget (`frames_per_chunk`)."""

    device: str  # cuda | host
    config: MotionConfig  # whole (`max_side_px`, `ignore_bottom_frac`, `lk`, `irls`): nothing is restated

    def to_dev(self, a: np.ndarray):
        if self.device == "host":
            return np.ascontiguousarray(a)
        import torch

        return torch.from_numpy(np.ascontiguousarray(a)).to("cuda")

    def to_host(self, a) -> np.ndarray:
        return a if isinstance(a, np.ndarray) else a.cpu().numpy()

    def grays(self, rgb: np.ndarray):
        if self.device == "host":
            out = rl.gray_small(rgb, self.config.max_side_px)
        else:
            import torch

            t, h, w, _ = rgb.shape
            oh, ow = rl.small_size(h, w, self.config.max_side_px)
            out = torch.empty((t, oh, ow), dtype=torch.uint8, device="cuda")
            step = max(1, (256 << 20) // max(1, rgb[0].nbytes * 6))  # ~256 MiB of int32 temporaries per upload
            for s in range(0, t, step):
                out[s : s + step] = gray_small_torch(torch.from_numpy(rgb[s : s + step]).to("cuda"),
                                                     self.config.max_side_px)
        return out, int(out.shape[1]), int(out.shape[2])

    def energy(self, grays, t_count: int) -> np.ndarray:
        sums = motion_energy_sums_host(grays) if self.device == "host" else motion_energy_sums_cuda(grays)
        return self.to_host(sums).astype(np.float64) / (grays.shape[1] * grays.shape[2] * 255.0)

    def block_frames(self, t_count: int, h: int, w: int) -> int:
        return frames_per_chunk(t_count, h, w, self.config.lk)

    def steps(self, grays, boxes_xyxy: np.ndarray, start: int, end: int, h: int, w: int):
        host, c = self.device == "host", self.config
        flow = lk_flow_host(grays[start:end], c.lk) if host else lk_flow_cuda(grays[start:end], c.lk)
        boxes = boxes_xyxy[start : end - 1]
        track_flow = np.full((end - 1 - start, boxes.shape[1], 2), np.nan)
        if boxes.shape[1]:
            rects = self.to_dev(rl.box_rects_px(boxes, w, h))
            med = self.to_host(box_median_flow_host(flow, rects) if host else box_median_flow_cuda(flow, rects))
            track_flow = med.astype(np.float64) / (w, h)
        bg = self.to_dev(rl.with_bottom_excluded(rl.background_rects_px(h, w, boxes), h, w, c.ignore_bottom_frac))
        fit = self.to_host(global_similarity_host(flow, bg, c.irls) if host
                           else global_similarity_cuda(flow, bg, c.irls))
        affine = np.stack([affine_px_to_norm(f[:6].reshape(2, 3), w, h) for f in fit])
        return track_flow, affine, fit[:, 6]

    def describe(self, h: int, w: int) -> str:
        return rl.method_name(self.device, self.config.lk, h, w)


def frames_per_chunk(t: int, h: int, w: int, lk: rl.LKParams, budget_bytes: int = WORKSPACE_BUDGET_BYTES) -> int:
    """Frames per LK launch so that workspace + flow stay within budget (at least 2; consecutive chunks share one
    frame)."""
    per_frame = lk_workspace_bytes(3, h, w, lk) - lk_workspace_bytes(2, h, w, lk) + h * w * 8
    return int(max(2, min(t, 4096, budget_bytes // max(1, per_frame))))


def motion_for_clip(rgb: np.ndarray, boxes_xyxy: np.ndarray, config: MotionConfig, device: str = "cuda"):
    """The `lk` motion method on the GPU (or, device='host', the same code on the CPU): LK flow, per-track median
    flow, IRLS camera similarity, motion energy.

    rgb (T, H, W, 3) uint8; boxes_xyxy (T, K, 4) normalized, NaN where absent. Entry t describes t -> t+1; the last
    entry is identity / NaN / 0. `config`: the motion stage's (its `max_side_px`, `ignore_bottom_frac`, `lk` and
    `irls` settings). Spec: `reference_lk.motion_for_clip_reference` (same numbers, see tests).
    device='host' runs the kernels' CPU twins (tests without a GPU)."""
    from vla_builder.kernels.driver import run_motion

    if device == "cuda":
        from vla_builder.kernels import cuda_available

        if not cuda_available():  # never a silent CPU run
            raise KernelUnavailable("device 'cuda' was asked for, but no CUDA device is available (torch.cuda)")
    elif device != "host":
        raise ValueError(f"device must be 'cuda' or 'host', not {device!r}")
    return run_motion(KernelMotion(device, config), rgb, boxes_xyxy)
