"""Commissioning: a fixed camera learns its scene's normal before it judges it.

The plume network was trained on simulated scenes. On a scene it has never seen (another camera,
compression, a sky with drifting clouds, heat shimmer, a steam vent) its logits can be high on
every clean frame, so its own threshold calls every frame a leak. What it has not lost is the
contrast between a plume and that scene's normal. So a camera first watches a stretch of
operator-confirmed clean video and learns, per pixel of the network's output (160x120), the mean
and spread of the logits there; afterwards a frame is judged by how far its logits stand above
that normal, in the scene's own units:

1. ``z = (logit - mean) / spread`` per pixel. Mean and spread are taken over the baseline and then
   grown by a ``dilate_px`` maximum filter, so a shimmering edge or a camera that moves a pixel
   does not stand out; the spread never drops below ``sigma_floor`` logits.
2. ``z`` is pooled per pixel over frames (running mean, ``pool_rate``): a plume stays where its
   source is, while noise and shimmer come and go.
3. The pooled map is box-filtered at several sizes (``SCALES``, 1 to 31 pixels) and each filtered
   map's maximum is taken: a small far plume and a wide diffuse one each have a size that suits them.
   Each size's maximum is put in the baseline's robust units (median and MAD), and the frame's
   statistic is the largest of them.
4. The threshold is the ``quantile`` of that statistic on the baseline plus ``margin``. The
   baseline statistics are cross-fitted (the mean and spread learnt on one half of the baseline
   judge the other half), so the threshold is not set on frames the model has already seen.

Beside the per-pixel normal, the model's own frame evidence (the mean of its 12 highest logits,
the number its calibrated score is made from) is judged against the baseline's: a frame also
counts as a leak when its evidence is above the model's own threshold *and* above everything the
baseline showed by ``evidence_margin`` robust units. In a scene like the training scenes this keeps
the model's own sensitivity; in a scene where the model fires on everything it is silent.

The frame's margin is the larger of the two (each in its robust units, 0 at its threshold) and the
leak score is ``sigmoid(margin)``: 0.5 at the threshold, as everywhere else a frame is "leak" at a
score of 0.5 or more.

While the camera runs, the baseline keeps adapting slowly (``adapt_rate``) to a scene that changes
with the weather and the day, but only while nothing is elevated (the statistic and the evidence
are both below ``elevated_fraction`` of the way from the baseline's median to their thresholds), and
never while the caller holds adaptation (zone in alarm, camera fault). The mean
may drift at most ``max_drift`` logits from what was commissioned and the spread stay within a
factor ``max_spread_change`` of it, so even a leak that grows too slowly to be elevated can only
make the camera that much less sensitive: it cannot be learnt as normal.

NumPy and OpenCV only (serving path). The settings were chosen on simulated calibration scenes
(``shift_sets``, calibration seeds); see the vision README for what they do on held-out sets.
"""

from __future__ import annotations

