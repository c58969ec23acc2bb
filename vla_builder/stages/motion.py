"""Inter-frame motion on the grid: dense flow, per-track flow, camera motion, motion energy.

One algorithm per `method`; `impl` picks the backend that runs it and changes speed, never the algorithm:

| method          | algorithm                                          | backends (`impl`)                       |
|-----------------|----------------------------------------------------|-----------------------------------------|
| `dis` (default) | OpenCV DIS flow, box median, RANSAC similarity     | `cpu` only (`impl: cuda` is an error)   |
| `farneback`     | OpenCV Farneback flow, box median, RANSAC similarity | `cpu` only                            |
| `lk`            | our pyramidal LK flow, box median, IRLS similarity | `cpu`: the kernels' code compiled for   |
|                 | (`cuda_kernels/`, `kernels/reference_lk.py`)       | the host (needs nvcc once), else its    |
|                 |                                                    | NumPy twin; `cuda`: the CUDA kernels    |

`impl: auto` takes the fastest backend of the method on this machine. The LK backends agree within
`LK_PARITY_TOL_NORM` on the camera motion and track flow (tests/test_kernels.py, tests/test_motion_stage.py); the
resolved method, backend and device are recorded in the build fingerprint and on the clip (`Motion.method`).
Why DIS stays the default: it runs on every machine at ~2 ms per 320 px frame pair, where the LK CPU backends cost
far more (BENCHMARKS.md, "Motion kernels"); a GPU build that wants the CUDA kernels says `method: lk` — and then gets
the same numbers on a CPU node of the same cluster.
"""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from vla_builder.kernels import KernelUnavailable, cuda_available
from vla_builder.kernels import reference as ref
from vla_builder.kernels.reference_lk import IRLSParams, LKParams
from vla_builder.kernels.driver import PairwiseOps, run_motion
from vla_builder.config import StrictConfig
from vla_builder.pipeline import Resources, Stage
from vla_builder.types import Clip, Motion

# LK backends (NumPy twin, host-compiled kernel code, CUDA) agree within this on the camera translation and the
# per-track flow, in normalized image units (1e-4 = 0.03 px at 320 px): reductions differ in their last bits only
LK_PARITY_TOL_NORM = 1e-4


class MotionConfig(StrictConfig):
    """The recipe's `motion:` section."""

    method: Literal["dis", "farneback", "lk"] = "dis"
    preset: Literal["ultrafast", "fast", "medium"] = "fast"  # DIS preset (dis only)
    max_side_px: int = Field(320, ge=32, le=4096)  # flow runs at this size: cost grows with pixels
    # auto: the fastest backend of the method here; cpu: the CPU backend; cuda: the GPU one (an error where there is
    # none, or for a CPU-only method); numpy: lk's NumPy twin (slow; what cpu falls back to without nvcc);
    # reference: the former name of cpu
    impl: Literal["auto", "cpu", "cuda", "numpy", "reference"] = "auto"
    # leave out the bottom of the image from the camera-motion fit: a wrist camera sees its own gripper there,
    # which moves with the camera and would pull the fit toward "no motion"
    ignore_bottom_frac: float = Field(0.0, ge=0.0, lt=1.0)
    # the `lk` method's own settings (lk only), declared once beside the spec that uses them
    # (`kernels/reference_lk.py`); every LK backend reads this config whole: a new setting is one field there + its use
    lk: LKParams = Field(default_factory=LKParams)  # its flow: pyramidal Lucas-Kanade, selection, SOR refinement
    irls: IRLSParams = Field(default_factory=IRLSParams)  # its camera fit: IRLS similarity of the background flow


CPU_ONLY_METHODS = ("dis", "farneback")


def _host_kernels_available() -> bool:
    try:
        from vla_builder.kernels.cuda import get_library

        get_library()  # built (nvcc) or found pre-built
        return True
    except Exception:  # noqa: BLE001 — no nvcc and no prebuilt library: the NumPy twin runs
        return False


def resolve_backend(config: MotionConfig) -> str:
    """The backend that runs `config.method` here: 'opencv' | 'lk-numpy' | 'lk-host' | 'lk-cuda'.

    A backend that cannot run here is a clear error (KernelUnavailable), never a silent switch of algorithm."""
    method, impl = config.method, ("cpu" if config.impl == "reference" else config.impl)
    if method in CPU_ONLY_METHODS:
        if impl in ("cuda", "numpy"):
            raise KernelUnavailable(f"motion.method {method!r} runs on the CPU only (OpenCV); impl {impl!r} needs "
                                    "method 'lk' (our kernels)")
        return "opencv"
    if impl == "numpy":
        return "lk-numpy"
    if impl == "cuda":
        if not cuda_available():
            raise KernelUnavailable("motion.impl 'cuda' was asked for, but no CUDA device is available (torch.cuda)")
        from vla_builder.kernels.cuda import get_library

        get_library()  # KernelUnavailable / KernelBuildError name the cause
        return "lk-cuda"
    if impl == "auto" and cuda_available():
        try:
            from vla_builder.kernels.cuda import get_library

            get_library()
            return "lk-cuda"
        except Exception:  # noqa: BLE001 — no kernels for this GPU: the CPU backend of the same method
            pass
    return "lk-host" if _host_kernels_available() else "lk-numpy"


