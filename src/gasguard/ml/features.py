"""Streaming features for sensor arrays, one reading at a time per stream.

A single MQ reading says little: NoGas and Perfume overlap in level, and levels wander over hours.
What separates them is how the sensors move together over the last seconds: deltas, slopes, the
rolling minimum and spread, ratios between sensors and the response relative to a recent baseline.

The same :class:`StreamFeaturizer.update` computes these online (the service, one call per reading)
and offline (:func:`featurize_streams` replays each stream through a fresh featurizer), so training
and serving can never disagree. All features are causal: they use the current and past readings of
the same stream only. Until a window fills, features use the readings seen so far (a stream's first
reading has zero deltas and slopes), so a freshly (re)started stream still gets a prediction.

>>> f = StreamFeaturizer(n_sensors=2, window=3, baseline_window=4)
>>> f.update([10.0, 20.0])[:2].tolist()
[10.0, 20.0]
>>> row = f.update([12.0, 20.0])
>>> dict(zip(f.names(("a", "b")), row.tolist()))["delta1_a"]
2.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Feature groups in output order; each has one column per sensor.
GROUPS: tuple[str, ...] = (
    "raw",  # the reading itself
    "ratio",  # reading / mean of all sensors: the array's "fingerprint", independent of overall level
    "delta1",  # change since the previous reading
    "deltaW",  # change across the short window
    "slope",  # least-squares slope over the short window, per reading
    "minW",  # rolling minimum over the short window
    "spreadW",  # max - min over the short window
    "stdW",  # standard deviation over the short window
    "spreadL",  # max - min over the long window
    "rel_base",  # (reading - baseline) / baseline, baseline = minimum over the long window
    "stdL",  # standard deviation over the long window
    "slopeL",  # least-squares slope over the long window, per reading
    "ratioL",  # long-window mean of each sensor / mean of all sensors' long-window means
)

_EPS = 1e-9


@dataclass(frozen=True)
class FeatureConfig:
    """Window lengths in readings (the MultimodalGasData rate is one reading every ~2 s)."""

    window: int = 10
    baseline_window: int = 60

    def __post_init__(self) -> None:
        if self.window < 2 or self.baseline_window < self.window:
            raise ValueError("need 2 <= window <= baseline_window")

    def to_dict(self) -> dict[str, int]:
        return {"window": self.window, "baseline_window": self.baseline_window}


class StreamFeaturizer:
    """Feature state of one stream (one zone's sensor array). Not thread-safe; one per stream."""

    def __init__(self, n_sensors: int, window: int = 10, baseline_window: int = 60) -> None:
        self.config = FeatureConfig(window=window, baseline_window=baseline_window)
        self.n_sensors = n_sensors
        self._buf = np.zeros((baseline_window, n_sensors), dtype=np.float64)
        self._count = 0
        self._prev = np.zeros(n_sensors, dtype=np.float64)

    @property
    def n_features(self) -> int:
        return len(GROUPS) * self.n_sensors

    def names(self, sensors: Sequence[str]) -> list[str]:
        """Column names, ``<group>_<sensor>`` in output order."""
        if len(sensors) != self.n_sensors:
            raise ValueError(f"expected {self.n_sensors} sensor names, got {len(sensors)}")
        return [f"{g}_{s}" for g in GROUPS for s in sensors]

    def reset(self) -> None:
        """Forget the history (a gap in the data, a sensor swap)."""
        self._count = 0

    def update(self, values: Sequence[float] | FloatArray) -> FloatArray:
        """Add one reading and return its feature vector (``n_features`` floats)."""
        x = np.asarray(values, dtype=np.float64)
        if x.shape != (self.n_sensors,):
            raise ValueError(f"expected {self.n_sensors} values, got shape {x.shape}")
        cap = self.config.baseline_window
        self._buf[self._count % cap] = x
        self._count += 1
        n_long = min(self._count, cap)
        n_short = min(self._count, self.config.window)
        # chronological views of the last n readings (ring buffer, newest last)
        end = self._count % cap
        idx_long = (np.arange(end - n_long, end)) % cap
        long_win = self._buf[idx_long]
        short_win = long_win[-n_short:]

        prev = long_win[-2] if n_long >= 2 else x
        first = short_win[0]
        slope = _slope(short_win)
        long_mean = long_win.mean(axis=0)
        s_min = short_win.min(axis=0)
        s_max = short_win.max(axis=0)
        l_min = long_win.min(axis=0)
        l_max = long_win.max(axis=0)
        out = np.empty((len(GROUPS), self.n_sensors), dtype=np.float64)
        out[0] = x
        out[1] = x / (x.mean() + _EPS)
        out[2] = x - prev
        out[3] = x - first
        out[4] = slope
        out[5] = s_min
        out[6] = s_max - s_min
        out[7] = short_win.std(axis=0)
        out[8] = l_max - l_min
        out[9] = (x - l_min) / (np.abs(l_min) + _EPS)
        out[10] = long_win.std(axis=0)
        out[11] = _slope(long_win)
        out[12] = long_mean / (long_mean.mean() + _EPS)
        return out.reshape(-1)


def _slope(window: FloatArray) -> FloatArray:
    """Least-squares slope of each column against the reading index (0 for a single reading)."""
    n = window.shape[0]
    if n < 2:
        return np.zeros(window.shape[1], dtype=np.float64)
    t = np.arange(n, dtype=np.float64)
    t -= t.mean()
    return np.asarray((t @ window) / float(t @ t), dtype=np.float64)


def featurize_stream(X: FloatArray, config: FeatureConfig | None = None) -> FloatArray:
    """Features for one stream's readings in time order (``[n, n_sensors]`` -> ``[n, n_features]``)."""
    cfg = config or FeatureConfig()
    f = StreamFeaturizer(X.shape[1], window=cfg.window, baseline_window=cfg.baseline_window)
    out = np.empty((X.shape[0], f.n_features), dtype=np.float64)
    for i, row in enumerate(X):
        out[i] = f.update(row)
    return out


def featurize_streams(
    X: FloatArray, stream: npt.NDArray[np.integer], config: FeatureConfig | None = None
) -> FloatArray:
    """Features for many interleaved or consecutive streams: each stream id gets its own featurizer,
    rows are processed in the given order, so no stream ever sees another's readings."""
    cfg = config or FeatureConfig()
    featurizers: dict[int, StreamFeaturizer] = {}
    n_features = len(GROUPS) * X.shape[1]
    out = np.empty((X.shape[0], n_features), dtype=np.float64)
    for i, (row, sid) in enumerate(zip(X, stream, strict=True)):
        key = int(sid)
        f = featurizers.get(key)
        if f is None:
            f = featurizers[key] = StreamFeaturizer(X.shape[1], window=cfg.window, baseline_window=cfg.baseline_window)
        out[i] = f.update(row)
    return out


def feature_names(sensors: Sequence[str]) -> list[str]:
    """Column names for :func:`featurize_streams` output."""
    return [f"{g}_{s}" for g in GROUPS for s in sensors]


#: Groups the shipped multimodal classifier uses. Absolute levels (``raw``, ``minW``) are left out:
#: MQ levels wander over a recording, and a model that keys on them fails on unseen time blocks.
CLASSIFIER_GROUPS: tuple[str, ...] = tuple(g for g in GROUPS if g not in ("raw", "minW"))


def group_columns(groups: Sequence[str], n_sensors: int) -> list[int]:
    """Column indices of the given feature groups in :class:`StreamFeaturizer` output."""
    unknown = set(groups) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown feature group(s): {sorted(unknown)}")
    return [gi * n_sensors + s for gi, g in enumerate(GROUPS) if g in groups for s in range(n_sensors)]


# --------------------------------------------------------------------------- UCI drift set

DRIFT_SENSORS = 16
DRIFT_PER_SENSOR = 8


def drift_features(X: FloatArray) -> FloatArray:
    """Features of UCI drift rows (independent exposures, so no stream history exists).

    Each row is 16 sensors x 8 features (steady-state dR, normalised dR, and rise/decay exponential
    moving averages). Two views are kept: the sign-preserving log of every value (responses span
    orders of magnitude), and each sensor's 8 values divided by their norm, a shape descriptor that
    is insensitive to the sensor's gain, which is what drifts most between batches.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != DRIFT_SENSORS * DRIFT_PER_SENSOR:
        raise ValueError(f"expected rows of {DRIFT_SENSORS * DRIFT_PER_SENSOR} values, got {X.shape}")
    per_sensor = X.reshape(len(X), DRIFT_SENSORS, DRIFT_PER_SENSOR)
    norms = np.linalg.norm(per_sensor, axis=2, keepdims=True) + _EPS
    shape = (per_sensor / norms).reshape(len(X), -1)
    return np.hstack([np.sign(X) * np.log1p(np.abs(X)), shape])


def drift_feature_names() -> list[str]:
    names = [f"log_s{s + 1}_f{f + 1}" for s in range(DRIFT_SENSORS) for f in range(DRIFT_PER_SENSOR)]
    names += [f"shape_s{s + 1}_f{f + 1}" for s in range(DRIFT_SENSORS) for f in range(DRIFT_PER_SENSOR)]
    return names
