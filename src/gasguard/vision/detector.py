"""Plume detection at serving time: ONNX Runtime only (no PyTorch), one camera stream at a time.

Each frame is turned into 0..1 greyscale (``preprocess.unit_grey``), resized to the model's working
size, given temporal context (``temporal.TemporalContext``), segmented, and scored: the leak score
is the calibrated probability (Platt scaling fitted on held-out simulated scenes) that the frame
shows a visible plume. The mask is reported only for frames judged to leak.

A commissioned detector (``commission(frames)``, then a ``SceneBaseline``; see
``gasguard.vision.commissioning``) judges each frame against its scene's learnt normal instead:
its leak score is then 0.5 at the scene's own threshold, and the model's calibrated score is kept
beside it as ``model_score``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from gasguard.vision.commissioning import BaselineLearner, BaselineSettings, SceneBaseline
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


Phase = Literal["uncommissioned", "commissioning", "commissioned"]

#: A pixel of a commissioned detector's mask stands this many of its scene's units above normal.
MASK_EXCESS = 2.0


@dataclass(frozen=True)
class Detection:
    """One frame's result. ``mask`` is at the input frame's size.

    ``phase`` says how the frame was judged: by the model's own threshold (``uncommissioned``), not
    at all because it is a baseline frame (``commissioning``: never a leak), or against the scene's
    baseline (``commissioned``). ``model_score`` is always the model's calibrated score;
    ``leak_score`` is the one the decision was made on.
    """

    frame: int
    leak_score: float
    leak: bool
    mask: NDArray[np.bool_]
    mask_fraction: float
    phase: Phase = "uncommissioned"
    model_score: float | None = None
    threshold: float | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "frame": self.frame,
            "leak_score": round(self.leak_score, 4),
            "leak": self.leak,
            "mask_fraction": round(self.mask_fraction, 5),
        }
        if self.phase != "uncommissioned":
            out["phase"] = self.phase
            out["model_score"] = None if self.model_score is None else round(self.model_score, 4)
        return out


def model_id(path: Path) -> str:
    """A short fingerprint of a model file: a scene baseline learnt with one model is not used with another."""
    return f"{path.name}:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


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
        self.warmup_frames = int(self.meta.get("warmup_frames", 4))
        self.session = make_session(self.model_path, threads)
        self.input_name = self.session.get_inputs()[0].name
        self.channels = model_channels(self.session)
        self.context = TemporalContext()
        self.model_id = model_id(self.model_path)
        self.baseline: SceneBaseline | None = None
        self.learner: BaselineLearner | None = None
        self.hold_adaptation = False
        """Set by the caller while the zone is in alarm or the camera in fault: the baseline stays as it is."""

    def reset(self) -> None:
        """Forget the stream (running background, pooled evidence); a learnt scene baseline is kept."""
        self.context.reset()
        self._evidence = None
        if self.baseline is not None:
            self.baseline.reset_stream()

    @staticmethod
    def default_model_id() -> str:
        return model_id(artifact_path(DEFAULT_SEG_MODEL))

    @property
    def phase(self) -> Phase:
        if self.learner is not None:
            return "commissioning"
        return "commissioned" if self.baseline is not None else "uncommissioned"

    def commission(self, frames: int, settings: BaselineSettings | None = None) -> None:
        """Learn the scene from the next ``frames`` frames (operator-confirmed clean), then judge
        every later frame against it. Until then frames are never called a leak."""
        self.learner = BaselineLearner(frames, settings, self.evidence_threshold())

    def evidence_threshold(self) -> float:
        """The frame evidence at which the model's calibrated score reaches ``threshold``."""
        a, b = self.calibration
        t = min(max(self.threshold, 1e-6), 1 - 1e-6)
        return float((np.log(t / (1 - t)) - b) / a) if a > 0 else float("-inf")

    def cancel_commissioning(self) -> None:
        self.learner = None

    def use_baseline(self, baseline: SceneBaseline | None) -> None:
        """Judge against a stored baseline (``None``: back to the model's own threshold)."""
        if baseline is not None and baseline.shape != (self.work_size[1], self.work_size[0]):
            raise ValueError(f"the baseline is {baseline.shape}, the model works at {self.work_size[::-1]}")
        self.learner = None
        self.baseline = baseline

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
        evidence = raw_evidence = float(frame_statistic(logits))
        if self._evidence is not None:
            evidence = (1 - self.smoothing) * self._evidence + self.smoothing * evidence
        self._evidence = evidence
        score = float(leak_probability(np.asarray(evidence, dtype=np.float64), *self.calibration))
        phase = self.phase
        threshold: float | None = self.threshold
        if self.learner is not None:
            # The first frames after a reset only fill the running background.
            if self.context.frames_seen > self.warmup_frames and self.learner.add(logits, raw_evidence):
                self.baseline = self.learner.finish()
                self.learner = None
                log.info(
                    "scene baseline learnt from %d frames (threshold %.2f)",
                    self.baseline.frames,
                    self.baseline.threshold,
                )
            leak, judged, threshold = False, score, None
            small = np.zeros_like(logits, dtype=bool)
        elif self.baseline is not None:
            verdict = self.baseline.judge(logits, raw_evidence)
            if not verdict.elevated and not self.hold_adaptation:
                self.baseline.adapt(logits, raw_evidence)
            leak, judged, threshold = verdict.leak, verdict.score, 0.5
            small = (verdict.excess >= MASK_EXCESS) & leak
        else:
            leak, judged = score >= self.threshold, score
            small = (logits > self.mask_threshold) & leak
        mask = cv2.resize(small.astype(np.uint8), (img.shape[1], img.shape[0]), interpolation=cv2.INTER_NEAREST) > 0
        return Detection(idx, judged, leak, mask, float(small.mean()), phase, score, threshold)