import base64
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Box sizes (pixels at the network's working size) the pooled excess map is summed over.
SCALES = (1, 7, 15, 31)
FORMAT_VERSION = 1


@dataclass(frozen=True)
class BaselineSettings:
    """How a scene baseline is learnt and used; see the module docstring for each step."""

    dilate_px: int = 5
    sigma_floor: float = 0.5
    pool_rate: float = 0.2
    quantile: float = 1.0
    margin: float = 1.0
    evidence_quantile: float = 1.0
    evidence_margin: float = 0.5
    evidence_floor: float = 0.25
    unit_floor: float = 0.5
    elevated_fraction: float = 0.5
    adapt_rate: float = 0.002
    max_drift: float = 2.0
    max_spread_change: float = 2.0
    min_frames: int = 16
    max_stored_frames: int = 480

    def __post_init__(self) -> None:
        if self.dilate_px < 1 or self.dilate_px % 2 == 0:
            raise ValueError(f"dilate_px must be an odd number >= 1, got {self.dilate_px}")
        if not 0 < self.pool_rate <= 1:
            raise ValueError(f"pool_rate must be in (0, 1], got {self.pool_rate}")
        if not 0 < self.quantile <= 1:
            raise ValueError(f"quantile must be in (0, 1], got {self.quantile}")
        if not 0 < self.elevated_fraction < 1:
            raise ValueError(f"elevated_fraction must be in (0, 1), got {self.elevated_fraction}")
        if not 0 <= self.adapt_rate < 1:
            raise ValueError(f"adapt_rate must be in [0, 1), got {self.adapt_rate}")
        if self.min_frames < 4:
            raise ValueError(f"a baseline needs at least 4 frames, got min_frames={self.min_frames}")


@dataclass(frozen=True)
class Judgement:
    """One frame judged against the baseline: ``margin`` above the scene's threshold (robust units,
    the larger of the per-pixel and the evidence test), ``excess`` the pooled excess map (z units)."""

    statistic: float
    threshold: float
    margin: float
    score: float
    leak: bool
    elevated: bool
    excess: NDArray[np.float32] = field(repr=False)


def frame_evidence(logits: NDArray[np.float32]) -> float:
    """The model's raw frame evidence: the mean of its top-k pixel logits (``seg_eval.frame_statistic``)."""
    from gasguard.vision.seg_eval import frame_statistic

    return float(frame_statistic(logits))


def _dilate(a: NDArray[np.float32], px: int) -> NDArray[np.float32]:
    import cv2

    if px <= 1:
        return a
    return np.asarray(cv2.dilate(a, np.ones((px, px), np.uint8)), dtype=np.float32)


def _scale_maxima(excess: NDArray[np.float32]) -> NDArray[np.float64]:
    """Maximum of the excess map box-filtered at each of ``SCALES``."""
    import cv2

    out = np.empty(len(SCALES))
    for i, s in enumerate(SCALES):
        m = excess if s == 1 else cv2.blur(excess, (s, s), borderType=cv2.BORDER_REFLECT)
        out[i] = float(m.max())
    return out


def _encode(a: NDArray[Any]) -> dict[str, Any]:
    arr = np.ascontiguousarray(a, dtype=np.float16)
    return {"shape": list(arr.shape), "float16_b64": base64.b64encode(arr.tobytes()).decode("ascii")}


def _decode(obj: dict[str, Any]) -> NDArray[np.float32]:
    raw = base64.b64decode(obj["float16_b64"])
    return np.frombuffer(raw, dtype=np.float16).reshape(obj["shape"]).astype(np.float32)


class _PixelModel:
    """Per-pixel mean and spread of the logits, grown by the dilation, with a floor on the spread."""

    def __init__(self, mean: NDArray[np.float32], spread: NDArray[np.float32], settings: BaselineSettings) -> None:
        self.settings = settings
        self.mean_raw = mean.astype(np.float32)
        self.spread_raw = spread.astype(np.float32)
        self.refresh()

    @classmethod
    def fit(cls, frames: NDArray[np.float32], settings: BaselineSettings) -> _PixelModel:
        return cls(frames.mean(axis=0), frames.std(axis=0), settings)

    def refresh(self) -> None:
        s = self.settings
        self.mean = _dilate(self.mean_raw, s.dilate_px)
        self.spread = np.maximum(_dilate(self.spread_raw, s.dilate_px), np.float32(s.sigma_floor))

    def z(self, logits: NDArray[np.float32]) -> NDArray[np.float32]:
        return np.asarray((logits - self.mean) / self.spread, dtype=np.float32)


def _statistics(model: _PixelModel, frames: NDArray[np.float32], pool_rate: float) -> NDArray[np.float64]:
    """``[T, len(SCALES)]`` scale maxima of the pooled excess of a run of frames."""
    out = np.empty((len(frames), len(SCALES)))
    pooled: NDArray[np.float32] | None = None
    for t, f in enumerate(frames):
        z = model.z(f)
        pooled = z if pooled is None else (1 - pool_rate) * pooled + pool_rate * z
        out[t] = _scale_maxima(pooled)
    return out


class SceneBaseline:
    """A commissioned scene: judges frames against what it learnt and adapts slowly while all is calm."""

    def __init__(
        self,
        model: _PixelModel,
        commissioned_mean: NDArray[np.float32],
        commissioned_spread: NDArray[np.float32],
        centre: NDArray[np.float64],
        spread: NDArray[np.float64],
        threshold: float,
        elevated: float,
        frames: int,
        settings: BaselineSettings,
        evidence_threshold: float,
        evidence_unit: float,
        evidence_centre: float,
        evidence_floor: float = -math.inf,
    ) -> None:
        self.model = model
        self.commissioned_mean = commissioned_mean
        self.commissioned_spread = commissioned_spread
        self.centre = centre
        self.unit = spread
        self.threshold = float(threshold)
        self.elevated_level = float(elevated)
        self.frames = frames
        self.settings = settings
        self.commissioned_evidence_threshold = float(evidence_threshold)
        self.evidence_threshold = float(evidence_threshold)
        self.evidence_unit = float(evidence_unit)
        self.evidence_floor = float(evidence_floor)
        self.evidence_centre = float(evidence_centre)
        self.commissioned_evidence_centre = float(evidence_centre)
        self.adapted_frames = 0
        self._pooled: NDArray[np.float32] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        h, w = self.model.mean_raw.shape
        return int(h), int(w)

    def reset_stream(self) -> None:
        """Forget the pooled excess (the stream restarted); the learnt scene is kept."""
        self._pooled = None

    def judge(self, logits: NDArray[np.float32], evidence: float | None = None) -> Judgement:
        """Judge one frame's logits (``evidence``: its ``frame_evidence``, computed when not given)."""
        if logits.shape != self.shape:
            raise ValueError(f"logits of shape {logits.shape} do not fit a baseline of {self.shape}")
        z = self.model.z(logits)
        rate = self.settings.pool_rate
        self._pooled = z if self._pooled is None else (1 - rate) * self._pooled + rate * z
        statistic = float(((_scale_maxima(self._pooled) - self.centre) / self.unit).max())
        e = frame_evidence(logits) if evidence is None else float(evidence)
        margin = max(statistic - self.threshold, (e - self.evidence_threshold) / self.evidence_unit)
        score = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, margin))))
        f = self.settings.elevated_fraction
        evidence_elevated = e >= self.evidence_centre + f * (self.evidence_threshold - self.evidence_centre)
        return Judgement(
            statistic=statistic,
            threshold=self.threshold,
            margin=margin,
            score=score,
            leak=margin >= 0,
            elevated=margin >= 0 or statistic >= self.elevated_level or evidence_elevated,
            excess=self._pooled,
        )

    def adapt(self, logits: NDArray[np.float32], evidence: float | None = None) -> None:
        """Move the per-pixel normal and the evidence threshold a little towards this frame (call only
        for calm frames). Both stay within ``max_drift`` logits of what was commissioned, and the
        evidence threshold never drops below the model's own."""
        s = self.settings
        if s.adapt_rate <= 0:
            return
        e = frame_evidence(logits) if evidence is None else float(evidence)
        self.evidence_centre = (1 - s.adapt_rate) * self.evidence_centre + s.adapt_rate * e
        moved = min(max(self.evidence_centre - self.commissioned_evidence_centre, -s.max_drift), s.max_drift)
        self.evidence_threshold = max(self.evidence_floor, self.commissioned_evidence_threshold + moved)
        a = np.float32(s.adapt_rate)
        m = self.model
        m.mean_raw = (1 - a) * m.mean_raw + a * logits
        var = (1 - a) * m.spread_raw**2 + a * (logits - m.mean_raw) ** 2
        m.mean_raw = np.clip(m.mean_raw, self.commissioned_mean - s.max_drift, self.commissioned_mean + s.max_drift)
        lo = self.commissioned_spread / s.max_spread_change
        hi = self.commissioned_spread * s.max_spread_change
        m.spread_raw = np.clip(np.sqrt(var), lo, hi).astype(np.float32)
        m.refresh()
        self.adapted_frames += 1

    def drift(self) -> float:
        """Mean absolute change of the per-pixel normal since commissioning, logits."""
        return float(np.mean(np.abs(self.model.mean_raw - self.commissioned_mean)))

    # ------------------------------------------------------------------ storage

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "settings": asdict(self.settings),
            "frames": self.frames,
            "adapted_frames": self.adapted_frames,
            "threshold": self.threshold,
            "elevated": self.elevated_level,
            "evidence_threshold": self.evidence_threshold,
            "commissioned_evidence_threshold": self.commissioned_evidence_threshold,
            "evidence_unit": self.evidence_unit,
            "evidence_centre": self.evidence_centre,
            "commissioned_evidence_centre": self.commissioned_evidence_centre,
            "evidence_floor": self.evidence_floor if math.isfinite(self.evidence_floor) else None,
            "centre": self.centre.tolist(),
            "unit": self.unit.tolist(),
            "scales": list(SCALES),
            "mean": _encode(self.model.mean_raw),
            "spread": _encode(self.model.spread_raw),
            "commissioned_mean": _encode(self.commissioned_mean),
            "commissioned_spread": _encode(self.commissioned_spread),
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> SceneBaseline:
        if obj.get("version") != FORMAT_VERSION:
            raise ValueError(f"unsupported scene baseline version {obj.get('version')!r}")
        if list(obj["scales"]) != list(SCALES):
            raise ValueError("the scene baseline was learnt with other scales")
        settings = BaselineSettings(**obj["settings"])
        model = _PixelModel(_decode(obj["mean"]), _decode(obj["spread"]), settings)
        baseline = cls(
            model,
            _decode(obj["commissioned_mean"]),
            _decode(obj["commissioned_spread"]),
            np.asarray(obj["centre"], dtype=np.float64),
            np.asarray(obj["unit"], dtype=np.float64),
            float(obj["threshold"]),
            float(obj["elevated"]),
            int(obj["frames"]),
            settings,
            float(obj["commissioned_evidence_threshold"]),
            float(obj["evidence_unit"]),
            float(obj["commissioned_evidence_centre"]),
            -math.inf if obj["evidence_floor"] is None else float(obj["evidence_floor"]),
        )
        baseline.evidence_threshold = float(obj["evidence_threshold"])
        baseline.evidence_centre = float(obj["evidence_centre"])
        baseline.adapted_frames = int(obj.get("adapted_frames", 0))
        return baseline


