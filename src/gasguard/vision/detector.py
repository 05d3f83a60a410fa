"""Plume detection at serving time: ONNX Runtime only (no PyTorch), one camera stream at a time.

Each frame is turned into 0..1 greyscale (``preprocess.unit_grey``), resized to the model's working
size, given temporal context (``temporal.TemporalContext``), segmented, and scored: the leak score
is the calibrated probability (Platt scaling fitted on held-out simulated scenes) that the frame
shows a visible plume. The mask is reported only for frames judged to leak.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.frames import Frame
from gasguard.vision.preprocess import unit_grey
from gasguard.vision.seg_eval import frame_statistic, leak_probability
from gasguard.vision.temporal import CHANNELS, TemporalContext, network_input

log = logging.getLogger(__name__)

DEFAULT_SEG_MODEL = "plume_seg.onnx"
BENCH_CLASSIFIER = "gasnet_bench.onnx"


def artifact_path(name: str) -> Path:
    """Path of a model shipped in ``gasguard/vision/artifacts``."""
    return Path(str(resources.files("gasguard.vision") / "artifacts" / name))


def make_session(model_path: Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session limited to ``threads`` intra-op threads (1: one core)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(model_path), sess_options=opts, providers=["CPUExecutionProvider"])


def model_channels(session: Any) -> int:
    """How many context channels a plume model's ONNX session reads (its input's dimension 1)."""
    dim = session.get_inputs()[0].shape[1]
    return int(dim) if isinstance(dim, int) else len(CHANNELS)


@dataclass(frozen=True)
class Detection:
    """One frame's result. ``mask`` is at the input frame's size."""

    frame: int
    leak_score: float
    leak: bool
    mask: NDArray[np.bool_]
    mask_fraction: float

    def as_json(self) -> dict[str, Any]:
        return {
            "frame": self.frame,
            "leak_score": round(self.leak_score, 4),
            "leak": self.leak,
            "mask_fraction": round(self.mask_fraction, 5),
        }


class PlumeDetector:
    """Stateful (running background) detector for one fixed camera; ``reset`` when the view changes."""

    def __init__(self, model_path: Path | None = None, threads: int = 1, threshold: float = 0.5) -> None:
        self.model_path = Path(model_path) if model_path else artifact_path(DEFAULT_SEG_MODEL)
        meta_path = self.model_path.with_suffix(".json")
        self.meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        size = self.meta.get("input", {})
        self.work_size = (int(size.get("width", 160)), int(size.get("height", 120)))
        cal = self.meta.get("calibration", {"a": 1.0, "b": 0.0})
        self.calibration = (float(cal["a"]), float(cal["b"]))
        self.smoothing = float(self.meta.get("score_smoothing", 1.0))
        self.mask_threshold = float(self.meta.get("mask_logit_threshold", 0.0))
        self.threshold = threshold
        self._evidence: float | None = None
        self.session = make_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.channels = model_channels(self.session)
        self.context = TemporalContext()

    def reset(self) -> None:
        self.context.reset()
        self._evidence = None

    def logits(self, grey: NDArray[np.float32]) -> NDArray[np.float32]:
        """Network logits ``[h, w]`` at working size for one 0..1 greyscale frame (updates the context)."""
        import cv2

        if grey.shape[::-1] != self.work_size:
            grey = np.asarray(cv2.resize(grey, self.work_size, interpolation=cv2.INTER_AREA), dtype=np.float32)
        x = network_input(self.context.update(grey), self.channels)[None]
        return np.asarray(self.session.run(None, {self.input_name: x})[0][0, 0], dtype=np.float32)

    def process(self, frame: Frame | NDArray[Any], index: int | None = None) -> Detection:
        import cv2

        img = frame.image if isinstance(frame, Frame) else frame
        idx = frame.index if isinstance(frame, Frame) and index is None else (index or 0)
        logits = self.logits(unit_grey(img))
        # The frame's evidence is pooled with the previous frames' (as ``seg_eval.smooth_scores``).
        evidence = float(frame_statistic(logits))
        if self._evidence is not None:
            evidence = (1 - self.smoothing) * self._evidence + self.smoothing * evidence
        self._evidence = evidence
        score = float(leak_probability(np.asarray(evidence, dtype=np.float64), *self.calibration))
        leak = score >= self.threshold
        small = (logits > self.mask_threshold) & leak
        mask = cv2.resize(small.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        return Detection(idx, score, leak, mask, float(small.mean()))


def annotate(img: NDArray[Any], det: Detection) -> NDArray[np.uint8]:
    """BGR picture with the plume mask tinted magenta, its outline, and the score written on it."""
    import cv2

    from gasguard.vision.preprocess import unit_grey as _grey

    if img.ndim == 2 or img.dtype != np.uint8:
        base = np.round(_grey(img) * 255).astype(np.uint8)
        out = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
    else:
        out = img.copy()
    if det.mask.any():
        tint = out.copy()
        tint[det.mask] = (255, 0, 255)
        out = cv2.addWeighted(out, 0.55, tint, 0.45, 0)
        contours, _ = cv2.findContours(det.mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 0, 255), 1)
    text = f"{'LEAK' if det.leak else 'clear'} {det.leak_score:.2f}"
    scale = max(0.35, out.shape[1] / 640)
    cv2.putText(
        out,
        text,
        (4, int(16 * scale + 4)),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale,
        (0, 0, 255) if det.leak else (0, 200, 0),
        1,
        cv2.LINE_AA,
    )
    return np.asarray(out, dtype=np.uint8)


class ClassifierRuntime:
    """GasNet (or any ``image -> scores`` ONNX classifier) on preprocessed 224x224 BGR frames."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self.session = make_session(Path(model_path) if model_path else artifact_path(BENCH_CLASSIFIER), threads)
        self.input_name = self.session.get_inputs()[0].name

    def scores(self, image_bgr_224: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = (image_bgr_224.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        return np.asarray(self.session.run(None, {self.input_name: x})[0][0], dtype=np.float32)