def caption(det: Detection) -> str:
    """The words drawn on a frame: its verdict and the score it was made on."""
    if det.phase == "commissioning":
        return f"learning scene {det.leak_score:.2f}"
    return f"{'LEAK' if det.leak else 'clear'} {det.leak_score:.2f}"


def annotate(
    img: NDArray[Any], det: Detection, label: str | None = None, width: int | None = None
) -> NDArray[np.uint8]:
    """BGR picture with the plume mask tinted magenta, its outline, and the score written on it.

    ``width`` enlarges the picture first (a 160x120 frame shown on a laptop), so the outline is thin
    and the label sharp. The label sits on a dark band of its own, readable over any scene.
    """
    import cv2

    from gasguard.vision.preprocess import unit_grey as _grey

    if img.ndim == 2 or img.dtype != np.uint8:
        base = np.round(_grey(img) * 255).astype(np.uint8) if img.dtype != np.uint8 else img
        out = cv2.cvtColor(base, cv2.COLOR_GRAY2BGR)
    else:
        out = img.copy()
    mask = det.mask
    if width is not None and width > out.shape[1]:
        size = (int(width), max(1, round(out.shape[0] * width / out.shape[1])))
        out = cv2.resize(out, size, interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
    if mask.any():
        tint = out.copy()
        tint[mask] = (255, 0, 255)
        out = cv2.addWeighted(out, 0.55, tint, 0.45, 0)
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(out, contours, -1, (255, 0, 255), 1)
    text = label if label is not None else caption(det)
    scale = max(0.35, out.shape[1] / 640)
    thickness = 1 if scale < 0.8 else 2
    (tw, th), base_line = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    pad = max(2, round(3 * scale))
    cv2.rectangle(out, (0, 0), (min(out.shape[1] - 1, tw + 2 * pad), th + base_line + 2 * pad), (0, 0, 0), -1)
    colour = (60, 60, 255) if det.leak else (80, 220, 80)
    cv2.putText(out, text, (pad, pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)
    return np.asarray(out, dtype=np.uint8)


class ClassifierRuntime:
    """GasNet (or any ``image -> scores`` ONNX classifier) on preprocessed 224x224 BGR frames."""

    def __init__(self, model_path: Path | None = None, threads: int = 1) -> None:
        self.session = make_session(Path(model_path) if model_path else artifact_path(BENCH_CLASSIFIER), threads)
        self.input_name = self.session.get_inputs()[0].name

    def scores(self, image_bgr_224: NDArray[np.uint8]) -> NDArray[np.float32]:
        x = (image_bgr_224.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        return np.asarray(self.session.run(None, {self.input_name: x})[0][0], dtype=np.float32)
