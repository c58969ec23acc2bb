"""YOLO detection through ultralytics — the ONE module of vla_builder that imports ultralytics (AGPL-3.0).

Keep every `import ultralytics` inside this file (and inside functions, so importing vla_builder does not load it).

Fast path (`UltralyticsDetector.detect`): frames go to the model's device as uint8 in one transfer per batch,
letterbox (resize + pad) and normalization run in torch there, then one forward over the whole batch and
ultralytics' NMS. `model.predict` does the letterbox per image with OpenCV on the CPU and is ~10x slower on a GPU;
`predict_reference` keeps it as the spec the fast path is checked against (tests/test_detect_track.py).

Weights come from a local path only: a missing file is a `DetectorError` naming it. (ultralytics itself would try to
download a missing file whose name looks like an official asset; we never let it get that far.)
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vla_builder.types import LabelTable


os.environ.setdefault("YOLO_OFFLINE", "1")  # no telemetry, no online checks when ultralytics is imported from here

PAD_VALUE = 114  # ultralytics' letterbox grey


class DetectorError(Exception):
    """A detector that cannot be used: names the weights file and the reason."""

    def __init__(self, path: Path | str, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def resolve_device(device: str = "auto") -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for, but torch sees no CUDA device")
    return device


def letterbox_params(h_px: int, w_px: int, imgsz: int, stride: int, auto: bool = True) -> dict[str, Any]:
    """The geometry of ultralytics' LetterBox (centered, scale-up allowed): resized size and padding, in pixels.

    auto=True pads only to the next multiple of `stride` (a "minimum rectangle", what predict() does for a batch of
    same-size frames with a .pt model); auto=False pads to the full imgsz square.
    """
    r = min(imgsz / h_px, imgsz / w_px)
    new_w, new_h = max(round(w_px * r), 1), max(round(h_px * r), 1)
    dw, dh = imgsz - new_w, imgsz - new_h
    if auto:
        dw, dh = dw % stride, dh % stride
    dw, dh = dw / 2, dh / 2
    top, bottom = round(dh - 0.1), round(dh + 0.1)
    left, right = round(dw - 0.1), round(dw + 0.1)
    return {"new_hw": (new_h, new_w), "pad": (top, bottom, left, right),
            "gain_xy": (new_w / w_px, new_h / h_px), "out_hw": (new_h + top + bottom, new_w + left + right)}


def letterbox_torch(frames_u8, params: dict[str, Any], dtype):
    """(B, H, W, 3) uint8 RGB tensor (any device) -> (B, 3, h, w) float in 0..1, resized and padded like LetterBox."""
    import torch.nn.functional as F

    x = frames_u8.permute(0, 3, 1, 2).float()
    new_h, new_w = params["new_hw"]
    if (new_h, new_w) != tuple(x.shape[2:]):
        # bilinear without antialias = cv2.INTER_LINEAR, which predict() uses; round to uint8 levels like cv2 does
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=False)
        x = x.round_().clamp_(0, 255)
    top, bottom, left, right = params["pad"]
    if top or bottom or left or right:
        x = F.pad(x, (left, right, top, bottom), value=float(PAD_VALUE))
    return x.div_(255.0).to(dtype).contiguous()


@dataclass
class UltralyticsDetector:
    """A YOLO detector from a local weights file, giving per-frame detections (a `LabelTable` of one frame each) in label-side class names.

    classes: detector class names to keep (None: all, or the keys of `class_map` when that is given).
    class_map: detector class name -> label class name (e.g. {"person": "pedestrian"}); unmapped names pass through.
    """

    weights: Path | str
    classes: Sequence[str] | None = None
    class_map: Mapping[str, str] = field(default_factory=dict)
    imgsz: int = 640  # longest side the frames are letterboxed to (pixels; a multiple of the model stride)
    conf_min: float = 0.25
    iou_nms: float = 0.7  # what predict() uses
    max_det: int = 300
    # frames per forward; None: 64 on CUDA, 4 on the CPU (measured on 2 cores: batches of 32 ran at 0.6x the speed of
    # batches of 4 at 640 px — activations fall out of cache — while 4 matched predict() one image at a time)
    batch_size: int | None = None
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    half: bool | None = None  # None: fp16 on CUDA, fp32 on CPU

    def __post_init__(self) -> None:
        self.weights = Path(self.weights)
        self._model = None
        self._yolo = None  # the predict() wrapper, built only for the reference path

    # -- loading -------------------------------------------------------------------------------------------------
    def _check_file(self) -> None:
        if not self.weights.is_file():
            raise DetectorError(self.weights, "detector weights not found (a local .pt file is required; "
                                "vla_builder never downloads weights)")
        if self.weights.suffix != ".pt":
            raise DetectorError(self.weights, "detector weights must be an ultralytics .pt checkpoint")

    def load(self) -> UltralyticsDetector:
        if self._model is not None:
            return self
        self._check_file()
        import torch
        from ultralytics.nn.tasks import load_checkpoint

        self._device = resolve_device(self.device)
        try:
            model, _ = load_checkpoint(str(self.weights), device=self._device, fuse=False)
            model = model.fuse(verbose=False) if hasattr(model, "fuse") else model  # conv+bn folded: faster
        except Exception as e:  # noqa: BLE001 — any unpickling / format problem is reported against the file
            raise DetectorError(self.weights, f"cannot load detector weights ({type(e).__name__}: {e})") from None
        self._half = (self._device.startswith("cuda")) if self.half is None else bool(self.half)
        self._batch = self.batch_size or (64 if self._device.startswith("cuda") else 4)
        model = model.half() if self._half else model.float()
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        self._model = model
        self._dtype = torch.float16 if self._half else torch.float32
        self._stride = int(max(int(model.stride.max()), 32))
        self._end2end = bool(getattr(model, "end2end", False))
        names = model.names if isinstance(model.names, dict) else dict(enumerate(model.names))
        self.detector_names: dict[int, str] = {int(k): str(v) for k, v in names.items()}
        self._setup_classes()
        return self

    def _setup_classes(self) -> None:
        by_name = {v: k for k, v in self.detector_names.items()}
        wanted = list(self.classes) if self.classes is not None else (list(self.class_map) or None)
        unknown = [c for c in (wanted or []) + list(self.class_map) if c not in by_name]
        if unknown:
            raise DetectorError(self.weights, f"class name(s) {sorted(set(unknown))} are not detector classes; "
                                f"the model has {sorted(by_name)}")
        self._class_idx = None if wanted is None else sorted({by_name[c] for c in wanted})
        # detector class index -> label-side name, as an array indexable by the NMS output's class column
        n = max(self.detector_names) + 1
        self._label_names = np.array([self.class_map.get(self.detector_names.get(i, str(i)),
                                                         self.detector_names.get(i, str(i))) for i in range(n)],
                                     dtype=object)

    @property
    def model(self):
        return self.load()._model

    @property
    def device_name(self) -> str:
        self.load()
        return self._device

    # -- fast batched path ---------------------------------------------------------------------------------------
    def detect(self, frames) -> list[LabelTable]:
        """Detections (a `LabelTable`) for each frame. frames: (T, H, W, 3) uint8 RGB, NumPy or a torch tensor (on any device)."""
        import torch

        self.load()
        n = len(frames)
        if n == 0:
            return []
        h_px, w_px = int(frames.shape[1]), int(frames.shape[2])
        params = letterbox_params(h_px, w_px, self.imgsz, self._stride, auto=True)
        out: list[LabelTable] = []
        with torch.inference_mode():
            for a in range(0, n, self._batch):
                chunk = frames[a:a + self._batch]
                if isinstance(chunk, np.ndarray):
                    chunk = torch.from_numpy(np.ascontiguousarray(chunk))
                # move uint8 (4x fewer bytes than float) and convert on the device
                chunk = chunk.to(self._device, non_blocking=True)
                x = letterbox_torch(chunk, params, self._dtype)
                out.extend(self._postprocess(self._model(x), params, h_px, w_px))
        return out

    def _postprocess(self, preds, params: dict[str, Any], h_px: int, w_px: int) -> list[LabelTable]:
        import torch
        from ultralytics.utils import nms

        kept = nms.non_max_suppression(preds, self.conf_min, self.iou_nms, self._class_idx, max_det=self.max_det,
                                       end2end=self._end2end)
        counts = [len(k) for k in kept]
        if sum(counts) == 0:
            return [LabelTable.empty(fmt="detections") for _ in kept]
        rows = torch.cat(kept).float()
        top, _, left, _ = params["pad"]
        gx, gy = params["gain_xy"]
        # undo the letterbox, then normalize by the frame size: one device->host copy for the whole batch
        scale = torch.tensor([gx * w_px, gy * h_px, gx * w_px, gy * h_px], device=rows.device)
        shift = torch.tensor([left, top, left, top], device=rows.device, dtype=rows.dtype)
        boxes = ((rows[:, :4] - shift) / scale).clamp_(0.0, 1.0)
        boxes, scores, cls = boxes.cpu().numpy(), rows[:, 4].cpu().numpy(), rows[:, 5].long().cpu().numpy()
        names = self._label_names[cls]
        out, i = [], 0
        for c in counts:
            out.append(LabelTable.of_frame(boxes[i:i + c].astype(np.float32), scores[i:i + c].astype(np.float32),
                                  names[i:i + c]))
            i += c
        return out

    # -- reference path (ultralytics predict) --------------------------------------------------------------------
    def predict_reference(self, frames: np.ndarray, batch: int = 1) -> list[LabelTable]:
        """The same detections through `YOLO.predict` from NumPy (per-image CPU letterbox): the spec and baseline."""
        self.load()
        if self._yolo is None:
            from ultralytics import YOLO

            self._yolo = YOLO(str(self.weights), task="detect")
        out: list[LabelTable] = []
        for a in range(0, len(frames), batch):
            bgr = [np.ascontiguousarray(f[..., ::-1]) for f in frames[a:a + batch]]  # predict() takes BGR
            results = self._yolo.predict(bgr, imgsz=self.imgsz, conf=self.conf_min, iou=self.iou_nms,
                                         classes=self._class_idx, max_det=self.max_det, device=self._device,
                                         quantize=16 if self._half else 32, verbose=False)
            for r in results:
                b = r.boxes
                if b is None or len(b) == 0:
                    out.append(LabelTable.empty(fmt="detections"))
                    continue
                h_px, w_px = r.orig_shape
                boxes = b.xyxy.cpu().numpy() / np.array([w_px, h_px, w_px, h_px])
                out.append(LabelTable.of_frame(boxes.astype(np.float32), b.conf.cpu().numpy().astype(np.float32),
                                      self._label_names[b.cls.cpu().numpy().astype(int)]))
        return out
