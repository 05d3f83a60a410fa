"""Streaming features for sensor arrays, one reading at a time per stream.

A single MQ reading says little: NoGas and Perfume overlap in level, and levels wander over hours.
What separates them is how the sensors move together over the last seconds: deltas, slopes, the
rolling minimum and spread, ratios between sensors and the response relative to a recent baseline.

:class:`StreamFeaturizer.update` computes these online (the service, one call per reading) with
:func:`window_features`; :func:`featurize_streams` computes them offline for training, vectorised
over whole recordings, with the same operations in the same order, so the two give the same bits
and training and serving can never disagree. All features are causal: they use the current and
past readings of the same stream only. Until a window fills, features use the readings seen so far (a stream's first
reading has zero deltas and slopes), so a freshly (re)started stream still gets a prediction.

>>> f = StreamFeaturizer(n_sensors=2, window=3, baseline_window=4)
>>> f.update([10.0, 20.0])[:2].tolist()
[10.0, 20.0]
>>> row = f.update([12.0, 20.0])
>>> dict(zip(f.names(("a", "b")), row.tolist()))["delta1_a"]
2.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

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
        # every reading is written twice, ``cap`` rows apart, so the last ``cap`` readings are always
        # one contiguous slice in time order: no copy and no index arithmetic per reading
        self._buf = np.zeros((2 * baseline_window, n_sensors), dtype=np.float64)
        self._count = 0

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
        slot = self._count % cap
        self._buf[slot] = x
        self._buf[slot + cap] = x
        self._count += 1
        n_long = min(self._count, cap)
        window = self._buf[slot + cap + 1 - n_long : slot + cap + 1]
        return window_features(window, min(n_long, self.config.window)).reshape(-1)


# --------------------------------------------------------------------------- the arithmetic
#
# Offline (a whole recording at once) and online (one reading at a time) must give the same bits,
# or a model would be served features it was never trained on. Floating-point sums depend on their
# order, and NumPy's ``sum``/``mean`` pick an order (pairwise, unrolled) by array layout. So every
# sum over a window here is *sequential in time order*: ``np.add.accumulate`` (defined as
# r[i] = r[i-1] + a[i]) on one window, and an explicit loop over window offsets, vectorised over all
# rows, on a whole recording. Both do the same IEEE-754 operations on each element, in the same
# order; minima and maxima are exact in any order. The tests compare the two bit for bit.


@lru_cache(maxsize=256)
def _centred_time(n: int) -> tuple[FloatArray, float]:
    """Reading index minus its mean (``t``), and ``sum(t*t)`` (1.0 for one reading, where t = 0)."""
    t = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    return t, float(t @ t) if n > 1 else 1.0


def _sensor_mean(a: FloatArray) -> FloatArray:
    """Mean over the sensor (last) axis, summed sequentially."""
    return np.asarray(np.add.accumulate(a, axis=-1)[..., -1] / a.shape[-1], dtype=np.float64)


def _window_sum(window: FloatArray) -> FloatArray:
    """Sum over the readings of one ``[n, sensors]`` window, sequentially in time order."""
    return np.asarray(np.add.accumulate(window, axis=0)[-1], dtype=np.float64)


def window_features(window: FloatArray, n_short: int) -> FloatArray:
    """Features of the newest reading of ``window`` (``[n, sensors]``, oldest first, newest last).

    ``window`` holds the long (baseline) window, as many readings as the stream has had up to its
    length; the short window is its last ``n_short`` rows. Returns ``[len(GROUPS), sensors]``.
    """
    n = window.shape[0]
    short = window[n - n_short :]
    x = window[-1]
    prev = window[-2] if n >= 2 else x
    l_mean = _window_sum(window) / n
    s_mean = _window_sum(short) / n_short
    l_dev = window - l_mean
    s_dev = short - s_mean
    t_l, tt_l = _centred_time(n)
    t_s, tt_s = _centred_time(n_short)
    s_min = short.min(axis=0)
    l_min = window.min(axis=0)
    out = np.empty((len(GROUPS), window.shape[1]), dtype=np.float64)
    out[0] = x
    out[1] = x / (_sensor_mean(x) + _EPS)
    out[2] = x - prev
    out[3] = x - short[0]
    out[4] = _window_sum(short * t_s[:, None]) / tt_s
    out[5] = s_min
    out[6] = short.max(axis=0) - s_min
    out[7] = np.sqrt(_window_sum(s_dev * s_dev) / n_short)
    out[8] = window.max(axis=0) - l_min
    out[9] = (x - l_min) / (np.abs(l_min) + _EPS)
    out[10] = np.sqrt(_window_sum(l_dev * l_dev) / n)
    out[11] = _window_sum(window * t_l[:, None]) / tt_l
    out[12] = l_mean / (_sensor_mean(l_mean) + _EPS)
    return out


def _full_window_features(X: FloatArray, cfg: FeatureConfig) -> FloatArray:
    """Features of every reading of one stream that has a full long window (rows ``L-1`` onwards),
    vectorised over rows: the same operations as :func:`window_features` with ``n = L``, ``n_short = W``.

    Returns ``[rows, len(GROUPS), sensors]``.
    """
    L, W = cfg.baseline_window, cfg.window
    m = X.shape[0] - L + 1

    def at(j: int) -> FloatArray:  # the j-th oldest reading of every row's long window
        return X[j : j + m]

    x = at(L - 1)
    l_mean = _offset_sum(at, 0, L) / L
    s_mean = _offset_sum(at, L - W, L) / W
    t_l, tt_l = _centred_time(L)
    t_s, tt_s = _centred_time(W)
    l_min, l_max = at(0).copy(), at(0).copy()
    for j in range(1, L):
        np.minimum(l_min, at(j), out=l_min)
        np.maximum(l_max, at(j), out=l_max)
    s_min, s_max = at(L - W).copy(), at(L - W).copy()
    for j in range(L - W + 1, L):
        np.minimum(s_min, at(j), out=s_min)
        np.maximum(s_max, at(j), out=s_max)

    out = np.empty((m, len(GROUPS), X.shape[1]), dtype=np.float64)
    out[:, 0] = x
    out[:, 1] = x / (_sensor_mean(x) + _EPS)[:, None]
    out[:, 2] = x - at(L - 2)
    out[:, 3] = x - at(L - W)
    out[:, 4] = _offset_sum(lambda j: at(j) * t_s[j - (L - W)], L - W, L) / tt_s
    out[:, 5] = s_min
    out[:, 6] = s_max - s_min
    out[:, 7] = np.sqrt(_offset_sum(lambda j: _squared(at(j) - s_mean), L - W, L) / W)
    out[:, 8] = l_max - l_min
    out[:, 9] = (x - l_min) / (np.abs(l_min) + _EPS)
    out[:, 10] = np.sqrt(_offset_sum(lambda j: _squared(at(j) - l_mean), 0, L) / L)
    out[:, 11] = _offset_sum(lambda j: at(j) * t_l[j], 0, L) / tt_l
    out[:, 12] = l_mean / (_sensor_mean(l_mean) + _EPS)[:, None]
    return out


def _squared(a: FloatArray) -> FloatArray:
    return np.multiply(a, a, out=a)


def _offset_sum(term: Callable[[int], FloatArray], start: int, stop: int) -> FloatArray:
    """``term(start) + term(start + 1) + ... + term(stop - 1)``, added in that order."""
    acc = np.array(term(start), dtype=np.float64, copy=True)
    for j in range(start + 1, stop):
        acc += term(j)
    return acc


def featurize_stream(X: FloatArray, config: FeatureConfig | None = None) -> FloatArray:
    """Features for one stream's readings in time order (``[n, n_sensors]`` -> ``[n, n_features]``),
    identical to feeding the rows one by one to a fresh :class:`StreamFeaturizer`."""
    cfg = config or FeatureConfig()
    X = np.ascontiguousarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"expected readings of shape [n, sensors], got {X.shape}")
    n, n_sensors = X.shape
    out = np.empty((n, len(GROUPS), n_sensors), dtype=np.float64)
    L = cfg.baseline_window
    for i in range(min(n, L - 1)):  # warm-up: the long window is still filling
        out[i] = window_features(X[: i + 1], min(i + 1, cfg.window))
    if n >= L:
        out[L - 1 :] = _full_window_features(X, cfg)
    return out.reshape(n, -1)


def featurize_streams(
    X: FloatArray, stream: npt.NDArray[np.integer], config: FeatureConfig | None = None
) -> FloatArray:
    """Features for many interleaved or consecutive streams: each stream id is featurized on its own
    rows in the given order, so no stream ever sees another's readings."""
    X = np.asarray(X, dtype=np.float64)
    stream = np.asarray(stream)
    if stream.shape != (X.shape[0],):
        raise ValueError(f"expected one stream id per reading ({X.shape[0]}), got shape {stream.shape}")
    out = np.empty((X.shape[0], len(GROUPS) * X.shape[1]), dtype=np.float64)
    for sid in np.unique(stream):
        rows = np.flatnonzero(stream == sid)
        out[rows] = featurize_stream(X[rows], config)
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
    orders of magnitude), and the *array pattern*: for each of the 8 feature types, the 16 sensors'
    values divided by their norm. A gas's pattern across the array barely changes with its
    concentration or with a gain drift common to all sensors, which is what moves most between
    batches; the log view keeps the concentration for the cases the pattern leaves ambiguous.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != DRIFT_SENSORS * DRIFT_PER_SENSOR:
        raise ValueError(f"expected rows of {DRIFT_SENSORS * DRIFT_PER_SENSOR} values, got {X.shape}")
    per_sensor = X.reshape(len(X), DRIFT_SENSORS, DRIFT_PER_SENSOR)
    norms = np.linalg.norm(per_sensor, axis=1, keepdims=True) + _EPS
    pattern = (per_sensor / norms).reshape(len(X), -1)
    return np.hstack([np.sign(X) * np.log1p(np.abs(X)), pattern])


def drift_feature_names() -> list[str]:
    names = [f"log_s{s + 1}_f{f + 1}" for s in range(DRIFT_SENSORS) for f in range(DRIFT_PER_SENSOR)]
    names += [f"pattern_s{s + 1}_f{f + 1}" for s in range(DRIFT_SENSORS) for f in range(DRIFT_PER_SENSOR)]
    return names