def describe(config: MotionConfig, backend: str) -> dict:
    """What the fingerprint and provenance record: method, backend, device."""
    return {"method": config.method, "backend": backend, "device": "cuda" if backend == "lk-cuda" else "cpu"}


@dataclass
class MotionStage(Stage):
    config: MotionConfig = field(default_factory=MotionConfig)

    name: ClassVar[str] = "motion"
    needs: ClassVar[tuple[str, ...]] = ("frames", "tracks")
    makes: ClassVar[tuple[str, ...]] = ("motion",)

    @staticmethod
    def resources_for(config: MotionConfig) -> Resources:
        gpu = config.method == "lk" and (config.impl == "cuda" or (config.impl == "auto" and cuda_available()))
        return Resources(cpus=1.0, gpus=1.0 if gpu else 0.0)

    @property
    def resources(self) -> Resources:  # type: ignore[override]
        return self.resources_for(self.config)

    def setup(self) -> None:
        self._backend = resolve_backend(self.config)

    @property
    def backend(self) -> str:
        if getattr(self, "_backend", None) is None:
            self.setup()
        return self._backend

    def process(self, clip: Clip) -> Clip:
        assert clip.frames is not None and clip.tracks is not None
        return clip.with_(motion=self.compute(clip.frames.rgb, clip.tracks.boxes_xyxy))  # the sink records it

    def compute(self, rgb: np.ndarray, boxes: np.ndarray) -> Motion:
        """The clip's motion, tagged with the backend and device that computed it."""
        facts = describe(self.config, self.backend)
        return dataclasses.replace(self._compute(rgb, boxes), backend=facts["backend"], device=facts["device"])

    def _compute(self, rgb: np.ndarray, boxes: np.ndarray) -> Motion:
        ops = backend_ops(self.config, self.backend)
        if self.backend != "opencv":
            return run_motion(ops, rgb, boxes)
        with one_opencv_thread():
            return run_motion(ops, rgb, boxes)


@contextmanager
def one_opencv_thread():
    """OpenCV's operations on this thread alone while the block runs: the stage declares one CPU (`resources_for`),
    and OpenCV's pool (a thread a core) ran DIS beside the encoder still finishing the episode video, its threads
    spinning between calls — 0-1 CPU-s per 300 pairs at 320 px on 2 cores, no faster in wall time. The flow is the
    same bit for bit (tests/test_motion_stage.py). BENCHMARKS.md, issue 23."""
    import cv2

    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(threads)


class OpenCVMotion(PairwiseOps):
    """The `dis` / `farneback` methods as the motion driver's operations: one frame pair per step, OpenCV flow
    (`kernels/reference.py`), box medians, a RANSAC similarity of the background. Holds the config: a setting of
    these methods is declared and used in this file."""

    def __init__(self, config: MotionConfig):
        self.config = config

    def grays(self, rgb):
        # streamed frames keep the grey frames of the decode pass (GridFrames.grays): no second decode
        side = self.config.max_side_px
        g = rgb.grays(side) if hasattr(rgb, "grays") else [ref.to_gray(f, side) for f in rgb]
        return g, g[0].shape[0], g[0].shape[1]

    def energy(self, grays, t_count: int) -> np.ndarray:
        return np.array([ref.motion_energy(grays[t], grays[t + 1]) for t in range(t_count - 1)])

    def pair(self, prev_gray, next_gray, boxes_xyxy: np.ndarray, h: int, w: int):
        c = self.config
        flow = ref.dense_flow(prev_gray, next_gray, c.method, c.preset)
        mask = ref.background_mask(*flow.shape[:2], boxes_xyxy)
        if c.ignore_bottom_frac > 0:
            mask[int(round(flow.shape[0] * (1 - c.ignore_bottom_frac))) :] = False
        return (ref.box_flow_norm(flow, boxes_xyxy), *ref.global_motion_norm(flow, mask))

    def describe(self, h: int, w: int) -> str:
        preset = f" {self.config.preset}" if self.config.method == "dis" else ""
        return f"opencv ({self.config.method}{preset}, {w}x{h})"


def backend_ops(config: MotionConfig, backend: str):
    """The operations of `backend` with the config's settings, for the one motion driver (`kernels/driver.py`)."""
    if backend == "opencv":
        return OpenCVMotion(config)
    if backend == "lk-numpy":
        from vla_builder.kernels.reference_lk import ReferenceLKMotion

        return ReferenceLKMotion(config)
    from vla_builder.kernels.cuda import KernelMotion

    return KernelMotion("cuda" if backend == "lk-cuda" else "host", config)
