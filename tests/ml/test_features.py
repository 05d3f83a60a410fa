"""Streaming features: exact values on known inputs, and offline == online, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gasguard.ml.features import (
    GROUPS,
    FeatureConfig,
    StreamFeaturizer,
    drift_features,
    featurize_stream,
    featurize_streams,
    group_columns,
)


def _by_name(f: StreamFeaturizer, row: np.ndarray, sensors: tuple[str, ...]) -> dict[str, float]:
    return dict(zip(f.names(sensors), row.tolist(), strict=True))


def test_ramp_gives_exact_deltas_slope_min_spread_and_baseline_response() -> None:
    f = StreamFeaturizer(n_sensors=2, window=3, baseline_window=5)
    rows = [f.update([10.0 + 2 * i, 100.0]) for i in range(5)]  # sensor a: 10,12,14,16,18
    last = _by_name(f, rows[-1], ("a", "b"))
    assert last["raw_a"] == 18.0
    assert last["delta1_a"] == 2.0
    assert last["deltaW_a"] == 4.0  # 18 - 14, window of 3
    assert last["slope_a"] == pytest.approx(2.0)
    assert last["minW_a"] == 14.0
    assert last["spreadW_a"] == 4.0
    assert last["spreadL_a"] == 8.0
    assert last["rel_base_a"] == pytest.approx((18 - 10) / 10)
    assert last["slopeL_a"] == pytest.approx(2.0)
    assert last["ratio_b"] == pytest.approx(100.0 / 59.0)
    assert last["delta1_b"] == 0.0 and last["stdW_b"] == 0.0


def test_first_reading_has_zero_dynamics() -> None:
    f = StreamFeaturizer(n_sensors=3)
    row = _by_name(f, f.update([5.0, 6.0, 7.0]), ("x", "y", "z"))
    assert [row[f"{g}_y"] for g in ("delta1", "deltaW", "slope", "spreadW", "rel_base")] == [0, 0, 0, 0, 0]


def test_reset_forgets_history() -> None:
    f = StreamFeaturizer(n_sensors=1, window=2, baseline_window=4)
    fresh = StreamFeaturizer(n_sensors=1, window=2, baseline_window=4)
    for v in (1.0, 5.0, 9.0):
        f.update([v])
    f.reset()
    assert np.array_equal(f.update([3.0]), fresh.update([3.0]))


def test_offline_equals_online_for_interleaved_streams() -> None:
    rng = np.random.default_rng(1)
    X = 500 + np.cumsum(rng.normal(0, 3, size=(400, 7)), axis=0)
    stream = rng.integers(0, 3, size=400)
    cfg = FeatureConfig(window=6, baseline_window=25)
    offline = featurize_streams(X, stream, cfg)
    online = {s: StreamFeaturizer(7, window=6, baseline_window=25) for s in range(3)}
    for i in range(400):
        assert np.array_equal(online[int(stream[i])].update(X[i]), offline[i])


def test_offline_equals_online_with_the_shipped_config_on_a_long_stream() -> None:
    """The vectorised path (every row after the baseline window fills) against one reading at a time."""
    rng = np.random.default_rng(7)
    X = rng.uniform(-50, 900, size=(1, 7)) + np.cumsum(rng.normal(0, 5, size=(300, 7)), axis=0)
    offline = featurize_stream(X)
    online = StreamFeaturizer(7)
    for i, row in enumerate(X):
        assert np.array_equal(online.update(row), offline[i]), f"row {i} differs"


@settings(max_examples=40, deadline=None)
@given(
    window=st.integers(2, 6),
    extra=st.integers(0, 8),
    n=st.integers(1, 40),
    n_streams=st.integers(1, 3),
    seed=st.integers(0, 2**16),
    scale=st.sampled_from([1e-3, 1.0, 1e4]),
)
def test_offline_equals_online_bit_for_bit(
    window: int, extra: int, n: int, n_streams: int, seed: int, scale: float
) -> None:
    """Any window lengths, stream lengths shorter or longer than the windows, and interleaved streams."""
    rng = np.random.default_rng(seed)
    X = scale * rng.normal(0, 1, size=(n, 3)).cumsum(axis=0)
    stream = rng.integers(0, n_streams, size=n)
    cfg = FeatureConfig(window=window, baseline_window=window + extra)
    offline = featurize_streams(X, stream, cfg)
    online = {s: StreamFeaturizer(3, window=cfg.window, baseline_window=cfg.baseline_window) for s in range(n_streams)}
    for i in range(n):
        assert np.array_equal(online[int(stream[i])].update(X[i]), offline[i])


def test_stream_ids_must_match_the_readings() -> None:
    with pytest.raises(ValueError, match="one stream id per reading"):
        featurize_streams(np.zeros((4, 2)), np.zeros(3, dtype=int))


def test_wrong_number_of_values_is_refused() -> None:
    with pytest.raises(ValueError, match="expected 7 values"):
        StreamFeaturizer(7).update([1.0, 2.0])


def test_group_columns_pick_whole_groups() -> None:
    assert group_columns(("raw",), 3) == [0, 1, 2]
    assert group_columns(("ratioL",), 2) == [2 * (len(GROUPS) - 1), 2 * (len(GROUPS) - 1) + 1]
    with pytest.raises(ValueError, match="unknown feature group"):
        group_columns(("nope",), 2)


def test_drift_features_log_and_array_pattern() -> None:
    X = np.zeros((1, 128))
    X[0, 0] = 3.0  # sensor 1, feature 1
    X[0, 8] = -4.0  # sensor 2, feature 1
    F = drift_features(X)
    assert F.shape == (1, 256)
    assert F[0, 0] == pytest.approx(np.log(4.0)) and F[0, 8] == pytest.approx(-np.log(5.0))
    assert F[0, 128] == pytest.approx(0.6) and F[0, 136] == pytest.approx(-0.8)


def test_drift_pattern_ignores_a_gain_common_to_all_sensors() -> None:
    X = np.random.default_rng(3).normal(0, 100, size=(5, 128))
    np.testing.assert_allclose(drift_features(7.5 * X)[:, 128:], drift_features(X)[:, 128:], rtol=1e-9)
    with pytest.raises(ValueError, match="rows of 128 values"):
        drift_features(np.zeros((2, 127)))
