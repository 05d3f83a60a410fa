"""One contract for every model: the same calls, the same shapes, and they actually learn."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pytest
import torch

from gasguard.ml.models import (
    Classifier,
    ClassifierBase,
    ColumnViewsClassifier,
    ConcentrationRegressor,
    ExtraTreesModel,
    LightGBMClassifier,
    LogisticClassifier,
    Regressor,
    SoftVoteClassifier,
    SvmClassifier,
    percent_lel,
)
from gasguard.ml.torch_train import TorchClassifier

NAMES = [f"s{i}" for i in range(7)]
CLASSES = ("Mixture", "NoGas", "Perfume", "Smoke")

FACTORIES: dict[str, Callable[[Sequence[str]], ClassifierBase]] = {
    "lightgbm": lambda n: LightGBMClassifier(n, n_estimators=30),
    "logistic": LogisticClassifier,
    "svm": SvmClassifier,
    "softvote": lambda n: SoftVoteClassifier([LightGBMClassifier(n, n_estimators=30), LogisticClassifier(n)]),
    "extratrees": lambda n: ExtraTreesModel(n, n_estimators=50),
    "views": lambda n: ColumnViewsClassifier(n, {"a": [0, 1, 2, 3], "b": [3, 4, 5, 6]}, LogisticClassifier),
    "cnn1d": lambda n: TorchClassifier(n, arch="cnn1d", epochs=15, progress=False),
    "dnn": lambda n: TorchClassifier(n, arch="dnn", epochs=15, progress=False),
    # a higher learning rate than the paper's 1e-3, so 20 epochs on 240 rows suffice (seeded: see below)
    "lstm": lambda n: TorchClassifier(n, arch="lstm", epochs=20, lr=1e-2, progress=False),
}


def _blobs(n_per: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    centres = np.random.default_rng(0).normal(0, 4, size=(len(CLASSES), len(NAMES)))
    rng = np.random.default_rng(seed + 100)
    X = np.vstack([c + rng.normal(0, 0.5, size=(n_per, len(NAMES))) for c in centres])
    y = np.repeat(np.asarray(CLASSES), n_per)
    return X, y


@pytest.fixture(scope="module")
def trained() -> dict[str, ClassifierBase]:
    X, y = _blobs()
    return {name: make(NAMES).learn_many(X, y) for name, make in FACTORIES.items()}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_classifier_contract(name: str, trained: dict[str, ClassifierBase]) -> None:
    model = trained[name]
    assert isinstance(model, Classifier)
    assert model.classes == CLASSES
    X, y = _blobs(n_per=20, seed=1)
    proba = model.predict_proba_many(X)
    assert proba.shape == (80, 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert float(np.mean(model.predict_many(X) == y)) >= 0.95
    one = model.predict_proba_one(dict(zip(NAMES, X[5].tolist(), strict=True)))
    assert list(one) == list(CLASSES)
    np.testing.assert_allclose(list(one.values()), proba[5], atol=1e-6)
    assert model.predict_one(X[5]) == model.predict_many(X[5:6])[0]


@pytest.mark.parametrize("arch", ["cnn1d", "dnn", "lstm"])
def test_torch_training_is_reproducible_and_leaves_thread_setting_alone(arch: str) -> None:
    """Same seed, same data -> the same probabilities, bit for bit; torch's thread count is restored."""
    X, y = _blobs(n_per=20)
    threads = torch.get_num_threads()
    a = TorchClassifier(NAMES, arch=arch, epochs=2, seed=3, progress=False).learn_many(X, y)
    b = TorchClassifier(NAMES, arch=arch, epochs=2, seed=3, progress=False).learn_many(X, y)
    np.testing.assert_array_equal(a.predict_proba_many(X), b.predict_proba_many(X))
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("seed", [1, 2])
def test_lstm_learns_the_blobs_whatever_its_seed(seed: int) -> None:
    """The LSTM reads the 7 values as a sequence; the contract task must not depend on a lucky seed."""
    X, y = _blobs()
    model = TorchClassifier(NAMES, arch="lstm", epochs=20, lr=1e-2, seed=seed, progress=False).learn_many(X, y)
    Xt, yt = _blobs(n_per=20, seed=1)
    assert float(np.mean(model.predict_many(Xt) == yt)) >= 0.95


def test_one_reading_missing_feature_is_named(trained: dict[str, ClassifierBase]) -> None:
    with pytest.raises(KeyError, match="s6"):
        trained["lightgbm"].predict_proba_one({n: 0.0 for n in NAMES[:6]})


def test_untrained_model_refuses_to_predict() -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        LightGBMClassifier(NAMES).predict_proba_many(np.zeros((1, 7)))


def test_lightgbm_round_trips_through_text() -> None:
    X, y = _blobs()
    model = LightGBMClassifier(NAMES, n_estimators=20).learn_many(X, y)
    again = LightGBMClassifier.from_string(model.to_string(), NAMES, model.classes)
    np.testing.assert_array_equal(again.predict_proba_many(X), model.predict_proba_many(X))


def _gas_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two gases whose sensors respond to log(ppm) with different gains."""
    rng = np.random.default_rng(seed)
    n = 200
    gas = np.where(np.arange(n) % 2 == 0, "ethanol", "acetone")
    ppm = np.exp(rng.uniform(np.log(10), np.log(500), size=n))
    gain = np.where(gas == "ethanol", 1.0, 2.5)[:, None]
    X = gain * np.log(ppm)[:, None] * np.linspace(0.5, 1.5, 7)[None, :] + rng.normal(0, 0.02, size=(n, 7))
    return X, ppm, gas


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("backend", ["xgboost", "lightgbm"])
def test_regressor_contract(backend: str, log_target: bool) -> None:
    X, ppm, gas = _gas_data()
    model = ConcentrationRegressor(NAMES, backend=backend, n_estimators=150, log_target=log_target)
    model.learn_many(X, ppm, gas)
    assert isinstance(model, Regressor)
    Xt, ppm_t, gas_t = _gas_data(seed=1)
    pred = model.predict_many(Xt, gas_t)
    assert pred.shape == (200,) and (pred >= 0).all()
    rel = np.abs(pred - ppm_t) / ppm_t
    assert float(np.median(rel)) < 0.1
    assert model.predict_one(Xt[3], str(gas_t[3])) == pytest.approx(pred[3])


def test_unknown_backend_is_refused() -> None:
    X, ppm, gas = _gas_data()
    with pytest.raises(ValueError, match="unknown regression backend 'sklearn'"):
        ConcentrationRegressor(NAMES, backend="sklearn").learn_many(X, ppm, gas)


def test_percent_lel_uses_the_cited_table() -> None:
    assert percent_lel(6_600, "ethanol") == pytest.approx(20.0)  # ethanol LEL 3.3 vol %
    assert percent_lel(3_100, "ethanol", basis="iec") == pytest.approx(10.0)


def test_svm_kernel_width_scales_scikit_learns_default() -> None:
    """``gamma_scale`` multiplies the "scale" gamma, 1 / (features x variance of the standardised
    features); a smaller gamma gives a wider kernel and smoother class boundaries."""
    X, y = _blobs()
    default = SvmClassifier(NAMES).learn_many(X, y)
    wide = SvmClassifier(NAMES, gamma_scale=0.5).learn_many(X, y)
    assert default._pipe[-1].gamma == pytest.approx(1 / len(NAMES))
    assert wide._pipe[-1].gamma == pytest.approx(0.5 / len(NAMES))
    assert (wide.predict_many(X) == y).mean() > 0.95