class BaselineLearner:
    """Collects a commissioning run's logits; ``finish`` turns them into a ``SceneBaseline``.

    Up to ``settings.max_stored_frames`` frames are kept (at 160x120, float16: 37 KB each); a longer
    run keeps every second frame, then every fourth, and so on, so minutes of video fit.
    """

    def __init__(
        self, frames: int, settings: BaselineSettings | None = None, model_evidence_threshold: float = -math.inf
    ) -> None:
        self.settings = settings or BaselineSettings()
        if frames < self.settings.min_frames:
            raise ValueError(f"a baseline needs at least {self.settings.min_frames} frames, got {frames}")
        self.target = frames
        self.model_evidence_threshold = model_evidence_threshold
        self.seen = 0
        self._stride = 1
        self._stored: list[NDArray[np.float16]] = []
        self._evidence: list[float] = []

    @property
    def done(self) -> bool:
        return self.seen >= self.target

    @property
    def progress(self) -> float:
        return min(1.0, self.seen / self.target)

    def add(self, logits: NDArray[np.float32], evidence: float | None = None) -> bool:
        """Learn one clean frame; True once the run has all its frames."""
        if self._stored and logits.shape != self._stored[0].shape:
            raise ValueError("the frame size changed during commissioning")
        self._evidence.append(frame_evidence(logits) if evidence is None else float(evidence))
        if self.seen % self._stride == 0:
            self._stored.append(logits.astype(np.float16))
            if len(self._stored) > self.settings.max_stored_frames:
                self._stored = self._stored[::2]
                self._stride *= 2
        self.seen += 1
        return self.done

    def finish(self) -> SceneBaseline:
        s = self.settings
        frames = np.stack(self._stored).astype(np.float32)
        if len(frames) < 4:
            raise ValueError(f"a baseline needs at least 4 stored frames, got {len(frames)}")
        half = len(frames) // 2
        crossfit = np.concatenate(
            [
                _statistics(_PixelModel.fit(frames[:half], s), frames[half:], s.pool_rate),
                _statistics(_PixelModel.fit(frames[half:], s), frames[:half], s.pool_rate),
            ]
        )
        centre = np.median(crossfit, axis=0)
        unit = np.maximum(1.4826 * np.median(np.abs(crossfit - centre), axis=0), s.unit_floor)
        normalised = ((crossfit - centre) / unit).max(axis=1)
        threshold = float(np.quantile(normalised, s.quantile)) + s.margin
        elevated = s.elevated_fraction * threshold  # 0 is the baseline's median
        ev = np.asarray(self._evidence)
        ev_unit = max(1.4826 * float(np.median(np.abs(ev - np.median(ev)))), s.evidence_floor)
        ev_threshold = max(
            self.model_evidence_threshold, float(np.quantile(ev, s.evidence_quantile)) + s.evidence_margin * ev_unit
        )
        model = _PixelModel.fit(frames, s)
        return SceneBaseline(
            model,
            model.mean_raw.copy(),
            model.spread_raw.copy(),
            centre,
            unit,
            threshold,
            elevated,
            self.seen,
            s,
            ev_threshold,
            ev_unit,
            float(np.median(ev)),
            self.model_evidence_threshold,
        )
