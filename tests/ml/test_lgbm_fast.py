"""One-row LightGBM prediction through the C API gives exactly what ``Booster.predict`` gives."""

from __future__ import annotations

import numpy as np
import pytest

from gasguard.ml import lgbm_fast
from gasguard.ml.lgbm_fast import RowPredictor, SingleRowPredictor, single_row_predictor
from gasguard.ml.models import LightGBMClassifier

NAMES = [f"s{i}" for i in range(5)]


@pytest.fixture(scope="module")
def model() -> LightGBMClassifier:
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, size=(300, 5))
    y = np.asarray(["a", "b", "c"])[np.argmax(X[:, :3], axis=1)]
    return LightGBMClassifier(NAMES, n_estimators=25).learn_many(X, y)


def test_fast_path_equals_booster_predict(model: LightGBMClassifier) -> None:
    predictor = single_row_predictor(model.booster, 5, 3)
    assert isinstance(predictor, SingleRowPredictor)
    X = np.random.default_rng(1).normal(0, 2, size=(50, 5))
    expected = model.booster.predict(X, num_threads=1)
    got = np.array([predictor.predict(row).copy() for row in X])
    np.testing.assert_array_equal(got, expected)


def test_unreachable_c_api_falls_back_to_booster_predict(
    model: LightGBMClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise AttributeError("_LIB moved")

    monkeypatch.setattr(lgbm_fast.SingleRowPredictor, "__init__", broken)
    predictor = single_row_predictor(model.booster, 5, 3)
    assert type(predictor) is RowPredictor
    row = np.array([0.3, -1.0, 2.0, 0.0, 1.0])
    np.testing.assert_array_equal(predictor.predict(row), model.booster.predict(row.reshape(1, -1))[0])


def test_wrong_row_length_is_refused(model: LightGBMClassifier) -> None:
    predictor = single_row_predictor(model.booster, 5, 3)
    with pytest.raises(ValueError):
        predictor.predict(np.zeros(4))
